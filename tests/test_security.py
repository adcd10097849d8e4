"""Nobody let in without a login, no model code or pickles run unless asked, no files served beyond the minimum."""

import json
import re
import shutil
import urllib.error
import urllib.request

import pytest

from playground.errors import UserError


def fresh_registry(tmp_path, **kwargs):
    from playground.devices import DeviceChoice
    from playground.registry import Registry

    return Registry(tmp_path / "data", DeviceChoice("cpu"), model_dirs=[tmp_path.parent], **kwargs)  # the tiny models


def status_of(url: str, data: bytes | None = None) -> int:
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        return urllib.request.urlopen(request, timeout=10).status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_login_protects_the_page_and_the_api(data_dir, tmp_path, monkeypatch):
    from gradio_client import Client

    from conftest import run_app

    logins = tmp_path / "logins"
    logins.write_text("# one login per line\nbob:hunter2\n")
    monkeypatch.setenv("PLAYGROUND_AUTH_FILE", str(logins))
    app = run_app(data_dir, tmp_path / "server.log", "--auth", "alice:s3cret")
    url = next(app)
    try:
        with pytest.raises(Exception, match="credentials were not provided"):
            Client(url, verbose=False)
        with pytest.raises(ValueError, match="Could not login"):
            Client(url, auth=("alice", "wrong"), verbose=False)
        for path in ("config", "gradio_api/info"):
            assert status_of(url + path) == 401
        for path in ("gradio_api/call/synthesize", "gradio_api/queue/join", "gradio_api/upload"):
            assert status_of(url + path, data=json.dumps({"data": ["hi"]}).encode()) == 401
        for login in (("alice", "s3cret"), ("bob", "hunter2")):  # from --auth and from the file
            wav, _, status, _ = Client(url, auth=login, verbose=False).predict(text="Hello.", api_name="/synthesize")
            assert wav.endswith(".wav") and "real-time factor" in status
    finally:
        next(app, None)


@pytest.mark.parametrize(
    "flags, file_text, message",
    [
        (["--auth", "alice"], None, "--auth alice:… is not a user:password login"),
        (["--auth", ":pw"], None, "is not a user:password login"),
        ([], "ok:fine\nbroken\n", "line 2 of .* is not a user:password login"),
        (["--max-memory", "lots"], None, "'lots' is not a memory size"),
    ],
)
def test_bad_security_flags_are_named(tmp_path, monkeypatch, capsys, flags, file_text, message):
    from app import parse_args

    if file_text is not None:
        (tmp_path / "logins").write_text(file_text)
        monkeypatch.setenv("PLAYGROUND_AUTH_FILE", str(tmp_path / "logins"))
    else:
        monkeypatch.delenv("PLAYGROUND_AUTH_FILE", raising=False)
    with pytest.raises(SystemExit):
        parse_args(flags)
    assert re.search(message, capsys.readouterr().err)


def test_flags_reach_the_registry(monkeypatch):
    from app import parse_args

    monkeypatch.delenv("PLAYGROUND_AUTH_FILE", raising=False)
    args = parse_args(
        [
            "--auth",
            "a:b:c",
            "--trust-remote-code",
            "org/one",
            "--trust-remote-code",
            "org/two",
            "--allow-pickle",
            "--max-memory",
            "512MB",
        ]
    )
    assert args.auth == [("a", "b:c")] and args.trust_remote_code == ["org/one", "org/two"]
    assert args.allow_pickle and args.max_memory == 512 * 1024**2
    defaults = parse_args([])
    assert defaults.host == "127.0.0.1" and not defaults.share and not defaults.auth
    assert not defaults.allow_pickle and defaults.trust_remote_code == [] and defaults.max_memory is None


@pytest.fixture(scope="module")
def pickled_blip(tiny_blip, tmp_path_factory):
    """The tiny BLIP with its weights saved only as a pickle (pytorch_model.bin)."""
    import torch
    from safetensors.torch import load_file

    folder = tmp_path_factory.mktemp("pickled") / "blip"
    shutil.copytree(tiny_blip, folder)
    torch.save(load_file(folder / "model.safetensors"), folder / "pytorch_model.bin")
    (folder / "model.safetensors").unlink()
    assert (folder / "pytorch_model.bin").exists() and not list(folder.glob("*.safetensors"))
    return folder


def test_pickle_only_checkpoints_are_refused_unless_allowed(pickled_blip, tmp_path):
    from playground.models.base import LoadPolicy

    strict = fresh_registry(tmp_path)
    with pytest.raises(UserError, match=r"has only pickle weights .* --allow-pickle"):
        strict.load("captioning", str(pickled_blip))
    assert not strict.get("captioning", str(pickled_blip)).loaded
    allowed = fresh_registry(tmp_path, policy=LoadPolicy(allow_pickle=True))
    assert allowed.load("captioning", str(pickled_blip)).loaded


def test_safetensors_folders_load_without_any_opt_in(tiny_blip, tmp_path):
    wrapper = fresh_registry(tmp_path).load("captioning", str(tiny_blip))
    assert wrapper.loaded and not wrapper.trust_remote_code and wrapper.use_safetensors is True


def test_remote_code_runs_only_for_the_model_named(tiny_blip, tmp_path):
    from playground.models.base import LoadPolicy

    folder = tmp_path / "custom"
    shutil.copytree(tiny_blip, folder)
    marker = tmp_path / "code-ran"
    (folder / "custom_config.py").write_text(
        "from pathlib import Path\n"
        f"Path({str(marker)!r}).write_text('ran')\n"
        "from transformers import PretrainedConfig\n"
        "class CustomConfig(PretrainedConfig):\n    model_type = 'playground-custom'\n"
    )
    config = json.loads((folder / "config.json").read_text())
    config.update(model_type="playground-custom", auto_map={"AutoConfig": "custom_config.CustomConfig"})
    (folder / "config.json").write_text(json.dumps(config))

    with pytest.raises(UserError, match="could not be loaded"):
        fresh_registry(tmp_path).load("captioning", str(folder))
    assert not marker.exists()
    trusting = fresh_registry(tmp_path, policy=LoadPolicy(trust_remote_code=frozenset({str(folder)})))
    assert trusting.get("captioning", str(folder)).trust_remote_code
    with pytest.raises(UserError):  # the custom config names no model class; its code ran all the same
        trusting.load("captioning", str(folder))
    assert marker.read_text() == "ran"


def test_server_serves_no_arbitrary_files_and_caps_uploads(server):
    for target in ("/etc/passwd", "app.py", "../app.py"):
        assert status_of(f"{server}gradio_api/file={target}") in (403, 404)
    with urllib.request.urlopen(server + "config", timeout=10) as response:
        config = json.loads(response.read())
    assert config["max_file_size"] == 200 * 1024**2


def test_output_file_names_never_come_from_user_input(client):
    wav, _, _, _ = client.predict(text="../../etc/evil name", api_name="/synthesize")
    assert "evil" not in wav and ".." not in wav
