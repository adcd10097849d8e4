"""Chat on the real bundled SmolLM2 model, through both local backends (llama.cpp and transformers).

Both share one decoding loop and one sampler, so each behaviour below is checked on each.
"""

import importlib.util
import time

import pytest

from playground.models.chat import LlamaCppChat, TransformersChat

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]
LLAMA_CPP_MISSING = importlib.util.find_spec("llama_cpp") is None
BACKEND_PARAMS = [
    pytest.param(
        LlamaCppChat,
        id="llama.cpp",
        marks=pytest.mark.skipif(
            LLAMA_CPP_MISSING, reason="llama-cpp-python is not installed: make setup builds it (about 11 minutes)"
        ),
    ),
    pytest.param(TransformersChat, id="transformers"),
]


def load_backend(registry, backend):
    """The bundled model through one backend: the registry's pick, or a wrapper made the same way."""
    picked = registry.get("chat")
    if isinstance(picked, backend):
        wrapper = picked
    else:
        wrapper = backend(
            picked.model_id, picked.source, registry.device.resolve(), picked.cache_dir, policy=picked.policy
        )
    wrapper.ensure_loaded()
    return wrapper


@pytest.fixture(scope="module", params=BACKEND_PARAMS)
def chat(request, registry):
    return load_backend(registry, request.param)


def test_registry_picks_llama_cpp_for_gguf_when_installed(registry):
    expected = TransformersChat if LLAMA_CPP_MISSING else LlamaCppChat
    assert type(registry.get("chat")) is expected


def reply(chat, messages, seed, **options):
    return "".join(step.text for step in chat.stream(messages, chat.Options.parse(**options), seed))


def test_bundled_model_answers(chat):
    text = reply(chat, QUESTION, seed=1, temperature=0.0, max_new_tokens=30)
    assert "paris" in text.lower()


def test_converted_gguf_is_cached_as_safetensors(registry):
    load_backend(registry, TransformersChat)
    converted = list((registry.cache_dir / "chat" / "converted").glob("*/model.safetensors"))
    assert converted, "the GGUF conversion should be cached"


def test_same_seed_same_reply_different_seed_differs(chat):
    a = reply(chat, QUESTION, seed=7, temperature=1.2, max_new_tokens=25)
    b = reply(chat, QUESTION, seed=7, temperature=1.2, max_new_tokens=25)
    others = {reply(chat, QUESTION, seed=s, temperature=1.2, max_new_tokens=25) for s in (8, 9)}
    assert a == b
    assert others - {a}, "different seeds should give a different sampled reply"


def test_multi_turn_history_and_system_prompt_reach_the_template(chat):
    messages = [
        {"role": "system", "content": "You are a pirate."},
        {"role": "user", "content": "My name is Zorblax."},
        {"role": "assistant", "content": "Ahoy Zorblax!"},
        {"role": "user", "content": "What is my name?"},
    ]
    prompt = chat.decode(chat.prompt_tokens(messages)) if chat.backend == "transformers" else chat.prompt_text(messages)
    assert "You are a pirate." in prompt and "Ahoy Zorblax!" in prompt and prompt.rstrip().endswith("assistant")
    assert "zorblax" in reply(chat, messages, seed=0, temperature=0.0, max_new_tokens=20).lower()


def test_closing_the_stream_stops_generation(chat):
    stream = chat.stream(QUESTION, chat.Options.parse(max_new_tokens=2000, temperature=1.0), seed=3)
    for _ in range(3):
        next(stream)
    stream.close()
    with pytest.raises(StopIteration):
        next(stream)
    time.sleep(0.5)  # the worker finishes the token it was computing, then sees the stop
    passes = chat.forward_passes
    time.sleep(0.5)
    assert chat.forward_passes == passes < 2000


def test_max_new_tokens_bounds_the_reply(chat):
    steps = list(chat.stream(QUESTION, chat.Options.parse(max_new_tokens=5, temperature=1.0), seed=2))
    assert 1 <= len(steps) <= 5


def test_candidates_show_what_the_model_chose_from(chat):
    step = next(chat.stream(QUESTION, chat.Options.parse(temperature=0.0), seed=0, top_k_shown=5))
    probs = [p for _, p in step.candidates]
    assert len(probs) == 5 and probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1.0001


def test_both_backends_render_the_same_prompt_tokens(registry):
    if LLAMA_CPP_MISSING:
        pytest.skip("llama-cpp-python is not installed: make setup builds it (about 11 minutes)")
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Héllo, wörld! 🙂 2+2?"}]
    fast, reference = load_backend(registry, LlamaCppChat), load_backend(registry, TransformersChat)
    assert fast.prompt_text(messages) == reference.prompt_text(messages)
    assert fast.prompt_tokens(messages) == reference.prompt_tokens(messages)
    # llama.cpp also stops on the vocabulary's other end-of-text tokens
    assert reference.stop_ids <= fast.stop_ids


