"""Chart images for scorecards and the weekly digest: open pipeline by stage, and a 12-week trend of
registrations and won value, side by side in one small PNG.

The numbers come in as :class:`ChartData` (built by :mod:`bot.features.performance.service` from aggregate queries); this
module only draws. The PNG travels inside a :class:`bot.kernel.messages.Reply` (``image_png_b64``) and through
the outbox, so it is kept small: 640×360 px at 80 dpi, reduced to a 64-colour palette (charts are flat
colours), well under :data:`MAX_PNG_BYTES`.

matplotlib is imported inside the drawing function, with the non-interactive Agg backend, so starting
the bot stays fast and no display is needed. Drawing uses ``Figure`` directly (never pyplot's global
state), so :func:`render_png_b64` can draw in a worker thread without blocking the event loop.
"""

from __future__ import annotations

import asyncio
import base64
import io
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

log = logging.getLogger(__name__)
_DRAWING = threading.Lock()
"""One drawing at a time: matplotlib's font cache and settings are process-wide."""

WIDTH_PX = 640
HEIGHT_PX = 360
DPI = 80
MAX_PNG_BYTES = 40 * 1024
PALETTE_COLOURS = 64
BAR_COLOUR = "#3b6ea8"
WON_COLOUR = "#7fb77e"
LINE_COLOUR = "#d9822b"
SHORT_STAGES = {"prospecting": "prospect", "qualification": "qualify", "negotiation": "negotiate"}


@dataclass(frozen=True, slots=True)
class StageBar:
    """Open deals in one sales stage: how many, and their value by currency."""

    stage: str
    deals: int
    value: Mapping[str, Decimal] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class WeekPoint:
    """One ISO week: registrations, and the value of deals won by currency."""

    start: date
    registered: int
    won_value: Mapping[str, Decimal] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"W{self.start.isocalendar().week:02d}"


@dataclass(frozen=True, slots=True)
class ChartData:
    stages: tuple[StageBar, ...]
    weeks: tuple[WeekPoint, ...]

    @property
    def is_empty(self) -> bool:
        return not any(s.deals for s in self.stages) and not any(
            w.registered or any(w.won_value.values()) for w in self.weeks
        )

    def won_currency(self) -> str | None:
        """The currency with the most won value in the trend (the one the trend's bars show)."""
        totals: dict[str, Decimal] = {}
        for week in self.weeks:
            for currency, value in week.won_value.items():
                totals[currency] = totals.get(currency, Decimal(0)) + value
        return max(sorted(totals), key=lambda c: totals[c]) if totals else None


def compact(value: Decimal) -> str:
    """``1250000`` -> ``1.2M``, ``45000`` -> ``45k``: short labels for bars and axes."""
    number = float(value)
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(number) >= size:
            scaled = number / size
            return f"{scaled:.1f}{suffix}" if scaled < 10 else f"{scaled:.0f}{suffix}"
    return f"{number:.0f}"


def _stage_label(bar: StageBar) -> str:
    if not bar.value:
        return ""
    return " + ".join(f"{compact(v)} {c}" for c, v in sorted(bar.value.items()) if v)


def render_chart(data: ChartData, *, title: str) -> bytes:
    """The PNG: pipeline by stage (bars: open deals, labelled with their value) on the left, the last
    weeks on the right (line: registrations; bars: won value in the main currency)."""
    with _DRAWING:
        return _render(data, title=title)


