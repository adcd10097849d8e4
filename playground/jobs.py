"""Run blocking work in a thread while the caller streams its progress, and stop it on request."""

from __future__ import annotations

import queue
import threading
from typing import Any, Callable, Iterator

_DONE = object()


def iterate_job(work: Callable[[Callable[[Any], None], threading.Event], Any], poll: float = 0.1) -> Iterator[tuple[str, Any]]:
    """Run ``work(report, stop)`` in a thread.

    Yields ``("progress", value)`` for each ``report(value)`` and finally ``("done", result)``;
    the work's exception is re-raised here. Closing the iterator early (a cancelled
    request) sets ``stop`` so the work can end at its next check.
    """
    events: queue.Queue = queue.Queue()
    stop = threading.Event()
    outcome: dict[str, Any] = {}

    def run():
        try:
            outcome["result"] = work(lambda value: events.put(value), stop)
        except BaseException as exc:  # handed to the caller's thread below
            outcome["error"] = exc
        finally:
            events.put(_DONE)

    worker = threading.Thread(target=run, name="playground-job", daemon=True)
    worker.start()
    try:
        while True:
            try:
                item = events.get(timeout=poll)
            except queue.Empty:
                continue
            if item is _DONE:
                break
            yield "progress", item
        if "error" in outcome:
            raise outcome["error"]
        yield "done", outcome["result"]
    finally:
        stop.set()
