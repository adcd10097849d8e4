"""Each training script runs a couple of steps on a tiny dataset, resumes,
and writes a folder that the standard diffusers / transformers loaders
accept.  Keeps the scripts alive; says nothing about model quality."""

import os
from pathlib import Path

import numpy as np
import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from playground.shapes.world import Attributes, render  # noqa: E402

ASSETS = Path(__file__).resolve().parents[1] / "assets"


@pytest.fixture(scope="module")
def vae_dir(tmp_path_factory):
    from playground.train import vae

    out = tmp_path_factory.mktemp("vae")
    vae.train(out, steps=2, batch_size=4, dataset_size=16, ckpt_dir=out / "ckpt", log_every=1)
    return out / "vae"


def test_vae_script_trains_resumes_and_saves(vae_dir, tmp_path):
    from diffusers import AutoencoderKL

    from playground.train.common import load_checkpoint

    assert load_checkpoint(vae_dir.parent / "ckpt" / "ckpt.pt") == 2
    model = AutoencoderKL.from_pretrained(vae_dir)
    assert model.config.scaling_factor > 0
    with torch.no_grad():
        z = model.encode(torch.zeros(1, 3, 64, 64)).latent_dist.mean
    assert z.shape == (1, 4, 16, 16)


def test_text2image_script_trains_resumes_and_exports(vae_dir, tmp_path):
    from diffusers import AutoPipelineForText2Image, StableDiffusionPipeline

    from playground.train import text2image

    common = dict(batch_size=4, dataset_size=16, vae_dir=vae_dir, ckpt_dir=tmp_path / "ckpt", log_every=1)
    text2image.train(tmp_path / "a", steps=2, **common)
    text2image.train(tmp_path / "sd", steps=3, **common)  # resumes at step 2
    assert (tmp_path / "sd" / "tokenizer" / "vocab.json").exists()
    assert (tmp_path / "sd" / "unet" / "diffusion_pytorch_model.safetensors").exists()

    pipe = AutoPipelineForText2Image.from_pretrained(tmp_path / "sd")
    assert isinstance(pipe, StableDiffusionPipeline)
    assert pipe.safety_checker is None
    pipe.set_progress_bar_config(disable=True)
    # Unknown words and emoji must not crash.
    img = pipe(
        "a large red circle 🐶 on a zebra blue background",
        num_inference_steps=2,
        guidance_scale=7.5,
        generator=torch.Generator().manual_seed(0),
    ).images[0]
    assert img.size == (64, 64)


def test_text2image_starts_from_an_exported_model_and_stops_early(vae_dir, tmp_path):
    from safetensors.torch import load_file

    from playground.bundled import ASSETS
    from playground.train import text2image
    from playground.train.common import load_checkpoint

    bundled = ASSETS / "models" / "shapes-sd"
    text2image.train(
        tmp_path / "sd",
        steps=5,
        batch_size=4,
        dataset_size=16,
        vae_dir=vae_dir,
        lr=0.0,
        ckpt_dir=tmp_path / "ckpt",
        log_every=1,
        init_from=bundled,
        stop_after=2,
    )
    assert load_checkpoint(tmp_path / "ckpt" / "ckpt.pt") == 2  # stopped at step 2 of the 5-step schedule
    # With a zero learning rate the exported weights are still the ones it started from.
    start = load_file(bundled / "unet" / "diffusion_pytorch_model.safetensors")
    end = load_file(tmp_path / "sd" / "unet" / "diffusion_pytorch_model.safetensors")
    assert all(torch.equal(start[k], end[k]) for k in start)


def test_caption_augmentation_keeps_grammar_words():
    from playground.train.text2image import augment_caption

    rng = np.random.default_rng(0)
    text = "a large red circle on a blue background"
    outs = [augment_caption(text, rng, p_drop=0.1, p_junk=0.3) for _ in range(300)]
    assert "" in outs and text in outs
    for out in outs:
        if out and out != text:
            kept = [w for w in out.split() if w in text.split()]
            assert kept == text.split()


