"""Chains across modalities, built only from the single-task wrappers: Talk to it, Draw and describe, Say it back.

Every stage looks its model up with ``registry.get(task, model)`` and calls the same wrapper method the
single tabs call (``transcribe``, ``stream``, ``synthesize``, ``generate``, ``caption``), so there is no
second code path. A chain is a generator: it yields its result after every change so the UI can show each
stage as it finishes. A stage that fails is marked with its sentence and the chain stops there, keeping what
the earlier stages made. No gradio here.
"""

from __future__ import annotations

import logging
import re
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Iterator

from playground.errors import UserError
from playground.metrics import word_diff, word_error_rate, words
from playground.models.chat import conversation
from playground.models.speech_to_text import speech_as_input
from playground.seeds import MAX_SEED

log = logging.getLogger("playground")

MAX_ROUNDS = 8  # telephone-game rounds in Draw and describe
ATTRIBUTES = ("size", "colour", "shape", "background")  # the shapes world's
PICTURE_ATTRIBUTES = ("object", "second", "scene", "size", "position")  # the picture world's ("second": of two)
# words that carry no meaning of their own when counting the words a prompt and a caption share
STOP_WORDS = frozenset("a an the of on in at with and or to is are there this that it its".split())


# ---------------------------------------------------------------- stages


@dataclass
class Stage:
    """One step of a chain: which task and model ran, how long it took, and how it ended."""

    task: str
    title: str
    model_id: str = ""
    state: str = "waiting"  # waiting, loading, running, done or failed
    seconds: float = 0.0  # running time, without loading
    load_seconds: float = 0.0  # the first use's loading time; 0 when the model was already loaded
    detail: str = ""  # what the stage made, e.g. "2.4 s of audio" or "31 tokens"
    error: str = ""  # the failure's plain sentence
    time_to_first_audio_s: float | None = None  # a speaking stage: from the chain's start to its first audio

    @property
    def failed(self) -> bool:
        return self.state == "failed"


@dataclass
class ChainResult:
    """The stages of one chain run, in order."""

    stages: list[Stage] = field(default_factory=list)

    @property
    def failed(self) -> Stage | None:
        """The stage that failed, if any (a chain stops at its first failure)."""
        return next((s for s in self.stages if s.failed), None)

    @property
    def total_seconds(self) -> float:
        return sum(s.seconds + s.load_seconds for s in self.stages)

    def failure_sentence(self) -> str:
        """ "The Chat stage failed: …", naming what was kept; empty when nothing failed."""
        stage = self.failed
        if stage is None:
            return ""
        kept = [s.title for s in self.stages if s.state == "done"]
        tail = f" The results of {_join(kept)} are kept." if kept else ""
        return f"The {stage.title} stage failed: {stage.error}{tail}"

    def stage_records(self) -> list[dict]:
        """The stages as plain dicts (for the API and the timing display)."""
        return [asdict(s) for s in self.stages]


@dataclass
class ChainModels:
    """The wrappers of a chain's stages, standing in for one wrapper when the run log records the chain."""

    task: str
    stages: list  # the wrappers that ran, in stage order

    @property
    def model_id(self) -> str:
        return " → ".join(dict.fromkeys(w.model_id for w in self.stages))

    @property
    def backend(self) -> str:
        return " + ".join(dict.fromkeys(getattr(w, "backend", "") for w in self.stages))

    @property
    def device(self):
        return self.stages[0].device if self.stages else None


def models_of(registry, result: ChainResult, task: str = "chains") -> ChainModels:
    """The wrappers of the stages that ran (each model once), for recording the run."""
    ran = [s for s in result.stages if s.model_id and s.state in ("done", "failed")]
    wrappers = {(s.task, s.model_id): registry.get(s.task, s.model_id) for s in ran}
    return ChainModels(task, list(wrappers.values()))


def _join(names: list[str]) -> str:
    names = list(dict.fromkeys(names))
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _sentence(exc: Exception) -> str:
    """A failure as one sentence; an unexpected one is logged in full and named only by its type."""
    if isinstance(exc, UserError):
        return str(exc)
    log.error("unexpected error in a chain stage", exc_info=exc)
    return f"something went wrong ({type(exc).__name__}); the details are in the server log."


def _add_stage(registry, result: ChainResult, task: str, suffix: str = "") -> Stage:
    stage = Stage(task, registry.task(task).title + suffix)
    result.stages.append(stage)
    return stage


@contextmanager
def _running(stage: Stage):
    """Time the stage's work and turn a failure into the stage's sentence instead of raising it.

    ``GeneratorExit`` (a stopped request) is not an ``Exception``, so stopping still stops.
    """
    stage.state = "running"
    start = time.perf_counter()
    try:
        yield
    except Exception as exc:  # reported on the stage: the earlier stages' results stay
        stage.state, stage.error = "failed", _sentence(exc)
    else:
        stage.state = "done"
    finally:
        stage.seconds = time.perf_counter() - start - stage.load_seconds


