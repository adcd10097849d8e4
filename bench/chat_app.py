"""Chat decode as people get it: through the running app's API and in Chromium, against raw llama.cpp.

Used by ``bench/speed.py`` (paths ``chatapi``, ``concurrent`` and ``chatbrowser``), which passes its ``Row``. Every rate is
client-side: tokens counted from the streamed status line ("Generating… N tokens", then "N tokens in S s"),
timed where the client received them, after the first streamed update (so the prompt's evaluation and the
request's queueing are not decoding). Raw llama.cpp (``Llama.generate`` on the same GGUF, same thread count,
same sampling settings) is measured in the same run, alternating with the app, while the app is idle.
"""

from __future__ import annotations

import os
import re
import statistics
import threading
import time

MESSAGE = "Write a long story about a dragon who learns to bake bread."
SAMPLING = {"temperature": 0.7, "top_p": 0.9, "repetition_penalty": 1.1}
TOKENS = 128
COUNT = re.compile(r"(\d+) tokens")


class RawLlama:
    """The baseline: llama-cpp-python's own generate loop and sampler on the bundled GGUF."""

    def __init__(self, wrapper):
        from llama_cpp import Llama

        from playground.models.chat import MAX_NEW_TOKENS

        threads = os.cpu_count()
        self.llm = Llama(
            model_path=wrapper.source,
            n_ctx=wrapper.context_limit + MAX_NEW_TOKENS,
            n_batch=512,
            n_threads=threads,
            n_threads_batch=threads,
            verbose=False,
            seed=0,
        )
        self.prompt = wrapper.prompt_tokens([{"role": "user", "content": MESSAGE}])

    def rate(self, tokens: int = TOKENS) -> float:
        stamps = []
        for _ in self.llm.generate(
            self.prompt,
            temp=SAMPLING["temperature"],
            top_p=SAMPLING["top_p"],
            repeat_penalty=SAMPLING["repetition_penalty"],
            reset=True,
        ):
            stamps.append(time.perf_counter())
            if len(stamps) == tokens:
                break
        return (len(stamps) - 1) / (stamps[-1] - stamps[0])

    def close(self) -> None:
        self.llm.close()


def streamed_rate(updates: list[tuple[float, str]]) -> tuple[float, int]:
    """Decode tokens/s from (time received, status line) pairs: from the first count to the last."""
    counted = [(t, int(m.group(1))) for t, status in updates if (m := COUNT.search(status or ""))]
    if len(counted) < 2 or counted[-1][1] <= counted[0][1]:
        raise RuntimeError(f"the reply streamed too few counted updates to time: {updates[-3:]}")
    (t0, n0), (t1, n1) = counted[0], counted[-1]
    return (n1 - n0) / (t1 - t0), n1


def streamed_statuses(client, seed: int, tokens: int) -> list[tuple[float, str]]:
    """One chat reply through ``client``: each streamed status line with the time it arrived."""
    job = client.submit(message=MESSAGE, history=[], seed=seed, max_new_tokens=tokens, api_name="/chat", **SAMPLING)
    updates = [(time.perf_counter(), update[2]) for update in job]
    job.result()
    return updates


def api_reply(client, seed: int, tokens: int = TOKENS) -> tuple[float, int]:
    """One chat reply through ``client``; its client-side decode rate and token count."""
    return streamed_rate(streamed_statuses(client, seed, tokens))


def warm_api_rows(Row, url: str, raw: RawLlama, replies: int = 5, drift_replies: int = 50):
    """The 5th reply of one API session, and the flatness of 50 replies in one session, against raw llama.cpp."""
    from gradio_client import Client

    client = Client(url, verbose=False)
    app_rates, raw_rates = [], []
    for i in range(replies):
        raw_rates.append(raw.rate())
        app_rates.append(api_reply(client, seed=i)[0])
    fifth, raw_rate = app_rates[-1], statistics.median(raw_rates)
    rows = [
        Row(
            "chat decode, app API, 5th reply of one session (explain data on)",
            f"{fifth:.1f} tok/s",
            f"raw llama.cpp {raw_rate:.1f} tok/s",
            fifth / raw_rate,
            "≥ 0.8×",
            fifth / raw_rate >= 0.8,
            f"replies 1-{replies}: " + ", ".join(f"{r:.0f}" for r in app_rates),
        )
    ]
    drift_client = Client(url, verbose=False)
    rates = [api_reply(drift_client, seed=100 + i, tokens=64)[0] for i in range(drift_replies)]
    first, last = statistics.mean(rates[:10]), statistics.mean(rates[-10:])
    rows.append(
        Row(
            f"chat decode drift, {drift_replies} replies in one API session",
            f"last 10 {last:.1f} tok/s",
            f"first 10 {first:.1f} tok/s",
            last / first,
            "≥ 0.9×",
            last / first >= 0.9,
        )
    )
    return rows


