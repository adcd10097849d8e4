"""The synthetic shapes world: generator, captions, pixel reader, tokenizers."""

import numpy as np
import pytest

from playground.shapes import world
from playground.shapes.reader import read_image
from playground.shapes.world import (
    COLOURS,
    GRAMMAR_WORDS,
    HELD_OUT_TRIPLES,
    PALETTE,
    SHAPES,
    SIZES,
    Attributes,
    caption,
    make_dataset,
    parse_caption,
    render,
    sample_attributes,
)


def test_palette_is_exact():
    assert PALETTE == {
        "red": (220, 40, 40),
        "orange": (245, 140, 30),
        "yellow": (240, 220, 40),
        "green": (40, 170, 70),
        "blue": (40, 90, 220),
        "purple": (140, 60, 190),
        "white": (245, 245, 245),
        "black": (20, 20, 20),
    }
    assert SIZES == {"small": 16, "medium": 28, "large": 44}
    assert SHAPES == ("circle", "square", "triangle")


def test_generator_is_deterministic():
    a1, im1 = make_dataset(50, seed=3)
    a2, im2 = make_dataset(50, seed=3)
    _, im3 = make_dataset(50, seed=4)
    assert a1 == a2
    assert np.array_equal(im1, im2)
    assert not np.array_equal(im1, im3)
    assert im1.shape == (50, 64, 64, 3) and im1.dtype == np.uint8


def test_images_use_exactly_two_distinct_palette_colours():
    attrs, images = make_dataset(40, seed=5, split="all")
    for a, img in zip(attrs, images):
        assert a.colour != a.background
        colours = {tuple(c) for c in img.reshape(-1, 3)}
        assert colours == {PALETTE[a.colour], PALETTE[a.background]}
        # Background fills the border frame.
        assert tuple(img[0, 0]) == PALETTE[a.background]


def test_shape_has_requested_bounding_box_near_centre():
    for size, side in SIZES.items():
        for shape in SHAPES:
            a = Attributes(size, "red", shape, "blue", dx=2, dy=-3)
            img = np.asarray(render(a))
            ys, xs = np.nonzero((img != PALETTE["blue"]).any(-1))
            assert xs.max() - xs.min() + 1 == side
            assert ys.max() - ys.min() + 1 == side
            assert abs((xs.min() + xs.max()) / 2 - (32 + 2)) <= 1
            assert abs((ys.min() + ys.max()) / 2 - (32 - 3)) <= 1


def test_splits_respect_held_out_triples():
    rng = np.random.default_rng(0)
    train = [sample_attributes(rng, "train") for _ in range(500)]
    held = [sample_attributes(rng, "heldout") for _ in range(50)]
    assert not any(a.triple in HELD_OUT_TRIPLES for a in train)
    assert all(a.triple in HELD_OUT_TRIPLES for a in held)
    # Every colour/shape is still seen in training, in other combinations.
    assert {a.colour for a in train} == set(COLOURS)
    assert {a.background for a in train} == set(COLOURS)
    with pytest.raises(ValueError):
        sample_attributes(rng, "nope")


def test_caption_grammar_and_parse_round_trip():
    a = Attributes("large", "red", "circle", "blue")
    assert caption(a) == "a large red circle on a blue background"
    attrs, _ = make_dataset(100, seed=9, split="all")
    for a in attrs:
        assert parse_caption(caption(a)) == {
            "size": a.size,
            "colour": a.colour,
            "shape": a.shape,
            "background": a.background,
        }
        assert set(caption(a).split()) <= set(GRAMMAR_WORDS)


def test_parse_caption_is_tolerant():
    assert parse_caption("A RED square, please!") == {"colour": "red", "shape": "square"}
    assert parse_caption("something on a green background") == {"background": "green"}
    assert parse_caption("") == {}


def test_reader_reads_rendered_images():
    attrs, images = make_dataset(600, seed=123, split="all")
    for a, img in zip(attrs, images):
        r = read_image(img)
        assert (r["colour"], r["shape"], r["background"], r["size"]) == (a.colour, a.shape, a.background, a.size), a


def test_reader_survives_noise_and_blank_images():
    from PIL import Image, ImageFilter

    attrs, images = make_dataset(60, seed=7, split="all")
    rng = np.random.default_rng(0)
    correct = 0
    for a, img in zip(attrs, images):
        noisy = np.clip(img + rng.normal(0, 12, img.shape), 0, 255).astype(np.uint8)
        blurred = Image.fromarray(noisy).filter(ImageFilter.GaussianBlur(0.8))
        r = read_image(blurred)
        correct += (r["colour"], r["shape"], r["background"]) == (a.colour, a.shape, a.background)
    assert correct >= 57
    blank = np.full((64, 64, 3), PALETTE["green"], np.uint8)
    r = read_image(blank)
    assert r["background"] == "green" and r["colour"] is None and r["shape"] is None


def test_clip_tokenizer_makes_one_token_per_grammar_word():
    from playground.shapes.tokenizers import build_clip_tokenizer

    tok = build_clip_tokenizer()
    text = "a large red circle on a blue background"
    ids = tok(text).input_ids
    assert ids[0] == tok.bos_token_id and ids[-1] == tok.eos_token_id
    assert len(ids) == len(text.split()) + 2
    assert tok.decode(ids, skip_special_tokens=True) == text
    for word in GRAMMAR_WORDS:
        assert tok.tokenize(word) == [word + "</w>"]
    # Unknown words and emoji tokenize into pieces, never raise.
    ids = tok(
        "a zebra 🐶 on a blue background!!", padding="max_length", max_length=tok.model_max_length, truncation=True
    ).input_ids
    assert len(ids) == tok.model_max_length


def test_bert_tokenizer_round_trips_captions():
    from playground.shapes.tokenizers import build_bert_tokenizer

    tok = build_bert_tokenizer()
    text = "a small white triangle on a black background"
    ids = tok(text).input_ids
    assert ids[0] == tok.cls_token_id and ids[-1] == tok.sep_token_id
    assert tok.unk_token_id not in ids
    assert tok.decode(ids, skip_special_tokens=True) == text


def test_module_import_does_no_work():
    # Importing must stay cheap: no datasets, models or torch at import time.
    import importlib
    import sys

    for name in ["playground.shapes.world", "playground.shapes.reader", "playground.shapes.tokenizers"]:
        importlib.reload(sys.modules.get(name) or importlib.import_module(name))
    assert world.IMAGE_SIZE == 64
