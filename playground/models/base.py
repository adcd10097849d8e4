"""The wrapper contract shared by every task: an id, declared Options, load() and unload()."""

from __future__ import annotations

import gc
import logging
import os
import re
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Iterator, Sequence

from playground.devices import Device
from playground.errors import UserError, shown
from playground.memory import trim_heap
from playground.options import Options

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
# Coqui TTS names its models kind/language/dataset/model, e.g. tts_models/en/ljspeech/vits
COQUI_NAME = re.compile(r"^tts_models/[\w.-]+/[\w.-]+/[\w.-]+$")
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")
WEIGHT_SUFFIXES = (".safetensors", ".onnx", ".gguf", *PICKLE_SUFFIXES)


@dataclass(frozen=True)
class LoadPolicy:
    """What a model may do when it loads: run its repository's code, or unpickle its weights.

    Both are off by default; ``trust_remote_code`` names the model ids (or paths) that opted in.
    """

    trust_remote_code: frozenset[str] = frozenset()
    allow_pickle: bool = False

    def trusts(self, model_id: str, source: str) -> bool:
        """Whether this model was named with ``--trust-remote-code``."""
        return model_id in self.trust_remote_code or source in self.trust_remote_code


class NoBudget:
    """The memory budget of a wrapper made outside a Registry: no limit, nothing to evict."""

    def admit(self, wrapper: ModelWrapper) -> None:
        pass

    def touch(self, wrapper: ModelWrapper) -> None:
        pass

    def others_computing_on_cpu(self, wrapper: ModelWrapper) -> bool:
        return False


