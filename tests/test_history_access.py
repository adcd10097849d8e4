"""History as an attacker sees it: a forged run card reads no file, and under --auth each login has its own runs."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import expect

from conftest import ARTIFACTS, ROOT, open_app, run_app
from playground.errors import UserError
from playground.history import HistoryAccess, RunLog, read_card

SECRETS = [ROOT / ".git" / "config", ROOT / ".venv" / "pyvenv.cfg"]  # files the attack in issue 21 read


def forged(settings: dict | None = None, input_files: list | None = None, **fields) -> dict:
    """The card from issue 21: a captioning run whose image setting names a file of the server's."""
    return {
        "app": "generative-ai-playground",
        "card_version": 1,
        "run_id": "x",
        "task": "captioning",
        "kind": "run",
        "api_name": "caption",
        "model": "bundled/shapes-captioner",
        "settings": {"image": str(SECRETS[0])} if settings is None else settings,
        "input_files": input_files or [],
        "output_files": [],
        **fields,
    }


@pytest.fixture
def log_with_a_caption(tmp_path, registry):
    """A run log with one real captioning run of an uploaded picture (its copy is in inputs/)."""
    run_log = RunLog(tmp_path / "data")
    captioner = registry.get("captioning")
    upload = tmp_path / "upload.png"
    Image.new("RGB", (32, 32), (200, 30, 30)).save(upload)
    card = run_log.record(
        "caption",
        captioner,
        captioner.Options.parse(),
        seed=1,
        files={"image": str(upload)},
        outputs=["a red square"],
        user="alice",
    )
    return run_log, card


def attacks(run_log: RunLog, tmp_path: Path) -> dict[str, dict]:
    """Forged cards, each trying another way to point an image setting at a file outside inputs/ and outputs/."""
    data = run_log.data_dir
    other = tmp_path / "other-instance"
    RunLog(other)  # another instance's database, as the issue read it
    (data / "inputs").mkdir(exist_ok=True)
    (data / "inputs" / "link.png").symlink_to(SECRETS[0])  # a link planted inside inputs/
    (data / "outputs" / "captioning").mkdir(parents=True, exist_ok=True)
    (data / "outputs" / "captioning" / "dir-link").symlink_to(ROOT / ".git")
    up = os.path.relpath(SECRETS[0], data)
    return {
        "the card in the issue": forged(),
        "the venv's config": forged({"image": str(SECRETS[1])}),
        "another instance's database": forged({"image": str(other / "history.sqlite3")}),
        "this instance's database": forged({"image": str(data / "history.sqlite3")}),
        "a relative setting": forged({"image": "../" * 12 + "etc/passwd"}),
        "an absolute input path": forged(input_files=[{"name": "image", "path": str(SECRETS[0])}]),
        "a ../ input path": forged(input_files=[{"name": "image", "path": up}]),
        "../ from inside inputs/": forged(input_files=[{"name": "image", "path": "inputs/../history.sqlite3"}]),
        "a symlinked input": forged(input_files=[{"name": "image", "path": "inputs/link.png"}]),
        "a symlinked folder": forged(input_files=[{"name": "image", "path": "outputs/captioning/dir-link/config"}]),
        "a glob for a sha256": forged(input_files=[{"name": "image", "path": "nope", "sha256": "*"}]),
        "a glob that would match": forged(input_files=[{"name": "image", "path": "nope", "sha256": "[0-9a-f]" * 8}]),
        "a path as sha256": forged(input_files=[{"name": "image", "path": "", "sha256": "../history"}]),
        "a sha256 that names no copy": forged(input_files=[{"name": "image", "path": "", "sha256": "ab" * 32}]),
        "a file in a chat message": forged({"history": [{"role": "user", "content": {"path": str(SECRETS[0])}}]}),
        "a file url in a setting": forged({"image": {"url": "http://127.0.0.1:1/beacon.png"}}),
    }


def test_a_forged_card_fills_no_setting_with_a_server_file(log_with_a_caption, tmp_path):
    run_log, _ = log_with_a_caption
    for name, card in attacks(run_log, tmp_path).items():
        for user in (None, "alice"):
            settings, missing = run_log.replay_settings(card, file_settings={"image"}, user=user)
            assert settings == {}, (name, settings)  # every forged setting named a file: none is left
            assert missing in (["image"], ["history"]), (name, missing)


