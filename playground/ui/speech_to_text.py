"""The Speech to Text tab: record or upload audio, see the picture of the sound and read the transcript with each
word's timing and confidence (karaoke, and SRT/WebVTT/JSON subtitles); and the same audio transcribed at several
beam sizes and temperatures side by side, scored against a reference text."""

from __future__ import annotations

import html
import tempfile
from pathlib import Path

import gradio as gr

from playground import compare, subtitles
from playground import run as runs
from playground.bundled import ASSETS
from playground.media import load_audio
from playground.models.speech_to_text import SAMPLE_RATE
from playground.ui.controls import (
    api_function,
    data_view,
    model_dropdown,
    rows_table,
    task_controls,
    wire_unload,
)
from playground.ui.endpoints import Endpoint
from playground.ui.presenter import advanced
from playground.ui.remote import remote_section
from playground.ui.stopping import StopNotes, in_job
from playground.ui.sweeps import ComparePanel, card, card_grid
from playground.views import audio_views
from playground.views.words import karaoke_html, legend, word_spans

TASK = "speech_to_text"


def example_clips() -> list[str]:
    folder = ASSETS / "examples" / "audio"
    return sorted(str(p) for p in folder.glob("*.wav")) if folder.is_dir() else []


def transcript_cards(cells) -> str:
    """The compared transcripts as cards: setting, the text, its word error rate when there is a reference."""
    cards = []
    for c in cells:
        score = f" · word error rate {100 * c.wer:.0f}%" if c.wer is not None else ""
        foot = f"{len(c.text.split())} words in {c.elapsed:.2f} s{score}" if c.done else "waiting"
        if c.done and c.words:  # each setting's own timings: hover a word for when it was heard
            text = word_spans(c.words)
        else:
            text = html.escape(c.text) if c.done and c.text else ("(no speech was recognised)" if c.done else "…")
        cards.append(card(c.label, text, foot))
    return (legend() if any(c.done and c.words for c in cells) else "") + card_grid(cards)


def subtitle_file(transcript, fmt: str, audio: str | None) -> str:
    """The transcript written as an ``fmt`` file named after the audio, in a folder of its own (Gradio serves it)."""
    text = subtitles.render(transcript, fmt)
    stem = Path(audio).stem if audio else "transcript"
    path = Path(tempfile.mkdtemp(prefix="playground-subtitles-")) / f"{stem}.{subtitles.check_format(fmt)}"
    path.write_text(text, encoding="utf-8")
    return str(path)


