"""The chart PNG: a real PNG of 640×360 px, small, the same bytes for the same figures, different for
different ones, with something drawn on it - and a failure to draw leaves the message without a chart
rather than failing it."""

from __future__ import annotations

import base64
import io
import logging
from datetime import date, timedelta
from decimal import Decimal

import pytest
from PIL import Image

from bot.features.performance import charts
from bot.features.performance.charts import ChartData, StageBar, WeekPoint

STAGES = ("prospecting", "qualification", "proposal", "negotiation", "commit")
MONDAY = date(2026, 9, 14)


def figures(scale: int = 1, *, currencies: tuple[str, ...] = ("USD",)) -> ChartData:
    stages = tuple(
        StageBar(s, n * scale, {c: Decimal(n * 45_000 * scale) for c in currencies} if n else {})
        for s, n in zip(STAGES, (4, 2, 3, 0, 1), strict=True)
    )
    weeks = tuple(
        WeekPoint(
            MONDAY + timedelta(weeks=i), (i * 7) % 5 * scale, {"USD": Decimal(i * 12_500)} if i % 3 else {}
        )
        for i in range(12)
    )
    return ChartData(stages=stages, weeks=weeks)


def pixels(png: bytes) -> Image.Image:
    return Image.open(io.BytesIO(png)).convert("RGB")


def test_a_small_png_of_the_right_size() -> None:
    png = charts.render_chart(figures(), title="Northwind Partners · scorecard, last 90 days")
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
    assert charts.png_size(png) == (640, 360)
    assert 2_000 < len(png) < charts.MAX_PNG_BYTES
    image = pixels(png)
    assert image.size == (640, 360)
    colours = image.getcolors(maxcolors=1 << 16) or []
    assert len(colours) > 8, "bars, a line, text: more than a blank canvas"
    assert image.getpixel((320, 180)) != (0, 0, 0)


def test_the_bars_are_drawn_where_the_figures_say() -> None:
    def blue_in(png: bytes) -> int:
        image = pixels(png).crop((0, 0, 320, 360))  # the pipeline panel
        return sum(n for n, (r, g, b) in image.getcolors(maxcolors=1 << 16) or [] if b > 150 and r < 90)

    assert blue_in(charts.render_chart(figures(), title="x")) > 2_000
    empty = ChartData(stages=tuple(StageBar(s, 0) for s in STAGES), weeks=())
    assert blue_in(charts.render_chart(empty, title="x")) < 200


def test_same_figures_same_bytes_different_figures_different_bytes() -> None:
    first = charts.render_chart(figures(), title="Same")
    assert charts.render_chart(figures(), title="Same") == first
    assert charts.render_chart(figures(2), title="Same") != first
    assert charts.render_chart(figures(), title="Other") != first


def test_awkward_figures_still_fit() -> None:
    empty = ChartData(
        stages=tuple(StageBar(s, 0) for s in STAGES),
        weeks=tuple(WeekPoint(MONDAY + timedelta(weeks=i), 0) for i in range(12)),
    )
    assert empty.is_empty and empty.won_currency() is None
    png = charts.render_chart(empty, title="Nothing yet")
    assert charts.png_size(png) == (640, 360)
    # A partner's name in the title is text, never matplotlib math: "$…\\frac…$" would not even draw.
    png = charts.scorecard_chart(figures(), partner="Ca$h \\frac Partners$", days=90)
    assert charts.png_size(png) == (640, 360)
    big = figures(400, currencies=("USD", "EUR", "GBP"))
    png = charts.digest_chart(big, week_label="2027-W01")
    assert charts.png_size(png) == (640, 360) and len(png) < charts.MAX_PNG_BYTES


def test_labels_and_the_trend_currency() -> None:
    assert [charts.compact(Decimal(v)) for v in (950, 45_000, 1_250_000, 12_000_000, 3_400_000_000)] == [
        "950",
        "45k",
        "1.2M",
        "12M",
        "3.4B",
    ]
    data = ChartData(
        stages=(),
        weeks=(
            WeekPoint(MONDAY, 1, {"EUR": Decimal(90_000), "USD": Decimal(10_000)}),
            WeekPoint(MONDAY + timedelta(weeks=1), 0, {"USD": Decimal(50_000)}),
        ),
    )
    assert data.won_currency() == "EUR" and not data.is_empty
    assert [w.label for w in data.weeks] == ["W38", "W39"]
    with pytest.raises(ValueError):
        charts.png_size(b"GIF89a" + b"\0" * 30)


async def test_drawing_in_a_thread_and_a_failed_drawing(caplog: pytest.LogCaptureFixture) -> None:
    encoded = await charts.png_b64_or_none(lambda: charts.render_chart(figures(), title="t"))
    assert encoded is not None and charts.png_size(base64.b64decode(encoded)) == (640, 360)

    def broken() -> bytes:
        raise RuntimeError("no fonts today")

    with caplog.at_level(logging.ERROR, logger="bot.features.performance.charts"):
        assert await charts.png_b64_or_none(broken) is None
    assert "could not draw a chart" in caplog.text
