"""Subtitles from a transcript's timed words: SRT, WebVTT and JSON. No Gradio, no model.

Cues are built from the words: a cue ends at a sentence's end, after ``MAX_CUE_WORDS`` words, before a line would
pass ``MAX_CUE_CHARS`` characters, or at a pause of ``PAUSE_S`` seconds. Without word timings (a backend that gives
only segments), each segment is one cue.
"""

from __future__ import annotations

import json

FORMATS = ("srt", "vtt", "json")
MAX_CUE_WORDS = 10
MAX_CUE_CHARS = 42  # the usual line length of broadcast subtitles
PAUSE_S = 0.8


def cues(transcript) -> list[tuple[float, float, str]]:
    """``(start, end, text)`` per cue, in order."""
    from playground.models.speech_to_text import group_words

    if not transcript.words:
        return [(start, end, text) for start, end, text in transcript.segments if text.strip()]
    return group_words(transcript.words, PAUSE_S, MAX_CUE_WORDS, MAX_CUE_CHARS)


def timestamp(seconds: float, separator: str) -> str:
    """``HH:MM:SS,mmm`` (SRT, ``separator=","``) or ``HH:MM:SS.mmm`` (WebVTT)."""
    millis = max(0, round(seconds * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def to_srt(transcript) -> str:
    blocks = [
        f"{n}\n{timestamp(start, ',')} --> {timestamp(end, ',')}\n{text}\n"
        for n, (start, end, text) in enumerate(cues(transcript), 1)
    ]
    return "\n".join(blocks)


def to_vtt(transcript) -> str:
    blocks = [f"{timestamp(start, '.')} --> {timestamp(end, '.')}\n{text}\n" for start, end, text in cues(transcript)]
    return "WEBVTT\n\n" + "\n".join(blocks)


def to_json(transcript) -> str:
    data = {
        "text": transcript.text,
        "language": transcript.language,
        "segments": [{"start": round(s, 3), "end": round(e, 3), "text": t} for s, e, t in transcript.segments],
        "words": [w.as_dict() for w in transcript.words],
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def check_format(fmt) -> str:
    """``fmt`` as one of ``FORMATS`` (case and spaces ignored); another is refused with one sentence."""
    from playground.errors import UserError

    name = str(fmt or "").strip().lower()
    if name not in FORMATS:
        raise UserError(f"The subtitle format must be one of {', '.join(FORMATS)}, got {fmt!r}.")
    return name


def render(transcript, fmt: str) -> str:
    """The transcript as ``fmt`` (one of ``FORMATS``)."""
    return {"srt": to_srt, "vtt": to_vtt, "json": to_json}[check_format(fmt)](transcript)
