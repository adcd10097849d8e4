"""The Image Captioning tab: upload an image, read its caption and each word's confidence; and several captions
of the same image, sampled at different temperatures or from different models, side by side."""

from __future__ import annotations

import contextlib
import html
import time

import gradio as gr

from playground import compare, token_choices
from playground.bundled import ASSETS
from playground.media import load_image
from playground.sweep import run_sweep
from playground.ui.components import ImageInput, OptionSlider
from playground.ui.controls import (
    api_function,
    data_view,
    default_overrides,
    loading_message,
    model_dropdown,
    option_controls,
    resolve_seed,
    rows_table,
    run_stop_status,
    seed_row,
)
from playground.ui.presenter import advanced
from playground.ui.stopping import StopNotes, stop_button

TASK = "captioning"


def example_images() -> list[str]:
    folder = ASSETS / "examples" / "images"
    return sorted(str(p) for p in folder.glob("*.png")) if folder.is_dir() else []


def caption_cards(cells) -> str:
    """The compared captions as cards, each word coloured by how sure the model was of it."""
    cards = []
    for c in cells:
        if not c.done:
            body, foot = "…", "waiting"
        elif c.tokens:
            body = " ".join(
                f'<span class="token" title="{_percent(p)} sure" style="background:'
                f'{token_choices.BAND_COLOURS[token_choices.confidence_band(p)]}">{html.escape(t)}</span>'
                for t, p in c.tokens
            )
            foot = (
                f"{len(c.tokens)} tokens in {c.elapsed:.2f} s · least sure word {_percent(min(p for _, p in c.tokens))}"
            )
        else:
            body, foot = html.escape(c.text) or "(the model produced no caption)", f"made in {c.elapsed:.2f} s"
        cards.append(
            f'<div class="answer-card"><div class="answer-head">{html.escape(c.label)}</div>'
            f'<div class="answer-text">{body}</div><div class="answer-foot">{foot}</div></div>'
        )
    legend = " ".join(
        f'<span class="token" style="background:{colour}">{html.escape(name)}</span>'
        for name, colour in token_choices.BAND_COLOURS.items()
    )
    return (
        f'<div class="answer-legend">Each word coloured by how sure the model was: {legend}</div>'
        f'<div class="answer-grid">{"".join(cards)}</div>'
    )


