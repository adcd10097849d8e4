"""How a stopped run ends: its partial result recorded and its status saying so, even after Gradio closed it.

Gradio ends a cancelled run (the Stop button, a client's ``/cancel``, a closed page) by closing the handler's
generator at its next update, so the run cannot stream a closing status of its own. Each streaming handler
runs inside ``notes.run(...)``: when it is closed, its last ``stopped`` sentence is kept (and its partial
result recorded by ``on_stop``), and the tab's Stop button, wired with ``stop_button``, shows that sentence.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Callable

import gradio as gr

from playground.jobs import HEARTBEAT, iterate_job

log = logging.getLogger("playground")
SHOW_WITHIN = 3.0  # seconds the Stop button waits for the run to close before leaving the status alone


class RunHandle:
    """What to say, and what to keep, if the run is stopped now; the handler updates it as it goes."""

    def __init__(self):
        self.note = "Stopped before anything was made."
        self.on_stop: Callable[[str], object] | None = None

    def if_stopped(self, note: str, on_stop: Callable[[str], object] | None = None) -> None:
        self.note = note
        if on_stop is not None:
            self.on_stop = on_stop


class StopNotes:
    """The closing sentence of each session's latest run per event, for its Stop button to show."""

    def __init__(self):
        self._ended: dict[tuple[str, str], str | None] = {}  # absent: running (or never ran)
        self._changed = threading.Condition()

    @staticmethod
    def _key(request, event: str) -> tuple[str, str]:
        return (getattr(request, "session_hash", None) or "", event)

    @contextlib.contextmanager
    def run(self, request, event: str):
        """Wrap a streaming handler's body; a close (GeneratorExit) keeps the handle's note and partial result."""
        key = self._key(request, event)
        with self._changed:
            self._ended.pop(key, None)
        handle = RunHandle()
        note = None
        try:
            yield handle
        except GeneratorExit:
            note = handle.note
            if handle.on_stop is not None:
                # Gradio names the caller only around each step, and a close is none: History keeps the run under
                # the login that made it (playground.ui.history.current_user), so name it again here.
                from gradio.context import LocalContext

                caller = LocalContext.request.set(request)
                try:
                    handle.on_stop(note)
                except Exception:  # the run is already over: never let keeping it raise into Gradio's close
                    log.exception("the stopped run's partial result was not recorded")
                finally:
                    LocalContext.request.reset(caller)
            raise
        finally:
            with self._changed:
                self._ended[key] = note
                self._changed.notify_all()

    def wait(self, request, event: str, timeout: float = SHOW_WITHIN) -> str | None:
        """The stopped run's sentence once it has closed; None if it finished by itself or is still running."""
        key = self._key(request, event)
        with self._changed:
            self._changed.wait_for(lambda: key in self._ended, timeout=timeout)
            return self._ended.get(key)


def stop_button(button: gr.Button, notes: StopNotes, event: str, run_event, status) -> None:
    """``button`` cancels ``run_event``; once the run has closed, ``status`` says what it had done."""

    def stopped_status(request: gr.Request):
        note = notes.wait(request, event)
        return note if note is not None else gr.skip()

    button.click(None, None, None, cancels=[run_event])
    button.click(stopped_status, None, [status], queue=False, api_visibility="private", show_progress="hidden")


def in_job(call: Callable[..., object], idle_update: tuple, shown: Callable[[object], tuple] | None = None):
    """Run ``call()`` on a job thread and return its result (``result = yield from in_job(...)``).

    Until it ends, the handler yields ``idle_update`` (``gr.skip()`` for each output) every heartbeat: Gradio can
    close a handler only while it is paused at a yield, so a long transcription or clip stays stoppable, and a
    closed page or a cancel stops the work inside it (``raise_if_stopped`` between segments and sentences).
    With ``shown``, ``call(report)`` gets a ``report`` callback, and the handler yields ``shown(value)`` for each
    value reported (each sentence of a clip, say), in order.
    """
    # Gradio keeps a generator to close only once its first step has returned: a cancel during that step (a
    # model loading, say) left the work running to its end. So the first step returns at once.
    yield idle_update
    work = (lambda report, stop: call(report)) if shown else (lambda report, stop: call())
    # closed explicitly: a for loop leaves the job to garbage collection when this generator is closed
    with contextlib.closing(iterate_job(work, heartbeat=HEARTBEAT)) as job:
        for kind, value in job:
            if kind == "tick":
                yield idle_update
            elif kind == "progress" and shown is not None:
                yield shown(value)
            elif kind == "done":
                return value
