"""Pictures of sound for people who have never seen one: a clip's waveform over its mel spectrogram.

No gradio here: the tabs show the figure in a ``gr.Plot``, and compare cards embed it as a PNG.
"""

from __future__ import annotations

from playground.errors import UserError
from playground.media import mono_float

TITLE = "The picture of the sound"
CAPTION = (
    "The picture of the sound: time runs left to right, the top strip shows how loud it is, and below it "
    "low pitches sit at the bottom and high pitches at the top, brighter where there is more sound."
)
MEL_BANDS = 80
PITCH_TICKS = (100, 500, 1000, 2000, 4000, 8000)  # Hz, labelled on the pitch axis where they fit
WAVE_POINTS = 2000  # the waveform is drawn as a min/max envelope over this many slices


def mel_decibels(audio, sample_rate: int):
    """The mel spectrogram in decibels below the clip's loudest point (0 is the loudest, -80 silence)."""
    import librosa
    import numpy as np

    n_fft = 1024 if sample_rate > 16_000 else 512
    mel = librosa.feature.melspectrogram(
        y=audio, sr=sample_rate, n_fft=n_fft, hop_length=n_fft // 4, n_mels=MEL_BANDS, fmax=sample_rate / 2
    )
    return librosa.power_to_db(mel, ref=np.max, top_db=80.0)


def sound_figure(
    samples, sample_rate: int, title: str = TITLE, size: tuple[float, float] = (7.5, 3.8), compact: bool = False
):
    """A waveform strip over a mel spectrogram, as a matplotlib Figure (no pyplot state, safe in threads)."""
    import librosa
    import numpy as np
    from matplotlib.figure import Figure

    audio = mono_float(samples)
    if audio.size == 0:
        raise UserError("The sound is empty, so there is nothing to draw.")
    seconds = audio.size / sample_rate
    fig = Figure(figsize=size, dpi=100, layout="constrained")
    wave_ax, spec_ax = fig.subplots(2, 1, sharex=True, height_ratios=[1, 2.6])

    slices = np.array_split(audio, min(WAVE_POINTS, audio.size))
    times = np.linspace(0, seconds, len(slices))
    wave_ax.fill_between(times, [s.min() for s in slices], [s.max() for s in slices], color="#4c6ef5", lw=0.6)
    peak = max(float(np.abs(audio).max()), 1e-3)
    wave_ax.set_ylim(-peak * 1.05, peak * 1.05)
    wave_ax.set_yticks([])
    wave_ax.set_ylabel("loud", fontsize=8 if compact else 9)
    wave_ax.spines[["top", "right", "left"]].set_visible(False)

    decibels = mel_decibels(audio, sample_rate)
    spec_ax.imshow(
        decibels,
        origin="lower",
        aspect="auto",
        cmap="magma",
        interpolation="nearest",
        extent=(0, seconds, 0, MEL_BANDS),
    )
    centres = librosa.mel_frequencies(n_mels=MEL_BANDS, fmin=0.0, fmax=sample_rate / 2)
    ticks = [f for f in PITCH_TICKS if centres[0] < f < centres[-1]]
    if compact:
        ticks = ticks[::2]
    spec_ax.set_yticks(
        np.interp(ticks, centres, np.arange(MEL_BANDS) + 0.5),
        [f"{f // 1000} kHz" if f >= 1000 else f"{f} Hz" for f in ticks],
        fontsize=7 if compact else 8,
    )
    spec_ax.set_ylabel("pitch", fontsize=8 if compact else 9)
    spec_ax.set_xlabel("seconds", fontsize=8 if compact else 9)
    spec_ax.tick_params(axis="x", labelsize=7 if compact else 8)
    if title:
        fig.suptitle(title, fontsize=10 if compact else 12, x=0.01, ha="left")
    elif not compact:
        fig.get_layout_engine().set(rect=(0, 0, 1, 0.92))  # room for the label a Gradio plot draws over its corner
    return fig


def png_bytes(fig) -> bytes:
    """A figure rendered to PNG (for cards that embed their pictures)."""
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


LIVE_KEEP = 3  # each update repeats the last few sentences: a page that skipped an update still plays them all


def live_html(parts, run: str, texts=None) -> str:
    """Sentences of speech for the page to play one after another as they arrive (``playground/ui/page.js``).

    ``parts`` are all the ``(sample_rate, samples)`` pairs so far, in order (``texts`` what each says); the last
    ``LIVE_KEEP`` become inline WAVs in ``.live-chunk`` elements numbered within ``run`` (a fresh id per
    request), so the page plays each one once, in order, even when it renders only some of the updates.
    """
    import base64
    import html

    from playground.media import wav_bytes

    chunks = []
    for index in range(max(0, len(parts) - LIVE_KEEP), len(parts)):
        sample_rate, samples = parts[index]
        src = "data:audio/wav;base64," + base64.b64encode(wav_bytes(samples, sample_rate)).decode()
        said = html.escape(texts[index]) if texts and index < len(texts) else f"sentence {index + 1}"
        chunks.append(
            f'<div class="live-chunk" data-run="{html.escape(run)}" data-seq="{index}" data-src="{src}">'
            f"🔊 {said} <span class='live-length'>({len(samples) / sample_rate:.1f} s)</span></div>"
        )
    return f'<div class="live-audio" data-run="{html.escape(run)}">{"".join(chunks)}</div>'