def build(registry, run_log, *, presenter: bool = False) -> dict:
    """Build the tab and wire its events; ``run_log`` keeps each caption. Returns the main components."""
    options_cls = registry.options_class(TASK)
    notes = StopNotes()
    with gr.Tab("Image Captioning", id=TASK):
        with gr.Row():
            with gr.Column(scale=2):
                image = ImageInput(
                    label="Image", type="filepath", sources=["upload", "clipboard"], height=300, elem_id="caption-image"
                )
                run_button = gr.Button("Caption", variant="primary", elem_id="caption-run")
                if example_images():
                    gr.Examples([[p] for p in example_images()], inputs=[image], label="Example images")
                with advanced(presenter):
                    model = model_dropdown(registry, TASK)
                    controls = option_controls(options_cls, default_overrides(registry, TASK))
                    seed, seed_used = seed_row()
                    unload = gr.Button("Unload model", size="sm")
            with gr.Column(scale=3):
                caption = gr.Textbox(label="Caption", interactive=False, elem_id="caption-text")
                confidence = gr.HighlightedText(
                    label="How sure the model was of each word", show_legend=False, color_map=None
                )
                status = gr.Markdown(elem_id="caption-status")
        with gr.Accordion("Compare settings: one image, several captions", open=False, elem_id="caption-compare"):
            gr.Markdown(
                "Several captions of the same image, sampled at different temperatures or written by "
                "different models. At temperature 0 the model always picks its likeliest word; higher "
                "temperatures let it take chances. Sample *n* uses the same seed at every setting."
            )
            with gr.Row():
                temperatures = gr.Textbox(
                    label="Temperatures",
                    value="0, 1, 2",
                    info="Separated by commas",
                    elem_id="caption-compare-temperatures",
                )
                models = gr.Textbox(
                    label="Models",
                    value="",
                    info="Model ids separated by commas; empty: the chosen model",
                    elem_id="caption-compare-models",
                )
                samples = OptionSlider(
                    minimum=1, maximum=compare.MAX_SAMPLES, value=2, step=1, label="Samples per setting"
                )
            compare_run, compare_stop, compare_status = run_stop_status("caption-compare")
            captions = gr.HTML(elem_id="caption-cards")
            diversity = gr.Dataframe(
                label="How different are the captions? distinct-n: share of word n-grams that "
                "are new (1 = no repeats); similarity: 1 = identical captions",
                interactive=False,
                elem_id="caption-diversity",
            )
            compare_data = data_view("Every caption as data")

    def caption_image(image, model, seed, progress=gr.Progress(), **options):
        picture = load_image(image)
        options = options_cls.parse(**options)
        seed = resolve_seed(seed)
        wrapper = registry.get(TASK, model)
        if not wrapper.loaded:
            progress(0, desc=loading_message(wrapper))
            wrapper.ensure_loaded()
        start = time.perf_counter()
        result = wrapper.caption(picture, options, seed)
        elapsed = time.perf_counter() - start
        words = [(token, f"{p:.0%}") for token, p in result.tokens]
        run_log.record(
            "caption", wrapper, options, seed=seed, files={"image": image}, outputs=[result.text], seconds=elapsed
        )
        return (
            result.text or "(the model produced no caption)",
            words,
            seed,
            (
                f"Captioned a {picture.width}×{picture.height} image in {elapsed:.2f} s · "
                f"{wrapper.model_id} on {wrapper.device}"
            ),
        )

    def compare_caption(
        image, temperatures, models, samples, seed, model, progress=gr.Progress(), request=None, **options
    ):
        picture = load_image(image)
        base = options_cls.parse(**options)
        seed = resolve_seed(seed)
        default = (model or "").strip() or registry.task(TASK).default
        cells = compare.caption_cells(options_cls, base, temperatures, models, samples, seed, default)
        wrappers = {c.model: registry.get(TASK, c.model) for c in cells}  # unknown ids fail before any work

        def run_one(cell, report, stop):
            wrapper = wrappers[cell.model]
            if not wrapper.loaded:
                report(loading_message(wrapper))
                wrapper.ensure_loaded()
            return compare.run_caption_cell(wrapper, picture, cell)

        def record(note=None):
            done = [c for c in cells if c.done]
            run_log.record(
                "compare_caption",
                registry.get(TASK, default),
                base,
                seed=seed,
                files={"image": image},
                settings={"temperatures": temperatures, "models": models, "samples": samples},
                outputs=[f"{c.label}: {c.text}" for c in done],
                seconds=sum(c.elapsed for c in done),
                stopped=note,
            )

        with notes.run(request, "compare_caption") as run:
            run.if_stopped(f"Stopped: 0 of {len(cells)} captions finished · seed {seed}", record)
            progress(0, desc=f"Caption 1 of {len(cells)}")
            yield caption_cards(cells), gr.skip(), gr.skip(), f"Caption 1 of {len(cells)}…"
            finished = 0
            with contextlib.closing(run_sweep(cells, run_one)) as sweep:
                for kind, value in sweep:
                    if kind == "tick":  # nothing new: hand control back so a Stop can close the run
                        yield gr.skip(), gr.skip(), gr.skip(), gr.skip()
                    elif kind == "progress":
                        yield gr.skip(), gr.skip(), gr.skip(), value
                    elif kind == "cell":
                        finished += 1
                        run.if_stopped(f"Stopped: {finished} of {len(cells)} captions finished · seed {seed}")
                        progress(finished / len(cells), desc=f"Caption {finished + 1} of {len(cells)}")
                        yield (
                            caption_cards(cells),
                            rows_table(compare.caption_summary(cells)),
                            [_caption_record(c) for c in cells if c.done],
                            f"{finished} of {len(cells)} captions done",
                        )
            done = [c for c in cells if c.done]
            note = "" if len(done) == len(cells) else f"Stopped: {len(done)} of {len(cells)} captions finished. "
            record(note.strip() or None)
            yield (
                caption_cards(done),
                rows_table(compare.caption_summary(done)),
                [_caption_record(c) for c in done],
                note + f"{len(done)} captions · seed {seed}",
            )

    names = ["image", "model", "seed", *controls]
    gr.on(
        [run_button.click],
        api_function(caption_image, names),
        [image, model, seed, *controls.values()],
        [caption, confidence, seed_used, status],
        api_name="caption",
        concurrency_limit=2,
        concurrency_id="captioning",
    )
    compare_names = ["image", "temperatures", "models", "samples", "seed", "model", *controls]
    compared = compare_run.click(
        api_function(compare_caption, compare_names),
        [image, temperatures, models, samples, seed, model, *controls.values()],
        [captions, diversity, compare_data, compare_status],
        api_name="compare_caption",
        concurrency_limit=2,
        concurrency_id="captioning",
    )
    stop_button(compare_stop, notes, "compare_caption", compared, compare_status)
    unload.click(
        lambda: f"Unloaded: {', '.join(registry.unload(TASK)) or 'nothing was loaded'}.",
        None,
        status,
        api_visibility="private",
    )
    return {
        "image": image,
        "caption": caption,
        "model": model,
        "status": status,
        "seed": seed,
        **controls,
        "compare": {"temperatures": temperatures, "models": models, "samples": samples},
    }


def _percent(p: float) -> str:
    return f"{p:.0%}" if p >= 0.01 else "under 1%"


def _caption_record(cell) -> dict:
    return {
        "model": cell.model,
        "temperature": cell.temperature,
        "sample": cell.sample,
        "seed": cell.seed,
        "caption": cell.text,
        "tokens": [{"token": t, "probability": round(p, 4)} for t, p in cell.tokens],
    }
