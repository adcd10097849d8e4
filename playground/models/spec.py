"""What a task is, declared once beside its models: the task spec.

Each ``playground.models.<task>`` module ends with ``SPEC = TaskSpec(...)``: the task's name, title and aliases, its
backends, its default and curated models, the inputs it takes and how they are checked, the one call that runs it,
what a run keeps in History, and the tiny input of ``--check``. Everything that lists tasks (the CLI's aliases, the
tabs, the presenter's ready line, the self-check, the catalogue, History) reads the specs it is given
(``playground.tasks.default_tasks()``), and the one run path (``playground.run``) calls the spec's methods, so the
API, the tabs, compare and chains accept and refuse the same inputs with the same sentence.

Nothing here imports Gradio; a tab is named by its module (``tab``), or left out for the generic tab built from
``inputs`` and ``output``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from playground.errors import UserError
from playground.limits import require_text


@dataclass(frozen=True)
class ModelSpec:
    """A model the UI offers by name. ``locate`` finds a bundled model's files."""

    id: str
    label: str
    locate: Callable[[], Path] | None = None
    recommended: dict = field(default_factory=dict)  # option values that suit this model
    note: str = ""

    @property
    def bundled(self) -> bool:
        return self.locate is not None


@dataclass(frozen=True)
class Input:
    """One input of a task's run, as the API names it.

    ``kind`` is "text" (at most ``limit`` characters), "image" or "audio" (a file path; the run loads and checks the
    file, ``playground.media``), "flag" (a yes/no switch) or "conversation" (earlier chat turns, made plain by
    ``convert``). An ``optional`` input may be left empty (blank text counts as empty) and is then None.
    """

    name: str
    kind: str = "text"
    label: str = ""
    limit: int = 2_000
    optional: bool = False
    convert: Callable[[Any], Any] | None = None

    @property
    def what(self) -> str:
        return self.label.lower() or self.name.replace("_", " ")

    def check(self, value: Any) -> Any:
        """The value as the run uses it, or a ``UserError`` naming this input."""
        if self.kind == "flag":
            return bool(value)
        if self.optional and (
            value is None or value == "" or value == [] or (isinstance(value, str) and not value.strip())
        ):
            return None
        if self.kind == "text":
            return require_text(value, self.what, self.limit)
        if self.kind in ("image", "audio"):
            if not value:
                raise UserError(f"No {self.what} was given: upload one first.")
            return value
        if self.kind == "conversation":
            if not isinstance(value, list):
                raise UserError(f"The {self.what} must be a list of messages.")
            return self.convert(value) if self.convert else value
        raise UserError(f"Unknown input kind '{self.kind}' for the {self.what}.")


@dataclass
class Job:
    """What a task's run may use while it works: ``report(value)`` for progress, and the ``stop`` signal to check
    (``None``: nothing can stop it)."""

    report: Callable[[Any], None] = lambda value: None
    stop: threading.Event | None = None


def hub_models(*ids: str, **recommended) -> tuple[ModelSpec, ...]:
    """Curated hub models, each listed under its id, with the option values that suit them."""
    return tuple(ModelSpec(i, i, recommended=recommended) for i in ids)


@dataclass(frozen=True)
class Kept:
    """What a run keeps in History: input files (name -> path), settings that are not options, and outputs
    (texts, PIL images or ``(sample_rate, samples)`` audio)."""

    outputs: list = field(default_factory=list)
    files: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)


@dataclass(frozen=True)
class TaskSpec:
    """One task (one tab).

    ``run(wrapper, inputs, options, seed, job)`` is the task's model call, given checked inputs (``check_inputs``: the
    default checks each ``Input``; a task with cross-field rules passes its own). ``keep(inputs, result)`` says what
    History keeps, ``status(run)`` says what was made and how fast (the line under the result adds the seed, the
    model and the device), and ``output(result)`` the value the API and the generic tab return.
    ``check(wrapper, shared)`` runs the tiny ``--check`` input and returns what it made; ``check_after`` names
    tasks whose check must run first (their output lands in ``shared``).
    """

    name: str
    title: str
    api_name: str
    backends: tuple = ()
    models: tuple[ModelSpec, ...] = ()
    aliases: tuple[str, ...] = ()
    inputs: tuple[Input, ...] = ()
    output: str = "text"  # the kind of ``output(result)``: "text", "image" or "audio"
    seeded: bool = True
    run: Callable[..., Any] | None = None
    check_inputs: Callable[[dict], dict] | None = None
    keep: Callable[[dict, Any], Kept] | None = None
    status: Callable[[Any], str] | None = None
    output_of: Callable[[Any], Any] | None = None  # None: the result's ``.text`` / ``.image``, or the result
    check: Callable[[Any, dict], str] | None = None
    check_after: tuple[str, ...] = ()
    tab: str | None = None  # the module whose build() lays out this task's tab; None: the generic tab

    @property
    def default(self) -> str:
        return self.models[0].id

    @property
    def names(self) -> tuple[str, ...]:
        """What the CLI accepts for this task: its name and aliases."""
        return (self.name, *self.aliases)

    def checked(self, inputs: dict) -> dict:
        """``inputs`` checked, each value as the run takes it; the first bad one is a ``UserError`` naming it."""
        unknown = sorted(set(inputs) - {i.name for i in self.inputs})
        if unknown:
            raise UserError(f"{self.title} takes no input named {', '.join(map(repr, unknown))}.")
        checked = {i.name: i.check(inputs.get(i.name)) for i in self.inputs}
        return self.check_inputs(checked) if self.check_inputs else checked
