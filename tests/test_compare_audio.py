"""Compare and explain for speech and captions, through the API of a live server with the bundled models."""

import pytest
import soundfile as sf
from gradio_client import handle_file

SHORT = "Hello there."


def samples(path):
    audio, rate = sf.read(path, dtype="int16")
    return rate, audio


def test_same_seed_gives_byte_identical_speech(client):
    first, seed, status, _ = client.predict(text=SHORT, seed=11, expressiveness=1.0, api_name="/synthesize")
    again, _, _, _ = client.predict(text=SHORT, seed=11, expressiveness=1.0, api_name="/synthesize")
    other, _, _, _ = client.predict(text=SHORT, seed=12, expressiveness=1.0, api_name="/synthesize")
    assert seed == 11 and "seed 11" in status
    with open(first, "rb") as a, open(again, "rb") as b, open(other, "rb") as c:
        one, two, three = a.read(), b.read(), c.read()
    assert one == two
    assert one != three


def test_random_speech_seed_is_reported_and_replays(client):
    wav, seed, status, _ = client.predict(text=SHORT, seed=-1, api_name="/synthesize")
    assert 0 <= seed < 2**32 and f"seed {seed}" in status
    replay, _, _, _ = client.predict(text=SHORT, seed=seed, api_name="/synthesize")
    assert (samples(wav)[1] == samples(replay)[1]).all()


def test_compare_speech_sweeps_expressiveness_and_rate(client):
    cards, files, data, status = client.predict(
        text=SHORT, expressiveness_values="0, 1.2", rate_values="1, 1.6", seed=4, api_name="/compare_speech"
    )
    assert "4 clips · seed 4" in status
    assert len(files) == 4 and cards.count("<audio") == 4 and cards.count("<img") == 4
    assert [(d["expressiveness"], d["rate"]) for d in data] == [(0, 1), (1.2, 1), (0, 1.6), (1.2, 1.6)]
    fast, slow = data[2]["seconds"], data[0]["seconds"]
    assert fast < slow  # rate 1.6 speaks faster than rate 1
    # a clip is the same audio a single run with its settings and seed gives
    single, _, _, _ = client.predict(text=SHORT, seed=4, expressiveness=1.2, rate=1.0, api_name="/synthesize")
    assert (samples(files[1])[1] == samples(single)[1]).all()


def test_compare_transcribe_scores_against_a_reference(client, speech_wav):
    path, sentence = speech_wav
    cards, table, diff, data, status = client.predict(
        audio=handle_file(str(path)), beam_sizes="1, 3", reference=sentence, api_name="/compare_transcribe"
    )
    assert "2 transcripts" in status and "lowest word error rate" in status
    assert [d["beam_size"] for d in data] == [1, 3]
    assert all(d["wer"] is not None and d["wer"] <= 0.2 for d in data)
    assert "word error rate (%)" in table["headers"]
    # a reference with one word changed: every transcript now misses "fox" and adds it back as an extra
    _, _, diff, data, _ = client.predict(
        audio=handle_file(str(path)),
        beam_sizes="1",
        reference=sentence.replace("fox", "cat"),
        api_name="/compare_transcribe",
    )
    assert data[0]["wer"] > 0
    labelled = {(d["token"], d["class_or_confidence"]) for d in diff}
    assert ("cat", "missed (in the reference only)") in labelled and ("fox", "extra (not in the reference)") in labelled


def test_compare_caption_samples_reproducibly_with_confidences(client, tmp_path):
    from playground.shapes.world import Attributes, render

    picture = tmp_path / "shape.png"
    render(Attributes("large", "red", "circle", "blue")).save(picture)
    kwargs = dict(image=handle_file(str(picture)), temperatures="0, 2", samples=2, seed=5, api_name="/compare_caption")
    cards, table, data, status = client.predict(**kwargs)
    _, _, again, _ = client.predict(**kwargs)
    assert "4 captions · seed 5" in status and len(data) == 4
    assert [d["caption"] for d in data] == [d["caption"] for d in again]
    assert [d["seed"] for d in data] == [5, 6, 5, 6]
    assert data[0]["caption"] == data[1]["caption"]  # temperature 0 ignores the seed
    assert all(0 < t["probability"] <= 1 for d in data for t in d["tokens"])
    assert cards.count('class="token"') >= sum(len(d["tokens"]) for d in data)
    assert table["data"][0][0] == "all captions"
    # A caption the token limit cut says so on its card and in its data.
    short = dict(kwargs, temperatures="0", samples=1, max_new_tokens=3)
    cards, _, data, _ = client.predict(**short)
    assert data[0]["cut_at_token_limit"] and "cut off at the 3-token limit" in cards


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"expressiveness_values": "", "rate_values": ""}, "Give expressiveness or rate values to compare"),
        ({"expressiveness_values": ", ,"}, "Give at least one value for Expressiveness"),
        ({"expressiveness_values": "0.5, 9"}, "Expressiveness must be between 0.0 and 1.5, got 9"),
        ({"rate_values": "1, fast"}, "'fast' is not a number"),
        (
            {"expressiveness_values": "0, 0.2, 0.4, 0.6", "rate_values": "0.5, 1, 1.5, 2"},
            "That comparison makes 16 clips; the limit is 12.",
        ),
    ],
)
def test_compare_speech_bad_values_get_one_plain_sentence(client, kwargs, message):
    with pytest.raises(Exception) as err:
        client.predict(text=SHORT, api_name="/compare_speech", **kwargs)
    assert message in str(err.value)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"api_name": "/compare_transcribe", "beam_sizes": "0, 5"}, "Beam size must be between 1 and 10, got 0"),
        ({"api_name": "/compare_transcribe", "beam_sizes": "", "temperatures": ""}, "Give beam sizes or temperatures"),
        ({"api_name": "/compare_caption", "temperatures": "0, 3"}, "Temperature must be between 0.0 and 2.0, got 3"),
        ({"api_name": "/compare_caption", "models": "no such model!"}, "Unknown model"),
        ({"api_name": "/compare_caption", "temperatures": "0, 1, 2", "samples": 5}, "the limit is 12"),
    ],
)
def test_compare_transcribe_and_caption_bad_values(client, speech_wav, tmp_path, kwargs, message):
    from PIL import Image

    if kwargs["api_name"] == "/compare_transcribe":
        kwargs["audio"] = handle_file(str(speech_wav[0]))
    else:
        picture = tmp_path / "red.png"
        Image.new("RGB", (64, 64), (220, 40, 40)).save(picture)
        kwargs["image"] = handle_file(str(picture))
    with pytest.raises(Exception) as err:
        client.predict(**kwargs)
    assert message in str(err.value)
