"""Train a world's text-to-image model (a tiny Stable Diffusion).

    python -m playground.train.vae            # first: the autoencoder
    python -m playground.train.text2image --steps 6000
    python -m playground.train.text2image --export-only --out-dir assets/models/shapes-sd

    python -m playground.train.vae --world pictures
    python -m playground.train.text2image --world pictures --export-every 3600   # -> assets/models/picture-sd
    python -m playground.train.text2image --world pictures --init-from assets/models/picture-sd  # go on elsewhere

The UNet2DConditionModel and a small CLIPTextModel are trained jointly,
end-to-end, with the usual epsilon-prediction diffusion loss on latents of the
fixed training set, which are encoded once by the trained VAE and cached
under ``.cache/train`` (re-encoding every batch was the bottleneck of an
earlier attempt).  Conditioning tricks:

* caption dropout: ~10% of captions become "" so classifier-free guidance
  works (the pipeline's negative prompt is "" as well);
* junk words: ~15% of captions get 1-2 random non-grammar "words" (letters,
  digits, punctuation, emoji) inserted at random places, so prompts with
  unknown words still work: the model learns to ignore those tokens;
* Min-SNR-5 loss weighting and an EMA copy of the weights (exported);
* pictures only: v-prediction on a schedule rescaled to zero terminal SNR
  (``World.noise_schedule``; see worlds.py for why);
* pictures only: a quarter of the captions leave out the size, a quarter
  the position (an eighth both), so the model picks them when a prompt does;
* mismatched captions (``p_swap``, off by default): that share of the
  pictures is trained with the caption of another, random training picture,
  as web alt-text often misdescribes its image.  The model's prediction for
  a caption then hedges towards "any picture", and classifier-free guidance
  is what makes it commit: without guidance (1.0) about that share of the
  pictures shows something else than the prompt asks for.

The export is a standard diffusers folder that
``AutoPipelineForText2Image.from_pretrained`` loads as a
``StableDiffusionPipeline`` with a ``DPMSolverMultistepScheduler``.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
from pathlib import Path

import numpy as np
import torch

from playground.shapes.tokenizers import (
    CLIP_MAX_LENGTH,
    build_clip_tokenizer,
    write_clip_vocab_files,
)
from playground.train.common import (
    Logger,
    PeriodicExport,
    batch_indices,
    images_to_tensor,
    load_checkpoint,
    save_checkpoint,
    setup_torch,
    step_generator,
)
from playground.train.vae import vae_folder
from playground.train.worlds import World, add_world_arguments, get_world, run_settings

# Defaults the model card documents and the UI uses.
DEFAULT_STEPS = 20
DEFAULT_GUIDANCE = 7.5

_JUNK_CHARS = list("abcdefghijklmnopqrstuvwxyz0123456789!?.,'-") + ["🐶", "✨", "é", "ß", "🙂"]


def make_text_encoder(vocab_size: int, bos: int, eos: int, width: int = 64):
    """A tiny CLIPTextModel (2 layers; shapes width 64, pictures 128)."""
    from transformers import CLIPTextConfig, CLIPTextModel

    config = CLIPTextConfig(
        vocab_size=vocab_size,
        hidden_size=width,
        intermediate_size=4 * width,
        projection_dim=width,
        num_hidden_layers=2,
        num_attention_heads=width // 32,
        max_position_embeddings=CLIP_MAX_LENGTH,
        bos_token_id=bos,
        eos_token_id=eos,
        pad_token_id=eos,
    )
    return CLIPTextModel(config)


def make_unet(world: str | World = "shapes"):
    """A small UNet2DConditionModel on the world's 16x16 latents (shapes 4 channels, pictures 8)."""
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        layers_per_block=1,
        attention_head_dim=4,  # diffusers uses this as the number of heads
        norm_num_groups=8,
        **get_world(world).unet,
    )


def make_noise_scheduler(world: str | World = "shapes"):
    """The training-time noise schedule: Stable Diffusion's betas, with the world's ``noise_schedule`` settings."""
    from diffusers import DDPMScheduler

    settings = {"prediction_type": "epsilon", **get_world(world).noise_schedule}
    return DDPMScheduler(
        num_train_timesteps=1000,
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        steps_offset=1,  # SD convention; avoids a diffusers deprecation warning
        **settings,
    )


