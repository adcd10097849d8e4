"""Faults: a model that fails to load is named plainly and retried next time; a cancelled run stops at once."""

import shutil
import threading
import time

import pytest
from gradio_client import handle_file

from playground.errors import UserError


def job_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "playground-job" and t.is_alive()]


def wait_until(condition, timeout: float) -> float:
    """Seconds until ``condition()`` held; fails after ``timeout``."""
    start = time.perf_counter()
    while not condition():
        assert time.perf_counter() - start < timeout, "timed out"
        time.sleep(0.02)
    return time.perf_counter() - start


@pytest.fixture
def broken_blip(tiny_blip, tmp_path):
    """A copy of the tiny BLIP whose weights file is cut in half."""
    folder = tmp_path / "blip"
    shutil.copytree(tiny_blip, folder)
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    return folder


def test_corrupt_model_is_named_other_tabs_work_and_the_next_attempt_retries(client, broken_blip, tiny_blip, tmp_path):
    from PIL import Image

    picture = tmp_path / "red.png"
    Image.new("RGB", (32, 32), "red").save(picture)
    with pytest.raises(Exception, match=r"could not be loaded: a weights file is damaged or incomplete"):
        client.predict(image=handle_file(str(picture)), model=str(broken_blip), api_name="/caption")
    wav, _, _, _ = client.predict(text="Still working.", api_name="/synthesize")
    assert wav.endswith(".wav")
    shutil.copy(tiny_blip / "model.safetensors", broken_blip / "model.safetensors")  # repaired: try again
    caption, _, _, status = client.predict(image=handle_file(str(picture)), model=str(broken_blip), api_name="/caption")
    assert isinstance(caption, str) and "Captioned a 32×32 image" in status


def test_missing_weights_are_named(tiny_blip, tmp_path):
    from playground.devices import DeviceChoice
    from playground.registry import Registry

    folder = tmp_path / "blip"
    shutil.copytree(tiny_blip, folder)
    (folder / "model.safetensors").unlink()
    registry = Registry(tmp_path / "data", DeviceChoice("cpu"), model_dirs=[tmp_path])
    for _ in range(2):  # the failure is not remembered: each attempt loads again
        with pytest.raises(UserError, match=r"its weights file \(model.safetensors\) is missing"):
            registry.load("captioning", str(folder))
    shutil.copy(tiny_blip / "model.safetensors", folder / "model.safetensors")
    assert registry.load("captioning", str(folder)).loaded


@pytest.fixture(scope="module")
def local_url(registry):
    """The whole app served from this process, so the test can see its threads and its model's forward passes."""
    from playground.app_process import free_port
    from playground.ui.app import build_app

    demo = build_app(registry)
    demo.queue(default_concurrency_limit=2)
    port = free_port()
    demo.launch(server_port=port, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}/"
    demo.close()


@pytest.fixture(scope="module")
def local_app(local_url):
    from gradio_client import Client

    return Client(local_url, verbose=False)


@pytest.mark.concurrency
def test_cancelled_image_generation_stops_its_worker_within_a_second(local_app, registry, tiny_sd):
    """The cancel reaches the denoising loop: no step runs a second after it, and the worker thread ends."""
    wrapper = registry.load("text_to_image", str(tiny_sd))
    steps = []
    hook = wrapper.pipe.unet.register_forward_hook(lambda *_: steps.append(time.perf_counter()))
    try:
        assert not job_threads()
        # 256 px: each step takes long enough that the 100 could not all be done by the time the cancel arrives
        job = local_app.submit(
            prompt="a red circle",
            model=str(tiny_sd),
            steps=100,
            width=256,
            height=256,
            seed=1,
            guidance_scale=1.0,
            api_name="/text_to_image",
        )
        wait_until(lambda: len(steps) > 5, timeout=60)
        assert not job.done()
        job.cancel()
        time.sleep(1.0)  # the step running at the cancel may finish; none may start after this
        after_a_second = len(steps)
        wait_until(lambda: not job_threads(), timeout=10)
        time.sleep(1.0)
        assert len(steps) == after_a_second < 100, f"denoising went on after the cancel: {len(steps)} steps"
        print(f"stopped after {after_a_second} of 100 steps")
    finally:
        hook.remove()


STORY = "Tell me a long story about a dragon."


def stops_generating(chat, start, stop, what: str, within: float = 10.0) -> int:
    """Run ``start()``, wait for a few forward passes, run ``stop()``; within ``within`` seconds a whole second must
    pass with no forward pass. Unstopped, the 2048-token reply would go on for far longer than that (a minute or
    more on 2 cores); how soon the stop lands depends on the machine's load, so that is printed, not asserted."""
    before = chat.forward_passes
    start()
    wait_until(lambda: chat.forward_passes - before > 3, timeout=60)
    stopped = time.perf_counter()
    stop()
    while True:
        passes = chat.forward_passes
        time.sleep(1.0)
        if chat.forward_passes == passes:
            break
        assert time.perf_counter() - stopped < within, f"the model kept generating after {what}"
    print(f"quiet {time.perf_counter() - stopped - 1:.1f} s after {what}")
    return passes - before


@pytest.mark.concurrency
def test_cancelled_chat_stops_generating_within_a_second(local_app, registry):
    jobs = []
    tokens = stops_generating(
        registry.load("chat"),
        lambda: jobs.append(
            local_app.submit(message=STORY, max_new_tokens=2048, temperature=0.8, seed=1, api_name="/chat")
        ),
        lambda: jobs[0].cancel(),
        "the cancel",
    )
    print(f"chat stopped after {tokens} tokens")


@pytest.mark.concurrency
def test_closing_the_browser_tab_stops_the_reply(local_url, registry, browser):
    from conftest import open_app

    page = open_app(browser, local_url)

    def start():
        page.locator("#chat-message textarea").fill(STORY)
        page.locator("#chat-send").click()

    tokens = stops_generating(registry.load("chat"), start, page.close, "its browser tab was closed")
    print(f"reply stopped after {tokens} tokens once the tab closed")
