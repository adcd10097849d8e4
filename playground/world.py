"""The synthetic "picture world" of the bundled image models (issue 18).

Every image is 128x128 RGB: one Noto Color Emoji object, small or big, on the
left, in the middle or on the right, in one of five scenes.  Captions follow
one grammar::

    a {size} {object} {scene}, {position}     e.g. "a big dog on the beach, on the left"

The world is exact, so that any renderer of it agrees pixel for pixel:

* sprite: the glyph drawn by Pillow at font size 109 with
  ``embedded_color=True``, cropped to its alpha bounding box, resized with
  LANCZOS, keeping its aspect, so that its longer side is 32 px ("small") or
  64 px ("big");
* placement: centred at x = 32, 64 or 96 (``left`` = x0 = 32 - width // 2),
  its bottom edge at y = 100 (the sprite's last row is row 99, as a PIL box
  ``(x0, 100 - h, x0 + w, 100)``), alpha-composited over the scene;
* scenes: see ``SCENES`` (rows inclusive); the stars of "at night" (12, rows
  0-60) and "in space" (30, anywhere) are white single pixels placed by
  ``numpy.random.default_rng(star_seed)``, x first, then y.

Held-out combinations: the (object, scene) pairs in ``HELD_OUT_PAIRS`` never
appear in training data (``make_dataset(..., split="train")``); evaluation
uses them, with star seeds drawn from ``EVAL_SEED``, as the prompts and
scenes the project never trained on.

Importable without Gradio or torch; the font is Debian's
``fonts-noto-color-emoji`` (``make test`` installs it).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

IMAGE_SIZE = 128
FONT_SIZE = 109  # the size of Noto Color Emoji's only bitmap strike
FONT_PATHS = (
    "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf",
    "/usr/share/fonts/noto/NotoColorEmoji.ttf",
    "/usr/local/share/fonts/NotoColorEmoji.ttf",
)

OBJECTS: dict[str, str] = {
    "cat": "\U0001f431",
    "dog": "\U0001f436",
    "fish": "\U0001f41f",
    "bird": "\U0001f426",
    "butterfly": "\U0001f98b",
    "tree": "\U0001f333",
    "flower": "\U0001f33b",
    "mushroom": "\U0001f344",
    "house": "\U0001f3e0",
    "car": "\U0001f697",
    "bicycle": "\U0001f6b2",
    "rocket": "\U0001f680",
    "boat": "\u26f5",
    "pizza": "\U0001f355",
    "apple": "\U0001f34e",
    "cake": "\U0001f382",
    "balloon": "\U0001f388",
    "ball": "\u26bd",
    "umbrella": "\u2602",
    "guitar": "\U0001f3b8",
}
OBJECT_NAMES: tuple[str, ...] = tuple(OBJECTS)
SIZES: dict[str, int] = {"small": 32, "big": 64}
SIZE_NAMES: tuple[str, ...] = tuple(SIZES)
POSITIONS: dict[str, int] = {"on the left": 32, "in the middle": 64, "on the right": 96}
POSITION_NAMES: tuple[str, ...] = tuple(POSITIONS)
BOTTOM = 100  # y of the sprite's bottom edge (exclusive, as in a PIL box)

SKY = (135, 206, 235)
WHITE = (255, 255, 255)


@dataclass(frozen=True)
class Scene:
    """A background: colour bands ``(first_row, last_row, rgb)`` plus stars."""

    bands: tuple[tuple[int, int, tuple[int, int, int]], ...]
    stars: int = 0
    star_rows: tuple[int, int] = (0, IMAGE_SIZE - 1)


SCENES: dict[str, Scene] = {
    "on the grass": Scene(((0, 79, SKY), (80, 127, (34, 139, 34)))),
    "on the beach": Scene(((0, 71, SKY), (72, 87, (30, 144, 255)), (88, 127, (238, 214, 175)))),
    "in the snow": Scene(((0, 79, (220, 230, 240)), (80, 127, (250, 250, 250)))),
    "at night": Scene(((0, 127, (25, 25, 80)),), stars=12, star_rows=(0, 60)),
    "in space": Scene(((0, 127, (0, 0, 0)),), stars=30),
}
SCENE_NAMES: tuple[str, ...] = tuple(SCENES)

# The word that names each phrase in free text ("beach" -> "on the beach").
SCENE_WORDS: dict[str, str] = {
    "grass": "on the grass",
    "beach": "on the beach",
    "snow": "in the snow",
    "night": "at night",
    "space": "in space",
}
POSITION_WORDS: dict[str, str] = {"left": "on the left", "middle": "in the middle", "right": "on the right"}

# Every word the caption grammar can produce, in a stable order (tokenizers
# are built from this list, so keep it append-only).
GRAMMAR_WORDS: tuple[str, ...] = (
    ("a", ",", "on", "in", "at", "the") + SIZE_NAMES + OBJECT_NAMES + tuple(SCENE_WORDS) + tuple(POSITION_WORDS)
)

# (object, scene) pairs excluded from training: two per scene, each object at
# most once, so every object and every scene is still seen in training.
HELD_OUT_PAIRS: frozenset[tuple[str, str]] = frozenset(
    {
        ("cat", "in the snow"),
        ("dog", "in space"),
        ("fish", "on the grass"),
        ("tree", "at night"),
        ("house", "on the beach"),
        ("car", "in the snow"),
        ("rocket", "on the grass"),
        ("boat", "at night"),
        ("cake", "on the beach"),
        ("guitar", "in space"),
    }
)

# Two objects (the stretch goal): "a cat and a dog on the grass" draws the first on the left and the second on
# the right, each small or big as the model picks. These ordered pairs never appear in training data: two per
# first object, 40 of the 380, "a cat and a dog" among them, so the example prompt is one the model never saw.
HELD_OUT_DUOS: frozenset[tuple[str, str]] = frozenset(
    (OBJECT_NAMES[i], OBJECT_NAMES[(7 * i + k) % len(OBJECT_NAMES)]) for i in range(len(OBJECT_NAMES)) for k in (1, 11)
)

TRAIN_SEED = 0
EVAL_SEED = 10_000


@dataclass(frozen=True)
class Picture:
    """One picture: what is drawn, where, and the seed of its stars."""

    object: str
    scene: str
    size: str = "big"
    position: str = "in the middle"
    star_seed: int = 0
    # A second object makes a two-object picture: ``object`` on the left, ``second`` on the right.
    second: str | None = None
    second_size: str = "big"

    @property
    def pair(self) -> tuple[str, str]:
        return (self.object, self.scene)

    @property
    def duo(self) -> tuple[str, str] | None:
        return (self.object, self.second) if self.second else None


def font_path() -> Path:
    """The Noto Color Emoji font file (``$NOTO_COLOR_EMOJI`` overrides the search)."""
    candidates = [os.environ.get("NOTO_COLOR_EMOJI", "")] + list(FONT_PATHS)
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise FileNotFoundError(
        "NotoColorEmoji.ttf is not installed: run `apt-get install fonts-noto-color-emoji` "
        "(make test does) or set NOTO_COLOR_EMOJI to the font file."
    )


@cache
def glyph(name: str) -> Image.Image:
    """The object's emoji at font size 109, cropped to its alpha bounding box (RGBA)."""
    font = ImageFont.truetype(str(font_path()), FONT_SIZE)
    canvas = Image.new("RGBA", (2 * FONT_SIZE, 2 * FONT_SIZE), (0, 0, 0, 0))
    ImageDraw.Draw(canvas).text((0, 0), OBJECTS[name], font=font, embedded_color=True)
    box = canvas.getchannel("A").getbbox()
    if box is None:
        raise ValueError(f"the font draws nothing for {name!r}")
    return canvas.crop(box)