def test_a_glob_in_sha256_tells_nothing_about_what_exists(log_with_a_caption):
    run_log, card = log_with_a_caption
    digest = card["input_files"][0]["sha256"]
    for sha in ("*", digest[:32] + "*", digest[:31] + "?", digest.upper() + "0", digest[:63]):
        probe = forged(input_files=[{"name": "image", "path": "gone.png", "sha256": sha}])
        assert run_log.replay_settings(probe)[1] == ["image"], sha
    # the real digest finds the copy even when the path is gone: the one case a sha256 is used
    real = forged(input_files=[{"name": "image", "path": "gone.png", "sha256": digest}])
    settings, missing = run_log.replay_settings(real)
    assert (
        not missing
        and Path(settings["image"]).read_bytes() == run_log.file(card["input_files"][0]["path"]).read_bytes()
    )
    # a copy whose bytes no longer match its digest is not used either
    run_log.file(card["input_files"][0]["path"]).write_bytes(b"changed")
    assert run_log.replay_settings(real)[1] == ["image"]
    assert run_log.find_output("%") is None and run_log.find_output("_" * 64) is None


def test_a_genuine_card_still_restores_its_input(log_with_a_caption, tmp_path):
    run_log, card = log_with_a_caption
    copy = run_log.file(card["input_files"][0]["path"])
    dropped = tmp_path / "card.json"
    dropped.write_text(json.dumps(card))
    settings, missing = run_log.replay_settings(read_card(dropped), file_settings={"image"})
    assert settings["image"] == str(copy) and not missing and settings["model"] == "bundled/picture-captioner"
    assert run_log.replay_settings(card, user="alice")[0]["image"] == str(copy)
    assert "image" not in run_log.replay_settings(card, user="bob")[0]  # not one of bob's runs' files


@pytest.mark.parametrize(
    "text",
    [
        "[]",
        '{"app": "generative-ai-playground", "settings": {}, "api_name": "caption", '
        '"task": "captioning", "run_id": "x", "model": "m", "input_files": "inputs/a.png"}',
        '{"app": "generative-ai-playground", "settings": {}, "api_name": "caption", '
        '"task": ["captioning"], "run_id": "x", "model": "m"}',
    ],
)
def test_a_card_of_the_wrong_shape_is_refused_by_name(tmp_path, text):
    path = tmp_path / "card.json"
    path.write_text(text)
    with pytest.raises(UserError, match="'card.json' is not a run card made by this app"):
        read_card(path)


def test_each_login_reads_changes_and_exports_only_its_own_runs(tmp_path, registry):
    run_log = RunLog(tmp_path)
    speech = registry.get("text_to_speech")
    made = {
        user: run_log.record(
            "synthesize",
            speech,
            speech.Options.parse(),
            seed=1,
            settings={"text": f"{user}'s words"},
            user=user,
            outputs=[(22050, np.full(2205, 100 * level, np.int16))],
        )  # each its own sound
        for level, user in enumerate(("alice", "bob"))
    }
    assert {c["username"] for c in run_log.runs()} == {"alice", "bob"}  # None: every run (no --auth, an admin)
    assert [c["input_text"] for c in run_log.runs(user="alice")] == ["alice's words"]
    assert run_log.count(user="bob") == 1 and run_log.count(user="carol") == 0 and run_log.models(user="carol") == []
    assert run_log.get(made["bob"]["run_id"], user="alice") is None
    with pytest.raises(UserError, match="Pick at least one run"):
        run_log.export([made["bob"]["run_id"]], user="alice")
    assert run_log.delete([made["bob"]["run_id"]], user="alice") == 0 and run_log.count() == 2
    wav = made["alice"]["output_files"][0]["path"]
    assert run_log.file(wav, user="alice") and run_log.file(wav, user="bob") is None
    assert read_card(run_log.file(wav))["run_id"] == made["alice"]["run_id"]
    assert "username" not in read_card(run_log.file(wav))  # the login stays out of files that are passed on
    (run_log.file(wav).with_suffix(".json")).unlink()  # no sidecar: the card is found by the WAV's content
    assert read_card(run_log.file(wav), run_log, user="alice")["run_id"] == made["alice"]["run_id"]
    with pytest.raises(UserError, match="has no run card here"):
        read_card(run_log.file(wav), run_log, user="bob")
    exported = run_log.export([made["alice"]["run_id"]], user="alice")
    assert exported.name.startswith(made["alice"]["run_id"]) and exported.name != f"{made['alice']['run_id']}.zip"
    assert run_log.delete([made["bob"]["run_id"]], user="bob") == 1 and run_log.count() == 1


def test_access_policy():
    assert HistoryAccess().user_of(None) is None and HistoryAccess().user_of("alice") is None
    per_login = HistoryAccess(per_login=True, admins=frozenset({"carol"}))
    assert per_login.user_of("alice") == "alice" and per_login.user_of("carol") is None
    with pytest.raises(UserError, match="Log in"):
        per_login.user_of(None)


