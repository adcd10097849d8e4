"""The bad-input table: what users and API clients really send, each with the one plain sentence it must get.

Text and numbers go in as raw JSON through the API, because gradio_client refuses to encode NaN,
infinity and lone surrogates that any other HTTP client can send. Files go through gradio_client.
"""

from __future__ import annotations

import json
import time
import wave

import httpx
import numpy as np
import pytest
import soundfile as sf
from gradio_client import handle_file
from PIL import Image

HUGE = "a" * 1_000_000  # 1 MB of text
SURROGATE = "a red \ud800 circle"  # valid JSON (\ud800), not valid Unicode text
FAST_CHAT = {"max_new_tokens": 8, "seed": 1}
FAST_IMAGE = {"steps": 2, "seed": 1, "show_noise_steps": False}


@pytest.fixture(scope="module")
def endpoints(client):
    """Each endpoint's parameter names and defaults, so raw calls can be made by name."""
    api = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    return {
        name: [(p["parameter_name"], p.get("parameter_default")) for p in info["parameters"]]
        for name, info in api.items()
    }


def raw_predict(server, endpoints, api_name, **values):
    """Call ``api_name`` with plain JSON (NaN and lone surrogates allowed); return its data or raise its error."""
    data = [values.pop(name, default) for name, default in endpoints[api_name]]
    assert not values, f"unknown parameters {values}"
    body = json.dumps({"data": data})  # allow_nan and ensure_ascii: NaN, Infinity and \ud800 as clients send them
    response = httpx.post(
        f"{server}gradio_api/call{api_name}", content=body, headers={"content-type": "application/json"}, timeout=30
    )
    response.raise_for_status()
    stream = httpx.get(f"{server}gradio_api/call{api_name}/{response.json()['event_id']}", timeout=120).text
    event, payload = None, None
    for line in stream.splitlines():
        if line.startswith("event: "):
            event = line[len("event: ") :]
        elif line.startswith("data: ") and event in ("complete", "error"):
            payload = json.loads(line[len("data: ") :])
            if event == "error":
                raise RuntimeError(f"{(payload or {}).get('error')}")
    return payload


@pytest.fixture(scope="module")
def uploaded_image(server, tmp_path_factory):
    """A small PNG uploaded the way any HTTP client uploads, as the file value raw calls pass."""
    path = tmp_path_factory.mktemp("upload") / "red.png"
    Image.new("RGB", (32, 32), (200, 30, 30)).save(path)
    with open(path, "rb") as file:
        response = httpx.post(f"{server}gradio_api/upload", files={"files": ("red.png", file, "image/png")})
    response.raise_for_status()
    return {"path": response.json()[0], "meta": {"_type": "gradio.FileData"}}


