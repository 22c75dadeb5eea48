"""`python -m bench scale` at a tiny size, on SQLite: `partnerbot serve` as a process, every message
answered once at the stand-in, and well-formed numbers. No timing is asserted (DESIGN.md)."""

from __future__ import annotations

from pathlib import Path

from bench import scale
from bench.synthetic import Spec

TINY = Spec(partners=4, people=40, deals=200, leads=40, identities=12)


async def test_a_tiny_scale_run_answers_every_message_once(tmp_path: Path) -> None:
    load = scale.Load(rate=10, seconds=1, burst=10, warmup=4)
    results = await scale.run(
        {"sqlite": f"sqlite:///{tmp_path / 'scale.db'}"}, spec=TINY, load=load, logs=tmp_path
    )
    steady = results["steady"]["sqlite"]
    assert steady["sent"] == 10 and steady["answered"] == 10
    assert steady["lost"] == 0 and steady["doubled"] == 0 and steady["refused"] == 0
    assert 0 <= steady["p50_ms"] <= steady["p99_ms"] <= steady["max_ms"]
    assert "| 10/s for 1 s, sqlite | 10 | 10 | 0 | 0 |" in scale.table(results)
