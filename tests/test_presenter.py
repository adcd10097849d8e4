"""``--presenter`` in headless Chromium at projector sizes: large type, Advanced accordions, ready chips, no paths."""

import re

import pytest
from playwright.sync_api import expect  # to_have_count retries: output components update one by one

from conftest import ARTIFACTS

SIZES = [(1280, 720), (1920, 1080)]
PATH_OR_TRACE = re.compile(r"(?:/[\w.-]+){2,}\.\w+|Traceback|File \"")


@pytest.mark.parametrize("width, height", SIZES)
def test_presenter_mode_at_projector_sizes(browser, presenter_server, width, height):
    page = browser.new_page(viewport={"width": width, "height": height})
    page.goto(presenter_server)
    page.wait_for_function(
        "(document.querySelector('#ready-line')?.innerText || '').includes('Try it together: ready')", timeout=300_000
    )  # every model preloads in the background
    assert "presenter" in page.evaluate("document.body.className")
    expect(page.locator("#ready-line .ready-chip.ready")).to_have_count(6)
    body_size = float(
        page.evaluate("getComputedStyle(document.querySelector('.prose p') || document.body).fontSize")[:-2]
    )
    assert body_size >= 20  # large type
    assert not page.get_by_text("Use via API").is_visible()
    assert not page.locator("#device-line").is_visible()
    page.screenshot(path=ARTIFACTS / f"presenter_chat_{width}x{height}.png")
    for tab in ["Text to Image", "Try it together"]:
        page.get_by_role("tab", name=tab).click()
        page.wait_for_timeout(300)
        page.screenshot(path=ARTIFACTS / f"presenter_{tab.lower().replace(' ', '_')}_{width}x{height}.png")
    assert not page.locator("#text_to_image-model").is_visible()  # the model picker waits under "Advanced"
    page.get_by_role("tab", name="Text to Image").click()
    page.locator(".advanced:visible").get_by_text("Advanced").first.click()
    page.locator("#text_to_image-model").wait_for(state="visible", timeout=10_000)
    for tab in ["Chat", "Text to Image", "Image Captioning", "Speech to Text", "Text to Speech", "Try it together"]:
        page.get_by_role("tab", name=tab).click()
        page.wait_for_timeout(300)
        text = page.evaluate("document.body.innerText")  # what is shown: hidden tabs are left out
        assert not PATH_OR_TRACE.search(text), (tab, PATH_OR_TRACE.search(text))
        if tab in ("Image Captioning", "Speech to Text") and (width, height) == SIZES[0]:
            page.screenshot(path=ARTIFACTS / f"presenter_{tab.lower().replace(' ', '_')}_{width}x{height}.png")
    page.close()


def test_the_toggle_switches_the_look_in_the_normal_app(browser, server):
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    page.goto(server)
    page.wait_for_selector("text=Running on", timeout=60_000)
    before = float(page.evaluate("getComputedStyle(document.querySelector('.prose p')).fontSize")[:-2])
    page.locator("#presenter-toggle input").check()
    page.wait_for_function("document.body.classList.contains('presenter')")
    after = float(page.evaluate("getComputedStyle(document.querySelector('.prose p')).fontSize")[:-2])
    assert after > before
    page.screenshot(path=ARTIFACTS / "presenter_toggle_1280x720.png")
    page.close()
