"""The Text to Speech tab: type text, hear it, see the picture of the sound, download the WAV; and the same
text spoken at several expressiveness and rate settings side by side."""

from __future__ import annotations

import base64
import html
import secrets
import tempfile
from pathlib import Path

import gradio as gr

from playground import compare, media
from playground import run as runs
from playground.models.text_to_speech import MAX_TEXT_CHARS
from playground.ui.controls import (
    data_view,
    model_dropdown,
    require_text,
    resolve_seed,
    seed_row,
    task_controls,
    wire_unload,
)
from playground.ui.endpoints import Endpoint
from playground.ui.presenter import advanced
from playground.ui.remote import remote_section
from playground.ui.stopping import StopNotes, in_job
from playground.ui.sweeps import ComparePanel, card, card_grid
from playground.views import audio_views

TASK = "text_to_speech"
EXAMPLE_TEXTS = [
    "Welcome to the generative AI playground.",
    "The quick brown fox jumps over the lazy dog.",
    "Speech synthesis turns written words into sound, one phoneme at a time.",
]
COMPARE_TEXT = "The sea was calm this morning."


def clip_cards(cells) -> str:
    """The compared clips as cards: setting, a player, and the picture of the sound."""
    cards = []
    for c in cells:
        if c.samples is None:
            body, foot = '<div class="clip-wait">…</div>', "waiting"
        else:
            wav = base64.b64encode(media.wav_bytes(c.samples, c.sample_rate)).decode()
            png = base64.b64encode(
                audio_views.png_bytes(
                    audio_views.sound_figure(c.samples, c.sample_rate, title="", size=(3.6, 2.3), compact=True)
                )
            ).decode()
            body = (
                f'<audio controls preload="metadata" src="data:audio/wav;base64,{wav}"></audio>'
                f'<img alt="The picture of the sound for {html.escape(c.label)}" src="data:image/png;base64,{png}">'
            )
            foot = f"{c.seconds:.1f} s of speech, made in {c.elapsed:.2f} s"
        cards.append(card(f"{c.label} · seed {c.seed}", body, foot, text=False, kind="clip-card"))
    return card_grid(cards, kind="clip-grid")


