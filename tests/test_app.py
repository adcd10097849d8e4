"""The whole Blocks app builds, with the named API endpoints and sliders from the declared options."""

import gradio as gr

from playground.registry import Registry
from playground.ui.app import build_app

EXPECTED = {
    "/chat": ["message", "temperature", "seed"],
    "/text_to_image": ["prompt", "guidance_scale", "steps", "seed"],
    "/caption": ["image"],
    "/transcribe": ["audio"],
    "/subtitles": ["audio", "format"],
    "/synthesize": ["text"],
}


def test_app_builds_with_named_endpoints(registry: Registry):
    demo = build_app(registry)
    endpoints = demo.get_api_info()["named_endpoints"]
    for name, params in EXPECTED.items():
        assert name in endpoints, name
        names = [p["parameter_name"] for p in endpoints[name]["parameters"]]
        assert set(params) <= set(names), (name, names)


def test_building_loads_no_model(tmp_path):
    from playground.devices import DeviceChoice

    fresh = Registry(tmp_path, DeviceChoice("cpu"))
    build_app(fresh)
    assert fresh.loaded() == []


def test_sliders_come_from_the_declared_options(registry: Registry):
    demo = build_app(registry)
    sliders = [b for b in demo.blocks.values() if isinstance(b, gr.Slider)]
    from playground.models.chat import ChatOptions

    recommended = registry.spec("chat", registry.task("chat").default).recommended["temperature"]
    assert ChatOptions.model_fields["temperature"].default != recommended  # the bundled model's advice wins
    assert (0.0, 2.0, recommended) in {(s.minimum, s.maximum, s.value) for s in sliders if s.label == "Temperature"}
    assert {s.maximum for s in sliders if s.label == "Guidance scale"} == {20.0}  # the tab and the chains tab
