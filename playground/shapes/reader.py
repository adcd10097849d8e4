"""Read a shapes-world scene back from pixels alone (no neural network).

Used to score generated images: it must be reliable on clean renders and
tolerant of the blur/noise a small diffusion model produces.

* background: the median colour of the border frame, snapped to the palette;
* foreground colour: the most common nearest-palette colour among pixels far
  from the background colour;
* foreground mask: pixels nearer the foreground than the background colour
  (measured along the line between the two);
* shape: fill ratio of the mask's bounding box (square ~1.0, circle ~0.785,
  triangle ~0.5), with the triangle also recognisable by a narrow top;
* size: the bounding box's longer side, snapped to 16 / 28 / 44 px.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from playground.shapes.world import COLOURS, PALETTE, SIZES

_PALETTE_RGB = np.array([PALETTE[c] for c in COLOURS], dtype=np.float32)
_BORDER = 2  # px of frame sampled for the background
_MIN_PALETTE_GAP = float(min(np.linalg.norm(a - b) for i, a in enumerate(_PALETTE_RGB) for b in _PALETTE_RGB[i + 1 :]))


def _nearest_palette(pixels: np.ndarray) -> np.ndarray:
    """Index of the nearest palette colour for each RGB row of ``pixels``."""
    d = ((pixels[:, None, :] - _PALETTE_RGB[None, :, :]) ** 2).sum(-1)
    return d.argmin(-1)


def _span(counts: np.ndarray, min_count: int) -> tuple[int, int] | None:
    """First and last index whose count reaches ``min_count`` (speckle-proof)."""
    idx = np.flatnonzero(counts >= min_count)
    if idx.size == 0:
        return None
    return int(idx[0]), int(idx[-1])


def read_image(image: Image.Image | np.ndarray) -> dict[str, str | float | None]:
    """Return ``colour``, ``shape``, ``background``, ``size`` (names, or
    ``None`` where nothing could be read) plus the raw ``fill`` ratio."""
    arr = np.asarray(image.convert("RGB") if isinstance(image, Image.Image) else image)
    arr = arr.astype(np.float32)
    h, w, _ = arr.shape
    b = _BORDER
    frame = np.concatenate(
        [arr[:b].reshape(-1, 3), arr[-b:].reshape(-1, 3), arr[:, :b].reshape(-1, 3), arr[:, -b:].reshape(-1, 3)]
    )
    bg_idx = int(_nearest_palette(np.median(frame, axis=0)[None])[0])
    bg = _PALETTE_RGB[bg_idx]
    result: dict[str, str | float | None] = {
        "background": COLOURS[bg_idx],
        "colour": None,
        "shape": None,
        "size": None,
        "fill": 0.0,
    }
    # Foreground colour: the commonest palette colour among pixels clearly
    # unlike the background.  Blends at edges can snap to a third palette
    # colour, so they are outvoted rather than trusted.
    # "Clearly" = over half the closest palette pair's distance (orange vs
    # yellow, ~81) away from the background colour.
    flat = arr.reshape(-1, 3)
    far = np.sqrt(((flat - bg) ** 2).sum(-1)) > _MIN_PALETTE_GAP / 2
    if far.sum() < 4:
        return result
    labels = _nearest_palette(flat[far])
    votes = np.bincount(labels, minlength=len(COLOURS))
    votes[bg_idx] = 0
    if votes.max() == 0:
        return result
    fg_idx = int(votes.argmax())
    result["colour"] = COLOURS[fg_idx]
    # Shape mask: pixels past the midpoint of the background->foreground
    # line, so a 50/50 blend counts half-way, whatever colour it snaps to.
    fg = _PALETTE_RGB[fg_idx]
    axis = fg - bg
    t = ((arr - bg) @ axis) / float(axis @ axis)
    mask = t > 0.5
    # Ignore isolated stray pixels: a row/column belongs to the shape only if
    # it holds a few foreground pixels.
    rows = _span(mask.sum(1), 3)
    cols = _span(mask.sum(0), 3)
    if rows is None or cols is None:
        return result
    (r0, r1), (c0, c1) = rows, cols
    box = mask[r0 : r1 + 1, c0 : c1 + 1]

    bh, bw = box.shape
    fill = float(box.mean())
    result["fill"] = fill
    # Width of the top quarter relative to the bottom quarter: ~0.25 for an
    # upward triangle, ~1 for squares and (by symmetry) circles.
    q = max(1, bh // 4)
    top = box[:q].sum(1).mean()
    bottom = box[-q:].sum(1).mean()
    taper = float(top / max(bottom, 1.0))
    if fill < 0.64 or taper < 0.5:
        shape = "triangle"
    elif fill < 0.89:
        shape = "circle"
    else:
        shape = "square"
    result["shape"] = shape
    side = max(bh, bw)
    result["size"] = min(SIZES, key=lambda s: abs(SIZES[s] - side))
    return result
