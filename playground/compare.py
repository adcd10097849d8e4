"""Compare settings side by side: the cells of a sweep in each tab, run and summarised.

No gradio here: the tabs call these and only lay out what comes back.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from playground.errors import UserError
from playground.metrics import distinct_n, mean_pairwise_similarity, word_diff, word_error_rate, words
from playground.models.text_to_image import MAX_PROMPT_CHARS
from playground.options import label_of
from playground.seeds import MAX_SEED
from playground.sweep import MAX_VALUES, parse_option_values, parse_values

MAX_SAMPLES = 6


# ---------------------------------------------------------------- chat


@dataclass
class ChatCell:
    temperature: float
    top_p: float
    sample: int
    seed: int
    text: str = ""
    tokens: int = 0
    seconds: float = 0.0
    done: bool = False


def chat_cells(options_cls, base, temperatures, top_ps, samples, seed: int) -> list[ChatCell]:
    """Every temperature × top-p pair, ``samples`` answers each; sample i uses seed + i at every setting."""
    temps = (
        parse_option_values(temperatures, options_cls, "temperature") if _given(temperatures) else [base.temperature]
    )
    tops = parse_option_values(top_ps, options_cls, "top_p") if _given(top_ps) else [base.top_p]
    samples = _whole(samples, "Samples", 1, MAX_SAMPLES)
    return [
        ChatCell(t, p, i, (seed + i) % (MAX_SEED + 1))
        for t, p in itertools.product(temps, tops)
        for i in range(samples)
    ]


def run_chat_cell(
    wrapper, conversation, base, cell: ChatCell, on_token: Callable[[ChatCell], None], stop: threading.Event
) -> ChatCell:
    """Stream one answer into ``cell``; ``on_token`` sees it grow, ``stop`` ends it early."""
    import time

    options = base.model_copy(update={"temperature": cell.temperature, "top_p": cell.top_p})
    start = time.perf_counter()
    stream = wrapper.stream(conversation, options, cell.seed)
    try:
        for step in stream:
            cell.text += step.text
            cell.tokens += 1
            cell.seconds = time.perf_counter() - start
            on_token(cell)
            if stop.is_set():
                break
    finally:
        stream.close()
    cell.done = not stop.is_set()
    return cell


def chat_summary(cells: list[ChatCell]) -> list[dict]:
    """Diversity per setting (when it has several samples) and over all answers."""
    groups: dict[tuple, list[str]] = {}
    for c in cells:
        if c.text:
            groups.setdefault((c.temperature, c.top_p), []).append(c.text)
    rows = [_diversity(f"temperature {t:g}, top-p {p:g}", texts) for (t, p), texts in groups.items() if len(texts) > 1]
    every = [c.text for c in cells if c.text]
    if len(groups) > 1 or not rows:
        rows.append(_diversity("all answers", every))
    return rows


def _diversity(name: str, texts: list[str]) -> dict:
    return {
        "set": name,
        "answers": len(texts),
        "mean words": round(sum(len(words(t)) for t in texts) / max(len(texts), 1), 1),
        "distinct-1": round(distinct_n(texts, 1), 3),
        "distinct-2": round(distinct_n(texts, 2), 3),
        "mean pairwise similarity": round(mean_pairwise_similarity(texts), 3),
    }


# ---------------------------------------------------------------- text to image

IMAGE_AXES = {  # axis name -> what its values are
    "guidance_scale": "numbers",
    "steps": "numbers",
    "seed": "seeds",
    "prompt": "prompts, one per line or separated by |",
    "model": "model ids, separated by commas",
}
NO_AXIS = "none"


@dataclass
class ImageCell:
    x: Any
    y: Any
    prompt: str
    model: str
    seed: int
    options: Any
    image: Any = None
    seconds: float = 0.0
    steps_done: int = 0
    label: str = ""
    settings: dict = field(default_factory=dict)


def axis_values(name: str, text, options_cls, prompt: str, model: str) -> list:
    """Parse one axis's values, each checked the same way a single run checks it."""
    if name == NO_AXIS:
        return [None]
    if name not in IMAGE_AXES:
        raise UserError(f"Unknown axis {name!r}; choose one of: {', '.join([*IMAGE_AXES, NO_AXIS])}.")
    if name in options_cls.model_fields:
        return parse_option_values(text, options_cls, name)
    if name == "seed":
        seeds = parse_values(text, "Seed", int)
        for s in seeds:
            if not 0 <= s <= MAX_SEED:
                raise UserError(f"Seeds must be between 0 and {MAX_SEED}, got {s}.")
        return seeds
    separator = r"[\n|]" if name == "prompt" else r"[\n,]"
    items = [v.strip() for v in re.split(separator, str(text or "")) if v.strip()]
    if not items:
        raise UserError(f"Give at least one {name} for that axis.")
    if len(items) > MAX_VALUES:
        raise UserError(f"The {name} axis has {len(items)} values; the limit is {MAX_VALUES}.")
    if name == "prompt":
        for item in items:
            if len(item) > MAX_PROMPT_CHARS:
                raise UserError(
                    f"A prompt on the prompt axis is {len(item):,} characters long; the limit is {MAX_PROMPT_CHARS:,}."
                )
    return items


