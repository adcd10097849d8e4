"""Chat: a causal language model with a chat template, decoded token by token.

We run our own sampling loop instead of ``generate()`` so that each token is
produced inside the caller's iteration: stopping the iteration stops the work at
once, the seed drives a private ``torch.Generator`` (so concurrent chats stay
reproducible), and each step's candidate distribution is available to show.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from playground.errors import UserError
from playground.models.base import ModelWrapper, load_error
from playground.options import Field, Options

MAX_PROMPT_TOKENS = 8192
CHOICES_KEPT = 200  # raw logits kept per token for the explain view
CHOICE_TEXTS = 12  # of which this many are decoded to text


@dataclass
class TokenStep:
    """One decoded token: its text delta and what the model was choosing from."""

    token_id: int
    text: str
    probability: float
    candidates: list[tuple[str, float]] = field(default_factory=list)
    # The likeliest next tokens before temperature and top-p (after the repetition penalty):
    # their ids, texts and logits, plus log-sum-exp over the whole vocabulary, so the
    # "what the model was choosing from" view can redraw the choice at any temperature.
    choice_ids: list[int] = field(default_factory=list)
    choice_texts: list[str] = field(default_factory=list)
    choice_logits: list[float] = field(default_factory=list)
    logsumexp: float = 0.0
    token_text: str = ""  # the chosen token on its own (``text`` is the reply's new characters)


class ChatOptions(Options):
    temperature: float = Field(0.7, ge=0.0, le=2.0, title="Temperature",
                               description="Higher is more surprising; 0 always picks the likeliest token.",
                               json_schema_extra={"step": 0.05})
    top_p: float = Field(0.9, gt=0.0, le=1.0, title="Top-p",
                         description="Sample only from the smallest set of tokens whose probabilities add up to this.",
                         json_schema_extra={"step": 0.01})
    max_new_tokens: int = Field(256, ge=1, le=2048, title="Max new tokens",
                                description="The reply stops after this many tokens.")
    repetition_penalty: float = Field(1.1, ge=1.0, le=2.0, title="Repetition penalty",
                                      description="Above 1 discourages repeating tokens already in the conversation.",
                                      json_schema_extra={"step": 0.05})


class TransformersChat(ModelWrapper):
    """Any transformers causal LM; a ``.gguf`` file is converted once and cached as safetensors."""

    task = "chat"
    backend = "transformers"
    Options = ChatOptions

    def load(self) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        source = self.source
        if source.endswith(".gguf"):
            source = str(self._converted_gguf(Path(source)))
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=self.trust_remote_code)
            self.model = AutoModelForCausalLM.from_pretrained(
                source, dtype=self.device.torch_dtype, trust_remote_code=self.trust_remote_code,
                use_safetensors=self.use_safetensors,
            )
        except Exception as exc:
            raise load_error(exc, self.model_id) from exc
        if not getattr(self.tokenizer, "chat_template", None):
            raise UserError(f"Model '{self.model_id}' has no chat template, so it cannot be used for chat.")
        self.model.to(self.device.type).eval()
        eos = self.model.generation_config.eos_token_id
        eos = eos if isinstance(eos, list) else [eos]
        self.stop_ids = {i for i in eos + [self.tokenizer.eos_token_id] if i is not None}

    def _release(self) -> None:
        self.model = self.tokenizer = None

    def estimated_bytes(self) -> int:
        if self.source.endswith(".gguf"):  # de-quantized to float32 at load: about 7× a 4-bit file
            return Path(self.source).stat().st_size * 7 if Path(self.source).is_file() else 0
        return super().estimated_bytes()

    def _converted_gguf(self, gguf: Path) -> Path:
        """Convert a GGUF file to a safetensors folder once (about 30 s), then reuse it (under 1 s)."""
        stat = gguf.stat()
        key = hashlib.sha256(f"{gguf.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:12]
        target = self.cache_dir / "converted" / f"{gguf.stem}-{key}"
        if (target / "model.safetensors").exists() and (target / "tokenizer_config.json").exists():
            return target
        from transformers import AutoModelForCausalLM, AutoTokenizer

        try:
            tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
            model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        except Exception as exc:
            raise load_error(exc, self.model_id) from exc
        # The weights are already de-quantized to fp32; the GGUF marker only blocks saving.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        partial = target.with_name(target.name + f".partial-{os.getpid()}")
        shutil.rmtree(partial, ignore_errors=True)
        model.save_pretrained(partial)
        tokenizer.save_pretrained(partial)
        try:
            partial.rename(target)  # atomic: a half-written cache is never used
        except OSError:
            shutil.rmtree(partial, ignore_errors=True)  # another process won the race
        return target

    def prompt_ids(self, messages: list[dict]):
        """Token ids of the conversation, rendered through the model's chat template."""
        text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        ids = self.tokenizer(text, add_special_tokens=False, return_tensors="pt").input_ids
        if ids.shape[1] > MAX_PROMPT_TOKENS:
            raise UserError(
                f"The conversation is {ids.shape[1]} tokens long, over the limit of {MAX_PROMPT_TOKENS}; clear the chat or shorten the message."
            )
        return ids

    def stream(self, messages: list[dict], options: ChatOptions, seed: int, top_k_shown: int = 0) -> Iterator[TokenStep]:
        """Yield the reply one token at a time; closing the iterator stops generation."""
        import torch

        with self.in_use(), torch.inference_mode():
            ids = self.prompt_ids(messages).to(self.device.type)
            generator = torch.Generator(device="cpu").manual_seed(seed)
            seen = ids[0].tolist()
            generated: list[int] = []
            emitted = ""
            out = self.model(input_ids=ids, use_cache=True)
            for _ in range(options.max_new_tokens):
                logits = out.logits[0, -1].float().cpu()
                token, prob, candidates, choices = sample_next(logits, seen, options, generator, top_k_shown,
                                                               self.tokenizer)
                if token in self.stop_ids:
                    break
                generated.append(token)
                seen.append(token)
                text = self.tokenizer.decode(generated, skip_special_tokens=True)
                delta = ""
                if not text.endswith("\ufffd"):  # wait for the rest of a multi-byte character
                    delta, emitted = text[len(emitted):], text
                yield TokenStep(token, delta, prob, candidates, **choices)
                next_ids = torch.tensor([[token]], device=self.device.type)
                out = self.model(input_ids=next_ids, past_key_values=out.past_key_values, use_cache=True)