@cache
def sprite(name: str, size: str) -> Image.Image:
    """The glyph resized with LANCZOS so that its longer side is 32 or 64 px."""
    g = glyph(name)
    side = SIZES[size]
    scale = side / max(g.size)
    w, h = (max(1, round(g.width * scale)), max(1, round(g.height * scale)))
    return g.resize((w, h), Image.Resampling.LANCZOS)


def sprite_box(name: str, size: str, position: str) -> tuple[int, int, int, int]:
    """``(x0, y0, x1, y1)`` of the sprite, a PIL box (x1, y1 exclusive)."""
    w, h = sprite(name, size).size
    x0 = POSITIONS[position] - w // 2
    return (x0, BOTTOM - h, x0 + w, BOTTOM)


def background(scene: str, star_seed: int = 0) -> np.ndarray:
    """The scene without an object, as uint8 (128, 128, 3)."""
    spec = SCENES[scene]
    arr = np.zeros((IMAGE_SIZE, IMAGE_SIZE, 3), np.uint8)
    for first, last, rgb in spec.bands:
        arr[first : last + 1] = rgb
    if spec.stars:
        rng = np.random.default_rng(star_seed)
        xs = rng.integers(0, IMAGE_SIZE, spec.stars)
        ys = rng.integers(spec.star_rows[0], spec.star_rows[1] + 1, spec.stars)
        arr[ys, xs] = WHITE
    return arr


def render(picture: Picture) -> Image.Image:
    """Draw the picture exactly as the world defines it (RGB, 128x128)."""
    backdrop = background(picture.scene, picture.star_seed)
    if picture.second:
        left = place(backdrop, picture.object, picture.size, "on the left")
        return place(np.asarray(left), picture.second, picture.second_size, "on the right")
    return place(backdrop, picture.object, picture.size, picture.position)


