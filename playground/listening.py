"""Listening to a live microphone: chunks gathered until the speaker stops, found by voice-activity detection.

No Gradio here. The speech is found with the Silero VAD that faster-whisper ships (``faster_whisper.vad``);
an utterance ends once speech was heard and then ``silence_s`` of silence followed, or at ``max_s``.

The page records the microphone itself (playground/ui/page.js) and sends numbered chunks: Gradio's own streaming
microphone loses a chunk that arrives while the last is being handled, and sends two chunks whose uploads overlap
in either order (a swapped tenth of a second turned "France" into "reference"). Here the chunks are put back in
order by number, a chunk still missing once several later ones have come counts as lost (and is said), and
``Listeners.hear`` only queues: the detector runs, and loads, on a worker thread.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

SAMPLE_RATE = 16_000
SILENCE_S = 0.6  # the pause that ends a question
MAX_S = 30.0  # a question longer than this is answered as it stands
MIN_SPEECH_S = 0.4  # less speech than this before a pause is a cough or a click, not a question
SPEECH_PAD_MS = 400  # kept around the speech found: a microphone's noise suppression softens first and last words
KEEP_SILENCE_S = 2.0  # of a long silence, only the last seconds are kept
REORDER_CHUNKS = 6  # a chunk still missing when this many later ones have come is given up as lost
MAX_CHUNK_S = 2.0  # the page sends a quarter of a second; anything much longer is not from it
MIN_RATE, MAX_RATE = 8_000, 192_000


@dataclass
class Heard:
    """What one ``Utterance.add`` found: whether speech has started, and the whole utterance once it ended."""

    speaking: bool
    seconds: float  # audio gathered so far
    speech: object = None  # 16 kHz mono float32 samples of the utterance, once it ended
    lost_s: float = 0.0  # seconds of sound, within the utterance, that never arrived (the app was too busy)
    ready: bool = True  # False while the voice detector is still loading: the sound is kept until it is
    started: bool = False  # speech began since the last time this session was told (Listeners.hear)


@dataclass
class Utterance:
    """Microphone chunks, at any rate and channel count, gathered until the speaker stops."""

    silence_s: float = SILENCE_S
    max_s: float = MAX_S
    chunks: list = field(default_factory=list)
    gaps: list = field(default_factory=list)  # per chunk: the seconds of sound missing just before it
    speaking: bool = False  # speech has started and not yet ended
    resampler: object = None  # a soxr stream to 16 kHz, kept across chunks: resampling each alone clicks at its edges
    rate: int = SAMPLE_RATE  # the rate the resampler takes

    @property
    def seconds(self) -> float:
        return sum(len(c) for c in self.chunks) / SAMPLE_RATE

    def add(self, sample_rate: int, samples, missing_s: float = 0.0) -> Heard:
        """Add one chunk (``missing_s`` of sound that never came just before it); once the speaker has stopped, the
        utterance is returned and this one starts afresh with the sound after it."""
        import numpy as np

        self.chunks.append(self.to_16k(sample_rate, samples))
        self.gaps.append(missing_s)
        whole = np.concatenate(self.chunks)
        spans = speech_spans(whole, self.silence_s)
        if not spans:
            if len(whole) > 10 * SAMPLE_RATE:  # keep the last seconds of a long silence only
                self.chunks, self.gaps = [whole[-int(KEEP_SILENCE_S * SAMPLE_RATE) :]], [0.0]
            self.speaking = False
            return Heard(False, self.seconds)
        ended = len(whole) - spans[-1]["end"] >= self.silence_s * SAMPLE_RATE or len(whole) >= self.max_s * SAMPLE_RATE
        self.speaking = not ended
        if not ended:
            return Heard(True, self.seconds)
        lost = self.lost_since(spans[0]["start"])
        pad = int(SPEECH_PAD_MS * SAMPLE_RATE / 1000)
        cut = min(len(whole), spans[-1]["end"] + pad)
        self.chunks, self.gaps = ([whole[cut:]], [0.0]) if cut < len(whole) else ([], [])  # the next one's start
        if sum(span["end"] - span["start"] for span in spans) < MIN_SPEECH_S * SAMPLE_RATE:
            return Heard(False, len(whole) / SAMPLE_RATE)  # a noise, not speech: nothing to answer
        speech = whole[max(0, spans[0]["start"] - pad) : cut]
        return Heard(True, len(whole) / SAMPLE_RATE, speech, lost_s=lost)

    def to_16k(self, sample_rate: int, samples):
        """A chunk as 16 kHz mono float32, resampled as part of one stream with the chunks before it."""
        audio = mono(sample_rate, samples)
        if sample_rate == SAMPLE_RATE:
            return audio
        if self.resampler is None or self.rate != sample_rate:
            import soxr  # what librosa resamples with, without librosa's import time

            self.resampler, self.rate = soxr.ResampleStream(sample_rate, SAMPLE_RATE, 1, dtype="float32"), sample_rate
        return self.resampler.resample_chunk(audio)

    def lost_since(self, sample: int) -> float:
        """Seconds of sound that never arrived, from the chunk holding ``sample`` on."""
        end = 0
        for index, chunk in enumerate(self.chunks):
            end += len(chunk)
            if end > sample:
                return sum(self.gaps[index:])
        return 0.0


def mono(sample_rate: int, samples):
    """A chunk as mono float32 at its own rate (``playground.media.mono_float``), once its rate is checked."""
    from playground.media import mono_float

    check_rate(sample_rate)
    return mono_float(samples)


def check_rate(sample_rate) -> None:
    if not isinstance(sample_rate, int) or isinstance(sample_rate, bool) or not MIN_RATE <= sample_rate <= MAX_RATE:
        raise ValueError(
            f"the microphone's sample rate must be a whole number of hertz from {MIN_RATE} to {MAX_RATE}, "
            f"got {sample_rate!r}"
        )


@dataclass
class Chunk:
    """One numbered piece of a recording, as the page sends it: 16-bit mono samples."""

    run: str  # one press of Start listening
    seq: int
    sample_rate: int
    samples: object

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.sample_rate


def parse_chunk(text: str) -> Chunk:
    """The page's JSON ``{"run", "seq", "rate", "pcm"}`` (``pcm``: base64 of little-endian int16) as a Chunk."""
    import numpy as np

    try:
        data = json.loads(text)
    except (TypeError, ValueError):
        raise ValueError("a microphone chunk must be JSON with run, seq, rate and pcm") from None
    if not isinstance(data, dict) or set(data) != {"run", "seq", "rate", "pcm"}:
        raise ValueError("a microphone chunk must be JSON with run, seq, rate and pcm")
    run, seq, rate, pcm = data["run"], data["seq"], data["rate"], data["pcm"]
    if not isinstance(run, str) or not 0 < len(run) <= 32:
        raise ValueError(f"a microphone chunk's run must be a short name, got {run!r:.40}")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        raise ValueError(f"a microphone chunk's seq must be a whole number from 0, got {seq!r:.40}")
    check_rate(rate)
    if not isinstance(pcm, str) or len(pcm) > 4 * (2 * MAX_CHUNK_S * rate) / 3 + 4:
        raise ValueError(f"a microphone chunk holds at most {MAX_CHUNK_S:g} s of sound")
    try:
        raw = base64.b64decode(pcm, validate=True)
    except ValueError:
        raise ValueError("a microphone chunk's pcm must be base64") from None
    if len(raw) % 2:
        raise ValueError("a microphone chunk's pcm must hold whole 16-bit samples")
    return Chunk(run, seq, rate, np.frombuffer(raw, dtype="<i2"))


