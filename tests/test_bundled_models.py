"""The shipped shapes models load through the public wrappers (the same code as hub models) and do their job."""

from playground.registry import SHAPES_NOTE
from playground.shapes.reader import read_image
from playground.shapes.world import Attributes, caption, parse_caption, render

SCENES = [
    Attributes("large", "red", "circle", "blue"),
    Attributes("large", "yellow", "triangle", "purple"),
    Attributes("large", "white", "square", "black"),
    Attributes("large", "green", "triangle", "orange"),
]
KEYS = ("colour", "shape", "background")


def test_bundled_text_to_image_draws_what_the_prompt_says(registry):
    t2i = registry.load("text_to_image")  # the default: assets/models/shapes-sd via AutoPipelineForText2Image
    assert type(t2i.pipe).__name__ == "StableDiffusionPipeline" and t2i.native_size == 64
    options = t2i.Options.parse()  # the tab's defaults: 20 steps, guidance 7.5
    read = [read_image(t2i.generate(caption(a), "", options, seed=i).image) for i, a in enumerate(SCENES)]
    right = [all(r[k] == getattr(a, k) for k in KEYS) for r, a in zip(read, SCENES)]
    assert sum(right) >= 3, f"read back {read}"


def test_bundled_captioner_names_colour_shape_and_background(registry):
    captioner = registry.load("captioning")  # assets/models/shapes-captioner, through the BLIP wrapper
    assert type(captioner.model).__name__ == "BlipForConditionalGeneration"
    options = captioner.Options.parse()
    for scene in SCENES:
        text = captioner.caption(render(scene), options, seed=0).text
        assert all(parse_caption(text).get(k) == getattr(scene, k) for k in KEYS), text


def test_bundled_image_models_are_labelled_as_demo_models(registry):
    for task in ("text_to_image", "captioning"):
        spec = registry.spec(task, registry.task(task).default)
        assert spec.bundled and SHAPES_NOTE in spec.label
    assert "choose a hub model for photos" in SHAPES_NOTE
