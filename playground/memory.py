"""A memory budget for loaded models: the least recently used model makes room for the next one."""

from __future__ import annotations

import logging
import re
import threading
import time

from playground.errors import UserError

log = logging.getLogger("playground")

GB = 1024**3
UNITS = {"": GB, "b": 1, "k": 1024, "m": 1024**2, "g": GB, "t": 1024**4}  # a bare number is gigabytes


def trim_heap() -> None:
    """Hand the C heap's free pages back to the system (glibc's ``malloc_trim``; elsewhere nothing). Tensors under
    glibc's mmap threshold (which grows up to 32 MB as big blocks are freed) live in the heap, and once freed they
    stay in the process's RSS until trimmed: an unloaded model's memory would be free only to this process."""
    import ctypes

    try:
        trim = getattr(ctypes.CDLL(None), "malloc_trim", None)  # the process's own symbols: libc's, on Linux
    except (OSError, TypeError):  # a platform without that lookup
        return
    if trim is not None:
        trim(0)


def default_budget() -> int:
    """Half of this machine's RAM: room for the models with enough left for the app and everything else."""
    import psutil

    return psutil.virtual_memory().total // 2


def parse_size(text: str) -> int:
    """Bytes from a size like '8GB', '512MB' or '6' (gigabytes); a plain sentence when it is not one."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(?:([kmgt])i?b?|(b))?\s*", str(text), re.IGNORECASE)
    if not match or float(match.group(1)) <= 0:
        raise UserError(f"'{text}' is not a memory size; use a number with a unit, like 8GB or 512MB.")
    unit = (match.group(2) or match.group(3) or "").lower()
    return int(float(match.group(1)) * UNITS[unit])


def human(size: int) -> str:
    """A byte count as people read it: 1.2 GB, 340 MB."""
    if size >= GB:
        return f"{size / GB:.1f} GB"
    return f"{size / 1024**2:.0f} MB" if size >= 1024**2 else f"{size / 1024:.0f} KB"


class MemoryBudget:
    """Keeps the loaded models' estimated sizes under ``limit`` bytes.

    Before a model loads, idle models are unloaded, least recently used first, until it fits;
    a model bigger than the whole budget is refused with its size. Models in use are never unloaded.
    """

    def __init__(self, limit: int):
        self.limit = int(limit)
        self._last_used: dict[int, float] = {}
        self._loaded: dict[int, object] = {}  # id(wrapper) -> wrapper, for models this budget admitted
        self._sizes: dict[int, int] = {}
        self._lock = threading.Lock()

    def used(self) -> int:
        """The estimated bytes of the models loaded now."""
        with self._lock:
            return sum(self._sizes[k] for k, w in self._loaded.items() if w.loaded)

    def admit(self, wrapper) -> None:
        """Make room for ``wrapper`` (about to load) or refuse it in one sentence."""
        need = wrapper.estimated_bytes()
        if need > self.limit:
            raise UserError(
                f"Model '{wrapper.model_id}' needs about {human(need)} of memory, more than the "
                f"{human(self.limit)} budget; start the app with a larger --max-memory, or pick a "
                "smaller model."
            )
        try:
            self._make_room(wrapper, need)
        except UserError:
            import gc

            gc.collect()  # an abandoned generation (a cancelled stream) releases its model when collected
            self._make_room(wrapper, need)

    def _make_room(self, wrapper, need: int) -> None:
        with self._lock:
            self._loaded = {k: w for k, w in self._loaded.items() if w.loaded}
            others = sorted(
                (w for k, w in self._loaded.items() if w is not wrapper), key=lambda w: self._last_used.get(id(w), 0.0)
            )
            used = sum(self._sizes[id(w)] for w in others)
            victims = []
            for other in others:
                if used + need <= self.limit:
                    break
                if other.users == 0:
                    victims.append(other)
                    used -= self._sizes[id(other)]
            if used + need > self.limit:
                raise UserError(
                    f"Model '{wrapper.model_id}' needs about {human(need)} of memory, but models "
                    f"that are running hold {human(used)} of the {human(self.limit)} budget; try "
                    "again when they finish."
                )
            self._loaded[id(wrapper)] = wrapper
            self._sizes[id(wrapper)] = need
            self._last_used[id(wrapper)] = time.monotonic()
        for victim in victims:
            log.info(
                "unloading %s to make room for %s (memory budget %s)",
                victim.model_id,
                wrapper.model_id,
                human(self.limit),
            )
            victim.unload()

    def touch(self, wrapper) -> None:
        """Note that ``wrapper`` was just used."""
        with self._lock:
            self._last_used[id(wrapper)] = time.monotonic()

    def others_computing_on_cpu(self, wrapper) -> bool:
        """Whether another loaded model is running on this machine's CPU now (a remote one is not)."""
        with self._lock:
            others = [w for w in self._loaded.values() if w is not wrapper]
        return any(w.loaded and w.users > 0 and getattr(w.device, "type", "") == "cpu" for w in others)
