"""Several conversations decoded together: one llama.cpp context, one sequence each, one ``llama_decode`` a step.

On a CPU one decoding step of one sequence leaves most of the machine's arithmetic unused: reading the weights
dominates, and a step of four sequences reads them once. llama.cpp's own server decodes its slots that way. Here
each reply holds one sequence of a shared context; whichever reply asks for its next logits while no step runs
leads the step: it waits a moment for the other replies' tokens, decodes all of them in one batch, and hands
each its row of logits.

Exactness: a seeded reply must not depend on which replies it shares steps with. The context keeps a separate
KV cache per sequence (``kv_unified = False``) and each step's batch is ordered by sequence id. Measured on the
bundled SmolLM2 (24 teacher-forced steps): a sequence's logits in batches of 1, 2 and 4 were bitwise equal to a
lone ``Llama.eval``, in every step. With a unified KV cache they were not (1 step of 24 equal, max difference 1.1
logits), and with the sequence ids out of order the batch split into slow pieces (5× slower per step). A prompt
is evaluated in a decode of its own, in chunks of ``n_batch``, as ``Llama.eval`` does.
"""

from __future__ import annotations

import ctypes
import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterator

GATHER = 0.003  # seconds a step's leader waits for the other replies' tokens (a sampler takes about 0.5 ms)