def test_picture_training_captions_leave_out_words_and_swap_pictures_as_asked():
    from playground.train.text2image import training_captions
    from playground.train.worlds import get_world
    from playground.world import parse_caption, sample_picture

    world = get_world("pictures")
    rng = np.random.default_rng(0)
    items = [sample_picture(rng, "train") for _ in range(400)]
    idx = list(range(len(items))) * 5

    def captions(p_swap):
        return [parse_caption(t) for t in training_captions(world, items, idx, rng, 0.0, 0.0, p_swap)]

    own = captions(0.0)
    # Every caption names its own picture's object; an eighth leave out the scene, the rest name the right one.
    assert all(c["object"] == items[i].object for c, i in zip(own, idx))
    no_scene = sum("scene" not in c for c in own) / len(own)
    assert 0.09 < no_scene < 0.16, no_scene
    assert all(c["scene"] == items[i].scene for c, i in zip(own, idx) if "scene" in c)
    # With p_swap 0.25, about a quarter describe another picture (1 in 20 of those has the same object).
    swapped = captions(0.25)
    wrong = sum(c["object"] != items[i].object for c, i in zip(swapped, idx)) / len(idx)
    assert 0.19 < wrong < 0.29, wrong


def test_captioner_script_trains_and_decodes_with_standard_loaders(tmp_path):
    from transformers import AutoProcessor, BlipForConditionalGeneration

    from playground.train import captioner

    common = dict(batch_size=4, dataset_size=16, ckpt_dir=tmp_path / "ckpt", log_every=1)
    captioner.train(tmp_path / "a", steps=2, **common)
    captioner.train(tmp_path / "cap", steps=3, **common)
    processor = AutoProcessor.from_pretrained(tmp_path / "cap")
    model = BlipForConditionalGeneration.from_pretrained(tmp_path / "cap")
    img = render(Attributes("large", "red", "circle", "blue"))
    out = model.generate(**processor(images=img, return_tensors="pt"), max_new_tokens=20)
    assert isinstance(processor.batch_decode(out, skip_special_tokens=True)[0], str)


def test_captioner_targets_match_what_generate_expects():
    """generate() starts from text_config.bos_token_id and stops at sep:
    the processor's encoding of a caption must begin/end with exactly those."""
    from playground.train.captioner import make_model, make_processor

    processor = make_processor()
    model = make_model(processor.tokenizer)
    text = "a large red circle on a blue background"
    ids = processor.tokenizer(text).input_ids
    assert ids[0] == model.config.text_config.bos_token_id
    assert ids[-1] == model.config.text_config.sep_token_id
    assert processor.batch_decode([ids], skip_special_tokens=True) == [text]


def font_or_skip():
    from playground import world

    try:
        world.font_path()
    except FileNotFoundError as error:  # make test installs the font
        pytest.skip(str(error))


@pytest.fixture(scope="module")
def picture_vae_dir(tmp_path_factory):
    from playground.train import vae

    font_or_skip()
    out = tmp_path_factory.mktemp("picture-vae")
    vae.train(out, steps=2, batch_size=2, dataset_size=8, ckpt_dir=out / "ckpt", log_every=1, world="pictures")
    return out / "vae"


def test_picture_vae_downsamples_128_pixels_8_times(picture_vae_dir):
    from diffusers import AutoencoderKL

    model = AutoencoderKL.from_pretrained(picture_vae_dir)
    with torch.no_grad():
        z = model.encode(torch.zeros(1, 3, 128, 128)).latent_dist.mean
    assert z.shape == (1, 8, 16, 16)