def speech_spans(audio, silence_s: float = SILENCE_S) -> list[dict]:
    """Where ``audio`` (16 kHz mono float32) holds speech: ``[{"start": sample, "end": sample}, …]``."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    if len(audio) < SAMPLE_RATE // 4:
        return []
    options = VadOptions(min_silence_duration_ms=int(silence_s * 1000), speech_pad_ms=0)
    return get_speech_timestamps(audio, vad_options=options)


@dataclass
class Session:
    """One browser session's recording: chunks put back in order, those waiting for the detector, what it found."""

    run: str = ""
    utterance: Utterance = field(default_factory=Utterance)
    next_seq: int = 0
    early: dict = field(default_factory=dict)  # seq -> Chunk, come before one still missing
    missing_s: float = 0.0  # sound given up as lost since the last chunk handed on
    waiting: list = field(default_factory=list)  # (sample_rate, samples, missing_s) not yet looked at
    state: Heard = field(default_factory=lambda: Heard(False, 0.0))
    ended: list = field(default_factory=list)  # finished utterances not yet handed on
    told_speaking: bool = False  # what the last hear() said
    last_lost: float = 0.0  # the sound lost from the last utterance
    shown: str = ""  # the listening line this session's page shows (Listeners.changed); none while it answers
    busy: bool = False  # a worker is looking at its chunks
    error: Exception | None = None

    def put(self, chunk: Chunk) -> None:
        """Take a chunk in any order; hand on, in order, every chunk that no longer waits for an earlier one."""
        if chunk.seq < self.next_seq or chunk.seq in self.early:
            return  # given up on already, or sent twice
        self.early[chunk.seq] = chunk
        while self.early:
            if self.next_seq in self.early:
                ready = self.early.pop(self.next_seq)
                self.waiting.append((ready.sample_rate, ready.samples, self.missing_s))
                self.missing_s = 0.0
                self.next_seq += 1
            elif max(self.early) - self.next_seq >= REORDER_CHUNKS:
                self.missing_s += self.early[min(self.early)].seconds  # a lost chunk: about as long as the others
                self.next_seq += 1
            else:
                break