def _render(data: ChartData, *, title: str) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from PIL import Image

    fig = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    # A title names a partner: "$" would start matplotlib's math mode, so it is escaped.
    fig.suptitle(title.replace("$", r"\$"), fontsize=11, fontweight="bold")
    stage_ax, trend_ax = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.15]})

    names = [SHORT_STAGES.get(s.stage, s.stage) for s in data.stages]
    counts = [s.deals for s in data.stages]
    bars = stage_ax.bar(range(len(counts)), counts, color=BAR_COLOUR)
    stage_ax.set_xticks(range(len(names)), names, fontsize=8)
    stage_ax.set_title("Open pipeline by stage", fontsize=9)
    stage_ax.set_ylabel("open deals", fontsize=8)
    stage_ax.tick_params(axis="y", labelsize=8)
    stage_ax.set_ylim(0, max(counts + [1]) * 1.25)
    stage_ax.yaxis.get_major_locator().set_params(integer=True)
    for rect, bar in zip(bars, data.stages, strict=True):
        label = _stage_label(bar)
        if label:
            stage_ax.annotate(
                label,
                (rect.get_x() + rect.get_width() / 2, rect.get_height()),
                ha="center",
                va="bottom",
                fontsize=7,
                xytext=(0, 2),
                textcoords="offset points",
            )
    if not any(counts):
        stage_ax.text(0.5, 0.5, "no open deals", ha="center", va="center", transform=stage_ax.transAxes)

    weeks = list(data.weeks)
    positions = list(range(len(weeks)))
    currency = data.won_currency()
    won = [float(w.won_value.get(currency, 0)) if currency else 0.0 for w in weeks]
    won_ax = trend_ax.twinx()
    if currency:
        won_ax.bar(positions, won, color=WON_COLOUR, width=0.6, label=f"won ({currency})")
        won_ax.set_ylim(0, max(won) * 1.3)
        won_ax.tick_params(axis="y", labelsize=7)
        won_ax.yaxis.set_major_formatter(lambda v, _pos: compact(Decimal(str(v))))
    else:
        won_ax.set_yticks([])
    registered = [w.registered for w in weeks]
    trend_ax.plot(positions, registered, color=LINE_COLOUR, marker="o", markersize=3, label="registrations")
    trend_ax.set_zorder(won_ax.get_zorder() + 1)
    trend_ax.patch.set_visible(False)
    trend_ax.set_ylim(0, max(registered + [1]) * 1.3)
    trend_ax.yaxis.get_major_locator().set_params(integer=True)
    trend_ax.tick_params(axis="y", labelsize=8)
    trend_ax.set_xticks(positions[::2], [w.label for w in weeks][::2], fontsize=7)
    trend_ax.set_title(f"Last {len(weeks)} weeks", fontsize=9)
    handles = trend_ax.get_legend_handles_labels()[0] + won_ax.get_legend_handles_labels()[0]
    trend_ax.legend(handles=handles, fontsize=7, loc="upper left", frameon=False)

    raw = io.BytesIO()
    fig.savefig(raw, format="png", dpi=DPI, metadata={"Software": None})
    raw.seek(0)
    # Flat colours: a palette PNG is a fraction of the RGBA one and looks the same.
    with Image.open(raw) as image:
        palette = image.convert("RGB").quantize(
            colors=PALETTE_COLOURS, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
        )
        out = io.BytesIO()
        palette.save(out, format="PNG", optimize=True)
    return out.getvalue()


def scorecard_chart(data: ChartData, *, partner: str, days: int) -> bytes:
    """A staff scorecard's picture: one partner's open pipeline and its last weeks."""
    return render_chart(data, title=f"{partner} · scorecard, last {days} days")


def digest_chart(data: ChartData, *, week_label: str) -> bytes:
    """The weekly digest's picture: every partner of one channel manager together."""
    return render_chart(data, title=f"Your partners · {week_label}")


async def png_b64_or_none(draw: Callable[[], bytes]) -> str | None:
    """Run ``draw`` (e.g. ``partial(digest_chart, data, week_label=…)``) in a worker thread, so the event
    loop keeps serving while matplotlib draws, and base64-encode the PNG for ``Reply.image_png_b64``.

    A chart is an extra: when drawing fails (say matplotlib is missing), the failure is logged and the
    message goes without it - its text carries the figures anyway."""
    try:
        png = await asyncio.to_thread(draw)
    except Exception:
        log.exception("could not draw a chart; the message goes without it")
        return None
    return base64.b64encode(png).decode("ascii")


def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk; ValueError when ``png`` is not a PNG."""
    if png[:8] != b"\x89PNG\r\n\x1a\n" or png[12:16] != b"IHDR":
        raise ValueError("not a PNG")
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
