"""Annotated image grids: the X/Y comparison plot and the noise-to-picture strip."""

from __future__ import annotations

import textwrap

MIN_CELL = 192  # small images (the bundled 64×64 model) are scaled up with crisp pixels
MAX_CELL = 384
PAD = 8
BACKGROUND = (255, 255, 255)
INK = (30, 30, 30)
EMPTY = (232, 232, 232)


def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # a Pillow without FreeType: the small bitmap font
        return ImageFont.load_default()


def _fit(image, cell: int):
    from PIL import Image

    if image is None:
        return Image.new("RGB", (cell, cell), EMPTY)
    scale = cell / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    resample = Image.NEAREST if scale >= 2 else Image.LANCZOS
    fitted = Image.new("RGB", (cell, cell), BACKGROUND)
    fitted.paste(image.convert("RGB").resize(size, resample), ((cell - size[0]) // 2, (cell - size[1]) // 2))
    return fitted


def _wrapped(text: str, width_px: int, font) -> list[str]:
    chars = max(8, int(width_px / (font.size * 0.55))) if hasattr(font, "size") else 24
    lines = textwrap.wrap(text, chars) or [""]
    return lines[:3] if len(lines) <= 3 else lines[:2] + [lines[2][: chars - 1] + "…"]


def cell_size(images) -> int:
    """A common cell size: the largest image side, at least MIN_CELL and at most MAX_CELL."""
    sides = [max(i.size) for i in images if i is not None]
    return max(MIN_CELL, min(MAX_CELL, max(sides, default=MIN_CELL)))


def image_grid(
    images: list, columns: list[str], rows: list[str] | None = None, title: str = "", cell: int | None = None
):
    """Images row by row (``None`` for a cell not made yet), with column labels above and row labels at the left."""
    from PIL import Image, ImageDraw

    rows = rows or [""]
    if len(images) != len(columns) * len(rows):
        raise ValueError(f"{len(images)} images do not fill a {len(rows)}×{len(columns)} grid")
    cell = cell or cell_size(images)
    font, title_font = _font(15), _font(18)
    long_labels = max(map(len, rows)) > 24  # prompts as row labels need room for three lines
    left = 0 if rows == [""] else (cell if long_labels else cell // 2) + PAD * 2
    line = 19
    top = (line * 3 + PAD) + (28 if title else 0)
    width = left + len(columns) * (cell + PAD) + PAD
    height = top + len(rows) * (cell + PAD) + PAD
    canvas = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    if title:
        draw.text((PAD, PAD), title, fill=INK, font=title_font)
    for c, label in enumerate(columns):
        x0 = left + PAD + c * (cell + PAD)
        lines = _wrapped(label, cell, font)
        for i, text in enumerate(lines):
            y = top - PAD - (len(lines) - i) * line
            draw.text((x0 + cell / 2, y), text, fill=INK, font=font, anchor="ma")
    for r, label in enumerate(rows):
        y0 = top + r * (cell + PAD)
        lines = _wrapped(label, left - PAD * 2, font) if left else []
        for i, text in enumerate(lines):
            draw.text((PAD, y0 + cell / 2 + (i - len(lines) / 2) * line), text, fill=INK, font=font)
        for c in range(len(columns)):
            canvas.paste(_fit(images[r * len(columns) + c], cell), (left + PAD + c * (cell + PAD), y0))
    return canvas