class Listeners:
    """The hands-free listeners of one app: a ``Session`` per browser session (the oldest is forgotten past
    ``max_sessions``), and worker threads that run the voice detector (loading it the first time)."""

    def __init__(self, max_sessions: int = 64, workers: int = 2):
        self.max_sessions = max_sessions
        self.sessions: dict[str, Session] = {}
        self._workers = workers
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._loaded = threading.Event()

    def hear(self, key: str, chunk: Chunk) -> Heard:
        """Queue one chunk for the detector and return at once: a finished utterance if one is waiting, else the
        latest state (``started`` marks a new start of speech). A failed detector raises RuntimeError."""
        with self._lock:
            session = self.sessions.get(key)
            if session is None or session.run != chunk.run:  # a new press of Start listening starts afresh
                self.sessions.pop(key, None)
                if len(self.sessions) >= self.max_sessions:
                    self.sessions.pop(next(iter(self.sessions)))
                session = self.sessions[key] = Session(run=chunk.run)
            if session.error is not None:
                raise RuntimeError(f"the voice detector failed: {session.error}") from session.error
            session.put(chunk)
            while len(session.waiting) > 1 and sum(len(w[1]) / w[0] for w in session.waiting) > MAX_S:
                session.waiting.pop(0)  # the detector is stuck: keep the latest sound only
            if session.waiting and not session.busy:
                session.busy = True
                self._executor().submit(self._look, session)
            heard = session.ended.pop(0) if session.ended else session.state
            if heard.speech is not None:
                session.last_lost, session.shown = heard.lost_s, ""
            started = heard.speaking and not session.told_speaking
            session.told_speaking = heard.speaking and heard.speech is None
        ready = self._loaded.is_set()
        return Heard(heard.speaking, heard.seconds, heard.speech, heard.lost_s, ready=ready, started=started)

    def last_lost(self, key: str) -> float:
        session = self.sessions.get(key)
        return session.last_lost if session else 0.0

    def changed(self, key: str, line: str) -> bool:
        """Whether ``line`` differs from the listening line ``key``'s page shows (a chunk comes every quarter second
        and most change nothing); if so it is the one shown from now on."""
        with self._lock:
            session = self.sessions.get(key)
            if session is None:
                return True
            if session.shown == line:
                return False
            session.shown = line
            return True

    def settle(self, key: str, timeout: float = 60) -> None:
        """Wait until the detector has looked at every chunk of ``key`` heard so far (for tests and shutdown)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                session = self.sessions.get(key)
                if session is None or not session.busy:
                    return
            if time.monotonic() > deadline:
                raise TimeoutError(f"the listener for {key!r} did not settle in {timeout} s")
            time.sleep(0.01)

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="listener")
        return self._pool

    def _look(self, session: Session) -> None:
        """The worker: run the detector over the waiting chunks, joined, until none are left."""
        import numpy as np

        try:
            if not self._loaded.is_set():
                speech_spans(np.zeros(SAMPLE_RATE, np.float32))  # imports faster-whisper, loads the Silero model
                self._loaded.set()
            while True:
                with self._lock:
                    waiting, session.waiting = session.waiting, []
                    if not waiting:
                        session.busy = False
                        return
                for rate, samples, missing in joined(waiting):
                    heard = session.utterance.add(rate, samples, missing_s=missing)
                    with self._lock:
                        if heard.speech is None:
                            session.state = heard
                        else:  # handed on once, from ended; the state after it is a silence, not the utterance again
                            session.ended.append(heard)
                            session.state = Heard(False, heard.seconds)
        except Exception as exc:  # told to the session's next hear()
            with self._lock:
                session.error, session.busy = exc, False


def joined(waiting: list) -> list:
    """Chunks that came one after another at one rate, with nothing lost between them, joined: one detector run for
    all of them."""
    import numpy as np

    out: list = []
    for rate, samples, missing in waiting:
        if out and out[-1][0] == rate and not missing:
            out[-1] = (rate, np.concatenate([out[-1][1], samples]), out[-1][2])
        else:
            out.append((rate, np.asarray(samples), missing))
    return out
