"""Speech on the real bundled Piper voice and Whisper tiny.en."""

import numpy as np
import pytest
import soundfile as sf

from conftest import words
from playground.errors import UserError
from playground.media import load_audio
from playground.models.speech_to_text import SAMPLE_RATE


def test_tts_then_stt_round_trip_gives_back_the_sentence(registry, speech_wav):
    path, sentence = speech_wav
    stt = registry.load("speech_to_text")
    transcript = stt.transcribe(load_audio(path), stt.Options.parse())
    assert words(transcript.text) == words(sentence)
    assert type(stt).__name__ == "FasterWhisperSTT"


def test_speaking_rate_changes_duration(registry):
    tts = registry.load("text_to_speech")
    slow = tts.synthesize("Hello there, how are you today?", tts.Options.parse(rate=0.6))
    fast = tts.synthesize("Hello there, how are you today?", tts.Options.parse(rate=1.8))
    assert slow.seconds > 1.8 * fast.seconds
    assert slow.samples.dtype == np.int16 and np.abs(slow.samples).max() > 1000


@pytest.mark.parametrize("fmt, subtype", [("FLAC", "PCM_16"), ("OGG", "VORBIS"), ("MP3", "MPEG_LAYER_III")])
def test_common_formats_load_as_mono_16k(speech_wav, tmp_path, fmt, subtype):
    audio, rate = sf.read(speech_wav[0])
    stereo = np.stack([audio, audio], axis=1)
    target = tmp_path / f"clip.{fmt.lower()}"
    sf.write(target, stereo, rate, format=fmt, subtype=subtype)
    loaded = load_audio(target, SAMPLE_RATE)
    assert loaded.ndim == 1 and loaded.dtype == np.float32
    assert abs(len(loaded) / SAMPLE_RATE - len(audio) / rate) < 0.15


def test_bad_audio_files_get_plain_errors(speech_wav, tmp_path):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    truncated = tmp_path / "truncated.wav"
    truncated.write_bytes(speech_wav[0].read_bytes()[:30])
    text = tmp_path / "notes.wav"
    text.write_text("this is not audio at all " * 20)
    with pytest.raises(UserError, match="empty"):
        load_audio(empty)
    for bad in (truncated, text):
        with pytest.raises(UserError, match="truncated or not an audio format"):
            load_audio(bad)
    with pytest.raises(UserError, match="No audio was given"):
        load_audio(None)


def test_transformers_asr_backend_runs_a_tiny_model(registry, tiny_wav2vec2, speech_wav):
    stt = registry.load("speech_to_text", str(tiny_wav2vec2))
    assert type(stt).__name__ == "TransformersASR"
    transcript = stt.transcribe(load_audio(speech_wav[0]), stt.Options.parse())
    assert isinstance(transcript.text, str)  # random weights: the text is noise, but the path runs end to end
    stt.unload()
    assert not stt.loaded
