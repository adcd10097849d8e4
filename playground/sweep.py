"""Sweeps: the same input run over a list of settings, one cell at a time, stoppable, partial results kept."""

from __future__ import annotations

import contextlib
import re
import threading
from typing import Any, Callable, Iterator

from playground.errors import UserError
from playground.jobs import HEARTBEAT, iterate_job
from playground.options import Options, field_bounds, label_of

MAX_VALUES = 8
MAX_CELLS = 36


def parse_values(text, what: str, kind: type = float, limit: int = MAX_VALUES) -> list:
    """Split "1, 3.5, 7" (or a list) into numbers; a plain sentence for anything else."""
    items = text if isinstance(text, (list, tuple)) else re.split(r"[,;\s]+", str(text or "").strip())
    items = [i for i in items if str(i).strip() != ""]
    if not items:
        raise UserError(f"Give at least one value for {what}, separated by commas.")
    if len(items) > limit:
        raise UserError(f"{what} has {len(items)} values; the limit is {limit}.")
    values = []
    for item in items:
        try:
            number = float(item)
        except (TypeError, ValueError):
            raise UserError(f"{what} must be numbers separated by commas; {str(item)!r} is not a number.") from None
        if number != number or number in (float("inf"), float("-inf")):
            raise UserError(f"{what} must be finite numbers, got {item}.")
        if kind is int:
            if number != int(number):
                raise UserError(f"{what} must be whole numbers, got {item}.")
            number = int(number)
        values.append(number)
    return values


def parse_option_values(text, options_cls: type[Options], name: str, limit: int = MAX_VALUES) -> list:
    """Values for one declared option, each checked against that option's bounds."""
    if name not in options_cls.model_fields:
        raise UserError(f"Unknown setting {name!r}; choose one of: {', '.join(options_cls.model_fields)}.")
    info = options_cls.model_fields[name]
    values = parse_values(text, label_of(options_cls, name), int if info.annotation is int else float, limit)
    low, high = field_bounds(options_cls, name)
    for v in values:
        try:
            options_cls.parse(**{name: v})
        except UserError:
            raise UserError(f"{label_of(options_cls, name)} must be between {low} and {high}, got {v}.") from None
    return values


def run_sweep(cells: list, run_one: Callable[[Any, Callable, threading.Event], Any]) -> Iterator[tuple[str, Any]]:
    """Run ``run_one(cell, report, stop)`` for each cell in a worker thread.

    Yields ``("progress", value)`` for what a cell reports, ``("tick", None)`` when a heartbeat passed with nothing
    to report (a handler yields on it to stay stoppable), ``("cell", (index, result))`` as each cell
    finishes, and ``("stopped", index)`` when a stop ends the sweep early. Closing the iterator
    (a cancelled request) stops the worker at its next check.
    """
    if len(cells) > MAX_CELLS:
        raise UserError(f"That sweep has {len(cells)} runs; the limit is {MAX_CELLS}. Use fewer values.")

    def work(report, stop):
        for index, cell in enumerate(cells):
            if stop.is_set():
                return index
            report(("cell", (index, run_one(cell, report, stop))))
        return len(cells)

    with contextlib.closing(iterate_job(work, heartbeat=HEARTBEAT)) as job:
        for kind, value in job:
            if kind == "progress" and isinstance(value, tuple) and len(value) == 2 and value[0] == "cell":
                yield "cell", value[1]
            elif kind in ("progress", "tick"):
                yield kind, value
            elif value < len(cells):
                yield "stopped", value
