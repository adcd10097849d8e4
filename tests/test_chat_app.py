"""The Chat tab as people use it: Enter sends, the per-update work does not grow with the session, and a
stopped reply says it was stopped, on the page and in History."""

from __future__ import annotations

import pickle

import pytest

from conftest import ARTIFACTS, open_app


@pytest.fixture(scope="module")
def app(registry, tmp_path_factory):
    """The whole app served from this process with a History of its own, so the test can look at Gradio's
    session state and at what History kept."""
    from playground.app_process import free_port
    from playground.history import open_history
    from playground.ui.app import build_app

    run_log = open_history(tmp_path_factory.mktemp("chat-app-data"))
    demo = build_app(registry, run_log)
    demo.queue(default_concurrency_limit=2)
    port = free_port()
    demo.launch(server_port=port, prevent_thread_lock=True, quiet=True)
    yield demo, run_log, f"http://127.0.0.1:{port}/"
    demo.close()


def tracked_bytes(demo, session_hash: str, api_name: str) -> int:
    """The size of the session state Gradio hashes on every streamed update of ``api_name``."""
    fn = next(f for f in demo.fns.values() if f.api_name == api_name)
    state = demo.server_app.state_holder[session_hash]
    ids, _ = demo.get_state_ids_to_track(fn, state)
    return sum(len(pickle.dumps(state[i])) for i in ids)


def test_the_hashed_session_state_does_not_grow_with_replies(app):
    """Gradio deep-hashes each tracked gr.State of the session on every streamed update, holding the GIL: a
    state that grew with each reply (the tokens' candidates) slowed every later reply. After 20 replies with the
    explain data on, what it hashes is still a short key."""
    from gradio_client import Client

    demo, _, url = app
    client = Client(url, verbose=False)
    sizes = []
    for i in range(20):
        client.predict(message=f"Count to {i + 3}.", max_new_tokens=12, seed=i, api_name="/chat")
        sizes.append(tracked_bytes(demo, client.session_hash, "chat"))
    print(f"tracked state after each reply: {sizes} bytes")
    assert max(sizes) < 200 and sizes[-1] == sizes[0]


def test_enter_sends_and_shift_enter_adds_a_line(app, browser):
    _, _, url = app
    page = open_app(browser, url)
    box = page.locator("#chat-message textarea")
    box.click()
    box.type("What is the capital")
    box.press("Shift+Enter")
    box.type("of France?")
    assert box.input_value() == "What is the capital\nof France?"  # a new line, nothing sent yet
    assert page.locator(".message.user, [data-testid='user']").count() == 0
    box.press("Enter")
    page.locator("#chat-status").get_by_text("tokens/s").wait_for(timeout=60_000)
    assert box.input_value() == ""
    assert "of France?" in page.locator(".message.user, [data-testid='user']").last.inner_text()
    page.locator("#chat-tokens").get_by_text("Paris").first.wait_for(timeout=10_000)  # the explain view has it
    page.screenshot(path=ARTIFACTS / "chat-enter.png", full_page=True)
    page.close()


def test_a_stopped_reply_says_so_on_the_page_and_in_history(app, browser, registry):
    _, run_log, url = app
    page = open_app(browser, url)
    page.locator("#chat-message textarea").fill("Tell me a very long story about a dragon and a knight.")
    page.locator("#chat-message textarea").press("Enter")
    page.locator("#chat-status").get_by_text("Generating").wait_for(timeout=60_000)
    page.wait_for_timeout(500)
    page.get_by_role("button", name="Stop").first.click()
    status = page.locator("#chat-status").get_by_text("Stopped after")
    status.wait_for(timeout=10_000)
    shown = status.inner_text()
    page.screenshot(path=ARTIFACTS / "chat-stopped.png", full_page=True)
    page.close()
    card = run_log.runs(task="chat")[0]
    assert card["stopped"].startswith("Stopped after") and card["stopped"].split(" ·")[0] in shown
    assert card["output_text"].strip()  # the partial reply is kept
