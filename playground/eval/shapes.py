"""Evaluate the bundled shapes-world models from their asset folders.

    python -m playground.eval.shapes [--n 64] [--sd DIR] [--captioner DIR]

Everything is scored by the pixel reader (``playground.shapes.reader``), on
scenes drawn with ``EVAL_SEED`` (never used for training data):

* text-to-image adherence: foreground colour, shape and background all read
  back correctly, for large-size prompts, at the default steps/guidance and
  at guidance 1.0 (no classifier-free guidance);
  "seen triples" prompts use (colour, shape, background) combinations that
  occur in training (the exact prompt string may too; the grammar is small),
  "held-out triples" prompts use combinations never trained on;
  "unknown words" adds junk words/emoji to seen-triple prompts;
* captioner accuracy: colour, shape and background all right, on fresh
  renders (seen and held-out triples reported separately);
* round trip: prompt -> image -> caption, attributes of the caption match the
  prompt's;
* CPU latency: seconds per image at default settings, seconds per caption.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from playground.eval import common
from playground.shapes.reader import read_image
from playground.shapes.world import (
    EVAL_SEED,
    Attributes,
    caption,
    parse_caption,
    render,
    sample_attributes,
)

SD_DIR = common.MODELS_DIR / "shapes-sd"
CAPTIONER_DIR = common.MODELS_DIR / "shapes-captioner"
KEYS = ("colour", "shape", "background")

BARS = {
    "t2i_default": 0.85,
    "captioner": 0.90,
    "round_trip": 0.80,
    "sec_per_image": 2.0,
    "sec_per_caption": 0.5,
}


def eval_prompts(n: int, split: str, size: str | None = "large", seed: int = EVAL_SEED) -> list[Attributes]:
    """``n`` fresh scenes from ``split`` (optionally forcing the size)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        a = sample_attributes(rng, split)
        if size is not None:
            a = Attributes(size, a.colour, a.shape, a.background, a.dx, a.dy)
        out.append(a)
    return out


def _junk(text: str, rng: np.random.Generator) -> str:
    extras = ["please", "zebra", "🐶", "photo", "4k", "very", "cute!!"]
    words = text.split()
    for _ in range(2):
        words.insert(int(rng.integers(0, len(words) + 1)), extras[int(rng.integers(len(extras)))])
    return " ".join(words)


def run(
    n: int = 64,
    sd_dir: Path = SD_DIR,
    captioner_dir: Path = CAPTIONER_DIR,
    steps: int = common.DEFAULT_STEPS,
    guidance: float = common.DEFAULT_GUIDANCE,
    threads: int = 2,
) -> dict[str, float]:
    """Compute and print every figure; return them as a dict."""
    pipe, processor, cap_model = common.load_models(Path(sd_dir), Path(captioner_dir), threads)
    res: dict[str, float] = {}

    def adherence(attrs, images):
        return common.share(attrs, [read_image(im) for im in images], KEYS)

    seen = eval_prompts(n, "train")
    held = eval_prompts(max(8, n // 4), "heldout")
    seen_prompts = [caption(a) for a in seen]
    img_default = common.generate(pipe, seen_prompts, guidance, steps, EVAL_SEED)
    res["t2i_default"] = adherence(seen, img_default)
    res["t2i_guidance_1"] = adherence(seen, common.generate(pipe, seen_prompts, 1.0, steps, EVAL_SEED))
    res["t2i_heldout"] = adherence(held, common.generate(pipe, [caption(a) for a in held], guidance, steps, EVAL_SEED))
    rng = np.random.default_rng(EVAL_SEED)
    junk_prompts = [_junk(p, rng) for p in seen_prompts[: max(8, n // 2)]]
    res["t2i_unknown_words"] = adherence(seen, common.generate(pipe, junk_prompts, guidance, steps, EVAL_SEED))

    # Captioner on fresh renders (any size, new positions).
    cap_seen = eval_prompts(4 * n, "train", size=None, seed=EVAL_SEED + 1)
    cap_held = eval_prompts(n, "heldout", size=None, seed=EVAL_SEED + 2)
    for name, attrs in (("captioner", cap_seen), ("captioner_heldout", cap_held)):
        caps = common.caption_images(processor, cap_model, [render(a) for a in attrs])
        res[name] = common.share(attrs, [parse_caption(c) for c in caps], KEYS)
        if name == "captioner":
            res["captioner_exact"] = float(np.mean([c == caption(a) for a, c in zip(attrs, caps)]))

    # Round trip: prompt -> generated image -> caption.
    caps = common.caption_images(processor, cap_model, img_default)
    res["round_trip"] = common.share(seen, [parse_caption(c) for c in caps], KEYS)

    # Latency, batch of one, after a warm-up call.
    prompt, img = seen_prompts[0], img_default[0]
    res["sec_per_image"] = common.seconds_per_call(lambda i: common.generate(pipe, [prompt], guidance, steps, i), 3)
    res["sec_per_caption"] = common.seconds_per_call(lambda _: common.caption_images(processor, cap_model, [img]), 10)

    _print(res, n, steps, guidance)
    return res


def _print(res: dict[str, float], n: int, steps: int, guidance: float) -> None:
    def bar(key, higher=True):
        if key not in BARS:
            return ""
        ok = res[key] >= BARS[key] if higher else res[key] <= BARS[key]
        return f"  (bar {'>=' if higher else '<='} {BARS[key]:g}: {'PASS' if ok else 'FAIL'})"

    print(f"shapes-world eval: steps={steps} guidance={guidance} n={n}")
    print(f"t2i all-correct, large, seen triples, guidance {guidance:g}: {res['t2i_default']:.1%}{bar('t2i_default')}")
    print(f"t2i all-correct, large, seen triples, guidance 1.0: {res['t2i_guidance_1']:.1%}")
    print(f"t2i all-correct, large, held-out triples: {res['t2i_heldout']:.1%}")
    print(f"t2i all-correct, large, prompts with unknown words: {res['t2i_unknown_words']:.1%}")
    print(
        f"captioner colour+shape+background, fresh renders: {res['captioner']:.1%}{bar('captioner')}"
        f" (exact caption {res['captioner_exact']:.1%})"
    )
    print(f"captioner, held-out triples: {res['captioner_heldout']:.1%}")
    print(f"round trip prompt->image->caption: {res['round_trip']:.1%}{bar('round_trip')}")
    print(f"seconds per image (64x64, {steps} steps, CPU): {res['sec_per_image']:.3f}{bar('sec_per_image', False)}")
    print(f"seconds per caption (CPU): {res['sec_per_caption']:.3f}{bar('sec_per_caption', False)}")


def main(argv: list[str] | None = None) -> None:
    a = common.eval_arguments(__doc__, 64, SD_DIR, CAPTIONER_DIR).parse_args(argv)
    run(a.n, Path(a.sd), Path(a.captioner), a.steps, a.guidance, a.threads)


if __name__ == "__main__":
    main()
