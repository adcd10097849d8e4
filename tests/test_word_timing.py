"""Word timings in Speech to Text: the words with their times and probabilities, SRT/WebVTT/JSON subtitles written
and parsed back, each compared setting's own timings, and karaoke in Chromium; plus the presenter's keys."""

import json
import re

import pytest
import soundfile as sf
from gradio_client import handle_file
from playwright.sync_api import expect

from conftest import ARTIFACTS, open_app, words
from playground.media import load_audio
from playground.models.speech_to_text import SAMPLE_RATE

SRT_CUE = re.compile(r"(\d+)\n(\d\d):(\d\d):(\d\d),(\d{3}) --> (\d\d):(\d\d):(\d\d),(\d{3})\n(.+?)\n(?:\n|$)", re.S)
VTT_CUE = re.compile(r"(\d\d):(\d\d):(\d\d)\.(\d{3}) --> (\d\d):(\d\d):(\d\d)\.(\d{3})\n(.+?)\n(?:\n|$)", re.S)


def seconds(h, m, s, ms) -> float:
    return int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000


def duration(path) -> float:
    return sf.info(str(path)).duration


def test_the_bundled_whisper_times_every_word(registry, speech_wav):
    path, sentence = speech_wav
    stt = registry.load("speech_to_text")
    transcript = stt.transcribe(load_audio(str(path), SAMPLE_RATE), stt.Options.parse())
    heard = transcript.words
    assert words(" ".join(w.word for w in heard)) == words(sentence)
    assert all(0 <= w.start <= w.end <= duration(path) + 0.05 for w in heard)
    assert all(a.start <= b.start for a, b in zip(heard, heard[1:]))  # in order
    assert all(0 < w.probability <= 1 for w in heard)
    plain = stt.transcribe(load_audio(str(path), SAMPLE_RATE), stt.Options.parse(word_timestamps=False))
    assert plain.words == [] and words(plain.text) == words(sentence)


def test_transcribe_returns_the_words_beside_the_text(client, speech_wav):
    path, sentence = speech_wav
    transcript, status, heard, karaoke = client.predict(audio=handle_file(str(path)), api_name="/transcribe")
    assert words(transcript) == words(sentence)
    assert [set(w) for w in heard] == [{"word", "start", "end", "probability"}] * len(heard)
    assert words(" ".join(w["word"] for w in heard)) == words(sentence)
    assert karaoke.count('class="token word"') == len(heard) and "<audio" in karaoke


@pytest.mark.parametrize("fmt", ["srt", "vtt", "json"])
def test_subtitles_are_written_and_parse_back(client, speech_wav, fmt):
    path, sentence = speech_wav
    file = client.predict(audio=handle_file(str(path)), format=fmt, api_name="/subtitles")
    assert file.endswith(f".{fmt}")
    text = open(file, encoding="utf-8").read()
    if fmt == "json":
        data = json.loads(text)
        assert words(data["text"]) == words(sentence)
        cues = [(w["start"], w["end"], w["word"]) for w in data["words"]]
    elif fmt == "srt":
        found = SRT_CUE.findall(text)
        assert [int(c[0]) for c in found] == list(range(1, len(found) + 1))
        cues = [(seconds(*c[1:5]), seconds(*c[5:9]), c[9]) for c in found]
    else:
        assert text.startswith("WEBVTT\n\n")
        cues = [(seconds(*c[0:4]), seconds(*c[4:8]), c[8]) for c in VTT_CUE.findall(text)]
    assert cues and words(" ".join(c[2] for c in cues)) == words(sentence)
    assert all(start <= end for start, end, _ in cues) and cues[-1][1] <= duration(path) + 0.05
    assert all(a[1] <= b[0] + 1e-6 for a, b in zip(cues, cues[1:]))  # cues never overlap


def test_a_bad_subtitle_format_gets_one_sentence(client, speech_wav):
    with pytest.raises(Exception) as err:
        client.predict(audio=handle_file(str(speech_wav[0])), format="docx", api_name="/subtitles")
    assert "The subtitle format must be one of srt, vtt, json, got 'docx'." in str(err.value)


