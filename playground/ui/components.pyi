"""Gradio components whose input checks speak plainly, reusing the stock front end."""

from __future__ import annotations

import math

import gradio as gr

from gradio.events import Dependency

class OptionSlider(gr.Slider):
    """A slider whose out-of-range or non-finite API values get a sentence naming the option."""

    is_template = True  # render with the stock Slider front end

    def preprocess(self, payload):
        if payload is None:
            raise gr.Error(f"{self.label} needs a value.", print_exception=False)
        if isinstance(payload, bool) or not isinstance(payload, (int, float)):
            raise gr.Error(f"{self.label} must be a number, got {payload!r}.", print_exception=False)
        if not math.isfinite(payload):
            raise gr.Error(f"{self.label} must be a finite number, got {payload}.", print_exception=False)
        if not self.minimum <= payload <= self.maximum:
            raise gr.Error(
                f"{self.label} must be between {self.minimum:g} and {self.maximum:g}, got {payload:g}.",
                print_exception=False,
            )
        return super().preprocess(payload)
    from typing import Callable, Literal, Sequence, Any, TYPE_CHECKING
    from gradio.blocks import Block
    if TYPE_CHECKING:
        from gradio.components import Timer
        from gradio.components.base import Component


class ImageInput(gr.Image):
    """An image input whose unreadable uploads get a plain error instead of a hidden exception."""

    is_template = True  # render with the stock Image front end

    def preprocess(self, payload):
        try:
            return super().preprocess(payload)
        except gr.Error:
            raise
        except Exception:
            raise gr.Error(
                "Could not read the upload as an image: the file is truncated or not an image.", print_exception=False
            ) from None
    from typing import Callable, Literal, Sequence, Any, TYPE_CHECKING
    from gradio.blocks import Block
    if TYPE_CHECKING:
        from gradio.components import Timer
        from gradio.components.base import Component
class SeedNumber(gr.Number):
    """A seed box that hands non-finite API values (NaN, inf) to the seed check instead of failing to round them."""

    is_template = True  # render with the stock Number front end

    def preprocess(self, payload):
        if isinstance(payload, float) and not math.isfinite(payload):
            return payload  # resolve_seed names it in a sentence
        return super().preprocess(payload)
    from typing import Callable, Literal, Sequence, Any, TYPE_CHECKING
    from gradio.blocks import Block
    if TYPE_CHECKING:
        from gradio.components import Timer
        from gradio.components.base import Component

    