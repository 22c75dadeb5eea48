"""Results: a table per benchmark on stdout, one JSON document, the machine they ran on, and targets."""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def quantile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0 < q < 1) of ``values``: numpy's when it is installed, else the stdlib's
    (both interpolate linearly between the closest ranks)."""
    if not values:
        return float("nan")
    if len(values) == 1:
        return float(values[0])
    try:
        import numpy  # optional: only for speed with many samples

        return float(numpy.quantile(numpy.asarray(values, dtype=float), q))
    except ImportError:
        cuts = statistics.quantiles(values, n=1000, method="inclusive")
        return float(cuts[max(0, min(len(cuts) - 1, round(q * 1000) - 1))])


def latency_summary(samples_ns: Sequence[int]) -> dict[str, float]:
    """p50/p99/max in milliseconds from per-request ``perf_counter_ns`` durations."""
    ms = [s / 1e6 for s in samples_ns]
    return {
        "p50_ms": round(quantile(ms, 0.50), 2),
        "p99_ms": round(quantile(ms, 0.99), 2),
        "max_ms": round(max(ms), 2) if ms else float("nan"),
    }


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MB.

    ``VmHWM`` from /proc where there is one: on Linux ``ru_maxrss`` survives ``exec``, so a child
    started by a big parent reports the parent's peak (fork copies the page tables); elsewhere
    ``ru_maxrss`` (KiB on Linux, bytes on macOS)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(maxrss / (2**20 if sys.platform == "darwin" else 1024), 1)


def rss_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of process ``pid`` in MB, from /proc (Linux)."""
    values = {"VmRSS:": float("nan"), "VmHWM:": float("nan")}
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            key = line.split(":", 1)[0] + ":"
            if key in values:
                values[key] = round(int(line.split()[1]) / 1024, 1)
    return values["VmRSS:"], values["VmHWM:"]


@dataclass
class Row:
    """One measured case. ``metrics`` keys become table columns (in insertion order)."""

    bench: str
    case: str
    metrics: dict[str, Any]
    note: str = ""


@dataclass
class Target:
    """A goal from the issue: ``value`` against ``limit`` (``higher`` is better or not)."""

    name: str
    value: float
    limit: float
    unit: str
    higher_is_better: bool = False
    detail: str = ""

    @property
    def met(self) -> bool:
        if self.value != self.value:  # NaN: not measured
            return False
        return self.value >= self.limit if self.higher_is_better else self.value <= self.limit

    @property
    def margin(self) -> str:
        if self.value != self.value:
            return "not measured"
        if self.met:
            return "met"
        if self.higher_is_better:
            gap = _cell(round(self.limit - self.value, 4))
            return f"missed by {gap} {self.unit} ({self.value / self.limit:.1%} of target)".replace("  ", " ")
        gap = _cell(round(self.value - self.limit, 4))
        return f"missed by {gap} {self.unit} ({self.value / self.limit:.1f}x the limit)".replace("  ", " ")


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    started: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    machine: dict[str, Any] = field(default_factory=lambda: machine())
    settings: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def add(self, bench: str, case: str, **metrics: Any) -> Row:
        """A row of ``bench``'s table; set ``row.note`` for a line under it."""
        row = Row(bench=bench, case=case, metrics=metrics)
        self.rows.append(row)
        return row

    def target(self, *args: Any, **kwargs: Any) -> Target:
        target = Target(*args, **kwargs)
        self.targets.append(target)
        return target

    # -- output -------------------------------------------------------------------------------------

    def table(self) -> str:
        out: list[str] = []
        for bench in dict.fromkeys(r.bench for r in self.rows):
            rows = [r for r in self.rows if r.bench == bench]
            columns = list(dict.fromkeys(k for r in rows for k in r.metrics))
            header = ["case", *columns]
            body = [[r.case, *(_cell(r.metrics.get(c)) for c in columns)] for r in rows]
            out.append(f"### {bench}\n")
            out.append(_markdown(header, body))
            notes = [f"- {r.case}: {r.note}" for r in rows if r.note]
            if notes:
                out.append("\n".join(notes))
            out.append("")
        if self.targets:
            out.append("### targets\n")
            out.append(
                _markdown(
                    ["target", "measured", "limit", "verdict"],
                    [
                        [
                            t.name,
                            f"{_cell(t.value)} {t.unit}",
                            f"{'>=' if t.higher_is_better else '<='} {_cell(t.limit)} {t.unit}",
                            t.margin + (f" - {t.detail}" if t.detail else ""),
                        ]
                        for t in self.targets
                    ],
                )
            )
        return "\n".join(out) + "\n"

    def as_dict(self) -> dict[str, Any]:
        return {
            "started": self.started,
            "seconds": round(self.seconds, 1),
            "machine": self.machine,
            "settings": self.settings,
            "results": [asdict(r) for r in self.rows],
            "targets": [{**asdict(t), "met": t.met, "verdict": t.margin} for t in self.targets],
        }

    def write_json(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.as_dict(), indent=2, default=str) + "\n", encoding="utf-8")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if value != value:
            return "n/a"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        return f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _markdown(header: list[str], body: list[list[str]]) -> str:
    widths = [max(len(str(row[i])) for row in [header, *body]) for i in range(len(header))]
    lines = ["| " + " | ".join(str(h).ljust(w) for h, w in zip(header, widths, strict=True)) + " |"]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in body:
        lines.append("| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
    return "\n".join(lines)


def _command(*args: str) -> str:
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=10, check=False).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine() -> dict[str, Any]:
    """What the numbers were measured on (and how busy it was when they started)."""
    lscpu = _command("lscpu")
    model = next((line.split(":", 1)[1].strip() for line in lscpu.splitlines() if "Model name" in line), "")
    memory = next(
        (line.split()[1] for line in _command("free", "-h").splitlines() if line.startswith("Mem")), ""
    )
    return {
        "cpu": model or platform.processor(),
        "cores": os.cpu_count(),
        "memory": memory,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
