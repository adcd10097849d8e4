"""The wrapper contract shared by every task: an id, declared Options, load() and unload()."""

from __future__ import annotations

import gc
import re
import threading
from pathlib import Path
from typing import ClassVar

from playground.devices import Device
from playground.errors import UserError
from playground.options import Options

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


class ModelWrapper:
    """A lazily loaded model for one task.

    Subclasses set ``task``, ``backend`` and a nested ``Options`` class, implement
    ``load()`` (with heavy imports inside it) and their task's run method.
    """

    task: ClassVar[str]
    backend: ClassVar[str]
    Options: ClassVar[type[Options]] = Options

    def __init__(self, model_id: str, source: str, device: Device, cache_dir: Path):
        self.model_id = model_id  # what the user picked
        self.source = source  # a local path or a hub id
        self.device = device
        self.cache_dir = cache_dir
        self.loaded = False
        self.load_lock = threading.Lock()

    @classmethod
    def claims(cls, source: str) -> bool:
        """Whether this backend can load ``source``; the first claiming backend wins."""
        return True

    def ensure_loaded(self) -> None:
        """Load once; concurrent callers wait for the same load."""
        with self.load_lock:
            if not self.loaded:
                self.load()
                self.loaded = True

    def load(self) -> None:  # pragma: no cover - every backend overrides it
        raise NotImplementedError

    def unload(self) -> None:
        """Drop the weights and give the memory back."""
        with self.load_lock:
            self._release()
            self.loaded = False
        gc.collect()
        if self.device.type == "cuda":
            import torch

            torch.cuda.empty_cache()

    def _release(self) -> None:
        """Delete references to the loaded objects; override to name them."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.model_id!r}, {self.device})"


def resolve_source(model_id: str) -> str:
    """Check a free-text model id: an existing local path, or something shaped like a hub id."""
    text = model_id.strip()
    if not text:
        raise UserError("Choose a model: the model field is empty.")
    looks_like_path = text.startswith(("/", ".", "~")) or "\\" in text or text.count("/") > 1
    if looks_like_path:
        path = Path(text).expanduser()
        if not path.exists():
            raise UserError(f"No model file or folder exists at '{text}'.")
        return str(path.resolve())
    if Path(text).exists():
        return str(Path(text).resolve())
    if not HUB_ID.match(text):
        raise UserError(f"Unknown model: '{text}' is neither a local path nor a hub id like 'org/name'.")
    return text


def load_error(exc: BaseException, model_id: str) -> UserError:
    """Turn a library's loading failure into one plain sentence."""
    names = {type(e).__name__ for e in _chain(exc)}
    text = " ".join(str(e) for e in _chain(exc)).lower()
    offline = {"LocalEntryNotFoundError", "OfflineModeIsEnabled", "ConnectError", "ConnectionError", "ConnectTimeout"}
    if names & offline or "offline" in text or "couldn't connect" in text or "cannot find the requested files in the disk cache" in text:
        return UserError(
            f"Model '{model_id}' is not downloaded and the model hub cannot be reached; "
            "connect to the internet once so it can be cached, or pick a bundled model or a local folder."
        )
    if "RepositoryNotFoundError" in names or "is not a local folder and is not a valid model identifier" in text:
        return UserError(f"Model '{model_id}' was not found on the hub or on disk; check the id.")
    if isinstance(exc, MemoryError) or "out of memory" in text:
        return UserError(f"Model '{model_id}' does not fit in the available memory.")
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return UserError(f"Model '{model_id}' could not be loaded: {first[:300]}")


def _chain(exc: BaseException):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__
