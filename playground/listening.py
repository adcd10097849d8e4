"""Listening to a live microphone: chunks gathered until the speaker stops, found by voice-activity detection.

No Gradio here. The speech is found with the Silero VAD that faster-whisper ships (``faster_whisper.vad``);
an utterance ends once speech was heard and then ``silence_s`` of silence followed, or at ``max_s``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SAMPLE_RATE = 16_000
SILENCE_S = 0.6  # the pause that ends a question
MAX_S = 30.0  # a question longer than this is answered as it stands
MIN_SPEECH_S = 0.4  # less speech than this before a pause is a cough or a click, not a question
SPEECH_PAD_MS = 400  # kept around the speech found: a microphone's noise suppression softens first and last words


@dataclass
class Heard:
    """What one ``Utterance.add`` found: whether speech has started, and the whole utterance once it ended."""

    speaking: bool
    seconds: float  # audio gathered so far
    speech: object = None  # 16 kHz mono float32 samples of the utterance, once it ended


@dataclass
class Utterance:
    """Microphone chunks, at any rate and channel count, gathered until the speaker stops."""

    silence_s: float = SILENCE_S
    max_s: float = MAX_S
    chunks: list = field(default_factory=list)
    speaking: bool = False  # speech has started and not yet ended

    @property
    def seconds(self) -> float:
        return sum(len(c) for c in self.chunks) / SAMPLE_RATE

    def add(self, sample_rate: int, samples) -> Heard:
        """Add one chunk; once the speaker has stopped, the utterance is returned and this one starts afresh."""
        import numpy as np

        audio = np.asarray(samples)
        if audio.ndim == 2:  # (samples, channels), as Gradio's microphone sends it
            audio = audio.mean(axis=1)
        if np.issubdtype(np.asarray(samples).dtype, np.integer):
            audio = audio.astype(np.float32) / float(np.iinfo(np.asarray(samples).dtype).max + 1)
        if sample_rate != SAMPLE_RATE and audio.size:
            import librosa

            audio = librosa.resample(audio, orig_sr=sample_rate, target_sr=SAMPLE_RATE)
        self.chunks.append(audio.astype(np.float32))
        whole = np.concatenate(self.chunks)
        spans = speech_spans(whole, self.silence_s)
        if not spans:
            if len(whole) > 10 * SAMPLE_RATE:  # keep the last seconds of a long silence only
                self.chunks = [whole[-2 * SAMPLE_RATE :]]
            self.speaking = False
            return Heard(False, self.seconds)
        ended = len(whole) - spans[-1]["end"] >= self.silence_s * SAMPLE_RATE or len(whole) >= self.max_s * SAMPLE_RATE
        self.speaking = not ended
        if not ended:
            return Heard(True, self.seconds)
        if sum(span["end"] - span["start"] for span in spans) < MIN_SPEECH_S * SAMPLE_RATE:
            self.chunks = []  # a noise, not speech: nothing to answer
            return Heard(False, len(whole) / SAMPLE_RATE)
        pad = int(SPEECH_PAD_MS * SAMPLE_RATE / 1000)
        speech = whole[max(0, spans[0]["start"] - pad) : min(len(whole), spans[-1]["end"] + pad)]
        self.chunks = []
        return Heard(True, len(whole) / SAMPLE_RATE, speech)


def speech_spans(audio, silence_s: float = SILENCE_S) -> list[dict]:
    """Where ``audio`` (16 kHz mono float32) holds speech: ``[{"start": sample, "end": sample}, …]``."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    if len(audio) < SAMPLE_RATE // 4:
        return []
    options = VadOptions(min_silence_duration_ms=int(silence_s * 1000), speech_pad_ms=0)
    return get_speech_timestamps(audio, vad_options=options)
