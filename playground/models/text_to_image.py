"""Text to image: any diffusers text-to-image pipeline, loaded with AutoPipelineForText2Image."""

from __future__ import annotations

import copy
import queue
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable

from playground import bundled
from playground.errors import UserError
from playground.jobs import Stopped  # noqa: F401  (the remote wrapper and the tabs import it from here)
from playground.models.base import ModelWrapper
from playground.models.spec import Input, Kept, ModelSpec, TaskSpec, hub_models
from playground.options import Options, option

# The most work one request may ask for, in output pixels × denoising steps, by device. On a CPU a 2048×2048
# picture at 100 steps had not finished one step after a minute while every other user waited; 512×512 at 50
# steps (Stable Diffusion 1.5's own default) is the largest a CPU is asked for. A GPU takes the whole range.
WORK_BUDGETS = {"cpu": 512 * 512 * 50, "mps": 1024 * 1024 * 50, "cuda": 2048 * 2048 * 100}
MAX_PROMPT_CHARS = 2_000  # a prompt or negative prompt, wherever it comes from (the tab, the grid's axis, a chain)


@dataclass
class ImageResult:
    """A generated image and the settings that made it."""

    image: object  # PIL.Image.Image
    seed: int
    width: int
    height: int
    steps_done: int
    previews: list = field(default_factory=list)  # (step, PIL image) of intermediate latents


class ImageOptions(Options):
    guidance_scale: float = option(7.5, "Guidance scale", low=0.0, high=20.0, step=0.5)
    """How strongly the picture follows the prompt; 1 ignores the guidance."""
    steps: int = option(20, "Steps", low=1, high=100)
    """Denoising steps: more is slower and usually cleaner."""
    width: int = option(0, "Width", low=0, high=2048, step=8)
    """Image width in pixels (a multiple of 8); 0 uses the model's native size."""
    height: int = option(0, "Height", low=0, high=2048, step=8)
    """Image height in pixels (a multiple of 8); 0 uses the model's native size."""


class DiffusersText2Image(ModelWrapper):
    """A diffusers folder or hub id (Stable Diffusion 1.5, SD-Turbo, SDXL, ...)."""

    task = "text_to_image"
    backend = "diffusers"
    Options = ImageOptions

    def load(self) -> None:
        from diffusers import AutoPipelineForText2Image

        with self.loading():
            pipe = AutoPipelineForText2Image.from_pretrained(self.source, **self.pretrained_kwargs)
        if hasattr(pipe, "safety_checker"):
            pipe.safety_checker = None  # local exploration tool; the user chooses the model
        pipe.set_progress_bar_config(disable=True)
        self.pipe = pipe.to(self.device.type)
        self.native_size = int(pipe.unet.config.sample_size * pipe.vae_scale_factor) if hasattr(pipe, "unet") else 512
        self._views: queue.SimpleQueue = queue.SimpleQueue()
        self._views.put(self.pipe)
        self._views_made = 1
        self._views_lock = threading.Lock()

    def _release(self) -> None:
        self.pipe = None
        self._views = queue.SimpleQueue()

    @contextmanager
    def _pipeline(self):
        """A pipeline object of this call's own, sharing the loaded weights.

        A diffusers pipeline keeps per-call state on itself (``_interrupt``, ``_guidance_scale``), so two calls
        never share one; a view made from the same components costs no memory, and lets a second user's small
        picture run beside a long one instead of waiting for it to finish. The scheduler, which keeps its call's
        steps, is a fresh one per view, and so is each tokenizer: a fast tokenizer keeps its truncation setting on
        itself, and the pipeline turns it off to measure a long prompt, so a shared one let another call's prompt
        through untruncated (a ValueError from the text encoder under load).
        """
        try:
            view = self._views.get_nowait()
        except queue.Empty:
            with self._views_lock:
                self._views_made += 1
            components = dict(self.pipe.components)
            if components.get("scheduler") is not None:  # a scheduler keeps the steps of its call: one each
                components["scheduler"] = type(components["scheduler"]).from_config(components["scheduler"].config)
            for name, part in components.items():
                if name.startswith("tokenizer") and part is not None:
                    components[name] = copy.deepcopy(part)
            view = type(self.pipe)(**components)
            view.set_progress_bar_config(disable=True)
        try:
            yield view
        finally:
            self._views.put(view)

    def generate(
        self,
        prompt: str,
        negative_prompt: str,
        options: ImageOptions,
        seed: int,
        on_step: Callable[[int, int], None] | None = None,
        stop: threading.Event | None = None,
        preview_every: int = 0,
    ) -> ImageResult:
        """Generate one image; ``on_step(done, total)`` reports progress and ``stop`` interrupts."""
        import torch

        with self.in_use():
            width = options.width or self.native_size
            height = options.height or self.native_size
            for name, value in (("Width", width), ("Height", height)):
                if value % 8:
                    raise UserError(f"{name} must be a multiple of 8, got {value}.")
            check_work(width, height, options.steps, self.device.type)
            previews: list = []
            done = [0]

            def callback(pipe, step, timestep, kwargs):
                done[0] = step + 1
                if preview_every and (step + 1) % preview_every == 0 and step + 1 < options.steps:
                    previews.append((step + 1, self.decode_latents(kwargs["latents"])))
                if on_step:
                    on_step(step + 1, options.steps)
                if stop is not None and stop.is_set():
                    pipe._interrupt = True
                return kwargs

            caller = threading.get_ident()

            def inside_a_step(module, args):  # a step of a big picture takes seconds: stop between its blocks
                # the blocks are shared by concurrent calls: only this call's own thread is stopped here
                if threading.get_ident() == caller and stop is not None and stop.is_set():
                    raise Stopped(f"Stopped after {done[0]} of {options.steps} steps.")

            denoiser = getattr(self.pipe, "unet", None) or getattr(self.pipe, "transformer", None)
            blocks = []
            for name in ("down_blocks", "mid_block", "up_blocks", "transformer_blocks"):
                part = getattr(denoiser, name, None)
                if isinstance(part, torch.nn.ModuleList):
                    blocks.extend(part)
                elif part is not None:
                    blocks.append(part)
            generator = torch.Generator(device="cpu").manual_seed(seed)
            with self._pipeline() as pipe, _hooks(blocks, inside_a_step):
                out = pipe(
                    prompt=prompt,
                    negative_prompt=negative_prompt or None,
                    guidance_scale=options.guidance_scale,
                    num_inference_steps=options.steps,
                    width=width,
                    height=height,
                    generator=generator,
                    callback_on_step_end=callback,
                    callback_on_step_end_tensor_inputs=["latents"],
                )
            if stop is not None and stop.is_set() and done[0] < options.steps:
                raise Stopped(f"Stopped after {done[0]} of {options.steps} steps.")
            return ImageResult(out.images[0], seed, width, height, done[0], previews)

    def decode_latents(self, latents):
        """Decode intermediate latents to a PIL image (for the noise-to-picture strip)."""
        import torch

        vae = self.pipe.vae
        with torch.inference_mode():
            scaled = latents[:1] / vae.config.scaling_factor
            if getattr(vae.config, "shift_factor", None):
                scaled = scaled + vae.config.shift_factor
            image = vae.decode(scaled.to(vae.dtype)).sample
        return self.pipe.image_processor.postprocess(image, output_type="pil")[0]


