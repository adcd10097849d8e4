"""Runs of the Try it together tab in the run log: one card per run, naming each stage's model, that replays it."""

from __future__ import annotations

import time

import numpy as np
import pytest
from gradio_client import handle_file
from PIL import Image

from playground.history import RunLog


def endpoint_parameters(client, api_name: str) -> set[str]:
    api = client.view_api(print_info=False, return_format="dict")
    return {p["parameter_name"] for p in api["named_endpoints"][f"/{api_name}"]["parameters"]}


def card_of(data_dir, api_name: str, text: str) -> dict:
    return next(c for c in RunLog(data_dir).runs(task="chains", text=text, limit=20) if c["api_name"] == api_name)


def test_draw_and_describe_is_kept_and_replays_pixel_identical(client, data_dir):
    seed = int(time.time() * 1000) % 2**31  # a seed no earlier run of this data dir used
    prompt = "a small boat at night, on the right"
    client.predict(prompt=prompt, rounds=1, seed=seed, image_steps=6, api_name="/chain_draw_describe")
    run_log = RunLog(data_dir)
    card = next(c for c in run_log.runs(task="chains", text=prompt, limit=20) if c["seed"] == seed)
    assert card["api_name"] == "chain_draw_describe" and card["kind"] == "run"
    assert card["model"] == "bundled/picture-sd → bundled/picture-captioner"
    assert card["revision"].count("sha256:") == 2 and card["timings"]["seconds"] > 0
    settings, missing = run_log.replay_settings(card)
    assert not missing and set(settings) == endpoint_parameters(client, "chain_draw_describe")
    assert (settings["prompt"], settings["rounds"], settings["seed"], settings["image_steps"]) == (prompt, 1, seed, 6)
    [picture] = [e for e in card["output_files"] if e["kind"] == "image"]
    caption = card["output_text"]
    assert caption and "failed" not in caption

    client.predict(**settings, api_name=f"/{card['api_name']}")
    again = [c for c in RunLog(data_dir).runs(task="chains", text=prompt, limit=20) if c["seed"] == seed]
    assert len(again) == 2 and again[0]["settings"] == card["settings"] and again[0]["output_text"] == caption
    first, replayed = (
        np.asarray(Image.open(run_log.file(c["output_files"][0]["path"])).convert("RGB")) for c in (card, again[0])
    )
    assert np.array_equal(first, replayed)


def test_say_it_back_is_kept_with_its_speech_transcript_and_score(client, data_dir):
    text = f"Good night, number {int(time.time()) % 1000}."
    client.predict(text=text, api_name="/chain_say_back")
    card = card_of(data_dir, "chain_say_back", text)
    assert card["model"] == "bundled/piper-en_US-joe-medium → bundled/whisper-tiny.en"
    assert set(card["settings"]) == endpoint_parameters(client, "chain_say_back")
    assert card["settings"]["text"] == text and card["seed"] is None and card["input_text"] == text
    assert card["output_text"].startswith("Heard: ") and "Word error rate" in card["output_text"]
    assert [e["kind"] for e in card["output_files"]] == ["audio"]


def test_talk_is_kept_with_the_question_the_conversation_and_the_spoken_reply(client, data_dir, speech_wav):
    seed = int(time.time() * 1000) % 2**31
    client.predict(audio=handle_file(str(speech_wav[0])), seed=seed, chat_max_new_tokens=8, api_name="/chain_talk")
    run_log = RunLog(data_dir)
    card = next(c for c in run_log.runs(task="chains", limit=20) if c["api_name"] == "chain_talk" and c["seed"] == seed)
    assert card["model"].count(" → ") == 2 and card["settings"]["chat_max_new_tokens"] == 8
    settings, missing = run_log.replay_settings(card)
    assert not missing and set(settings) == endpoint_parameters(client, "chain_talk")
    assert (
        settings["history"] == []
        and run_log.file(card["input_files"][0]["path"]).read_bytes() == speech_wav[0].read_bytes()
    )
    assert "Heard: " in card["output_text"] and "Reply: " in card["output_text"]
    assert [e["kind"] for e in card["output_files"]] == ["audio"]


@pytest.mark.parametrize("case", ["a later stage failed", "nothing was made"])
def test_a_failed_chain_keeps_what_was_made_and_skips_a_run_with_nothing(client, data_dir, case):
    text = f"Failing on purpose {case} {time.time()}."
    stt, tts = ("openai/whisper-small", "") if case == "a later stage failed" else ("", "no-such/voice-model")
    client.predict(text=text, stt_model=stt, tts_model=tts, api_name="/chain_say_back")
    kept = [c for c in RunLog(data_dir).runs(task="chains", text=text, limit=5)]
    if case == "nothing was made":
        assert kept == []
    else:
        [card] = kept
        assert "The Speech to Text stage failed" in card["output_text"] and card["settings"]["stt_model"] == stt
        assert [e["kind"] for e in card["output_files"]] == ["audio"]  # the speech that was made is kept


def test_history_sends_a_chain_run_back_to_its_own_controls(registry):
    import gradio as gr

    from playground.ui import chains
    from playground.ui.endpoints import endpoint_for, endpoints_of, restore_slots

    with gr.Blocks():
        built = chains.build(registry)
    slots = restore_slots({"chains": built})
    runs = endpoints_of(built)
    assert slots[("chains", "chain_draw_describe", "prompt")] is runs["chain_draw_describe"].controls["prompt"]
    assert slots[("chains", "chain_talk", "history")] is built["talk_chatbot"]
    assert slots[("chains", "chain_say_back", "stt_model")] is not slots[("chains", "chain_talk", "stt_model")]
    card = {"task": "chains", "api_name": "chain_say_back", "kind": "run"}
    assert endpoint_for(card, {"chains": built}) is runs["chain_say_back"]
    assert {r.tab for r in runs.values()} == {"chain-talk", "chain-draw", "chain-say"}
