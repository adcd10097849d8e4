"""A tab's API endpoints, each described once: its name, its controls in API order, and where it lives.

The one description drives the endpoint's API signature and its event's inputs (``Endpoint.event``), the
settings History's "Use these settings" and a demo deck put back (``restore_slots``), and what a preset keeps.
A tab's ``build()`` returns its endpoints under "endpoints", the main run first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import gradio as gr

from playground.ui.controls import api_function


@dataclass
class Endpoint:
    """One endpoint of a tab.

    ``controls`` maps each API parameter, in order, to the component that feeds it. ``shown`` names a parameter
    whose value is shown in another component than the one that feeds it (the chat message waits in a state
    while the box is cleared): a restored setting goes there. ``action`` is the element id of the button that
    runs it (a deck presses it), ``tab`` the id of the inner tab that holds it and ``title`` its name in
    History (Try it together's chains).
    """

    api_name: str
    controls: dict
    action: str | None = None
    tab: str | None = None
    title: str | None = None
    shown: dict = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return list(self.controls)

    @property
    def fields(self) -> dict:
        """Parameter name -> the component that shows it."""
        return {**self.controls, **self.shown}

    def on(self, triggers: list, fn: Callable, outputs: list, **events):
        """``gr.on(triggers, …)`` running ``fn`` as this endpoint (see ``event``); ``events`` are Gradio's."""
        return gr.on(triggers, **self.event(fn), outputs=outputs, **events)

    def event(self, fn: Callable) -> dict:
        """The keyword arguments of a Gradio event that runs ``fn`` as this endpoint: the flat API signature
        named after the controls, the controls as inputs, and the API name."""
        return {"fn": api_function(fn, self.names), "inputs": list(self.controls.values()), "api_name": self.api_name}


def endpoints_of(built: dict) -> dict[str, Endpoint]:
    """A tab's endpoints by API name (none for a tab that has no endpoint)."""
    return {e.api_name: e for e in built.get("endpoints", ())}


def main_endpoint(built: dict) -> Endpoint | None:
    """The tab's main run: its first endpoint."""
    return next(iter(built.get("endpoints", ())), None)


def restore_slots(targets: dict) -> dict:
    """(task, API name, parameter) -> the component that shows it, for every endpoint of every tab."""
    return {
        (task, endpoint.api_name, name): component
        for task, built in targets.items()
        for endpoint in built.get("endpoints", ())
        for name, component in endpoint.fields.items()
    }


def endpoint_for(card: dict, targets: dict) -> Endpoint | None:
    """The endpoint a run card's settings go back to: the one that made it, else its tab's main run (an arena
    round, say, which no endpoint of the tab makes)."""
    built = targets.get(card.get("task")) or {}
    return endpoints_of(built).get(card.get("api_name")) or main_endpoint(built)
