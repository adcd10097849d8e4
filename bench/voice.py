"""Live voice: time to first audio through the API, streamed against waiting for the whole clip, in one run.

    python bench/voice.py [--url URL] [--repeats 5]

Rows (medians over ``--repeats`` warm calls of one ``gradio_client`` session, after one warm-up):

* Talk to it: from ``submit`` with an uploaded question to the first update that carries reply audio, against the
  time the whole spoken reply (the WAV) arrives: what a non-streaming chain makes a person wait (STT, the whole
  reply, then speech). Target: ≤ 1.5 s, and the ratio is printed.
* Text to Speech, five sentences: from ``submit`` to the first streamed sentence, against the whole clip.
  Target: ≤ 0.5 s.

Without ``--url`` the app is started on a free port (bundled models, offline) and stopped afterwards. The table is
also written to ``bench/results/`` (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from a checkout: the playground package sits beside bench/
QUESTION = ROOT / "assets" / "examples" / "audio" / "why-is-the-sky-blue.wav"  # a reply of several sentences
FIVE_SENTENCES = (
    "The sun rose over the hills. Birds began to sing. A farmer walked to the field. "
    "The cows waited by the gate. It was a quiet morning."
)
TALK = {"system_prompt": "Answer in three short sentences.", "chat_max_new_tokens": 80}
TARGETS = {"talk": 1.5, "tts": 0.5}


def first_and_last(job, audio_index: int, timeout: float = 300) -> tuple[float | None, float]:
    """Seconds from now to the first update whose output ``audio_index`` holds audio, and to the job's end."""
    start, count, first = time.perf_counter(), 0, None
    while time.perf_counter() - start < timeout:
        outputs = job.outputs()
        fresh = [o[audio_index] for o in outputs[count:]]  # an output left as it was comes as a dict
        if first is None and any(isinstance(o, str) and "data:audio/wav;base64," in o for o in fresh):
            first = time.perf_counter() - start
        count = len(outputs)
        if job.done():
            job.result()  # raises the job's error, if any
            return first, time.perf_counter() - start
        time.sleep(0.005)
    raise TimeoutError("the job did not end")


def measure(client, repeats: int) -> dict:
    from gradio_client import handle_file

    rows = {}
    calls = {
        "talk": (
            lambda seed: client.submit(audio=handle_file(str(QUESTION)), seed=seed, api_name="/chain_talk", **TALK),
            6,
        ),
        "tts": (lambda seed: client.submit(text=FIVE_SENTENCES, seed=seed, api_name="/synthesize"), 3),
    }
    for name, (submit, index) in calls.items():
        first_and_last(submit(0), index)  # warm-up: models loaded, caches filled
        firsts, lasts = [], []
        for seed in range(1, repeats + 1):
            first, last = first_and_last(submit(seed), index)
            if first is None:
                raise SystemExit(f"{name}: no audio was streamed before the end")
            firsts.append(first)
            lasts.append(last)
        rows[name] = {"first_audio_s": statistics.median(firsts), "whole_clip_s": statistics.median(lasts)}
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running app (default: start one)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    from gradio_client import Client

    from playground.app_process import running_app

    if args.url:
        rows = measure(Client(args.url, verbose=False), args.repeats)
    else:
        with tempfile.TemporaryDirectory() as data, running_app(Path(data), Path(data) / "app.log") as url:
            rows = measure(Client(url, verbose=False), args.repeats)
    labels = {"talk": "Talk to it, 'Why is the sky blue?'", "tts": "Text to Speech, five sentences"}
    print(f"\n{'path':38} {'first audio':>12} {'whole clip':>11} {'ratio':>7} {'target':>8}  met")
    for name, row in rows.items():
        ratio = row["first_audio_s"] / row["whole_clip_s"]
        met = "yes" if row["first_audio_s"] <= TARGETS[name] else "no"
        print(
            f"{labels[name]:38} {row['first_audio_s']:>10.2f} s {row['whole_clip_s']:>9.2f} s {ratio:>6.2f}× "
            f"{'≤ ' + str(TARGETS[name]) + ' s':>8}  {met}"
        )
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / f"voice-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
