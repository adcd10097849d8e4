"""The tasks, the model catalogue per task, and the lazily loaded instances.

A task's backends and curated models are declared in its spec (``playground.models.<task>.SPEC``); adding a model
family means writing its wrapper class and listing it there, nothing else.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from playground import bundled
from playground.backends.openai_compat import KeyRing, RemoteAllowList, RemoteId, is_remote_id, parse_remote_id
from playground.devices import DeviceChoice
from playground.errors import UserError
from playground.memory import MemoryBudget, default_budget
from playground.models.base import LoadPolicy, ModelWrapper, resolve_source
from playground.models.spec import ModelSpec, TaskSpec
from playground.tasks import default_tasks


@dataclass(frozen=True)
class TaskInfo:
    """One task's catalogue entry: its title, default model and curated choices (from its spec; ``offer_remote``
    puts a remote model first)."""

    name: str
    title: str
    models: tuple[ModelSpec, ...]

    @property
    def default(self) -> str:
        return self.models[0].id


def default_catalog(tasks: Iterable[TaskSpec] | None = None) -> dict[str, TaskInfo]:
    """The bundled offline defaults first, then a few curated hub models per task, as the specs declare them."""
    return {spec.name: TaskInfo(spec.name, spec.title, spec.models) for spec in (tasks or default_tasks())}


def hf_cache_dirs() -> tuple[Path, ...]:
    """Where the Hugging Face libraries keep downloaded models (``HF_HOME``, and ``HF_HUB_CACHE`` if set apart)."""
    from huggingface_hub import constants

    return tuple(dict.fromkeys(Path(p) for p in (constants.HF_HOME, constants.HF_HUB_CACHE)))


class Registry:
    """Looks models up by id and keeps each loaded instance for reuse.

    ``policy`` says which models may run their own code or unpickle weights (neither, by default);
    ``max_memory`` is the bytes loaded models may take (default: half the RAM) before the least
    recently used one is unloaded. ``remote_keys`` holds API keys of OpenAI-compatible servers, in memory only.

    Model ids come from whoever can reach the app, so a local path loads only from under ``model_roots`` (the data
    folder, the bundled models, the Hugging Face cache and ``model_dirs``), and a remote model only from a server
    ``allowed_remotes`` names (``remote_servers`` and those ``offer_remote`` adds); none by default.
    """

    def __init__(
        self,
        data_dir: Path,
        device: DeviceChoice,
        catalog: dict[str, TaskInfo] | None = None,
        policy: LoadPolicy | None = None,
        max_memory: int | None = None,
        model_dirs: Iterable[Path] = (),
        remote_servers: Iterable[str] = (),
        tasks: Iterable[TaskSpec] | None = None,
    ):
        self.data_dir = Path(data_dir)
        self.device = device
        self.tasks = {spec.name: spec for spec in (tasks if tasks is not None else default_tasks())}
        self.catalog = catalog if catalog is not None else default_catalog(self.tasks.values())
        self.policy = policy or LoadPolicy()
        self.memory = MemoryBudget(max_memory if max_memory is not None else default_budget())
        self._instances: dict[tuple[str, str], ModelWrapper] = {}
        self._lock = threading.Lock()
        self.model_roots = (self.data_dir, bundled.ASSETS / "models", *hf_cache_dirs(), *map(Path, model_dirs))
        self.allowed_remotes = RemoteAllowList(remote_servers)
        self.remote_keys = KeyRing()

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"

    def task(self, task: str) -> TaskInfo:
        """The task's info; an unknown task is a programming error named plainly."""
        try:
            return self.catalog[task]
        except KeyError:
            raise UserError(f"Unknown task: '{task}'; known tasks are {', '.join(self.catalog)}.") from None

    def task_spec(self, task: str) -> TaskSpec:
        """The task's spec: its inputs, run, checks and tab."""
        self.task(task)  # an unknown task is named plainly
        return self.tasks[task]

    def spec(self, task: str, model_id: str) -> ModelSpec | None:
        """The catalogue entry for ``model_id``, or None for free-text ids."""
        return next((m for m in self.task(task).models if m.id == model_id), None)

    def backends(self, task: str) -> list[type[ModelWrapper]]:
        """The wrapper classes for a task, in order of preference: its remote one (``playground.models.remote``) first."""
        from playground.models.remote import REMOTE_BACKENDS

        local = self.task_spec(task).backends
        return [REMOTE_BACKENDS[task], *local] if task in REMOTE_BACKENDS else list(local)

    def options_class(self, task: str):
        """The Options class the task's UI is built from (shared by its backends)."""
        return self.backends(task)[0].Options

    def get(self, task: str, model_id: str | None = None) -> ModelWrapper:
        """The wrapper for ``model_id`` (the task's default if empty), created once, not yet loaded."""
        info = self.task(task)
        model_id = (model_id or "").strip() or info.default
        key = (task, model_id)
        with self._lock:
            if key in self._instances:
                return self._instances[key]
        spec = self.spec(task, model_id)
        if spec is not None and spec.bundled:
            source = str(spec.locate())
        else:
            source = resolve_source(model_id, self.model_roots)
        if is_remote_id(source):
            self.allowed_remotes.check(parse_remote_id(source).base_url)
        backend = next((b for b in self.backends(task) if b.claims(source)), None)
        if backend is None:
            raise UserError(f"No {info.title} backend can load '{model_id}'.")
        # keys stay out of ids
        extra = {"keys": self.remote_keys, "allowed": self.allowed_remotes} if getattr(backend, "remote", False) else {}
        wrapper = backend(
            model_id,
            source,
            self.device.resolve(),
            self.cache_dir / task,
            policy=self.policy,
            budget=self.memory,
            **extra,
        )
        with self._lock:
            return self._instances.setdefault(key, wrapper)

    def offer_remote(self, task: str, remote: RemoteId, key: str | None = None) -> None:
        """List a model on an OpenAI-compatible server first in ``task``'s choices (so it is the default), allow
        its server, and keep the server's key in memory for every caller."""
        info = self.task(task)
        self.allowed_remotes.add(remote.base_url)
        name = remote.model or "the server's model"
        spec = ModelSpec(remote.source, f"{name} on {remote.base_url} (remote)")
        self.catalog[task] = TaskInfo(info.name, info.title, (spec, *(m for m in info.models if m.id != spec.id)))
        if key:
            self.remote_keys.set(remote.base_url, key)

    def load(self, task: str, model_id: str | None = None) -> ModelWrapper:
        """Get and load the model."""
        wrapper = self.get(task, model_id)
        wrapper.ensure_loaded()
        return wrapper

    def unload(self, task: str) -> list[str]:
        """Unload every loaded model of ``task``; return their ids."""
        with self._lock:
            victims = [w for (t, _), w in self._instances.items() if t == task and w.loaded]
        for wrapper in victims:
            wrapper.unload()
        return [w.model_id for w in victims]

    def loaded(self) -> list[ModelWrapper]:
        """The models currently in memory."""
        with self._lock:
            return [w for w in self._instances.values() if w.loaded]
