"""The transformers speech backends (VITS/MMS text to speech, Whisper and wav2vec2 speech recognition) on tiny
models built from configs, and how the text-to-speech backends split model names between Piper, Coqui and
transformers."""

import importlib.util
import json
import string

import numpy as np
import pytest

from playground.errors import UserError
from playground.media import load_audio

SENTENCE = "Hello there. How are you today?"


@pytest.fixture(scope="module")
def tiny_vits(tiny_dir):
    from tiny_models import build_tiny_vits

    return build_tiny_vits(tiny_dir / "vits")


@pytest.fixture(scope="module")
def tiny_whisper(tiny_dir):
    from tiny_models import build_tiny_whisper

    return build_tiny_whisper(tiny_dir / "whisper")


@pytest.fixture(scope="module")
def vits(registry, tiny_vits):
    return registry.load("text_to_speech", str(tiny_vits))


def test_vits_voice_loads_through_the_transformers_backend_and_speaks(vits):
    assert type(vits).__name__ == "TransformersTTS"
    speech = vits.synthesize(SENTENCE, vits.Options.parse(), seed=3)
    assert speech.sample_rate == 16_000  # the config's sampling_rate, as for facebook/mms-tts-eng
    assert speech.samples.dtype == np.int16 and speech.samples.ndim == 1
    assert speech.seconds > 0.05 and np.abs(speech.samples).max() > 1000


def test_vits_same_seed_same_audio_and_another_seed_differs(vits):
    options = vits.Options.parse(expressiveness=1.0)
    first = vits.synthesize(SENTENCE, options, seed=11).samples
    again = vits.synthesize(SENTENCE, options, seed=11).samples
    other = vits.synthesize(SENTENCE, options, seed=12).samples
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_vits_without_noise_the_seed_no_longer_matters(vits):
    options = vits.Options.parse(expressiveness=0.0, rhythm_variation=0.0)
    assert np.array_equal(
        vits.synthesize(SENTENCE, options, seed=1).samples, vits.synthesize(SENTENCE, options, seed=2).samples
    )


def test_vits_seeding_leaves_torch_global_generator_as_it_was(vits):
    import torch

    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    vits.synthesize(SENTENCE, vits.Options.parse(), seed=5)
    assert torch.equal(torch.rand(3), expected)


def test_vits_speaking_rate_changes_duration(vits):
    slow = vits.synthesize(SENTENCE, vits.Options.parse(rate=0.5), seed=1)
    fast = vits.synthesize(SENTENCE, vits.Options.parse(rate=2.0), seed=1)
    assert slow.seconds > 1.5 * fast.seconds


def test_vits_text_outside_its_alphabet_gets_a_sentence(vits):
    with pytest.raises(UserError, match="nothing that can be spoken"):
        vits.synthesize("### ¶¶¶", vits.Options.parse())


@pytest.mark.parametrize("model", ["", "vits"])  # the bundled Piper voice, and the transformers VITS voice
def test_voices_that_cannot_clone_refuse_a_reference_clip(registry, tiny_vits, speech_wav, model):
    tts = registry.get("text_to_speech", str(tiny_vits) if model else None)
    with pytest.raises(UserError, match="cannot clone a voice; remove the reference clip"):
        tts.synthesize(SENTENCE, tts.Options.parse(), seed=0, reference_audio=str(speech_wav[0]))


def test_a_transformers_model_that_is_not_a_voice_is_named(registry, tiny_wav2vec2):
    tts = registry.get("text_to_speech", str(tiny_wav2vec2))
    assert type(tts).__name__ == "TransformersTTS"
    with pytest.raises(UserError, match=r"is a wav2vec2 model; the transformers speech backend speaks with VITS"):
        tts.ensure_loaded()


@pytest.mark.parametrize(
    "model_id, backend",
    [
        ("bundled/piper-en_US-joe-medium", "PiperTTS"),
        ("facebook/mms-tts-eng", "TransformersTTS"),
        ("suno/bark-small", "TransformersTTS"),
        ("tts_models/en/ljspeech/vits", "CoquiTTS"),
        ("tts_models/multilingual/multi-dataset/xtts_v2", "CoquiTTS"),
    ],
)
def test_catalogue_voices_go_to_their_backend(registry, model_id, backend):
    assert model_id in [m.id for m in registry.task("text_to_speech").models]
    assert type(registry.get("text_to_speech", model_id)).__name__ == backend  # get() loads nothing