def test_picture_vae_decoder_learns_free_pictures_and_keeps_the_encoder_and_its_ramps(tmp_path):
    from diffusers import AutoencoderKL
    from safetensors.torch import load_file

    from playground import world
    from playground.train import text2image, vae

    font_or_skip()
    free = vae.free_pictures(16, seed=3)
    assert free.shape == (16, 128, 128, 3) and free.dtype == np.uint8
    # no world scene: their top rows are random colours, not the sky, night or space of any scene
    tops = {tuple(world.background(s)[0, 0]) for s in world.SCENE_NAMES}
    assert sum(tuple(im[0, 0]) in tops for im in free) <= 1
    # Decoder-only from the shipped (widened) VAE: the encoder, its scaling factor and the decoder's zero weights
    # for the coordinate channels stay exactly as they were; the rest of the decoder learns.
    bundled = ASSETS / "models" / "picture-sd"
    common = dict(batch_size=2, dataset_size=4, log_every=1, world="pictures", init_from=bundled, lr=1e-3)
    vae.train(tmp_path, steps=2, ckpt_dir=tmp_path / "ckpt", decoder_only=True, free_share=0.5, **common)
    start = load_file(bundled / "vae" / "diffusion_pytorch_model.safetensors")
    end = load_file(tmp_path / "vae" / "diffusion_pytorch_model.safetensors")
    assert all(torch.equal(start[k], end[k]) for k in start if k.startswith(("encoder.", "quant_conv.")))
    assert not torch.equal(start["decoder.conv_in.weight"], end["decoder.conv_in.weight"])
    shipped, trained = AutoencoderKL.from_pretrained(bundled / "vae"), AutoencoderKL.from_pretrained(tmp_path / "vae")
    assert trained.config.scaling_factor == shipped.config.scaling_factor
    with torch.no_grad():  # the decoder still ignores the coordinate ramps exactly
        z = torch.randn(1, 8, 16, 16, generator=torch.Generator().manual_seed(0))
        ramps = text2image.coordinate_ramps(1, 16, 16)
        plain = trained.decode(torch.cat([z, torch.zeros_like(ramps)], 1)).sample
        assert torch.equal(plain, trained.decode(torch.cat([z, 5 * ramps], 1)).sample)
    with pytest.raises(ValueError, match="--decoder-only needs --init-from"):
        vae.train(tmp_path / "x", steps=1, decoder_only=True, world="pictures", dataset_size=2)
    with pytest.raises(ValueError, match="needs the pictures world"):
        vae.train(tmp_path / "y", steps=1, free_share=0.5, dataset_size=2)


def test_picture_text2image_trains_on_two_object_pictures_when_asked(picture_vae_dir, tmp_path):
    from playground.train import text2image
    from playground.train.worlds import get_world

    text2image.train(
        tmp_path / "sd",
        steps=1,
        batch_size=2,
        dataset_size=4,
        log_every=1,
        world="pictures",
        vae_dir=picture_vae_dir,
        ckpt_dir=tmp_path / "a",
        duo_share=0.5,
    )
    duos = list((tmp_path / "a").glob("latents-*-2-duos.pt"))
    assert len(duos) == 1 and torch.load(duos[0]).shape[0] == 2
    world = get_world("pictures")
    duo = text2image.cached_latents(picture_vae_dir, 2, tmp_path / "a", world, duos=True)[1][0]
    assert world.train_caption(duo, np.random.default_rng(0)).startswith(f"a {duo.object} and a {duo.second}")
    with pytest.raises(ValueError, match="needs the pictures world"):
        text2image.train(tmp_path / "x", steps=1, world="shapes", dataset_size=2, duo_share=0.5)


