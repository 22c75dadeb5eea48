# partnerbot: `docker build -t partnerbot .`, then `docker compose up` (compose.yaml) or
# `docker run -p 3978:3978 -e DATABASE_URL=... partnerbot`. README "Container" says more.

# -- build: the dependencies from the lock file, then partnerbot itself, into a venv ------------------
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/partnerbot
# The exact versions of requirements-runtime.lock (`make lock`): the same pins as requirements.lock,
# without the development tools. This layer is rebuilt only when the lock changes.
COPY requirements-runtime.lock /tmp/requirements-runtime.lock
RUN /opt/partnerbot/bin/pip install -r /tmp/requirements-runtime.lock
WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY store ./store
COPY scheduler ./scheduler
COPY teams ./teams
# Editable, so that /app (migrations, the Teams app source) is where the code finds it; the runtime
# stage copies /app and the venv to the same paths.
RUN /opt/partnerbot/bin/pip install --no-deps -e . \
    && find /app /opt/partnerbot -name __pycache__ -prune -exec rm -rf {} +

# -- runtime: a slim Python, the venv and the source, a user without privileges --------------------
FROM python:3.11-slim AS runtime
RUN groupadd --system --gid 10001 partnerbot \
    && useradd --system --uid 10001 --gid partnerbot --home-dir /data --shell /usr/sbin/nologin partnerbot \
    && mkdir -p /data && chown partnerbot:partnerbot /data
COPY --from=build /opt/partnerbot /opt/partnerbot
COPY --from=build /app /app
WORKDIR /data
ENV PATH=/opt/partnerbot/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PARTNERBOT_LOG_FORMAT=json \
    DATABASE_URL=sqlite:////data/partnerbot.db
# SQLite's file lives here when DATABASE_URL is not PostgreSQL.
VOLUME ["/data"]
USER partnerbot
EXPOSE 3978
# Liveness: the process answers. Orchestrators that route traffic should ask /readyz (database,
# migrations at head, inbox moving) for readiness.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:3978/livez', timeout=4).status != 200)"]
# SIGTERM: aiohttp stops listening, the inbox drains within PARTNERBOT_SHUTDOWN_GRACE_SECONDS (10).
STOPSIGNAL SIGTERM
CMD ["partnerbot", "serve"]