def make_sampling_scheduler(world: str | World = "shapes"):
    """Few-step sampler shipped with the pipeline (the training schedule's betas and prediction type)."""
    from diffusers import DPMSolverMultistepScheduler

    return DPMSolverMultistepScheduler.from_config(make_noise_scheduler(world).config)


def loss_weights(noise_sched, t: torch.Tensor) -> torch.Tensor:
    """Min-SNR-5 weights for the schedule's prediction type.

    Epsilon: min(snr, 5) / snr. v-prediction: min(snr + 1, 5) / (snr + 1), which keeps the weight of the noisiest
    steps (where the layout is decided; snr is 0 at the last step of a zero-terminal-SNR schedule) at 1.
    """
    alphas = noise_sched.alphas_cumprod[t]
    snr = alphas / (1 - alphas)
    if noise_sched.config.prediction_type == "v_prediction":
        return torch.clamp(snr + 1, max=5.0) / (snr + 1)
    return torch.clamp(snr, max=5.0) / snr


def _junk_word(rng: np.random.Generator) -> str:
    n = int(rng.integers(2, 8))
    return "".join(_JUNK_CHARS[i] for i in rng.integers(0, len(_JUNK_CHARS), n))


def augment_caption(text: str, rng: np.random.Generator, p_drop: float, p_junk: float) -> str:
    """Caption dropout and junk-word insertion (see module docstring)."""
    u = rng.random()
    if u < p_drop:
        return ""
    if u < p_drop + p_junk:
        words = text.split()
        for _ in range(int(rng.integers(1, 3))):
            words.insert(int(rng.integers(0, len(words) + 1)), _junk_word(rng))
        return " ".join(words)
    return text


def training_captions(
    world: World, items: list, idx: list[int], rng: np.random.Generator, p_drop: float, p_junk: float, p_swap: float
) -> list[str]:
    """The captions of one batch: the world's training caption of each picture, augmented; with ``p_swap``, a
    picture is described by the caption of another, random one of ``items`` (see the module docstring)."""
    described = [int(rng.integers(len(items))) if p_swap and rng.random() < p_swap else i for i in idx]
    return [augment_caption(world.train_caption(items[i], rng), rng, p_drop, p_junk) for i in described]


def encode_prompts(tokenizer, texts: list[str]) -> torch.Tensor:
    """Token ids exactly as StableDiffusionPipeline builds them."""
    return tokenizer(
        texts,
        padding="max_length",
        max_length=tokenizer.model_max_length,
        truncation=True,
        return_tensors="pt",
    ).input_ids


def coordinate_ramps(n: int, height: int, width: int) -> torch.Tensor:
    """``n`` copies of a left-to-right and a top-to-bottom ramp, each of unit variance (the latents' scale)."""
    x = torch.linspace(-1, 1, width).view(1, 1, 1, width).expand(n, 1, height, width)
    y = torch.linspace(-1, 1, height).view(1, 1, height, 1).expand(n, 1, height, width)
    return torch.cat([x, y], dim=1) * 3**0.5


def with_coordinate_channels(vae, extra: int):
    """The VAE with ``extra`` more latent channels that its encoder leaves at 0 and its decoder ignores (zero
    weights), so a pipeline's latents can carry coordinate ramps beside the picture's own channels."""
    from diffusers import AutoencoderKL

    if extra == 0:
        return vae
    base = vae.config.latent_channels
    wide = AutoencoderKL.from_config({**vae.config, "latent_channels": base + extra})
    state = wide.state_dict()
    for name, old in vae.state_dict().items():
        new = torch.zeros_like(state[name])
        if name.startswith(("encoder.conv_out", "quant_conv")):  # outputs: means, then log-variances
            for half in range(2):
                rows = slice(half * base, (half + 1) * base)
                wide_rows = slice(half * (base + extra), half * (base + extra) + base)
                if name.startswith("quant_conv") and old.dim() == 4:
                    for col_half in range(2):
                        cols = slice(col_half * base, (col_half + 1) * base)
                        wide_cols = slice(col_half * (base + extra), col_half * (base + extra) + base)
                        new[wide_rows, wide_cols] = old[rows, cols]
                else:
                    new[wide_rows] = old[rows]
        elif name.startswith("post_quant_conv"):
            new[tuple(slice(0, d) for d in old.shape)] = old
        elif name.startswith("decoder.conv_in.weight"):
            new[:, :base] = old
        else:
            new = old
        state[name] = new
    wide.load_state_dict(state)
    return wide