def test_picture_text2image_exports_periodically_and_goes_on_from_its_folder(picture_vae_dir, tmp_path):
    from diffusers import AutoPipelineForText2Image, StableDiffusionPipeline
    from safetensors.torch import load_file

    from playground.train import text2image
    from playground.train.common import load_checkpoint

    common = dict(batch_size=2, dataset_size=8, log_every=1, world="pictures", ckpt_every=1)
    # export_every=0: an export at every checkpoint, as --export-every 3600 does once an hour.
    text2image.train(
        tmp_path / "sd", steps=2, vae_dir=picture_vae_dir, ckpt_dir=tmp_path / "a", export_every=0, **common
    )
    pipe = AutoPipelineForText2Image.from_pretrained(tmp_path / "sd")
    assert isinstance(pipe, StableDiffusionPipeline)
    pipe.set_progress_bar_config(disable=True)
    img = pipe(
        "a big dog 🐶 on the beach, on the left please",
        num_inference_steps=2,
        guidance_scale=7.5,
        generator=torch.Generator().manual_seed(0),
    ).images[0]
    assert img.size == (128, 128)
    # v-prediction on a zero-terminal-SNR schedule, sampled from t = 999: the noisiest latent the model
    # trains on holds nothing of the picture, so where the object goes can only come from the prompt.
    config = pipe.scheduler.config
    assert (config.prediction_type, config.rescale_betas_zero_snr, config.timestep_spacing) == (
        "v_prediction",
        True,
        "trailing",
    )
    assert text2image.make_noise_scheduler("pictures").alphas_cumprod[-1] == 0
    # The latents carry two coordinate ramps beside the picture's 8 channels; the exported VAE's decoder
    # ignores them exactly, and its encoder leaves them at 0.
    from diffusers import AutoencoderKL

    assert pipe.unet.config.in_channels == pipe.vae.config.latent_channels == 10
    source = AutoencoderKL.from_pretrained(picture_vae_dir).eval()
    with torch.no_grad():
        z = torch.randn(1, 8, 16, 16, generator=torch.Generator().manual_seed(0))
        ramps = text2image.coordinate_ramps(1, 16, 16)
        assert torch.equal(source.decode(z).sample, pipe.vae.decode(torch.cat([z, 5 * ramps], 1)).sample)
        picture = torch.rand(1, 3, 128, 128) * 2 - 1
        mean = pipe.vae.encode(picture).latent_dist.mean
        assert torch.equal(mean[:, :8], source.encode(picture).latent_dist.mean) and not mean[:, 8:].any()
    assert ramps[0, 0, 0, 0] < 0 < ramps[0, 0, 0, -1] and ramps[0, 1, 0, 0] < 0 < ramps[0, 1, -1, 0]
    pipe.scheduler.set_timesteps(20)
    assert int(pipe.scheduler.timesteps[0]) == 999
    # The export records where in its schedule it was taken, and what the model predicts.
    assert text2image.read_training_state(tmp_path / "sd")["step"] == 2
    assert text2image.read_training_state(tmp_path / "sd")["prediction_type"] == "v_prediction"
    # On another machine: no checkpoint, only the folder; its VAE comes along, the run takes up the
    # schedule at the export's step 2 (so a 3-step schedule has one step left), and lr 0 keeps the weights.
    text2image.train(
        tmp_path / "sd2",
        steps=3,
        ckpt_dir=tmp_path / "b",
        init_from=tmp_path / "sd",
        lr=0.0,
        high_noise_share=0.5,
        **common,
    )
    assert load_checkpoint(tmp_path / "b" / "ckpt.pt") == 3
    assert text2image.read_training_state(tmp_path / "sd2")["step"] == 3
    for part, name in (
        ("unet", "diffusion_pytorch_model"),
        ("vae", "diffusion_pytorch_model"),
        ("text_encoder", "model"),
    ):
        start = load_file(tmp_path / "sd" / part / f"{name}.safetensors")
        end = load_file(tmp_path / "sd2" / part / f"{name}.safetensors")
        assert all(torch.equal(start[k], end[k]) for k in start), part


def test_picture_captioner_trains_on_free_pictures_captioned_without_a_scene(tmp_path):
    from playground.train import captioner
    from playground.train.vae import free_picture_items
    from playground.world import caption, parse_caption

    font_or_skip()
    items, images = free_picture_items(6, seed=0)
    assert images.shape == (6, 128, 128, 3) and all(item.scene == "" for item in items)
    told = parse_caption(caption(items[0], scene=False))
    assert told == {"object": items[0].object, "size": items[0].size, "position": items[0].position}
    common = dict(batch_size=4, dataset_size=8, log_every=1, world="pictures")
    captioner.train(tmp_path / "cap", steps=2, ckpt_dir=tmp_path / "a", free_share=0.5, **common)
    assert (tmp_path / "cap" / "model.safetensors").exists()
    with pytest.raises(ValueError, match="--free-share must be at least 0"):
        captioner.train(tmp_path / "x", steps=1, free_share=1.0, **common)


