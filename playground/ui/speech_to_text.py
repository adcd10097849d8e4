"""The Speech to Text tab: record or upload audio and read the transcript."""

from __future__ import annotations

import time

import gradio as gr

from playground.bundled import ASSETS
from playground.media import load_audio
from playground.models.speech_to_text import SAMPLE_RATE
from playground.ui.controls import api_function, default_overrides, loading_message, model_dropdown, option_controls

TASK = "speech_to_text"


def example_clips() -> list[str]:
    folder = ASSETS / "examples" / "audio"
    return sorted(str(p) for p in folder.glob("*.wav")) if folder.is_dir() else []


def build(registry) -> dict:
    """Build the tab and wire its events; returns the main components."""
    options_cls = registry.options_class(TASK)
    with gr.Tab("Speech to Text", id=TASK):
        with gr.Row():
            with gr.Column(scale=2):
                audio = gr.Audio(label="Speech", sources=["upload", "microphone"], type="filepath",
                                 elem_id="stt-audio")
                run_button = gr.Button("Transcribe", variant="primary", elem_id="stt-run")
                if example_clips():
                    gr.Examples([[p] for p in example_clips()], inputs=[audio], label="Example clips")
                model = model_dropdown(registry, TASK)
                controls = option_controls(options_cls, default_overrides(registry, TASK))
                unload = gr.Button("Unload model", size="sm")
            with gr.Column(scale=3):
                transcript = gr.Textbox(label="Transcript", lines=6, interactive=False, elem_id="stt-transcript")
                status = gr.Markdown(elem_id="stt-status")

    def transcribe(audio, model, progress=gr.Progress(), **options):
        samples = load_audio(audio, SAMPLE_RATE)
        options = options_cls.parse(**options)
        wrapper = registry.get(TASK, model)
        if not wrapper.loaded:
            progress(0, desc=loading_message(wrapper))
            wrapper.ensure_loaded()
        start = time.perf_counter()
        result = wrapper.transcribe(samples, options)
        elapsed = time.perf_counter() - start
        seconds = len(samples) / SAMPLE_RATE
        text = result.text or "(no speech was recognised)"
        return text, (f"{seconds:.1f} s of audio in {elapsed:.2f} s (real-time factor {elapsed / seconds:.2f}) · "
                      f"{wrapper.model_id} on {wrapper.device}")

    names = ["audio", "model", *controls]
    gr.on([run_button.click], api_function(transcribe, names), [audio, model, *controls.values()],
          [transcript, status], api_name="transcribe", concurrency_limit=2, concurrency_id="speech_to_text")
    unload.click(lambda: f"Unloaded: {', '.join(registry.unload(TASK)) or 'nothing was loaded'}.", None, status,
                 api_visibility="private")
    return {"audio": audio, "transcript": transcript, "model": model, "status": status, **controls}