def _model(registry, stage: Stage, model_id: str | None):
    """The stage's wrapper, loaded; the load is timed apart from the work."""
    wrapper = registry.get(stage.task, model_id)
    stage.model_id = wrapper.model_id
    if not wrapper.loaded:
        stage.state = "loading"
        start = time.perf_counter()
        wrapper.ensure_loaded()
        stage.load_seconds = time.perf_counter() - start
        stage.state = "running"
    return wrapper


def _step(result: ChainResult, registry, stage: Stage, model_id: str | None, work) -> Iterator:
    """Load the stage's model, call ``work(wrapper)`` and show the result; returns whether the stage succeeded.

    Use it as ``if not (yield from _step(...)): return``: a chain stops at its first failed stage.
    """
    with _running(stage):
        work(_model(registry, stage, model_id))
    yield result
    return not stage.failed


# ---------------------------------------------------------------- Talk to it


@dataclass
class TalkResult(ChainResult):
    """One turn of a spoken conversation: what was heard, the reply, and the reply spoken sentence by sentence."""

    transcript: str = ""
    reply: str = ""
    speech: object = None  # models.text_to_speech.Speech: the whole spoken reply, once it is all spoken
    speech_parts: list = field(default_factory=list)  # each sentence's Speech, as soon as it is spoken
    spoken: list[str] = field(default_factory=list)  # the sentences those parts say
    history: list[dict] = field(default_factory=list)  # the conversation including this turn

    @property
    def time_to_first_audio_s(self) -> float | None:
        return self.stages[2].time_to_first_audio_s if len(self.stages) > 2 else None


_SPOKEN_END = re.compile(r"[.!?…]+[\"')\]]*\s+|\n+")
LONG_CLAUSE_WORDS = 20  # a sentence this long is spoken from its last comma, so the voice need not wait for its end
FIRST_CLAUSE_WORDS = 5  # the first words are spoken from the first comma after this many: the room hears a voice sooner
FIRST_WORDS = 8  # and without a comma, from this many words on (the room hears a voice within a second or two)


class SentenceSplitter:
    """A streamed reply cut into what can be spoken: each complete sentence (or line) as soon as its end arrives,
    and the reply's first clause as soon as its comma arrives."""

    def __init__(self):
        self.pending = ""
        self.spoken = 0

    def feed(self, text: str) -> list[str]:
        self.pending += text
        done = []
        while True:
            found = _SPOKEN_END.search(self.pending)
            if found is None:
                comma = self.pending.rfind(", ")
                first = not self.spoken and not done
                enough = FIRST_CLAUSE_WORDS if first else LONG_CLAUSE_WORDS
                if comma > 0 and len(self.pending[:comma].split()) >= enough:
                    found_end = comma + 2
                elif first and len(self.pending.split()) > FIRST_WORDS:
                    found_end = self.pending.rstrip().rfind(" ") + 1  # the whole words so far; the last may grow
                else:
                    break
            else:
                found_end = found.end()
            sentence, self.pending = self.pending[:found_end].strip(), self.pending[found_end:]
            if words(sentence):
                done.append(sentence)
        self.spoken += len(done)
        return done

    def rest(self) -> list[str]:
        """What is left at the end of the reply (a last sentence without its full stop)."""
        sentence, self.pending = self.pending.strip(), ""
        return [sentence] if words(sentence) else []


class _Speaker:
    """The speaking stage of Talk to it: each sentence spoken when it is complete, timed into its stage."""

    def __init__(self, registry, stage: Stage, model_id, options, started: float):
        self.registry, self.stage, self.model_id, self.options, self.started = (
            registry,
            stage,
            model_id,
            options,
            started,
        )
        self.wrapper = None

    def say(self, result: TalkResult, sentence: str) -> bool:
        """Speak one sentence into ``result.speech_parts``; False when the stage has failed (it says why)."""
        if self.stage.failed:
            return False
        self.stage.state = "running"
        try:
            if self.wrapper is None:
                self.wrapper = _model(self.registry, self.stage, self.model_id)
            start = time.perf_counter()
            speech = self.wrapper.synthesize(sentence, self.options or self.wrapper.Options())
            self.stage.seconds += time.perf_counter() - start
        except Exception as exc:  # the reply and the sentences spoken so far stay
            self.stage.state, self.stage.error = "failed", _sentence(exc)
            return False
        if self.stage.time_to_first_audio_s is None:
            self.stage.time_to_first_audio_s = round(time.perf_counter() - self.started, 3)
        result.speech_parts.append(speech)
        result.spoken.append(sentence)
        self.stage.detail = (
            f"{sum(p.seconds for p in result.speech_parts):.1f} s of speech, {len(result.speech_parts)} sentences"
        )
        return True

    def finish(self, result: TalkResult) -> None:
        import numpy as np

        if self.stage.failed or not result.speech_parts:
            return
        first = result.speech_parts[0]
        result.speech = type(first)(first.sample_rate, np.concatenate([p.samples for p in result.speech_parts]))
        self.stage.state = "done"


