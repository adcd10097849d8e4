"""The Text to Speech tab: type text, hear it, download the WAV."""

from __future__ import annotations

import time

import gradio as gr

from playground.models.text_to_speech import MAX_TEXT_CHARS
from playground.ui.controls import (api_function, default_overrides, loading_message, model_dropdown, option_controls,
                                    require_text)

TASK = "text_to_speech"
EXAMPLE_TEXTS = [
    "Welcome to the generative AI playground.",
    "The quick brown fox jumps over the lazy dog.",
    "Speech synthesis turns written words into sound, one phoneme at a time.",
]


def build(registry) -> dict:
    """Build the tab and wire its events; returns the main components."""
    options_cls = registry.options_class(TASK)
    with gr.Tab("Text to Speech", id=TASK):
        with gr.Row():
            with gr.Column(scale=2):
                text = gr.Textbox(label="Text", lines=4, value=EXAMPLE_TEXTS[0], elem_id="tts-text")
                run_button = gr.Button("Speak", variant="primary", elem_id="tts-run")
                gr.Examples([[t] for t in EXAMPLE_TEXTS], inputs=[text], label="Example texts")
                model = model_dropdown(registry, TASK)
                controls = option_controls(options_cls, default_overrides(registry, TASK))
                unload = gr.Button("Unload model", size="sm")
            with gr.Column(scale=3):
                speech = gr.Audio(label="Speech", type="numpy", format="wav", interactive=False,
                                  elem_id="tts-audio")
                status = gr.Markdown(elem_id="tts-status")

    def synthesize(text, model, progress=gr.Progress(), **options):
        text = require_text(text, "text", MAX_TEXT_CHARS)
        options = options_cls.parse(**options)
        wrapper = registry.get(TASK, model)
        if not wrapper.loaded:
            progress(0, desc=loading_message(wrapper))
            wrapper.ensure_loaded()
        start = time.perf_counter()
        result = wrapper.synthesize(text, options)
        elapsed = time.perf_counter() - start
        return (result.sample_rate, result.samples), (
            f"{result.seconds:.1f} s of speech in {elapsed:.2f} s (real-time factor {elapsed / result.seconds:.2f}) · "
            f"{wrapper.model_id} on {wrapper.device}")

    names = ["text", "model", *controls]
    gr.on([run_button.click], api_function(synthesize, names), [text, model, *controls.values()],
          [speech, status], api_name="synthesize", concurrency_limit=2, concurrency_id="text_to_speech")
    unload.click(lambda: f"Unloaded: {', '.join(registry.unload(TASK)) or 'nothing was loaded'}.", None, status,
                 api_visibility="private")
    return {"text": text, "speech": speech, "model": model, "status": status, **controls}
