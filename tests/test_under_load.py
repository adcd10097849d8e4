"""Under load: a seeded request gives the same answer on a saturated machine as on an idle one, and nothing
comes back cut short without saying so.

The CPU is saturated four ways: by processes that only burn cycles, by eight sessions sending the same seeded
chat, picture and speech at once, for about 20 s by Gradio's event loop getting only the CPU time nobody else wants
while the model threads keep theirs, and for about 20 s more by the app being let run only in short bursts (SIGSTOP and
SIGCONT), as a guest on an oversubscribed host is.

A slow reader (Gradio taking seconds to read a streamed update) must never be mistaken for a cancelled one: an
earlier version stopped any work whose updates went unread for a second, and on a busy machine it returned replies
cut off mid-sentence that looked complete. The starved event loop is that slow reader, made certain: with the
one-second rule put back into ``playground/jobs.py``, this test fails (chat replies come back short).
"""

from __future__ import annotations

import os
import platform
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from urllib.parse import urlparse

import numpy as np
import pytest

pytestmark = pytest.mark.concurrency

SESSIONS = 8
STARVED_CYCLES = 15
BURNERS = 2  # as many as the cores of the machines this runs on: every thread of the app waits its turn
CHAT = {
    "message": "Tell me about the sea in three sentences.",
    "temperature": 0.8,
    "seed": 5,
    "max_new_tokens": 48,
    "api_name": "/chat",
}
PICTURE = {"prompt": "a big dog on the beach, on the left", "seed": 3, "api_name": "/text_to_image"}
SPEECH = {"text": "The sea is calm tonight. The tide is full.", "seed": 7, "api_name": "/synthesize"}


def last_reply(history) -> str:
    content = history[-1]["content"]
    if isinstance(content, list):
        content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return content


def seeded_answers(client) -> dict:
    """The three seeded results as comparable values, with the status lines that came with them; a request that
    failed gives its exception in place of its values, and the others still run."""
    import soundfile as sf
    from PIL import Image

    def chat():
        history, _, status = client.predict(**CHAT)
        return {"reply": last_reply(history), "chat_status": status}

    def picture():
        path, _, status, _ = client.predict(**PICTURE)
        return {"pixels": np.asarray(Image.open(path).convert("RGB")), "picture_status": status}

    def speech():
        wav, _, status, _ = client.predict(**SPEECH)
        return {"samples": sf.read(wav, dtype="int16")[0], "speech_status": status}

    answers = {}
    for name, request in (("chat", chat), ("picture", picture), ("speech", speech)):
        try:
            answers.update(request())
        except Exception as exc:  # reported by the caller, with every other difference
            answers[name] = exc
    return answers


def differences(loaded: dict, idle: dict) -> list[str]:
    """Every way ``loaded`` falls short of ``idle``: a failed request, a status that says it stopped, a
    reply, picture or clip that is not the same."""
    found = [f"{name} failed: {loaded[name]!r}" for name in ("chat", "picture", "speech") if name in loaded]
    found += [
        f"no {value} came back"
        for name, value in (("chat", "reply"), ("picture", "pixels"), ("speech", "samples"))
        if name not in loaded and value not in loaded
    ]
    for status in ("chat_status", "picture_status", "speech_status"):
        if status in loaded:
            if "Stopped" in loaded[status]:
                found.append(f"{status}: {loaded[status]!r}")
            if ("cut off" in loaded[status]) != ("cut off" in idle[status]):
                found.append(f"{status}: {loaded[status]!r} against idle {idle[status]!r}")
    if "reply" in loaded and loaded["reply"] != idle["reply"]:
        found.append(f"reply {loaded['reply']!r} against idle {idle['reply']!r}")
    if "pixels" in loaded and not np.array_equal(loaded["pixels"], idle["pixels"]):
        found.append("another picture")
    if "samples" in loaded and not np.array_equal(loaded["samples"], idle["samples"]):
        found.append("other speech")
    return found


