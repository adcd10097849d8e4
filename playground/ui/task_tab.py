"""The generic tab: what a task gets when its spec names no tab of its own (``TaskSpec.tab`` is None).

It lays out one control per declared input and option, the model picker and the seed, runs the task through the
one run path (``playground.run``) under its API name, and shows the output and the status line. A new task is
usable, callable through the API, kept in History and restorable from it before anyone writes it a tab.
"""

from __future__ import annotations

import contextlib

import gradio as gr

from playground import run as runs
from playground.jobs import iterate_job
from playground.ui.components import ImageInput
from playground.ui.controls import (
    model_dropdown,
    seed_row,
    task_controls,
    wire_unload,
)
from playground.ui.endpoints import Endpoint
from playground.ui.presenter import advanced
from playground.ui.stopping import HEARTBEAT


def input_component(spec_input):
    """The control for one declared input."""
    label = spec_input.label or spec_input.name.replace("_", " ").capitalize()
    elem_id = f"{spec_input.name}-input"
    if spec_input.kind == "image":
        return ImageInput(label=label, type="filepath", sources=["upload", "clipboard"], elem_id=elem_id)
    if spec_input.kind == "audio":
        return gr.Audio(label=label, type="filepath", sources=["upload", "microphone"], elem_id=elem_id)
    if spec_input.kind == "flag":
        return gr.Checkbox(label=label, value=False, elem_id=elem_id)
    if spec_input.kind == "conversation":
        return gr.JSON(label=label, value=[], elem_id=elem_id)
    return gr.Textbox(
        label=label, lines=3 if spec_input.limit > 200 else 1, max_length=spec_input.limit, elem_id=elem_id
    )


def output_component(kind: str, elem_id: str):
    if kind == "image":
        return gr.Image(label="Result", type="pil", format="png", interactive=False, elem_id=elem_id)
    if kind == "audio":
        return gr.Audio(label="Result", type="numpy", interactive=False, elem_id=elem_id)
    return gr.Textbox(label="Result", interactive=False, elem_id=elem_id)


def build(registry, run_log, spec, *, presenter: bool = False) -> dict:
    """Build ``spec``'s tab and wire its run as the ``/<api_name>`` endpoint. Returns the main components."""
    task = spec.name
    with gr.Tab(spec.title, id=task):
        with gr.Row():
            with gr.Column(scale=2):
                inputs = {i.name: input_component(i) for i in spec.inputs}
                run_button = gr.Button(spec.title, variant="primary", elem_id=f"{task}-run")
                with advanced(presenter):
                    model = model_dropdown(registry, task)
                    controls = task_controls(registry, task)
                    seed, seed_used = seed_row() if spec.seeded else (None, None)
                    unload = gr.Button("Unload model", size="sm")
            with gr.Column(scale=3):
                output = output_component(spec.output, f"{task}-output")
                status = gr.Markdown(elem_id=f"{task}-status")

    def run_it(model, seed=-1, progress=gr.Progress(), **values):
        given = {name: values.pop(name) for name in list(values) if name in inputs}
        run = runs.prepare(registry, task, given, model=model, options=values, seed=seed)
        idle = (gr.skip(),) * (3 if spec.seeded else 2)
        yield idle  # Gradio can cancel a handler only once its first step has returned

        def work(report, stop):
            return runs.execute(run, run_log=run_log, on_loading=report, report=report, stop=stop)

        with contextlib.closing(iterate_job(work, latest_every=0.25, heartbeat=HEARTBEAT)) as job:
            for kind, value in job:
                if kind == "progress" and isinstance(value, str):
                    progress(0, desc=value)
                if kind == "done":
                    done = (value.output, *((value.seed,) if spec.seeded else ()), value.status)
                    yield done
                else:
                    yield idle

    endpoint = Endpoint(
        spec.api_name,
        dict(**inputs, model=model, **{"seed": seed} if spec.seeded else {}, **controls),
        action=f"{task}-run",
    )
    endpoint.on(
        [run_button.click],
        run_it,
        [output, *([seed_used] if spec.seeded else []), status],
        concurrency_limit=2,
        concurrency_id=task,
    )
    wire_unload(unload, registry, task, status)
    return {"endpoints": [endpoint]}
