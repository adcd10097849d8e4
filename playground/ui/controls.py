"""Turn declared Options fields into Gradio controls, so ranges live in one place."""

from __future__ import annotations

import html
import inspect
import logging
from functools import wraps
from typing import Callable

import gradio as gr

from playground.errors import UserError
from playground.limits import require_text  # noqa: F401  (tabs import it from here)
from playground.options import Options, field_bounds, label_of
from playground.run import loading_message  # noqa: F401  (tabs import it from here)
from playground.seeds import MAX_SEED, resolve_seed  # noqa: F401  (tabs import them from here)
from playground.ui.components import OptionSlider, SeedNumber

log = logging.getLogger("playground")


def option_controls(
    options_cls: type[Options], overrides: dict | None = None, elem_prefix: str | None = None
) -> dict[str, gr.components.Component]:
    """One slider (or checkbox) per declared option, with its bounds, default and description.

    ``overrides`` holds the starting values a model recommends (see ``ModelSpec.recommended``); with
    ``elem_prefix``, each control's element id is ``<prefix>-<option>`` (a task tab's own sliders).
    """
    controls = {}
    for name, info in options_cls.model_fields.items():
        default = (overrides or {}).get(name, info.default)
        extra = info.json_schema_extra or {}
        if info.annotation is bool:
            controls[name] = gr.Checkbox(
                value=default,
                label=label_of(options_cls, name),
                info=info.description,
                elem_id=elem_prefix and f"{elem_prefix}-{name}",
            )
            continue
        low, high = field_bounds(options_cls, name)
        step = extra.get("step", 1 if info.annotation is int else 0.01)
        if any(getattr(m, "gt", None) is not None for m in info.metadata):
            low = low + step  # an exclusive bound: the slider starts one step above it
        controls[name] = OptionSlider(
            minimum=low,
            maximum=high,
            value=default,
            step=step,
            label=label_of(options_cls, name),
            info=info.description,
            elem_id=elem_prefix and f"{elem_prefix}-{name}",
        )
    return controls


def default_overrides(registry, task: str) -> dict:
    """The option values the task's default model recommends."""
    return registry.spec(task, registry.task(task).default).recommended


def task_controls(registry, task: str) -> dict:
    """A tab's sliders for ``task``'s options, at the task's default model's recommended values, ids
    ``<task>-<option>``."""
    return option_controls(registry.options_class(task), default_overrides(registry, task), elem_prefix=task)


def model_dropdown(registry, task: str, label: str = "Model", elem_id: str | None = None) -> gr.Dropdown:
    """The model picker: bundled default, curated hub ids, or any hub id / local path typed in."""
    info = registry.task(task)
    return gr.Dropdown(
        choices=[(m.label, m.id) for m in info.models],
        value=info.default,
        allow_custom_value=True,
        label=label,
        elem_id=elem_id or f"{task}-model",
        info="A bundled model works offline; a hub id (org/name) or a local path also works.",
    )


def recommended_values(registry, task: str, names: list[str]) -> Callable:
    """An event handler: when the model changes, move sliders to that model's recommended values."""

    def apply(model_id):
        spec = registry.spec(task, model_id)
        recommended = spec.recommended if spec else {}
        return [gr.update(value=recommended[n]) if n in recommended else gr.update() for n in names]

    return apply


def seed_box() -> gr.Number:
    return SeedNumber(
        value=-1, precision=0, label="Seed", info="-1 draws a random seed; the seed used is shown with the result."
    )


def seed_row() -> tuple[gr.Number, gr.Number]:
    """The seed box and, beside it, the seed a run actually used."""
    with gr.Row():
        seed = seed_box()
        seed_used = gr.Number(label="Seed used", interactive=False, precision=0)
    return seed, seed_used


