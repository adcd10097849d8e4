"""The demo deck bar (``--deck FILE.yaml``): one sentence per step for the audience; → or Space goes on.

Each step opens its tab, fills in its inputs and settings (the components History's "Use these settings" fills)
and presses the tab's main button. If the step's model is not here, or the step runs past its ``limit_s``, the
bar shows that step's last result from History instead, and says so. Layout and wiring only; the deck file is
read by ``playground.decks``.
"""

from __future__ import annotations

import html
import time
from pathlib import Path

import gradio as gr

from playground.bundled import ASSETS
from playground.decks import missing_model
from playground.ui.endpoints import endpoints_of, main_endpoint, restore_slots

ROOT = ASSETS.parent
FILE_INPUTS = {"image", "audio", "reference_audio"}

# Space and the arrow keys, when no text box has the focus; the step's main button once the bar has filled it
KEYS_JS = """
() => {
  if (window.__deckKeys) return;
  window.__deckKeys = true;
  document.addEventListener("keydown", (e) => {
    const typing = e.target.closest && e.target.closest("input, textarea, select, [contenteditable=true]");
    if (typing || e.ctrlKey || e.metaKey || e.altKey) return;
    const id = e.key === "ArrowRight" || e.key === " " ? "deck-next" : e.key === "ArrowLeft" ? "deck-back" : null;
    if (!id) return;
    e.preventDefault();
    document.querySelector("#" + id)?.click();
  }, true);
}
"""
PRESS_JS = """
(step) => {
  if (!step || !step.action) return;
  const press = () => document.querySelector("#" + step.action)?.click();
  setTimeout(press, 400);  // after the filled values have reached the page
  if (step.limit_s) {
    clearTimeout(window.__deckWatch);
    window.__deckWatch = setTimeout(() => document.querySelector("#deck-overdue")?.click(), step.limit_s * 1000 + 400);
  }
}
"""


def build_bar(deck):
    """The bar above the tabs; wired by ``wire`` once the tabs exist."""
    with gr.Row(elem_id="deck-bar", equal_height=True):
        back = gr.Button("←", size="sm", scale=0, min_width=50, elem_id="deck-back")
        line = gr.Markdown(
            f"**{html.escape(deck.title)}** · {len(deck.steps)} steps · press → or Space to begin", elem_id="deck-line"
        )
        ahead = gr.Button("Next →", size="sm", scale=0, min_width=90, elem_id="deck-next")
    fallback = gr.HTML(elem_id="deck-fallback")
    overdue = gr.Button("overdue", elem_id="deck-overdue", elem_classes=["by-script-only"])
    return {"back": back, "line": line, "next": ahead, "fallback": fallback, "overdue": overdue}


def wire(bar, deck, registry, run_log, demo, tabs, targets: dict) -> None:
    from playground.ui.history import card_html

    def title_of(card: dict) -> str:
        return registry.task(card["task"]).title if card["task"] in registry.catalog else "Try it together"

    slots = restore_slots(targets)
    sub_tabs = {task: built["sub_tabs"] for task, built in targets.items() if "sub_tabs" in built}
    receivers = list(dict.fromkeys(slots.values()))
    step_box = gr.JSON(visible=False)  # what the page script presses, and when it gives up
    position = gr.State({"index": -1, "started": 0.0})

    def endpoint_of(step):
        """The endpoint a step runs: its tab's main run, or the chain endpoint it names."""
        built = targets.get(step.task) or {}
        return main_endpoint(built) if step.kind == "run" else endpoints_of(built).get(step.kind)

    def last_result(step, reason: str) -> str:
        api = registry.task_spec(step.task).api_name if step.kind == "run" else step.kind
        cards = (
            [c for c in run_log.runs(task=step.task, limit=50) if c.get("api_name") == api] if run_log.enabled else []
        )
        wanted = [str(v) for v in step.inputs.values() if isinstance(v, str)]
        matching = [c for c in cards if any(w and w in (c.get("input_text") or "") for w in wanted)] or cards
        if not matching:
            return f'<div class="deck-note">{html.escape(reason)} History has no earlier result of this step.</div>'
        card = matching[0]
        return (
            f'<div class="deck-note">{html.escape(reason)} This is its last result from History '
            f"({html.escape(card['created'][:16].replace('T', ' '))} UTC).</div>" + card_html(card, run_log, title_of)
        )

    def go(where, now):
        index = max(0, min(len(deck.steps) - 1, now["index"] + where))
        step = deck.steps[index]
        updates = {c: gr.skip() for c in receivers}
        endpoint = endpoint_of(step)
        for name, value in step.values.items():
            component = endpoint.fields.get(name) if endpoint else None
            if component is None:
                continue
            if name in FILE_INPUTS and isinstance(value, str):
                value = str((ROOT / value).resolve()) if not Path(value).is_absolute() else value
            updates[component] = value
        tab_changes = {tabs: gr.Tabs(selected=step.task)}
        if endpoint and endpoint.tab and step.task in sub_tabs:
            tab_changes[sub_tabs[step.task]] = gr.Tabs(selected=endpoint.tab)
        line = f"**Step {index + 1} of {len(deck.steps)}** · {html.escape(step.say)}"
        missing = missing_model(registry, step)
        if missing:
            press = {}
            fallback = last_result(step, f"This step's model is not here ({missing})")
        else:
            press = {"action": endpoint.action if endpoint else None, "limit_s": step.limit_s}
            fallback = ""
        new_position = {"index": index, "started": time.time()}
        return {
            **updates,
            **tab_changes,
            bar["line"]: line,
            bar["fallback"]: fallback,
            step_box: press,
            position: new_position,
        }

    def overdue(now):
        if now["index"] < 0:
            return gr.skip()
        step = deck.steps[now["index"]]
        api = registry.task_spec(step.task).api_name if step.kind == "run" else step.kind
        recent = [
            c
            for c in (run_log.runs(task=step.task, limit=5) if run_log.enabled else [])
            if c.get("api_name") == api and c["created"] >= _iso(now["started"])
        ]
        if recent:
            return gr.skip()  # it finished in time
        return last_result(step, f"This step took longer than its {step.limit_s:g} s.")

    outputs = [*receivers, tabs, *sub_tabs.values(), bar["line"], bar["fallback"], step_box, position]
    private = {"api_visibility": "private", "queue": False}
    for button, where in ((bar["next"], 1), (bar["back"], -1)):
        button.click(lambda p, w=where: go(w, p), [position], outputs, **private).then(
            None, [step_box], None, js=PRESS_JS, **private
        )
    bar["overdue"].click(overdue, [position], [bar["fallback"]], **private)
    demo.load(None, None, None, js=KEYS_JS, **private)


def _iso(seconds: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat()
