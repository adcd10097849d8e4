"""Demo decks: a bad deck file gets one sentence naming its line; in Chromium, → and Space run the steps one by one,
and a step whose model is missing or that runs past its limit shows its last result from History instead."""

import subprocess
import sys

import pytest
from playwright.sync_api import expect

from conftest import ARTIFACTS, ROOT
from playground.app_process import running_app
from playground.decks import load_deck

BAD = {
    "title: x\nsteps:\n  - tab: chat\n    say: hi\n  - tab: paint\n    say: x\n": "line 5: the step's tab 'paint'",
    "title: x\nsteps:\n  - tab: chat\n    say: [hi\n": "has an error on line 5",
    "steps:\n  - tab: chat\n    say: hi\n    settings: {temperature: 9}\n": "line 2: Temperature must be between 0 and 2",
    "steps:\n  - tab: chat\n    say: hi\n    colour: red\n": "line 2: a step has no key 'colour'",
    "title: nothing to show\n": "line 1: the deck needs a non-empty list under steps.",
}


@pytest.mark.parametrize("text, message", BAD.items())
def test_a_bad_deck_gets_one_sentence_naming_the_line(registry, tmp_path, text, message):
    deck = tmp_path / "deck.yaml"
    deck.write_text(text)
    with pytest.raises(Exception) as err:
        load_deck(deck, registry)
    assert message in str(err.value) and str(deck) in str(err.value)


def test_the_app_refuses_a_bad_deck_at_start(tmp_path):
    deck = tmp_path / "deck.yaml"
    deck.write_text(next(iter(BAD)))
    done = subprocess.run(
        [sys.executable, str(ROOT / "app.py"), "--data-dir", str(tmp_path), "--deck", str(deck)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0 and "line 5: the step's tab 'paint'" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_tour_covers_every_tab_and_a_chain(registry):
    deck = load_deck(ROOT / "assets" / "decks" / "tour.yaml", registry)
    assert {s.task for s in deck.steps} == {*registry.tasks, "chains"}
    for step in deck.steps:
        for name in ("image", "audio"):
            if name in step.inputs:
                assert (ROOT / step.inputs[name]).is_file(), step.inputs[name]


def wait_for_text(page, selector: str, text: str, timeout: float = 120_000):
    page.wait_for_function(
        "([sel, text]) => (document.querySelector(sel)?.innerText || '').includes(text)",
        arg=[selector, text],
        timeout=timeout,
    )


def test_arrow_keys_run_the_tour_in_the_browser(browser, tmp_path):
    with running_app(tmp_path, tmp_path / "app.log", "--deck", str(ROOT / "assets/decks/tour.yaml")) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        page.wait_for_selector("text=Running on", timeout=60_000)
        expect(page.locator("#deck-line")).to_contain_text("press → or Space to begin")
        page.keyboard.press("ArrowRight")
        expect(page.locator("#deck-line")).to_contain_text("Step 1 of 7")
        expect(page.locator("#chat-message textarea")).to_have_value("What is the capital of France?")
        wait_for_text(page, "#chat-status", "tokens/s")  # the step ran by itself
        page.screenshot(path=ARTIFACTS / "deck_step_1.png")
        page.locator("body").click(position={"x": 5, "y": 5})  # the focus off any text box: Space goes on
        page.keyboard.press(" ")
        expect(page.locator("#deck-line")).to_contain_text("Step 2 of 7")
        expect(page.locator("#t2i-prompt textarea")).to_have_value("a cat on the beach")
        wait_for_text(page, "#t2i-status", "steps in")
        page.screenshot(path=ARTIFACTS / "deck_step_2.png")
        page.keyboard.press("ArrowLeft")
        expect(page.locator("#deck-line")).to_contain_text("Step 1 of 7")
        page.close()


def test_a_missing_model_or_a_slow_step_shows_the_last_result_from_history(browser, tmp_path):
    deck = tmp_path / "deck.yaml"
    deck.write_text(
        "title: fallbacks\nsteps:\n"
        "  - tab: text_to_image\n    say: A cat, drawn here.\n    inputs: {prompt: a cat on the beach}\n"
        "    settings: {steps: 4, seed: 1}\n"
        "  - tab: text_to_image\n    say: The same cat by a model that is not here.\n"
        "    inputs: {prompt: a cat on the beach}\n    settings: {model: stabilityai/sd-turbo}\n"
        "  - tab: chat\n    say: A long answer, too slow for its limit.\n"
        "    inputs: {message: Tell me a long story about a dragon.}\n"
        "    settings: {max_new_tokens: 400, temperature: 0.7}\n    limit_s: 0.5\n"
    )
    with running_app(tmp_path, tmp_path / "app.log", "--deck", str(deck)) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        page.wait_for_selector("text=Running on", timeout=60_000)
        page.keyboard.press("ArrowRight")
        wait_for_text(page, "#t2i-status", "steps in")
        page.keyboard.press("ArrowRight")
        expect(page.locator("#deck-fallback")).to_contain_text("This step's model is not here")
        expect(page.locator("#deck-fallback")).to_contain_text("last result from History")
        expect(page.locator("#deck-fallback img")).to_have_count(1)  # the cat drawn at step 1
        page.screenshot(path=ARTIFACTS / "deck_missing_model.png")
        page.keyboard.press("ArrowRight")
        expect(page.locator("#deck-fallback")).to_contain_text("took longer than its 0.5 s", timeout=30_000)
        page.close()
