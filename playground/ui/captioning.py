"""The Image Captioning tab: upload an image, read its caption and each word's confidence; and several captions
of the same image, sampled at different temperatures or from different models, side by side."""

from __future__ import annotations

import html

import gradio as gr

from playground import compare
from playground import run as runs
from playground.bundled import ASSETS
from playground.media import load_image
from playground.ui.components import ImageInput, OptionSlider
from playground.ui.controls import (
    data_view,
    diversity_table,
    loading_message,
    model_dropdown,
    resolve_seed,
    rows_table,
    seed_row,
    task_controls,
    wire_unload,
)
from playground.ui.endpoints import Endpoint
from playground.ui.presenter import advanced
from playground.ui.stopping import StopNotes
from playground.ui.sweeps import ComparePanel, card, card_grid
from playground.views import token_choices

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
                f'<span class="token" title="{token_choices.percent(p)} sure" style="background:'
                f'{token_choices.BAND_COLOURS[token_choices.confidence_band(p)]}">{html.escape(t)}</span>'
                for t, p in c.tokens
            )
            foot = f"{len(c.tokens)} tokens in {c.elapsed:.2f} s · least sure word {token_choices.percent(min(p for _, p in c.tokens))}"
        else:
            body, foot = html.escape(c.text) or "(the model produced no caption)", f"made in {c.elapsed:.2f} s"
        if c.done and c.cut:
            foot += f" · cut off at the {c.options.max_new_tokens}-token limit"
        cards.append(card(c.label, body, foot))
    legend = " ".join(
        f'<span class="token" style="background:{colour}">{html.escape(name)}</span>'
        for name, colour in token_choices.BAND_COLOURS.items()
    )
    return card_grid(cards, legend=f"Each word coloured by how sure the model was: {legend}")


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
                    controls = task_controls(registry, TASK)
                    seed, seed_used = seed_row()
                    unload = gr.Button("Unload model", size="sm")
            with gr.Column(scale=3):
                caption = gr.Textbox(label="Caption", interactive=False, elem_id="caption-text")
                confidence = gr.HighlightedText(
                    label="How sure the model was of each word (green: over 50%, yellow: 10–50%, red: under 10%)",
                    show_legend=False,
                    color_map=token_choices.percent_colours(),
                    elem_id="caption-confidence",
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
            panel = ComparePanel("caption-compare", notes, "caption")
            captions = gr.HTML(elem_id="caption-cards")
            diversity = diversity_table("captions", "caption-diversity")
            compare_data = data_view("Every caption as data")

    def caption_image(image, model, seed, progress=gr.Progress(), **options):
        run = runs.run_task(
            registry,
            TASK,
            {"image": image},
            model=model,
            options=options,
            seed=seed,
            run_log=run_log,
            on_loading=lambda message: progress(0, desc=message),
        )
        words = [(token, token_choices.percent(p)) for token, p in run.result.tokens]
        return run.output, words, run.seed, run.status

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
                metrics=compare.caption_summary(done),  # the diversity table shown
                files={"image": image},
                settings={"temperatures": temperatures, "models": models, "samples": samples},
                outputs=[f"{c.label}: {c.text}" for c in done],
                seconds=sum(c.elapsed for c in done),
                stopped=note,
            )

        def show(status, final):
            shown = [c for c in cells if c.done] if final else cells
            done = [c for c in cells if c.done]
            if not final and not done:
                return caption_cards(cells), gr.skip(), gr.skip(), status
            return (
                caption_cards(shown),
                rows_table(compare.caption_summary(done)),
                [_caption_record(c) for c in done],
                status,
            )

        def reporting(value, finished):  # a model loading for one of the cells
            return gr.skip(), gr.skip(), gr.skip(), value

        yield from panel.stream(request, cells, run_one, progress, show, record, seed=seed, on_progress=reporting)

    endpoint = Endpoint("caption", dict(image=image, model=model, seed=seed, **controls), action="caption-run")
    endpoint.on(
        [run_button.click],
        caption_image,
        [caption, confidence, seed_used, status],
        concurrency_limit=2,
        concurrency_id="captioning",
    )
    compare_endpoint = Endpoint(
        "compare_caption",
        dict(
            image=image, temperatures=temperatures, models=models, samples=samples, seed=seed, model=model, **controls
        ),
    )
    panel.wire(compare_endpoint, compare_caption, [captions, diversity, compare_data], "captioning")
    wire_unload(unload, registry, TASK, status)
    return {"endpoints": [endpoint, compare_endpoint]}


def _caption_record(cell) -> dict:
    return {
        "model": cell.model,
        "temperature": cell.temperature,
        "sample": cell.sample,
        "seed": cell.seed,
        "caption": cell.text,
        "cut_at_token_limit": cell.cut,
        "tokens": [{"token": t, "probability": round(p, 4)} for t, p in cell.tokens],
    }
