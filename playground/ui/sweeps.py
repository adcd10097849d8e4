"""The compare loop every tab's "Compare settings" panel shares, and the answer cards they show.

A compare run is a list of cells (one setting each, ``playground.compare``) run one after another by
``playground.sweep.run_sweep``. ``sweep_updates`` streams it the same way in every tab: a first update, one per
finished cell ("3 of 6 captions done"), a heartbeat that keeps the run stoppable, "Stopped: n of m … finished" when
it is stopped, and one History record of what was made, kept even when the run is stopped.
"""

from __future__ import annotations

import contextlib
import html
from typing import Any, Callable, Iterator

import gradio as gr

from playground.run import loading_message
from playground.sweep import run_sweep
from playground.ui.controls import run_stop_status
from playground.ui.stopping import stop_button


class ComparePanel:
    """A tab's "Compare settings" panel: its run and Stop buttons and status line (made where it is created, ids
    ``<prefix>-run``, ``-stop`` and ``-status``), the event that runs it, and the stream of its updates. What it
    makes is a ``noun`` ("caption"); a stopped run says how many "were made" (``verb``), counting the cells that
    ``made`` says hold a result."""

    def __init__(
        self,
        prefix: str,
        notes,
        noun: str,
        verb: str = "finished",
        made: Callable[[Any], bool] = lambda cell: cell.done,
        run_label: str = "Compare",
    ):
        self.run, self.stop, self.status = run_stop_status(prefix, run_label)
        self.notes, self.noun, self.verb, self.made = notes, noun, verb, made
        self.api_name, self.width = "", 0

    def wire(self, endpoint, fn: Callable, outputs: list, concurrency_id: str):
        """The run button calls ``fn`` as ``endpoint`` (two at a time per task, so one long compare leaves room),
        with ``outputs`` and the status line last; Stop cancels it and the status line says what was done."""
        self.api_name, self.width = endpoint.api_name, len(outputs) + 1
        event = endpoint.on(
            [self.run.click], fn, [*outputs, self.status], concurrency_limit=2, concurrency_id=concurrency_id
        )
        stop_button(self.stop, self.notes, endpoint.api_name, event, self.status)
        return event

    def stream(self, request, cells: list, run_one: Callable, progress, show, record, *, load=None, **sweep):
        """The handler's updates: ``load`` (a wrapper) is loaded first if it is not yet, with a status line that
        says so, then ``sweep_updates(cells, run_one, …)`` runs inside this panel's stop notes."""
        skip = (gr.skip(),) * self.width
        with self.notes.run(request, self.api_name) as stopping:
            if load is not None and not load.loaded:
                yield (*skip[1:], loading_message(load))
                load.ensure_loaded()
            yield from sweep_updates(
                cells,
                run_one,
                stopping=stopping,
                progress=progress,
                noun=self.noun,
                verb=self.verb,
                made=self.made,
                show=show,
                record=record,
                skip=skip,
                **sweep,
            )


def sweep_updates(
    cells: list,
    run_one: Callable,
    *,
    stopping,
    progress,
    noun: str,
    show: Callable[[str, bool], tuple],
    record: Callable[[str | None], None],
    skip: tuple,
    seed: int | None = None,
    made: Callable[[Any], bool] = lambda cell: cell.done,
    verb: str = "finished",
    on_cell: Callable[[Any], None] | None = None,
    on_progress: Callable[[Any, int], tuple | None] | None = None,
    summary: Callable[[list], str] | None = None,
    extra_note: Callable[[list], str] | None = None,
) -> Iterator[tuple]:
    """Run ``cells`` with ``run_one(cell, report, stop)`` and yield the panel's outputs as they change.

    ``show(status, final)`` returns the panel's outputs with ``status`` as its status line; ``skip`` is the
    nothing-changed update. ``stopping`` is the run's ``StopNotes`` context: a Stop ends the loop with
    "Stopped: n of m <noun>s <verb>" and ``record`` keeps what was made. ``on_cell`` sees each finished cell's
    value, ``on_progress(value, finished)`` may turn a cell's progress into an update, ``summary(made)`` writes
    the last status line and ``extra_note(made)`` adds to it.
    """
    total = len(cells)
    tail = f" · seed {seed}" if seed is not None else ""
    title = noun[:1].upper() + noun[1:]

    def stopped_at(count: int) -> str:
        return f"Stopped: {count} of {total} {noun}s {verb}{tail}"

    stopping.if_stopped(stopped_at(0), record)
    progress(0, desc=f"{title} 1 of {total}")
    yield show(f"{title} 1 of {total}…", False)
    finished = 0
    with contextlib.closing(run_sweep(cells, run_one)) as sweep:
        for kind, value in sweep:
            if kind == "tick":  # nothing new: hand control back so a Stop can close the run
                yield skip
            elif kind == "progress":
                update = on_progress(value, finished) if on_progress else None
                yield skip if update is None else update
            elif kind == "cell":
                finished += 1
                if on_cell is not None:
                    on_cell(value)
                stopping.if_stopped(stopped_at(finished))
                progress(finished / total, desc=f"{title} {finished + 1} of {total}")
                yield show(f"{finished} of {total} {noun}s done", False)
    kept = [c for c in cells if made(c)]
    note = "" if len(kept) == total else f"Stopped: {len(kept)} of {total} {noun}s {verb}. "
    note += extra_note(kept) if extra_note else ""
    record(note.strip() or None)
    yield show(note + (summary(kept) if summary else f"{len(kept)} {noun}s{tail}"), True)


def card(head: str, body: str, foot: str, *, text: bool = True, kind: str = "") -> str:
    """One answer card: ``head`` and ``foot`` are plain text; ``body`` is HTML (wrapped as text unless ``text`` is
    False, for a player or a picture)."""
    inner = f'<div class="answer-text">{body}</div>' if text else body
    return (
        f'<div class="answer-card{" " + kind if kind else ""}"><div class="answer-head">{html.escape(head)}</div>'
        f'{inner}<div class="answer-foot">{html.escape(foot)}</div></div>'
    )


def card_grid(cards: list[str], *, legend: str = "", kind: str = "") -> str:
    """The cards side by side, with an optional legend (HTML) above them."""
    head = f'<div class="answer-legend">{legend}</div>' if legend else ""
    return f'{head}<div class="answer-grid{" " + kind if kind else ""}">{"".join(cards)}</div>'
