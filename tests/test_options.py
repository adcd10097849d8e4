"""Options validation: every bad value gets one sentence that names it and its range."""

import math

import pytest

from playground.errors import UserError
from playground.models.chat import ChatOptions
from playground.models.text_to_image import ImageOptions
from playground.ui.controls import require_text, resolve_seed


def test_defaults_come_from_the_declaration():
    options = ChatOptions.parse()
    assert (options.temperature, options.top_p, options.max_new_tokens) == (0.7, 0.9, 256)


@pytest.mark.parametrize(
    "values, message",
    [
        ({"temperature": 5.0}, "Temperature must be between 0 and 2, got 5.0."),
        ({"temperature": -0.1}, "Temperature must be between 0 and 2, got -0.1."),
        ({"top_p": 0.0}, "Top-p must be between 0 and 1, got 0.0."),
        ({"max_new_tokens": 0}, "Max new tokens must be between 1 and 2048, got 0."),
        ({"temperature": math.nan}, "Temperature must be a finite number, got nan."),
        ({"temperature": math.inf}, "Temperature must be a finite number, got inf."),
        ({"temperature": "hot"}, "Temperature must be a number, got 'hot'."),
        ({"max_new_tokens": 2.5}, "Max new tokens must be a whole number, got 2.5."),
        ({"colour": 1}, "Unknown option 'colour'"),
    ],
)
def test_bad_values_name_the_option_and_range(values, message):
    with pytest.raises(UserError) as err:
        ChatOptions.parse(**values)
    assert str(err.value).startswith(message)
    assert "\n" not in str(err.value)


def test_image_options_bounds():
    with pytest.raises(UserError, match="Steps must be between 1 and 100, got 500"):
        ImageOptions.parse(steps=500)


@pytest.mark.parametrize("seed, expected", [(0, 0), (42, 42), ("7", 7), (2**32 - 1, 2**32 - 1)])
def test_explicit_seeds_are_kept(seed, expected):
    assert resolve_seed(seed) == expected


def test_minus_one_draws_a_random_seed():
    drawn = {resolve_seed(-1) for _ in range(5)}
    assert len(drawn) > 1 and all(0 <= s < 2**32 for s in drawn)


@pytest.mark.parametrize(
    "seed, message",
    [
        (1.5, "whole number"),
        (-2, "between 0 and"),
        (2**32, "between 0 and"),
        (math.nan, "finite"),
        ("abc", "whole number"),
    ],
)
def test_bad_seeds(seed, message):
    with pytest.raises(UserError, match=message):
        resolve_seed(seed)


@pytest.mark.parametrize(
    "value, message", [("", "empty"), ("   \n", "empty"), (None, "must be text"), ("x" * 101, "limit is 100")]
)
def test_require_text(value, message):
    with pytest.raises(UserError, match=message):
        require_text(value, "message", 100)


def test_rtl_and_emoji_text_is_accepted():
    assert require_text("שלום 👋 مرحبا", "message", 100) == "שלום 👋 مرحبا"


@pytest.mark.parametrize(
    "payload, message",
    [
        (math.nan, "Temperature must be a finite number, got nan."),
        (math.inf, "Temperature must be a finite number, got inf."),
        (3.0, "Temperature must be between 0 and 2, got 3."),
        ("warm", "Temperature must be a number, got 'warm'."),
    ],
)
def test_slider_rejects_bad_api_values_by_name(payload, message):
    import gradio as gr

    from playground.ui.components import OptionSlider

    slider = OptionSlider(minimum=0, maximum=2, value=0.7, label="Temperature", render=False)
    with pytest.raises(gr.Error) as err:
        slider.preprocess(payload)
    assert err.value.message == message
    assert slider.preprocess(1.5) == 1.5
