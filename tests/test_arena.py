"""The blind arena: Bradley–Terry ratings against hand-worked cases, contestants refused in one sentence, rounds that
name no contestant in the API or the page until the vote, and votes kept per login across a restart."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import ARTIFACTS, open_app
from playground import arena
from playground.app_process import running_app
from playground.bundled import ASSETS
from playground.errors import UserError
from playground.history import RunLog

CHAT = "bundled/smollm2-135m-instruct"
ROUND_ID = re.compile(r"^\d{8}-\d{6}-\d{6}-[0-9a-f]{8}$")


def contestant(model: str = CHAT, **options) -> str:
    return json.dumps({"model": model, **options})


def hidden(result, *secrets: str) -> None:
    """Nothing in ``result`` names a contestant: no model, no option name, no setting's value."""
    text = json.dumps(result, default=str).lower()
    leaked = [s for s in secrets if s.lower() in text]
    assert not leaked, f"{leaked} in {text[:400]}"


# ---------------------------------------------------------------- ratings, against cases worked by hand


def test_two_contestants_match_the_hand_computed_strengths():
    rows = {r["contestant"]: r for r in arena.ratings([("A", "B", "A"), ("A", "B", "a"), ("A", "B", "B")])}
    # one virtual tie on top: A has 2 + 0.5 of the 4 games, B 1 + 0.5, so p_A : p_B = 2.5 : 1.5 = 5 : 3 and, with a
    # geometric mean of 1, p_A = sqrt(5/3): A sits 200·log10(5/3) above 1000 and B as far below
    gap = 400 * math.log10(5 / 3)
    assert rows["A"]["rating"] == pytest.approx(1000 + gap / 2, abs=0.05)
    assert rows["B"]["rating"] == pytest.approx(1000 - gap / 2, abs=0.05)
    assert rows["A"]["votes"] == rows["B"]["votes"] == 3
    for row in rows.values():
        assert row["low"] <= row["rating"] <= row["high"]


def test_the_mm_fit_solves_the_likelihood_equations_for_three_contestants():
    """Hunter's MM fixed point is where each contestant's expected score equals its actual score."""
    # A beat B twice and C once, B beat C once, and one virtual tie per pair: A 2.5 + 1.5, B 0.5 + 1.5, C 0.5 + 0.5
    scores = np.array([4.0, 2.0, 1.0])
    games = np.array([[0, 3, 2], [3, 0, 2], [2, 2, 0]], dtype=float)
    p = arena.bradley_terry(scores, games)
    expected = (games * p[:, None] / (p[:, None] + p[None, :])).sum(axis=1)
    assert np.allclose(expected, scores, atol=1e-9)
    assert np.exp(np.mean(np.log(p))) == pytest.approx(1.0)
    assert p[0] > p[1] > p[2]


def test_ties_and_both_bad_are_half_a_win_each():
    tie = arena.ratings([("A", "B", "tie")] * 4)
    both_bad = arena.ratings([("A", "B", "both bad")] * 4)
    assert [r["rating"] for r in tie] == [r["rating"] for r in both_bad] == [1000.0, 1000.0]


def test_few_votes_give_wide_intervals_and_one_sided_votes_stay_finite():
    def width(matches):
        row = next(r for r in arena.ratings(matches) if r["contestant"] == "A")
        return row["high"] - row["low"]

    # a single vote, a clean sweep or all ties must not read as certain: resampling the votes alone gives zero width
    assert width([("A", "B", "a")]) > 50
    assert width([("A", "B", "a")] * 3) > 50
    assert width([("A", "B", "tie")] * 10) > 20
    assert all(math.isfinite(r["rating"]) for r in arena.ratings([("A", "B", "a")] * 30))
    few, many = width([("A", "B", "a"), ("A", "B", "b")] * 2), width([("A", "B", "a"), ("A", "B", "b")] * 40)
    assert many < few / 2  # the interval narrows about as 1/sqrt(votes): 20 times the votes, under half the width
    assert arena.ratings([("A", "B", "a")] * 7) == arena.ratings([("A", "B", "a")] * 7)  # a fixed bootstrap seed


# ---------------------------------------------------------------- contestants


@pytest.mark.parametrize(
    "given, sentence",
    [
        ("[1, 2]", "contestant_a must be a JSON object"),
        ("{'model': 1}", "contestant_a is not valid JSON"),
        ("", "contestant_a is empty"),
        ('{"temperature": 0.2}', 'contestant_a names no model: give its "model"'),
        (contestant(temp=0.2), "contestant_a: Unknown option 'temp'; known options are temperature"),
        (contestant(temperature=5), "contestant_a: Temperature must be between 0 and 2, got 5"),
        (contestant("x y"), "contestant_a: Unknown model: 'x y' is neither a local path nor a hub id"),
        (contestant("/etc"), "contestant_a: The model path '/etc' is not in a folder this app loads models from"),
    ],
)
def test_a_bad_contestant_is_one_sentence(registry, given, sentence):
    with pytest.raises(UserError) as caught:
        arena.parse_contestant(registry, "chat", given)
    message = str(caught.value)
    assert message.startswith(sentence) and "Traceback" not in message and "\n" not in message


