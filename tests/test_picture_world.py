"""The picture world (issue 18): exact renders, captions, the prompt parser and the pixel reader."""

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from playground import world
from playground.world import (
    EVAL_SEED,
    HELD_OUT_PAIRS,
    OBJECT_NAMES,
    OBJECTS,
    POSITION_NAMES,
    SCENE_NAMES,
    SIZE_NAMES,
    Picture,
    background,
    caption,
    make_dataset,
    parse_caption,
    render,
    sample_picture,
    sprite,
    sprite_box,
)

try:
    FONT = world.font_path()
except FileNotFoundError as error:  # make test installs it; a bare pytest run may not have it
    pytest.skip(str(error), allow_module_level=True)

SKY, GRASS, SEA, SAND = (135, 206, 235), (34, 139, 34), (30, 144, 255), (238, 214, 175)
SNOW_SKY, SNOW, NIGHT = (220, 230, 240), (250, 250, 250), (25, 25, 80)


def px(picture, x, y):
    return render(picture).getpixel((x, y))


@pytest.mark.parametrize(
    "scene, rows",
    [
        ("on the grass", [(0, SKY), (79, SKY), (80, GRASS), (127, GRASS)]),
        ("on the beach", [(0, SKY), (71, SKY), (72, SEA), (87, SEA), (88, SAND), (127, SAND)]),
        ("in the snow", [(0, SNOW_SKY), (79, SNOW_SKY), (80, SNOW), (127, SNOW)]),
    ],
)
def test_scene_bands_are_exact(scene, rows):
    # A small sprite in the middle spans at most x 48..79, so columns 2 and 125 show the bare bands.
    picture = Picture("cat", scene, "small", "in the middle")
    for y, rgb in rows:
        assert px(picture, 2, y) == rgb and px(picture, 125, y) == rgb, (scene, y)


@pytest.mark.parametrize(
    "scene, colour, stars, last_row", [("at night", NIGHT, 12, 60), ("in space", (0, 0, 0), 30, 127)]
)
def test_stars_are_seeded_white_pixels_in_their_rows(scene, colour, stars, last_row):
    arr = background(scene, star_seed=7)
    white = np.all(arr == 255, axis=-1)
    ys, xs = np.nonzero(white)
    rng = np.random.default_rng(7)
    want_x = rng.integers(0, 128, stars)
    want_y = rng.integers(0, last_row + 1, stars)
    assert set(zip(ys.tolist(), xs.tolist())) == set(zip(want_y.tolist(), want_x.tolist()))
    assert ys.max() <= last_row
    assert np.all(arr[~white] == colour)
    assert np.array_equal(background(scene, 7), arr) and not np.array_equal(background(scene, 8), arr)


