"""Assemble the whole Blocks app from the tab modules."""

from __future__ import annotations

import importlib
from pathlib import Path

import gradio as gr

from playground.history import HistoryAccess
from playground.ui import arena, cache_writes, chains, history, presenter, presets, remote, task_tab, upload_quota
from playground.ui import deck as deck_bar
from playground.ui.endpoints import main_endpoint

CSS = """
.gradio-container { max-width: 1400px !important; margin: auto; }
#device-line { opacity: 0.8; }
/* small images (the bundled 64×64 model) scale up with crisp pixels instead of showing as a speck */
#t2i-result img { width: 100%; height: 100%; object-fit: contain; image-rendering: pixelated; }
#t2i-strip img, #t2i-grid img { image-rendering: pixelated; }
/* the grid's single images stay thumbnails while it fills in (Gradio spreads 1-2 images over the whole width) */
#t2i-singles .grid-container { grid-template-columns: repeat(auto-fill, 120px) !important;
                               grid-template-rows: none !important; grid-auto-rows: 120px !important; }
#t2i-singles .grid-container img { image-rendering: pixelated; }
#history-image img { width: 100%; height: 100%; object-fit: contain; image-rendering: pixelated; }
.explain-caption { opacity: 0.85; font-size: 0.95em; }
.answer-grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(260px, 1fr)); gap: 10px; }
.answer-card { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 10px;
               background: var(--background-fill-secondary); }
.answer-head { font-size: 0.85em; opacity: 0.75; margin-bottom: 6px; }
.answer-text { white-space: pre-wrap; }
.answer-foot { font-size: 0.85em; opacity: 0.75; margin-top: 6px; }
.clip-grid { grid-template-columns: repeat(auto-fill, minmax(320px, 1fr)); }
.clip-card audio, .clip-card img { width: 100%; display: block; margin-top: 4px; }
.answer-text .token, .answer-legend .token { border-radius: 3px; padding: 0 3px; margin: 0 1px; color: #111; }
.answer-legend { font-size: 0.85em; margin-bottom: 8px; }
.karaoke-player { width: 100%; margin-bottom: 8px; }
.karaoke-words { line-height: 2; }
.karaoke .word { transition: outline-color 0.1s; outline: 2px solid transparent; }
.karaoke .word.speaking { outline-color: var(--color-accent); box-shadow: 0 0 0 3px var(--color-accent-soft); }
#theme-toggle { max-width: 9em; align-self: center; }
.live-audio { display: flex; flex-direction: column; gap: 2px; font-size: 0.9em; }
.live-chunk { opacity: 0.6; }
.live-chunk.scheduled { opacity: 1; }
.live-length { opacity: 0.7; }
.by-script-only { display: none !important; }
.talk-mic { display: flex; gap: 10px; align-items: center; }
.talk-mic button { padding: 8px 14px; border-radius: var(--button-large-radius); border: 1px solid var(--border-color-primary);
  background: var(--button-secondary-background-fill); color: var(--button-secondary-text-color); font-weight: 600; }
#chain-talk-level { flex: 1; height: 10px; border-radius: 5px; background: var(--background-fill-secondary);
  border: 1px solid var(--border-color-primary); overflow: hidden; }
#chain-talk-level span { display: block; height: 100%; width: 0%; background: var(--color-accent); transition: width 0.1s; }
#deck-bar { align-items: center; border-bottom: 1px solid var(--border-color-primary); padding-bottom: 4px; }
#deck-line { font-size: var(--text-lg); }
#deck-fallback .run { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 8px; max-width: 280px; }
#deck-fallback .pick { display: none; }
#deck-fallback .media img { width: 100%; image-rendering: pixelated; }
.deck-note { margin-bottom: 6px; }
/* a phone (390 px wide): one column, nothing wider than the screen */
@media (max-width: 640px) {
  .gradio-container { padding-left: 6px !important; padding-right: 6px !important; }
  .gradio-container .row { flex-wrap: wrap !important; }
  .gradio-container .row > .column { min-width: 100% !important; }
  .gradio-container h1 { font-size: 1.5rem; }
  #theme-toggle { max-width: none; }
  /* the tab names wrap onto a second line instead of widening the page */
  .tabs .tab-wrapper { height: auto !important; overflow: visible !important; }
  .tabs .tab-container { flex-wrap: wrap !important; height: auto !important; }
  .tabs .tab-container.visually-hidden { display: none !important; }
}
"""
PAGE_JS = Path(__file__).with_name("page.js")