def engine_batch_ceiling(source: str, counts=(1, 4, 8), steps: int = 15) -> dict[int, float]:
    """Raw llama.cpp alone: aggregate tokens/s of one ``llama_decode`` step holding N sequences' next tokens (a
    separate KV cache per sequence, as the app uses), for each N in ``counts``. What batching can give at most."""
    import ctypes

    import llama_cpp
    from llama_cpp import Llama, _internals

    threads = os.cpu_count()
    llm = Llama(model_path=source, n_ctx=512, n_batch=512, n_threads=threads, n_threads_batch=threads, verbose=False)
    params = llama_cpp.llama_context_params()
    ctypes.pointer(params)[0] = llm.context_params
    params.n_ctx, params.n_seq_max, params.kv_unified = 1024 * max(counts), max(counts), False
    ctx = _internals.LlamaContext(model=llm._model, params=params, verbose=False)
    batch = _internals.LlamaBatch(n_tokens=512, embd=0, n_seq_max=1, verbose=False)
    memory = llama_cpp.llama_get_memory(ctx.ctx)
    prompt = llm.tokenize(MESSAGE.encode())

    def decode(entries):  # [(token, position, sequence)], logits for every entry
        batch.reset()
        b = batch.batch
        for i, (token, pos, seq) in enumerate(entries):
            b.token[i], b.pos[i], b.seq_id[i][0], b.n_seq_id[i], b.logits[i] = token, pos, seq, 1, True
        b.n_tokens = len(entries)
        ctx.decode(batch)

    rates = {}
    try:
        for seq in range(max(counts)):
            decode([(t, i, seq) for i, t in enumerate(prompt)])
        for n in counts:
            times = []
            for step in range(steps):
                start = time.perf_counter()
                decode([(100 + step, len(prompt), seq) for seq in range(n)])
                times.append(time.perf_counter() - start)
                for seq in range(n):
                    llama_cpp.llama_memory_seq_rm(memory, seq, len(prompt), -1)
            rates[n] = n / statistics.median(times)
    finally:
        batch.close()
        ctx.close()
        llm.close()
    return rates


def concurrent_rows(Row, url: str, source: str | None = None, counts=(1, 2, 4, 8), tokens: int = 64):
    """Aggregate decode tokens/s of N chats at once, each its own session, against one chat alone."""
    from gradio_client import Client

    clients = [Client(url, verbose=False) for _ in range(max(counts))]
    aggregate = {}
    for n in counts:
        done: list = [None] * n

        def one(i, done=done):
            done[i] = COUNT.search(streamed_statuses(clients[i], seed=i, tokens=tokens)[-1][1])

        start = time.perf_counter()
        threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - start
        aggregate[n] = sum(int(match.group(1)) for match in done) / wall
    rows = []
    for n in counts[1:]:
        ratio = aggregate[n] / aggregate[1]
        target = "≥ 2.5×" if n == max(counts) else "(information)"
        rows.append(
            Row(
                f"chat, {n} sessions at once, aggregate tokens/s (request to reply)",
                f"{aggregate[n]:.1f} tok/s",
                f"1 session {aggregate[1]:.1f} tok/s",
                ratio,
                target,
                ratio >= 2.5 if n == max(counts) else None,
            )
        )
    if source is not None:
        ceiling = engine_batch_ceiling(source)
        for n in (4, 8):
            rows.append(
                Row(
                    f"raw llama.cpp, {n} sequences in one llama_decode step, aggregate tokens/s",
                    f"{ceiling[n]:.1f} tok/s",
                    f"1 sequence {ceiling[1]:.1f} tok/s",
                    ceiling[n] / ceiling[1],
                    "(the engine's ceiling for the rows above)",
                    None,
                )
            )
    return rows


def browser_rows(Row, url: str, raw: RawLlama, replies: int = 5):
    """The 5th reply typed into the Chat tab in Chromium (Enter to send), explain view open, against raw llama.cpp.

    A MutationObserver in the page stamps every change of the status line with ``performance.now()``: the
    rate is what the page showed, not what the server computed."""
    from playwright.sync_api import sync_playwright

    observe = """() => { window.__stamps = []; const node = document.querySelector('#chat-status');
        new MutationObserver(() => window.__stamps.push([performance.now() / 1000, node.innerText]))
            .observe(node, {subtree: true, childList: true, characterData: true}); }"""
    app_rates, raw_rates = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(url)
        page.locator("#chat-message textarea").wait_for(timeout=60_000)
        page.evaluate(observe)
        for _ in range(replies):
            raw_rates.append(raw.rate(256))  # the tab's default Max new tokens
            page.evaluate("() => { window.__stamps = []; }")
            box = page.locator("#chat-message textarea")
            box.fill(MESSAGE)
            box.press("Enter")
            page.locator("#chat-status").get_by_text("tokens/s").wait_for(timeout=600_000)
            app_rates.append(streamed_rate(page.evaluate("() => window.__stamps"))[0])
            page.get_by_role("button", name="Clear chat").click()
            page.locator("#chat-status").get_by_text("tokens/s").wait_for(state="detached", timeout=30_000)
        browser.close()
    fifth, raw_rate = app_rates[-1], statistics.median(raw_rates)
    return [
        Row(
            "chat decode, Chat tab in Chromium, 5th reply (explain view open)",
            f"{fifth:.1f} tok/s",
            f"raw llama.cpp {raw_rate:.1f} tok/s",
            fifth / raw_rate,
            "≥ 0.8×",
            fifth / raw_rate >= 0.8,
            f"replies 1-{replies}: " + ", ".join(f"{r:.0f}" for r in app_rates),
        )
    ]
