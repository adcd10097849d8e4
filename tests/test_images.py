"""Text to image and captioning through the public wrappers, on tiny models built from configs."""

import io

import numpy as np
import pytest
from PIL import Image

from playground.errors import UserError
from playground.media import load_image


@pytest.fixture(scope="module")
def t2i(registry, tiny_sd):
    return registry.load("text_to_image", str(tiny_sd))


def png_bytes(image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_same_seed_gives_byte_identical_png(t2i):
    options = t2i.Options.parse(steps=3)
    a = t2i.generate("a red circle", "", options, seed=11)
    b = t2i.generate("a red circle", "", options, seed=11)
    c = t2i.generate("a red circle", "", options, seed=12)
    assert png_bytes(a.image) == png_bytes(b.image)
    assert png_bytes(a.image) != png_bytes(c.image)
    assert a.image.size == (t2i.native_size, t2i.native_size)


def test_progress_previews_and_stop(t2i):
    import threading

    from playground.models.text_to_image import Stopped

    seen = []
    result = t2i.generate(
        "a blue square",
        "",
        t2i.Options.parse(steps=4),
        seed=1,
        on_step=lambda done, total: seen.append((done, total)),
        preview_every=1,
    )
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert len(result.previews) == 3

    stop = threading.Event()
    with pytest.raises(Stopped, match="Stopped after 2 of 10 steps"):
        t2i.generate(
            "a blue square",
            "",
            t2i.Options.parse(steps=10),
            seed=1,
            on_step=lambda done, total: done == 2 and stop.set(),
            stop=stop,
        )


def test_long_prompts_at_once_are_truncated_and_match_the_idle_pictures(t2i):
    """A prompt over the text encoder's length, from eight threads at once, gives each its idle picture.

    The pipeline measures a long prompt with truncation off; with one tokenizer shared by concurrent calls,
    another call could encode its prompt in that moment and hand the encoder too many tokens (a ValueError).
    """
    from concurrent.futures import ThreadPoolExecutor

    prompts = [" ".join([f"a red circle number {i} on a blue background"] * 12) for i in range(4)]
    assert len(t2i.pipe.tokenizer(prompts[0]).input_ids) > t2i.pipe.tokenizer.model_max_length
    options = t2i.Options.parse(steps=1)
    idle = {i: png_bytes(t2i.generate(prompts[i], "", options, seed=i).image) for i in range(4)}

    def draw(k: int) -> tuple[int, bytes]:
        i = k % 4
        return i, png_bytes(t2i.generate(prompts[i], "", options, seed=i).image)

    with ThreadPoolExecutor(8) as pool:
        drawn = list(pool.map(draw, range(96)))
    assert all(picture == idle[i] for i, picture in drawn)


def test_size_must_be_a_multiple_of_eight(t2i):
    with pytest.raises(UserError, match="Width must be a multiple of 8, got 60"):
        t2i.generate("x", "", t2i.Options.parse(width=60, steps=1), seed=0)


def test_captioner_loads_like_blip_and_reports_token_confidence(registry, tiny_blip):
    captioner = registry.load("captioning", str(tiny_blip))
    result = captioner.caption(Image.new("RGB", (64, 48), (220, 40, 40)), captioner.Options.parse(max_new_tokens=5))
    assert isinstance(result.text, str)
    assert all(0.0 < p <= 1.0 for _, p in result.tokens)


def save(image, path, **kw):
    image.save(path, **kw)
    return path


def test_image_modes_are_converted_to_rgb(tmp_path):
    cases = {
        "rgba.png": Image.new("RGBA", (8, 8), (255, 0, 0, 0)),
        "grey.png": Image.new("L", (8, 8), 128),
        "cmyk.jpg": Image.new("CMYK", (8, 8), (0, 255, 255, 0)),
        "tiny.png": Image.new("RGB", (1, 1), (1, 2, 3)),
    }
    for name, image in cases.items():
        loaded = load_image(save(image, tmp_path / name))
        assert loaded.mode == "RGB", name
    assert load_image(tmp_path / "rgba.png").getpixel((0, 0)) == (255, 255, 255)  # transparent → white


def test_bad_images_get_plain_errors(tmp_path):
    good = save(Image.fromarray(np.zeros((32, 32, 3), np.uint8)), tmp_path / "good.png")
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(good.read_bytes()[:40])
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    for bad in (truncated, text):
        with pytest.raises(UserError, match="truncated or not an image"):
            load_image(bad)
    with pytest.raises(UserError, match="No image"):
        load_image(None)
