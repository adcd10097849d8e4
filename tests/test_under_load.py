"""Under load: a seeded request gives the same answer on a saturated machine as on an idle one, and nothing
comes back cut short without saying so.

The CPU is saturated twice over: by processes that only burn cycles, and by eight sessions sending the same
seeded chat, picture and speech at once. A slow reader (Gradio taking seconds to read a streamed update) must
never be mistaken for a cancelled one: an earlier version stopped any reply whose updates went unread for a
second, and under this load it returned replies cut off mid-sentence that looked complete.
"""

from __future__ import annotations

import subprocess
import sys
import threading

import numpy as np
import pytest

pytestmark = pytest.mark.concurrency

SESSIONS = 8
BURNERS = 4  # twice the cores of the machines this runs on: every thread of the app waits its turn
CHAT = {"message": "Tell me about the sea in three sentences.", "temperature": 0.8, "seed": 5,
        "max_new_tokens": 96, "api_name": "/chat"}
PICTURE = {"prompt": "a large red circle on a blue background", "seed": 3, "api_name": "/text_to_image"}
SPEECH = {"text": "The sea is calm tonight. The tide is full.", "seed": 7, "api_name": "/synthesize"}


def last_reply(history) -> str:
    content = history[-1]["content"]
    if isinstance(content, list):
        content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return content


def seeded_answers(client) -> dict:
    """The three seeded results as comparable values, with the status lines that came with them."""
    import soundfile as sf
    from PIL import Image

    history, _, chat_status = client.predict(**CHAT)
    picture, _, picture_status, _ = client.predict(**PICTURE)
    wav, _, speech_status = client.predict(**SPEECH)
    samples, _ = sf.read(wav, dtype="int16")
    return {"reply": last_reply(history), "chat_status": chat_status,
            "pixels": np.asarray(Image.open(picture).convert("RGB")), "picture_status": picture_status,
            "samples": samples, "speech_status": speech_status}


def burn_cpu(count: int) -> list[subprocess.Popen]:
    """Processes that do nothing but spin, so the app competes for every core."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]


def test_seeded_answers_under_load_match_the_idle_ones(server):
    from gradio_client import Client

    idle = seeded_answers(Client(server, verbose=False))
    assert idle["reply"].strip() and "tokens in" in idle["chat_status"]
    assert "steps in" in idle["picture_status"] and "real-time factor" in idle["speech_status"]

    clients = [Client(server, verbose=False) for _ in range(SESSIONS)]
    results: list[dict | BaseException] = [None] * SESSIONS

    def session(i: int):
        try:
            results[i] = seeded_answers(clients[i])
        except BaseException as exc:  # reported below, with the others
            results[i] = exc

    burners = burn_cpu(BURNERS)
    try:
        threads = [threading.Thread(target=session, args=(i,)) for i in range(SESSIONS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=600)
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()
    assert not any(t.is_alive() for t in threads), "a session did not finish within 10 minutes"
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors
    for i, loaded in enumerate(results):
        for status in ("chat_status", "picture_status", "speech_status"):  # nothing says it was stopped
            assert "Stopped" not in loaded[status], (i, loaded[status])
            assert ("cut off" in loaded[status]) == ("cut off" in idle[status]), (i, loaded[status])
        assert loaded["reply"] == idle["reply"], f"session {i}: {loaded['reply']!r} against idle {idle['reply']!r}"
        assert np.array_equal(loaded["pixels"], idle["pixels"]), f"session {i}: another picture"
        assert np.array_equal(loaded["samples"], idle["samples"]), f"session {i}: other speech"
