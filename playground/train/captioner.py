"""Train a world's image captioner: a tiny BLIP.

    python -m playground.train.captioner --steps 2000                       # shapes
    python -m playground.train.captioner --world pictures --steps 20000     # pictures

A ``BlipForConditionalGeneration`` with a small ViT (shapes: 2 layers, 8x8
patches on the 64x64 image; pictures: 4 layers, 16x16 patches on 128x128) and
a 2-layer BERT-style decoder, plus a ``BlipProcessor`` (``BlipImageProcessor``
at the world's size + a ``BertTokenizerFast`` whose vocab is the special
tokens and the grammar words).

Decoding contract: ``BlipForConditionalGeneration.generate`` starts every
caption from ``text_config.bos_token_id`` and stops at
``text_config.sep_token_id``.  Here bos is the tokenizer's ``[CLS]`` and sep
is ``[SEP]``, so the processor's own encoding of a caption,
``[CLS] words [SEP] [PAD]...``, is exactly the sequence the decoder is
trained to produce (labels = input ids with padding set to -100), and
``batch_decode(..., skip_special_tokens=True)`` returns the caption string.

Training images get light Gaussian noise and colour jitter (pictures: half
of them also a blur), so captions stay right on the slightly blurry,
off-palette output of the text-to-image model.  ``--init-from`` starts from an
exported captioner folder; ``--export-every`` writes the folder while
training, so a long run leaves a model to resume from.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from playground.shapes.tokenizers import build_bert_tokenizer
from playground.train.common import (
    Logger,
    PeriodicExport,
    batch_indices,
    load_checkpoint,
    save_checkpoint,
    setup_torch,
    step_generator,
)
from playground.train.worlds import World, add_world_arguments, get_world, run_settings

MAX_CAPTION_TOKENS = 14  # [CLS] + 11 words (pictures: "a big dog on the beach , on the left") + [SEP], with slack


def make_processor(world: str | World = "shapes"):
    """BlipProcessor: image preprocessing at the world's size + the grammar tokenizer."""
    from transformers import BlipImageProcessor, BlipProcessor

    world = get_world(world)
    image_processor = BlipImageProcessor(
        size={"height": world.image_size, "width": world.image_size},
        do_resize=True,
        do_convert_rgb=True,
    )
    tokenizer = build_bert_tokenizer(world.words)
    # Decoding joins "beach , on" back into "beach, on".
    tokenizer.clean_up_tokenization_spaces = True
    return BlipProcessor(image_processor=image_processor, tokenizer=tokenizer)


def make_model(tokenizer, world: str | World = "shapes"):
    """A tiny BlipForConditionalGeneration wired to ``tokenizer``'s ids."""
    from transformers import BlipConfig, BlipForConditionalGeneration

    world = get_world(world)
    sizes = world.captioner
    width = sizes["width"]
    config = BlipConfig(
        vision_config=dict(
            hidden_size=width,
            intermediate_size=4 * width,
            num_hidden_layers=sizes["vision_layers"],
            num_attention_heads=4,
            image_size=world.image_size,
            patch_size=sizes["patch_size"],
        ),
        text_config=dict(
            vocab_size=len(tokenizer),
            hidden_size=width,
            intermediate_size=4 * width,
            num_hidden_layers=sizes["text_layers"],
            num_attention_heads=4,
            encoder_hidden_size=width,
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


def augment(pixels: torch.Tensor, g: torch.Generator, blur: float = 0.0) -> torch.Tensor:
    """Noise + per-image colour shift in normalised pixel space; a share
    ``blur`` of the images is first halved and scaled back up (a soft copy,
    as a decoded latent is)."""
    b = pixels.shape[0]
    noise = torch.randn(pixels.shape, generator=g) * 0.1 * torch.rand(b, 1, 1, 1, generator=g)
    shift = (torch.rand(b, 3, 1, 1, generator=g) - 0.5) * 0.15
    if blur:
        soft = torch.nn.functional.interpolate(
            torch.nn.functional.avg_pool2d(pixels, 2), scale_factor=2, mode="bilinear"
        )
        pick = (torch.rand(b, 1, 1, 1, generator=g) < blur).float()
        pixels = pick * soft + (1 - pick) * pixels
    return pixels + noise + shift


def train(
    out_dir: str | Path | None = None,
    steps: int | None = None,
    batch_size: int | None = None,
    dataset_size: int | None = None,
    lr: float = 1e-3,
    seed: int = 0,
    ckpt_dir: str | Path | None = None,
    ckpt_every: int = 250,
    log_every: int = 50,
    export_only: bool = False,
    world: str | World = "shapes",
    init_from: str | Path | None = None,
    export_every: float | None = None,
):
    """Train (resuming from ``ckpt_dir``) and save model + processor to
    ``out_dir``.  ``export_only`` writes the latest checkpoint without training;
    ``init_from`` starts a new run from an exported folder's weights;
    ``export_every`` (seconds) also writes the folder during the run."""
    world, out_dir, ckpt_dir, steps, batch_size, dataset_size = run_settings(
        "captioner", world, out_dir, ckpt_dir, steps, batch_size, dataset_size
    )
    setup_torch(seed)
    ckpt_path = ckpt_dir / "ckpt.pt"
    processor = make_processor(world)
    tok = processor.tokenizer
    model = make_model(tok, world)
    if init_from is not None and not ckpt_path.exists():
        from transformers import BlipForConditionalGeneration

        model.load_state_dict(BlipForConditionalGeneration.from_pretrained(init_from).state_dict())
        print(f"initialised from {init_from}", flush=True)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 100) * max(0.05, 1 - s / max(steps, 1)))
    start = load_checkpoint(ckpt_path, model=model, opt=opt, sched=sched)
    print(
        f"captioner: {sum(p.numel() for p in model.parameters()) / 1e6:.2f}M params, start step {start}/{steps}",
        flush=True,
    )

    def export() -> None:
        model.eval()
        model.save_pretrained(out_dir, safe_serialization=True)
        processor.save_pretrained(out_dir)
        model.train()
        print(f"captioner saved to {out_dir}", flush=True)

    if not export_only:
        items, images = world.make_dataset(dataset_size, world.train_seed, "train")
        pixels = processor.image_processor(images=list(images), return_tensors="pt").pixel_values
        enc = tok(
            [world.caption(a) for a in items],
            padding="max_length",
            max_length=MAX_CAPTION_TOKENS,
            truncation=True,
            return_tensors="pt",
        )
        labels = enc.input_ids.masked_fill(enc.attention_mask == 0, -100)
        logger = Logger(log_every, steps)
        periodic = PeriodicExport(export_every, export)
        model.train()
        for step in range(start + 1, steps + 1):
            idx = batch_indices(len(pixels), batch_size, seed, step)
            x = augment(pixels[idx], step_generator(seed, step), world.blur)
            out = model(
                pixel_values=x, input_ids=enc.input_ids[idx], attention_mask=enc.attention_mask[idx], labels=labels[idx]
            )
            opt.zero_grad(set_to_none=True)
            out.loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            logger.log(step, loss=out.loss.item())
            if step % ckpt_every == 0 or step == steps:
                save_checkpoint(ckpt_path, step, model=model, opt=opt, sched=sched)
                periodic.maybe(step)

    export()
    model.eval()
    return model, processor


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_world_arguments(p)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    train(**vars(p.parse_args(argv)))  # each option's name is train()'s keyword


if __name__ == "__main__":
    main()
