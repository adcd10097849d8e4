"""The Text to Image tab: prompt, guidance, steps, seed, size; progress and Stop; the path from noise to
picture; and an X/Y grid that compares any two settings."""

from __future__ import annotations

import contextlib
import time

import gradio as gr

from playground import compare
from playground import run as runs
from playground.jobs import HEARTBEAT, iterate_job
from playground.models.text_to_image import MAX_PROMPT_CHARS
from playground.ui.controls import (
    data_view,
    model_dropdown,
    recommended_values,
    require_text,
    resolve_seed,
    seed_row,
    task_controls,
    wire_unload,
)
from playground.ui.endpoints import Endpoint
from playground.ui.presenter import advanced
from playground.ui.remote import remote_section
from playground.ui.stopping import StopNotes, stop_button
from playground.ui.sweeps import ComparePanel
from playground.views.grid import image_grid

TASK = "text_to_image"
EXAMPLE_PROMPTS = [  # the bundled picture world (playground/world.py): an object, a scene, maybe a size and a side; or two objects
    "a cat on the beach",
    "a rocket in space",
    "a small boat at night, on the right",
    "a big dog in the snow, on the left",
    "a cat and a dog on the grass",
]
AXIS_CHOICES = [
    ("Guidance scale", "guidance_scale"),
    ("Steps", "steps"),
    ("Seed", "seed"),
    ("Prompt", "prompt"),
    ("Model", "model"),
]
AXIS_EXAMPLES = {
    "guidance_scale": "1, 3, 7.5",
    "steps": "5, 10, 20",
    "seed": "1, 2, 3",
    "prompt": "a cat on the beach | a dog on the beach | a bird on the beach",
    "model": "bundled/picture-sd",
}


def noise_strip(result, total_steps: int):
    """The intermediate pictures and the result side by side, labelled by step."""
    frames = [image for _, image in result.previews] + [result.image]
    labels = [f"step {step} of {total_steps}" for step, _ in result.previews] + ["result"]  # its steps: the status
    return image_grid(frames, labels, cell=128)


def shows_steps_by_default(registry, model_id) -> bool:
    """The strip is on for the small bundled model, opt-in for hub models (decoding each step costs time)."""
    spec = registry.spec(TASK, model_id)
    return bool(spec and spec.bundled)