def build(registry, run_log, *, presenter: bool = False) -> dict:
    """Build the tab and wire its events; ``run_log`` keeps each clip. Returns the main components."""
    options_cls = registry.options_class(TASK)
    notes = StopNotes()
    with gr.Tab("Text to Speech", id=TASK):
        with gr.Row():
            with gr.Column(scale=2):
                text = gr.Textbox(label="Text", lines=4, value=EXAMPLE_TEXTS[0], elem_id="tts-text")
                run_button = gr.Button("Speak", variant="primary", elem_id="tts-run")
                gr.Examples([[t] for t in EXAMPLE_TEXTS], inputs=[text], label="Example texts")
                with advanced(presenter):
                    model = model_dropdown(registry, TASK)
                    remote_section(registry, TASK, model)
                    controls = task_controls(registry, TASK)
                    seed, seed_used = seed_row()
                    # a few seconds of someone speaking, for voice-cloning models such as Coqui XTTS-v2
                    with gr.Accordion(
                        "Voice cloning (XTTS-v2): a reference clip", open=False, elem_id="tts-reference-section"
                    ):
                        reference = gr.Audio(
                            label="Reference voice for cloning (optional)",
                            type="filepath",
                            sources=["upload", "microphone"],
                            elem_id="tts-reference",
                        )
                    unload = gr.Button("Unload model", size="sm")
            with gr.Column(scale=3):
                live = gr.HTML(elem_id="tts-live", elem_classes=["live-line"])  # each sentence plays as it is made
                speech = gr.Audio(
                    label="The whole clip (WAV)", type="numpy", format="wav", interactive=False, elem_id="tts-audio"
                )
                status = gr.Markdown(elem_id="tts-status")
                picture = gr.Plot(label=audio_views.TITLE, elem_id="tts-picture")
                gr.Markdown(audio_views.CAPTION, elem_classes=["explain-caption"])
        with gr.Accordion("Compare settings: one text, several voices", open=False, elem_id="tts-compare"):
            gr.Markdown(
                "The same text spoken at several expressiveness and speaking-rate values. Every clip uses the "
                "same seed, so only the setting you vary changes."
            )
            with gr.Row():
                compare_text = gr.Textbox(label="Text", value=COMPARE_TEXT, scale=3, elem_id="tts-compare-text")
                expressiveness_values = gr.Textbox(
                    label="Expressiveness values",
                    value="0, 0.667, 1.3",
                    info="Separated by commas",
                    elem_id="tts-compare-expressiveness",
                )
                rate_values = gr.Textbox(
                    label="Rate values", value="", info="Empty: the slider's value", elem_id="tts-compare-rate"
                )
            panel = ComparePanel("tts-compare", notes, "clip", "were made", lambda cell: cell.samples is not None)
            clips = gr.HTML(elem_id="tts-clips")
            clip_files = gr.File(label="Download the clips", file_count="multiple", interactive=False)
            compare_data = data_view("Every clip's settings as data")

    def synthesize(text, model, seed, reference_audio=None, progress=gr.Progress(), **options):
        """Each sentence goes to the live player as soon as it is spoken; the whole clip (the WAV) comes last."""
        inputs = {"text": text, "reference_audio": reference_audio}
        run = runs.prepare(registry, TASK, inputs, model=model, options=options, seed=seed)
        if not run.wrapper.loaded:
            progress(0, desc=runs.loading_message(run.wrapper))
        parts, live_run = [], secrets.token_hex(4)

        def playing(speech):
            parts.append((speech.sample_rate, speech.samples))
            line = f"Speaking: sentence {len(parts)} is playing while the rest is made…"
            return gr.skip(), gr.skip(), line, audio_views.live_html(parts, live_run)

        work = lambda report: runs.execute(run, run_log=run_log, report=report)  # noqa: E731
        yield from in_job(work, (gr.skip(),) * 4, shown=playing)
        yield run.output, run.seed, run.status, gr.skip()

    def draw_speech(audio):
        if audio is None:
            return None
        sample_rate, samples = audio
        return audio_views.sound_figure(samples, sample_rate, title="")  # the plot's label is the title

    def compare_speech(
        text, expressiveness_values, rate_values, seed, model, progress=gr.Progress(), request=None, **options
    ):
        text = require_text(text, "text", MAX_TEXT_CHARS)
        base = options_cls.parse(**options)
        seed = resolve_seed(seed)
        cells = compare.speech_cells(options_cls, base, expressiveness_values, rate_values, seed)
        wrapper = registry.get(TASK, model)

        def record(note=None):
            made = [c for c in cells if c.samples is not None]
            run_log.record(
                "compare_speech",
                wrapper,
                base,
                seed=seed,
                metrics=[_clip_record(c) for c in made],  # each clip's settings, length and time
                seconds=sum(c.elapsed for c in made),
                settings={"text": text, "expressiveness_values": expressiveness_values, "rate_values": rate_values},
                stopped=note,
                outputs=[(c.sample_rate, c.samples) for c in made],
            )

        folder = Path(tempfile.mkdtemp(prefix="compare-speech-"))
        files = []

        def keep_file(value):
            index, cell = value
            path = folder / f"clip-{index + 1}-expressiveness-{cell.expressiveness:g}-rate-{cell.rate:g}.wav"
            path.write_bytes(media.wav_bytes(cell.samples, cell.sample_rate))
            files.append(str(path))

        def show(status, final):
            made = [c for c in cells if c.samples is not None]
            if not final and not made:
                return clip_cards(cells), gr.skip(), gr.skip(), status
            return clip_cards(made if final else cells), list(files), [_clip_record(c) for c in made], status

        def run_one(cell, report, stop):
            return compare.run_speech_cell(wrapper, text, cell)

        yield from panel.stream(
            request, cells, run_one, progress, show, record, load=wrapper, seed=seed, on_cell=keep_file
        )

    endpoint = Endpoint(
        "synthesize",
        dict(text=text, model=model, seed=seed, **controls, reference_audio=reference),
        action="tts-run",
    )
    endpoint.on(
        [run_button.click],
        synthesize,
        [speech, seed_used, status, live],
        concurrency_limit=2,
        concurrency_id="text_to_speech",
    )
    speech.change(draw_speech, [speech], [picture], api_visibility="private")
    compare_endpoint = Endpoint(
        "compare_speech",
        dict(
            text=compare_text,
            expressiveness_values=expressiveness_values,
            rate_values=rate_values,
            seed=seed,
            model=model,
            **controls,
        ),
    )
    panel.wire(compare_endpoint, compare_speech, [clips, clip_files, compare_data], "text_to_speech")
    wire_unload(unload, registry, TASK, status)
    return {"endpoints": [endpoint, compare_endpoint]}


def _clip_record(cell) -> dict:
    return {
        "expressiveness": cell.expressiveness,
        "rate": cell.rate,
        "seed": cell.seed,
        "seconds": round(cell.seconds, 3),
        "made_in_seconds": round(cell.elapsed, 3),
    }
