"""Read a picture-world image back from pixels alone (no neural network).

Used to score generated pictures, so it must be exact on clean renders and
tolerant of the blur and tint of a small diffusion model's output:

* scene: the median colours of the top rows (0-15) and the bottom rows
  (104-127), which no sprite reaches (a big sprite's top is row 36 at the
  highest, every sprite ends at row 99), matched to the five scenes' colours;
* sprite box: pixels far from the scene's own (starless) background, in rows
  30-103; a row or column counts only with a few such pixels (stars and
  speckle are single pixels), the box is the largest run of such rows and
  columns, and a row flagged almost across the width is a
  blurred band edge, not a sprite (sprites are at most 64 px wide);
* size: the box's longer side, small (32) or big (64), split at 48;
* position: the box's centre, nearest of x = 32 / 64 / 96;
* object: the nearest of the 20 sprites at the read size, drawn on the read
  scene centred on the box, its bottom at row 100 or at the box's bottom,
  by mean squared error at half resolution (halving forgives a pixel of
  shift or blur).
"""

from __future__ import annotations

from functools import cache

import numpy as np
from PIL import Image

from playground.world import (
    BOTTOM,
    IMAGE_SIZE,
    OBJECT_NAMES,
    POSITIONS,
    SCENE_NAMES,
    SIZES,
    background,
    sprite,
)

TOP_ROWS = slice(0, 16)
BOTTOM_ROWS = slice(104, IMAGE_SIZE)
SPRITE_ROWS = (30, 104)  # rows searched for the sprite
FAR = 48.0  # RGB distance from the background that marks a sprite pixel
MIN_COUNT = 3  # pixels a row or column needs to belong to the sprite box
MAX_GAP = 6  # empty rows or columns a sprite may have inside it
MAX_ROW = 80  # more flagged pixels than this in a row: a band edge (sprites are <= 64 wide)
SIZE_SPLIT = (SIZES["small"] + SIZES["big"]) / 2


@cache
def _scene_signatures() -> np.ndarray:
    """(scenes, 6): each scene's top and bottom median colours, starless."""
    return np.array(
        [
            np.concatenate([np.median(bg[TOP_ROWS].reshape(-1, 3), 0), np.median(bg[BOTTOM_ROWS].reshape(-1, 3), 0)])
            for bg in (background(s).astype(np.float32) for s in SCENE_NAMES)
        ]
    )


def read_scene(arr: np.ndarray) -> str:
    """The scene whose sky and ground colours are nearest the image's."""
    sig = np.concatenate([np.median(arr[TOP_ROWS].reshape(-1, 3), 0), np.median(arr[BOTTOM_ROWS].reshape(-1, 3), 0)])
    return SCENE_NAMES[int(((_scene_signatures() - sig) ** 2).sum(1).argmin())]


def _span(counts: np.ndarray) -> tuple[int, int] | None:
    """First and last index of the largest run of counts >= MIN_COUNT, gaps
    of up to MAX_GAP allowed (a column of three stars stays out of the box)."""
    idx = np.flatnonzero(counts >= MIN_COUNT)
    if idx.size == 0:
        return None
    runs = np.split(idx, np.flatnonzero(np.diff(idx) > MAX_GAP) + 1)
    best = max(runs, key=lambda r: counts[r].sum())
    return int(best[0]), int(best[-1])


def sprite_bbox(arr: np.ndarray, scene: str) -> tuple[int, int, int, int] | None:
    """``(x0, y0, x1, y1)`` (inclusive) of the pixels unlike ``scene``'s background, or ``None``."""
    diff = np.sqrt(((arr - background(scene).astype(np.float32)) ** 2).sum(-1))
    mask = diff > FAR
    r0, r1 = SPRITE_ROWS
    mask[:r0] = False
    mask[r1:] = False
    mask[mask.sum(1) > MAX_ROW] = False
    rows = _span(mask.sum(1))
    if rows is None:
        return None
    # Columns counted only over the sprite's rows, then rows over its columns.
    cols = _span(mask[rows[0] : rows[1] + 1].sum(0))
    if cols is None:
        return None
    rows = _span(mask[:, cols[0] : cols[1] + 1].sum(1))
    if rows is None:
        return None
    return (cols[0], rows[0], cols[1], rows[1])


def _half(arr: np.ndarray) -> np.ndarray:
    return arr.reshape(IMAGE_SIZE // 2, 2, IMAGE_SIZE // 2, 2, 3).mean((1, 3))


def _candidate(name: str, scene: str, size: str, centre: float, bottom: int) -> np.ndarray:
    """``name``'s sprite on the starless scene, its centre and bottom edge at the given place."""
    sp = sprite(name, size)
    base = Image.fromarray(background(scene)).convert("RGBA")
    layer = Image.new("RGBA", base.size, (0, 0, 0, 0))
    layer.paste(sp, (int(round(centre - sp.width / 2)), bottom - sp.height))
    return np.asarray(Image.alpha_composite(base, layer).convert("RGB"), np.float32)


def pixels(image: Image.Image | np.ndarray) -> np.ndarray:
    """The image as float32 (128, 128, 3) RGB; a picture of another size is resized first."""
    if isinstance(image, Image.Image):
        image = (
            image.convert("RGB").resize((IMAGE_SIZE, IMAGE_SIZE))
            if image.size != (IMAGE_SIZE,) * 2
            else image.convert("RGB")
        )
    return np.asarray(image, np.float32)


def read_image(image: Image.Image | np.ndarray) -> dict[str, str | None]:
    """Return ``object``, ``scene``, ``size`` and ``position`` (``None`` where no sprite is found)."""
    arr = pixels(image)
    scene = read_scene(arr)
    out: dict[str, str | None] = {"object": None, "scene": scene, "size": None, "position": None}
    box = sprite_bbox(arr, scene)
    if box is None:
        return out
    x0, y0, x1, y1 = box
    size = "small" if max(x1 - x0 + 1, y1 - y0 + 1) < SIZE_SPLIT else "big"
    centre = (x0 + x1 + 1) / 2
    out["size"] = size
    out["position"] = min(POSITIONS, key=lambda p: abs(POSITIONS[p] - centre))
    target = _half(arr)
    # Every sprite ends at row 99, but a thin tail (the umbrella's handle) can
    # fall below the box's pixel counts, and a generated one may sit higher.
    bottoms = sorted({BOTTOM, min(y1 + 1, BOTTOM)})
    errors = [
        min(((_half(_candidate(o, scene, size, centre, b)) - target) ** 2).mean() for b in bottoms)
        for o in OBJECT_NAMES
    ]
    out["object"] = OBJECT_NAMES[int(np.argmin(errors))]
    return out


def read_duo(image: Image.Image | np.ndarray) -> dict[str, str | None]:
    """Read a two-object picture: ``object`` from its left half and ``second`` from its right half (each half
    read alone, the other painted over with the scene's background), and its ``scene``."""
    arr = pixels(image)
    scene = read_scene(arr)
    bare = background(scene).astype(np.float32)
    half = IMAGE_SIZE // 2
    left, right = arr.copy(), arr.copy()
    left[:, half:] = bare[:, half:]
    right[:, :half] = bare[:, :half]
    return {"object": read_image(left)["object"], "second": read_image(right)["object"], "scene": scene}
