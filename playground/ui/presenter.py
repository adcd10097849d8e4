"""Presenter mode: a projector-friendly look, secondary controls under "Advanced", and a ready line per tab.

``--presenter`` builds the tabs with their secondary controls tucked away, preloads the models and starts in
the presenter look. The "Presenter view" toggle switches only the look, at any time: the look is the
presenter theme's CSS variables scoped under ``body.presenter``, so one class on the page swaps it.
"""

from __future__ import annotations

import html
import re
from contextlib import nullcontext

import gradio as gr

from playground import preload

CHAINS_TITLE = "Try it together"
ICONS = {preload.READY: "✓", preload.LOADING: "…", preload.WAITING: "…", preload.FAILED: "✗", preload.ON_FIRST_USE: "○"}
# the tab bar measures its labels to decide what overflows, so a resize event makes it measure the new type size
LOOK_ON = (
    "() => { document.body.classList.add('presenter'); document.body.classList.remove('dark'); "
    "window.dispatchEvent(new Event('resize')); }"
)
LOOK_TOGGLE = (
    "(on) => { document.body.classList.toggle('presenter', on); if (on) document.body.classList.remove('dark'); "
    "setTimeout(() => window.dispatchEvent(new Event('resize')), 50); }"
)

EXTRA_CSS = """
body.presenter .gradio-container { max-width: 100% !important; padding-left: 2.5vw !important; padding-right: 2.5vw !important; }
body.presenter .pg-debug, body.presenter #device-line, body.presenter footer { display: none !important; }
body.presenter h1 { font-size: 1.7em !important; margin-bottom: 0 !important; }
body.presenter button.gallery-item { padding: 10px 18px !important; border: 2px solid #60a5fa !important;
    border-radius: 12px !important; background: #eff6ff !important; text-align: left; }
body.presenter button.gallery-item:hover { background: #dbeafe !important; }
#presenter-toggle { flex: 0 0 auto !important; width: auto !important; min-width: 0 !important; align-self: flex-start;
                    border: none !important; background: none !important; box-shadow: none !important; }
.ready-line { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; font-size: var(--text-sm); }
.ready-chip { border-radius: 999px; padding: 2px 12px; border: 2px solid var(--border-color-primary);
              font-weight: 600; white-space: nowrap; }
.ready-chip.ready { border-color: #15803d; color: #15803d; }
.ready-chip.loading, .ready-chip.waiting { border-color: #1d4ed8; color: #1d4ed8; }
.ready-chip.failed { border-color: #b91c1c; color: #b91c1c; }
.ready-problems { color: #b91c1c; margin-top: 4px; }
"""


def theme() -> gr.themes.Base:
    """Large type, strong contrast and a light page: what survives a washed-out projector."""
    return gr.themes.Default(
        primary_hue="blue",
        secondary_hue="sky",
        neutral_hue="slate",
        text_size=gr.themes.Size(xxs="12px", xs="14px", sm="16px", md="20px", lg="24px", xl="30px", xxl="38px"),
        spacing_size=gr.themes.sizes.spacing_lg,
        radius_size=gr.themes.sizes.radius_md,
    ).set(
        # Dark ink for what people read, a softer one for hints; labels bold; the text people type large.
        **dict.fromkeys(("body_text_color", "block_label_text_color", "block_title_text_color"), "#0b1220"),
        **dict.fromkeys(("body_text_color_subdued", "block_info_text_color"), "#334155"),
        **dict.fromkeys(("block_label_text_weight", "block_title_text_weight"), "600"),
        **dict.fromkeys(("button_large_text_size", "input_text_size", "chatbot_text_size"), "*text_lg"),
        button_medium_text_size="*text_md",
        button_large_padding="14px 28px",
        border_color_primary="#64748b",
    )


def look_css() -> str:
    """The presenter theme's variables scoped to ``body.presenter`` (light even in dark mode), plus its layout rules.

    Gradio resolves ``--body-text-size: var(--text-md)`` where it is declared (``:root``), so overriding the
    base sizes is not enough: every variable is declared again under the class.
    """
    css = theme()._get_theme_css()
    root = re.search(r":root\s*\{([^}]*)\}", css)
    variables = root.group(1) if root else ""
    return f":root body.presenter {{{variables}}}\n{EXTRA_CSS}"


def advanced(presenter: bool):
    """Presenter mode tucks a tab's secondary controls under a closed "Advanced" accordion; otherwise nothing changes."""
    return gr.Accordion("Advanced", open=False, elem_classes=["advanced"]) if presenter else nullcontext()


def ready_html(preloader) -> str:
    """One chip per tab saying whether its model is ready, and any problem in a plain sentence."""
    states = {task: preloader.state(task) for task in preloader.registry.tasks}
    chips = []
    for task in states:
        state, _ = states[task]
        title = preloader.registry.task(task).title
        chips.append(f'<span class="ready-chip {state.split()[0]}">{ICONS[state]} {title}: {state}</span>')
    chain_states = {s for s, _ in states.values()}
    chain = (
        preload.READY
        if chain_states == {preload.READY}
        else preload.FAILED
        if preload.FAILED in chain_states
        else preload.LOADING
        if chain_states & {preload.LOADING, preload.WAITING}
        else preload.ON_FIRST_USE
    )
    chips.append(f'<span class="ready-chip {chain.split()[0]}">{ICONS[chain]} {CHAINS_TITLE}: {chain}</span>')
    problems = list(dict.fromkeys(text for state, text in states.values() if state == preload.FAILED))
    more = "".join(f'<div class="ready-problems">{html.escape(p)}</div>' for p in problems)
    return f'<div class="ready-line">{"".join(chips)}</div>{more}'


def build_toggle(presenter: bool) -> gr.Checkbox:
    """The "Presenter view" switch: large type and the clean look, on or off, at any time."""
    toggle = gr.Checkbox(
        value=presenter, label="Presenter view", container=False, scale=0, min_width=190, elem_id="presenter-toggle"
    )
    toggle.change(None, [toggle], None, js=LOOK_TOGGLE, api_visibility="private", queue=False)
    return toggle


def build_ready_line(preloader) -> gr.HTML:
    """A chip per tab that follows the preloading until every model is ready (or has failed)."""
    line = gr.HTML(ready_html(preloader), elem_id="ready-line")
    timer = gr.Timer(1.0, active=True)

    def refresh():
        return ready_html(preloader), gr.Timer(active=not preloader.settled())

    timer.tick(refresh, None, [line, timer], api_visibility="private", queue=False, show_progress="hidden")
    return line
