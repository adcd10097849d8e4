"""Drive each tab in headless Chromium as a person would; screenshots go to test-artifacts/."""

import pytest
from PIL import Image
from playwright.sync_api import expect  # to_have_count retries: output components update one by one

from conftest import ARTIFACTS, open_app


@pytest.fixture(scope="module")
def page(browser, server):
    page = open_app(browser, server)
    yield page
    page.close()


def wait_for_text(page, selector: str, text: str, timeout: float = 120_000):
    page.wait_for_function(
        "([sel, text]) => (document.querySelector(sel)?.innerText || '').includes(text)",
        arg=[selector, text],
        timeout=timeout,
    )


def open_tab(page, name: str):
    page.get_by_role("tab", name=name).click()


def test_chat_reply_streams_in(page):
    open_tab(page, "Chat")
    page.locator("#chat-message textarea").fill("What is the capital of France?")
    page.locator("#chat-send").click()
    wait_for_text(page, "#chat-status", "Generating")  # seen mid-stream: the reply arrives token by token
    wait_for_text(page, "#chat-status", "tokens/s")
    bubbles = page.locator(".message.bot, [data-testid='bot']")
    assert bubbles.last.inner_text().strip()
    page.screenshot(path=ARTIFACTS / "chat.png", full_page=True)


def test_generate_an_image(page, tiny_sd):
    open_tab(page, "Text to Image")
    from playground.bundled import ASSETS

    if not (ASSETS / "models" / "picture-sd" / "model_index.json").exists():
        # Until the bundled model is trained, type a local model folder, as a user would.
        box = page.locator("#text_to_image-model input")
        box.fill(str(tiny_sd))
        box.press("Enter")
    page.locator("#t2i-generate").click()
    wait_for_text(page, "#t2i-status", "steps in")
    expect(page.locator("#t2i-result img")).to_have_count(1)
    page.screenshot(path=ARTIFACTS / "text_to_image.png", full_page=True)


def test_grid_singles_stay_thumbnails_with_two_images(page, tiny_sd):
    """Gradio spreads a gallery's first one or two images over its whole width; the grid's singles stay small."""
    open_tab(page, "Text to Image")
    page.locator("#t2i-compare").get_by_text("Compare settings").click()
    # a slow page may still be drawing the panel it just opened and put a box's first value back over what was
    # typed (seen once in a full run on 2 busy cores): type again until both boxes hold their values
    for _ in range(5):
        page.locator("#t2i-x-values textarea").fill("1, 3")
        page.locator("#t2i-y-values textarea").fill("1")
        page.wait_for_timeout(500)
        held = [page.locator(f"#t2i-{axis}-values textarea").input_value() for axis in "xy"]
        if held == ["1, 3", "1"]:
            break
    expect(page.locator("#t2i-x-values textarea")).to_have_value("1, 3")
    expect(page.locator("#t2i-y-values textarea")).to_have_value("1")
    page.locator("#t2i-grid-run").click()
    try:
        wait_for_text(page, "#t2i-grid-status", "2 images in")
    finally:
        page.locator("#t2i-compare").screenshot(path=ARTIFACTS / "text_to_image_grid.png")
    thumbs = page.locator("#t2i-singles .thumbnail-item")
    expect(thumbs).to_have_count(2)
    widths = [thumbs.nth(i).bounding_box()["width"] for i in range(2)]
    page.locator("#t2i-compare").screenshot(path=ARTIFACTS / "text_to_image_grid.png")
    assert all(w <= 160 for w in widths), f"single images {widths} px wide"


def test_upload_an_image_and_get_a_caption(page, tmp_path, tiny_blip):
    open_tab(page, "Image Captioning")
    from playground.bundled import ASSETS

    if not (ASSETS / "models" / "picture-captioner" / "config.json").exists():
        box = page.locator("#captioning-model input")
        box.fill(str(tiny_blip))
        box.press("Enter")
    picture = tmp_path / "red.png"
    Image.new("RGB", (64, 64), (220, 40, 40)).save(picture)
    page.locator("#caption-image input[type=file]").set_input_files(str(picture))
    page.wait_for_selector("#caption-image img")
    page.locator("#caption-run").click()
    wait_for_text(page, "#caption-status", "Captioned a 64×64 image")
    page.screenshot(path=ARTIFACTS / "captioning.png", full_page=True)


