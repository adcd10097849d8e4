"""The Image Captioning tab: upload an image, read its caption and each word's confidence."""

from __future__ import annotations

import time

import gradio as gr

from playground.bundled import ASSETS
from playground.media import load_image
from playground.ui.components import ImageInput
from playground.ui.controls import (api_function, default_overrides, loading_message, model_dropdown, option_controls,
                                    resolve_seed, seed_box)

TASK = "captioning"


def example_images() -> list[str]:
    folder = ASSETS / "examples" / "images"
    return sorted(str(p) for p in folder.glob("*.png")) if folder.is_dir() else []


def build(registry) -> dict:
    """Build the tab and wire its events; returns the main components."""
    options_cls = registry.options_class(TASK)
    with gr.Tab("Image Captioning", id=TASK):
        with gr.Row():
            with gr.Column(scale=2):
                image = ImageInput(label="Image", type="filepath", sources=["upload", "clipboard"], height=300,
                                 elem_id="caption-image")
                run_button = gr.Button("Caption", variant="primary", elem_id="caption-run")
                if example_images():
                    gr.Examples([[p] for p in example_images()], inputs=[image], label="Example images")
                model = model_dropdown(registry, TASK)
                controls = option_controls(options_cls, default_overrides(registry, TASK))
                with gr.Row():
                    seed = seed_box()
                    seed_used = gr.Number(label="Seed used", interactive=False, precision=0)
                unload = gr.Button("Unload model", size="sm")
            with gr.Column(scale=3):
                caption = gr.Textbox(label="Caption", interactive=False, elem_id="caption-text")
                confidence = gr.HighlightedText(label="How sure the model was of each word",
                                                show_legend=False, color_map=None)
                status = gr.Markdown(elem_id="caption-status")

    def caption_image(image, model, seed, progress=gr.Progress(), **options):
        picture = load_image(image)
        options = options_cls.parse(**options)
        seed = resolve_seed(seed)
        wrapper = registry.get(TASK, model)
        if not wrapper.loaded:
            progress(0, desc=loading_message(wrapper))
            wrapper.ensure_loaded()
        start = time.perf_counter()
        result = wrapper.caption(picture, options, seed)
        elapsed = time.perf_counter() - start
        words = [(token, f"{p:.0%}") for token, p in result.tokens]
        return result.text or "(the model produced no caption)", words, seed, (f"Captioned a {picture.width}×{picture.height} image in {elapsed:.2f} s · "
                                          f"{wrapper.model_id} on {wrapper.device}")

    names = ["image", "model", "seed", *controls]
    gr.on([run_button.click], api_function(caption_image, names), [image, model, seed, *controls.values()],
          [caption, confidence, seed_used, status], api_name="caption",
          concurrency_limit=2, concurrency_id="captioning")
    unload.click(lambda: f"Unloaded: {', '.join(registry.unload(TASK)) or 'nothing was loaded'}.", None, status,
                 api_visibility="private")
    return {"image": image, "caption": caption, "model": model, "status": status, **controls}
