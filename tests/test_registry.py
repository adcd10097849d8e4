"""Model lookup: bundled defaults, backend choice, and plain errors for bad ids."""

import pytest

from playground.errors import UserError


def test_every_task_has_an_offline_default(registry):
    for task in ("chat", "text_to_image", "captioning", "speech_to_text", "text_to_speech"):
        spec = registry.spec(task, registry.task(task).default)
        assert spec.bundled


def test_bundled_speech_models_pick_their_native_backends(registry):
    assert registry.get("speech_to_text").backend == "faster-whisper"
    assert registry.get("text_to_speech").backend == "piper"
    assert registry.get("speech_to_text", "openai/whisper-small").backend == "transformers"


@pytest.mark.parametrize(
    "model_id, message",
    [
        ("not a model!", "Unknown model"),
        ("/no/such/folder", "The model path '/no/such/folder' is not in a folder this app loads models from"),
        ("assets/models/no-such-model", "No model file or folder exists at 'assets/models/no-such-model'"),
        ("", None),
    ],
)
def test_bad_model_ids(registry, model_id, message):
    if message is None:
        assert registry.get("chat", model_id).model_id == registry.task("chat").default
        return
    with pytest.raises(UserError, match=message):
        registry.get("chat", model_id)


def test_uncached_hub_model_offline_says_so_plainly(registry):
    with pytest.raises(UserError) as err:
        registry.load("captioning", "Salesforce/blip-image-captioning-base")
    assert "not downloaded and the model hub cannot be reached" in str(err.value)


def test_unknown_task(registry):
    with pytest.raises(UserError, match="Unknown task"):
        registry.get("painting")