@pytest.mark.parametrize(
    "api_name, values, message",
    [
        # empty, huge and invalid text
        ("/chat", {"message": ""}, "The message is empty"),
        ("/chat", {"message": " \n\t "}, "The message is empty"),
        ("/chat", {"message": HUGE}, "The message is 1,000,000 characters long; the limit is 20,000."),
        ("/text_to_image", {"prompt": HUGE}, "The prompt is 1,000,000 characters long; the limit is 2,000."),
        ("/synthesize", {"text": HUGE}, "The text is 1,000,000 characters long; the limit is 5,000."),
        ("/synthesize", {"text": ""}, "The text is empty"),
        ("/chat", {"message": SURROGATE}, "The message holds characters that are not valid Unicode"),
        (
            "/chat",
            {"message": "hi", "system_prompt": SURROGATE},
            "The system prompt holds characters that are not valid",
        ),
        ("/text_to_image", {"prompt": SURROGATE}, "The prompt holds characters that are not valid Unicode"),
        ("/synthesize", {"text": SURROGATE}, "The text holds characters that are not valid Unicode"),
        # non-finite and out-of-range numbers, for sliders and seeds across endpoints
        ("/chat", {"message": "hi", "temperature": float("nan")}, "Temperature must be a finite number, got nan."),
        ("/chat", {"message": "hi", "seed": float("nan")}, "Seed must be a finite whole number, got nan."),
        ("/chat", {"message": "hi", "max_new_tokens": 10**30}, "Max new tokens must be between 1 and 2048"),
        ("/chat", {"message": "hi", "top_p": 0}, "Top-p must be between 0.01 and 1, got 0."),
        (
            "/text_to_image",
            {"prompt": "a red circle", "seed": float("-1e309")},
            "Seed must be a finite whole number, got -inf.",
        ),
        (
            "/text_to_image",
            {"prompt": "a red circle", "guidance_scale": float("inf")},
            "Guidance scale must be a finite number, got inf.",
        ),
        ("/text_to_image", {"prompt": "a red circle", "steps": 0}, "Steps must be between 1 and 100, got 0."),
        ("/text_to_image", {"prompt": "a red circle", "width": -8}, "Width must be between 0 and 2048, got -8."),
        ("/caption", {"num_beams": float("1e309")}, "Beams must be a finite number, got inf."),
        ("/caption", {"temperature": -1}, "Temperature must be between 0 and 2, got -1."),
        ("/caption", {"seed": float("inf")}, "Seed must be a finite whole number, got inf."),
        ("/transcribe", {"beam_size": float("nan")}, "Beam size must be a finite number, got nan."),
        ("/transcribe", {"temperature": 1e300}, "Decoding temperature must be between 0 and 1, got 1e+300."),
        ("/synthesize", {"text": "hi", "rate": float("-inf")}, "Speaking rate must be a finite number, got -inf."),
        (
            "/synthesize",
            {"text": "hi", "seed": 2**40},
            "Seed must be -1 (random) or between 0 and 4294967295, got 1099511627776.",
        ),
        ("/synthesize", {"text": "hi", "seed": -2}, "Seed must be -1 (random) or between 0 and 4294967295, got -2."),
    ],
    ids=lambda v: v if isinstance(v, str) and len(v) < 40 else None,
)
def test_bad_value_gets_its_sentence(server, endpoints, uploaded_image, api_name, values, message):
    if api_name == "/caption":
        values = {"image": uploaded_image, **values}
    with pytest.raises(RuntimeError) as err:
        raw_predict(server, endpoints, api_name, **values)
    assert message in str(err.value)


def test_bytes_that_are_not_utf8_are_refused_by_the_server(server):
    body = b'{"data": ["hi \xff\xfe there"]}'
    response = httpx.post(f"{server}gradio_api/call/chat", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400 and "error parsing the body" in response.text


@pytest.mark.parametrize(
    "api_name, values",
    [
        ("/chat", {"message": "ما هي عاصمة فرنسا؟", **FAST_CHAT}),
        ("/chat", {"message": "מה השעה עכשיו?", **FAST_CHAT}),
        ("/chat", {"message": "Tell me a joke 😀🎉 👩‍💻", **FAST_CHAT}),
        ("/text_to_image", {"prompt": "a red circle 🔴 on a blue background", **FAST_IMAGE}),
        ("/text_to_image", {"prompt": "دائرة حمراء על רקע כחול", **FAST_IMAGE}),
        ("/synthesize", {"text": "Hello 👋 world 🌍.", "seed": 1}),
        ("/synthesize", {"text": "Shalom שלום and salaam سلام.", "seed": 1}),
    ],
    ids=["arabic-chat", "hebrew-chat", "emoji-chat", "emoji-image", "rtl-image", "emoji-speech", "rtl-speech"],
)
def test_rtl_and_emoji_work(server, endpoints, api_name, values):
    result = raw_predict(server, endpoints, api_name, **values)
    if api_name == "/chat":
        history, _, status = result[:3]
        assert history[0]["content"][0]["text"] == values["message"] and "tokens/s" in status
        assert history[-1]["role"] == "assistant" and history[-1]["content"][0]["text"].strip()
    elif api_name == "/text_to_image":
        assert result[0]["path"].endswith((".png", ".webp", ".jpeg")) and "2 steps" in result[2]
    else:
        assert result[0]["path"].endswith(".wav") and "real-time factor" in result[2]


def write_wav(path, samples: np.ndarray, rate: int = 16_000):
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.astype("<i2").tobytes())
    return path


