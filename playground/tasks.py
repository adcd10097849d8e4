"""The tasks the app offers, in tab order, and what derives from their specs (``playground.models.spec``).

Adding a task means writing ``playground/models/<task>.py`` with its wrappers and ``SPEC``, and its tab (or none:
the generic tab is built from the spec's inputs); a caller that wants it passes ``[*default_tasks(), SPEC]`` to the
``Registry``. Nothing here is global: each caller gets the specs it asks for.
"""

from __future__ import annotations

from typing import Iterable

from playground.errors import UserError
from playground.models.spec import TaskSpec


def default_tasks() -> tuple[TaskSpec, ...]:
    """The five bundled tasks, in the order of their tabs."""
    from playground.models import captioning, chat, speech_to_text, text_to_image, text_to_speech

    return (chat.SPEC, text_to_image.SPEC, captioning.SPEC, speech_to_text.SPEC, text_to_speech.SPEC)


def task_names(tasks: Iterable[TaskSpec]) -> dict[str, str]:
    """Every name and alias the CLI accepts (``t2i``, ``stt`` …) -> the task's name."""
    names: dict[str, str] = {}
    for spec in tasks:
        for name in spec.names:
            if names.setdefault(name, spec.name) != spec.name:
                raise UserError(f"Two tasks are both called '{name}': {names[name]} and {spec.name}.")
    return names


def check_order(tasks: Iterable[TaskSpec]) -> list[TaskSpec]:
    """The tasks in the order their self-checks run: tab order, except that a task checks after those it names in
    ``check_after`` (speech to text listens to what text to speech said)."""
    pending = list(tasks)
    names = {spec.name for spec in pending}
    ordered: list[TaskSpec] = []
    while pending:
        done = {spec.name for spec in ordered}
        ready = next((s for s in pending if all(a in done or a not in names for a in s.check_after)), pending[0])
        ordered.append(ready)
        pending.remove(ready)
    return ordered