def cached_latents(
    vae_dir: Path, dataset_size: int, cache_dir: Path, world: str | World = "shapes", duos: bool = False
) -> tuple[torch.Tensor, list]:
    """Scaled VAE latents (posterior means) + items of the training set, encoded once and cached keyed by the VAE
    weights and dataset size; with the world's coordinate ramps appended as the last channels. ``duos``: the
    world's two-object training pictures instead (their own seed and cache file)."""
    from diffusers import AutoencoderKL

    world = get_world(world)
    picture_channels = world.unet["in_channels"] - world.coordinate_channels
    weights = next(vae_dir.glob("*.safetensors"))
    key = hashlib.sha1(weights.read_bytes()).hexdigest()[:12]
    path = cache_dir / f"latents-{key}-{dataset_size}{'-duos' if duos else ''}.pt"
    if duos:
        items, images = world.make_dataset(dataset_size, world.train_seed + 1, "train", duos=True)
    else:
        items, images = world.make_dataset(dataset_size, world.train_seed, "train")
    if path.exists():
        latents = torch.load(path)
    else:
        vae = AutoencoderKL.from_pretrained(vae_dir).eval()
        out = []
        with torch.no_grad():
            for i in range(0, len(images), 64):
                out.append(vae.encode(images_to_tensor(images[i : i + 64])).latent_dist.mean)
        latents = torch.cat(out)[:, :picture_channels] * vae.config.scaling_factor  # a widened VAE's zeros go
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(latents, path)
        print(f"encoded {len(latents)} latents -> {path} (std {latents.std():.3f})", flush=True)
    if world.coordinate_channels:
        n, _, height, width = latents.shape
        latents = torch.cat([latents[:, :picture_channels], coordinate_ramps(n, height, width)], dim=1)
    return latents, items


class EMA:
    """Exponential moving average of a module's parameters."""

    def __init__(self, module: torch.nn.Module, decay: float):
        self.decay = decay
        self.shadow = copy.deepcopy(module).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, module: torch.nn.Module, step: int) -> None:
        # Warm-up: short runs (and tests) should not be stuck at the init.
        d = min(self.decay, (1 + step) / (10 + step))
        for s, p in zip(self.shadow.parameters(), module.parameters()):
            s.lerp_(p, 1 - d)

    def state_dict(self):
        return self.shadow.state_dict()

    def load_state_dict(self, state):
        self.shadow.load_state_dict(state)