def test_each_compared_setting_has_its_own_timings(client, speech_wav):
    cards, table, diff, data, status = client.predict(
        audio=handle_file(str(speech_wav[0])), beam_sizes="1, 5", api_name="/compare_transcribe"
    )
    assert len(data) == 2 and all(d["words"] for d in data)
    assert all(words(" ".join(w["word"] for w in d["words"])) == words(d["text"]) for d in data)
    assert cards.count('class="token word"') == sum(len(d["words"]) for d in data)


# ---------------------------------------------------------------- in the browser


@pytest.fixture(scope="module")
def page(browser, server):
    page = open_app(browser, server)
    yield page
    page.close()


def test_karaoke_lights_the_word_being_played(page, speech_wav):
    page.get_by_role("tab", name="Speech to Text").click()
    page.locator("#stt-audio input[type=file]").set_input_files(str(speech_wav[0]))
    page.wait_for_timeout(1000)
    page.locator("#stt-run").click()
    page.wait_for_function(
        "() => (document.querySelector('#stt-status')?.innerText || '').includes('real-time factor')"
    )
    spans = page.locator("#stt-karaoke .word")
    expect(spans).to_have_count(len(words(speech_wav[1])))
    # seek the player into the third word: that word, and only it, lights up
    start, end = (float(spans.nth(2).get_attribute(a)) for a in ("data-start", "data-end"))
    page.locator("#stt-karaoke audio").evaluate(
        "(a, t) => new Promise(ok => { a.addEventListener('seeked', ok, {once: true}); a.currentTime = t; })",
        (start + end) / 2,
    )
    expect(page.locator("#stt-karaoke .word.speaking")).to_have_count(1)
    assert "speaking" in spans.nth(2).get_attribute("class")
    page.locator("#stt-karaoke").screenshot(path=ARTIFACTS / "stt_karaoke.png")
    # and it follows the player as it plays (muted: headless Chromium lets muted audio play without a click)
    page.locator("#stt-karaoke audio").evaluate("a => { a.muted = true; a.currentTime = 0; return a.play(); }")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#stt-karaoke .word')].slice(3).some(w => w.classList.contains('speaking'))",
        timeout=15_000,
    )


def test_ctrl_enter_runs_the_tab_and_the_look_is_kept_across_reloads(page):
    page.get_by_role("tab", name="Text to Speech").click()
    box = page.locator("#tts-text textarea")
    box.fill("Keys make demos smooth.")
    before = page.locator("#tts-status").inner_text()
    box.press("Control+Enter")
    page.wait_for_function(
        "(old) => { const t = document.querySelector('#tts-status')?.innerText || '';"
        " return t !== old && t.includes('real-time factor'); }",
        arg=before,
        timeout=60_000,
    )
    dark = page.evaluate("() => document.body.classList.contains('dark')")
    page.locator("#theme-toggle").click()
    assert page.evaluate("() => document.body.classList.contains('dark')") == (not dark)
    page.reload()
    page.wait_for_selector("text=Running on", timeout=60_000)
    page.wait_for_timeout(800)
    assert page.evaluate("() => document.body.classList.contains('dark')") == (not dark)
    page.screenshot(path=ARTIFACTS / "theme_toggled.png")
    page.locator("#theme-toggle").click()  # leave the look as it was for the other tests
    assert page.evaluate("() => document.body.classList.contains('dark')") == dark


def test_escape_stops_a_streaming_reply(page):
    page.get_by_role("tab", name="Chat").click()
    box = page.locator("#chat-message textarea")
    box.fill("Tell me a very long story about a dragon who learns to cook.")
    box.press("Control+Enter")
    page.wait_for_function("() => (document.querySelector('#chat-status')?.innerText || '').includes('Generating')")
    page.keyboard.press("Escape")
    page.wait_for_function(
        "() => (document.querySelector('#chat-status')?.innerText || '').includes('Stopped after')", timeout=30_000
    )
