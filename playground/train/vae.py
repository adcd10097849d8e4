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
"""

from __future__ import annotations

import argparse
from pathlib import Path

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
):
    """Train (resuming from ``ckpt_dir`` if a checkpoint is there) and save
    the VAE to ``<out_dir>/vae``.  Returns the trained model."""
    world, out_dir, ckpt_dir, steps, batch_size, dataset_size = run_settings(
        "vae", world, out_dir, ckpt_dir, steps, batch_size, dataset_size
    )
    common.setup_torch(seed)
    ckpt_path = ckpt_dir / "ckpt.pt"
    # uint8 images, converted per batch: 128x128 floats for the whole set would be gigabytes.
    _, images = world.make_dataset(dataset_size, world.train_seed, "train")

    vae = make_vae(world)
    if init_from is not None and not ckpt_path.exists():
        from diffusers import AutoencoderKL

        vae.load_state_dict(AutoencoderKL.from_pretrained(vae_folder(init_from)).state_dict())
        print(f"initialised from {init_from}", flush=True)
    opt = torch.optim.AdamW(vae.parameters(), lr=lr, weight_decay=0.0)
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
        x = common.images_to_tensor(images[common.batch_indices(len(images), batch_size, seed, step).numpy()])
        post = vae.encode(x).latent_dist
        # Reparameterised sample with a step-seeded generator (reproducible).
        z = post.sample(generator=common.step_generator(seed, step))
        recon = vae.decode(z).sample
        mse = torch.nn.functional.mse_loss(recon, x)
        kl = post.kl().mean() / z[0].numel()  # per latent element
        loss = mse + kl_weight * kl
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        opt.step()
        sched.step()
        logger.log(step, mse=mse.item(), kl=kl.item())
        if step % ckpt_every == 0 or step == steps:
            common.save_checkpoint(ckpt_path, step, model=vae, opt=opt, sched=sched)

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
    train(**vars(p.parse_args(argv)))  # each option's name is train()'s keyword


if __name__ == "__main__":
    main()
