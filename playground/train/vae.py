"""Train a world's AutoencoderKL: images <-> latents.

    python -m playground.train.vae --steps 1500                      # shapes: 64x64 <-> 16x16x4
    python -m playground.train.vae --world pictures --steps 4000     # pictures: 128x128 <-> 16x16x8

Small (one resnet per block, no mid-block attention) because the worlds are
flat colours plus, for pictures, an emoji.  Loss is pixel MSE plus a small KL
term so the latent stays close to a unit Gaussian for diffusion.  After
training, ``scaling_factor`` is set to 1/std of the training latents (the
Stable Diffusion convention) and the model is saved with ``save_pretrained``
into ``<out_dir>/vae``.  ``--init-from`` starts from an exported folder (a
pipeline folder with ``vae/``, or a ``vae`` folder itself).

Pictures only, two options for a codec that also holds for pictures the
world's training split never shows (the held-out pairs put a known object on
a scene it was never seen on; a decoder trained on the split alone drew a tree
at night as an orange blob, its night pictures never holding anything green):

* ``--free-share S``: that share of every batch is free pictures
  (``free_pictures``): any object, size and position over one to three
  horizontal bands of random colours, some with stars.  They are no scene of
  the world, and name nothing: the VAE is trained on pixels only.
* ``--decoder-only``: the encoder stays as it is, so its latents, and a
  text-to-image model trained on them, stay valid; only the decoder learns
  (``--init-from`` a pipeline folder: its widened VAE, whose coordinate
  channels the decoder goes on ignoring, and its ``scaling_factor``, are kept).

    python -m playground.train.vae --world pictures --init-from assets/models/picture-sd \
        --decoder-only --free-share 0.5 --steps 1500 --lr 3e-4 --out-dir /tmp/vae   # -> /tmp/vae/vae

(Tried on 2026-12-06: 500 decoder-only steps of that made every reconstruction worse, so the shipped VAE is
still the one trained on the split; retraining the whole VAE with ``--free-share`` is what is left.)
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from playground.train import common
from playground.train.worlds import World, add_world_arguments, get_world, run_settings


def make_vae(world: str | World = "shapes"):
    """A fresh, small AutoencoderKL for ``world`` (shapes: 64x64 -> 16x16x4)."""
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        layers_per_block=1,
        norm_num_groups=8,
        mid_block_add_attention=False,
        **get_world(world).vae,
    )


@torch.no_grad()
def latent_std(vae, images, batch_size: int = 64) -> float:
    """Std of posterior means over ``images`` (uint8 NHWC, for ``scaling_factor``)."""
    vae.eval()
    latents = [
        vae.encode(common.images_to_tensor(images[i : i + batch_size])).latent_dist.mean
        for i in range(0, len(images), batch_size)
    ]
    return float(torch.cat(latents).std())


def free_pictures(count: int, seed: int) -> np.ndarray:
    """``count`` uint8 128x128 pictures of the world's sprites (any object, size, position, on row 100) over one to
    three horizontal bands of uniformly random colours, half of them with up to 30 white stars."""
    return free_picture_items(count, seed)[1]


def free_picture_items(count: int, seed: int) -> tuple[list, np.ndarray]:
    """``free_pictures`` with what each shows: a ``world.Picture`` whose ``scene`` is "" (no scene of the world)."""
    from playground import world

    rng = np.random.default_rng(seed)
    out = np.zeros((count, world.IMAGE_SIZE, world.IMAGE_SIZE, 3), np.uint8)
    items = []
    for i in range(count):
        edges = np.sort(rng.integers(1, world.IMAGE_SIZE, int(rng.integers(0, 3))))
        for first, last in zip([0, *edges.tolist()], [*edges.tolist(), world.IMAGE_SIZE]):
            out[i, first:last] = rng.integers(0, 256, 3)
        if rng.random() < 0.5:
            n = int(rng.integers(1, 31))
            out[i, rng.integers(0, world.IMAGE_SIZE, n), rng.integers(0, world.IMAGE_SIZE, n)] = 255
        name = world.OBJECT_NAMES[int(rng.integers(len(world.OBJECT_NAMES)))]
        size = list(world.SIZES)[int(rng.integers(len(world.SIZES)))]
        position = list(world.POSITIONS)[int(rng.integers(len(world.POSITIONS)))]
        out[i] = np.asarray(world.place(out[i], name, size, position))
        items.append(world.Picture(name, "", size, position))
    return items, out


def vae_folder(folder: str | Path) -> Path:
    """The ``vae`` folder of an exported pipeline folder (or the folder itself)."""
    folder = Path(folder)
    return folder / "vae" if (folder / "vae").is_dir() else folder


def train(
    out_dir: str | Path | None = None,
    steps: int | None = None,
    batch_size: int | None = None,
    dataset_size: int | None = None,
    lr: float = 1e-3,
    kl_weight: float = 1e-4,
    seed: int = 0,
    ckpt_dir: str | Path | None = None,
    ckpt_every: int = 250,
    log_every: int = 50,
    world: str | World = "shapes",
    init_from: str | Path | None = None,
    free_share: float = 0.0,
    decoder_only: bool = False,
):
    """Train (resuming from ``ckpt_dir`` if a checkpoint is there) and save
    the VAE to ``<out_dir>/vae``.  Returns the trained model.  ``free_share`` and
    ``decoder_only``: see the module docstring."""
    world, out_dir, ckpt_dir, steps, batch_size, dataset_size = run_settings(
        "vae", world, out_dir, ckpt_dir, steps, batch_size, dataset_size
    )
    if not 0 <= free_share < 1:
        raise ValueError(f"--free-share must be at least 0 and below 1, got {free_share}.")
    if free_share and world.name != "pictures":
        raise ValueError(f"--free-share needs the pictures world (its sprites), not {world.name!r}.")
    if decoder_only and init_from is None:
        raise ValueError("--decoder-only needs --init-from: the encoder it keeps comes from there.")
    common.setup_torch(seed)
    ckpt_path = ckpt_dir / "ckpt.pt"
    # uint8 images, converted per batch: 128x128 floats for the whole set would be gigabytes.
    _, images = world.make_dataset(dataset_size, world.train_seed, "train")
    free = free_pictures(dataset_size, seed + 1) if free_share else None
    k_free = round(batch_size * free_share)

    if init_from is not None:
        from diffusers import AutoencoderKL

        vae = AutoencoderKL.from_pretrained(vae_folder(init_from))  # its config: a widened VAE stays widened
        if ckpt_path.exists():
            print(f"going on from {ckpt_path} (the model as in {init_from})", flush=True)
        else:
            print(f"initialised from {init_from}", flush=True)
    else:
        vae = make_vae(world)
    picture_channels = world.vae["latent_channels"]  # beyond them: coordinate channels the decoder ignores
    if decoder_only:
        vae.encoder.requires_grad_(False)
        vae.quant_conv.requires_grad_(False)
    trained = [p for p in vae.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(trained, lr=lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / 100) * (0.1 + 0.9 * (1 - s / max(steps, 1)))
    )
    start = common.load_checkpoint(ckpt_path, model=vae, opt=opt, sched=sched)
    print(
        f"vae ({world.name}): {sum(p.numel() for p in vae.parameters()) / 1e6:.2f}M params, start step {start}/{steps}",
        flush=True,
    )
    logger = common.Logger(log_every, steps)
    vae.train()
    for step in range(start + 1, steps + 1):
        batch = images[common.batch_indices(len(images), batch_size - k_free, seed, step).numpy()]
        if k_free:
            batch = np.concatenate([batch, free[common.batch_indices(len(free), k_free, seed + 1, step).numpy()]])
        x = common.images_to_tensor(batch)
        post = vae.encode(x).latent_dist
        # Reparameterised sample with a step-seeded generator (reproducible).
        z = post.sample(generator=common.step_generator(seed, step))
        if z.shape[1] > picture_channels:  # a widened VAE: its decoder's weights for the ramps get no gradient
            z = torch.cat([z[:, :picture_channels], torch.zeros_like(z[:, picture_channels:])], dim=1)
        recon = vae.decode(z).sample
        mse = torch.nn.functional.mse_loss(recon, x)
        kl = post.kl().mean() / z[0].numel()  # per latent element
        loss = mse if decoder_only else mse + kl_weight * kl
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trained, 1.0)
        opt.step()
        sched.step()
        logger.log(step, mse=mse.item(), kl=kl.item())
        if step % ckpt_every == 0 or step == steps:
            common.save_checkpoint(ckpt_path, step, model=vae, opt=opt, sched=sched)

    if decoder_only:  # the same encoder: the same latents and scaling_factor
        std = 1.0 / vae.config.scaling_factor
    else:
        std = latent_std(vae, images[:2048])
        vae.register_to_config(scaling_factor=1.0 / std)
    vae.save_pretrained(out_dir / "vae", safe_serialization=True)
    print(f"vae saved to {out_dir / 'vae'} (latent std {std:.4f})", flush=True)
    return vae


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_world_arguments(p, export=False)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--kl-weight", type=float, default=1e-4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--free-share", type=float, default=0.0, help="share of every batch from free_pictures()")
    p.add_argument("--decoder-only", action="store_true", help="keep --init-from's encoder; train the decoder")
    train(**vars(p.parse_args(argv)))  # each option's name is train()'s keyword


if __name__ == "__main__":
    main()
