"""Train the shapes-world image captioner: a tiny BLIP.

    python -m playground.train.captioner --steps 2000

A ``BlipForConditionalGeneration`` with a 2-layer ViT (8x8 patches on the
64x64 image) and a 2-layer BERT-style decoder, plus a ``BlipProcessor``
(``BlipImageProcessor`` at 64x64 + a ``BertTokenizerFast`` whose vocab is the
special tokens and the grammar words).

Decoding contract: ``BlipForConditionalGeneration.generate`` starts every
caption from ``text_config.bos_token_id`` and stops at
``text_config.sep_token_id``.  Here bos is the tokenizer's ``[CLS]`` and sep
is ``[SEP]``, so the processor's own encoding of a caption,
``[CLS] words [SEP] [PAD]...``, is exactly the sequence the decoder is
trained to produce (labels = input ids with padding set to -100), and
``batch_decode(..., skip_special_tokens=True)`` returns the caption string.

Training images get light Gaussian noise and colour jitter, so captions stay
right on the slightly blurry, off-palette output of the text-to-image model.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from playground.shapes.tokenizers import build_bert_tokenizer
from playground.shapes.world import IMAGE_SIZE, TRAIN_SEED, caption, make_dataset
from playground.train.common import (
    CACHE_DIR, Logger, batch_indices, load_checkpoint, save_checkpoint,
    setup_torch, step_generator,
)

MAX_CAPTION_TOKENS = 12  # [CLS] + 8 words + [SEP], with slack


def make_processor():
    """BlipProcessor: 64x64 image preprocessing + the grammar tokenizer."""
    from transformers import BlipImageProcessor, BlipProcessor

    image_processor = BlipImageProcessor(
        size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}, do_resize=True, do_convert_rgb=True,
    )
    return BlipProcessor(image_processor=image_processor, tokenizer=build_bert_tokenizer())


def make_model(tokenizer):
    """A tiny BlipForConditionalGeneration wired to ``tokenizer``'s ids."""
    from transformers import BlipConfig, BlipForConditionalGeneration

    width = 96
    config = BlipConfig(
        vision_config=dict(
            hidden_size=width, intermediate_size=4 * width, num_hidden_layers=2,
            num_attention_heads=4, image_size=IMAGE_SIZE, patch_size=8,
        ),
        text_config=dict(
            vocab_size=len(tokenizer), hidden_size=width, intermediate_size=4 * width,
            num_hidden_layers=2, num_attention_heads=4, encoder_hidden_size=width,
            # Room for generate(max_new_tokens=20+) even on an untrained model.
            max_position_embeddings=40,
            # generate() starts from bos and stops at sep: use [CLS]/[SEP].
            bos_token_id=tokenizer.cls_token_id,
            eos_token_id=tokenizer.sep_token_id,
            sep_token_id=tokenizer.sep_token_id,
            pad_token_id=tokenizer.pad_token_id,
        ),
        projection_dim=width,
    )
    return BlipForConditionalGeneration(config)


def augment(pixels: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Noise + per-image colour shift in normalised pixel space."""
    b = pixels.shape[0]
    noise = torch.randn(pixels.shape, generator=g) * 0.1 * torch.rand(b, 1, 1, 1, generator=g)
    shift = (torch.rand(b, 3, 1, 1, generator=g) - 0.5) * 0.15
    return pixels + noise + shift


def train(
    out_dir: str | Path,
    steps: int = 2000,
    batch_size: int = 64,
    dataset_size: int = 20_000,
    lr: float = 1e-3,
    seed: int = 0,
    ckpt_dir: str | Path | None = None,
    ckpt_every: int = 250,
    log_every: int = 50,
    export_only: bool = False,
):
    """Train (resuming from ``ckpt_dir``) and save model + processor to
    ``out_dir``.  ``export_only`` writes the latest checkpoint without training."""
    setup_torch(seed)
    out_dir = Path(out_dir)
    ckpt_path = Path(ckpt_dir or CACHE_DIR / "captioner") / "ckpt.pt"
    processor = make_processor()
    tok = processor.tokenizer
    model = make_model(tok)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / 100) * max(0.05, 1 - s / max(steps, 1))
    )
    start = load_checkpoint(ckpt_path, model=model, opt=opt, sched=sched)
    print(f"captioner: {sum(p.numel() for p in model.parameters()) / 1e6:.2f}M params, "
          f"start step {start}/{steps}", flush=True)

    if not export_only:
        attrs, images = make_dataset(dataset_size, TRAIN_SEED, "train")
        pixels = processor.image_processor(images=list(images), return_tensors="pt").pixel_values
        enc = tok([caption(a) for a in attrs], padding="max_length",
                  max_length=MAX_CAPTION_TOKENS, truncation=True, return_tensors="pt")
        labels = enc.input_ids.masked_fill(enc.attention_mask == 0, -100)
        logger = Logger(log_every, steps)
        model.train()
        for step in range(start + 1, steps + 1):
            idx = batch_indices(len(pixels), batch_size, seed, step)
            x = augment(pixels[idx], step_generator(seed, step))
            out = model(pixel_values=x, input_ids=enc.input_ids[idx],
                        attention_mask=enc.attention_mask[idx], labels=labels[idx])
            opt.zero_grad(set_to_none=True)
            out.loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            logger.log(step, loss=out.loss.item())
            if step % ckpt_every == 0 or step == steps:
                save_checkpoint(ckpt_path, step, model=model, opt=opt, sched=sched)

    model.eval()
    model.save_pretrained(out_dir, safe_serialization=True)
    processor.save_pretrained(out_dir)
    print(f"captioner saved to {out_dir}", flush=True)
    return model, processor


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out-dir", default=str(CACHE_DIR / "out" / "shapes-captioner"))
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--dataset-size", type=int, default=20_000)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--ckpt-dir", default=None)
    p.add_argument("--export-only", action="store_true")
    a = p.parse_args(argv)
    train(a.out_dir, a.steps, a.batch_size, a.dataset_size, a.lr, a.seed,
          a.ckpt_dir, export_only=a.export_only)


if __name__ == "__main__":
    main()
