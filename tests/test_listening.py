"""The hands-free listener (playground.listening) on a real recorded question, the real Silero detector and the
bundled Whisper: numbered quarter-second chunks of 16-bit sound, as the page's recorder sends them (page.js), in
order, swapped, or with some lost on the way."""

import time

import numpy as np
import pytest
import soundfile as sf

from conftest import ROOT, words
from playground.listening import SAMPLE_RATE, Chunk, Listeners, Utterance, mono, parse_chunk

QUESTION = ROOT / "assets" / "examples" / "audio" / "capital-of-france.wav"  # "What is the capital of France?"
CHUNK_S = 0.25  # what the page sends


@pytest.fixture(scope="module")
def microphone():
    """The question between a second of silence before and two after, as 48 kHz int16 (a browser that would not
    record at 16 kHz)."""
    import soxr

    speech, rate = sf.read(QUESTION, dtype="float32")
    speech = soxr.resample(speech, rate, 48_000)
    return (np.concatenate([np.zeros(48_000), speech, np.zeros(96_000)]) * 32767).astype(np.int16)


def chunks(audio, rate=48_000, size_s=CHUNK_S):
    size = int(rate * size_s)
    return [audio[i : i + size] for i in range(0, len(audio), size)]


def page_chunks(audio, run="r1", rate=48_000):
    """The chunks as the page sends them: JSON with the run, a number, the rate and base64 PCM."""
    import base64
    import json

    return [
        json.dumps({"run": run, "seq": seq, "rate": rate, "pcm": base64.b64encode(piece.tobytes()).decode()})
        for seq, piece in enumerate(chunks(audio, rate))
    ]


def feed(ear, pieces, drop=()):
    """Add each piece, telling the listener of the pieces numbered in ``drop`` that never came."""
    heard, missing = [], 0.0
    for index, piece in enumerate(pieces):
        if index in drop:
            missing += len(piece) / 48_000
            continue
        result = ear.add(48_000, piece, missing_s=missing)
        missing = 0.0
        if result.speech is not None:
            heard.append(result)
    return heard


def hear_all(ears, key, texts, pause_s=0.0):
    """Send the page's chunks to ``ears`` in the order given (``pause_s`` apart), then silence until the worker has
    handed on what it found; every utterance heard."""
    found = []
    for text in texts:
        if (heard := ears.hear(key, parse_chunk(text))).speech is not None:
            found.append(heard)
        time.sleep(pause_s)
    ears.settle(key)
    run = parse_chunk(texts[0]).run
    silence = np.zeros(12_000, np.int16)
    for seq in range(1000, 1040):  # numbered far on: given up on what never came, and handed on what was found
        found += [h for h in [ears.hear(key, Chunk(run, seq, 48_000, silence))] if h.speech is not None]
        ears.settle(key)
        if found:
            break
    return found


@pytest.fixture(scope="module")
def stt(registry):
    return registry.load("speech_to_text")


def said(stt, speech) -> list[str]:
    return words(stt.transcribe(speech, stt.Options.parse()).text)


def test_the_question_ends_at_the_pause_and_nothing_is_lost(microphone, stt):
    heard = feed(Utterance(), chunks(microphone))
    assert len(heard) == 1, [h.seconds for h in heard]
    question = heard[0]
    assert question.lost_s == 0.0
    # all of it, and not the two seconds of silence after it
    assert 1.5 < len(question.speech) / SAMPLE_RATE < 3.0
    assert {"capital", "france"} <= set(said(stt, question.speech))


def test_sound_that_never_arrived_is_measured(microphone):
    # two chunks in the middle of the question (from 1.5 s to 2 s) never reach the listener
    heard = feed(Utterance(), chunks(microphone), drop={6, 7})
    assert len(heard) == 1
    assert heard[0].lost_s == pytest.approx(0.5)


def test_a_click_is_not_a_question():
    click = np.zeros(48_000 * 2, np.int16)
    click[48_000 : 48_000 + 2_400] = 20_000  # 50 ms of a loud square
    assert feed(Utterance(), chunks(click)) == []


