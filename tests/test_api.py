"""Every endpoint answers through gradio_client against a live, offline server."""

import pytest
from gradio_client import handle_file

from conftest import words
from playground.views import token_choices


def last_reply(history) -> str:
    content = history[-1]["content"]
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content)
    return content


def test_chat_streams_a_reproducible_reply(client):
    history, seed, status = client.predict(
        message="What is the capital of France?", temperature=0.8, seed=5, api_name="/chat"
    )
    again, _, _ = client.predict(message="What is the capital of France?", temperature=0.8, seed=5, api_name="/chat")
    assert seed == 5 and "tokens/s" in status
    assert last_reply(history).strip() and last_reply(history) == last_reply(again)


def test_chat_random_seed_is_reported(client):
    _, seed, status = client.predict(message="Hi", seed=-1, max_new_tokens=5, api_name="/chat")
    assert 0 <= seed < 2**32 and f"seed {seed}" in status


def test_synthesize_then_transcribe(client):
    wav, _, status, _ = client.predict(text="Good morning, everyone.", api_name="/synthesize")
    assert wav.endswith(".wav") and "real-time factor" in status
    transcript, _, heard, _ = client.predict(audio=handle_file(wav), api_name="/transcribe")
    assert words(transcript) == ["good", "morning", "everyone"]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"message": "   ", "api_name": "/chat"}, "The message is empty"),
        ({"message": "hi", "temperature": 9, "api_name": "/chat"}, "Temperature must be between 0 and 2, got 9"),
        ({"message": "hi", "model": "no such model!", "api_name": "/chat"}, "Unknown model"),
        (
            {"message": "hi", "model": "HuggingFaceTB/SmolLM2-360M-Instruct", "api_name": "/chat"},
            "not downloaded and the model hub cannot be reached",
        ),
        ({"text": "", "api_name": "/synthesize"}, "The text is empty"),
        ({"text": "hi", "rate": 0, "api_name": "/synthesize"}, "Speaking rate must be between 0.5 and 2"),
        ({"prompt": "", "api_name": "/text_to_image"}, "The prompt is empty"),
        ({"prompt": "a red circle", "steps": 1000, "api_name": "/text_to_image"}, "Steps must be between 1 and 100"),
    ],
)
def test_bad_input_gets_one_plain_sentence(client, kwargs, message):
    with pytest.raises(Exception) as err:
        client.predict(**kwargs)
    assert message in str(err.value)


def test_non_audio_and_non_image_uploads(client, tmp_path):
    bogus = tmp_path / "notes.txt"
    bogus.write_text("definitely not media")
    with pytest.raises(Exception, match="truncated or not an audio format"):
        client.predict(audio=handle_file(str(bogus)), api_name="/transcribe")
    with pytest.raises(Exception, match="truncated or not an image"):
        client.predict(image=handle_file(str(bogus)), api_name="/caption")


def test_server_keeps_serving_after_errors(client):
    with pytest.raises(Exception, match="is empty: type something first"):
        client.predict(text="", api_name="/synthesize")
    wav, _, _, _ = client.predict(text="Still here.", api_name="/synthesize")
    assert wav.endswith(".wav")


def test_text_to_image_and_caption_with_local_model_folders(client, tiny_sd, tiny_blip):
    image, seed, status, _ = client.predict(
        prompt="a red circle", model=str(tiny_sd), steps=2, seed=3, api_name="/text_to_image"
    )
    assert seed == 3 and "2 steps" in status
    caption, confidence, _, status = client.predict(image=handle_file(image), model=str(tiny_blip), api_name="/caption")
    assert isinstance(caption, str) and "Captioned a 64×64 image" in status
    labels = [entity["class_or_confidence"] for entity in confidence] if isinstance(confidence, list) else []
    assert labels, confidence  # every word comes with how sure the model was
    colours = token_choices.percent_colours()
    assert all(label in colours for label in labels), labels  # each one coloured by its band, none left to chance