def next_token_distributions(wrapper, prompt: list[int], continuation: list[int]):
    """The next-token distribution after the prompt and after each token of ``continuation`` (teacher-forced)."""
    import torch

    with torch.inference_mode(), wrapper.decoding(prompt) as next_logits:
        rows = [next_logits(None)]
        rows += [next_logits(token) for token in continuation[:-1]]
    return torch.softmax(torch.stack(rows).float(), -1)


def total_variation(p, q) -> float:
    """Mean over positions of the total variation distance: half the L1 distance of two distributions."""
    return float(0.5 * (p - q).abs().sum(-1).mean())


# llama.cpp may differ from the float32 reference by at most this many times what rounding to bfloat16 costs
ROUNDING_FACTOR = 3


def test_backends_see_the_same_next_token_distribution(registry):
    """llama.cpp runs the 4-bit weights as they are; transformers de-quantizes them to float32. Both see the
    same weights, so they differ only by arithmetic: llama.cpp rounds every activation to 8 bits (q8 blocks)
    before its dot products and keeps the KV cache in float16.

    The bound is derived in the same run, not measured once: rounding the same model to bfloat16 (8 significant
    bits, the precision of llama.cpp's q8 activations) moves the reference by some total variation; llama.cpp may
    move it by at most ``ROUNDING_FACTOR`` times that, over a 16-token teacher-forced reply. A real mismatch is
    far outside it: a wrong chat template moves the distributions about 20 times as far (asserted below), and a
    wrong tokenizer or wrong weights change the top tokens themselves.
    """
    import torch

    if LLAMA_CPP_MISSING:
        pytest.skip("llama-cpp-python is not installed: make setup builds it (about 11 minutes)")
    fast, reference = load_backend(registry, LlamaCppChat), load_backend(registry, TransformersChat)
    rounded = load_backend(registry, TransformersChat)  # a wrapper of its own, so rounding it touches no other
    if rounded is reference:
        pytest.skip("the registry handed out one shared transformers wrapper")
    rounded.model = rounded.model.to(torch.bfloat16)
    prompt = fast.prompt_tokens(QUESTION)
    continuation = []  # the reference's greedy reply, up to its end of turn
    with torch.inference_mode(), reference.decoding(prompt) as next_logits:
        logits = next_logits(None)
        while len(continuation) < 16 and int(logits.argmax()) not in reference.stop_ids:
            continuation.append(int(logits.argmax()))
            logits = next_logits(continuation[-1])
    assert len(continuation) >= 4, reference.decode(continuation)

    exact = next_token_distributions(reference, prompt, continuation)
    quantised = next_token_distributions(fast, prompt, continuation)
    bound = ROUNDING_FACTOR * total_variation(next_token_distributions(rounded, prompt, continuation), exact)
    assert set(torch.topk(quantised[0], 5).indices.tolist()) == set(torch.topk(exact[0], 5).indices.tolist())
    assert total_variation(quantised, exact) < bound

    # the same check catches a real mismatch: a prompt in another model's template (Llama 2's [INST])
    wrong = reference.tokenizer("[INST] What is the capital of France? [/INST]", add_special_tokens=False).input_ids
    assert total_variation(next_token_distributions(fast, wrong, continuation), exact) > 5 * bound


@pytest.mark.concurrency
def test_seeded_reply_does_not_depend_on_what_the_contexts_ran_before(registry):
    """A seeded reply must not depend on which sequence it lands on or what that sequence ran before.

    A clean CI run replayed a chat from History through the API and got another reply while contexts reused
    cached prefixes; this in-process version did not reproduce that, and test_history's replay is the
    end-to-end check. Each reply now evaluates its whole prompt, so no earlier work can leak in."""
    import threading

    if LLAMA_CPP_MISSING:
        pytest.skip("llama-cpp-python is not installed: make setup builds it (about 11 minutes)")
    chat = load_backend(registry, LlamaCppChat)
    system = {"role": "system", "content": "You are a helpful assistant. Answer briefly."}
    first = reply(chat, [system, *QUESTION], seed=4, temperature=0.9, max_new_tokens=12)
    follow_up = [system, *QUESTION, {"role": "assistant", "content": first}, {"role": "user", "content": "Why?"}]
    expected = reply(chat, follow_up, seed=4, temperature=0.9, max_new_tokens=30)
    others = [[system, {"role": "user", "content": f"Name a fruit that starts with {c}."}] for c in "ABCD"]
    threads = [threading.Thread(target=reply, args=(chat, m), kwargs={"seed": 1, "max_new_tokens": 8}) for m in others]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert chat.batcher.widest > 1  # they shared steps, and the replays below land on sequences they used
    assert {reply(chat, follow_up, seed=4, temperature=0.9, max_new_tokens=30) for _ in range(3)} == {expected}


