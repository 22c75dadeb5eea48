"""Draw the Teams app icons, ``color.png`` and ``outline.png``, next to this file.

Run ``python teams/make_icons.py`` after changing the drawing; commit the PNGs it writes.
Standard library only (``zlib`` + ``struct``), and deterministic: the same code always yields the same
pixels (the compressed bytes can differ only if Python is linked against a different zlib).

What Teams asks for (https://learn.microsoft.com/microsoftteams/platform/concepts/build-and-test/apps-package):
- color icon: 192x192, full colour; Teams rounds the corners itself, so the tile fills the square
  and stays opaque; the mark sits inside the central 120x120 safe area.
- outline icon: 32x32, white on a transparent background, nothing else.

The mark is a bold "P" (for partner), white on the indigo brand colour.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

BRAND_RGB = (0x4F, 0x46, 0xE5)  # #4F46E5, also the manifest's accentColor
GLYPH_RGB = (0xFF, 0xFF, 0xFF)

COLOR_SIZE = 192
COLOR_GLYPH_HEIGHT = 112  # inside the 120 px safe area
OUTLINE_SIZE = 32
OUTLINE_GLYPH_HEIGHT = 28

SUPERSAMPLING = 4  # samples per pixel along each axis, for smooth (anti-aliased) edges

# The "P", in glyph units: height 1, width GLYPH_WIDTH, origin at the top left.
GLYPH_WIDTH = 0.8
STEM_WIDTH = 0.24
BOWL_CENTRE_X = 0.5
BOWL_CENTRE_Y = 0.3
BOWL_OUTER_RADIUS = 0.3
BOWL_INNER_RADIUS = 0.13


def _in_stadium_right(x: float, y: float, *, left: float, cx: float, cy: float, r: float) -> bool:
    """Inside a rectangle from ``left`` to ``cx`` (height 2r) capped by a half disc on the right."""
    if abs(y - cy) > r or x < left:
        return False
    if x <= cx:
        return True
    return (x - cx) ** 2 + (y - cy) ** 2 <= r * r


def in_glyph(x: float, y: float) -> bool:
    """Whether the point (x, y), in glyph units, is inked."""
    if not (0.0 <= x <= GLYPH_WIDTH and 0.0 <= y <= 1.0):
        return False
    if x <= STEM_WIDTH:
        return True  # the stem
    in_bowl = _in_stadium_right(x, y, left=0.0, cx=BOWL_CENTRE_X, cy=BOWL_CENTRE_Y, r=BOWL_OUTER_RADIUS)
    in_counter = _in_stadium_right(
        x, y, left=STEM_WIDTH, cx=BOWL_CENTRE_X, cy=BOWL_CENTRE_Y, r=BOWL_INNER_RADIUS
    )
    return in_bowl and not in_counter


def coverage_map(size: int, glyph_height: int) -> list[list[float]]:
    """Fraction (0..1) of each pixel covered by the glyph, centred in a ``size`` x ``size`` square."""
    scale = glyph_height  # pixels per glyph unit
    # Whole-pixel origin, so the stem's left edge and the top edge are crisp.
    left = round((size - GLYPH_WIDTH * scale) / 2)
    top = round((size - glyph_height) / 2)
    n = SUPERSAMPLING
    offsets = [(i + 0.5) / n for i in range(n)]
    rows = []
    for py in range(size):
        row = []
        for px in range(size):
            hits = 0
            for oy in offsets:
                gy = (py + oy - top) / scale
                for ox in offsets:
                    if in_glyph((px + ox - left) / scale, gy):
                        hits += 1
            row.append(hits / (n * n))
        rows.append(row)
    return rows


def color_pixels() -> bytes:
    """RGB bytes, row by row, of the 192x192 colour icon: white glyph on an opaque brand tile."""
    out = bytearray()
    for row in coverage_map(COLOR_SIZE, COLOR_GLYPH_HEIGHT):
        for c in row:
            out.extend(round(bg + (fg - bg) * c) for bg, fg in zip(BRAND_RGB, GLYPH_RGB, strict=True))
    return bytes(out)


def outline_pixels() -> bytes:
    """RGBA bytes, row by row, of the 32x32 outline icon: white glyph, transparent elsewhere."""
    out = bytearray()
    for row in coverage_map(OUTLINE_SIZE, OUTLINE_GLYPH_HEIGHT):
        for c in row:
            out.extend((*GLYPH_RGB, round(255 * c)))
    return bytes(out)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def encode_png(*, width: int, height: int, pixels: bytes, has_alpha: bool) -> bytes:
    """A PNG file for 8-bit RGB (or RGBA) ``pixels`` given row by row, top to bottom."""
    channels = 4 if has_alpha else 3
    stride = width * channels
    if len(pixels) != stride * height:
        raise ValueError(f"expected {stride * height} pixel bytes, got {len(pixels)}")
    colour_type = 6 if has_alpha else 2
    ihdr = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    # Filter type 0 (none) on every row keeps the encoder trivial; zlib does the compressing.
    raw = b"".join(b"\x00" + pixels[y * stride : (y + 1) * stride] for y in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(raw, 9))
        + _png_chunk(b"IEND", b"")
    )


def write_icons(out_dir: Path) -> list[Path]:
    """Write ``color.png`` and ``outline.png`` into ``out_dir``; return their paths."""
    color = out_dir / "color.png"
    color.write_bytes(encode_png(width=COLOR_SIZE, height=COLOR_SIZE, pixels=color_pixels(), has_alpha=False))
    outline = out_dir / "outline.png"
    outline.write_bytes(
        encode_png(width=OUTLINE_SIZE, height=OUTLINE_SIZE, pixels=outline_pixels(), has_alpha=True)
    )
    return [color, outline]


def main() -> None:
    for path in write_icons(Path(__file__).resolve().parent):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
