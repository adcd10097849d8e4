"""Load the chosen models in the background at start-up and say, per task, whether each one is ready."""

from __future__ import annotations

import logging
import threading

from playground.errors import UserError

log = logging.getLogger("playground")

READY, LOADING, WAITING, FAILED, ON_FIRST_USE = "ready", "loading", "waiting", "failed", "loads on first use"


class Preloader:
    """Loads each task's default model in turn on a background thread, so the page is up at once."""

    def __init__(self, registry, tasks: list[str]):
        self.registry = registry
        self.tasks = list(dict.fromkeys(tasks))
        self.problems: dict[str, str] = {}
        self.current: str | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> threading.Thread:
        """Start loading; returns the thread (join it to wait)."""
        self._thread = threading.Thread(target=self.run, name="playground-preload", daemon=True)
        self._thread.start()
        return self._thread

    def run(self) -> None:
        """Load every chosen task's default model; a failure is kept as its sentence, the rest still load."""
        for task in self.tasks:
            self.current = task
            try:
                self.registry.load(task)
            except UserError as exc:
                self.problems[task] = str(exc)
            except Exception as exc:  # shown as one sentence; the details go to the log
                log.error("preloading %s failed", task, exc_info=exc)
                self.problems[task] = f"Loading failed ({type(exc).__name__}); the details are in the server log."
        self.current = None

    def state(self, task: str) -> tuple[str, str]:
        """(state, plain sentence) for ``task``: ready, loading, waiting, failed or loads on first use."""
        if task in self.problems:
            return FAILED, self.problems[task]
        try:
            wrapper = self.registry.get(task)
        except UserError as exc:  # e.g. a bundled model's package is missing
            return FAILED, str(exc)
        if wrapper.loaded:
            return READY, f"{self.registry.task(task).title} is ready."
        if task == self.current:
            return LOADING, f"{self.registry.task(task).title} is loading…"
        if task in self.tasks and self._thread is not None and self._thread.is_alive():
            return WAITING, f"{self.registry.task(task).title} loads next."
        return ON_FIRST_USE, f"{self.registry.task(task).title} loads on first use."

    def settled(self) -> bool:
        """True once nothing is left to load (every chosen task is ready or failed)."""
        return self._thread is None or not self._thread.is_alive()