def independent_render(picture: Picture) -> Image.Image:
    """The issue's spec, written out again from scratch: the module must agree pixel for pixel."""
    font = ImageFont.truetype(str(FONT), 109)
    canvas = Image.new("RGBA", (300, 300), (0, 0, 0, 0))
    ImageDraw.Draw(canvas).text((10, 10), OBJECTS[picture.object], font=font, embedded_color=True)
    glyph = canvas.crop(canvas.getchannel("A").getbbox())
    side = {"small": 32, "big": 64}[picture.size]
    scale = side / max(glyph.size)
    sp = glyph.resize((round(glyph.width * scale), round(glyph.height * scale)), Image.Resampling.LANCZOS)
    cx = {"on the left": 32, "in the middle": 64, "on the right": 96}[picture.position]
    scene = Image.fromarray(background(picture.scene, picture.star_seed)).convert("RGBA")
    layer = Image.new("RGBA", scene.size, (0, 0, 0, 0))
    layer.paste(sp, (cx - sp.width // 2, 100 - sp.height))
    return Image.alpha_composite(scene, layer).convert("RGB")


@pytest.mark.parametrize(
    "picture",
    [
        Picture("dog", "on the beach", "big", "on the left"),
        Picture("rocket", "in space", "small", "on the right", 3),
        Picture("boat", "at night", "small", "on the right", 5),
        Picture("umbrella", "in the snow", "big", "in the middle"),
        Picture("car", "on the grass", "small", "on the left"),
    ],
)
def test_render_matches_the_spec_pixel_for_pixel(picture):
    img = render(picture)
    assert img.size == (128, 128) and img.mode == "RGB"
    assert np.array_equal(np.asarray(img), np.asarray(independent_render(picture)))


@pytest.mark.parametrize("name", OBJECT_NAMES)
def test_sprites_fit_their_box_and_sit_on_row_100(name):
    for size, side in (("small", 32), ("big", 64)):
        sp = sprite(name, size)
        assert max(sp.size) == side and sp.getchannel("A").getbbox() is not None
        for position, cx in zip(POSITION_NAMES, (32, 64, 96)):
            x0, y0, x1, y1 = sprite_box(name, size, position)
            assert (x1 - x0, y1 - y0) == sp.size and y1 == 100 and x0 == cx - sp.width // 2
            # Only pixels inside the box differ from the bare scene.
            changed = np.any(
                np.asarray(render(Picture(name, "in space", size, position))) != background("in space"), axis=-1
            )
            ys, xs = np.nonzero(changed)
            assert xs.min() >= x0 and xs.max() < x1 and ys.min() >= y0 and ys.max() < y1


def test_captions_follow_the_grammar_and_parse_back():
    p = Picture("dog", "on the beach", "big", "on the left")
    assert caption(p) == "a big dog on the beach, on the left"
    assert caption(p, size=False) == "a dog on the beach, on the left"
    assert caption(p, position=False) == "a big dog on the beach"
    assert caption(p, size=False, position=False) == "a dog on the beach"
    assert caption(p, scene=False) == "a big dog, on the left"
    for o in OBJECT_NAMES:
        for s in SCENE_NAMES:
            for z in SIZE_NAMES:
                for q in POSITION_NAMES:
                    p = Picture(o, s, z, q)
                    assert parse_caption(caption(p)) == {"object": o, "scene": s, "size": z, "position": q}


def test_prompt_parser_ignores_words_outside_the_world():
    assert parse_caption("Please draw a cute cat 🐱 on the beach!!") == {"object": "cat", "scene": "on the beach"}
    assert parse_caption("a small boat at night, on the right") == {
        "object": "boat",
        "scene": "at night",
        "size": "small",
        "position": "on the right",
    }
    assert parse_caption("a rocket in space") == {"object": "rocket", "scene": "in space"}
    assert parse_caption("zebra photo 4k") == {}


def test_held_out_pairs_never_reach_training_data():
    assert len(HELD_OUT_PAIRS) == 10 and len({o for o, _ in HELD_OUT_PAIRS}) == 10
    assert all(sum(s == scene for _, s in HELD_OUT_PAIRS) == 2 for scene in SCENE_NAMES)
    pictures, images = make_dataset(300, seed=0, split="train")
    assert images.shape == (300, 128, 128, 3) and images.dtype == np.uint8
    assert not any(p.pair in HELD_OUT_PAIRS for p in pictures)
    assert {p.object for p in pictures} == set(OBJECT_NAMES) and {p.scene for p in pictures} == set(SCENE_NAMES)
    rng = np.random.default_rng(EVAL_SEED)
    assert all(sample_picture(rng, "heldout").pair in HELD_OUT_PAIRS for _ in range(50))
    with pytest.raises(ValueError, match="unknown split 'test'"):
        sample_picture(rng, "test")


def test_reader_reads_every_held_out_render_right():
    from playground.eval.picture_reader import read_image

    rng = np.random.default_rng(EVAL_SEED)
    pictures = [sample_picture(rng, "heldout") for _ in range(120)]
    wrong = [
        (p, r)
        for p in pictures
        if (r := read_image(render(p))) != {k: getattr(p, k) for k in ("object", "scene", "size", "position")}
    ]
    assert not wrong, wrong[:3]


def test_two_object_pictures_put_the_first_left_and_the_second_right_and_read_back():
    from playground.eval.picture_reader import read_duo

    duo = world.Picture("cat", "on the grass", size="small", second="dog", second_size="big", star_seed=1)
    assert world.caption(duo) == "a cat and a dog on the grass"
    assert parse_caption(world.caption(duo)) == {"object": "cat", "second": "dog", "scene": "on the grass"}
    assert parse_caption("a cat and a cat") == {"object": "cat"}
    drawn = np.asarray(world.render(duo))
    alone_left = np.asarray(world.place(world.background("on the grass", 1), "cat", "small", "on the left"))
    assert (drawn[:, :64] == alone_left[:, :64]).all()  # the cat's half is the cat alone on the left
    assert world.sprite_box("dog", "big", "on the right")[0] >= 64  # the big dog stays in its own half
    rng = np.random.default_rng(EVAL_SEED)
    held = [world.sample_duo(rng, "heldout") for _ in range(120)]
    assert all(p.duo in world.HELD_OUT_DUOS for p in held)
    wrong = [
        (p, r)
        for p in held
        if (r := read_duo(world.render(p))) != {"object": p.object, "second": p.second, "scene": p.scene}
    ]
    assert not wrong, wrong[:3]
    assert ("cat", "dog") in world.HELD_OUT_DUOS and len(world.HELD_OUT_DUOS) == 40
    assert all(a != b for a, b in world.HELD_OUT_DUOS)
    trained, images = make_dataset(200, seed=1, split="train", duos=True)
    assert not any(p.duo in world.HELD_OUT_DUOS for p in trained) and images.shape == (200, 128, 128, 3)


def test_reader_tells_every_object_apart_at_both_sizes_in_every_scene():
    from playground.eval.picture_reader import read_image

    for o in OBJECT_NAMES:
        for s in SCENE_NAMES:
            for z in SIZE_NAMES:
                p = Picture(o, s, z, POSITION_NAMES[(OBJECT_NAMES.index(o) + SCENE_NAMES.index(s)) % 3], 11)
                assert read_image(render(p))["object"] == o, p


def test_reader_finds_no_object_in_a_bare_scene():
    from playground.eval.picture_reader import read_image

    for s in SCENE_NAMES:
        assert read_image(background(s, 3)) == {"object": None, "scene": s, "size": None, "position": None}


def test_missing_font_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(world, "FONT_PATHS", ("/nonexistent/NotoColorEmoji.ttf",))
    monkeypatch.delenv("NOTO_COLOR_EMOJI", raising=False)
    with pytest.raises(FileNotFoundError, match="apt-get install fonts-noto-color-emoji"):
        world.font_path()


def test_world_and_reader_import_without_gradio_or_torch():
    code = (
        "import sys, playground.world, playground.eval.picture_reader; "
        "print(sorted(m for m in ('gradio', 'torch') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_eval_table_marks_each_bar(capsys):
    from playground.eval.pictures import BARS, print_table

    res = {
        key: (bar if higher else bar + 1) for key, (bar, higher) in BARS.items()
    }  # the bars met, the ceilings missed
    res.update(
        t2i_guidance_1=0.5,
        t2i_all=0.5,
        t2i_short_prompts=0.5,
        t2i_seen_pairs=0.5,
        t2i_duo_scene=0.5,
        sec_per_caption=0.01,
        sd_mb=50.0,
        captioner_mb=11.0,
    )
    print_table(res, n=60, steps=20, guidance=7.5, threads=2)
    out = capsys.readouterr().out
    assert out.count("PASS") == sum(higher for _, higher in BARS.values())
    assert out.count("FAIL") == sum(not higher for _, higher in BARS.values())
    assert "50.0% (lower by 35.0%: guidance matters)" in out and "61.0 (sd 50.0 + captioner 11.0)" in out
    print_table({**res, "t2i_guidance_1": 0.84}, n=60, steps=20, guidance=7.5, threads=2)  # 1 point: not "visibly"
    assert "84.0% (only 1.0% lower: guidance barely matters)" in capsys.readouterr().out
    # --captioner-only: the text-to-image rows say they were not measured.
    print_table({k: res[k] for k in ("captioner_object_scene", "captioner_all", "sec_per_caption")}, 60, 20, 7.5, 2)
    out = capsys.readouterr().out
    assert out.count("not measured") == 12 and out.count("PASS") == 2