def test_picture_captioner_trains_decodes_and_goes_on_from_its_folder(tmp_path):
    from transformers import AutoProcessor, BlipForConditionalGeneration

    from playground.train import captioner
    from playground.world import Picture, render

    font_or_skip()
    common = dict(batch_size=2, dataset_size=8, log_every=1, world="pictures")
    captioner.train(tmp_path / "cap", steps=2, ckpt_dir=tmp_path / "a", **common)
    processor = AutoProcessor.from_pretrained(tmp_path / "cap")
    model = BlipForConditionalGeneration.from_pretrained(tmp_path / "cap")
    inputs = processor(images=render(Picture("dog", "on the beach")), return_tensors="pt")
    assert inputs.pixel_values.shape[-2:] == (128, 128)
    assert isinstance(
        processor.batch_decode(model.generate(**inputs, max_new_tokens=20), skip_special_tokens=True)[0], str
    )
    ids = processor.tokenizer("a big dog on the beach, on the left").input_ids
    assert processor.batch_decode([ids], skip_special_tokens=True) == ["a big dog on the beach, on the left"]
    captioner.train(tmp_path / "cap2", steps=1, ckpt_dir=tmp_path / "b", init_from=tmp_path / "cap", lr=0.0, **common)
    after = BlipForConditionalGeneration.from_pretrained(tmp_path / "cap2").state_dict()
    assert all(torch.equal(v, after[k]) for k, v in model.state_dict().items())


def test_unknown_world_is_refused_by_name():
    from playground.train.worlds import get_world

    with pytest.raises(ValueError, match="Unknown world: 'castles'"):
        get_world("castles")


def test_picture_captioner_trains_on_what_the_bundled_model_draws(tmp_path):
    """``--generated-from``: the bundled text-to-image folder draws training-split pictures; those the pixel reader
    reads back as prompted are kept (cached), and a share of each batch comes from them."""
    import dataclasses

    from playground.eval.picture_reader import read_image
    from playground.train import captioner
    from playground.train.worlds import get_world
    from playground.world import HELD_OUT_PAIRS

    font_or_skip()
    world = dataclasses.replace(get_world("pictures"), cache=tmp_path / "cache")
    sd = ASSETS / "models" / "picture-sd"
    items, images = captioner.generated_pictures(world, sd, 8, seed=0)
    assert 4 <= len(items) == len(images) <= 8 and images.shape[1:] == (128, 128, 3)
    for item, image in zip(items, images):
        assert item.pair not in HELD_OUT_PAIRS
        read = read_image(image)
        assert [read[k] for k in ("object", "scene", "size", "position")] == [
            item.object,
            item.scene,
            item.size,
            item.position,
        ]
    (cache,) = (tmp_path / "cache").glob("captioner-generated-*.npz")
    again_items, again = captioner.generated_pictures(world, sd, 8, seed=0)  # from the cache
    assert again_items == items and (again == images).all()
    captioner.train(
        tmp_path / "cap",
        steps=2,
        batch_size=4,
        dataset_size=8,
        ckpt_dir=tmp_path / "ckpt",
        world=world,
        generated_from=sd,
        generated_count=8,
        generated_share=0.5,
        log_every=1,
    )
    assert (tmp_path / "cap" / "model.safetensors").is_file()
    with pytest.raises(ValueError, match="needs the pictures world"):
        captioner.generated_pictures(get_world("shapes"), sd, 8, seed=0)
    with pytest.raises(ValueError, match="--generated-share must be at least 0 and below 1, got 1.5"):
        captioner.train(tmp_path / "x", steps=1, world=world, generated_from=sd, generated_share=1.5)