def test_an_older_database_gains_the_login_column(tmp_path):
    RunLog(tmp_path)
    with sqlite3.connect(tmp_path / "history.sqlite3") as conn:
        columns = [row[1] for row in conn.execute("PRAGMA table_info(runs)")]
    assert "username" in columns


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--admin", "carol"], "--admin needs --auth"),
        (["--shared-history"], "--shared-history needs --auth"),
        (["--auth", "alice:pw", "--admin", "carol"], "--admin carol is not an --auth login"),
    ],
)
def test_history_flags_are_checked(monkeypatch, capsys, flags, message):
    from app import parse_args

    monkeypatch.delenv("PLAYGROUND_AUTH_FILE", raising=False)
    with pytest.raises(SystemExit):
        parse_args(flags)
    assert message in capsys.readouterr().err
    args = parse_args(["--auth", "alice:pw", "--auth", "carol:pw", "--admin", "carol", "--shared-history"])
    assert args.admin == ["carol"] and args.shared_history


# ---------------------------------------------------------------- in the browser


def restore(page, card: dict, path: Path) -> str:
    """Drop ``card`` as a run-card JSON on History → Restore, press Use these settings; the message shown."""
    path.write_text(json.dumps(card))
    page.get_by_role("tab", name="History").first.click()  # Gradio also lists the tabs in its overflow menu
    clear = page.locator("#history-drop button[aria-label='Clear']")  # the file dropped before
    if clear.count():
        clear.click()
    page.locator("#history-drop input[type=file]").set_input_files(str(path))
    expect(page.locator("#history-title")).to_contain_text(f"Run {card['run_id']}", timeout=30_000)
    toasts = page.locator(".toast-body")
    before = toasts.count()
    page.locator("#history-use").click()
    expect(toasts).to_have_count(before + 1, timeout=30_000)
    text = toasts.last.inner_text()
    for close in page.locator(".toast-close").all():
        close.click()
    return text


def copies_of(folder: Path, secret: Path) -> list[Path]:
    """Files under ``folder`` (Gradio's cache) with the secret's bytes."""
    content = secret.read_bytes()
    return [
        p for p in folder.rglob("*") if p.is_file() and p.stat().st_size == len(content) and p.read_bytes() == content
    ]


@pytest.fixture(scope="module")
def open_instance(tmp_path_factory):
    """The app without --auth on a data dir of its own, as in issue 21."""
    data = tmp_path_factory.mktemp("open-instance") / "data"
    app = run_app(data, data.parent / "server.log")
    yield next(app), data
    next(app, None)


def test_a_forged_card_does_not_get_a_file_through_restore(browser, open_instance, tmp_path):
    from gradio_client import Client, handle_file

    url, data = open_instance
    picture = tmp_path / "blue.png"
    Image.new("RGB", (64, 64), (30, 40, 220)).save(picture)
    Client(url, verbose=False).predict(image=handle_file(str(picture)), api_name="/caption")
    [genuine] = RunLog(data).runs(task="captioning")
    page = open_app(browser, url)
    try:
        image = page.locator("#caption-image img")
        for name, card in (
            ("issue", forged()),
            ("venv", forged({"image": str(SECRETS[1])})),
            ("database", forged({"image": str(data / "history.sqlite3")})),
            ("absolute", forged(input_files=[{"name": "image", "path": str(SECRETS[0])}])),
            ("up", forged(input_files=[{"name": "image", "path": os.path.relpath(SECRETS[0], data)}])),
            ("glob", forged(input_files=[{"name": "image", "path": "x", "sha256": "*"}])),
        ):
            message = restore(page, {**card, "run_id": f"forged-{name}"}, tmp_path / f"{name}.json")
            page.wait_for_timeout(1000)  # the toast comes a moment before the tab's controls change
            expect(image).to_have_count(0)
            assert not copies_of(data / "tmp", SECRETS[0]) and not copies_of(data / "tmp", SECRETS[1]), name
            assert "The input image is not in this app's data folder" in message, (name, message)
        page.screenshot(path=ARTIFACTS / "history_forged_card_refused.png", full_page=True)
        # refused quietly: no handler failed (a failed one marks every control of the tab "Error")
        assert "Traceback" not in (data.parent / "server.log").read_text()
        # the same steps with the app's own card do restore the picture: the check above would see a leak
        message = restore(page, genuine, tmp_path / "genuine.json")
        assert "Restored" in message and "not in this app's data folder" not in message
        expect(image).to_have_count(1)
    finally:
        page.close()


