"""The Text to Image tab: prompt, guidance, steps, seed, size; progress and Stop."""

from __future__ import annotations

import time

import gradio as gr

from playground.jobs import iterate_job
from playground.models.text_to_image import Stopped
from playground.ui.controls import (api_function, default_overrides, loading_message, model_dropdown, option_controls,
                                    recommended_values, require_text, resolve_seed, seed_box)

TASK = "text_to_image"
MAX_PROMPT_CHARS = 2_000
EXAMPLE_PROMPTS = [
    "a large red circle on a blue background",
    "a medium yellow triangle on a purple background",
    "a small white square on a black background",
    "a large green triangle on an orange background",
]


def build(registry) -> dict:
    """Build the tab and wire its events; returns the main components."""
    options_cls = registry.options_class(TASK)
    with gr.Tab("Text to Image", id=TASK):
        with gr.Row():
            with gr.Column(scale=2):
                prompt = gr.Textbox(label="Prompt", lines=2, value=EXAMPLE_PROMPTS[0], elem_id="t2i-prompt")
                negative = gr.Textbox(label="Negative prompt", value="", placeholder="What the picture should not show")
                with gr.Row():
                    generate = gr.Button("Generate", variant="primary", elem_id="t2i-generate")
                    stop = gr.Button("Stop", variant="stop")
                gr.Examples([[p] for p in EXAMPLE_PROMPTS], inputs=[prompt], label="Example prompts")
                model = model_dropdown(registry, TASK)
                controls = option_controls(options_cls, default_overrides(registry, TASK))
                with gr.Row():
                    seed = seed_box()
                    seed_used = gr.Number(label="Seed used", interactive=False, precision=0)
                unload = gr.Button("Unload model", size="sm")
            with gr.Column(scale=3):
                image = gr.Image(label="Result", type="pil", format="png", height=420, interactive=False,
                                 elem_id="t2i-result")
                status = gr.Markdown(elem_id="t2i-status")

    def text_to_image(prompt, negative_prompt, model, seed, progress=gr.Progress(), **options):
        prompt = require_text(prompt, "prompt", MAX_PROMPT_CHARS)
        if negative_prompt:
            require_text(negative_prompt, "negative prompt", MAX_PROMPT_CHARS)
        options = options_cls.parse(**options)
        seed = resolve_seed(seed)
        wrapper = registry.get(TASK, model)
        if not wrapper.loaded:
            progress(0, desc=loading_message(wrapper))
            yield gr.skip(), seed, loading_message(wrapper)
            wrapper.ensure_loaded()
        start = time.perf_counter()

        def work(report, stop):
            return wrapper.generate(prompt, negative_prompt or "", options, seed,
                                    on_step=lambda done, total: report((done, total)), stop=stop)

        try:
            for kind, value in iterate_job(work):
                if kind == "progress":
                    done, total = value
                    progress(done / total, desc=f"Step {done} of {total}")
                    yield gr.skip(), seed, f"Denoising: step {done} of {total}"
                else:
                    result = value
        except Stopped as exc:
            yield gr.skip(), seed, str(exc)
            return
        elapsed = time.perf_counter() - start
        yield result.image, seed, (f"{result.width}×{result.height}, {result.steps_done} steps in {elapsed:.1f} s · "
                                   f"seed {seed} · {wrapper.model_id} on {wrapper.device}")

    names = ["prompt", "negative_prompt", "model", "seed", *controls]
    run = gr.on([generate.click, prompt.submit], api_function(text_to_image, names),
                [prompt, negative, model, seed, *controls.values()], [image, seed_used, status],
                api_name="text_to_image", concurrency_limit=1, concurrency_id="text_to_image")
    stop.click(None, None, None, cancels=[run])
    model.change(recommended_values(registry, TASK, list(controls)), [model], list(controls.values()),
                 api_visibility="private", queue=False)
    unload.click(lambda: f"Unloaded: {', '.join(registry.unload(TASK)) or 'nothing was loaded'}.", None, status,
                 api_visibility="private")
    return {"prompt": prompt, "image": image, "model": model, "status": status, **controls}