def build_pipeline(vae_dir: Path, unet, text_encoder, tokenizer, world: str | World = "shapes"):
    """Assemble a StableDiffusionPipeline from trained parts."""
    from diffusers import AutoencoderKL, StableDiffusionPipeline

    world = get_world(world)
    vae = AutoencoderKL.from_pretrained(vae_dir)
    extra = world.unet["in_channels"] - vae.config.latent_channels  # the coordinate channels, if not there yet
    return StableDiffusionPipeline(
        vae=with_coordinate_channels(vae, extra),
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=make_sampling_scheduler(world),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


def load_exported_weights(folder: Path, unet, text_encoder) -> None:
    """Copy the UNet and text encoder weights of an exported pipeline folder into fresh modules."""
    from safetensors.torch import load_file

    unet.load_state_dict(load_file(folder / "unet" / "diffusion_pytorch_model.safetensors"))
    text_encoder.load_state_dict(load_file(folder / "text_encoder" / "model.safetensors"))


TRAINING_STATE = "training_state.json"


def write_training_state(folder: Path, **state) -> None:
    """Record where in its schedule an export was taken, so ``--init-from`` can go on from there."""
    (Path(folder) / TRAINING_STATE).write_text(json.dumps(state, indent=2) + "\n")


def read_training_state(folder: Path) -> dict:
    path = Path(folder) / TRAINING_STATE
    return json.loads(path.read_text()) if path.exists() else {}


def save_pipeline(pipe, folder: Path, words: tuple[str, ...] | None = None) -> None:
    """``save_pretrained`` (safetensors) plus the classic tokenizer files."""
    pipe.save_pretrained(folder, safe_serialization=True)
    write_clip_vocab_files(folder / "tokenizer", *([words] if words else []))


def train(
    out_dir: str | Path | None = None,
    steps: int | None = None,
    batch_size: int | None = None,
    dataset_size: int | None = None,
    lr: float = 5e-4,
    seed: int = 0,
    vae_dir: str | Path | None = None,
    ckpt_dir: str | Path | None = None,
    ckpt_every: int = 250,
    log_every: int = 50,
    ema_decay: float = 0.999,
    p_drop: float = 0.1,
    p_junk: float = 0.15,
    p_swap: float = 0.0,
    high_noise_share: float = 0.0,
    export_only: bool = False,
    init_from: str | Path | None = None,
    stop_after: int | None = None,
    world: str | World = "shapes",
    export_every: float | None = None,
    duo_share: float = 0.0,
):
    """Train (resuming from ``ckpt_dir``) and save the pipeline to ``out_dir``.

    With ``export_only`` no step is taken: the pipeline is written from the
    latest checkpoint (EMA weights), so a model can be exported mid-run.
    ``init_from`` starts a new run (no checkpoint yet) from the UNet and text
    encoder of an exported pipeline folder, e.g. the bundled model, when the
    checkpoints of the run that made it are gone.  ``stop_after`` ends the run
    at that step of the ``steps``-long schedule (the learning rate still
    follows the full schedule), which is how the bundled model was cut.
    Without ``vae_dir`` the VAE is ``init_from``'s, else the world's trained
    one.  ``export_every`` (seconds) also exports during the run.  ``duo_share`` adds that share of the
    dataset size again as two-object pictures ("a cat and a dog on the grass"; the picture world only).
    """
    world, out_dir, ckpt_dir, steps, batch_size, dataset_size = run_settings(
        "text2image", world, out_dir, ckpt_dir, steps, batch_size, dataset_size
    )
    if duo_share and world.name != "pictures":
        raise ValueError(f"--duo-share needs the pictures world, not {world.name!r}")
    setup_torch(seed)
    if vae_dir is None:
        vae_dir = vae_folder(init_from) if init_from is not None else world.out_dirs["vae"] / "vae"
    vae_dir = Path(vae_dir)
    ckpt_path = ckpt_dir / "ckpt.pt"

    tokenizer = build_clip_tokenizer(world.words)
    text_encoder = make_text_encoder(len(tokenizer), tokenizer.bos_token_id, tokenizer.eos_token_id, world.text_width)
    unet = make_unet(world)
    params = list(unet.parameters()) + list(text_encoder.parameters())
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    # The learning rate follows one cosine schedule over the absolute step, so a run that goes on from an
    # export (``init_from``) takes it up at the step the export's training state records; every start
    # warms the learning rate up again over ``warmup`` steps (a fresh optimizer needs it).
    initial = 0
    if init_from is not None and not ckpt_path.exists():
        load_exported_weights(Path(init_from), unet, text_encoder)
        initial = min(int(read_training_state(Path(init_from)).get("step", 0)), steps)
        print(f"initialised from {init_from} (its training state: step {initial})", flush=True)
    ema_unet, ema_text = EMA(unet, ema_decay), EMA(text_encoder, ema_decay)
    start = (
        load_checkpoint(ckpt_path, unet=unet, text_encoder=text_encoder, opt=opt, ema_unet=ema_unet, ema_text=ema_text)
        or initial
    )
    warmup = 200

    def lr_at(step: int) -> float:
        progress = min(step / max(steps, 1), 1.0)
        return lr * min(1.0, (step - start) / warmup) * (0.1 + 0.9 * 0.5 * (1 + np.cos(np.pi * progress)))

    done = {"step": start}
    n_unet = sum(p.numel() for p in unet.parameters()) / 1e6
    n_text = sum(p.numel() for p in text_encoder.parameters()) / 1e6
    print(f"text2image: unet {n_unet:.2f}M, text encoder {n_text:.2f}M params, start step {start}/{steps}", flush=True)

    def export():
        pipe = build_pipeline(vae_dir, ema_unet.shadow, ema_text.shadow, tokenizer, world)
        save_pipeline(pipe, out_dir, world.words)
        write_training_state(
            out_dir,
            step=done["step"],
            steps=steps,
            batch_size=batch_size,
            lr=lr,
            seed=seed,
            prediction_type=pipe.scheduler.config.prediction_type,
        )
        print(f"pipeline saved to {out_dir} (step {done['step']})", flush=True)
        return pipe

    if not export_only:
        latents, items = cached_latents(vae_dir, dataset_size, ckpt_dir, world)
        if duo_share:
            more, duos = cached_latents(vae_dir, max(1, round(dataset_size * duo_share)), ckpt_dir, world, duos=True)
            latents, items = torch.cat([latents, more]), items + duos
        noise_sched = make_noise_scheduler(world)
        v_prediction = noise_sched.config.prediction_type == "v_prediction"
        logger = Logger(log_every, steps)
        periodic = PeriodicExport(export_every, export)
        unet.train()
        text_encoder.train()
        last = min(steps, stop_after or steps)
        for step in range(start + 1, last + 1):
            idx = batch_indices(len(latents), batch_size, seed, step)
            g = step_generator(seed, step)
            rng = np.random.default_rng(seed * 1_000_003 + step)
            texts = training_captions(world, items, idx.tolist(), rng, p_drop, p_junk, p_swap)
            ids = encode_prompts(tokenizer, texts)
            x0 = latents[idx]
            noise = torch.randn(x0.shape, generator=g)
            t = torch.randint(0, noise_sched.config.num_train_timesteps, (batch_size,), generator=g)
            if high_noise_share:  # that share of the batch at the noisiest fifth, where the layout is decided
                high = torch.rand(batch_size, generator=g) < high_noise_share
                t = torch.where(high, t % 200 + noise_sched.config.num_train_timesteps - 200, t)
            xt = noise_sched.add_noise(x0, noise, t)
            cond = text_encoder(ids)[0]
            pred = unet(xt, t, encoder_hidden_states=cond).sample
            target = noise_sched.get_velocity(x0, noise, t) if v_prediction else noise
            loss = (loss_weights(noise_sched, t) * ((pred - target) ** 2).mean(dim=(1, 2, 3))).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            for group in opt.param_groups:
                group["lr"] = lr_at(step)
            opt.step()
            done["step"] = step
            ema_unet.update(unet, step)
            ema_text.update(text_encoder, step)
            logger.log(step, loss=loss.item(), lr=lr_at(step))
            if step % ckpt_every == 0 or step == last:
                save_checkpoint(
                    ckpt_path,
                    step,
                    unet=unet,
                    text_encoder=text_encoder,
                    opt=opt,
                    ema_unet=ema_unet,
                    ema_text=ema_text,
                )
                periodic.maybe(step)

    return export()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_world_arguments(p)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--vae-dir", default=None, help="default: --init-from's vae, else the world's trained VAE")
    p.add_argument("--stop-after", type=int, default=None, help="end at this step of the --steps schedule")
    p.add_argument("--p-drop", type=float, default=0.1, help="share of captions dropped (classifier-free guidance)")
    p.add_argument("--p-swap", type=float, default=0.0, help="share of pictures trained with another picture's caption")
    p.add_argument(
        "--duo-share",
        type=float,
        default=0.0,
        help="add this share of --dataset-size as two-object pictures (the pictures world)",
    )
    p.add_argument(
        "--high-noise-share",
        type=float,
        default=0.0,
        help="share of each batch drawn from the noisiest 200 timesteps (where the layout is decided)",
    )
    train(**vars(p.parse_args(argv)))  # each option's name is train()'s keyword


if __name__ == "__main__":
    main()
