"""Live voice: Talk to it speaks the reply's first sentence while the rest is still being written, and Text to
Speech streams a long text sentence by sentence; both through the API (``submit``) with the bundled models."""

import base64
import io
import re
import time

import soundfile as sf
from gradio_client import handle_file

from conftest import ARTIFACTS, ROOT, words
from playground.chains import SentenceSplitter

QUESTION = ROOT / "assets" / "examples" / "audio" / "capital-of-france.wav"
WHY = ROOT / "assets" / "examples" / "audio" / "why-is-the-sky-blue.wav"  # its answers run to several sentences
FIVE_SENTENCES = (
    "The sun rose over the hills. Birds began to sing. A farmer walked to the field. "
    "The cows waited by the gate. It was a quiet morning."
)


def test_a_streamed_reply_is_cut_into_sentences_as_they_end():
    splitter = SentenceSplitter()
    spoken = [s for piece in ["Hello", " there.", " It is 3.5 km", " wide!", "\n", "Bye"] for s in splitter.feed(piece)]
    assert spoken == ["Hello there.", "It is 3.5 km wide!"] and splitter.rest() == ["Bye"]


LIVE_SRC = re.compile(r'data-seq="(\d+)" data-src="data:audio/wav;base64,([^"]+)"')


def live_clips(html) -> dict[int, tuple]:
    """The sentences in a live-audio update: number -> (samples, sample rate), decoded from the inline WAVs."""
    text = html if isinstance(html, str) else ""  # an update that left the output as it was is a dict
    return {int(seq): sf.read(io.BytesIO(base64.b64decode(data))) for seq, data in LIVE_SRC.findall(text)}


def updates(job, timeout: float = 180):
    """Every update of a submitted job, as it arrives, with the time it arrived."""
    seen, count, deadline = [], 0, time.monotonic() + timeout
    while time.monotonic() < deadline:
        outputs = job.outputs()
        for output in outputs[count:]:
            seen.append((time.monotonic(), output))
        count = len(outputs)
        if job.done():
            for output in job.outputs()[count:]:
                seen.append((time.monotonic(), output))
            return seen
        time.sleep(0.02)
    raise AssertionError("the job did not end in time")


def test_talk_to_it_speaks_before_the_reply_is_written(client, speech_wav):
    start = time.monotonic()
    job = client.submit(
        audio=handle_file(str(speech_wav[0])),
        system_prompt="Answer in three short sentences.",
        seed=1,
        chat_max_new_tokens=80,
        api_name="/chain_talk",
    )
    seen = updates(job)
    with_audio = [(t, out) for t, out in seen if live_clips(out[6])]
    assert with_audio, "no reply audio was streamed"
    first_time, first = with_audio[0]
    samples, rate = live_clips(first[6])[0]
    assert rate > 8000 and len(samples) / rate > 0.3  # a real spoken sentence
    stages = first[4]
    # when the first sentence is heard the chat is still writing, and the job is far from over
    assert stages[1]["state"] == "running", stages
    assert first_time < seen[-1][0]
    final = job.result()
    history, transcript, reply, pipeline, stages, status, live = final
    assert reply.endswith(".wav") and sf.info(reply).duration > 0.5
    speak = stages[2]
    assert speak["state"] == "done" and speak["time_to_first_audio_s"] is not None
    total = sum(s["seconds"] + s["load_seconds"] for s in stages)
    assert 0 < speak["time_to_first_audio_s"] < total
    assert "first audio after" in pipeline
    print(
        f"time to first audio {speak['time_to_first_audio_s']:.2f} s, whole turn {total:.2f} s, "
        f"first streamed update after {first_time - start:.2f} s"
    )


