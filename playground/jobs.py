"""Run blocking work in a thread while the caller streams its progress, and stop it on request."""

from __future__ import annotations

import contextvars
import queue
import threading
import time
from typing import Any, Callable, Iterator

_DONE = object()
_NONE = object()  # no progress value waiting
HEARTBEAT = 0.5  # seconds: a handler with nothing to show still hands control back to Gradio this often
# The stop flag of the job this thread runs, so model code between sentences or segments can check it
# without every wrapper's signature carrying it.
CURRENT_STOP: contextvars.ContextVar[threading.Event | None] = contextvars.ContextVar("playground_stop", default=None)


class Stopped(Exception):
    """The work was stopped before it finished (a Stop, a cancelled request, a closed page)."""


def raise_if_stopped(what: str = "Stopped.") -> None:
    """Raise ``Stopped`` when the job running on this thread has been asked to stop; else nothing."""
    stop = CURRENT_STOP.get()
    if stop is not None and stop.is_set():
        raise Stopped(what)


def iterate_job(
    work: Callable[[Callable[[Any], None], threading.Event], Any],
    poll: float = 0.1,
    latest_every: float = 0.0,
    heartbeat: float = 0.0,
) -> Iterator[tuple[str, Any]]:
    """Run ``work(report, stop)`` in a thread.

    Yields ``("progress", value)`` for each ``report(value)`` and finally ``("done", result)``;
    with ``latest_every``, at most one progress value per that many seconds, the latest, the first
    one that long after the start (each update streamed to a page costs the server a few milliseconds
    of the work's CPU); the work's exception is re-raised here.

    With ``heartbeat``, ``("tick", None)`` comes whenever that long passed without anything else to yield: Gradio
    can close a generator only while it is paused at a yield, so a handler whose work reports nothing for minutes
    (a transcription, a long clip) yields on each tick to stay stoppable. The work can also check the stop with
    ``raise_if_stopped()`` from any code it calls.

    ``stop`` is set only when this iterator is closed: Gradio closes a handler's generator when its
    request is cancelled (Stop, ``/cancel``) or its client disconnects. A reader that is merely slow
    (a busy machine) never stops the work: a slow reader is not a cancelled one.
    """
    events: queue.Queue = queue.Queue()
    stop = threading.Event()
    outcome: dict[str, Any] = {}

    def run():
        CURRENT_STOP.set(stop)
        try:
            outcome["result"] = work(events.put, stop)
        except BaseException as exc:  # handed to the caller's thread below
            outcome["error"] = exc
        finally:
            events.put(_DONE)

    # the work runs in the caller's context, so it still knows which request (browser session) it serves
    worker = threading.Thread(target=contextvars.copy_context().run, args=(run,), name="playground-job", daemon=True)
    worker.start()
    # with latest_every, the first update also waits that long: work shorter than that streams nothing
    pending, last_yield = _NONE, (time.monotonic() if latest_every else float("-inf"))
    last_beat = time.monotonic()
    try:
        while True:
            wait = poll if pending is _NONE else max(0.0, min(poll, last_yield + latest_every - time.monotonic()))
            try:
                item = events.get(timeout=wait)
            except queue.Empty:
                item = _NONE
            if item is _DONE:
                break
            if item is not _NONE:
                pending = item
            if pending is _NONE or time.monotonic() - last_yield < latest_every:
                if heartbeat and time.monotonic() - last_beat >= heartbeat:
                    last_beat = time.monotonic()
                    yield "tick", None
                continue
            last_yield = last_beat = time.monotonic()
            item, pending = pending, _NONE
            yield "progress", item
        if "error" in outcome:
            raise outcome["error"]
        yield "done", outcome["result"]
    finally:
        stop.set()
