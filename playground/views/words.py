"""Heard words as HTML: each word coloured by how sure the model was (the caption view's scale), with its time.

``karaoke_html`` adds a player; the page's script (``playground/ui/page.js``) lights up the word being spoken as
the player plays, from each word's ``data-start`` and ``data-end``.
"""

from __future__ import annotations

import base64
import html
import io

from playground.media import mono_float
from playground.views.token_choices import BAND_COLOURS, confidence_band

UNKNOWN_COLOUR = "#e5e7eb"  # a backend that gives no probability (the transformers pipeline)
PLAYER_LIMIT_S = 15 * 60  # longer audio gets the words without the inline player (it would be a large page)


def legend() -> str:
    swatches = " ".join(
        f'<span class="token" style="background:{colour}">{html.escape(label)}</span>'
        for label, colour in BAND_COLOURS.items()
    )
    return f'<div class="answer-legend">How sure the model was of each word: {swatches}</div>'


def word_spans(words) -> str:
    """One ``<span>`` per word (``Word`` or its dict), titled with its time and probability."""
    spans = []
    for w in words:
        w = w if isinstance(w, dict) else w.as_dict()
        p = w.get("probability")
        colour = UNKNOWN_COLOUR if p is None else BAND_COLOURS[confidence_band(p)]
        sure = "" if p is None else f" · {100 * p:.0f}% sure"
        spans.append(
            f'<span class="token word" data-start="{w["start"]:.3f}" data-end="{w["end"]:.3f}" '
            f'title="{w["start"]:.2f}–{w["end"]:.2f} s{sure}" style="background:{colour}">{html.escape(w["word"])}</span>'
        )
    return " ".join(spans)


def audio_data_uri(samples, sample_rate: int) -> str:
    """The samples as an inline Ogg Vorbis clip (small), or WAV where libsndfile cannot write Vorbis."""
    import soundfile as sf

    buffer = io.BytesIO()
    samples = mono_float(samples)  # int16 from a voice, or float: as float32 in [-1, 1]
    try:
        sf.write(buffer, samples, sample_rate, format="OGG", subtype="VORBIS")
        mime = "audio/ogg"
    except (sf.LibsndfileError, RuntimeError, ValueError):
        buffer = io.BytesIO()
        sf.write(buffer, samples, sample_rate, format="WAV", subtype="PCM_16")
        mime = "audio/wav"
    return f"data:{mime};base64,{base64.b64encode(buffer.getvalue()).decode()}"


def karaoke_html(words, samples=None, sample_rate: int = 16_000) -> str:
    """A player and the words under it; the word being played lights up. Without words, a plain sentence."""
    if not words:
        return (
            '<div class="karaoke"><p class="karaoke-empty">No words were heard, so there is nothing to time.</p></div>'
        )
    player = ""
    if samples is not None and len(samples) / sample_rate <= PLAYER_LIMIT_S:
        player = f'<audio class="karaoke-player" controls preload="auto" src="{audio_data_uri(samples, sample_rate)}"></audio>'
    return f'<div class="karaoke">{player}{legend()}<p class="karaoke-words answer-text">{word_spans(words)}</p></div>'
