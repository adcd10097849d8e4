"""Text to speech: Piper voices (ONNX) run with piper-tts."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from playground.errors import UserError
from playground.models.base import ModelWrapper, load_error
from playground.options import Field, Options

MAX_TEXT_CHARS = 5_000


@dataclass
class Speech:
    """Synthesized speech: 16-bit samples and their rate."""

    sample_rate: int
    samples: "object"  # np.ndarray of int16

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.sample_rate


class SpeechOptions(Options):
    rate: float = Field(1.0, ge=0.5, le=2.0, title="Speaking rate",
                        description="1 is the voice's natural pace; 2 is twice as fast.",
                        json_schema_extra={"step": 0.05})
    expressiveness: float = Field(0.667, ge=0.0, le=1.5, title="Expressiveness",
                                  description="How much the voice varies (Piper's noise scale, the TTS counterpart of temperature).",
                                  json_schema_extra={"step": 0.01})
    rhythm_variation: float = Field(0.8, ge=0.0, le=1.5, title="Rhythm variation",
                                    description="How much the length of each sound varies (Piper's noise width).",
                                    json_schema_extra={"step": 0.01})


class PiperTTS(ModelWrapper):
    """A Piper voice: an ``.onnx`` file with its ``.onnx.json`` config beside it."""

    task = "text_to_speech"
    backend = "piper"
    Options = SpeechOptions

    @classmethod
    def claims(cls, source: str) -> bool:
        return source.endswith(".onnx")

    def load(self) -> None:
        from piper import PiperVoice

        model = Path(self.source)
        config = model.with_name(model.name + ".json")
        if not model.is_file() or not config.is_file():
            raise UserError(f"A Piper voice needs both {model.name} and {config.name}; one is missing.")
        try:
            json.loads(config.read_text())
            self.voice = PiperVoice.load(model, config_path=config, use_cuda=self.device.type == "cuda")
        except Exception as exc:
            raise load_error(exc, self.model_id) from exc

    def _release(self) -> None:
        self.voice = None

    def synthesize(self, text: str, options: SpeechOptions) -> Speech:
        """Speak ``text``; sentences are synthesized one by one and joined."""
        import numpy as np
        from piper import SynthesisConfig

        self.ensure_loaded()
        config = SynthesisConfig(
            length_scale=self.voice.config.length_scale / options.rate,
            noise_scale=options.expressiveness,
            noise_w_scale=options.rhythm_variation,
        )
        chunks = [c.audio_int16_array for c in self.voice.synthesize(text, syn_config=config)]
        if not chunks:
            raise UserError("The text has nothing that can be spoken; type some words.")
        return Speech(self.voice.config.sample_rate, np.concatenate(chunks))


BACKENDS = [PiperTTS]