def test_swapped_chunks_are_put_back_in_order(microphone, stt):
    """Chunks that come in the wrong order (two events handled at once) are heard in the order they were
    recorded: the question comes out the same as sent in order, sample for sample."""
    texts = page_chunks(microphone)
    in_order = hear_all(Listeners(), "a", texts)
    swapped = texts[:]
    for i in range(4, 10, 2):  # the chunks of "capital of France" swapped in pairs
        swapped[i], swapped[i + 1] = swapped[i + 1], swapped[i]
    ears = Listeners()
    out_of_order = hear_all(ears, "a", swapped)
    assert len(in_order) == len(out_of_order) == 1
    assert np.array_equal(in_order[0].speech, out_of_order[0].speech)
    assert out_of_order[0].lost_s == 0.0 and ears.last_lost("a") == 0.0
    assert {"capital", "france"} <= set(said(stt, out_of_order[0].speech))


def test_a_chunk_that_never_comes_is_given_up_and_said(microphone):
    texts = page_chunks(microphone)
    del texts[7]
    ears = Listeners()
    heard = hear_all(ears, "a", texts)
    assert len(heard) == 1 and heard[0].lost_s == pytest.approx(0.25)
    assert ears.last_lost("a") == pytest.approx(0.25)


def test_an_utterance_is_handed_on_once_however_often_the_page_asks(microphone):
    """The page asks at every chunk, and may ask again before the detector has looked at anything new (a chunk sent
    twice, or a worker still busy beside a CPU hog): the finished question comes back once, not once per ask. The
    load run of the test below once heard one question twice, which the app would have answered twice."""
    ears, found = Listeners(), []
    for text in page_chunks(microphone):
        chunk = parse_chunk(text)
        ears.hear("a", chunk)
        ears.settle("a")  # the detector has looked at this chunk, and at nothing after it
        found += [h for h in (ears.hear("a", chunk) for _ in range(3)) if h.speech is not None]  # sent again
        if found:
            break
    assert len(found) == 1, [h.seconds for h in found]
    assert ears.hear("a", chunk).speech is None