class ModelWrapper:
    """A lazily loaded model for one task.

    Subclasses set ``task``, ``backend`` and a nested ``Options`` class, implement
    ``load()`` (with heavy imports inside it) and their task's run method.
    """

    task: ClassVar[str]
    backend: ClassVar[str]
    Options: ClassVar[type[Options]] = Options

    #: Whether this backend's ``.bin`` files are pickles (transformers, diffusers) rather than another format
    #: (CTranslate2's ``model.bin``); pickle-only checkpoints are refused without ``--allow-pickle``.
    pickled_bin: ClassVar[bool] = True

    def __init__(
        self, model_id: str, source: str, device: Device, cache_dir: Path, policy: LoadPolicy | None = None, budget=None
    ):
        self.model_id = model_id  # what the user picked
        self.source = source  # a local path or a hub id
        self.device = device
        self.cache_dir = cache_dir
        self.policy = policy or LoadPolicy()
        self.budget = budget or NoBudget()  # playground.memory.MemoryBudget in a Registry
        self.loaded = False
        self.load_lock = threading.Lock()
        self.users = 0  # runs in progress; a busy model is never unloaded to make room
        self._users_lock = threading.Lock()

    @property
    def trust_remote_code(self) -> bool:
        """Whether this model's own code may run (only when named with ``--trust-remote-code``)."""
        return self.policy.trusts(self.model_id, self.source)

    @property
    def use_safetensors(self) -> bool | None:
        """What to pass as ``use_safetensors``: True (refuse pickles) unless ``--allow-pickle`` was given."""
        return None if self.policy.allow_pickle else True

    @property
    def pretrained_kwargs(self) -> dict:
        """What each ``from_pretrained`` of this model gets: its dtype, whether its own code may run, and
        whether pickled weights are refused."""
        return dict(
            dtype=self.device.torch_dtype,
            trust_remote_code=self.trust_remote_code,
            use_safetensors=self.use_safetensors,
        )

    @contextmanager
    def loading(self) -> Iterator[None]:
        """Turn whatever a library raises while loading this model into one plain sentence naming it (a
        ``UserError`` already is one)."""
        try:
            yield
        except UserError:
            raise
        except Exception as exc:
            raise load_error(exc, self.model_id) from exc

    @classmethod
    def claims(cls, source: str) -> bool:
        """Whether this backend can load ``source``; the first claiming backend wins."""
        return True

    def ensure_loaded(self) -> None:
        """Load once; concurrent callers wait for the same load. A failed load is retried next time."""
        with self.load_lock:
            if not self.loaded:
                if self.pickled_bin and not self.policy.allow_pickle:
                    refuse_pickle_only(self.source, self.model_id)
                self.budget.admit(self)
                self.load()
                self.loaded = True
        self.budget.touch(self)

    @contextmanager
    def in_use(self) -> Iterator[None]:
        """Load if needed and mark the model busy while the block runs, so it is not unloaded under it."""
        with self._users_lock:
            self.users += 1
        try:
            self.ensure_loaded()
            yield
        finally:
            with self._users_lock:
                self.users -= 1
            self.budget.touch(self)

    def estimated_bytes(self) -> int:
        """Memory the loaded model needs, estimated from its weight files (0 when they are not on disk)."""
        folder = local_files(self.source)
        return weight_bytes(folder) if folder is not None else 0

    def load(self) -> None:  # pragma: no cover - every backend overrides it
        raise NotImplementedError

    def unload(self) -> None:
        """Drop the weights and give the memory back."""
        with self.load_lock:
            self._release()
            self.loaded = False
        gc.collect()
        trim_heap()
        if self.device.type == "cuda":
            import torch

            torch.cuda.empty_cache()

    def _release(self) -> None:
        """Delete references to the loaded objects; override to name them."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.model_id!r}, {self.device})"


def resolve_source(model_id: str, roots: Sequence[Path]) -> str:
    """Check a free-text model id: a local path under one of ``roots``, or something shaped like a hub id.

    A path outside ``roots`` is refused with the same sentence whether it exists or not, before anything there is
    read: a model id comes from whoever can reach the app.
    """
    text = model_id.strip()
    if not text:
        raise UserError("Choose a model: the model field is empty.")
    if text.lower().startswith(("http://", "https://")):  # a model on an OpenAI-compatible server: base URL#name
        from playground.backends.openai_compat import parse_remote_id

        return parse_remote_id(text).source
    if COQUI_NAME.match(text):
        local = allowed_path(text, roots)
        return str(local) if local is not None and local.exists() else text
    looks_like_path = text.startswith(("/", ".", "~")) or "\\" in text or text.count("/") > 1
    if looks_like_path:
        path = allowed_path(text, roots)
        if path is None:
            raise UserError(
                f"The model path '{shown(text)}' is not in a folder this app loads models from (its data "
                "folder, the bundled models, the Hugging Face cache, or a --model-dir)."
            )
        if not path.exists():
            raise UserError(f"No model file or folder exists at '{shown(text)}'.")
        return str(path)
    local = allowed_path(text, roots)  # a relative folder like "my-model" in the working folder
    if local is not None and local.exists():
        return str(local)
    if not HUB_ID.match(text):
        raise UserError(f"Unknown model: '{shown(text)}' is neither a local path nor a hub id like 'org/name'.")
    return text


def allowed_path(text: str, roots: Sequence[Path]) -> Path | None:
    """``text`` as a resolved path when both it and what its links point to are inside one of ``roots``; else None.

    Only the spelling is looked at for a path outside every root, so the answer never tells whether it exists.
    """
    spelled = Path(os.path.abspath(os.path.expanduser(text)))
    spelled_roots = [Path(os.path.abspath(os.path.expanduser(str(r)))) for r in roots]
    real_roots = [Path(os.path.realpath(r)) for r in spelled_roots]
    if not any(spelled.is_relative_to(r) for r in (*spelled_roots, *real_roots)):
        return None
    real = Path(os.path.realpath(spelled))
    return real if any(real.is_relative_to(r) for r in real_roots) else None


def local_files(source: str) -> Path | None:
    """The local file or folder behind ``source``: the path itself, or a hub model's cached snapshot."""
    path = Path(source)
    if path.exists():
        return path
    if not HUB_ID.match(source) or "/" not in source:
        return None
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(source, local_files_only=True))
    except Exception:
        return None


