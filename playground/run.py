"""The one run path: every run of a task (a tab, its API endpoint, compare, chains, the self-check) goes through
``prepare`` and ``execute``, without Gradio.

``prepare`` checks the inputs with the task's spec (the same sentence for the same bad input, wherever it comes
from), parses the options, draws the seed and finds the wrapper; ``execute`` loads the model (saying so through
``on_loading``), runs the spec's call with a progress callback and a stop signal, times it and keeps it in History.
``run_task`` does both.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

from playground.models.base import ModelWrapper
from playground.models.spec import Job, TaskSpec
from playground.options import Options
from playground.seeds import resolve_seed


@dataclass
class Run:
    """One run of a task: what went in, what came out, how long it took and its History card."""

    spec: TaskSpec
    wrapper: ModelWrapper
    inputs: dict
    options: Options
    seed: int | None
    result: Any = None
    seconds: float = 0.0
    card: dict | None = None

    @property
    def status(self) -> str:
        """The line under the result: what was made, how fast, with which model, on which device."""
        made = self.spec.status(self) if self.spec.status is not None else f"Done in {self.seconds:.2f} s"
        seed = f" · seed {self.seed}" if self.seed is not None else ""
        return f"{made}{seed} · {self.wrapper.model_id} on {self.wrapper.device}"

    @property
    def output(self) -> Any:
        """The result as the API returns it (text, a PIL image or ``(sample_rate, samples)``): what the spec's
        ``output_of`` makes of it, else its attribute named by the output's kind (``.text``, ``.image``), else
        the result itself."""
        if self.spec.output_of is not None:
            return self.spec.output_of(self.result)
        return getattr(self.result, self.spec.output, self.result)


def loading_message(wrapper: ModelWrapper) -> str:
    return f"Loading {wrapper.model_id} on {wrapper.device} (first use only)…"


def prepare(registry, task: str, inputs: dict, *, model: str | None = None, options=None, seed=-1) -> Run:
    """Check everything a run needs before any work: the inputs, the options, the seed and the model id."""
    spec = registry.task_spec(task)
    checked = spec.checked(inputs)
    if not isinstance(options, Options):
        options = registry.options_class(task).parse(**(options or {}))
    seed = resolve_seed(seed) if spec.seeded else None
    return Run(spec, registry.get(task, model), checked, options, seed)


def execute(
    run: Run,
    *,
    run_log=None,
    on_loading: Callable[[str], None] | None = None,
    report: Callable[[Any], None] | None = None,
    stop=None,
) -> Run:
    """Load the model if needed, run the task, time it and keep it in ``run_log`` (``None``: not kept)."""
    if not run.wrapper.loaded:
        if on_loading is not None:
            on_loading(loading_message(run.wrapper))
        run.wrapper.ensure_loaded()
    start = time.perf_counter()
    run.result = run.spec.run(run.wrapper, run.inputs, run.options, run.seed, Job(report or (lambda value: None), stop))
    run.seconds = time.perf_counter() - start
    if run_log is not None and run.spec.keep is not None:
        kept = run.spec.keep(run.inputs, run.result)
        run.card = run_log.record(
            run.spec.api_name,
            run.wrapper,
            run.options,
            seed=run.seed,
            files=kept.files,
            settings=kept.settings,
            outputs=kept.outputs,
            seconds=run.seconds,
        )
    return run


def run_task(
    registry,
    task: str,
    inputs: dict,
    *,
    model: str | None = None,
    options=None,
    seed=-1,
    run_log=None,
    on_loading: Callable[[str], None] | None = None,
    report: Callable[[Any], None] | None = None,
    stop=None,
) -> Run:
    """``prepare`` then ``execute``: one whole run of ``task``."""
    run = prepare(registry, task, inputs, model=model, options=options, seed=seed)
    return execute(run, run_log=run_log, on_loading=on_loading, report=report, stop=stop)
