"""The development corpus (``../shared/corpus/dev-plainwords.jsonl``) through the understanding layer, on
``partnerbot demo`` data: the pass rate may not drop below the one recorded here, and the model in use
must stay ahead of the other one compared (see docs/understanding.md); and the project's own corpus, written
apart from the development one, as a check that what helps one does not only fit it. Raise the baselines
when they improve."""

from __future__ import annotations

import os

import pytest

from bench import nlu

BASELINE_PASSED = 406  # of 440 lines, 2026-12-04 (stop 28); 329 of the 356 plain ones
BASELINE_PLAIN = 329
BASELINE_INTENTS = 414
# The project's own corpus (bench/corpora/own-plainwords.jsonl): 220 lines written for the project
OWN_CORPUS = nlu.ROOT / "bench" / "corpora" / "own-plainwords.jsonl"
BASELINE_OWN = 202


def corpus() -> list[dict]:  # type: ignore[type-arg]
    if not nlu.DEV_CORPUS.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"the development corpus is missing: {nlu.DEV_CORPUS}")
        pytest.skip("no ../shared/corpus beside the project")
    return nlu.load(nlu.DEV_CORPUS)


async def test_the_dev_corpus_pass_rate_does_not_drop() -> None:
    score, timings = await nlu.run(corpus())
    assert score.lines == 440
    assert sum(score.intent_right.values()) >= BASELINE_INTENTS, nlu.report(score, timings, title="dev")
    assert score.passed >= BASELINE_PASSED, nlu.report(score, timings, title="dev")
    assert score.kinds_passed["plain"] >= BASELINE_PLAIN, nlu.report(score, timings, title="dev")
    assert score.kinds_passed["bad input"] >= 38, "bad input is never acted on as if it were valid"


async def test_the_projects_own_corpus_pass_rate_does_not_drop() -> None:
    score, timings = await nlu.run(nlu.load(OWN_CORPUS))
    assert score.lines == 220
    assert score.passed >= BASELINE_OWN, nlu.report(score, timings, title="own")


async def test_naive_bayes_stays_ahead_of_nearest_examples() -> None:
    lines = corpus()
    bayes, _ = await nlu.run(lines, model="bayes")
    nearest, _ = await nlu.run(lines, model="nearest")
    assert sum(bayes.intent_right.values()) > sum(nearest.intent_right.values())
