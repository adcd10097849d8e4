"""Shared fixtures: the real bundled models, tiny models built from configs, and a live server."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"  # the tests prove everything works without the hub
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
SERVER_LOGS: list[Path] = []  # the started apps' logs, whose errors a failed test's report shows


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test that used a started app shows the errors that app logged, so CI's output holds the cause."""
    report = yield
    if report.failed and SERVER_LOGS and {"server", "presenter_server"} & set(getattr(item, "fixturenames", ())):
        for log in SERVER_LOGS:
            errors = server_errors(log)
            if errors:
                report.sections.append((f"errors in {log.parent.name}/{log.name}", errors))
    return report


def server_errors(log: Path, limit: int = 6000) -> str:
    """The log's ERROR records with their tracebacks, and bare tracebacks (the last ``limit`` characters)."""
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    kept, inside = [], False
    for line in lines:
        if re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", line):  # a new log record ends the one before
            inside = " ERROR " in line or " CRITICAL " in line
        elif line.startswith("Traceback"):
            inside = True
        if inside:
            kept.append(line)
    return "\n".join(kept)[-limit:]


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """A data dir kept between local runs so the one-off GGUF conversion is reused."""
    path = Path(os.environ.get("PLAYGROUND_TEST_DATA", ROOT / ".cache" / "test-data"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory) -> Path:
    """Where the tests' own model folders live (the tiny models, broken copies): a --model-dir for the app."""
    return tmp_path_factory.getbasetemp()


@pytest.fixture(scope="session")
def registry(data_dir, model_dir):
    from playground.devices import DeviceChoice
    from playground.registry import Registry

    return Registry(data_dir, DeviceChoice("cpu"), model_dirs=[model_dir])


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("tiny-models")


@pytest.fixture(scope="session")
def tiny_sd(tiny_dir) -> Path:
    from tiny_models import build_tiny_sd

    return build_tiny_sd(tiny_dir / "sd")


@pytest.fixture(scope="session")
def tiny_blip(tiny_dir) -> Path:
    from tiny_models import build_tiny_blip

    return build_tiny_blip(tiny_dir / "blip")


@pytest.fixture(scope="session")
def tiny_wav2vec2(tiny_dir) -> Path:
    from tiny_models import build_tiny_wav2vec2

    return build_tiny_wav2vec2(tiny_dir / "wav2vec2")


@pytest.fixture(scope="session")
def server(data_dir, model_dir, tmp_path_factory):
    """The real app, started as a subprocess the way users start it; yields its URL."""
    yield from run_app(data_dir, tmp_path_factory.mktemp("server") / "server.log", "--model-dir", str(model_dir))


@pytest.fixture(scope="session")
def presenter_server(data_dir, model_dir, tmp_path_factory):
    """The app started with ``--presenter``; yields its URL."""
    yield from run_app(
        data_dir, tmp_path_factory.mktemp("presenter") / "server.log", "--presenter", "--model-dir", str(model_dir)
    )


def run_app(data_dir: Path, log: Path, *flags: str):
    """Start app.py with ``flags``, wait until it serves, yield its URL, stop it afterwards (also on close())."""
    from playground.app_process import AppDidNotStart, running_app

    SERVER_LOGS.append(log)

    try:
        with running_app(data_dir, log, *flags) as url:
            yield url
    except AppDidNotStart as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="session")
def client(server):
    from gradio_client import Client

    return Client(server, verbose=False)


@pytest.fixture(scope="session")
def speech_wav(registry, tmp_path_factory) -> tuple[Path, str]:
    """A WAV of a known sentence, spoken by the bundled Piper voice."""
    import soundfile as sf

    sentence = "The quick brown fox jumps over the lazy dog."
    tts = registry.load("text_to_speech")
    speech = tts.synthesize(sentence, tts.Options.parse())
    path = tmp_path_factory.mktemp("audio") / "fox.wav"
    sf.write(path, speech.samples, speech.sample_rate)
    return path, sentence


def words(text: str) -> list[str]:
    """Lower-case words without punctuation, for comparing transcripts."""
    return "".join(c if c.isalnum() or c.isspace() else " " for c in text.lower()).split()


CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--metrics-recording-only",
]


@pytest.fixture(scope="session")
def browser():
    """Debian's headless Chromium through Playwright (which cannot download its own browser here)."""
    import shutil

    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("Debian's chromium is not installed: run make test, which installs it")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


def open_app(browser, url: str, width: int = 1400, height: int = 1000):
    """A new page on the app, once its header says which device it runs on."""
    page = browser.new_page(viewport={"width": width, "height": height})
    page.goto(url)
    page.wait_for_selector("text=Running on", timeout=60_000)
    return page
