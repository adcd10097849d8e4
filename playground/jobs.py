"""Run blocking work in a thread while the caller streams its progress, and stop it on request."""

from __future__ import annotations

import queue
import threading
import time
from typing import Any, Callable, Iterator

_DONE = object()
_NONE = object()  # no progress value waiting
ABANDON_AFTER = 1.0  # seconds a reader may leave progress unread before the work is stopped


def iterate_job(work: Callable[[Callable[[Any], None], threading.Event], Any], poll: float = 0.1,
                abandon_after: float = ABANDON_AFTER, latest_every: float = 0.0) -> Iterator[tuple[str, Any]]:
    """Run ``work(report, stop)`` in a thread.

    Yields ``("progress", value)`` for each ``report(value)`` and finally ``("done", result)``;
    with ``latest_every``, at most one progress value per that many seconds, the latest, the first
    one that long after the start (each update streamed to a page costs the server a few milliseconds
    of the work's CPU);
    the work's exception is re-raised here. Closing the iterator early sets ``stop`` so the work
    can end at its next check. So does leaving it unread for ``abandon_after`` seconds while the
    work reports progress: Gradio stops reading a cancelled request's generator without closing it.
    """
    events: queue.Queue = queue.Queue()
    stop = threading.Event()
    outcome: dict[str, Any] = {}
    waiting_since = [None]  # when this generator last paused at a yield, None while it runs

    def report(value):
        paused = waiting_since[0]
        if paused is not None and time.monotonic() - paused > abandon_after:
            stop.set()  # nobody is reading: the request was cancelled or its page closed
        events.put(value)

    def run():
        try:
            outcome["result"] = work(report, stop)
        except BaseException as exc:  # handed to the caller's thread below
            outcome["error"] = exc
        finally:
            events.put(_DONE)

    worker = threading.Thread(target=run, name="playground-job", daemon=True)
    worker.start()
    # with latest_every, the first update also waits that long: work shorter than that streams nothing
    pending, last_yield = _NONE, (time.monotonic() if latest_every else float("-inf"))
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
                continue
            waiting_since[0] = last_yield = time.monotonic()
            item, pending = pending, _NONE
            yield "progress", item
            waiting_since[0] = None
        if "error" in outcome:
            raise outcome["error"]
        yield "done", outcome["result"]
    finally:
        stop.set()