def test_upload_audio_and_get_a_transcript(page, speech_wav):
    open_tab(page, "Speech to Text")
    page.locator("#stt-audio input[type=file]").set_input_files(str(speech_wav[0]))
    page.wait_for_timeout(1000)
    page.locator("#stt-run").click()
    try:
        wait_for_text(page, "#stt-status", "real-time factor")
    finally:
        page.screenshot(path=ARTIFACTS / "speech_to_text.png", full_page=True)
    assert "lazy dog" in page.locator("#stt-transcript textarea").input_value().lower()
    page.screenshot(path=ARTIFACTS / "speech_to_text.png", full_page=True)


def test_synthesize_speech_and_see_the_player(page):
    open_tab(page, "Text to Speech")
    page.locator("#tts-run").click()
    wait_for_text(page, "#tts-status", "real-time factor")
    page.wait_for_selector("#tts-audio audio, #tts-audio wave, #tts-audio button", timeout=30_000)
    page.screenshot(path=ARTIFACTS / "text_to_speech.png", full_page=True)


def test_speech_compare_shows_a_player_and_a_picture_per_clip(page):
    open_tab(page, "Text to Speech")
    page.locator("#tts-run").click()
    page.wait_for_selector("#tts-picture img[src]", timeout=60_000)  # the picture of the sound under the player
    page.locator("#tts-compare").get_by_text("Compare settings").click()
    page.locator("#tts-compare-text textarea").fill("Good morning.")
    page.locator("#tts-compare-expressiveness textarea").fill("0, 1.2")
    page.locator("#tts-compare-rate textarea").fill("1")
    page.locator("#tts-compare-run").click()
    wait_for_text(page, "#tts-compare-status", "2 clips")
    cards = page.locator("#tts-clips .clip-card")
    expect(cards).to_have_count(2)
    expect(page.locator("#tts-clips .clip-card audio")).to_have_count(2)
    expect(page.locator("#tts-clips .clip-card img")).to_have_count(2)
    page.locator("#tts-compare").screenshot(path=ARTIFACTS / "text_to_speech_compare.png")


def test_history_lists_opens_and_restores_a_run(page):
    open_tab(page, "Text to Image")
    prompt = "a big dog in the snow, on the left"
    page.locator("#t2i-prompt textarea").fill(prompt)
    before = page.locator("#t2i-status").inner_text()  # an earlier test may have left "… steps in …" there
    page.locator("#t2i-generate").click()
    page.wait_for_function(
        "(old) => { const t = document.querySelector('#t2i-status')?.innerText || '';"
        " return t !== old && t.includes('steps in'); }",
        arg=before,
        timeout=120_000,
    )
    page.locator("#t2i-prompt textarea").fill("something else")
    open_tab(page, "History")
    newest = page.locator("#history-cards .run").first
    try:
        newest.locator("img").wait_for(timeout=30_000)  # newest first, with its thumbnail
    except Exception:
        # Seen once in four clean CI runs: opening the tab did not show the new run (cause not found yet).
        # Keep what the page showed for the next person, then do what a user would: press Refresh.
        page.screenshot(path=ARTIFACTS / "history_not_refreshed.png", full_page=True)
        (ARTIFACTS / "history_not_refreshed.html").write_text(page.locator("#history-cards").inner_html())
        print("warning: the History tab did not list the new run on opening; pressing Refresh")
        page.get_by_role("button", name="Refresh").click()
        newest.locator("img").wait_for(timeout=90_000)
    assert prompt in newest.inner_text()
    page.screenshot(path=ARTIFACTS / "history.png", full_page=True)
    newest.click()
    wait_for_text(page, "#history-title", "Text to Image")
    page.locator("#history-image img").wait_for()
    page.screenshot(path=ARTIFACTS / "history_run_card.png", full_page=True)
    page.locator("#history-use").click()
    page.wait_for_function(
        "(p) => document.querySelector('#t2i-prompt textarea')?.value === p", arg=prompt, timeout=30_000
    )  # back on its tab, with its settings
    page.screenshot(path=ARTIFACTS / "history_restored.png", full_page=True)


def test_a_phone_sized_page_stays_usable(browser, server):
    """At 390×844 (a phone) nothing is wider than the screen: the tab names wrap and the columns stack."""
    page = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page.goto(server)
    page.wait_for_selector("text=Running on", timeout=60_000)
    for name in ("Chat", "Text to Image", "Speech to Text", "Try it together", "History"):
        page.get_by_role("tab", name=name).first.click()
        page.wait_for_timeout(300)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, name
    page.get_by_role("tab", name="Text to Image").first.click()
    box = page.locator("#t2i-generate").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    page.screenshot(path=ARTIFACTS / "phone_text_to_image.png")
    page.close()
