"""The Coqui TTS backend on a tiny Coqui VITS voice built from its config, saved as Coqui saves models.

Coqui needs torchaudio, which has no release for the core install's torch, so it lives in its own environment:
``make test-coqui`` runs these tests there; in the core environment they are skipped, saying so.
"""

import json

import numpy as np
import pytest

pytest.importorskip("TTS", reason="Coqui TTS is not installed here; it has its own environment: run make test-coqui")

from playground.errors import UserError  # noqa: E402

SENTENCE = "Hello there. How are you today?"


@pytest.fixture(scope="module")
def tiny_coqui(tiny_dir):
    from tiny_models import build_tiny_coqui_vits

    return build_tiny_coqui_vits(tiny_dir / "coqui-vits")


@pytest.fixture(scope="module")
def trusting_registry(data_dir, model_dir):
    """A registry started as with --allow-pickle: every Coqui checkpoint is a pickle."""
    from playground.devices import DeviceChoice
    from playground.models.base import LoadPolicy
    from playground.registry import Registry

    return Registry(data_dir, DeviceChoice("cpu"), policy=LoadPolicy(allow_pickle=True), model_dirs=[model_dir])


@pytest.fixture(scope="module")
def voice(trusting_registry, tiny_coqui):
    return trusting_registry.load("text_to_speech", str(tiny_coqui))


def test_coqui_vits_folder_loads_through_the_coqui_backend_and_speaks(voice):
    assert type(voice).__name__ == "CoquiTTS"
    speech = voice.synthesize(SENTENCE, voice.Options.parse(), seed=1)
    assert speech.sample_rate == 16_000  # the config's audio.sample_rate
    assert speech.samples.dtype == np.int16 and speech.samples.ndim == 1
    assert speech.seconds > 0.5 and np.abs(speech.samples).max() > 1000


def test_coqui_checkpoint_file_beside_its_config_also_loads(trusting_registry, tiny_coqui):
    tts = trusting_registry.load("text_to_speech", str(tiny_coqui / "model.pth"))
    assert type(tts).__name__ == "CoquiTTS"
    assert tts.synthesize("Hi.", tts.Options.parse(), seed=0).sample_rate == 16_000


def test_coqui_same_seed_same_audio_and_another_seed_differs(voice):
    options = voice.Options.parse(expressiveness=1.0)
    first = voice.synthesize(SENTENCE, options, seed=11).samples
    assert np.array_equal(first, voice.synthesize(SENTENCE, options, seed=11).samples)
    assert not np.array_equal(first, voice.synthesize(SENTENCE, options, seed=12).samples)


def test_coqui_without_noise_the_seed_no_longer_matters(voice):
    options = voice.Options.parse(expressiveness=0.0, rhythm_variation=0.0)
    assert np.array_equal(
        voice.synthesize(SENTENCE, options, seed=1).samples, voice.synthesize(SENTENCE, options, seed=2).samples
    )


def test_coqui_speaking_rate_changes_duration(voice):
    slow = voice.synthesize(SENTENCE, voice.Options.parse(rate=0.5), seed=1)
    fast = voice.synthesize(SENTENCE, voice.Options.parse(rate=2.0), seed=1)
    assert len(slow.samples) > len(fast.samples) + 16_000 * 0.1


def test_coqui_checkpoints_are_pickles_refused_without_allow_pickle(registry, tiny_coqui):
    for model_id in (str(tiny_coqui), "tts_models/en/ljspeech/vits"):  # the name is refused before any download
        tts = registry.get("text_to_speech", model_id)
        with pytest.raises(
            UserError,
            match="is a Coqui checkpoint, a pickle that can run code when loaded; start the app with --allow-pickle",
        ):
            tts.ensure_loaded()


def test_a_voice_that_cannot_clone_refuses_a_reference_clip(voice, speech_wav):
    with pytest.raises(UserError, match="cannot clone a voice; remove the reference clip"):
        voice.synthesize(SENTENCE, voice.Options.parse(), reference_audio=str(speech_wav[0]))


def test_a_damaged_xtts_folder_is_named(trusting_registry, tmp_path):
    from TTS.tts.configs.xtts_config import XttsConfig

    XttsConfig().save_json(str(tmp_path / "config.json"))
    (tmp_path / "model.pth").write_bytes(b"not a checkpoint")
    tts = trusting_registry.get("text_to_speech", str(tmp_path))
    assert type(tts).__name__ == "CoquiTTS"
    assert json.loads((tmp_path / "config.json").read_text())["model"] == "xtts"
    with pytest.raises(UserError, match=f"Model '{tmp_path}' could not be loaded"):
        tts.ensure_loaded()
    assert not tts.loaded
