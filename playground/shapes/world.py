"""The synthetic "shapes world" used to train the bundled demo models.

Every image is 64x64 RGB: one filled shape (circle, square or upward triangle)
in one palette colour, on a solid background of a *different* palette colour.
Captions follow one fixed grammar::

    a {size} {colour} {shape} on a {background} background

Everything is deterministic given a seeded ``numpy.random.Generator``.

Held-out combinations: the (colour, shape, background) triples in
``HELD_OUT_TRIPLES`` never appear in training data (``make_dataset(...,
split="train")``); evaluation reports them separately to show whether the
models compose attributes they have only seen apart.  Evaluation also uses
seeds disjoint from training (``EVAL_SEED``), so positions differ as well.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

IMAGE_SIZE = 64

PALETTE: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "orange": (245, 140, 30),
    "yellow": (240, 220, 40),
    "green": (40, 170, 70),
    "blue": (40, 90, 220),
    "purple": (140, 60, 190),
    "white": (245, 245, 245),
    "black": (20, 20, 20),
}
COLOURS: tuple[str, ...] = tuple(PALETTE)
SHAPES: tuple[str, ...] = ("circle", "square", "triangle")
SIZES: dict[str, int] = {"small": 16, "medium": 28, "large": 44}
SIZE_NAMES: tuple[str, ...] = tuple(SIZES)

# Max offset (px) of the shape's centre from the image centre, per axis.
JITTER = 3

# Every word the caption grammar can produce, in a stable order (tokenizers
# are built from this list, so keep it append-only).
GRAMMAR_WORDS: tuple[str, ...] = ("a", "on", "background") + SIZE_NAMES + COLOURS + SHAPES

# (colour, shape, background) triples excluded from training.  One per
# foreground colour, with varied shapes and backgrounds, so every colour,
# shape and background is still seen in training, just not in these pairings.
HELD_OUT_TRIPLES: frozenset[tuple[str, str, str]] = frozenset(
    {
        ("red", "circle", "green"),
        ("orange", "square", "purple"),
        ("yellow", "triangle", "black"),
        ("green", "square", "white"),
        ("blue", "triangle", "yellow"),
        ("purple", "circle", "orange"),
        ("white", "triangle", "blue"),
        ("black", "circle", "red"),
    }
)

TRAIN_SEED = 0
EVAL_SEED = 10_000


@dataclass(frozen=True)
class Attributes:
    """One scene: what is drawn and where (``dx``/``dy`` are the jitter in px)."""

    size: str
    colour: str
    shape: str
    background: str
    dx: int = 0
    dy: int = 0

    @property
    def triple(self) -> tuple[str, str, str]:
        return (self.colour, self.shape, self.background)


def sample_attributes(rng: np.random.Generator, split: str = "all") -> Attributes:
    """Draw one random scene.

    ``split`` is ``"train"`` (never a held-out triple), ``"heldout"`` (only
    held-out triples) or ``"all"`` (anything).
    """
    if split not in ("train", "heldout", "all"):
        raise ValueError(f"unknown split {split!r}")
    while True:
        colour, background = rng.choice(len(COLOURS), size=2, replace=False)
        attrs = Attributes(
            size=SIZE_NAMES[rng.integers(len(SIZE_NAMES))],
            colour=COLOURS[colour],
            shape=SHAPES[rng.integers(len(SHAPES))],
            background=COLOURS[background],
            dx=int(rng.integers(-JITTER, JITTER + 1)),
            dy=int(rng.integers(-JITTER, JITTER + 1)),
        )
        held = attrs.triple in HELD_OUT_TRIPLES
        # Rejection sampling keeps the split's distribution uniform over its
        # allowed triples; held-out is 8/168 of the space so this is cheap.
        if split == "all" or (split == "heldout") == held:
            return attrs


def render(attrs: Attributes) -> Image.Image:
    """Draw the scene with hard (non-antialiased) edges, so every pixel is
    exactly one of the two palette colours."""
    img = Image.new("RGB", (IMAGE_SIZE, IMAGE_SIZE), PALETTE[attrs.background])
    draw = ImageDraw.Draw(img)
    side = SIZES[attrs.size]
    cx = IMAGE_SIZE // 2 + attrs.dx
    cy = IMAGE_SIZE // 2 + attrs.dy
    x0, y0 = cx - side // 2, cy - side // 2
    x1, y1 = x0 + side - 1, y0 + side - 1  # PIL boxes are inclusive
    fill = PALETTE[attrs.colour]
    if attrs.shape == "circle":
        draw.ellipse((x0, y0, x1, y1), fill=fill)
    elif attrs.shape == "square":
        draw.rectangle((x0, y0, x1, y1), fill=fill)
    elif attrs.shape == "triangle":
        draw.polygon([(x0, y1), (x1, y1), ((x0 + x1) / 2, y0)], fill=fill)
    else:
        raise ValueError(f"unknown shape {attrs.shape!r}")
    return img


def caption(attrs: Attributes) -> str:
    """The one canonical caption for a scene."""
    return f"a {attrs.size} {attrs.colour} {attrs.shape} on a {attrs.background} background"


def parse_caption(text: str) -> dict[str, str]:
    """Pull attributes out of free text, tolerating missing or extra words.

    Returns a dict with any of ``size``, ``colour``, ``shape``,
    ``background`` that could be found.  The first colour before "on" is the
    shape's colour; a colour after "on" is the background.  A caption in the
    exact grammar round-trips: ``parse_caption(caption(a))`` gives all four.
    """
    words = re.findall(r"[a-z]+", text.lower())
    out: dict[str, str] = {}
    seen_on = False
    for word in words:
        if word == "on":
            seen_on = True
        elif word in SIZES and "size" not in out:
            out["size"] = word
        elif word in SHAPES and "shape" not in out:
            out["shape"] = word
        elif word in PALETTE:
            key = "background" if seen_on else "colour"
            out.setdefault(key, word)
    return out


def make_dataset(n: int, seed: int = TRAIN_SEED, split: str = "train") -> tuple[list[Attributes], np.ndarray]:
    """``n`` scenes and their images as a uint8 array of shape (n, 64, 64, 3)."""
    rng = np.random.default_rng(seed)
    attrs = [sample_attributes(rng, split) for _ in range(n)]
    images = (
        np.stack([np.asarray(render(a)) for a in attrs]) if n else (np.zeros((0, IMAGE_SIZE, IMAGE_SIZE, 3), np.uint8))
    )
    return attrs, images