def test_two_spellings_of_one_contestant_are_the_same_and_labels_tell_a_pair_apart(registry):
    plain = arena.parse_contestant(registry, "chat", contestant())
    spelled = arena.parse_contestant(registry, "chat", {"model": CHAT, "temperature": 0.2, "top_p": 0.9})
    assert plain.key == spelled.key  # the bundled model's recommended temperature is 0.2
    pair = arena.contestants_of(
        registry, "text_to_image", [{"model": "bundled/picture-sd", "guidance_scale": g} for g in (3.0, 7.5)]
    )
    # 7.5 is the declared default, but shown beside 3 both labels name the guidance
    assert sorted(c.label for c in pair.values()) == [
        "bundled/picture-sd (guidance_scale=3)",
        "bundled/picture-sd (guidance_scale=7.5)",
    ]


def test_a_round_that_cannot_be_kept_or_run_is_one_sentence(registry, tmp_path):
    from playground.history import NoHistory

    picture = str(sorted((ASSETS / "examples" / "images").glob("*.png"))[0])
    captioner = contestant("bundled/picture-captioner")
    with pytest.raises(UserError, match="The arena keeps its rounds and votes in History, which is off here"):
        arena.play_round(registry, NoHistory("History is off."), "captioning", picture, captioner, captioner)
    run_log = RunLog(tmp_path)
    uncached = contestant("no-such-org/no-such-captioner")  # a hub id: refused when it loads, offline
    with pytest.raises(UserError) as caught:
        arena.play_round(registry, run_log, "captioning", picture, captioner, uncached, seed=1)
    assert str(caught.value).startswith("The round was not played: a contestant's run failed (")
    assert "\n" not in str(caught.value) and run_log.arena_votes() == [] and not (tmp_path / "arena").exists()


# ---------------------------------------------------------------- through the API


def test_an_api_round_names_no_contestant_until_the_vote(client, data_dir):
    a, b = contestant(temperature=0.35, max_new_tokens=6), contestant(temperature=1.15, max_new_tokens=6)
    played = client.predict(message="Name a colour.", contestant_a=a, contestant_b=b, seed=11, api_name="/arena_chat")
    assert len(played) == 3 and ROUND_ID.match(played[0])  # the round id and the two replies, nothing else
    hidden(played, "smollm", "0.35", "1.15", "temperature", "max_new_tokens", "seed")
    revealed = client.predict(round_id=played[0], vote="B", api_name="/arena_vote")
    labels = {revealed["A"]["contestant"], revealed["B"]["contestant"]}
    assert labels == {f"{CHAT} (max_new_tokens=6, temperature=0.35)", f"{CHAT} (max_new_tokens=6, temperature=1.15)"}
    assert revealed["vote"] == "B" and revealed["winner"] == revealed["B"]["contestant"] and revealed["seed"] == 11
    with pytest.raises(Exception, match="already has its vote"):
        client.predict(round_id=played[0], vote="A", api_name="/arena_vote")
    with pytest.raises(Exception, match="A vote is A, B, tie or both bad"):
        client.predict(round_id=played[0], vote="maybe", api_name="/arena_vote")
    board = client.predict(task="chat", api_name="/arena_leaderboard")
    assert board["headers"] == ["contestant", "rating", "low", "high", "votes"]
    rows = {row[0]: row for row in board["data"]}
    assert labels <= set(rows) and all(rows[label][4] >= 1 for label in labels)
    card = RunLog(data_dir).get(revealed["run_id"])  # kept in History, with the names, once voted
    assert card["kind"] == "arena" and card["api_name"] == "arena_chat" and card["settings"]["seed"] == 11
    assert [m["result"] for m in card["metrics"]] == ["loss", "win"]


def test_every_task_plays_a_blind_round(client):
    picture = str(sorted((ASSETS / "examples" / "images").glob("*.png"))[0])
    clip = str(sorted((ASSETS / "examples" / "audio").glob("*.wav"))[0])
    from gradio_client import handle_file

    cases = {
        "/arena_text_to_image": (
            {"prompt": "a cat on the beach"},
            contestant("bundled/picture-sd", guidance_scale=3, steps=2),
            contestant("bundled/picture-sd", guidance_scale=7.5, steps=2),
        ),
        "/arena_caption": (
            {"image": handle_file(picture)},
            contestant("bundled/picture-captioner", temperature=0),
            contestant("bundled/picture-captioner", temperature=1.3),
        ),
        "/arena_transcribe": (
            {"audio": handle_file(clip)},
            contestant("bundled/whisper-tiny.en", beam_size=1),
            contestant("bundled/whisper-tiny.en", beam_size=4),
        ),
        "/arena_synthesize": (
            {"text": "Hello there."},
            contestant("bundled/piper-en_US-joe-medium", expressiveness=0.3),
            contestant("bundled/piper-en_US-joe-medium", expressiveness=1.2),
        ),
    }
    for api, (given, a, b) in cases.items():
        played = client.predict(**given, contestant_a=a, contestant_b=b, seed=3, api_name=api)
        assert len(played) == 3 and ROUND_ID.match(played[0]), api
        hidden(played, "picture-sd", "captioner", "whisper", "piper", "guidance", "beam", "expressiveness", "1.3")
        if api == "/arena_text_to_image":
            for path in played[1:]:
                with Image.open(path) as image:  # no run card in the picture before the vote
                    assert not getattr(image, "text", {}) and image.size[0] > 0
        if api == "/arena_synthesize":
            assert all(Path(p).read_bytes()[:4] == b"RIFF" for p in played[1:])
        revealed = client.predict(round_id=played[0], vote="tie", api_name="/arena_vote")
        assert revealed["vote"] == "Tie" and revealed["run_id"]
    with pytest.raises(Exception, match=r"Contestant 2 \(contestant_b\) names no model"):
        client.predict(prompt="a cat", contestant_a=contestant("bundled/picture-sd"), contestant_b="{}",
                       api_name="/arena_text_to_image")  # fmt: skip
    with pytest.raises(Exception, match="Both contestants are"):
        client.predict(message="Hi", contestant_a=contestant(), contestant_b=contestant(), api_name="/arena_chat")