def image_cells(prompt, model, seed, base, options_cls, x_param, x_values, y_param, y_values) -> list[ImageCell]:
    """The grid's cells, row by row; every cell shares the seed unless an axis is the seed."""
    if x_param == NO_AXIS:
        raise UserError("Choose a setting for the X axis.")
    if x_param == y_param:
        raise UserError(f"The X and Y axes must be different settings; both are {x_param!r}.")
    xs = axis_values(x_param, x_values, options_cls, prompt, model)
    ys = axis_values(y_param, y_values, options_cls, prompt, model)
    cells = []
    for y in ys:
        for x in xs:
            settings = {"prompt": prompt, "model": model, "seed": seed, **base.model_dump()}
            for name, value in ((x_param, x), (y_param, y)):
                if name != NO_AXIS:
                    settings[name] = value
            options = options_cls.parse(**{k: settings[k] for k in options_cls.model_fields})
            cells.append(
                ImageCell(
                    x,
                    y,
                    settings["prompt"],
                    settings["model"],
                    settings["seed"],
                    options,
                    label=_cell_label(x_param, x, y_param, y),
                    settings=settings,
                )
            )
    return cells


def axis_label(name: str, value, options_cls) -> str:
    """How a value reads on the grid: "Guidance scale 7.5", "seed 42", or the prompt itself."""
    if name in options_cls.model_fields:
        return f"{label_of(options_cls, name)} {value:g}"
    if name == "seed":
        return f"seed {value}"
    return str(value)


def _cell_label(x_param, x, y_param, y) -> str:
    parts = [f"{x_param}={x}"] + ([f"{y_param}={y}"] if y_param != NO_AXIS else [])
    return ", ".join(parts)


def cell_record(cell) -> dict:
    """A cell as plain data for the API's JSON summary."""
    data = dataclasses.asdict(cell) if dataclasses.is_dataclass(cell) else dict(cell)
    data.pop("image", None)
    if "options" in data and hasattr(cell, "options"):
        data["options"] = cell.options.model_dump()
    return data


def _given(value) -> bool:
    return value not in (None, "") and not (isinstance(value, (list, tuple)) and not value)


def _whole(value, what: str, low: int, high: int) -> int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise UserError(f"{what} must be a whole number, got {value!r}.") from None
    if number != number or number != int(number) or not low <= number <= high:
        raise UserError(f"{what} must be a whole number from {low} to {high}, got {value}.")
    return int(number)


# ---------------------------------------------------------------- speech, transcripts and captions

MAX_MEDIA_CELLS = 12  # clips and captions travel inside the page, so these sweeps stay small


def _limit(cells: list, what: str) -> list:
    if len(cells) > MAX_MEDIA_CELLS:
        raise UserError(f"That comparison makes {len(cells)} {what}; the limit is {MAX_MEDIA_CELLS}. Use fewer values.")
    return cells


@dataclass
class SpeechCell:
    expressiveness: float
    rate: float
    seed: int
    options: Any
    samples: Any = None
    sample_rate: int = 0
    seconds: float = 0.0  # how long the clip is
    elapsed: float = 0.0  # how long it took to make

    @property
    def label(self) -> str:
        return f"expressiveness {self.expressiveness:g} · rate {self.rate:g}"


def speech_cells(options_cls, base, expressiveness_values, rate_values, seed: int) -> list[SpeechCell]:
    """Every expressiveness × rate pair, all with the same seed, so only the setting differs."""
    if not _given(expressiveness_values) and not _given(rate_values):
        raise UserError("Give expressiveness or rate values to compare, separated by commas.")
    levels = (
        parse_option_values(expressiveness_values, options_cls, "expressiveness")
        if _given(expressiveness_values)
        else [base.expressiveness]
    )
    rates = parse_option_values(rate_values, options_cls, "rate") if _given(rate_values) else [base.rate]
    cells = [
        SpeechCell(e, r, seed, base.model_copy(update={"expressiveness": e, "rate": r})) for r in rates for e in levels
    ]
    return _limit(cells, "clips")


def run_speech_cell(wrapper, text: str, cell: SpeechCell) -> SpeechCell:
    """Speak ``text`` with the cell's settings and seed."""
    import time

    start = time.perf_counter()
    speech = wrapper.synthesize(text, cell.options, cell.seed)
    cell.samples, cell.sample_rate, cell.seconds = speech.samples, speech.sample_rate, speech.seconds
    cell.elapsed = time.perf_counter() - start
    return cell


