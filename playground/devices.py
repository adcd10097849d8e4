"""Pick the compute device and dtype: CUDA first, then MPS, then CPU, or an explicit choice."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from playground.errors import UserError

CHOICES = ("auto", "cpu", "cuda", "mps")


@dataclass(frozen=True)
class Device:
    """A resolved device: ``type`` is cuda, mps or cpu; ``dtype`` a torch dtype name."""

    type: str
    dtype: str

    @property
    def torch_dtype(self):
        """The ``torch.dtype`` object for ``dtype``."""
        import torch

        return getattr(torch, self.dtype)

    def __str__(self) -> str:
        return f"{self.type} ({self.dtype})"


class DeviceChoice:
    """The user's device request, resolved on first use so that start-up stays light.

    Probing CUDA means importing torch, which costs seconds; the app only pays that
    when a model is first loaded or the device is first shown.
    """

    def __init__(self, requested: str = "auto"):
        if requested not in CHOICES:
            raise UserError(f"Unknown device '{requested}'; choose one of {', '.join(CHOICES)}.")
        self.requested = requested
        self._resolved: Device | None = None
        self._lock = threading.Lock()

    def resolve(self) -> Device:
        """The concrete device, probed once."""
        with self._lock:
            if self._resolved is None:
                self._resolved = pick_device(self.requested)
            return self._resolved


def pick_device(requested: str = "auto") -> Device:
    """Resolve ``requested`` to a device: fp16/bf16 on a GPU, fp32 on the CPU."""
    import torch

    if requested == "auto":
        if torch.cuda.is_available():
            requested = "cuda"
        elif getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            requested = "mps"
        else:
            requested = "cpu"
    if requested == "cuda":
        if not torch.cuda.is_available():
            raise UserError("--device cuda was asked for, but no CUDA GPU is available.")
        dtype = "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
        return Device("cuda", dtype)
    if requested == "mps":
        if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise UserError("--device mps was asked for, but MPS is not available.")
        return Device("mps", "float16")
    return Device("cpu", "float32")


def torch_libgomp() -> str | None:
    """The path of the OpenMP runtime torch itself loaded, or None (torch without OpenMP, or not Linux).

    Other libraries bring their own renamed copy (CTranslate2, under faster-whisper, loads
    ``ctranslate2.libs/libgomp-<hash>.so``). Setting that copy's team size leaves torch's alone: with the
    speech-to-text model loaded, the sampler's ops kept a second OpenMP thread spinning at a barrier beside
    llama.cpp's threads, and the app's chat decoded at half of raw llama.cpp's rate."""
    import torch

    torch_dir = Path(torch.__file__).resolve().parent
    with open("/proc/self/maps") as maps:
        loaded = {line.split()[-1] for line in maps if "libgomp" in line.rsplit("/", 1)[-1]}
    ours = [path for path in sorted(loaded) if Path(path).resolve().is_relative_to(torch_dir)]
    # a torch built against the system's runtime (distribution packages) uses the unrenamed libgomp.so.1
    return (ours or [path for path in sorted(loaded) if Path(path).name.startswith("libgomp.so")] or [None])[0]


@contextmanager
def serial_torch_on_this_thread() -> Iterator[bool]:
    """While the block runs, torch's CPU ops on the calling thread run on that thread alone; yields True when
    that took effect. The thread's team size is put back afterwards.

    The chat sampler runs a handful of small ops per token on a 50k-entry vocabulary, just after llama.cpp's
    thread pool computed the logits. Split across OpenMP threads, each op waits at a barrier for a core that
    ggml's threads (or another model) still hold, and the sampler cost milliseconds per token instead of a
    fraction of one: the wrapper decoded at 0.45-0.7× raw llama.cpp on 2 cores. ``torch.set_num_threads``
    would change every thread of the process; OpenMP's team size is per thread, so this sets it for the calling
    thread only. The ops are element-wise or run serially along the vocabulary anyway, so the tokens drawn are
    the same.
    """
    import ctypes

    import torch

    before = torch.get_num_threads()  # torch sets this thread's OpenMP team size on first use: do it before we do
    libgomp = torch_libgomp()
    if libgomp is None:  # torch built with its own thread pool (not OpenMP), or not Linux
        yield False
        return
    gomp = ctypes.CDLL(libgomp)
    gomp.omp_set_num_threads(1)
    try:
        yield torch.get_num_threads() == 1
    finally:
        gomp.omp_set_num_threads(before)
