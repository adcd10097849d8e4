"""The start-up self-check (``python app.py --check``): every tab's default model is found, loads and runs.

Useful before a demo and run by CI. Each check finds the model's files, loads it through the registry and
runs its task's tiny input (``TaskSpec.check``) through the same wrapper method the tab uses, timing both.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from playground.errors import UserError
from playground.tasks import check_order

# what to pip-install when a backend's library is missing (module name -> package name)
LIBRARIES = {
    "piper": "piper-tts",
    "faster_whisper": "faster-whisper",
    "ctranslate2": "ctranslate2",
    "diffusers": "diffusers",
    "transformers": "transformers",
    "onnxruntime": "onnxruntime",
    "torch": "torch",
    "librosa": "librosa",
    "soundfile": "soundfile",
}


@dataclass
class CheckResult:
    """How one task's check went."""

    task: str
    title: str
    model_id: str
    ok: bool = False
    found: bool = False
    load_seconds: float = 0.0
    run_seconds: float = 0.0
    precision: str = ""
    output: str = ""
    problem: str = ""


def run_checks(registry, tasks: list[str] | None = None, write: Callable[[str], None] = print) -> list[CheckResult]:
    """Check ``tasks`` (all the registry's by default), writing one line per check as it finishes."""
    unknown = [t for t in tasks or [] if t not in registry.tasks]
    tasks = [s.name for s in check_order(registry.tasks.values()) if not tasks or s.name in tasks] + unknown
    try:
        device = registry.device.resolve()
    except UserError as exc:
        write(f"Device: {exc}")
        return [CheckResult(t, registry.task(t).title, registry.task(t).default, problem=str(exc)) for t in tasks]
    except ModuleNotFoundError as exc:
        problem = missing_library(exc)
        write(f"Device: {problem}")
        return [CheckResult(t, registry.task(t).title, registry.task(t).default, problem=problem) for t in tasks]
    write(f"Device: {device.type}, default dtype {device.dtype}")
    shared: dict = {}
    results = []
    for task in tasks:
        result = check_task(registry, task, shared)
        write(format_line(result))
        results.append(result)
    return results


def check_task(registry, task: str, shared: dict | None = None) -> CheckResult:
    """Find, load and run the task's default model; every failure becomes one plain sentence."""
    shared = {} if shared is None else shared
    info = registry.task(task)
    result = CheckResult(task, info.title, info.default)
    try:
        spec = registry.spec(task, info.default)
        if spec is not None and spec.bundled:
            spec.locate()  # raises the "not installed: run make run" sentence
        result.found = True
        start = time.perf_counter()
        wrapper = registry.load(task)
        result.load_seconds = time.perf_counter() - start
        result.precision = precision_of(wrapper)
        start = time.perf_counter()
        check = registry.task_spec(task).check
        if check is None:
            raise UserError(f"{info.title} declares no tiny input to check it with.")
        result.output = check(wrapper, shared)
        result.run_seconds = time.perf_counter() - start
        result.ok = True
    except ModuleNotFoundError as exc:
        result.problem = missing_library(exc)
    except UserError as exc:
        result.problem = str(exc)
    except Exception as exc:  # a check reports, never crashes: the rest still run
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        result.problem = f"{info.title} failed on a tiny input ({type(exc).__name__}: {first[:200]})."
    return result


def missing_library(exc: ModuleNotFoundError) -> str:
    name = (exc.name or "").split(".")[0]
    package = LIBRARIES.get(name, name)
    return f"The {package} library is not installed: run make run."


def precision_of(wrapper) -> str:
    """The weights' dtype as loaded (which can differ from the device default, e.g. int8 Whisper)."""
    pipe = getattr(wrapper, "pipe", None)
    model = getattr(wrapper, "model", None)
    model = model if model is not None else getattr(pipe, "model", None)
    for holder in (model, getattr(pipe, "unet", None), pipe):
        dtype = getattr(holder, "dtype", None)
        if dtype is not None:
            return str(dtype).replace("torch.", "")
    compute = getattr(getattr(model, "model", None), "compute_type", None)  # faster-whisper's CTranslate2 model
    if compute:
        return f"{compute} (CTranslate2)"
    if getattr(wrapper, "voice", None) is not None:
        return "float32 (ONNX)"
    return wrapper.device.dtype


def format_line(result: CheckResult) -> str:
    head = f"{result.title:<17} {result.model_id:<32}"
    if not result.ok:
        state = "found" if result.found else "MISSING"
        return f"{head} {state}  FAILED: {result.problem}"
    return (
        f"{head} found  loaded in {result.load_seconds:5.1f} s  ran in {result.run_seconds:5.2f} s  "
        f"{result.precision:<26} {result.output}"
    )


def summary(results: list[CheckResult], seconds: float) -> tuple[int, str]:
    """The exit code and the last line: 0 when every check passed, else 1 and what to fix."""
    failed = [r for r in results if not r.ok]
    if not failed:
        return 0, f"All {len(results)} checks passed in {seconds:.1f} s."
    problems = list(dict.fromkeys(r.problem for r in failed))
    return 1, f"{len(failed)} of {len(results)} checks failed: " + " ".join(problems)


def report(registry, tasks: list[str] | None = None, write: Callable[[str], None] = print) -> int:
    """Run the checks, write a line each and a last line saying what to fix; return the exit code."""
    start = time.perf_counter()
    results = run_checks(registry, tasks, write)
    code, line = summary(results, time.perf_counter() - start)
    write(line)
    return code
