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

``--generated-from SD_DIR`` (pictures only) also trains on what that
text-to-image folder draws: it draws ``--generated-count`` pictures for fresh
training-split captions (never a held-out pair), keeps those whose pixels the
reader (``playground.eval.picture_reader``) reads back as the prompt named
all four attributes, caches them under ``.cache/train/pictures``, and makes
``--generated-share`` of every batch from them.  A captioner trained on
renders alone misnamed a third of the coordinate-channel model's objects
(round trip 60%): its pictures are softer and their colours drift.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import numpy as np
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


def augment(pixels: torch.Tensor, g: torch.Generator, blur: float = 0.0, shift: int = 0) -> torch.Tensor:
    """Noise + per-image colour shift in normalised pixel space; a share
    ``blur`` of the images is first halved and scaled back up (a soft copy,
    as a decoded latent is); with ``shift``, each image is first moved up by
    up to ``shift`` pixels (down by up to a sixth of that) and sideways by up
    to a third of it, its edges repeated into the gap."""
    b = pixels.shape[0]
    if shift:
        dy = torch.randint(-shift, shift // 6 + 1, (b,), generator=g).tolist()
        dx = torch.randint(-(shift // 3), shift // 3 + 1, (b,), generator=g).tolist()
        h, w = pixels.shape[-2:]
        padded = torch.nn.functional.pad(pixels, (shift, shift, shift, shift), mode="replicate")
        pixels = torch.stack(
            [padded[i, :, shift - y : shift - y + h, shift - x : shift - x + w] for i, (y, x) in enumerate(zip(dy, dx))]
        )
    noise = torch.randn(pixels.shape, generator=g) * 0.1 * torch.rand(b, 1, 1, 1, generator=g)
    shift_colour = (torch.rand(b, 3, 1, 1, generator=g) - 0.5) * 0.15
    if blur:
        soft = torch.nn.functional.interpolate(
            torch.nn.functional.avg_pool2d(pixels, 2), scale_factor=2, mode="bilinear"
        )
        pick = (torch.rand(b, 1, 1, 1, generator=g) < blur).float()
        pixels = pick * soft + (1 - pick) * pixels
    return pixels + noise + shift_colour


def generated_pictures(world: World, sd_dir: str | Path, count: int, seed: int) -> tuple[list, np.ndarray]:
    """Captions and uint8 pictures that ``sd_dir`` drew for ``count`` fresh training-split pictures, kept where the
    pixel reader agrees with all four attributes of the prompt (cached by the folder's weights and the count)."""
    if world.name != "pictures":
        raise ValueError(f"--generated-from needs the pictures world (its pixel reader), not {world.name!r}.")
    from playground.eval.common import DEFAULT_GUIDANCE, DEFAULT_STEPS, generate
    from playground.eval.picture_reader import read_image
    from playground.eval.pictures import KEYS
    from playground.world import make_dataset

    sd_dir = Path(sd_dir)
    weights = sorted((sd_dir / "unet").glob("*.safetensors")) + sorted((sd_dir / "text_encoder").glob("*.safetensors"))
    if not weights:
        raise ValueError(f"{sd_dir} is not a text-to-image folder: it has no unet/ or text_encoder/ weights.")
    digest = hashlib.sha256(b"".join(w.read_bytes() for w in weights) + f"{count}:{seed}".encode()).hexdigest()[:16]
    cache = world.cache / f"captioner-generated-{digest}.npz"
    items, _ = make_dataset(count, seed + 1_000, "train")  # fresh pictures of the training split's pairs
    if cache.exists():
        data = np.load(cache)
        keep = data["keep"]
        return [it for it, k in zip(items, keep) if k], data["images"]
    from diffusers import AutoPipelineForText2Image

    pipe = AutoPipelineForText2Image.from_pretrained(sd_dir, dtype=torch.float32)
    pipe.set_progress_bar_config(disable=True)
    keep, images = [], []
    for start in range(0, count, 160):  # picture i is drawn with seed + i, at the app's default steps and guidance
        chunk = items[start : start + 160]
        drawn = generate(pipe, [world.caption(it) for it in chunk], DEFAULT_GUIDANCE, DEFAULT_STEPS, seed + start)
        for it, im in zip(chunk, drawn):
            read = read_image(im)
            keep.append(all(read[k] == getattr(it, k) for k in KEYS))
            if keep[-1]:
                images.append(np.asarray(im.convert("RGB"), np.uint8))
        print(f"generated {start + len(chunk)}/{count}, kept {len(images)}", flush=True)
    images = np.stack(images) if images else np.zeros((0, world.image_size, world.image_size, 3), np.uint8)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, keep=np.array(keep), images=images)
    return [it for it, k in zip(items, keep) if k], images


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
    generated_from: str | Path | None = None,
    generated_count: int = 1_500,
    generated_share: float = 0.5,
    free_share: float = 0.0,
):
    """Train (resuming from ``ckpt_dir``) and save model + processor to
    ``out_dir``.  ``export_only`` writes the latest checkpoint without training;
    ``init_from`` starts a new run from an exported folder's weights;
    ``export_every`` (seconds) also writes the folder during the run; ``generated_from`` mixes in pictures a
    text-to-image folder drew (see the module docstring)."""
    if not 0 <= generated_share < 1:
        raise ValueError(f"--generated-share must be at least 0 and below 1, got {generated_share}.")
    if not 0 <= free_share < 1 - (generated_share if generated_from is not None else 0):
        raise ValueError(f"--free-share must be at least 0 and leave room for renders in each batch, got {free_share}.")
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
        n_drawn = 0
        if generated_from is not None:
            drawn_items, drawn = generated_pictures(world, generated_from, generated_count, seed)
            n_drawn = len(drawn_items)
            print(f"{n_drawn} of {generated_count} drawn pictures kept for training", flush=True)
            if n_drawn:
                items, images = list(items) + drawn_items, np.concatenate([images, drawn])
        texts = [world.caption(a) for a in items]
        n_free = 0
        if free_share:  # the sprites over random colour bands, captioned without a scene
            from playground.train.vae import free_picture_items
            from playground.world import caption

            free_items, free = free_picture_items(dataset_size, seed + 2)
            n_free = len(free_items)
            texts += [caption(a, scene=False) for a in free_items]
            images = np.concatenate([images, free])
        n_renders = len(texts) - n_drawn - n_free
        k_drawn = round(batch_size * generated_share) if n_drawn else 0
        k_free = round(batch_size * free_share)
        pixels = processor.image_processor(images=list(images), return_tensors="pt").pixel_values
        enc = tok(
            texts,
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
            idx = batch_indices(n_renders, batch_size - k_drawn - k_free, seed, step)
            if k_drawn:
                idx = torch.cat([idx, n_renders + batch_indices(n_drawn, k_drawn, seed + 1, step)])
            if k_free:
                idx = torch.cat([idx, n_renders + n_drawn + batch_indices(n_free, k_free, seed + 2, step)])
            x = augment(pixels[idx], step_generator(seed, step), world.blur, world.shift)
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
    p.add_argument("--generated-from", default=None, help="also train on pictures this text-to-image folder draws")
    p.add_argument("--generated-count", type=int, default=1_500, help="pictures to draw (before the reader's check)")
    p.add_argument("--generated-share", type=float, default=0.5, help="share of every batch from the drawn pictures")
    p.add_argument(
        "--free-share", type=float, default=0.0, help="share of every batch from free pictures (no scene named)"
    )
    train(**vars(p.parse_args(argv)))  # each option's name is train()'s keyword


if __name__ == "__main__":
    main()
