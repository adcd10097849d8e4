"""Sweep parsing and text metrics: pure functions, checked against hand-worked values."""

import threading

import pytest

from playground.errors import UserError
from playground.metrics import distinct_n, mean_pairwise_similarity, word_diff, word_error_rate
from playground.models.text_to_image import DiffusersText2Image
from playground.sweep import parse_option_values, run_sweep

OPTS = DiffusersText2Image.Options


def test_word_error_rate_counts_edits_over_reference_words():
    assert word_error_rate("The cat sat.", "the cat sat") == 0.0
    assert word_error_rate("the cat sat on", "the bat sat") == pytest.approx(0.5)  # 1 sub + 1 del over 4
    assert word_error_rate("a b", "a b c d") == pytest.approx(1.0)  # 2 insertions over 2


def test_word_diff_marks_missing_and_extra_words():
    assert word_diff("the cat sat", "the bat sat") == [("the", None), ("cat", "-"), ("bat", "+"), ("sat", None)]


def test_diversity_of_identical_and_different_answers():
    same = ["one two three", "one two three"]
    assert distinct_n(same, 1) == pytest.approx(0.5)
    assert mean_pairwise_similarity(same) == 1.0
    different = ["one two three", "four five six"]
    assert distinct_n(different, 2) == 1.0
    assert mean_pairwise_similarity(different) == 0.0


def test_parse_option_values_checks_each_value_against_the_declared_bounds():
    assert parse_option_values("1, 7.5", OPTS, "guidance_scale") == [1.0, 7.5]
    assert parse_option_values([4, 8], OPTS, "steps") == [4, 8]
    for bad, words in [
        ("1, x", "'x' is not a number"),
        ("99", "between"),
        ("", "at least one"),
        ("2.5", "whole numbers"),
        ("nan", "finite"),
    ]:
        name = "steps" if bad == "2.5" else "guidance_scale"
        with pytest.raises(UserError, match=words):
            parse_option_values(bad, OPTS, name)
    with pytest.raises(UserError, match="Unknown setting"):
        parse_option_values("1", OPTS, "nonsense")


@pytest.mark.concurrency
def test_run_sweep_keeps_finished_cells_when_stopped():
    gate = threading.Event()

    def run_one(cell, report, stop):
        if cell == 2:
            gate.wait(5)
        return cell * 10

    seen = []
    sweep = run_sweep([1, 2, 3], run_one)
    for kind, value in sweep:
        seen.append((kind, value))
        if kind == "cell" and value[0] == 0:
            sweep.close()  # a cancelled request: the worker stops before the next cell
            gate.set()
            break
    assert seen == [("cell", (0, 10))]
    assert list(run_sweep([1, 2], lambda c, r, s: c)) == [("cell", (0, 1)), ("cell", (1, 2))]