def test_a_local_folder_with_coqui_config_goes_to_coqui(registry, tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model": "vits", "audio": {"sample_rate": 22050}}))
    (tmp_path / "model.pth").write_bytes(b"")
    assert type(registry.get("text_to_speech", str(tmp_path))).__name__ == "CoquiTTS"


@pytest.mark.skipif(importlib.util.find_spec("TTS") is not None, reason="Coqui TTS is installed in this environment")
def test_coqui_without_its_environment_says_how_to_get_it(registry, tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model": "vits", "audio": {"sample_rate": 22050}}))
    for model_id in ("tts_models/en/ljspeech/vits", str(tmp_path)):
        tts = registry.get("text_to_speech", model_id)
        with pytest.raises(UserError, match=r"Coqui TTS is not installed in this environment; run `make run-coqui`"):
            tts.ensure_loaded()
        assert not tts.loaded


def test_whisper_loads_through_the_asr_pipeline_and_decodes_deterministically(registry, tiny_whisper, speech_wav):
    stt = registry.load("speech_to_text", str(tiny_whisper))
    assert type(stt).__name__ == "TransformersASR"
    audio = load_audio(speech_wav[0])
    greedy = stt.transcribe(audio, stt.Options.parse(beam_size=1))
    beams = stt.transcribe(audio, stt.Options.parse(beam_size=3))
    assert isinstance(greedy.text, str) and greedy.text  # random weights: noise, but decoded by the real path
    assert stt.transcribe(audio, stt.Options.parse(beam_size=3)).text == beams.text
    sampled = stt.transcribe(audio, stt.Options.parse(beam_size=1, temperature=0.8))
    assert isinstance(sampled.text, str)


def test_whisper_over_30_seconds_returns_timed_chunks(registry, tiny_whisper, speech_wav):
    stt = registry.load("speech_to_text", str(tiny_whisper))
    audio = load_audio(speech_wav[0])
    long = np.tile(audio, int(np.ceil(31 * 16_000 / len(audio))))
    transcript = stt.transcribe(long, stt.Options.parse(beam_size=1))
    assert transcript.segments and all(start >= 0 and end >= 0 for start, end, _ in transcript.segments)


def test_wav2vec2_ctc_transcripts_use_only_its_vocabulary(registry, tiny_wav2vec2, speech_wav):
    stt = registry.load("speech_to_text", str(tiny_wav2vec2))
    assert type(stt).__name__ == "TransformersASR"
    audio = load_audio(speech_wav[0])
    transcript = stt.transcribe(audio, stt.Options.parse())
    assert set(transcript.text.replace("<unk>", "")) <= set(string.ascii_lowercase + " ")  # its vocab.json
    assert stt.transcribe(audio, stt.Options.parse()).text == transcript.text  # CTC decoding is deterministic
    assert stt.transcribe(np.zeros(16_000, np.float32), stt.Options.parse()).text == ""  # silence: no words


def test_synthesize_endpoint_passes_a_reference_clip_to_the_voice(client, speech_wav):
    from gradio_client import handle_file

    wav, seed, status, _ = client.predict(text="Hello there.", seed=3, reference_audio=None, api_name="/synthesize")
    assert seed == 3 and wav
    with pytest.raises(Exception, match="cannot clone a voice; remove the reference clip"):
        client.predict(
            text="Hello there.", seed=3, reference_audio=handle_file(str(speech_wav[0])), api_name="/synthesize"
        )


@pytest.fixture(scope="module")
def bark(registry, tiny_dir):
    from tiny_models import build_tiny_bark

    return registry.load("text_to_speech", str(build_tiny_bark(tiny_dir / "bark")))


def test_bark_loads_through_the_transformers_backend_and_samples_reproducibly(bark):
    assert type(bark).__name__ == "TransformersTTS"
    first = bark.synthesize("Hello there.", bark.Options.parse(), seed=1)
    assert first.sample_rate == 24_000 and first.samples.dtype == np.int16 and first.seconds > 0.1
    assert np.array_equal(first.samples, bark.synthesize("Hello there.", bark.Options.parse(), seed=1).samples)
    assert not np.array_equal(first.samples, bark.synthesize("Hello there.", bark.Options.parse(), seed=2).samples)


def test_bark_greedy_ignores_the_seed_and_rate_stretches_it(bark):
    greedy = bark.Options.parse(expressiveness=0.0, rhythm_variation=0.0)
    one = bark.synthesize("Hello there.", greedy, seed=1)
    assert np.array_equal(one.samples, bark.synthesize("Hello there.", greedy, seed=2).samples)
    fast = bark.synthesize("Hello there.", bark.Options.parse(expressiveness=0.0, rhythm_variation=0.0, rate=2.0))
    assert abs(fast.seconds - one.seconds / 2) < 0.05