def build(registry, run_log, *, presenter: bool = False) -> dict:
    """Build the tab and wire its events; ``run_log`` keeps each transcript. Returns the main components."""
    options_cls = registry.options_class(TASK)
    notes = StopNotes()
    with gr.Tab("Speech to Text", id=TASK):
        with gr.Row():
            with gr.Column(scale=2):
                audio = gr.Audio(label="Speech", sources=["upload", "microphone"], type="filepath", elem_id="stt-audio")
                run_button = gr.Button("Transcribe", variant="primary", elem_id="stt-run")
                if example_clips():
                    gr.Examples([[p] for p in example_clips()], inputs=[audio], label="Example clips")
                with advanced(presenter):
                    model = model_dropdown(registry, TASK)
                    remote_section(registry, TASK, model)
                    controls = task_controls(registry, TASK)
                    unload = gr.Button("Unload model", size="sm")
            with gr.Column(scale=3):
                transcript = gr.Textbox(label="Transcript", lines=6, interactive=False, elem_id="stt-transcript")
                status = gr.Markdown(elem_id="stt-status")
                karaoke = gr.HTML(label="Each word, when it is spoken", elem_id="stt-karaoke")
                with gr.Row():
                    subtitle_format = gr.Dropdown(  # a custom value reaches the check, which names the formats
                        [("SRT", "srt"), ("WebVTT", "vtt"), ("JSON", "json")],
                        value="srt",
                        label="Subtitles",
                        allow_custom_value=True,
                        elem_id="stt-subtitle-format",
                    )
                    subtitle_run = gr.Button("Make subtitles", size="sm", elem_id="stt-subtitles-run")
                subtitle = gr.File(label="Subtitle file", interactive=False, elem_id="stt-subtitle-file")
                with gr.Accordion("Every word as data", open=False):
                    words = gr.JSON(label="Words: start and end in seconds, probability", elem_id="stt-words")
                picture = gr.Plot(label=f"{audio_views.TITLE}, as the model hears it", elem_id="stt-picture")
                gr.Markdown(audio_views.CAPTION, elem_classes=["explain-caption"])
        with gr.Accordion("Compare settings: one recording, several transcripts", open=False, elem_id="stt-compare"):
            gr.Markdown(
                "The same audio transcribed at several beam sizes and/or decoding temperatures. Type what was "
                "really said to score each transcript: the word error rate counts the words missed, added "
                "or changed, out of the words in your text (0% is perfect)."
            )
            with gr.Row():
                beam_sizes = gr.Textbox(
                    label="Beam sizes", value="1, 5", info="Separated by commas", elem_id="stt-compare-beams"
                )
                temperatures = gr.Textbox(
                    label="Decoding temperatures",
                    value="",
                    info="Empty: the slider's value",
                    elem_id="stt-compare-temperatures",
                )
                reference = gr.Textbox(
                    label="What was really said (optional)", value="", scale=2, elem_id="stt-compare-reference"
                )
            panel = ComparePanel("stt-compare", notes, "transcript")
            transcripts = gr.HTML(elem_id="stt-transcripts")
            scores = gr.Dataframe(label="Transcripts compared", interactive=False, elem_id="stt-scores")
            differences = gr.HighlightedText(
                label="Words that differ from what was really said",
                color_map={compare.DIFF_LABELS["-"]: "#ffadad", compare.DIFF_LABELS["+"]: "#ffe08a"},
                show_legend=True,
                combine_adjacent=False,
                elem_id="stt-differences",
            )
            compare_data = data_view("Every transcript as data")

    def transcribe(audio, model, progress=gr.Progress(), **options):
        run = runs.prepare(registry, TASK, {"audio": audio}, model=model, options=options)
        if not run.wrapper.loaded:
            progress(0, desc=runs.loading_message(run.wrapper))
        yield from in_job(lambda: runs.execute(run, run_log=run_log), (gr.skip(),) * 4)
        heard = [w.as_dict() for w in run.result.words]
        yield run.output, run.status, heard, karaoke_html(heard, run.inputs["samples"], SAMPLE_RATE)

    def make_subtitles(audio, format, model, progress=gr.Progress(), **options):
        fmt = subtitles.check_format(format)  # a bad format is refused before any work
        run = runs.prepare(registry, TASK, {"audio": audio}, model=model, options=options)
        if not run.wrapper.loaded:
            progress(0, desc=runs.loading_message(run.wrapper))
        yield from in_job(lambda: runs.execute(run, run_log=run_log), gr.skip())  # one output: a bare skip, not a tuple
        yield subtitle_file(run.result, fmt, audio)

    def draw_input(audio):
        if not audio:
            return None
        return audio_views.sound_figure(load_audio(audio, SAMPLE_RATE), SAMPLE_RATE, title="")

    def compare_transcribe(
        audio, beam_sizes, temperatures, reference, model, progress=gr.Progress(), request=None, **options
    ):
        samples = load_audio(audio, SAMPLE_RATE)
        base = options_cls.parse(**options)
        reference = reference if isinstance(reference, str) else ""
        cells = compare.transcript_cells(options_cls, base, beam_sizes, temperatures)
        wrapper = registry.get(TASK, model)

        def record(note=None):
            done = [c for c in cells if c.done]
            run_log.record(
                "compare_transcribe",
                wrapper,
                base,
                metrics=compare.transcript_summary(done),  # the word error rates shown
                files={"audio": audio},
                stopped=note,
                settings={"beam_sizes": beam_sizes, "temperatures": temperatures, "reference": reference},
                outputs=[f"{c.label}: {c.text}" for c in done],
                seconds=sum(c.elapsed for c in done),
            )

        def run_one(cell, report, stop):
            return compare.run_transcript_cell(wrapper, samples, cell, reference)

        def show(status, final):
            done = [c for c in cells if c.done]
            if not final and not done:
                return transcript_cards(cells), gr.skip(), gr.skip(), gr.skip(), status
            return (
                transcript_cards(done if final else cells),
                rows_table(compare.transcript_summary(done if final else cells)),
                compare.transcript_diffs(done if final else cells, reference) if reference.strip() else None,
                [_transcript_record(c) for c in done],
                status,
            )

        def scored(done) -> str:
            if not (reference.strip() and done):
                return f"{len(done)} transcripts"
            best = min(done, key=lambda c: c.wer)
            return f"{len(done)} transcripts · lowest word error rate {100 * best.wer:.0f}% ({best.label})"

        yield from panel.stream(request, cells, run_one, progress, show, record, load=wrapper, summary=scored)

    endpoint = Endpoint("transcribe", dict(audio=audio, model=model, **controls), action="stt-run")
    endpoint.on(
        [run_button.click],
        transcribe,
        [transcript, status, words, karaoke],
        concurrency_limit=2,
        concurrency_id="speech_to_text",
    )
    subtitle_endpoint = Endpoint("subtitles", dict(audio=audio, format=subtitle_format, model=model, **controls))
    subtitle_endpoint.on(
        [subtitle_run.click], make_subtitles, [subtitle], concurrency_limit=2, concurrency_id="speech_to_text"
    )
    audio.change(api_function(draw_input, ["audio"]), [audio], [picture], api_visibility="private")
    compare_endpoint = Endpoint(
        "compare_transcribe",
        dict(
            audio=audio, beam_sizes=beam_sizes, temperatures=temperatures, reference=reference, model=model, **controls
        ),
    )
    panel.wire(compare_endpoint, compare_transcribe, [transcripts, scores, differences, compare_data], "speech_to_text")
    wire_unload(unload, registry, TASK, status)
    return {"endpoints": [endpoint, compare_endpoint, subtitle_endpoint]}


def _transcript_record(cell) -> dict:
    return {
        "beam_size": cell.beam_size,
        "temperature": cell.temperature,
        "text": cell.text,
        "wer": cell.wer,
        "seconds": round(cell.elapsed, 3),
        "words": cell.words,
    }