def talk(
    registry,
    samples,
    history: list[dict],
    *,
    system_prompt: str = "",
    seed: int,
    stt_model: str | None = None,
    chat_model: str | None = None,
    tts_model: str | None = None,
    stt_options=None,
    chat_options=None,
    tts_options=None,
) -> Iterator[TalkResult]:
    """Speech to Text → Chat (streamed, with the earlier turns) → Text to Speech, sentence by sentence.

    ``samples`` are 16 kHz mono float32; ``history`` holds the earlier turns as role/content dicts.
    Yields after each stage, after every reply token and after each spoken sentence: the voice starts on the
    reply's first sentence while the rest is still being written (``TalkResult.speech_parts``), and the speaking
    stage records ``time_to_first_audio_s``, from the start of the chain to the first sentence's audio.
    """
    from playground.models.speech_to_text import SAMPLE_RATE

    started = time.perf_counter()
    result = TalkResult(history=list(history))
    hear = _add_stage(registry, result, "speech_to_text")
    think = _add_stage(registry, result, "chat")
    speak = _add_stage(registry, result, "text_to_speech")
    yield result

    def listen(wrapper):
        transcript = wrapper.transcribe(samples, stt_options or wrapper.Options()).text.strip()
        if not words(transcript):
            raise UserError(
                "no speech was recognised in the recording; speak closer to the microphone or upload a clip."
            )
        result.transcript = transcript
        hear.detail = f"{len(samples) / SAMPLE_RATE:.1f} s of audio"

    if not (yield from _step(result, registry, hear, stt_model, listen)):
        return

    result.history = [
        *result.history,
        {"role": "user", "content": result.transcript},
        {"role": "assistant", "content": ""},
    ]
    asked = conversation(system_prompt, result.history[:-2], result.transcript)
    speaker = _Speaker(registry, speak, tts_model, tts_options, started)
    splitter = SentenceSplitter()
    with _running(think):
        wrapper = _model(registry, think, chat_model)
        yield result  # the transcript is in the conversation; the reply streams in next
        tokens = 0
        for step in wrapper.stream(asked, chat_options or wrapper.Options(), seed):
            tokens += 1
            result.reply += step.text
            result.history[-1]["content"] = result.reply
            think.detail = f"{tokens} tokens"
            for sentence in splitter.feed(step.text):
                if speaker.say(result, sentence):
                    yield result  # a sentence to play
            yield result
        if not result.reply.strip():
            raise UserError("the model ended its reply without any text; try again or raise the temperature.")
    think.seconds -= speak.seconds + speak.load_seconds  # the voice spoke inside the reply's time: not the chat's
    yield result
    if think.failed:
        return
    for sentence in splitter.rest():
        if speaker.say(result, sentence):
            yield result
    speaker.finish(result)
    yield result


# ---------------------------------------------------------------- Draw and describe


@dataclass
class Agreement:
    """How well a caption matches a prompt: a bundled world's attributes when both parse, else shared words."""

    score: float  # 0 to 1
    method: str  # "attributes" or "words"
    matched: list[str]
    differing: list[str]  # e.g. "colour: red → blue", or prompt words missing from the caption
    total: int

    def describe(self) -> str:
        what = "attributes match" if self.method == "attributes" else "of the prompt's words are in the caption"
        text = f"{len(self.matched)} of {self.total} {what}"
        return text + (f" (differs: {', '.join(self.differing)})" if self.differing else "")


def agreement(prompt: str, caption: str) -> Agreement:
    """Attribute match when both texts name at least two attributes of one bundled world (the picture world's
    object, scene, size and side first, then the shapes world's), else the prompt's words found in the caption.

    Only the attributes the prompt names count: "a cat on the beach" is matched on object and scene."""
    from playground import world
    from playground.shapes import world as shapes

    for parse, keys in ((world.parse_caption, PICTURE_ATTRIBUTES), (shapes.parse_caption, ATTRIBUTES)):
        asked, told = parse(prompt), parse(caption)
        if len(asked) >= 2 and len(told) >= 2:
            named = [k for k in keys if k in asked]
            matched = [f"{k}: {asked[k]}" for k in named if told.get(k) == asked[k]]
            differing = [f"{k}: {asked[k]} → {told.get(k, 'missing')}" for k in named if told.get(k) != asked[k]]
            return Agreement(len(matched) / len(named), "attributes", matched, differing, len(named))
    wanted = list(dict.fromkeys(w for w in words(prompt) if w not in STOP_WORDS))
    said = set(words(caption))
    matched = [w for w in wanted if w in said]
    differing = [w for w in wanted if w not in said]
    return Agreement(len(matched) / len(wanted) if wanted else 0.0, "words", matched, differing, len(wanted))