@pytest.fixture(scope="module")
def bad_audio(tmp_path_factory, speech_wav):
    folder = tmp_path_factory.mktemp("bad-audio")
    (folder / "empty.wav").write_bytes(b"")
    (folder / "truncated.wav").write_bytes(speech_wav[0].read_bytes()[:30])
    (folder / "notes.wav").write_text("these are meeting notes, not audio\n" * 20)
    (folder / "notes.mp3").write_bytes("ceci n'est pas un mp3 \xe9\n".encode("latin-1") * 20)
    # whole headers promising the whole clip, then only the first few milliseconds / a third of the audio
    whole = speech_wav[0].read_bytes()
    (folder / "cut.wav").write_bytes(whole[:200])
    samples, rate = sf.read(str(speech_wav[0]))
    for kind in ("flac", "ogg"):
        sf.write(str(folder / f"whole.{kind}"), samples, rate)
        data = (folder / f"whole.{kind}").read_bytes()
        (folder / f"cut.{kind}").write_bytes(data[: len(data) // 3])
    return folder


@pytest.mark.parametrize(
    "name, message",
    [
        ("empty.wav", "The audio file is empty (0 bytes)."),
        ("truncated.wav", "Could not read 'truncated.wav' as audio: the file is truncated or not an audio format"),
        ("notes.wav", "Could not read 'notes.wav' as audio: the file is truncated or not an audio format"),
        ("notes.mp3", "Could not read 'notes.mp3' as audio: the file is truncated or not an audio format"),
        ("cut.wav", "Could not read 'cut.wav' as audio: the file is truncated (its header promises "),
        ("cut.flac", "Could not read 'cut.flac' as audio: the file is truncated"),
        ("cut.ogg", "Could not read 'cut.ogg' as audio: the file is truncated"),
    ],
)
def test_bad_audio_gets_its_sentence(client, bad_audio, name, message):
    with pytest.raises(Exception) as err:
        client.predict(audio=handle_file(str(bad_audio / name)), api_name="/transcribe")
    assert message in str(err.value)


@pytest.mark.parametrize("kind", ["flac", "ogg"])
def test_whole_flac_and_ogg_are_transcribed(client, bad_audio, kind):
    """The cut files above are refused for being cut, not for their format: the whole ones are heard."""
    transcript, status, *_ = client.predict(audio=handle_file(str(bad_audio / f"whole.{kind}")), api_name="/transcribe")
    assert "(no speech" not in transcript and len(transcript.split()) >= 3 and " s of audio" in status


def test_ten_minutes_of_silence_says_no_speech_quickly(client, tmp_path):
    silence = write_wav(tmp_path / "silence.wav", np.zeros(16_000 * 600))
    start = time.perf_counter()
    transcript, status, *_ = client.predict(audio=handle_file(str(silence)), beam_size=1, api_name="/transcribe")
    elapsed = time.perf_counter() - start
    assert transcript == "(no speech was recognised)" and "600.0 s of audio" in status
    assert elapsed < 60, f"10 minutes of silence took {elapsed:.0f} s"


def save_image(path, mode: str, size: tuple[int, int], colour, **kwargs):
    Image.new(mode, size, colour).save(path, **kwargs)
    return path


def test_an_8000_by_8000_image_is_refused(client, tmp_path):
    huge = save_image(tmp_path / "huge.png", "L", (8000, 8000), 0)  # 64 megapixels, a few kB of PNG
    start = time.perf_counter()
    with pytest.raises(Exception) as err:
        client.predict(image=handle_file(str(huge)), api_name="/caption")
    assert "The image is 8000×8000 pixels; the limit is 40 megapixels." in str(err.value)
    assert time.perf_counter() - start < 20


@pytest.mark.parametrize(
    "name, mode, size, colour, kwargs",
    [
        ("one.png", "RGB", (1, 1), (200, 30, 30), {}),
        ("cmyk.jpg", "CMYK", (64, 64), (0, 255, 255, 0), {}),
        ("rgba.png", "RGBA", (64, 64), (30, 30, 200, 128), {}),
        ("grey.png", "L", (64, 64), 128, {}),
        ("grey-alpha.png", "LA", (48, 80), (90, 200), {}),
        ("palette.gif", "P", (64, 64), 3, {}),
    ],
    ids=["1x1", "cmyk", "rgba", "greyscale", "greyscale-alpha", "palette"],
)
def test_unusual_images_are_captioned(client, tmp_path, name, mode, size, colour, kwargs):
    path = save_image(tmp_path / name, mode, size, colour, **kwargs)
    caption, _, _, status = client.predict(
        image=handle_file(str(path)), max_new_tokens=8, num_beams=1, api_name="/caption"
    )
    assert caption.strip() and f"Captioned a {size[0]}×{size[1]} image" in status
