"""Chat on the real bundled SmolLM2 model."""

import time

import pytest

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture(scope="module")
def chat(registry):
    return registry.load("chat")


def reply(chat, messages, seed, **options):
    return "".join(step.text for step in chat.stream(messages, chat.Options.parse(**options), seed))


def test_bundled_model_answers(chat):
    text = reply(chat, QUESTION, seed=1, temperature=0.0, max_new_tokens=30)
    assert "paris" in text.lower()


def test_converted_gguf_is_cached_as_safetensors(chat, registry):
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
    prompt = chat.tokenizer.decode(chat.prompt_ids(messages)[0])
    assert "You are a pirate." in prompt and "Ahoy Zorblax!" in prompt and prompt.rstrip().endswith("assistant")
    assert "zorblax" in reply(chat, messages, seed=0, temperature=0.0, max_new_tokens=20).lower()


def test_closing_the_stream_stops_generation(chat):
    stream = chat.stream(QUESTION, chat.Options.parse(max_new_tokens=2000, temperature=1.0), seed=3)
    for _ in range(3):
        next(stream)
    stream.close()
    started = time.perf_counter()
    with pytest.raises(StopIteration):
        next(stream)
    assert time.perf_counter() - started < 0.1


def test_max_new_tokens_bounds_the_reply(chat):
    steps = list(chat.stream(QUESTION, chat.Options.parse(max_new_tokens=5, temperature=1.0), seed=2))
    assert 1 <= len(steps) <= 5


def test_candidates_show_what_the_model_chose_from(chat):
    step = next(chat.stream(QUESTION, chat.Options.parse(temperature=0.0), seed=0, top_k_shown=5))
    probs = [p for _, p in step.candidates]
    assert len(probs) == 5 and probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1.0001
