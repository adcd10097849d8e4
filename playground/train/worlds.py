"""The synthetic worlds the bundled image models are trained on, and each one's model sizes.

A ``World`` is everything the training scripts need to know about a world:
its data, its caption grammar, the sizes of the models drawn for it and the
training defaults.  ``shapes`` keeps exactly the settings the shipped shapes
models were trained with; ``pictures`` is issue 18's 128x128 emoji world.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, NamedTuple

import numpy as np

from playground.train.common import CACHE_DIR, REPO_ROOT


@dataclass(frozen=True)
class World:
    """A world: data, captions, model sizes and training defaults."""

    name: str
    image_size: int
    words: tuple[str, ...]
    make_dataset: Callable[..., tuple[list, np.ndarray]]  # (n, seed, split) -> items, uint8 images
    caption: Callable[[Any], str]  # the full caption of an item
    # A caption for text-to-image training; the world may leave parts out.
    train_caption: Callable[[Any, np.random.Generator], str]
    train_seed: int
    vae: dict  # AutoencoderKL(**vae)
    unet: dict  # UNet2DConditionModel(**unet)
    text_width: int  # CLIPTextModel hidden size (= the UNet's cross_attention_dim)
    captioner: dict  # width, vision_layers, text_layers, patch_size
    cache: Path  # checkpoints and cached latents of this world's runs
    blur: float = 0.0  # share of captioner training images blurred like a decoded latent
    shift: int = 0  # captioner training images moved by up to this many pixels (a drawn object can sit off its row)
    # Extra settings of the diffusion noise schedule (both the training and the shipped sampling scheduler).
    noise_schedule: dict = field(default_factory=dict)
    # Latent channels that hold a fixed x and y ramp instead of picture content (the VAE's decoder ignores them).
    coordinate_channels: int = 0
    defaults: dict = field(default_factory=dict)  # script -> train() keyword defaults
    out_dirs: dict = field(default_factory=dict)  # script -> default output folder


def _shapes() -> World:
    from playground.shapes import world

    return World(
        name="shapes",
        image_size=world.IMAGE_SIZE,
        words=world.GRAMMAR_WORDS,
        make_dataset=world.make_dataset,
        caption=world.caption,
        train_caption=lambda item, rng: world.caption(item),
        train_seed=world.TRAIN_SEED,
        vae=dict(
            down_block_types=("DownEncoderBlock2D",) * 3,
            up_block_types=("UpDecoderBlock2D",) * 3,
            block_out_channels=(16, 32, 64),
            latent_channels=4,
            sample_size=64,
        ),
        unet=dict(
            sample_size=16, in_channels=4, out_channels=4, block_out_channels=(32, 64, 64), cross_attention_dim=64
        ),
        text_width=64,
        captioner=dict(width=96, vision_layers=2, text_layers=2, patch_size=8),
        cache=CACHE_DIR,
        defaults={
            "vae": dict(steps=1500, batch_size=16, dataset_size=20_000),
            "text2image": dict(steps=6000, batch_size=64, dataset_size=20_000),
            "captioner": dict(steps=2000, batch_size=64, dataset_size=20_000),
        },
        out_dirs={
            "vae": CACHE_DIR / "out",
            "text2image": CACHE_DIR / "out" / "shapes-sd",
            "captioner": CACHE_DIR / "out" / "shapes-captioner",
        },
    )


def _picture_train_caption(item, rng: np.random.Generator) -> str:
    """Full caption half the time; otherwise without the size, the position or both,
    so that prompts that leave them out work (the model then picks them).  Independently,
    an eighth of the captions leave out the scene: "a big tree" then means that tree in
    any scene, which ties each object's look to its word alone (the held-out pairs put
    known objects in scenes they were never trained in), and "a cat" gets a scene picked."""
    from playground.world import caption

    if item.second:  # a two-object picture: its sides are fixed and its sizes unsaid; the scene may go too
        return caption(item, scene=rng.random() >= 0.125)
    u = rng.random()
    return caption(item, size=u < 0.5 or 0.75 <= u < 0.875, position=u < 0.75, scene=rng.random() >= 0.125)


def _pictures() -> World:
    from playground import world

    return World(
        name="pictures",
        image_size=world.IMAGE_SIZE,
        words=world.GRAMMAR_WORDS,
        make_dataset=world.make_dataset,
        caption=world.caption,
        train_caption=_picture_train_caption,
        train_seed=world.TRAIN_SEED,
        # x8 downsampling: 128x128x3 <-> 16x16x8 latents.
        vae=dict(
            down_block_types=("DownEncoderBlock2D",) * 4,
            up_block_types=("UpDecoderBlock2D",) * 4,
            block_out_channels=(16, 32, 64, 128),
            latent_channels=8,
            sample_size=128,
        ),
        unet=dict(
            sample_size=16, in_channels=10, out_channels=10, block_out_channels=(64, 128, 128), cross_attention_dim=128
        ),
        # The model denoises the picture's 8 latent channels and 2 coordinate ramps. A convolutional UNet sees the
        # same thing everywhere, so from the 8 alone it never learnt to tie "on the left" to a place (the position
        # words moved its first prediction by 0.001, the size words by 0.34, trained afresh or not); predicting
        # the ramps makes it learn where each place is, and the ramps are then in its input at every later step.
        coordinate_channels=2,
        text_width=128,
        captioner=dict(width=128, vision_layers=4, text_layers=2, patch_size=16),
        cache=CACHE_DIR / "pictures",
        blur=0.5,
        # The text-to-image model draws some objects up to ~10 px above row 100 (and sways a little); a captioner
        # that only saw them standing on row 100 named a drawn small car in the snow "a big boat".
        shift=12,
        # v-prediction on a schedule rescaled to zero terminal SNR, sampled from t = 999 ("trailing"). With
        # Stable Diffusion's own schedule (epsilon, terminal SNR 0.0047) the noisiest training latents still carry
        # the picture's low frequencies, so the model learnt to read where the object sits from the starting noise
        # and ignored "on the left/right": at step 9,500 the three position words drew the same picture from the
        # same seed, and position was 40% right. At zero SNR the start holds nothing, and only the prompt can say.
        noise_schedule=dict(prediction_type="v_prediction", rescale_betas_zero_snr=True, timestep_spacing="trailing"),
        defaults={
            "vae": dict(steps=4000, batch_size=4, dataset_size=6_000),
            "text2image": dict(steps=40_000, batch_size=32, dataset_size=6_000),
            "captioner": dict(steps=20_000, batch_size=32, dataset_size=6_000),
        },
        out_dirs={
            "vae": CACHE_DIR / "pictures" / "out",
            "text2image": REPO_ROOT / "assets" / "models" / "picture-sd",
            "captioner": REPO_ROOT / "assets" / "models" / "picture-captioner",
        },
    )


WORLDS: dict[str, Callable[[], World]] = {"shapes": _shapes, "pictures": _pictures}


def get_world(name: str | World) -> World:
    """The world called ``name`` (a ``World`` passes through)."""
    if isinstance(name, World):
        return name
    if name not in WORLDS:
        raise ValueError(f"Unknown world: {name!r}; choose one of {', '.join(WORLDS)}.")
    return WORLDS[name]()


def add_world_arguments(parser, export: bool = True) -> None:
    """The options every training script shares; ``None`` means the world's default."""
    parser.add_argument("--world", default="shapes", choices=list(WORLDS))
    parser.add_argument("--out-dir", default=None, help="default: the world's (see playground/train/worlds.py)")
    parser.add_argument("--steps", type=int, default=None, help="default: the world's")
    parser.add_argument("--batch-size", type=int, default=None, help="default: the world's")
    parser.add_argument("--dataset-size", type=int, default=None, help="default: the world's")
    parser.add_argument("--ckpt-dir", default=None, help="default: .cache/train[/<world>]/<script>")
    parser.add_argument("--init-from", default=None, help="exported folder to start a new run from")
    if export:
        parser.add_argument("--export-only", action="store_true", help="write the latest checkpoint, no training")
        parser.add_argument(
            "--export-every",
            type=float,
            default=None,
            help="also export to --out-dir every this many seconds while training",
        )


def apply_defaults(world: World, script: str, **given) -> dict:
    """``given`` with each ``None`` replaced by the world's default for ``script``."""
    defaults = world.defaults.get(script, {})
    return {k: defaults.get(k) if v is None else v for k, v in given.items()}


class RunSettings(NamedTuple):
    """What ``add_world_arguments``' options come to for one script's run."""

    world: World
    out_dir: Path
    ckpt_dir: Path
    steps: int
    batch_size: int
    dataset_size: int


def run_settings(
    script: str,
    world: str | World,
    out_dir: str | Path | None,
    ckpt_dir: str | Path | None,
    steps: int | None,
    batch_size: int | None,
    dataset_size: int | None,
) -> RunSettings:
    """The world and the run's folders and sizes, each ``None`` replaced by the world's default for ``script``."""
    world = get_world(world)
    sizes = apply_defaults(world, script, steps=steps, batch_size=batch_size, dataset_size=dataset_size)
    return RunSettings(world, Path(out_dir or world.out_dirs[script]), Path(ckpt_dir or world.cache / script), **sizes)
