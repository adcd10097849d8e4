"""The run log: schema and migrations, concurrent and killed writers, run cards in files, replay, private mode."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_api import last_reply

from conftest import ROOT
from playground.app_process import running_app
from playground.history import MIGRATIONS, SCHEMA_VERSION, NoHistory, RunLog, open_history, read_card

WRITER = ROOT / "tests" / "history_writer.py"


@pytest.fixture(scope="module")
def wrappers(registry):
    """Real wrappers of the bundled models (not loaded: recording needs only what they are)."""
    return {task: registry.get(task) for task in ("text_to_image", "text_to_speech", "captioning")}


def integrity(path: Path) -> str:
    with sqlite3.connect(path) as conn:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]


def test_new_log_has_current_schema_in_wal_mode(tmp_path):
    run_log = RunLog(tmp_path)
    assert run_log.schema_version() == SCHEMA_VERSION
    assert run_log.journal_mode() == "wal"
    assert run_log.runs() == [] and run_log.count() == 0


def test_an_older_database_is_migrated_with_its_runs(tmp_path, wrappers):
    with sqlite3.connect(tmp_path / "history.sqlite3") as conn:  # a database as version 1 of the app left it
        conn.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied TEXT NOT NULL)")
        for statement in MIGRATIONS[1]:
            conn.execute(statement)
        conn.execute("INSERT INTO schema_version VALUES (1, '2025-01-01T00:00:00+00:00')")
        conn.execute(
            "INSERT INTO runs (run_id, created, task, model, settings, seed, output_text) VALUES "
            "('20250101-000000-000000-abcd', '2025-01-01T00:00:00+00:00', 'captioning', "
            "'bundled/shapes-captioner', '{\"seed\": 3}', 3, 'a red circle')"
        )
    run_log = RunLog(tmp_path)
    assert run_log.schema_version() == SCHEMA_VERSION == 6
    old = run_log.get("20250101-000000-000000-abcd")
    assert (old["api_name"], old["kind"], old["output_text"], old["seed"]) == ("caption", "run", "a red circle", 3)
    assert old["username"] == ""  # made before logins were kept: an admin's (or, without --auth, everyone's)
    assert old["stopped"] == ""  # whole, as every run was before stops were recorded
    speech = wrappers["text_to_speech"]
    assert run_log.record(
        "synthesize",
        speech,
        speech.Options.parse(),
        seed=1,
        settings={"text": "hi"},
        outputs=[(22050, np.zeros(2205, np.int16))],
    )
    assert [c["task"] for c in run_log.runs()] == ["text_to_speech", "captioning"]


def test_a_newer_database_turns_history_off_with_a_reason(tmp_path):
    RunLog(tmp_path)
    with sqlite3.connect(tmp_path / "history.sqlite3") as conn:
        conn.execute("INSERT INTO schema_version VALUES (99, 'later')")
    run_log = open_history(tmp_path)
    assert isinstance(run_log, NoHistory) and "newer version of the app (schema 99" in run_log.note
    assert run_log.record("chat", None) is None


@pytest.mark.concurrency
def test_concurrent_writers_in_threads_and_processes_all_land(tmp_path):
    processes, threads, runs = 4, 4, 20
    RunLog(tmp_path)  # created once up front, as the app does at start
    started = time.perf_counter()
    procs = [
        subprocess.Popen(
            [sys.executable, str(WRITER), str(tmp_path), str(runs), str(threads)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    results = [p.communicate(timeout=240) for p in procs]
    elapsed = time.perf_counter() - started
    for proc, (out, err) in zip(procs, results):
        assert proc.returncode == 0, err[-2000:]
        assert "failed" not in out, out
    expected = processes * threads * runs
    run_log = RunLog(tmp_path)
    assert run_log.count() == expected
    assert len(list((tmp_path / "outputs" / "text_to_image").glob("*.png"))) == expected
    assert len({c["run_id"] for c in run_log.runs(limit=expected)}) == expected
    assert integrity(run_log.path) == "ok"
    print(f"{expected} runs from {processes} processes × {threads} threads in {elapsed:.1f} s")


@pytest.mark.concurrency
def test_writers_killed_mid_write_leave_every_finished_run(tmp_path):
    kept, rounds = 0, 3
    for _ in range(rounds):  # each round kills a writer, then the next one carries on with the same database
        proc = subprocess.Popen(
            [sys.executable, str(WRITER), str(tmp_path), "-1", "3"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        this_round = 0
        try:
            for line in proc.stdout:  # kill it while its threads are writing files and rows
                assert not line.startswith("failed"), line
                this_round = int(line.split()[1])
                if this_round >= 30:
                    break
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        assert this_round >= 30, proc.stderr.read()[-2000:]
        kept += this_round
        assert integrity(tmp_path / "history.sqlite3") == "ok"
        cards = RunLog(tmp_path).runs(limit=100_000)
        assert len(cards) >= kept  # every run reported as kept is there (a few more may have committed before the kill)
    run_log = RunLog(tmp_path)
    for card in cards:  # and every row's file is whole and carries that row's card
        with Image.open(run_log.file(card["output_files"][0]["path"])) as image:
            assert image.size == (64, 64) and json.loads(image.text["playground-run"])["run_id"] == card["run_id"]
    files = list((tmp_path / "outputs" / "text_to_image").iterdir())
    assert all(p.suffix == ".png" or ".part" in p.name for p in files)  # half-written files never take a run's name
    orphans = len([p for p in files if p.suffix == ".png"]) - len(cards)
    print(
        f"{rounds} kills after {kept} reported runs: {len(cards)} in the log, {orphans} finished files whose row "
        f"was not committed, {len([p for p in files if '.part' in p.name])} half-written files"
    )


def test_a_png_carries_its_run_card_and_restores_its_settings(tmp_path, registry):
    t2i = registry.load("text_to_image")
    options = t2i.Options.parse(steps=4, guidance_scale=5.0)
    result = t2i.generate("a small boat at night, on the right", "", options, seed=11)
    run_log = RunLog(tmp_path)
    card = run_log.record(
        "text_to_image",
        t2i,
        options,
        seed=11,
        outputs=[result.image],
        seconds=0.5,
        settings={
            "prompt": "a small boat at night, on the right",
            "negative_prompt": "",
            "show_noise_steps": False,
        },
    )
    png = run_log.file(card["output_files"][0]["path"])
    assert png.parent == tmp_path / "outputs" / "text_to_image" and png.stem == card["run_id"]
    with Image.open(png) as image:
        readable = image.text["parameters"]
        assert np.array_equal(np.asarray(image), np.asarray(result.image))
    assert "Prompt: a small boat at night, on the right" in readable and "Seed: 11" in readable
    dropped = tmp_path / "downloaded.png"
    dropped.write_bytes(png.read_bytes())
    restored = read_card(dropped)
    assert restored["settings"] == card["settings"] == run_log.get(card["run_id"])["settings"]
    assert restored["settings"] | {"prompt": None} == {
        "prompt": None,
        "negative_prompt": "",
        "show_noise_steps": False,
        "model": "bundled/picture-sd",
        "seed": 11,
        "guidance_scale": 5.0,
        "steps": 4,
        "width": 0,
        "height": 0,
    }
    assert card["revision"].startswith("sha256:") and card["versions"]["diffusers"]
    assert (card["backend"], card["device"], card["dtype"]) == ("diffusers", "cpu", "float32")


def test_wav_sidecar_input_copy_export_and_delete(tmp_path, wrappers):
    run_log = RunLog(tmp_path)
    speech, captioner = wrappers["text_to_speech"], wrappers["captioning"]
    clip = run_log.record(
        "synthesize",
        speech,
        speech.Options.parse(),
        seed=2,
        settings={"text": "hello"},
        outputs=[(22050, (np.sin(np.arange(4410) / 9) * 8000).astype(np.int16))],
    )
    wav = run_log.file(clip["output_files"][0]["path"])
    assert read_card(wav)["run_id"] == clip["run_id"]  # from the sidecar JSON beside it
    moved = tmp_path / "elsewhere.wav"
    moved.write_bytes(wav.read_bytes())
    assert read_card(moved, run_log)["run_id"] == clip["run_id"]  # no sidecar: found by its content
    upload = tmp_path / "upload.png"
    Image.new("RGB", (32, 32), (200, 30, 30)).save(upload)
    first = run_log.record(
        "caption", captioner, captioner.Options.parse(), seed=1, files={"image": str(upload)}, outputs=["a red square"]
    )
    second = run_log.record(
        "caption", captioner, captioner.Options.parse(), seed=2, files={"image": str(upload)}, outputs=["a red square"]
    )
    copy = run_log.file(first["input_files"][0]["path"])
    assert copy.read_bytes() == upload.read_bytes() and first["input_files"] == second["input_files"]
    assert run_log.replay_settings(first) == ({**first["settings"], "image": str(copy)}, [])
    assert [c["run_id"] for c in run_log.runs(text="red square")] == [second["run_id"], first["run_id"]]
    archive = zipfile.ZipFile(run_log.export([clip["run_id"], first["run_id"]]))
    names = set(archive.namelist())
    assert {
        f"{clip['run_id']}/run.json",
        f"{clip['run_id']}/{wav.name}",
        f"{clip['run_id']}/{wav.stem}.json",
        f"{first['run_id']}/output.txt",
        f"{first['run_id']}/input-image.png",
    } <= names
    run_log.delete([clip["run_id"], first["run_id"]])
    assert not wav.exists() and not wav.with_suffix(".json").exists()
    assert copy.exists()  # the second run still uses it
    run_log.delete([second["run_id"]])
    assert not copy.exists() and run_log.count() == 0


def test_a_full_disk_pauses_history_and_says_so(tmp_path):
    # A file-size limit makes the next write fail the way a full disk does; recording must not raise.
    script = f"""