def build(registry, run_log, *, presenter: bool = False) -> dict:
    """Build the tab and wire its events; ``run_log`` keeps each picture. Returns the main components."""
    options_cls = registry.options_class(TASK)
    notes = StopNotes()
    with gr.Tab("Text to Image", id=TASK):
        with gr.Row():
            with gr.Column(scale=2):
                prompt = gr.Textbox(label="Prompt", lines=2, value=EXAMPLE_PROMPTS[0], elem_id="t2i-prompt")
                negative = gr.Textbox(label="Negative prompt", value="", placeholder="What the picture should not show")
                with gr.Row():
                    generate = gr.Button("Generate", variant="primary", elem_id="t2i-generate")
                    stop = gr.Button("Stop", variant="stop")
                gr.Examples([[p] for p in EXAMPLE_PROMPTS], inputs=[prompt], label="Example prompts")
                with advanced(presenter):
                    model = model_dropdown(registry, TASK)
                    remote_section(registry, TASK, model)
                    controls = task_controls(registry, TASK)
                    seed, seed_used = seed_row()
                    show_steps = gr.Checkbox(
                        value=shows_steps_by_default(registry, registry.task(TASK).default),
                        label="Show the path from noise to picture",
                        info="Decodes the picture at a few steps along the way (slower on big models).",
                    )
                    unload = gr.Button("Unload model", size="sm")
            with gr.Column(scale=3):
                image = gr.Image(
                    label="Result", type="pil", format="png", height=420, interactive=False, elem_id="t2i-result"
                )
                status = gr.Markdown(elem_id="t2i-status")
                strip = gr.Image(
                    label="From noise to picture",
                    type="pil",
                    format="png",
                    interactive=False,
                    elem_id="t2i-strip",
                    show_label=True,
                )
                gr.Markdown(
                    "The model starts from random noise and removes a little of it at every step, "
                    "guided by your prompt, until a picture is left.",
                    elem_classes=["explain-caption"],
                )
        with gr.Accordion("Compare settings: an X/Y grid", open=False, elem_id="t2i-compare"):
            gr.Markdown(
                "Pick one or two settings and list the values to try. Every picture uses the same seed "
                "(unless seed is an axis), so only the setting you vary changes."
            )
            with gr.Row():
                x_param = gr.Dropdown(AXIS_CHOICES, value="guidance_scale", label="X axis")
                x_values = gr.Textbox(
                    value=AXIS_EXAMPLES["guidance_scale"],
                    label="X values",
                    info="Numbers separated by commas; prompts separated by |",
                    elem_id="t2i-x-values",
                )
                y_param = gr.Dropdown([("None", compare.NO_AXIS), *AXIS_CHOICES], value="seed", label="Y axis")
                y_values = gr.Textbox(value=AXIS_EXAMPLES["seed"], label="Y values", elem_id="t2i-y-values")
            panel = ComparePanel(
                "t2i-grid", notes, "image", "were made", lambda cell: cell.image is not None, "Make the grid"
            )
            grid = gr.Image(label="Grid", type="pil", format="png", interactive=False, elem_id="t2i-grid")
            singles = gr.Gallery(label="Single images", columns=8, height=220, format="png", elem_id="t2i-singles")
            grid_summary = data_view("Settings of every cell")

    def text_to_image(
        prompt, negative_prompt, model, seed, show_noise_steps=False, progress=gr.Progress(), request=None, **options
    ):
        inputs = {"prompt": prompt, "negative_prompt": negative_prompt, "show_noise_steps": show_noise_steps}
        run = runs.prepare(registry, TASK, inputs, model=model, options=options, seed=seed)
        seed = run.seed
        with notes.run(request, "text_to_image") as stopping:
            if not run.wrapper.loaded:
                progress(0, desc=runs.loading_message(run.wrapper))
                yield gr.skip(), seed, runs.loading_message(run.wrapper), gr.skip()

            def work(report, stop):
                return runs.execute(run, run_log=run_log, report=report, stop=stop)

            # a step's update to the page costs the server CPU the picture needs: at most 4 a second
            with contextlib.closing(iterate_job(work, latest_every=0.25, heartbeat=HEARTBEAT)) as job:
                for kind, value in job:
                    if kind == "tick":  # a big picture's step can take seconds: stay stoppable meanwhile
                        yield gr.skip(), gr.skip(), gr.skip(), gr.skip()
                    elif kind == "progress":
                        done, total = value
                        progress(done / total, desc=f"Step {done} of {total}")
                        stopping.if_stopped(f"Stopped at step {done} of {total}: no picture was made · seed {seed}")
                        yield gr.skip(), seed, f"Denoising: step {done} of {total}", gr.skip()
            yield (
                run.output,
                seed,
                run.status,
                noise_strip(run.result, run.options.steps) if run.inputs["show_noise_steps"] else None,
            )

    def compare_text_to_image(
        prompt,
        x_param,
        x_values,
        y_param,
        y_values,
        seed,
        negative_prompt,
        model,
        progress=gr.Progress(),
        request=None,
        **options,
    ):
        prompt = require_text(prompt, "prompt", MAX_PROMPT_CHARS)
        if negative_prompt:
            require_text(negative_prompt, "negative prompt", MAX_PROMPT_CHARS)
        base = options_cls.parse(**options)
        seed = resolve_seed(seed)
        cells = compare.image_cells(prompt, model, seed, base, options_cls, x_param, x_values, y_param, y_values)
        xs = list(dict.fromkeys(c.x for c in cells))
        ys = list(dict.fromkeys(c.y for c in cells))
        columns = [compare.axis_label(x_param, x, options_cls) for x in xs]
        rows = [compare.axis_label(y_param, y, options_cls) for y in ys] if y_param != compare.NO_AXIS else None
        title = prompt if x_param != "prompt" and y_param != "prompt" else ""

        def picture():
            return image_grid([c.image for c in cells], columns, rows, title=title[:120])

        def run_one(cell, report, stop):
            wrapper = registry.get(TASK, cell.model)
            wrapper.ensure_loaded()
            begin = time.perf_counter()
            result = wrapper.generate(
                cell.prompt,
                negative_prompt or "",
                cell.options,
                cell.seed,
                stop=stop,
                on_step=lambda done, total: report((done, total)),
            )
            cell.image, cell.steps_done, cell.seconds = result.image, result.steps_done, time.perf_counter() - begin
            return cell

        def record(note=None):
            made = [c for c in cells if c.image is not None]
            if made:
                run_log.record(
                    "compare_text_to_image",
                    registry.get(TASK, model),
                    base,
                    seed=seed,
                    metrics=[
                        {"cell": c.label, "seed": c.seed, "steps": c.steps_done, "seconds": round(c.seconds, 2)}
                        for c in made
                    ],
                    outputs=[picture()],
                    seconds=sum(c.seconds for c in made),
                    stopped=note,
                    settings={
                        "prompt": prompt,
                        "x_param": x_param,
                        "x_values": x_values,
                        "y_param": y_param,
                        "y_values": y_values,
                        "negative_prompt": negative_prompt or "",
                    },
                )

        def show(status, final):
            made = [c for c in cells if c.image is not None]
            if not made:
                return gr.skip(), gr.skip(), gr.skip(), status
            return picture(), [(c.image, c.label) for c in made], [compare.cell_record(c) for c in made], status

        def stepping(value, finished):
            done, total = value
            progress((finished + done / total) / len(cells), desc=f"Image {finished + 1} of {len(cells)}")
            return gr.skip(), gr.skip(), gr.skip(), f"Image {finished + 1} of {len(cells)}: step {done} of {total}"

        def made_in(made) -> str:
            return f"{len(made)} images in {sum(c.seconds for c in made):.1f} s · seed {seed}"

        yield from panel.stream(
            request, cells, run_one, progress, show, record, seed=seed, on_progress=stepping, summary=made_in
        )

    endpoint = Endpoint(
        "text_to_image",
        dict(prompt=prompt, negative_prompt=negative, model=model, seed=seed, show_noise_steps=show_steps, **controls),
        action="t2i-generate",
    )
    run = endpoint.on(
        [generate.click, prompt.submit],
        text_to_image,
        [image, seed_used, status, strip],
        concurrency_limit=2,
        concurrency_id="text_to_image",
    )
    stop_button(stop, notes, "text_to_image", run, status)
    compare_endpoint = Endpoint(
        "compare_text_to_image",
        dict(
            prompt=prompt,
            x_param=x_param,
            x_values=x_values,
            y_param=y_param,
            y_values=y_values,
            seed=seed,
            negative_prompt=negative,
            model=model,
            **controls,
        ),
    )
    panel.wire(compare_endpoint, compare_text_to_image, [grid, singles, grid_summary], "text_to_image")
    for axis, values in ((x_param, x_values), (y_param, y_values)):
        # .input: only a person picking an axis fills in its example values; History or a deck that sets the axis
        # together with its values keeps them (.change also fires on such updates)
        axis.input(lambda name: AXIS_EXAMPLES.get(name, ""), [axis], [values], api_visibility="private", queue=False)
    model.change(
        recommended_values(registry, TASK, list(controls)),
        [model],
        list(controls.values()),
        api_visibility="private",
        queue=False,
    )
    model.change(
        lambda m: shows_steps_by_default(registry, m), [model], [show_steps], api_visibility="private", queue=False
    )
    wire_unload(unload, registry, TASK, status)
    return {"endpoints": [endpoint, compare_endpoint]}