# ---------------------------------------------------------------- two logins on a real server

LOGINS = {"alice": "alice-pw", "bob": "bob-pw", "carol": "carol-pw"}


@pytest.fixture(scope="module")
def auth_instance(tmp_path_factory):
    data = tmp_path_factory.mktemp("auth-instance") / "data"
    flags = [f for user, password in LOGINS.items() for f in ("--auth", f"{user}:{password}")]
    app = run_app(data, data.parent / "server.log", *flags, "--admin", "carol")
    yield next(app), data
    next(app, None)


def log_in(browser, url: str, user: str):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(url)
    page.get_by_label("username").fill(user)
    page.get_by_label("password").fill(LOGINS[user])
    page.get_by_role("button", name="Login").click()
    page.wait_for_selector("text=Running on", timeout=60_000)
    return page


def listed(page) -> str:
    page.get_by_role("tab", name="History").first.click()  # Gradio also lists the tabs in its overflow menu
    page.get_by_role("button", name="Refresh").click()
    page.wait_for_timeout(500)
    expect(page.locator("#history-note")).to_contain_text("run", timeout=30_000)
    return page.locator("#history-cards").inner_text()


def test_each_login_sees_and_restores_only_its_own_runs(browser, auth_instance, tmp_path):
    from gradio_client import Client, handle_file

    url, data = auth_instance
    for user, colour in (("alice", (220, 40, 40)), ("bob", (40, 220, 40))):
        client = Client(url, auth=(user, LOGINS[user]), verbose=False)
        client.predict(text=f"Only {user} said this.", api_name="/synthesize")
        picture = tmp_path / f"{user}.png"
        Image.new("RGB", (64, 64), colour).save(picture)
        client.predict(image=handle_file(str(picture)), api_name="/caption")
    cards = RunLog(data).runs()
    assert sorted(c["username"] for c in cards) == ["alice", "alice", "bob", "bob"]
    bobs_caption = next(c for c in cards if c["username"] == "bob" and c["task"] == "captioning")
    alices_caption = next(c for c in cards if c["username"] == "alice" and c["task"] == "captioning")

    alice = log_in(browser, url, "alice")
    try:
        shown = listed(alice)
        assert "Only alice said this." in shown and "Only bob said this." not in shown
        expect(alice.locator("#history-note")).to_contain_text("2 runs kept for alice")
        message = restore(alice, bobs_caption, tmp_path / "bobs.json")  # bob's real card, passed on to alice
        assert "The input image is not in this app's data folder" in message
        expect(alice.locator("#caption-image img")).to_have_count(0)
        message = restore(alice, alices_caption, tmp_path / "alices.json")
        assert "not in this app's data folder" not in message
        expect(alice.locator("#caption-image img")).to_have_count(1)
        alice.screenshot(path=ARTIFACTS / "history_own_runs.png", full_page=True)
    finally:
        alice.close()
    carol = log_in(browser, url, "carol")  # the --admin login
    try:
        shown = listed(carol)
        assert "Only alice said this." in shown and "Only bob said this." in shown
    finally:
        carol.close()


def test_a_stopped_run_is_kept_under_the_login_that_stopped_it(registry, tmp_path):
    """A Stop ends a run by closing its handler, outside the step where Gradio names the login: it is still alice's."""
    from gradio_client import Client

    from playground.app_process import free_port
    from playground.ui.app import build_app

    run_log = RunLog(tmp_path / "data")
    demo = build_app(registry, run_log, access=HistoryAccess(per_login=True))
    demo.queue(default_concurrency_limit=2)
    port = free_port()
    demo.launch(
        server_port=port,
        prevent_thread_lock=True,
        quiet=True,
        auth=[("alice", LOGINS["alice"])],
        allowed_paths=run_log.served_paths(),
    )
    try:
        chat = registry.load("chat")
        before = chat.forward_passes
        job = Client(f"http://127.0.0.1:{port}/", auth=("alice", LOGINS["alice"]), verbose=False).submit(
            message="Tell me a long story about a dragon.", max_new_tokens=2048, seed=1, api_name="/chat"
        )
        deadline = time.time() + 120
        while chat.forward_passes - before < 4 and time.time() < deadline:
            time.sleep(0.05)
        job.cancel()
        while not run_log.count() and time.time() < deadline:
            time.sleep(0.1)
        [card] = run_log.runs()  # the partial reply, kept when the Stop closed the handler
        assert card["api_name"] == "chat" and card["username"] == "alice"
    finally:
        demo.close()