def check_work(width: int, height: int, steps: int, device_type: str) -> None:
    """Refuse a picture that asks for more than the device's budget of pixels × steps, with numbers to fix it."""
    budget = WORK_BUDGETS.get(device_type, WORK_BUDGETS["cpu"])
    work = width * height * steps
    if work > budget:
        raise UserError(
            f"A {width}×{height} picture at {steps} steps is {work / 1e6:.1f} million pixel-steps, over "
            f"this {device_type.upper()}'s budget of {budget / 1e6:.1f} million a request (512×512 at "
            f"{budget // (512 * 512)} steps); use fewer pixels or steps."
        )


@contextmanager
def _hooks(modules, hook):
    """``hook`` as a forward pre-hook on each of ``modules`` for the block's duration."""
    handles = [m.register_forward_pre_hook(hook) for m in modules]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


BACKENDS = [DiffusersText2Image]


# ---------------------------------------------------------------- the task

STRIP_FRAMES = 6  # intermediate pictures in the noise-to-picture strip


def _generate(wrapper, inputs, options, seed, job):
    every = max(1, options.steps // STRIP_FRAMES) if inputs.get("show_noise_steps") else 0
    return wrapper.generate(
        inputs["prompt"],
        inputs.get("negative_prompt") or "",
        options,
        seed,
        on_step=lambda done, total: job.report((done, total)),
        stop=job.stop,
        preview_every=every,
    )


def _kept(inputs, result) -> Kept:
    settings = {
        "prompt": inputs["prompt"],
        "negative_prompt": inputs.get("negative_prompt") or "",
        "show_noise_steps": bool(inputs.get("show_noise_steps")),
    }
    return Kept(outputs=[result.image], settings=settings)


def _drawn(run) -> str:
    result = run.result
    return f"{result.width}×{result.height}, {result.steps_done} steps in {run.seconds:.1f} s"


def _check(wrapper, shared) -> str:
    image = wrapper.generate("a cat on the beach", "", wrapper.Options.parse(steps=2), seed=0)
    return f"a {image.width}×{image.height} image in {image.steps_done} steps"


SPEC = TaskSpec(
    name="text_to_image",
    title="Text to Image",
    api_name="text_to_image",
    aliases=("t2i", "image"),
    backends=tuple(BACKENDS),
    models=(
        ModelSpec(
            "bundled/picture-sd",
            f"Pictures (bundled, offline): {bundled.PICTURES_NOTE}",
            lambda: bundled.asset_model("picture-sd"),
            note=bundled.PICTURES_NOTE,
        ),
        ModelSpec(
            "bundled/shapes-sd",
            f"Shapes (bundled, offline): {bundled.SHAPES_NOTE}",
            lambda: bundled.asset_model("shapes-sd"),
            note=bundled.SHAPES_NOTE,
        ),
        *hub_models("stabilityai/sd-turbo", guidance_scale=0.0, steps=2, width=512, height=512),
        *hub_models("stable-diffusion-v1-5/stable-diffusion-v1-5", guidance_scale=7.5, steps=25, width=512, height=512),
        *hub_models("stabilityai/stable-diffusion-xl-base-1.0", guidance_scale=7.0, steps=30, width=1024, height=1024),
    ),
    inputs=(
        Input("prompt", "text", "Prompt", limit=MAX_PROMPT_CHARS),
        Input("negative_prompt", "text", "Negative prompt", limit=MAX_PROMPT_CHARS, optional=True),
        Input("show_noise_steps", "flag", "Show the noise-to-picture steps", optional=True),
    ),
    output="image",
    run=_generate,
    keep=_kept,
    status=_drawn,
    check=_check,
    tab="playground.ui.text_to_image",
)