@pytest.mark.concurrency
def test_several_pages_listening_at_once_each_hear_only_their_own_sound(microphone):
    """Three pages listening at once on one app's listeners (the detector's two worker threads shared): each hears
    its own question sample for sample as when it listens alone, a chunk lost on one page is counted on that page
    only, and a page that sends only silence hears nothing."""
    import threading

    alone = hear_all(Listeners(), "alone", page_chunks(microphone))
    lossy = page_chunks(microphone, run="r2")
    del lossy[7]
    pages = {"a": page_chunks(microphone), "b": lossy, "quiet": page_chunks(np.zeros_like(microphone), run="r3")}
    ears, heard, failed = Listeners(), {}, []
    start = threading.Barrier(len(pages))

    def page(key, texts):
        try:
            start.wait()
            heard[key] = hear_all(ears, key, texts, pause_s=0.003)  # the pages' chunks interleave
        except Exception as exc:  # noqa: BLE001 - reported by the main thread
            failed.append(exc)

    threads = [threading.Thread(target=page, args=item) for item in pages.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failed and not any(t.is_alive() for t in threads), failed
    assert len(alone) == len(heard["a"]) == 1
    assert np.array_equal(heard["a"][0].speech, alone[0].speech)
    assert heard["a"][0].lost_s == 0.0 and ears.last_lost("a") == 0.0
    assert len(heard["b"]) == 1 and heard["b"][0].lost_s == pytest.approx(0.25)
    assert ears.last_lost("b") == pytest.approx(0.25)
    assert heard["quiet"] == [] and ears.last_lost("quiet") == 0.0


def test_the_listening_line_is_sent_only_when_it_changes(microphone):
    ears = Listeners()
    texts = page_chunks(microphone)
    ears.hear("a", parse_chunk(texts[0]))
    assert ears.changed("a", "Listening…") and not ears.changed("a", "Listening…")
    assert ears.changed("a", "Listening… (speech)") and ears.changed("a", "Listening…")
    assert hear_all(ears, "a", texts[1:]) and ears.sessions["a"].shown == ""  # answering: the next line is sent again
    assert ears.changed("a", "Listening…") and ears.changed("b", "Listening…")  # "b": no session yet


def test_the_listeners_start_afresh_per_run_and_forget_the_oldest_session(microphone):
    ears = Listeners(max_sessions=2)
    first = ears.hear("a", parse_chunk(page_chunks(microphone)[0]))
    assert first.speech is None and first.started is False
    ears.hear("a", parse_chunk(page_chunks(microphone, run="r2")[0]))  # Start listening pressed again
    assert ears.sessions["a"].run == "r2" and ears.sessions["a"].next_seq == 1
    ears.hear("b", parse_chunk(page_chunks(microphone)[0]))
    ears.hear("c", parse_chunk(page_chunks(microphone)[0]))
    assert list(ears.sessions) == ["b", "c"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("not json", "must be JSON"),
        ('{"run": "r", "seq": 0, "rate": 16000}', "must be JSON with run, seq, rate and pcm"),
        ('{"run": "r", "seq": -1, "rate": 16000, "pcm": ""}', "seq must be a whole number from 0, got -1"),
        ('{"run": "r", "seq": 0, "rate": 7, "pcm": ""}', "sample rate .* got 7"),
        ('{"run": "", "seq": 0, "rate": 16000, "pcm": ""}', "run must be a short name"),
        ('{"run": "r", "seq": 0, "rate": 16000, "pcm": "%%%"}', "must be base64"),
        ('{"run": "r", "seq": 0, "rate": 16000, "pcm": "AA=="}', "whole 16-bit samples"),
        ('{"run": "r", "seq": 0, "rate": 8000, "pcm": "' + "A" * 60_000 + '"}', "at most 2 s of sound"),
    ],
)
def test_a_bad_chunk_is_named(text, message):
    with pytest.raises(ValueError, match=message):
        parse_chunk(text)


def test_a_bad_sample_rate_is_named():
    with pytest.raises(ValueError, match="sample rate .* got 0"):
        mono(0, np.zeros(100, np.int16))


def test_chunks_are_resampled_as_one_stream():
    """Ten chunks a second, each resampled alone, would click at every edge: the listener resamples them as one
    stream, the same as resampling the whole at once (bar the few milliseconds the stream holds back)."""
    import soxr

    tone = np.sin(np.arange(44_100) / 44_100 * 2 * np.pi * 440).astype(np.float32)
    ear = Utterance()
    streamed = np.concatenate([ear.to_16k(44_100, p) for p in chunks(tone, 44_100, 0.1)])
    whole = soxr.resample(tone, 44_100, SAMPLE_RATE)
    assert streamed.dtype == np.float32 and streamed.ndim == 1 and len(whole) - 400 < len(streamed) <= len(whole)
    assert np.abs(streamed - whole[: len(streamed)]).max() < 1e-4
    alone = np.concatenate([soxr.resample(p, 44_100, SAMPLE_RATE) for p in chunks(tone, 44_100, 0.1)])
    assert np.abs(alone - whole[: len(alone)]).max() > 1e-3  # what it avoids
    assert np.abs(mono(16_000, np.full(10, -32768, np.int16))).max() == pytest.approx(1.0)


def test_stereo_integers_are_scaled_like_mono_ones():
    """Averaging two int16 channels gives float64; the scale still comes from the int16 samples."""
    from playground.media import mono_float

    stereo = np.array([[16384, 16384], [-32768, 0], [0, 0]], np.int16)
    assert mono_float(stereo).tolist() == [0.5, -0.5, 0.0]
    assert mono_float(stereo).dtype == np.float32
    assert mono(16_000, stereo).tolist() == [0.5, -0.5, 0.0]