def place(backdrop: np.ndarray, name: str, size: str, position: str) -> Image.Image:
    """The object's sprite alpha-composited over ``backdrop`` (uint8 (128, 128, 3)) at its size and position."""
    scene = Image.fromarray(backdrop).convert("RGBA")
    layer = Image.new("RGBA", scene.size, (0, 0, 0, 0))
    x0, y0, _, _ = sprite_box(name, size, position)
    layer.paste(sprite(name, size), (x0, y0))
    return Image.alpha_composite(scene, layer).convert("RGB")


def caption(picture: Picture, size: bool = True, position: bool = True, scene: bool = True) -> str:
    """The caption ``a {size} {object} {scene}, {position}``; size, scene and/or position may be left out.

    A two-object picture is ``a {object} and a {second} {scene}`` (its sides are fixed; the sizes go unsaid)."""
    if picture.second:
        return f"a {picture.object} and a {picture.second}" + (f" {picture.scene}" if scene else "")
    words = ["a"] + ([picture.size] if size else []) + [picture.object] + ([picture.scene] if scene else [])
    text = " ".join(words)
    return f"{text}, {picture.position}" if position else text


def parse_caption(text: str) -> dict[str, str]:
    """Pull ``object``, ``scene``, ``size`` and ``position`` out of free text.

    Words outside the world are ignored; the first word naming each attribute
    wins.  ``parse_caption(caption(p))`` gives all four back.  A second,
    different object ("a cat and a dog on the grass") is ``second``.
    """
    out: dict[str, str] = {}
    for word in re.findall(r"[a-z]+", text.lower()):
        if word in OBJECTS:
            out.setdefault("object", word)
            if word != out["object"]:
                out.setdefault("second", word)
        elif word in SIZES:
            out.setdefault("size", word)
        elif word in SCENE_WORDS:
            out.setdefault("scene", SCENE_WORDS[word])
        elif word in POSITION_WORDS:
            out.setdefault("position", POSITION_WORDS[word])
    return out


def check_split(split: str) -> None:
    """Refuse a split other than ``train``, ``heldout`` or ``all``, by name."""
    if split not in ("train", "heldout", "all"):
        raise ValueError(f"unknown split {split!r}: use train, heldout or all")


def sample_picture(rng: np.random.Generator, split: str = "all") -> Picture:
    """Draw one random picture.

    ``split`` is ``"train"`` (never a held-out pair), ``"heldout"`` (only
    held-out pairs) or ``"all"``.
    """
    check_split(split)
    while True:
        picture = Picture(
            object=OBJECT_NAMES[rng.integers(len(OBJECT_NAMES))],
            scene=SCENE_NAMES[rng.integers(len(SCENE_NAMES))],
            size=SIZE_NAMES[rng.integers(len(SIZE_NAMES))],
            position=POSITION_NAMES[rng.integers(len(POSITION_NAMES))],
            star_seed=int(rng.integers(2**31)),
        )
        held = picture.pair in HELD_OUT_PAIRS
        # Rejection keeps each split uniform over its pairs; held-out is 10%.
        if split == "all" or (split == "heldout") == held:
            return picture


def sample_duo(rng: np.random.Generator, split: str = "all") -> Picture:
    """One random two-object picture; ``split`` as in ``sample_picture``, over ``HELD_OUT_DUOS``."""
    check_split(split)
    while True:
        first, second = rng.choice(len(OBJECT_NAMES), 2, replace=False)
        picture = Picture(
            object=OBJECT_NAMES[first],
            scene=SCENE_NAMES[rng.integers(len(SCENE_NAMES))],
            size=SIZE_NAMES[rng.integers(len(SIZE_NAMES))],
            star_seed=int(rng.integers(2**31)),
            second=OBJECT_NAMES[second],
            second_size=SIZE_NAMES[rng.integers(len(SIZE_NAMES))],
        )
        if split == "all" or (split == "heldout") == (picture.duo in HELD_OUT_DUOS):
            return picture


def make_dataset(
    n: int, seed: int = TRAIN_SEED, split: str = "train", duos: bool = False
) -> tuple[list[Picture], np.ndarray]:
    """``n`` pictures (two-object ones with ``duos``) and their images as uint8 of shape (n, 128, 128, 3)."""
    rng = np.random.default_rng(seed)
    pictures = [(sample_duo if duos else sample_picture)(rng, split) for _ in range(n)]
    images = np.zeros((n, IMAGE_SIZE, IMAGE_SIZE, 3), np.uint8)
    for i, p in enumerate(pictures):
        images[i] = np.asarray(render(p))
    return pictures, images