def api_function(fn: Callable, names: list[str]) -> Callable:
    """Wrap a handler so Gradio sees the flat parameter ``names`` and users see plain errors.

    Gradio names API parameters after the function's signature, so an Options class's
    fields become API parameters without being written out again.
    """
    # A trailing name whose parameter in fn has a default keeps it, so API clients may leave it out.
    own = inspect.signature(fn).parameters
    params, optional = [], True
    for n in reversed(names):
        default = own[n].default if n in own else inspect.Parameter.empty
        optional = optional and default is not inspect.Parameter.empty
        params.insert(
            0,
            inspect.Parameter(
                n, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=default if optional else inspect.Parameter.empty
            ),
        )
    if "progress" in own:
        params.append(inspect.Parameter("progress", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=gr.Progress()))
    if "request" in own:  # Gradio fills a gr.Request-annotated parameter with the caller's session
        params.append(
            inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None, annotation=gr.Request)
        )

    all_names = [p.name for p in params]

    def named(args, kwargs):
        values = dict(zip(all_names, args))
        values.update(kwargs)
        return values

    if inspect.isgeneratorfunction(fn):

        @wraps(fn)
        def wrapper(*args, **kwargs):
            try:
                yield from fn(**named(args, kwargs))
            except Exception as exc:
                raise plain_error(exc, fn.__name__) from None
    else:

        @wraps(fn)
        def wrapper(*args, **kwargs):
            try:
                return fn(**named(args, kwargs))
            except Exception as exc:
                raise plain_error(exc, fn.__name__) from None

    wrapper.__signature__ = inspect.Signature(params)
    wrapper.__annotations__ = {"request": gr.Request} if "request" in own else {}
    del wrapper.__wrapped__  # Gradio must read the flat signature, not fn's
    return wrapper


def plain_error(exc: Exception, where: str) -> gr.Error:
    """What the user sees for an exception: its sentence, or a pointer to the log for a bug.

    Gradio renders an error's message as HTML, and a sentence may quote a model id or a server's words, so the
    message is escaped: it shows as the text it is (an ``<img>`` in a model id is not fetched).
    """
    if isinstance(exc, gr.Error):
        return gr.Error(
            html.escape(str(exc.message), quote=False),
            duration=exc.duration,
            visible=exc.visible,
            title=exc.title,
            print_exception=False,
        )
    if isinstance(exc, UserError):
        return gr.Error(html.escape(str(exc), quote=False), print_exception=False)
    log.error("unexpected error in %s", where, exc_info=exc)
    return gr.Error(
        f"Something went wrong ({type(exc).__name__}); the details are in the server log.", print_exception=False
    )


def rows_table(rows: list[dict]) -> dict | None:
    """A list of same-keyed dicts as a ``gr.Dataframe`` value (headers from the first row's keys)."""
    if not rows:
        return None
    return {"headers": list(rows[0]), "data": [list(row.values()) for row in rows]}


def run_stop_status(prefix: str, run_label: str = "Compare") -> tuple[gr.Button, gr.Button, gr.Markdown]:
    """A sweep's run and Stop buttons side by side, and its status line below (ids ``<prefix>-run`` …)."""
    with gr.Row():
        run = gr.Button(run_label, variant="primary", elem_id=f"{prefix}-run")
        stop = gr.Button("Stop", variant="stop", elem_id=f"{prefix}-stop")
    return run, stop, gr.Markdown(elem_id=f"{prefix}-status")


def shown_file(kind: str, label: str, elem_id: str | None = None, **kwargs) -> gr.Image | gr.Audio:
    """A read-only slot, hidden until it has something, that shows a stored file: an ``"image"`` or an ``"audio"``
    clip (History's open run, the arena's input and outputs)."""
    component = {"image": gr.Image, "audio": gr.Audio}[kind]
    return component(label=label, type="filepath", interactive=False, visible=False, elem_id=elem_id, **kwargs)


def data_view(title: str) -> gr.JSON:
    """The data behind a view, as JSON in a closed accordion."""
    with gr.Accordion(title, open=False):
        return gr.JSON(show_label=False)


def wire_unload(button: gr.Button, registry, task: str, status) -> None:
    """The "Unload model" button: frees every loaded model of ``task`` and says which."""
    button.click(
        lambda: f"Unloaded: {', '.join(registry.unload(task)) or 'nothing was loaded'}.",
        None,
        status,
        api_visibility="private",
    )


def diversity_table(plural: str, elem_id: str) -> gr.Dataframe:
    """The compare panel's table of how different the texts are (distinct-n and similarity)."""
    return gr.Dataframe(
        label=f"How different are the {plural}? distinct-n: share of word n-grams that "
        f"are new (1 = no repeats); similarity: 1 = identical {plural}",
        interactive=False,
        elem_id=elem_id,
    )