# ---------------------------------------------------------------- in the page


def page_text(page) -> str:
    """What a person can read in the page: its visible text and the values of its visible fields."""
    return page.evaluate(
        """() => document.body.innerText + '\\n' + [...document.querySelectorAll('input, textarea, select')]
             .filter((e) => e.offsetParent !== null).map((e) => e.value).join('\\n')"""
    ).lower()


def test_the_page_names_no_contestant_until_the_vote(browser, server):
    page = open_app(browser, server)
    try:
        page.get_by_role("tab", name="Arena").click()
        page.locator("#arena-json-1 textarea").fill(contestant(temperature=0.35, max_new_tokens=6))
        page.locator("#arena-json-2 textarea").fill(contestant(temperature=1.15, max_new_tokens=6))
        page.locator("#arena-inputs textarea").fill("Name a colour.\nName a fruit.")
        assert "0.35" in page_text(page)  # the set-up shows them, as typed
        page.locator("#arena-start").click()
        for round_number in (1, 2):
            page.wait_for_selector("#arena-vote-a:not([disabled])", timeout=120_000)
            text = page_text(page)
            leaked = [s for s in ("smollm", "0.35", "1.15", "temperature", "max_new_tokens") if s in text]
            assert not leaked, f"round {round_number} shows {leaked} before the vote"
            assert page.locator("#arena-a-text textarea").input_value().strip() is not None
            if round_number == 1:
                page.screenshot(path=ARTIFACTS / "arena-round.png", full_page=True)
            page.locator("#arena-vote-a" if round_number == 1 else "#arena-vote-tie").click()
            page.wait_for_function(
                "() => (document.querySelector('#arena-reveal')?.innerText || '').includes('was')", timeout=60_000
            )
            reveal = page.locator("#arena-reveal").inner_text()
            assert "temperature=0.35" in reveal and "temperature=1.15" in reveal
            if round_number == 1:
                page.locator("#arena-next").click()
                page.wait_for_function(
                    "() => !(document.querySelector('#arena-reveal')?.innerText || '').includes('was')",
                    timeout=60_000,
                )
        page.wait_for_function(
            "() => (document.querySelector('#arena-board')?.innerText || '').includes('temperature=1.15')",
            timeout=30_000,
        )
        assert "Session over: 2 rounds voted" in page.locator("#arena-status").inner_text()
        page.screenshot(path=ARTIFACTS / "arena-leaderboard.png", full_page=True)
    finally:
        page.close()


# ---------------------------------------------------------------- per login, across a restart


def test_votes_are_per_login_and_survive_a_restart(tmp_path):
    from gradio_client import Client

    data, flags = tmp_path / "data", ("--auth", "alice:wonderland", "--auth", "bob:builder")
    a, b = contestant(temperature=0.1, max_new_tokens=3), contestant(temperature=1.9, max_new_tokens=3)

    def logins(url):
        return Client(url, auth=("alice", "wonderland"), verbose=False), Client(
            url, auth=("bob", "builder"), verbose=False
        )

    with running_app(data, tmp_path / "first.log", *flags) as url:
        alice, bob = logins(url)
        played = alice.predict(message="Hi", contestant_a=a, contestant_b=b, seed=1, api_name="/arena_chat")
        with pytest.raises(Exception, match="There is no round .* of yours to vote on"):
            bob.predict(round_id=played[0], vote="A", api_name="/arena_vote")  # another login's round
        alice.predict(round_id=played[0], vote="A", api_name="/arena_vote")
        before = alice.predict(task="chat", api_name="/arena_leaderboard")["data"]
        assert len(before) == 2 and {row[4] for row in before} == {1}
        assert bob.predict(task="chat", api_name="/arena_leaderboard")["data"] == []  # bob has cast no vote
    with running_app(data, tmp_path / "second.log", *flags) as url:
        alice, bob = logins(url)
        assert alice.predict(task="chat", api_name="/arena_leaderboard")["data"] == before
        assert bob.predict(task="chat", api_name="/arena_leaderboard")["data"] == []