@dataclass
class DrawRound:
    """One picture and its caption; ``agreement`` compares with this round's prompt, ``drift`` with the first."""

    number: int
    prompt: str
    seed: int
    image: object = None  # PIL.Image.Image
    caption: str = ""
    agreement: Agreement | None = None
    drift: Agreement | None = None


@dataclass
class DrawResult(ChainResult):
    rounds: list[DrawRound] = field(default_factory=list)


def draw_and_describe(
    registry,
    prompt: str,
    *,
    seed: int,
    rounds: int = 1,
    negative_prompt: str = "",
    image_model: str | None = None,
    caption_model: str | None = None,
    image_options=None,
    caption_options=None,
) -> Iterator[DrawResult]:
    """Text to Image → Image Captioning; with ``rounds`` > 1 each caption becomes the next prompt (telephone game).

    Round n draws with seed + n - 1, so every picture is reproducible from the first seed.
    """
    if not 1 <= int(rounds) <= MAX_ROUNDS:
        raise UserError(f"Rounds must be between 1 and {MAX_ROUNDS}, got {rounds}.")
    result = DrawResult()
    for number in range(1, int(rounds) + 1):  # every stage is listed up front, so the whole game shows from the start
        suffix = f" (round {number})" if rounds > 1 else ""
        _add_stage(registry, result, "text_to_image", suffix)
        _add_stage(registry, result, "captioning", suffix)
    yield result
    current = prompt
    for number in range(1, int(rounds) + 1):
        draw, describe = result.stages[2 * number - 2 : 2 * number]
        this = DrawRound(number, current, (seed + number - 1) % (MAX_SEED + 1))
        result.rounds.append(this)
        yield result

        def paint(wrapper, this=this, draw=draw):
            image = wrapper.generate(this.prompt, negative_prompt, image_options or wrapper.Options(), this.seed)
            this.image = image.image
            draw.detail = f"{image.width}×{image.height}, {image.steps_done} steps"

        def look(wrapper, this=this, describe=describe):
            text = wrapper.caption(this.image, caption_options or wrapper.Options(), this.seed).text.strip()
            if not words(text):
                raise UserError("the model produced no caption for this picture.")
            this.caption = text
            this.agreement = agreement(this.prompt, text)
            this.drift = agreement(prompt, text)
            describe.detail = f"{this.agreement.score:.0%} agreement"

        if not (yield from _step(result, registry, draw, image_model, paint)):
            return
        if not (yield from _step(result, registry, describe, caption_model, look)):
            return
        current = this.caption


# ---------------------------------------------------------------- Say it back


@dataclass
class SayBackResult(ChainResult):
    """Text spoken and heard again: the transcript, its word error rate and the words that differ."""

    text: str = ""
    speech: object = None  # models.text_to_speech.Speech
    transcript: str = ""
    wer: float | None = None
    diff: list[tuple[str, str | None]] = field(default_factory=list)
    heard_words: list[dict] = field(default_factory=list)  # word, start, end (in the spoken clip), probability


def say_back(
    registry,
    text: str,
    *,
    tts_model: str | None = None,
    stt_model: str | None = None,
    tts_options=None,
    stt_options=None,
) -> Iterator[SayBackResult]:
    """Text to Speech → Speech to Text, scored with the word error rate against the typed text."""
    from playground.models.speech_to_text import SAMPLE_RATE

    result = SayBackResult(text=text)
    speak = _add_stage(registry, result, "text_to_speech")
    hear = _add_stage(registry, result, "speech_to_text")
    yield result

    def say(wrapper):
        result.speech = wrapper.synthesize(text, tts_options or wrapper.Options())
        speak.detail = f"{result.speech.seconds:.1f} s of speech"

    def listen(wrapper):
        heard = wrapper.transcribe(speech_as_input(result.speech, SAMPLE_RATE), stt_options or wrapper.Options())
        result.transcript = heard.text.strip()
        result.heard_words = [w.as_dict() for w in heard.words]  # where in the spoken clip each word was heard
        result.wer = word_error_rate(text, result.transcript)
        result.diff = word_diff(text, result.transcript)
        hear.detail = f"word error rate {result.wer:.0%}"

    if (yield from _step(result, registry, speak, tts_model, say)):
        yield from _step(result, registry, hear, stt_model, listen)
