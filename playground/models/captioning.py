"""Image captioning: transformers image-to-text models (BLIP, ViT+GPT-2 and the like)."""

from __future__ import annotations

from dataclasses import dataclass

from playground import bundled
from playground.errors import UserError
from playground.models.base import ModelWrapper
from playground.models.spec import Input, Kept, ModelSpec, TaskSpec, hub_models
from playground.options import Options, option


@dataclass
class Caption:
    """A caption with the probability the model gave each of its tokens."""

    text: str
    tokens: list[tuple[str, float]]
    cut: bool = False  # the caption ran into the token limit before the model ended it


class CaptionOptions(Options):
    max_new_tokens: int = option(30, "Max caption tokens", low=1, high=200)
    """The caption stops after this many tokens."""
    num_beams: int = option(3, "Beams", low=1, high=8)
    """How many candidate captions are kept while decoding; 1 is greedy."""
    temperature: float = option(0.0, "Temperature", low=0.0, high=2.0, step=0.05)
    """0 picks the likeliest caption; higher values sample more varied ones."""


class TransformersCaptioner(ModelWrapper):
    """A captioning model folder or hub id; transformers 5 has no image-to-text pipeline, so we call generate()."""

    task = "captioning"
    backend = "transformers"
    Options = CaptionOptions

    def load(self) -> None:
        import transformers
        from transformers import AutoConfig, AutoProcessor

        with self.loading():
            config = AutoConfig.from_pretrained(self.source, trust_remote_code=self.trust_remote_code)
            self.processor = AutoProcessor.from_pretrained(self.source, trust_remote_code=self.trust_remote_code)
            if config.model_type == "vision-encoder-decoder":
                model_class = transformers.VisionEncoderDecoderModel
            elif config.model_type == "blip":
                model_class = transformers.BlipForConditionalGeneration
            else:
                model_class = transformers.AutoModelForImageTextToText
            self.model = model_class.from_pretrained(self.source, **self.pretrained_kwargs)
        self.model.to(self.device.type).eval()
        self.tokenizer = getattr(self.processor, "tokenizer", self.processor)

    def _release(self) -> None:
        self.model = self.processor = self.tokenizer = None

    def caption(self, image, options: CaptionOptions, seed: int = 0) -> Caption:
        """Caption a PIL RGB image."""
        import torch

        with self.in_use():
            try:
                inputs = self.processor(images=image, return_tensors="pt")
            except Exception:
                raise UserError("The image could not be prepared for the captioning model.") from None
            inputs = {
                k: (v.to(self.device.type, self.model.dtype) if v.is_floating_point() else v.to(self.device.type))
                for k, v in inputs.items()
            }
            # Sampling draws from a private generator through SeededSampler, so concurrent captions never share
            # (or reseed) torch's global RNG; generate() itself then decodes greedily.
            sampler = SeededSampler(options.temperature, seed) if options.temperature > 0 else None
            with torch.inference_mode():
                out = self.model.generate(
                    **inputs,
                    max_new_tokens=options.max_new_tokens,
                    num_beams=1 if sampler else options.num_beams,
                    do_sample=False,
                    logits_processor=[sampler] if sampler else None,
                    output_scores=True,
                    return_dict_in_generate=True,
                )
            sequence = out.sequences[0]
            text = self.tokenizer.decode(sequence, skip_special_tokens=True).strip()
            tokens = (
                sampler.token_probabilities(sequence, self.tokenizer)
                if sampler
                else self._token_probabilities(out, sequence)
            )
            ends = self.model.generation_config.eos_token_id
            ends = set(ends if isinstance(ends, (list, tuple)) else [ends])
            cut = len(out.scores) >= options.max_new_tokens and int(sequence[-1]) not in ends
            return Caption(text, tokens, cut)

    def _token_probabilities(self, out, sequence) -> list[tuple[str, float]]:
        import torch

        try:
            scores = self.model.compute_transition_scores(
                out.sequences, out.scores, getattr(out, "beam_indices", None), normalize_logits=True
            )[0]
        except Exception:
            return []
        generated = sequence[-len(scores) :]
        special = set(self.tokenizer.all_special_ids)
        return [
            (self.tokenizer.decode([int(t)]), float(torch.exp(s)))
            for t, s in zip(generated, scores)
            if int(t) not in special and torch.isfinite(s)
        ]


