"""Load: concurrent gradio_client sessions mixing the five endpoints; prints p50/p95 latency per endpoint.

    python bench/load.py [--url URL] [--sessions 8] [--requests 3]

Each session is its own ``Client`` on its own thread. A request round calls /chat, /text_to_image, /caption,
/transcribe and /synthesize once each, in an order rotated per session, and checks every answer. Chat turns
carry the session's history; its first message holds a secret word that no other session's history may show.
Without ``--url`` the app is started on a free port and stopped afterwards. The table is also written to
``bench/results/`` (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from a checkout: the playground package sits beside bench/
ENDPOINTS = ["/chat", "/text_to_image", "/caption", "/transcribe", "/synthesize"]
SPOKEN = "Good morning, everyone."
PROMPT = "a big dog on the beach, on the left"
SHOWN = {"object": "cat", "scene": "on the grass", "size": "big", "position": "on the right"}  # the uploaded render


@dataclass
class Session:
    """One simulated user: its secret word, its chat history, its timings and anything that went wrong."""

    index: int
    secret: str
    history: list = field(default_factory=list)
    timings: list[tuple[str, float]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def words(text: str) -> list[str]:
    return "".join(c if c.isalnum() or c.isspace() else " " for c in text.lower()).split()


def reply_text(message: dict) -> str:
    content = message["content"]
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content)


def make_inputs(url: str, folder: Path) -> dict[str, str]:
    """A render of the picture world and a spoken sentence (made by the app's own voice) for the upload endpoints."""
    from gradio_client import Client

    from playground import world

    world.render(world.Picture(**SHOWN)).save(folder / "cat-on-the-grass.png")
    wav, _, _, _ = Client(url, verbose=False).predict(text=SPOKEN, seed=1, api_name="/synthesize")
    return {"image": str(folder / "cat-on-the-grass.png"), "audio": wav}


def call(client, session: Session, endpoint: str, inputs: dict[str, str], turn: int) -> None:
    """Make one request, record its latency, and check that its answer is right for this session."""
    from gradio_client import handle_file

    from playground.world import parse_caption

    start = time.perf_counter()
    if endpoint == "/chat":
        message = f"My secret word is {session.secret}. Remember it." if turn == 0 else "What was my secret word?"
        history, _, status = client.predict(
            message=message, history=session.history, max_new_tokens=12, seed=session.index, api_name="/chat"
        )
        ok = "tokens/s" in status and history[-1]["role"] == "assistant" and reply_text(history[-1]).strip()
        session.history = history
    elif endpoint == "/text_to_image":
        image, _, status, _ = client.predict(
            prompt=PROMPT,
            steps=4,
            seed=session.index,
            show_noise_steps=False,
            api_name="/text_to_image",
        )
        ok = Path(image).is_file() and "4 steps" in status
    elif endpoint == "/caption":
        caption, _, _, status = client.predict(image=handle_file(inputs["image"]), api_name="/caption")
        ok = parse_caption(caption) == SHOWN and "Captioned a 128×128 image" in status
        status = f"{caption!r}; {status}"  # a wrong caption is shown with the failure
    elif endpoint == "/transcribe":
        transcript, status, *_ = client.predict(audio=handle_file(inputs["audio"]), beam_size=1, api_name="/transcribe")
        ok = words(transcript) == words(SPOKEN) and "real-time factor" in status
    else:
        wav, _, status, _ = client.predict(
            text=f"Session {session.index} says hello.", seed=session.index, api_name="/synthesize"
        )
        ok = Path(wav).is_file() and "real-time factor" in status
    session.timings.append((endpoint, time.perf_counter() - start))
    if not ok:
        session.failures.append(f"session {session.index} {endpoint}: unexpected answer ({status!r})")


def run_session(url: str, session: Session, rounds: int, inputs: dict[str, str]) -> None:
    from gradio_client import Client

    endpoint, turn = "connecting", 0
    try:
        client = Client(url, verbose=False)
        order = ENDPOINTS[session.index % 5 :] + ENDPOINTS[: session.index % 5]  # sessions start on different tabs
        for turn in range(rounds):
            for endpoint in order:
                call(client, session, endpoint, inputs, turn)
    except Exception as exc:  # a failed request is a result to report, not a crash of the whole run
        session.failures.append(f"session {session.index} {endpoint} (round {turn + 1}): {type(exc).__name__}: {exc}")


def leaks(sessions: list[Session]) -> list[str]:
    """Other sessions' secret words found in a session's chat history."""
    found = []
    for session in sessions:
        text = json.dumps(session.history, ensure_ascii=False)
        if session.history and session.secret not in text:
            found.append(f"session {session.index}: its own secret word is missing from its history")
        found += [
            f"session {session.index} holds session {other.index}'s secret word"
            for other in sessions
            if other is not session and other.secret in text
        ]
    return found


def run_load(url: str, sessions: int = 8, rounds: int = 3, warm_up: bool = True) -> dict:
    """Run the load against ``url``; return the sessions, the failures, the leaks and the wall time."""
    from gradio_client import Client

    with tempfile.TemporaryDirectory() as folder:
        inputs = make_inputs(url, Path(folder))
        if warm_up:  # load every model once, so the timings are of serving, not of first loads
            warm = Session(-1, "warm-up")
            for endpoint in ENDPOINTS:
                call(Client(url, verbose=False), warm, endpoint, inputs, 0)
        users = [Session(i, f"kumquat{i}x{secrets.token_hex(3)}") for i in range(sessions)]
        start = time.perf_counter()
        threads = [threading.Thread(target=run_session, args=(url, s, rounds, inputs)) for s in users]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - start
    return {
        "sessions": users,
        "failures": [f for s in users for f in s.failures],
        "leaks": leaks(users),
        "seconds": wall,
    }


def percentile(values: list[float], q: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def latency_table(result: dict) -> str:
    """A Markdown table: requests, p50, p95 and max seconds per endpoint, and over every request."""
    rows = ["| endpoint | requests | p50 s | p95 s | max s |", "|---|---:|---:|---:|---:|"]
    for endpoint in [*ENDPOINTS, "all"]:
        times = sorted(t for s in result["sessions"] for e, t in s.timings if endpoint in (e, "all"))
        if times:
            rows.append(
                f"| {endpoint} | {len(times)} | {percentile(times, 50):.2f} | {percentile(times, 95):.2f} "
                f"| {times[-1]:.2f} |"
            )
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running playground; without it the app is started here")
    parser.add_argument("--sessions", type=int, default=8, help="concurrent gradio_client sessions (default 8)")
    parser.add_argument(
        "--requests",
        type=int,
        default=3,
        help="request rounds per session; a round calls each of the five endpoints once (default 3)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=ROOT / ".cache" / "bench-data",
        help="the started app's data dir (default .cache/bench-data)",
    )
    args = parser.parse_args()
    if args.sessions < 1 or args.requests < 1:
        parser.error("--sessions and --requests must be at least 1")

    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    if args.url:
        result = run_load(args.url, args.sessions, args.requests)
    else:
        from playground.app_process import running_app

        args.data_dir.mkdir(parents=True, exist_ok=True)
        with running_app(args.data_dir, results / "load-server.log") as url:
            result = run_load(url, args.sessions, args.requests)

    total = sum(len(s.timings) for s in result["sessions"])
    header = (
        f"{args.sessions} sessions × {args.requests} rounds × 5 endpoints: {total} requests in "
        f"{result['seconds']:.1f} s on {os.cpu_count()} CPUs ({time.strftime('%Y-%m-%d %H:%M')})"
    )
    table = latency_table(result)
    problems = result["failures"] + result["leaks"]
    report = "\n".join(
        [header, "", table, "", *(f"- {p}" for p in problems or ["all answers correct; no history leaked"])]
    )
    print(report)
    (results / f"load-{time.strftime('%Y%m%d-%H%M%S')}.md").write_text(report + "\n")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