def burn_cpu(count: int) -> list[subprocess.Popen]:
    """Processes that do nothing but spin, so the app competes for every core."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]


def server_process(url: str):
    """The process listening on the app's port."""
    import psutil

    port = urlparse(url).port
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr.port == port and conn.pid:
            return psutil.Process(conn.pid)
    raise AssertionError(f"no process listens on port {port}")


# the numbers of the system calls an asyncio event loop waits in, by architecture (epoll_wait, epoll_pwait, epoll_pwait2)
EPOLL_WAITS = {"x86_64": {232, 281, 441}, "aarch64": {22, 441}}


def event_loop_thread(process, samples: int = 20) -> int:
    """The id of the thread that runs Gradio's event loop: the one thread of ``process`` found waiting in epoll.

    Model threads wait on futexes or compute, the main thread sleeps, and uvicorn's loop is the only selector."""
    waits = EPOLL_WAITS[platform.machine()]
    seen: set[int] = set()
    for _ in range(samples):
        for task in os.listdir(f"/proc/{process.pid}/task"):
            try:
                with open(f"/proc/{process.pid}/task/{task}/syscall") as f:
                    number = f.read().split()[0]
            except OSError:  # the thread ended
                continue
            if number.isdigit() and int(number) in waits:
                seen.add(int(task))
        time.sleep(0.05)
    assert len(seen) == 1, f"expected one thread of the app in epoll_wait (its event loop), found {sorted(seen)}"
    return seen.pop()


@contextmanager
def starved(
    process,
    loop_thread: int,
    after: float = 2.0,
    reader_cycles: int = 4,
    reader_off: float = 3.0,
    cycles: int = STARVED_CYCLES,
    off: float = 1.2,
    on: float = 0.2,
):
    """Two ways a busy machine makes Gradio a slow reader, one after the other, beginning ``after`` seconds in.

    First, ``reader_cycles`` times, the event loop thread alone runs under SCHED_IDLE for ``reader_off`` seconds
    and then normally for one: it gets only the CPU that nobody else wants, while the model threads beside it
    compute at full speed, so streamed updates wait unread for seconds. Then, ``cycles`` times, the whole app
    runs only ``on`` seconds out of every ``off + on``: a seventh of the machine, in bursts, as a guest on an
    oversubscribed host gets. Every thread of it then waits over a second at a time."""
    done = threading.Event()

    def starve():
        if done.wait(after):
            return
        for _ in range(reader_cycles):
            os.sched_setscheduler(loop_thread, os.SCHED_IDLE, os.sched_param(0))
            try:
                if done.wait(reader_off):
                    return
            finally:
                os.sched_setscheduler(loop_thread, os.SCHED_OTHER, os.sched_param(0))
            if done.wait(1.0):
                return
        for _ in range(cycles):
            process.send_signal(signal.SIGSTOP)
            time.sleep(off)
            process.send_signal(signal.SIGCONT)
            if done.wait(on):
                return

    thread = threading.Thread(target=starve, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
        process.send_signal(signal.SIGCONT)


def test_seeded_answers_under_load_match_the_idle_ones(server):
    from gradio_client import Client

    idle = seeded_answers(Client(server, verbose=False))
    assert not {"chat", "picture", "speech"} & idle.keys(), idle
    assert idle["reply"].strip() and "tokens in" in idle["chat_status"]
    assert "steps in" in idle["picture_status"] and "real-time factor" in idle["speech_status"]

    # a browser waits for a busy server; gradio_client gives up on a request after 5 s unless told otherwise
    clients = [Client(server, verbose=False, httpx_kwargs={"timeout": 120}) for _ in range(SESSIONS)]
    results: list[dict] = [{}] * SESSIONS

    def session(i: int):
        results[i] = seeded_answers(clients[i])

    burners = burn_cpu(BURNERS)
    try:
        process = server_process(server)
        with starved(process, event_loop_thread(process)):
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
    problems = [f"session {i}: {problem}" for i, loaded in enumerate(results) for problem in differences(loaded, idle)]
    assert not problems, "\n".join(problems)