@dataclass
class TranscriptCell:
    beam_size: int
    temperature: float
    options: Any
    text: str = ""
    elapsed: float = 0.0
    wer: float | None = None
    done: bool = False
    words: list = field(default_factory=list)  # dicts: word, start, end, probability

    @property
    def label(self) -> str:
        return f"beam size {self.beam_size} · temperature {self.temperature:g}"


def transcript_cells(options_cls, base, beam_sizes, temperatures) -> list[TranscriptCell]:
    """Every beam size × decoding temperature pair; an empty list keeps the slider's value."""
    if not _given(beam_sizes) and not _given(temperatures):
        raise UserError("Give beam sizes or temperatures to compare, separated by commas.")
    beams = parse_option_values(beam_sizes, options_cls, "beam_size") if _given(beam_sizes) else [base.beam_size]
    temps = (
        parse_option_values(temperatures, options_cls, "temperature") if _given(temperatures) else [base.temperature]
    )
    cells = [
        TranscriptCell(b, t, base.model_copy(update={"beam_size": b, "temperature": t})) for t in temps for b in beams
    ]
    return _limit(cells, "transcripts")


def run_transcript_cell(wrapper, audio, cell: TranscriptCell, reference: str = "") -> TranscriptCell:
    """Transcribe ``audio`` with the cell's settings; score it when there is a reference."""
    import time

    start = time.perf_counter()
    transcript = wrapper.transcribe(audio, cell.options)
    cell.text, cell.words = transcript.text, [w.as_dict() for w in transcript.words]
    cell.elapsed = time.perf_counter() - start
    cell.wer = word_error_rate(reference, cell.text) if reference.strip() else None
    cell.done = True
    return cell


def transcript_summary(cells: list[TranscriptCell]) -> list[dict]:
    """One row per finished transcript: its setting, length, time and (with a reference) word error rate."""
    rows = []
    for c in cells:
        if not c.done:
            continue
        row = {"setting": c.label, "words": len(words(c.text)), "seconds": round(c.elapsed, 2)}
        if c.wer is not None:
            row["word error rate (%)"] = round(100 * c.wer, 1)
        rows.append(row)
    return rows


DIFF_LABELS = {"-": "missed (in the reference only)", "+": "extra (not in the reference)"}


def transcript_diffs(cells: list[TranscriptCell], reference: str) -> list[tuple[str, str | None]]:
    """Each finished transcript's words against the reference, for a ``gr.HighlightedText``."""
    out: list[tuple[str, str | None]] = []
    for c in cells:
        if not c.done:
            continue
        out.append((f"{c.label}: ", None))
        for w, tag in word_diff(reference, c.text):
            out += [(w, DIFF_LABELS.get(tag)), (" ", None)]  # the component joins pieces with no space
        out.append(("\n", None))
    return out


@dataclass
class CaptionCell:
    model: str
    temperature: float
    sample: int
    seed: int
    options: Any
    text: str = ""
    tokens: list = field(default_factory=list)
    elapsed: float = 0.0
    done: bool = False
    cut: bool = False  # the caption ran into the token limit

    @property
    def label(self) -> str:
        return f"{self.model} · temperature {self.temperature:g} · sample {self.sample + 1} · seed {self.seed}"


def caption_cells(options_cls, base, temperatures, models, samples, seed: int, default_model: str) -> list[CaptionCell]:
    """Every model × temperature pair, ``samples`` captions each; sample i uses seed + i everywhere."""
    temps = (
        parse_option_values(temperatures, options_cls, "temperature") if _given(temperatures) else [base.temperature]
    )
    names = [m.strip() for m in re.split(r"[\n,]", str(models or "")) if m.strip()] or [default_model]
    if len(names) > MAX_VALUES:
        raise UserError(f"Models has {len(names)} values; the limit is {MAX_VALUES}.")
    samples = _whole(samples, "Samples", 1, MAX_SAMPLES)
    cells = [
        CaptionCell(m, t, i, (seed + i) % (MAX_SEED + 1), base.model_copy(update={"temperature": t}))
        for m in dict.fromkeys(names)
        for t in temps
        for i in range(samples)
    ]
    return _limit(cells, "captions")


def run_caption_cell(wrapper, image, cell: CaptionCell) -> CaptionCell:
    """Caption ``image`` with the cell's model, temperature and seed."""
    import time

    start = time.perf_counter()
    result = wrapper.caption(image, cell.options, cell.seed)
    cell.text, cell.tokens, cell.elapsed, cell.done = result.text, result.tokens, time.perf_counter() - start, True
    cell.cut = result.cut
    return cell


def caption_summary(cells: list[CaptionCell]) -> list[dict]:
    """How different the finished captions are, and how sure the model was on average."""
    done = [c for c in cells if c.done]
    if not done:
        return []
    confidences = [p for c in done for _, p in c.tokens]
    row = _diversity("all captions", [c.text for c in done])
    row["different captions"] = len({c.text for c in done})
    row["mean word confidence (%)"] = round(100 * sum(confidences) / len(confidences), 1) if confidences else None
    return [row]