def page_js() -> str:
    """The page's script (launch(js=...)): Ctrl+Enter and Esc, the dark/light toggle, karaoke words."""
    return PAGE_JS.read_text(encoding="utf-8")


def page_css() -> str:
    """The app's CSS: the tabs' rules and the presenter look (switched on by a class on the page)."""
    return CSS + chains.CSS + arena.CSS + presenter.look_css()


def build_tab(registry, recorder, spec, presenter_mode: bool) -> dict:
    """One task's tab: the module its spec names (``TaskSpec.tab``), or the generic tab built from the spec."""
    if spec.tab is None:
        return task_tab.build(registry, recorder, spec, presenter=presenter_mode)
    return importlib.import_module(spec.tab).build(registry, recorder, presenter=presenter_mode)


def build_app(
    registry, run_log=None, presenter_mode: bool = False, preloader=None, access=None, deck=None
) -> gr.Blocks:
    """The playground: a header with the device in use, one tab per task, Try it together, the Arena and History.

    ``run_log`` keeps every run (``playground.history.open_history``); None keeps nothing.
    ``presenter_mode`` tucks secondary controls under "Advanced" and starts in the presenter look;
    ``preloader`` (``playground.preload.Preloader``) adds a line saying which tabs are ready;
    ``access`` (``playground.history.HistoryAccess``) says whose runs each login sees in History (default: all);
    ``deck`` (``playground.decks.Deck``) adds the demo deck's bar above the tabs.
    """
    if run_log is None:
        from playground.history import NoHistory

        run_log = NoHistory("History is off: this app was built without a run log.")
    recorder = history.WarnWhenNotKept(run_log)
    cache_writes.install()  # two sessions with the same seeded result must not truncate each other's download
    # Gradio's copies of uploads and results go after an hour: a run keeps its own in the history's inputs/ and outputs/
    with gr.Blocks(title="Generative AI Playground", delete_cache=upload_quota.CACHE_CLEANUP) as demo:
        with gr.Row():
            gr.Markdown("# Generative AI Playground\nChat, draw, caption, listen and speak with local models.")
            presenter.build_toggle(presenter_mode)
            gr.Button("🌙 Dark", size="sm", elem_id="theme-toggle")  # page.js switches the look and keeps it
        device_line = gr.Markdown("Device: checking…", elem_id="device-line")
        if preloader is not None:
            presenter.build_ready_line(preloader)
        bar = deck_bar.build_bar(deck) if deck is not None else None
        with gr.Tabs() as tabs:
            built = {}
            for spec in registry.tasks.values():
                built[spec.name] = build_tab(registry, recorder, spec, presenter_mode)
                with tabs.children[-1]:  # the tab just built gets its Presets row at its foot
                    presets.build(registry, run_log, spec.name, main_endpoint(built[spec.name]).controls)
            built[chains.TASK] = chains.build(registry, recorder, presenter=presenter_mode)
            arena.build(registry, run_log, recorder, access or HistoryAccess(), presenter=presenter_mode)
            shown = history.build(registry, run_log, tabs, built, access or HistoryAccess())
        # ?run=<id> opens History on that run, ?report=<id> opens its report dialog too
        demo.load(shown["deep_link"], None, shown["deep_link_outputs"], api_visibility="private")
        demo.load(
            lambda: (
                f"Running on **{registry.device.resolve()}** · models load on first use and stay loaded."
                + (f" · {run_log.note}" if run_log.note else "")
            ),
            None,
            device_line,
            api_visibility="private",
            queue=False,
        )
        presets.build_api(registry, run_log)
        if deck is not None:
            deck_bar.wire(bar, deck, registry, run_log, demo, tabs, built)
        remote.forget_keys_on_unload(demo, registry)
        if presenter_mode:
            demo.load(None, None, None, js=presenter.LOOK_ON, api_visibility="private", queue=False)
    return demo
