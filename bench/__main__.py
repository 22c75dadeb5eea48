"""``python -m bench [--quick] [--only NAME]... [--db sqlite|postgresql|both] [--json FILE]``

Runs the benchmarks (``ingress``, ``conflicts``, ``sweeps``, ``memory``; all by default) on scratch
databases it creates and drops - SQLite files in a temporary folder, PostgreSQL databases on
``PARTNERBOT_BENCH_PG`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``, whose server
is used, not that database) - prints a table per benchmark and the targets, and writes the JSON.

``--quick`` runs small sizes (a smoke test, about two minutes); the full run writes 1M-row tables
and takes about 20 minutes on two cores.

``python -m bench nlu ...`` (the understanding layer on a corpus) and ``python -m bench chat ...`` (the
start-up of a one-turn ``partnerbot chat``) are commands of their own: see :mod:`bench.nlu` and
:mod:`bench.chat`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, make_url

from bench import conflicts, ingress, memory, sweeps
from bench.report import Report
from bench.synthetic import Spec, populate

BENCHES = ("conflicts", "sweeps", "ingress", "memory")
PG_ADMIN_URL = os.environ.get("PARTNERBOT_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@dataclass(frozen=True)
class Sizes:
    conflict_sizes: list[int]
    conflict_queries: int
    prefix_limit: dict[int, int]
    naive_limit: dict[int, int]
    sweep: Spec
    ingress: Spec
    requests: int
    concurrency: int
    warmup: int


FULL = Sizes(
    conflict_sizes=[10_000, 100_000, 1_000_000],
    conflict_queries=400,
    prefix_limit={10_000: 200, 100_000: 100, 1_000_000: 15},
    naive_limit={10_000: 600, 100_000: 600, 1_000_000: 210},
    sweep=sweeps.SPEC,
    ingress=ingress.SPEC,
    requests=2_000,
    concurrency=16,
    warmup=200,
)
QUICK = Sizes(
    conflict_sizes=[2_000, 10_000],
    conflict_queries=60,
    prefix_limit={2_000: 30, 10_000: 30},
    naive_limit={2_000: 90, 10_000: 90},
    sweep=sweeps.SPEC.scaled(deals=20_000, leads=4_000, people=2_000, partners=100),
    ingress=ingress.SPEC.scaled(deals=5_000, leads=1_000, people=1_000, partners=100, identities=200),
    requests=200,
    concurrency=8,
    warmup=40,
)


@dataclass
class Scratch:
    """Databases made for one run, dropped at its end (or by ``drop`` as soon as a benchmark is done)."""

    backends: list[str]
    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="partnerbot-bench-")))
    run_id: str = field(default_factory=lambda: f"{os.getpid()}_{uuid.uuid4().hex[:6]}")
    made: list[str] = field(default_factory=list)

    def new(self, name: str) -> dict[str, str]:
        """A fresh, empty database per backend (backend -> URL)."""
        urls: dict[str, str] = {}
        for backend in self.backends:
            if backend == "sqlite":
                urls[backend] = f"sqlite:///{self.folder / name}.db"
            else:
                database = f"partnerbot_bench_{self.run_id}_{name}"
                with self._admin() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
                    conn.execute(text(f'CREATE DATABASE "{database}"'))
                urls[backend] = (
                    make_url(PG_ADMIN_URL).set(database=database).render_as_string(hide_password=False)
                )
            self.made.append(urls[backend])
        return urls

    @contextmanager
    def _admin(self) -> Iterator[Connection]:
        engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                yield conn
        finally:
            engine.dispose()

    def drop(self, urls: dict[str, str]) -> None:
        for url in urls.values():
            parsed = make_url(url)
            if parsed.get_backend_name() == "sqlite":
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{parsed.database}{suffix}").unlink(missing_ok=True)
            else:
                with self._admin() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
            if url in self.made:
                self.made.remove(url)

    def close(self) -> None:
        self.drop({str(i): url for i, url in enumerate(list(self.made))})
        shutil.rmtree(self.folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["nlu"]:
        from bench import nlu

        return nlu.main(argv[1:])
    if argv[:1] == ["chat"]:
        from bench import chat

        return chat.main(argv[1:])
    if argv[:1] == ["scale"]:
        from bench import scale

        return scale.main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[1])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run of about two minutes")
    parser.add_argument(
        "--only", action="append", choices=BENCHES, help="run only this benchmark (repeatable)"
    )
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument(
        "--json", type=Path, default=Path("bench-results.json"), help="where to write the JSON"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    # A terminated run still drops its scratch databases (the finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    sizes = QUICK if args.quick else FULL
    chosen = [b for b in BENCHES if not args.only or b in args.only]
    backends = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    report = Report(
        settings={
            "quick": args.quick,
            "benches": chosen,
            "databases": backends,
            "requests": sizes.requests,
            "concurrency": sizes.concurrency,
            "conflict_sizes": sizes.conflict_sizes,
            "sweep": {"deals": sizes.sweep.deals, "leads": sizes.sweep.leads, "people": sizes.sweep.people},
            "ingress_deals": sizes.ingress.deals,
        }
    )
    scratch = Scratch(backends)
    started = time.perf_counter()
    try:
        if "conflicts" in chosen:
            print("conflict check ...", flush=True)
            urls = scratch.new("conflicts")
            asyncio.run(
                conflicts.run(
                    report,
                    urls,
                    sizes=sizes.conflict_sizes,
                    count=sizes.conflict_queries,
                    prefix_limit=sizes.prefix_limit,
                    naive_limit=sizes.naive_limit,
                )
            )
            scratch.drop(urls)
        if "sweeps" in chosen:
            print("nudge sweeps ...", flush=True)
            urls = scratch.new("sweeps")
            sweeps.run(report, urls, spec=sizes.sweep)
            scratch.drop(urls)
        if "ingress" in chosen or "memory" in chosen:
            urls = scratch.new("ingress")
            populate(list(urls.values()), sizes.ingress)
            if "ingress" in chosen:
                print("ingress ...", flush=True)
                asyncio.run(
                    ingress.run(
                        report,
                        urls,
                        requests=sizes.requests,
                        concurrency=sizes.concurrency,
                        warmup=sizes.warmup,
                        spec=sizes.ingress,
                    )
                )
            if "memory" in chosen:
                print("serve memory ...", flush=True)
                asyncio.run(
                    memory.run(
                        report,
                        urls,
                        requests=sizes.requests,
                        concurrency=sizes.concurrency,
                        warmup=sizes.warmup,
                        spec=sizes.ingress,
                    )
                )
            scratch.drop(urls)
    finally:
        scratch.close()
        report.seconds = time.perf_counter() - started
    print()
    print(report.table())
    report.write_json(args.json)
    print(f"{report.seconds / 60:.1f} min; results in {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
