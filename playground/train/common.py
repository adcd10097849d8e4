"""Shared plumbing for the training scripts: seeding, checkpoints, logging.

Checkpoints hold model + optimizer state and the step count.  Batches are
drawn from a generator seeded by (seed, step), so a resumed run sees exactly
the batches an uninterrupted run would have seen.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import torch

REPO_ROOT = Path(__file__).resolve().parents[2]
CACHE_DIR = REPO_ROOT / ".cache" / "train"


def setup_torch(seed: int, threads: int | None = None) -> None:
    """Seed everything and cap threads (the box has 2 cores that are shared)."""
    threads = threads or int(os.environ.get("PLAYGROUND_TRAIN_THREADS", "2"))
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    np.random.seed(seed)


def batch_indices(n: int, batch_size: int, seed: int, step: int) -> torch.Tensor:
    """Random batch for ``step``, independent of whether the run was resumed."""
    g = torch.Generator().manual_seed(seed * 1_000_003 + step)
    return torch.randint(0, n, (batch_size,), generator=g)


def step_generator(seed: int, step: int) -> torch.Generator:
    """Per-step generator for noise/timesteps/dropout (resume-reproducible)."""
    return torch.Generator().manual_seed(seed * 7_919 + step * 104_729 + 1)


def images_to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W, 3) -> float (N, 3, H, W) in [-1, 1]."""
    return torch.from_numpy(images).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


def save_checkpoint(path: Path, step: int, **state) -> None:
    """Atomically write ``{'step': step, name: obj.state_dict() ...}``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"step": step}
    for name, obj in state.items():
        payload[name] = obj.state_dict() if hasattr(obj, "state_dict") else obj
    tmp = path.with_suffix(".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: Path, **state) -> int:
    """Restore objects saved by ``save_checkpoint``; return the step (0 if none)."""
    if not path.exists():
        return 0
    payload = torch.load(path, map_location="cpu", weights_only=False)
    for name, obj in state.items():
        if name in payload:
            obj.load_state_dict(payload[name])
    return int(payload["step"])


class Logger:
    """Prints ``step  metrics  s/step`` lines at a fixed interval, flushed."""

    def __init__(self, every: int, total: int):
        self.every = max(1, every)
        self.total = total
        self.t0 = time.time()
        self.last_step: int | None = None
        self.sums: dict[str, float] = {}
        self.count = 0

    def log(self, step: int, **metrics: float) -> None:
        for k, v in metrics.items():
            self.sums[k] = self.sums.get(k, 0.0) + float(v)
        self.count += 1
        if step % self.every == 0 or step == self.total:
            now = time.time()
            done = step - (self.last_step if self.last_step is not None else step - self.count)
            rate = (now - self.t0) / max(done, 1)
            parts = " ".join(f"{k}={v / self.count:.5f}" for k, v in self.sums.items())
            print(f"step {step}/{self.total} {parts} {rate:.3f}s/step", flush=True)
            self.t0, self.last_step, self.sums, self.count = now, step, {}, 0


class PeriodicExport:
    """Calls ``export()`` when ``every`` seconds have passed since the last call
    (``None``: never), so a long run leaves a folder to resume from."""

    def __init__(self, every: float | None, export):
        self.every = every
        self.export = export
        self.last = time.time()

    def maybe(self, step: int) -> None:
        if self.every is not None and time.time() - self.last >= self.every:
            print(f"step {step}: periodic export", flush=True)
            self.export()
            self.last = time.time()
