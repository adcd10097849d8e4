"""Uploads as an attacker sends them: each client has a total per hour, and Gradio's copies of uploads do not stay."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest
from PIL import Image

from conftest import run_app
from playground.history import RunLog

LOGINS = {"alice": "alice-pw", "bob": "bob-pw"}
MB = 1024**2


def upload(session: httpx.Client, url: str, *sizes: int) -> httpx.Response:
    """POST files of these sizes to Gradio's upload route in one request, as the page does."""
    files = [
        ("files", (f"noise-{i}.bin", os.urandom(size), "application/octet-stream")) for i, size in enumerate(sizes)
    ]
    return session.post(url + "gradio_api/upload", files=files, timeout=60)


def logged_in(url: str, user: str) -> httpx.Client:
    session = httpx.Client()
    assert session.post(url + "login", data={"username": user, "password": LOGINS[user]}).status_code == 200
    return session


@pytest.fixture(scope="module")
def quota_app(tmp_path_factory):
    """The app with two logins and a 2 MB quota, so that a test reaches it in a few uploads."""
    data = tmp_path_factory.mktemp("quota") / "data"
    flags = [f for user, password in LOGINS.items() for f in ("--auth", f"{user}:{password}")]
    app = run_app(data, data.parent / "server.log", *flags, "--upload-quota", "2MB")
    yield next(app)
    next(app, None)


def test_each_login_has_its_own_upload_quota(quota_app):
    alice, bob = logged_in(quota_app, "alice"), logged_in(quota_app, "bob")
    first = upload(alice, quota_app, int(1.5 * MB))
    assert first.status_code == 200 and Path(first.json()[0]).stat().st_size == int(1.5 * MB)
    second = upload(alice, quota_app, int(1.5 * MB))
    assert second.status_code == 413
    assert "You have uploaded 2 MB in the last hour" in second.json()["detail"]
    assert "it would pass the 2 MB quota: try again in" in second.json()["detail"]
    both = upload(bob, quota_app, int(1.5 * MB), int(1.5 * MB))  # the two files in one request
    assert both.status_code == 413 and "This upload is 3 MB, over the 2 MB" in both.json()["detail"]
    assert upload(bob, quota_app, int(1.5 * MB)).status_code == 200  # bob's own quota, untouched by alice's
    # a refused login costs nothing: Gradio answers 401 and the quota gives the bytes back
    assert upload(httpx.Client(), quota_app, int(1.5 * MB)).status_code == 401


def test_an_upload_that_does_not_state_its_size_is_refused(quota_app):
    alice = logged_in(quota_app, "alice")
    body = iter([b"--x\r\n", b"never ends"])  # a generator body goes out chunked, without Content-Length
    refused = alice.post(
        quota_app + "gradio_api/upload", content=body, headers={"content-type": "multipart/form-data; boundary=x"}
    )
    assert refused.status_code == 411 and "must state its size" in refused.json()["detail"]


def test_without_logins_each_address_has_its_own_quota(tmp_path):
    data = tmp_path / "data"
    app = run_app(data, tmp_path / "server.log", "--upload-quota", "2MB")
    url = next(app)
    try:
        here = httpx.Client()
        other = httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2"))  # another loopback address
        assert upload(here, url, int(1.5 * MB)).status_code == 200
        assert upload(here, url, int(1.5 * MB)).status_code == 413
        assert upload(other, url, int(1.5 * MB)).status_code == 200
    finally:
        next(app, None)


def test_uploads_no_run_kept_are_removed_and_the_runs_copies_stay(registry, tmp_path):
    from gradio_client import Client, handle_file

    from playground.app_process import free_port
    from playground.ui import upload_quota
    from playground.ui.app import build_app

    run_log = RunLog(tmp_path / "data")
    demo = build_app(registry, run_log)
    assert demo.delete_cache == upload_quota.CACHE_CLEANUP
    port = free_port()
    demo.queue().launch(server_port=port, prevent_thread_lock=True, quiet=True, allowed_paths=run_log.served_paths())
    url = f"http://127.0.0.1:{port}/"
    try:
        [unused] = upload(httpx.Client(), url, 4096).json()  # uploaded, never run
        picture = tmp_path / "red.png"
        Image.new("RGB", (64, 64), (220, 40, 40)).save(picture)
        Client(url, verbose=False).predict(image=handle_file(str(picture)), api_name="/caption")
        assert Path(unused).is_file()
    finally:
        demo.close()  # the cleanup at exit; the scheduled one removes the same files once they are an hour old
    [card] = run_log.runs()
    kept = run_log.file(card["input_files"][0]["path"])
    assert not Path(unused).exists()
    assert kept is not None and kept.read_bytes() == picture.read_bytes()
