"""Presets: a tab's settings saved under a name, listed, applied and deleted; kept in the History database.

Each task tab gets a "Presets" row (``build``), and the API gets four endpoints (``build_api``):
``/preset_save(tab, name, settings)``, ``/preset_list(tab)``, ``/preset_apply(tab, name)`` and
``/preset_delete(tab, name)``; ``tab`` is the tab's endpoint name (``chat``, ``text_to_image``, ``caption``,
``transcribe``, ``synthesize``) and ``settings`` the model, the options and the seed, named as that endpoint names
them. Under ``--auth`` each login sees only its own presets.
"""

from __future__ import annotations

import functools

import gradio as gr

from playground.errors import UserError
from playground.ui.controls import plain_error
from playground.ui.history import current_user


def plainly(fn):
    """``fn`` with its signature and type hints (``gr.api`` reads them), its errors as one plain sentence."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            raise plain_error(exc, fn.__name__) from None

    return wrapper


def setting_names(registry, task: str) -> list[str]:
    """What a preset of ``task`` holds: the model, every option, and the seed where the task takes one."""
    spec = registry.task_spec(task)
    return ["model", *registry.options_class(task).model_fields, *(["seed"] if spec.seeded else [])]


def checked_settings(registry, task: str, settings) -> dict:
    """``settings`` as a preset keeps them: known names only, the options checked as a run would check them."""
    if not isinstance(settings, dict):
        raise UserError("A preset's settings must be a JSON object of setting names and values.")
    known = setting_names(registry, task)
    unknown = sorted(set(settings) - set(known))
    if unknown:
        raise UserError(f"A {task} preset has no setting named {unknown[0]!r}; it takes {', '.join(known)}.")
    options = {k: v for k, v in settings.items() if k in registry.options_class(task).model_fields}
    registry.options_class(task).parse(**options)  # a bad value is named before anything is kept
    model = settings.get("model")
    if model is not None and not isinstance(model, str):
        raise UserError(f"A preset's model must be a model id, got {model!r}.")
    return dict(settings)


def _tasks_by_api(registry) -> dict[str, str]:
    return {spec.api_name: spec.name for spec in registry.tasks.values()}


def _task_of(registry, tab) -> str:
    by_api = _tasks_by_api(registry)
    if tab not in by_api:
        raise UserError(f"There is no tab {tab!r} with presets; pick one of {', '.join(by_api)}.")
    return by_api[tab]


def build_api(registry, run_log) -> None:
    """The four preset endpoints, for scripts and checks (no components of their own)."""

    def preset_save(tab: str, name: str, settings: dict) -> dict:
        task = _task_of(registry, tab)
        return run_log.save_preset(tab, name, checked_settings(registry, task, settings), current_user())

    def preset_list(tab: str) -> list[dict]:
        _task_of(registry, tab)
        return run_log.presets(tab, current_user())

    def preset_apply(tab: str, name: str) -> dict:
        _task_of(registry, tab)
        return run_log.preset(tab, name, current_user())["settings"]

    def preset_delete(tab: str, name: str) -> str:
        _task_of(registry, tab)
        if not run_log.delete_preset(tab, name, current_user()):
            raise UserError(f"There is no preset named {str(name).strip()!r} for {tab}.")
        return f"Deleted the preset {str(name).strip()!r}."

    for fn in (preset_save, preset_list, preset_apply, preset_delete):
        gr.api(plainly(fn), api_name=fn.__name__, queue=False)


def build(registry, run_log, task: str, controls: dict) -> None:
    """The tab's Presets row: type a name and Save, or pick one and Apply or Delete."""
    api = registry.task_spec(task).api_name
    names = [n for n in setting_names(registry, task) if n in controls]
    targets = [controls[n] for n in names]
    with gr.Accordion("Presets: save these settings under a name", open=False, elem_id=f"{api}-presets"):
        with gr.Row():
            choice = gr.Dropdown(
                [],
                value=None,
                label="Preset",
                info="Type a new name to save, or pick a saved one",
                allow_custom_value=True,
                elem_id=f"{api}-preset-name",
                scale=3,
            )
            save = gr.Button("Save", size="sm", elem_id=f"{api}-preset-save")
            apply = gr.Button("Apply", size="sm", elem_id=f"{api}-preset-apply")
            delete = gr.Button("Delete", size="sm", elem_id=f"{api}-preset-delete")
        note = gr.Markdown(elem_id=f"{api}-preset-status")

    def listed(selected=None):
        saved = [p["name"] for p in run_log.presets(api, current_user())]
        return gr.update(choices=saved, value=selected if selected in saved else None)

    def saving(name, *values):
        try:
            preset = run_log.save_preset(
                api, name, checked_settings(registry, task, dict(zip(names, values))), current_user()
            )
        except UserError as exc:
            return gr.skip(), str(exc)
        return listed(preset["name"]), f"Saved the preset **{preset['name']}** ({len(names)} settings)."

    def applying(name):
        try:
            settings = run_log.preset(api, name, current_user())["settings"]
        except UserError as exc:
            return (gr.skip(),) * len(targets) + (str(exc),)
        values = [settings[n] if n in settings else gr.skip() for n in names]
        return (*values, f"Applied the preset **{str(name).strip()}**.")

    def deleting(name):
        try:
            gone = run_log.delete_preset(api, name, current_user())
        except UserError as exc:
            return gr.skip(), str(exc)
        return listed(), (f"Deleted the preset **{str(name).strip()}**." if gone else "There is no such preset.")

    private = {"api_visibility": "private", "queue": False}
    save.click(saving, [choice, *targets], [choice, note], **private)
    apply.click(applying, [choice], [*targets, note], **private)
    delete.click(deleting, [choice], [choice, note], **private)
    choice.focus(lambda current: listed(current), [choice], [choice], **private)