def weight_bytes(path: Path) -> int:
    """Total size of the weights that would load from ``path``: per folder, safetensors when there are any."""
    if path.is_file():
        return path.stat().st_size
    total = 0
    for folder in [path, *(p for p in path.rglob("*") if p.is_dir())]:
        files = [f for f in folder.iterdir() if f.is_file() and f.name.endswith(WEIGHT_SUFFIXES)]
        safe = [f for f in files if f.suffix == ".safetensors"]
        total += sum(f.stat().st_size for f in (safe or files))
    return total


def refuse_pickle_only(source: str, model_id: str) -> None:
    """Raise if the model's weights exist only as pickles, which can run code when they are read."""
    path = local_files(source)
    if path is None:
        return
    if path.is_file():
        pickled = path.suffix in PICKLE_SUFFIXES
    else:
        pickled = False
        for folder in [path, *(p for p in path.rglob("*") if p.is_dir())]:
            names = [f.name for f in folder.iterdir() if f.is_file()]
            if any(n.endswith(PICKLE_SUFFIXES) for n in names) and not any(
                n.endswith((".safetensors", ".gguf", ".onnx")) for n in names
            ):
                pickled = True
                break
    if pickled:
        raise UserError(
            f"Model '{model_id}' has only pickle weights (.bin/.pt/.ckpt), which can run code when "
            "loaded; use a safetensors copy, or start the app with --allow-pickle if you trust it."
        )


def load_error(exc: BaseException, model_id: str) -> UserError:
    """Turn a library's loading failure into one plain sentence."""
    names = {type(e).__name__ for e in _chain(exc)}
    text = " ".join(str(e) for e in _chain(exc)).lower()
    offline = {"LocalEntryNotFoundError", "OfflineModeIsEnabled", "ConnectError", "ConnectionError", "ConnectTimeout"}
    if (
        names & offline
        or "offline" in text
        or "couldn't connect" in text
        or "cannot find the requested files in the disk cache" in text
    ):
        return UserError(
            f"Model '{model_id}' is not downloaded and the model hub cannot be reached; "
            "connect to the internet once so it can be cached, or pick a bundled model or a local folder."
        )
    if "RepositoryNotFoundError" in names or "is not a local folder and is not a valid model identifier" in text:
        return UserError(f"Model '{model_id}' was not found on the hub or on disk; check the id.")
    if isinstance(exc, MemoryError) or "out of memory" in text:
        return UserError(f"Model '{model_id}' does not fit in the available memory.")
    damaged = (
        "deserializing header",
        "incomplete metadata",
        "headertoolarge",
        "unable to load weights from checkpoint",
        "invalid load key",
        "unexpected eof",
        "pytorchstreamreader failed",
        "protobuf parsing failed",
    )
    if "SafetensorError" in names or any(marker in text for marker in damaged):
        return UserError(
            f"Model '{model_id}' could not be loaded: a weights file is damaged or incomplete; "
            "copy or download the model again."
        )
    missing = re.search(r"no file named (\S+?)\.? found", text)
    if missing:
        return UserError(
            f"Model '{model_id}' could not be loaded: its weights file ({missing.group(1)}) is missing"
            " (pickle .bin weights also need --allow-pickle)."
        )
    if Path(os.path.expanduser(model_id)).exists():  # a library's words about local files can quote their content
        logging.getLogger("playground").warning("loading %s failed", model_id, exc_info=exc)
        return UserError(
            f"Model '{shown(model_id)}' could not be loaded: its files are not a model this tab can use "
            f"({type(exc).__name__}; the details are in the server log)."
        )
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return UserError(f"Model '{model_id}' could not be loaded: {first[:300]}")


def _chain(exc: BaseException):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__