class BatchDecoder:
    """``n_seq`` sequences of one context built like ``llm``'s (same threads, batch size and attention kind),
    each with ``n_ctx_seq`` cells of its own.

    ``threads()``, when given, is asked before each decode how many threads it may use (at most ``llm``'s). ggml's
    threads wait for each other at a spinning barrier after every operation, so on a machine whose cores are
    busy with other work each descheduled thread stalls the rest: with a second model computing beside it, a
    decode on fewer threads is the quicker one. The thread count does not change the logits (measured bitwise,
    prompt and steps, 1 against 2 threads).
    """

    def __init__(self, llm, n_seq: int, n_ctx_seq: int, threads: Callable[[], int] | None = None):
        import llama_cpp
        from llama_cpp import _internals

        params = llama_cpp.llama_context_params()
        ctypes.pointer(params)[0] = llm.context_params
        params.n_ctx, params.n_seq_max, params.kv_unified = n_ctx_seq * n_seq, n_seq, False
        self.ctx = _internals.LlamaContext(model=llm._model, params=params, verbose=False)
        self.n_batch, self.n_vocab = llm.n_batch, llm.n_vocab()
        self.batch = _internals.LlamaBatch(n_tokens=max(self.n_batch, n_seq), embd=0, n_seq_max=1, verbose=False)
        self._memory = llama_cpp.llama_get_memory(self.ctx.ctx)
        self._set_threads, self._threads = llama_cpp.llama_set_n_threads, threads
        self._max_threads = self._n_threads = llm.context_params.n_threads
        self._seq_rm = llama_cpp.llama_memory_seq_rm
        self._cond = threading.Condition()
        self._free = list(range(n_seq))
        self._active: set[int] = set()
        self._pending: dict[int, tuple[int, int]] = {}  # sequence -> (token, position) it waits to have evaluated
        self._rows: dict[int, object] = {}  # sequence -> its logits after the last step
        self._busy = False  # a decode (a prompt or a step) is running
        self.widest = 0  # the most sequences one step has decoded
        self.shared_steps = 0  # steps that decoded more than one sequence (shows batching happened)
        self.decodes_on: dict[int, int] = {}  # thread count -> decodes run on that many threads

    def close(self) -> None:
        self.batch.close()
        self.ctx.close()

    @contextmanager
    def sequence(self) -> Iterator[Sequence]:
        """A free sequence for one reply, waiting for one if all are taken; emptied when the reply ends."""
        with self._cond:
            while not self._free:
                self._cond.wait()
            seq = self._free.pop(0)
            self._active.add(seq)
        try:
            yield Sequence(self, seq)
        finally:
            with self._cond:
                while self._busy:  # never edit the cache under a running decode
                    self._cond.wait()
                self._seq_rm(self._memory, seq, -1, -1)
                self._active.discard(seq)
                self._pending.pop(seq, None)
                self._rows.pop(seq, None)
                self._free.append(seq)
                self._free.sort()
                self._cond.notify_all()

    def _put(self, i: int, token: int, pos: int, seq: int, logits: bool) -> None:
        """Set entry ``i`` of the batch: ``token`` at ``pos`` on ``seq``, with or without its logits."""
        b = self.batch.batch
        b.token[i], b.pos[i], b.seq_id[i][0], b.n_seq_id[i], b.logits[i] = token, pos, seq, 1, logits

    def _decode(self) -> None:
        """Decode the batch as filled, on as many threads as ``threads()`` allows now."""
        if self._threads is not None:
            n = max(1, min(self._max_threads, self._threads()))
            if n != self._n_threads:
                self._set_threads(self.ctx.ctx, n, n)
                self._n_threads = n
        self.decodes_on[self._n_threads] = self.decodes_on.get(self._n_threads, 0) + 1
        self.ctx.decode(self.batch)

    def _logits(self, index: int):
        import numpy as np

        return np.ctypeslib.as_array(self.ctx.get_logits_ith(index), shape=(self.n_vocab,)).copy()

    def _decode_alone(self, fill) -> object:
        """Run one exclusive decode (a prompt chunk): ``fill()`` sets its tokens and returns the logits' index."""
        with self._cond:
            while self._busy:
                self._cond.wait()
            self._busy = True
        try:
            self.batch.reset()
            index = fill()
            self._decode()
            return self._logits(index)
        finally:
            with self._cond:
                self._busy = False
                self._cond.notify_all()

    def evaluate_prompt(self, seq: int, tokens: list[int]):
        """Evaluate a reply's whole prompt on its sequence; the logits after its last token."""
        row = None
        for start in range(0, len(tokens), self.n_batch):
            chunk = tokens[start : start + self.n_batch]

            def fill(chunk=chunk, start=start):
                for i, token in enumerate(chunk):
                    self._put(i, token, start + i, seq, i == len(chunk) - 1)
                self.batch.batch.n_tokens = len(chunk)
                return len(chunk) - 1

            row = self._decode_alone(fill)
        return row

    def step(self, seq: int, token: int, pos: int):
        """Evaluate ``token`` at ``pos`` on ``seq``, in one decode with every other reply's token that is ready."""
        with self._cond:
            self._pending[seq] = (token, pos)
            deadline = time.monotonic() + GATHER
            while seq not in self._rows:
                if not self._busy and seq in self._pending:
                    # lead a step: give the other replies a moment to hand in their tokens
                    remaining = deadline - time.monotonic()
                    if len(self._pending) < len(self._active) and remaining > 0:
                        self._cond.wait(remaining)
                        continue
                    self._run_step()
                else:
                    self._cond.wait()
            row = self._rows.pop(seq)
        if isinstance(row, BaseException):
            raise row
        return row

    def _run_step(self) -> None:
        """Decode every pending token in one batch, ordered by sequence; called holding the lock."""
        taken = sorted(self._pending.items())
        self._pending.clear()
        self._busy = True
        self._cond.release()
        try:
            self.batch.reset()
            for i, (seq, (token, pos)) in enumerate(taken):
                self._put(i, token, pos, seq, True)
            self.batch.batch.n_tokens = len(taken)
            self._decode()
            rows = {seq: self._logits(i) for i, (seq, _) in enumerate(taken)}
        except Exception as exc:  # every reply in the step gets the error, none waits forever
            rows = {seq: exc for seq, _ in taken}
        finally:
            self._cond.acquire()
            self._busy = False
        self._rows.update(rows)
        self.widest = max(self.widest, len(taken))
        self.shared_steps += len(taken) > 1
        self._cond.notify_all()


class Sequence:
    """One reply's sequence: its prompt, then one token at a time."""

    def __init__(self, decoder: BatchDecoder, seq: int):
        self.decoder, self.seq, self.pos = decoder, seq, 0

    def next_logits(self, prompt: list[int], token: int | None):
        if token is None:
            row = self.decoder.evaluate_prompt(self.seq, prompt)
            self.pos = len(prompt)
        else:
            row = self.decoder.step(self.seq, token, self.pos)
            self.pos += 1
        return row