import resource, signal, sys
sys.path.insert(0, {str(ROOT)!r})
import numpy as np
from PIL import Image
from playground.devices import Device
from playground.history import RunLog
from playground.models.text_to_image import DiffusersText2Image
from playground.registry import default_catalog
run_log = RunLog({str(tmp_path)!r})
spec = default_catalog()["text_to_image"].models[0]
wrapper = DiffusersText2Image(spec.id, str(spec.locate()), Device("cpu", "float32"), None)
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))
noise = Image.fromarray(np.random.default_rng(0).integers(0, 255, (256, 256, 3), dtype=np.uint8))
card = run_log.record("text_to_image", wrapper, wrapper.Options.parse(), seed=1, settings={{"prompt": "noise"}},
                      outputs=[noise])
print(card is None, run_log.note, run_log.count(), sep="|")
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    failed, note, count = done.stdout.strip().splitlines()[-1].split("|")
    assert failed == "True" and count == "0"
    assert note.startswith("History is paused: the disk holding") and "results are still shown" in note
    assert not any((tmp_path / "outputs").rglob("*.png"))  # nothing half-kept


def test_replay_through_the_api_gives_an_identical_image_and_reply(client, data_dir):
    seed = int(time.time() * 1000) % 2**31  # a seed no earlier run of this data dir used
    prompt = "a big bird in the snow, in the middle"
    first, _, _, _ = client.predict(prompt=prompt, seed=seed, steps=8, api_name="/text_to_image")
    run_log = RunLog(data_dir)
    card = next(c for c in run_log.runs(task="text_to_image", text=prompt, limit=20) if c["seed"] == seed)
    settings, missing = run_log.replay_settings(card)
    assert not missing and settings["steps"] == 8 and settings["model"] == "bundled/picture-sd"
    again, seed_again, _, _ = client.predict(**settings, api_name=f"/{card['api_name']}")
    stored = run_log.file(card["output_files"][0]["path"])
    pixels = [np.asarray(Image.open(p).convert("RGB")) for p in (first, again, stored)]
    assert seed_again == seed and np.array_equal(pixels[0], pixels[1]) and np.array_equal(pixels[0], pixels[2])
    assert Image.open(first).text["playground-run"]  # the served PNG carries its run card too

    history, _, _ = client.predict(message="Name a fruit.", seed=seed, max_new_tokens=12, api_name="/chat")
    chat = next(c for c in RunLog(data_dir).runs(task="chat", text="Name a fruit.", limit=20) if c["seed"] == seed)
    replayed, _, _ = client.predict(**chat["settings"], api_name="/chat")
    assert last_reply(replayed) == last_reply(history) == chat["output_text"]


@pytest.mark.parametrize("case", ["no-history", "unwritable"])
def test_generation_works_without_history(tmp_path, case):
    from gradio_client import Client

    if case == "no-history":
        data_dir, flags = tmp_path / "private", ("--no-history",)
    else:
        blocker = tmp_path / "a-file"
        blocker.write_text("not a folder")
        data_dir, flags = blocker / "data", ()  # cannot be created, whoever runs the tests
    with running_app(data_dir, tmp_path / "server.log", *flags) as url:
        client = Client(url, verbose=False)
        wav, seed, status, _ = client.predict(text="Nothing is kept.", seed=4, api_name="/synthesize")
        assert Path(wav).is_file() and "real-time factor" in status
        if case == "no-history":  # an image too: the kind of result history would otherwise write to disk
            image, _, _, _ = client.predict(
                prompt="a small boat at night, on the right", steps=2, seed=1, api_name="/text_to_image"
            )
            assert Path(image).is_file()
    log = (tmp_path / "server.log").read_text()
    if case == "no-history":
        assert not data_dir.exists() or not any(data_dir.iterdir())  # not a database, output, upload or temp file
    else:
        assert f"The data folder {data_dir} cannot be written" in log and "history is off" in log
