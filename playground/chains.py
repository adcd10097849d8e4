"""Chains across modalities, built only from the single-task wrappers: Talk to it, Draw and describe, Say it back.

Every stage looks its model up with ``registry.get(task, model)`` and calls the same wrapper method the
single tabs call (``transcribe``, ``stream``, ``synthesize``, ``generate``, ``caption``), so there is no
second code path. A chain is a generator: it yields its result after every change so the UI can show each
stage as it finishes. A stage that fails is marked with its sentence and the chain stops there, keeping what
the earlier stages made. No gradio here.
"""

from __future__ import annotations

import logging
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
ATTRIBUTES = ("size", "colour", "shape", "background")
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


# ---------------------------------------------------------------- Talk to it


@dataclass
class TalkResult(ChainResult):
    """One turn of a spoken conversation: what was heard, the reply, and the reply spoken."""

    transcript: str = ""
    reply: str = ""
    speech: object = None  # models.text_to_speech.Speech
    history: list[dict] = field(default_factory=list)  # the conversation including this turn


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
    """Speech to Text → Chat (streamed, with the earlier turns) → Text to Speech.

    ``samples`` are 16 kHz mono float32; ``history`` holds the earlier turns as role/content dicts.
    Yields after each stage and after every reply token.
    """
    from playground.models.speech_to_text import SAMPLE_RATE

    result = TalkResult(history=list(history))
    hear = _add_stage(registry, result, "speech_to_text")
    think = _add_stage(registry, result, "chat")
    speak = _add_stage(registry, result, "text_to_speech")
    yield result

    with _running(hear):
        wrapper = _model(registry, hear, stt_model)
        transcript = wrapper.transcribe(samples, stt_options or wrapper.Options()).text.strip()
        if not words(transcript):
            raise UserError(
                "no speech was recognised in the recording; speak closer to the microphone or upload a clip."
            )
        result.transcript = transcript
        hear.detail = f"{len(samples) / SAMPLE_RATE:.1f} s of audio"
    yield result
    if hear.failed:
        return

    result.history = [
        *result.history,
        {"role": "user", "content": result.transcript},
        {"role": "assistant", "content": ""},
    ]
    asked = conversation(system_prompt, result.history[:-2], result.transcript)
    with _running(think):
        wrapper = _model(registry, think, chat_model)
        yield result  # the transcript is in the conversation; the reply streams in next
        tokens = 0
        for step in wrapper.stream(asked, chat_options or wrapper.Options(), seed):
            tokens += 1
            result.reply += step.text
            result.history[-1]["content"] = result.reply
            think.detail = f"{tokens} tokens"
            yield result
        if not result.reply.strip():
            raise UserError("the model ended its reply without any text; try again or raise the temperature.")
    yield result
    if think.failed:
        return

    with _running(speak):
        wrapper = _model(registry, speak, tts_model)
        result.speech = wrapper.synthesize(result.reply, tts_options or wrapper.Options())
        speak.detail = f"{result.speech.seconds:.1f} s of speech"
    yield result


# ---------------------------------------------------------------- Draw and describe


@dataclass
class Agreement:
    """How well a caption matches a prompt: shapes-world attributes when both parse, else shared words."""

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
    """Attribute match on the shapes world when both texts name at least two attributes, else words shared."""
    from playground.shapes.world import parse_caption

    asked, told = parse_caption(prompt), parse_caption(caption)
    if len(asked) >= 2 and len(told) >= 2:
        keys = [k for k in ATTRIBUTES if k in asked]
        matched = [f"{k}: {asked[k]}" for k in keys if told.get(k) == asked[k]]
        differing = [f"{k}: {asked[k]} → {told.get(k, 'missing')}" for k in keys if told.get(k) != asked[k]]
        return Agreement(len(matched) / len(keys), "attributes", matched, differing, len(keys))
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

        with _running(draw):
            wrapper = _model(registry, draw, image_model)
            image = wrapper.generate(this.prompt, negative_prompt, image_options or wrapper.Options(), this.seed)
            this.image = image.image
            draw.detail = f"{image.width}×{image.height}, {image.steps_done} steps"
        yield result
        if draw.failed:
            return

        with _running(describe):
            wrapper = _model(registry, describe, caption_model)
            text = wrapper.caption(this.image, caption_options or wrapper.Options(), this.seed).text.strip()
            if not words(text):
                raise UserError("the model produced no caption for this picture.")
            this.caption = text
            this.agreement = agreement(this.prompt, text)
            this.drift = agreement(prompt, text)
            describe.detail = f"{this.agreement.score:.0%} agreement"
        yield result
        if describe.failed:
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

    with _running(speak):
        wrapper = _model(registry, speak, tts_model)
        result.speech = wrapper.synthesize(text, tts_options or wrapper.Options())
        speak.detail = f"{result.speech.seconds:.1f} s of speech"
    yield result
    if speak.failed:
        return

    with _running(hear):
        wrapper = _model(registry, hear, stt_model)
        result.transcript = wrapper.transcribe(
            speech_as_input(result.speech, SAMPLE_RATE), stt_options or wrapper.Options()
        ).text.strip()
        result.wer = word_error_rate(text, result.transcript)
        result.diff = word_diff(text, result.transcript)
        hear.detail = f"word error rate {result.wer:.0%}"
    yield result