class SeededSampler:
    """A logits processor that samples the next token itself, from a private ``torch.Generator``.

    It runs after generate()'s own processors and leaves only the drawn token possible, so greedy
    decoding picks it; it records the probability each drawn token had at this temperature.
    """

    def __init__(self, temperature: float, seed: int):
        import torch

        self.temperature = temperature
        self.generator = torch.Generator(device="cpu").manual_seed(seed)
        self.chosen: list[float] = []

    def __call__(self, input_ids, scores):
        import torch

        probs = torch.softmax(scores.float().cpu() / self.temperature, dim=-1)
        pick = torch.multinomial(probs, 1, generator=self.generator)
        self.chosen.append(float(probs.gather(1, pick)[0, 0]))
        only = torch.full_like(scores, float("-inf"))
        return only.scatter_(1, pick.to(scores.device), 0.0)

    def token_probabilities(self, sequence, tokenizer) -> list[tuple[str, float]]:
        """Each drawn token (special tokens left out) with the probability it was drawn with."""
        generated = sequence[-len(self.chosen) :] if self.chosen else []
        special = set(tokenizer.all_special_ids)
        return [(tokenizer.decode([int(t)]), p) for t, p in zip(generated, self.chosen) if int(t) not in special]


BACKENDS = [TransformersCaptioner]


# ---------------------------------------------------------------- the task


def _with_picture(inputs: dict) -> dict:
    from playground.media import load_image

    return {**inputs, "picture": load_image(inputs["image"])}


def _captioned(run) -> str:
    picture = run.inputs["picture"]
    limit = run.options.max_new_tokens
    cut = f" · cut off at the {limit}-token limit (raise Max caption tokens to read on)" if run.result.cut else ""
    return f"Captioned a {picture.width}×{picture.height} image in {run.seconds:.2f} s{cut}"


def _check(wrapper, shared) -> str:
    from playground.world import Picture, render

    text = wrapper.caption(render(Picture("cat", "on the beach")), wrapper.Options.parse(), seed=0).text
    return f"caption {text.strip()!r}"


SPEC = TaskSpec(
    name="captioning",
    title="Image Captioning",
    api_name="caption",
    aliases=("caption",),
    backends=tuple(BACKENDS),
    models=(
        ModelSpec(
            "bundled/picture-captioner",
            f"Picture captioner (bundled, offline): {bundled.PICTURES_NOTE}",
            lambda: bundled.asset_model("picture-captioner"),
            note=bundled.PICTURES_NOTE,
        ),
        ModelSpec(
            "bundled/shapes-captioner",
            f"Shapes captioner (bundled, offline): {bundled.SHAPES_NOTE}",
            lambda: bundled.asset_model("shapes-captioner"),
            note=bundled.SHAPES_NOTE,
        ),
        *hub_models(
            "Salesforce/blip-image-captioning-base",
            "Salesforce/blip-image-captioning-large",
            "nlpconnect/vit-gpt2-image-captioning",
        ),
    ),
    inputs=(Input("image", "image", "Image"),),
    check_inputs=_with_picture,
    run=lambda wrapper, inputs, options, seed, job: wrapper.caption(inputs["picture"], options, seed),
    keep=lambda inputs, result: Kept(outputs=[result.text], files={"image": inputs["image"]}),
    status=_captioned,
    output_of=lambda result: result.text or "(the model produced no caption)",
    check=_check,
    tab="playground.ui.captioning",
)