@pytest.mark.concurrency
def test_concurrent_conversations_are_reproducible(registry):
    import threading

    chat = registry.load("chat")
    options = chat.Options.parse(temperature=1.0, max_new_tokens=20)
    alone = reply(chat, QUESTION, seed=5, **options.model_dump())
    results = {}

    def run(i):
        results[i] = reply(chat, QUESTION, seed=5, **options.model_dump())

    threads = [threading.Thread(target=run, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(results.values()) == {alone}


def test_replies_decoded_together_equal_replies_decoded_alone(registry):
    """Four different conversations at once share each llama.cpp step (one batch), and each reply is the one
    it gives alone, token for token."""
    import threading

    if LLAMA_CPP_MISSING:
        pytest.skip("llama-cpp-python is not installed: make setup builds it (about 11 minutes)")
    chat = load_backend(registry, LlamaCppChat)
    asks = [
        [{"role": "user", "content": text}]
        for text in (
            "Tell me about the sea.",
            "What is two plus two?",
            "Write a poem about bread.",
            "Name three colours.",
        )
    ]
    alone = [reply(chat, messages, seed=i, temperature=0.9, max_new_tokens=24) for i, messages in enumerate(asks)]
    shared = chat.batcher.shared_steps
    together: dict[int, str] = {}
    start = threading.Barrier(len(asks))

    def run(i):
        start.wait()
        together[i] = reply(chat, asks[i], seed=i, temperature=0.9, max_new_tokens=24)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(asks))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert chat.batcher.shared_steps - shared >= 12, "the replies did not share llama.cpp's steps"
    assert [together[i] for i in range(len(asks))] == alone


def test_chat_decodes_on_one_thread_while_another_model_computes_and_the_reply_is_the_same(registry):
    """ggml's threads spin at a barrier after every operation: beside another model's work on the same cores,
    llama.cpp decodes on one thread (the mixed load's wall time fell by a fifth), and the reply does not change."""
    import os

    if LLAMA_CPP_MISSING:
        pytest.skip("llama-cpp-python is not installed: make setup builds it (about 11 minutes)")
    if (os.cpu_count() or 1) < 2:
        pytest.skip("one core: llama.cpp decodes on one thread anyway")
    chat = registry.get("chat")
    chat.ensure_loaded()
    other = registry.get("captioning")
    asked = dict(seed=5, temperature=0.9, max_new_tokens=16)
    before = dict(chat.batcher.decodes_on)
    alone = reply(chat, QUESTION, **asked)
    assert chat.batcher.decodes_on.get(1, 0) == before.get(1, 0), "chat alone decoded on one thread"
    with other.in_use():  # the captioner is loaded and counted as running until the block ends
        beside = reply(chat, QUESTION, **asked)
        on_one = chat.batcher.decodes_on.get(1, 0) - before.get(1, 0)
    assert on_one == 17, f"{on_one} of 17 decodes (the prompt and 16 steps) ran on one thread"
    assert beside == alone
    assert reply(chat, QUESTION, **asked) == alone
    assert chat.batcher.decodes_on.get(1, 0) - before.get(1, 0) == on_one, "chat alone again did not get its cores back"


def test_the_sampler_runs_serially_on_the_chat_thread_only():
    """llama.cpp's sampler thread keeps torch to itself (see serial_torch_on_this_thread): the same tokens as torch
    spread over every core draws, and no other thread loses its cores. CTranslate2 (speech to text) is loaded
    first, as in the app: it brings a second, renamed libgomp, and the team size must be set on torch's."""
    import threading

    import torch

    torch.get_num_threads()  # torch and its libgomp first; CTranslate2's copy then maps below it, as in the app
    import ctranslate2  # noqa: F401

    from playground.devices import serial_torch_on_this_thread
    from playground.models.chat import ChatOptions, sample_next

    if torch.get_num_threads() < 2:
        pytest.skip("one core: torch runs serially everywhere")
    default = torch.get_num_threads()
    logits = [torch.randn(49152, generator=torch.Generator().manual_seed(i)) * 4 for i in range(40)]
    options = ChatOptions.parse(temperature=0.9, top_p=0.95, repetition_penalty=1.1)
    drawn, teams = {}, {}

    def draw(name):
        teams[name] = torch.get_num_threads()
        generator = torch.Generator().manual_seed(3)
        drawn[name] = [sample_next(row, [1, 2, 3], options, generator, 5, str)[:2] for row in logits]

    def sample(name, serial):
        if not serial:
            return draw(name)
        with serial_torch_on_this_thread() as took_effect:
            assert took_effect
            draw(name)
        teams["serial, afterwards"] = torch.get_num_threads()

    for name, serial in (("spread", False), ("serial", True), ("after", False)):
        thread = threading.Thread(target=sample, args=(name, serial))
        thread.start()
        thread.join()
    assert teams == {"spread": default, "serial": 1, "serial, afterwards": default, "after": default}
    assert torch.get_num_threads() == default
    assert drawn["serial"] == drawn["spread"] == drawn["after"]