def sample_next(logits, seen: list[int], options: ChatOptions, generator, top_k_shown: int = 0, tokenizer=None):
    """Pick the next token: repetition penalty, then temperature, then top-p (llama.cpp's order).

    With ``top_k_shown`` it also returns the top candidates after temperature, and the
    ``TokenStep`` choice fields (raw logits of the likeliest tokens) for the explain view.
    """
    import torch

    logits = logits.clone()
    if options.repetition_penalty != 1.0 and seen:
        idx = torch.tensor(sorted(set(seen)))
        values = logits[idx]
        logits[idx] = torch.where(values > 0, values / options.repetition_penalty, values * options.repetition_penalty)
    if options.temperature == 0.0:
        probs = torch.softmax(logits, dim=-1)
        token = int(torch.argmax(logits))
    else:
        probs = torch.softmax(logits / options.temperature, dim=-1)
        sorted_probs, order = torch.sort(probs, descending=True)
        keep = torch.cumsum(sorted_probs, dim=-1) - sorted_probs < options.top_p
        keep[0] = True
        kept = sorted_probs * keep
        choice = torch.multinomial(kept / kept.sum(), 1, generator=generator)
        token = int(order[choice])
    candidates, choices = [], {}
    if top_k_shown and tokenizer is not None:
        top = torch.topk(probs, top_k_shown)
        candidates = [(tokenizer.decode([int(i)]), float(p)) for p, i in zip(top.values, top.indices)]
        raw = torch.topk(logits, min(CHOICES_KEPT, logits.numel()))
        ids = raw.indices.tolist()
        values = raw.values.tolist()
        if token not in ids:  # a rare pick from the tail: keep it so the view can mark it
            ids.append(token)
            values.append(float(logits[token]))
        choices = {"choice_ids": ids, "choice_logits": values, "logsumexp": float(torch.logsumexp(logits, -1)),
                   "choice_texts": [tokenizer.decode([i]) for i in ids[:CHOICE_TEXTS]],
                   "token_text": tokenizer.decode([token])}
    return token, float(probs[token]), candidates, choices


BACKENDS = [TransformersChat]
