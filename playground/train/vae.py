"""Train the shapes-world AutoencoderKL: 64x64 RGB <-> 16x16x4 latents.

    python -m playground.train.vae --steps 1500

Small (block_out_channels (16, 32, 64), one resnet per block, no mid-block
attention) because the images are two flat colours.  Loss is pixel MSE plus
a small KL term so the latent stays close to a unit Gaussian for diffusion.
After training, ``scaling_factor`` is set to 1/std of the training latents
(the Stable Diffusion convention) and the model is saved with
``save_pretrained`` into ``<out_dir>/vae``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from playground.shapes.world import TRAIN_SEED, make_dataset
from playground.train.common import (
    CACHE_DIR, Logger, batch_indices, images_to_tensor, load_checkpoint,
    save_checkpoint, setup_torch, step_generator,
)


def make_vae():
    """A fresh, small AutoencoderKL (downsampling 4x: 64x64 -> 16x16x4)."""
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 3,
        up_block_types=("UpDecoderBlock2D",) * 3,
        block_out_channels=(16, 32, 64),
        layers_per_block=1,
        latent_channels=4,
        norm_num_groups=8,
        sample_size=64,
        mid_block_add_attention=False,
    )


@torch.no_grad()
def latent_std(vae, images: torch.Tensor, batch_size: int = 256) -> float:
    """Std of posterior means over ``images`` (for ``scaling_factor``)."""
    vae.eval()
    latents = [vae.encode(images[i:i + batch_size]).latent_dist.mean
               for i in range(0, len(images), batch_size)]
    return float(torch.cat(latents).std())


def train(
    out_dir: str | Path,
    steps: int = 1500,
    batch_size: int = 16,
    dataset_size: int = 20_000,
    lr: float = 1e-3,
    kl_weight: float = 1e-4,
    seed: int = 0,
    ckpt_dir: str | Path | None = None,
    ckpt_every: int = 250,
    log_every: int = 50,
):
    """Train (resuming from ``ckpt_dir`` if a checkpoint is there) and save
    the VAE to ``<out_dir>/vae``.  Returns the trained model."""
    setup_torch(seed)
    out_dir = Path(out_dir)
    ckpt_path = Path(ckpt_dir or CACHE_DIR / "vae") / "ckpt.pt"
    _, images = make_dataset(dataset_size, TRAIN_SEED, "train")
    data = images_to_tensor(images)

    vae = make_vae()
    opt = torch.optim.AdamW(vae.parameters(), lr=lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / 100) * (0.1 + 0.9 * (1 - s / max(steps, 1)))
    )
    start = load_checkpoint(ckpt_path, model=vae, opt=opt, sched=sched)
    print(f"vae: {sum(p.numel() for p in vae.parameters()) / 1e6:.2f}M params, "
          f"start step {start}/{steps}", flush=True)
    logger = Logger(log_every, steps)
    vae.train()
    for step in range(start + 1, steps + 1):
        x = data[batch_indices(len(data), batch_size, seed, step)]
        post = vae.encode(x).latent_dist
        # Reparameterised sample with a step-seeded generator (reproducible).
        z = post.sample(generator=step_generator(seed, step))
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
            save_checkpoint(ckpt_path, step, model=vae, opt=opt, sched=sched)

    std = latent_std(vae, data[:2048])
    vae.register_to_config(scaling_factor=1.0 / std)
    vae.save_pretrained(out_dir / "vae", safe_serialization=True)
    print(f"vae saved to {out_dir / 'vae'} (latent std {std:.4f})", flush=True)
    return vae


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out-dir", default=str(CACHE_DIR / "out"))
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--dataset-size", type=int, default=20_000)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--kl-weight", type=float, default=1e-4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--ckpt-dir", default=None)
    a = p.parse_args(argv)
    train(a.out_dir, a.steps, a.batch_size, a.dataset_size, a.lr, a.kl_weight,
          a.seed, a.ckpt_dir)


if __name__ == "__main__":
    main()
