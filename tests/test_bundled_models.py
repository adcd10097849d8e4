"""The shipped image models load through the public wrappers (the same code as hub models) and do their job:
the picture world's models (the defaults) and the shapes world's (the second bundled choice)."""

from playground import world
from playground.bundled import PICTURES_NOTE, SHAPES_NOTE
from playground.eval.picture_reader import read_duo
from playground.eval.picture_reader import read_image as read_picture
from playground.shapes.reader import read_image as read_shapes
from playground.shapes.world import Attributes, caption, parse_caption, render

SCENES = [
    Attributes("large", "red", "circle", "blue"),
    Attributes("large", "yellow", "triangle", "purple"),
    Attributes("large", "white", "square", "black"),
    Attributes("large", "green", "triangle", "orange"),
]
KEYS = ("colour", "shape", "background")
# one (object, scene) pair per scene that training never saw (world.HELD_OUT_PAIRS), with and without size and side
PICTURES = [
    world.Picture("cat", "in the snow", "big", "in the middle", star_seed=1),
    world.Picture("dog", "in space", "big", "on the left", star_seed=2),
    world.Picture("rocket", "on the grass", "big", "on the right", star_seed=3),
    world.Picture("boat", "at night", "big", "in the middle", star_seed=4),
    world.Picture("house", "on the beach", "big", "on the left", star_seed=5),
]


def test_bundled_text_to_image_draws_the_object_and_scene_asked_for(registry):
    t2i = registry.load("text_to_image")  # the default: assets/models/picture-sd via AutoPipelineForText2Image
    assert t2i.model_id == "bundled/picture-sd"
    assert type(t2i.pipe).__name__ == "StableDiffusionPipeline" and t2i.native_size == 128
    options = t2i.Options.parse()  # the tab's defaults: 20 steps, guidance 7.5
    prompts = [world.caption(p, size=False, position=False) for p in PICTURES]  # "a cat in the snow"
    read = [read_picture(t2i.generate(text, "", options, seed=i).image) for i, text in enumerate(prompts)]
    right = [(r["object"], r["scene"]) == p.pair for r, p in zip(read, PICTURES)]
    assert sum(right) >= 4, f"asked for {prompts}, read back {read}"


def test_bundled_text_to_image_draws_two_objects_it_never_saw_together(registry):
    """The stretch goal: "a cat and a dog on the grass" puts the first on the left and the second on the right;
    every pair here is one of world.HELD_OUT_DUOS, which training never drew together."""
    t2i = registry.load("text_to_image")
    duos = [
        ("cat", "dog", "on the grass"),
        ("dog", "house", "on the beach"),
        ("mushroom", "bicycle", "in the snow"),
        ("rocket", "umbrella", "in space"),
        ("flower", "pizza", "at night"),
    ]
    assert all((a, b) in world.HELD_OUT_DUOS for a, b, _ in duos)
    options = t2i.Options.parse()
    prompts = [f"a {a} and a {b} {scene}" for a, b, scene in duos]
    read = [read_duo(t2i.generate(text, "", options, seed=i).image) for i, text in enumerate(prompts)]
    right = [(r["object"], r["second"], r["scene"]) == duo for r, duo in zip(read, duos)]
    assert sum(right) >= 4, f"asked for {prompts}, read back {read}"


def test_bundled_captioner_names_the_object_and_scene_of_an_unseen_picture(registry):
    captioner = registry.load("captioning")  # assets/models/picture-captioner, through the BLIP wrapper
    assert captioner.model_id == "bundled/picture-captioner"
    assert type(captioner.model).__name__ == "BlipForConditionalGeneration"
    options = captioner.Options.parse()
    told = [world.parse_caption(captioner.caption(world.render(p), options, seed=0).text) for p in PICTURES]
    right = [(t.get("object"), t.get("scene")) == p.pair for t, p in zip(told, PICTURES)]
    assert sum(right) >= 4, f"captioned {told}"


def test_a_caption_cut_by_the_token_limit_says_so(registry, tmp_path):
    from playground.run import run_task

    path = tmp_path / "cat.png"
    world.render(PICTURES[0]).save(path)
    whole = run_task(registry, "captioning", {"image": str(path)}, seed=0)
    assert not whole.result.cut and "cut off" not in whole.status, whole.status
    assert world.parse_caption(whole.output)["object"] == "cat"
    short = run_task(registry, "captioning", {"image": str(path)}, options={"max_new_tokens": 3}, seed=0)
    assert short.result.cut and len(short.output.split()) <= 3
    assert "cut off at the 3-token limit" in short.status, short.status


def test_shapes_text_to_image_draws_what_the_prompt_says(registry):
    t2i = registry.load("text_to_image", "bundled/shapes-sd")  # the second bundled choice
    assert type(t2i.pipe).__name__ == "StableDiffusionPipeline" and t2i.native_size == 64
    options = t2i.Options.parse()
    read = [read_shapes(t2i.generate(caption(a), "", options, seed=i).image) for i, a in enumerate(SCENES)]
    right = [all(r[k] == getattr(a, k) for k in KEYS) for r, a in zip(read, SCENES)]
    assert sum(right) >= 3, f"read back {read}"


def test_shapes_captioner_names_colour_shape_and_background(registry):
    captioner = registry.load("captioning", "bundled/shapes-captioner")
    assert type(captioner.model).__name__ == "BlipForConditionalGeneration"
    options = captioner.Options.parse()
    for scene in SCENES:
        text = captioner.caption(render(scene), options, seed=0).text
        assert all(parse_caption(text).get(k) == getattr(scene, k) for k in KEYS), text


def test_bundled_image_models_are_labelled_as_demo_models(registry):
    for task in ("text_to_image", "captioning"):
        default, shapes = registry.task(task).models[:2]
        assert default.id == registry.task(task).default and default.bundled and PICTURES_NOTE in default.label
        assert shapes.id.startswith("bundled/shapes-") and shapes.bundled and SHAPES_NOTE in shapes.label
    assert "choose a hub model for photos" in PICTURES_NOTE and "choose a hub model for photos" in SHAPES_NOTE
