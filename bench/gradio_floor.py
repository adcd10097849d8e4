"""A Gradio app with the playground's three media endpoints' shapes but no model: the HTTP round trip's floor.

    python bench/gradio_floor.py PORT AUDIO_WAV

``/text_to_image`` streams one update and returns a fixed 64×64 picture, ``/synthesize`` returns the given clip,
``/transcribe`` reads the uploaded clip and returns a sentence: the same components, queue, uploads and
downloads as the real endpoints, so ``speed.py`` can tell Gradio's own cost from the playground's.
"""

from __future__ import annotations

import sys

import gradio as gr
import soundfile
from PIL import Image


def build(clip_path: str) -> gr.Blocks:
    samples, rate = soundfile.read(clip_path, dtype="int16")
    picture = Image.new("RGB", (64, 64), (30, 60, 200))

    def text_to_image(prompt, seed, show_noise_steps=False):
        yield gr.skip(), seed, "Denoising", gr.skip()
        yield picture, seed, f"64×64 for {prompt}", None

    def synthesize(text, seed):
        return (rate, samples), seed, f"{len(samples) / rate:.1f} s of speech"

    def transcribe(audio):
        data, _ = soundfile.read(audio, dtype="float32")
        return "the floor", f"{len(data)} samples"

    with gr.Blocks() as demo:
        prompt, text = gr.Textbox(), gr.Textbox()
        seed, seed_used, status = gr.Number(), gr.Number(), gr.Markdown()
        show = gr.Checkbox()
        image = gr.Image(type="pil", format="png")
        strip = gr.Image(type="pil", format="png")
        speech = gr.Audio(type="numpy", format="wav")
        audio = gr.Audio(type="filepath")
        transcript = gr.Textbox()
        button = gr.Button()
        button.click(text_to_image, [prompt, seed, show], [image, seed_used, status, strip], api_name="text_to_image")
        button.click(synthesize, [text, seed], [speech, seed_used, status], api_name="synthesize")
        button.click(transcribe, [audio], [transcript, status], api_name="transcribe")
    return demo


if __name__ == "__main__":
    build(sys.argv[2]).queue().launch(server_port=int(sys.argv[1]), prevent_thread_lock=False, quiet=True)
