"""What the evaluations of the bundled image models share: loading, running, scoring, timing, options."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parents[2] / "assets" / "models"
DEFAULT_STEPS = 20
DEFAULT_GUIDANCE = 7.5


def load_models(sd_dir: Path | None, captioner_dir: Path, threads: int):
    """Load both models as an app would (CPU, fp32, torch on ``threads`` threads); no pipeline without ``sd_dir``."""
    import torch
    from diffusers import AutoPipelineForText2Image
    from transformers import AutoProcessor, BlipForConditionalGeneration

    torch.set_num_threads(threads)
    pipe = None
    if sd_dir is not None:
        pipe = AutoPipelineForText2Image.from_pretrained(sd_dir, dtype=torch.float32)
        pipe.set_progress_bar_config(disable=True)
    processor = AutoProcessor.from_pretrained(captioner_dir)
    model = BlipForConditionalGeneration.from_pretrained(captioner_dir).eval()
    return pipe, processor, model


def generate(pipe, prompts: list[str], guidance: float, steps: int, seed: int, batch: int = 16):
    """Images for ``prompts``; image i uses generator seed ``seed + i``."""
    import torch

    images = []
    for i in range(0, len(prompts), batch):
        chunk = prompts[i : i + batch]
        gens = [torch.Generator().manual_seed(seed + i + j) for j in range(len(chunk))]
        images += pipe(chunk, num_inference_steps=steps, guidance_scale=guidance, generator=gens).images
    return images


def caption_images(processor, model, images, batch: int = 64) -> list[str]:
    import torch

    out = []
    with torch.no_grad():
        for i in range(0, len(images), batch):
            inputs = processor(images=images[i : i + batch], return_tensors="pt")
            ids = model.generate(**inputs, max_new_tokens=20)
            out += processor.batch_decode(ids, skip_special_tokens=True)
    return out


def share(truths: Sequence, reads: list[dict], keys: tuple[str, ...]) -> float:
    """Fraction of ``reads`` that get every one of ``keys`` of their truth right."""
    import numpy as np

    return float(np.mean([all(r.get(k) == getattr(t, k) for k in keys) for t, r in zip(truths, reads)]))


def seconds_per_call(call: Callable[[int], object], repeats: int) -> float:
    """Mean seconds of ``call(i)`` for i in ``range(repeats)``, after a warm-up ``call(0)``."""
    call(0)
    t0 = time.perf_counter()
    for i in range(repeats):
        call(i)
    return (time.perf_counter() - t0) / repeats


def eval_arguments(doc: str, n: int, sd_dir: Path, captioner_dir: Path) -> argparse.ArgumentParser:
    """The options every evaluation takes: sample count, folders, steps, guidance, threads."""
    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument("--n", type=int, default=n, help="prompts per text-to-image condition")
    p.add_argument("--sd", default=str(sd_dir))
    p.add_argument("--captioner", default=str(captioner_dir))
    p.add_argument("--steps", type=int, default=DEFAULT_STEPS)
    p.add_argument("--guidance", type=float, default=DEFAULT_GUIDANCE)
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    return p
