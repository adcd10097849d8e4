"""Pick the compute device and dtype: CUDA first, then MPS, then CPU, or an explicit choice."""

from __future__ import annotations

import threading
from dataclasses import dataclass

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
