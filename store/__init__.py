"""What partnerbot keeps: models, queries, the database and its migrations.

Importing the package registers every model module's tables on ``Base.metadata`` (for Alembic, the
schema tests and string-named relationships), without the model modules importing each other."""

from store import (  # noqa: F401
    content_models,
    deal_models,
    inbox_models,
    lead_models,
    mdf_models,
    models,
    nudge_models,
    question_models,
)