def test_text_to_speech_streams_a_long_text_and_ends_with_the_whole_clip(client):
    job = client.submit(text=FIVE_SENTENCES, seed=2, api_name="/synthesize")
    seen = updates(job)
    streamed = {seq for _, out in seen for seq in live_clips(out[3])}
    assert streamed == {0, 1, 2, 3, 4}, f"sentences streamed: {sorted(streamed)}"  # all five, one by one
    assert any("Speaking: sentence 1" in (out[2] or "") for _, out in seen)
    wav, seed, status, live = job.result()
    assert seed == 2 and wav.endswith(".wav") and "real-time factor" in status
    whole = sf.info(wav).duration
    assert whole > 5  # five sentences
    again, *_ = client.predict(text=FIVE_SENTENCES, seed=2, api_name="/synthesize")
    assert sf.read(again)[0].shape == sf.read(wav)[0].shape  # the same seed, the same whole clip


def test_hands_free_talk_hears_the_pause_and_answers_aloud(tmp_path, server, browser):
    """Chromium's fake microphone plays a question, then silence: the listener finds the end of speech, the chain
    answers, and the page schedules the reply's sentences for playing."""
    import numpy as np

    samples, rate = sf.read(QUESTION, dtype="int16")  # "What is the capital of France?"
    clip = tmp_path / "mic.wav"
    # Chromium plays the file from when the page opens the microphone (the Start listening click), in a loop: the question
    # comes after 10 s, and a pause longer than the wait follows it, so it is not asked again (speaking again stops an
    # answer, as it should) however slow a busy machine answers
    pause = np.zeros(int(rate * 200), np.int16)
    sf.write(clip, np.concatenate([pause[: 10 * rate], samples, pause]), rate, subtype="PCM_16")
    args = [
        "--no-sandbox",
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={clip}",
        "--autoplay-policy=no-user-gesture-required",
    ]
    # a browser of its own (the same Playwright as the others): the fake microphone is a launch flag
    fake_mic = browser.browser_type.launch(executable_path="/usr/bin/chromium", args=args)
    try:
        context = fake_mic.new_context(permissions=["microphone"], viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.goto(server)
        page.wait_for_selector("text=Running on", timeout=60_000)
        page.get_by_role("tab", name="Try it together").click()
        page.get_by_role("tab", name="Talk to it").click()
        page.get_by_text("Hands free: just talk").click()
        page.locator("#chain-talk-listen").click()
        shown = (
            "() => ['#chain-talk-listening', '#chain-talk-status'].map(s => document.querySelector(s)?.innerText || '')"
        )
        try:
            page.wait_for_function(f"() => ({shown})()[1].includes('total')", timeout=180_000)
        except Exception:
            raise AssertionError(f"no answer; the page shows {page.evaluate(shown)}") from None
        heard = words(page.locator("#chain-talk-transcript textarea").input_value())
        assert {"capital", "france"} <= set(heard), (heard, page.evaluate(shown))
        page.wait_for_function("() => window.__liveAudio && window.__liveAudio.scheduled >= 1", timeout=30_000)
        page.screenshot(path=ARTIFACTS / "talk_hands_free.png", full_page=True)
    finally:
        fake_mic.close()


def test_stop_ends_every_stage_of_a_spoken_answer(server):
    """Stop (a cancel) while the reply is still being written and spoken: the job ends, and the app is idle again
    within about a second (its CPU time checked in quarter-second windows)."""
    from gradio_client import Client
    from test_under_load import server_process

    client = Client(server, verbose=False)
    job = client.submit(
        audio=handle_file(str(WHY)),
        system_prompt="Tell a very long story, at least twenty sentences.",
        chat_max_new_tokens=600,
        seed=3,
        api_name="/chain_talk",
    )
    deadline = time.monotonic() + 120
    while not any(live_clips(o[6]) for o in job.outputs()):  # speaking while it writes
        assert time.monotonic() < deadline and not job.done(), "no sentence was spoken"
        time.sleep(0.05)
    latest = job.outputs()[-1][4]
    assert not job.done() and latest[1]["state"] == "running", latest  # the reply is still being written
    process = server_process(server)
    job.cancel()
    cancelled = time.perf_counter()
    while True:
        before = process.cpu_times()
        time.sleep(0.25)
        after = process.cpu_times()
        if (after.user + after.system) - (before.user + before.system) < 0.03:
            break
        assert time.perf_counter() - cancelled < 1.5, "the spoken answer went on after the Stop"
    print(f"idle {time.perf_counter() - cancelled:.2f} s after the Stop")
