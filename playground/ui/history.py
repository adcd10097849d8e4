"""The History tab: every run newest first; open one to read its run card, send its settings back to its
tab, export or delete it; drop a PNG, WAV or run-card JSON the app made to restore its settings."""

from __future__ import annotations

import datetime as dt
import html
import logging
import urllib.parse
from pathlib import Path

import gradio as gr

from playground import reports
from playground.errors import UserError, shown
from playground.history import HistoryAccess, read_card
from playground.ui.controls import api_function, plain_error, shown_file
from playground.ui.endpoints import endpoint_for, restore_slots

log = logging.getLogger("playground")

PAGE = 48  # cards shown at first; "Show more" adds as many again
FIRST = ("model", "x_param", "y_param")  # set before the rest: changing them moves other controls
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp"}
AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".m4a", ".webm"}
# Controls whose value is a file on the server: given a path, Gradio copies that file and serves the copy, so a
# card restores them only from its input files in the data folder (playground.history.RunLog.replay_settings).
FILE_COMPONENTS = (
    gr.Image,
    gr.Audio,
    gr.Video,
    gr.File,
    gr.Gallery,
    gr.Model3D,
    gr.ImageEditor,
    gr.MultimodalTextbox,
    gr.UploadButton,
    gr.DownloadButton,
)

CARDS_JS = """
element.addEventListener('click', (event) => {
  if (event.target.closest('input, audio, label')) return;
  const card = event.target.closest('[data-run]');
  if (card) trigger('open_run', {run: card.dataset.run});
});
element.addEventListener('change', (event) => {
  if (!event.target.matches('input[data-pick]')) return;
  const runs = [...element.querySelectorAll('input[data-pick]:checked')].map((box) => box.dataset.pick);
  trigger('pick', {runs: runs});
});
"""

CONFIRM_DELETE = "() => confirm('Delete this run and its files? This cannot be undone.')"

CARDS_CSS = """
.runs { display: grid; grid-template-columns: repeat(auto-fill, minmax(180px, 1fr)); gap: 10px; align-items: start; }
.run { position: relative; border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 8px;
       background: var(--background-fill-secondary); cursor: pointer; display: flex; flex-direction: column; gap: 6px; }
.run:hover { border-color: var(--color-accent); }
.run .media img { width: 100%; aspect-ratio: 1; object-fit: contain; image-rendering: pixelated; border-radius: 4px;
                  background: var(--background-fill-primary); display: block; }
.run .media audio { width: 100%; height: 36px; }
.run .out { font-size: 0.9em; white-space: pre-wrap; max-height: 7.5em; overflow: hidden; }
.run .in { font-size: 0.85em; opacity: 0.85; max-height: 3.4em; overflow: hidden; white-space: pre-wrap; }
.run .head { font-size: 0.8em; font-weight: 600; padding-right: 22px; }
.run .foot { font-size: 0.75em; opacity: 0.7; }
.run .pick { position: absolute; top: 6px; right: 6px; }
.run .pick input { width: 16px; height: 16px; cursor: pointer; }
.empty { opacity: 0.75; padding: 16px 4px; }
"""


class WarnWhenNotKept:
    """The run log as the tabs see it: each run is kept under the login that made it, and when a run cannot be
    kept, whoever made it is told why, once per cause."""

    def __init__(self, run_log):
        self.run_log = run_log
        self.enabled = run_log.enabled
        self._told = ""

    def record(self, *args, **kwargs):
        card = self.run_log.record(*args, user=current_user(), **kwargs)
        note = getattr(self.run_log, "note", "")
        if card is None and self.enabled and note and note != self._told:
            self._told = note
            gr.Warning(html.escape(note))  # Gradio renders toasts as HTML
        elif card is not None:
            self._told = ""
        return card

    @property
    def note(self) -> str:
        return self.run_log.note


def current_user() -> str:
    """The login of the request being handled ('' without --auth).

    Gradio sets it around each step of an event handler, on the handler's thread: the tabs record there.
    """
    from gradio.context import LocalContext

    return getattr(LocalContext.request.get(None), "username", None) or ""


def file_url(path) -> str:
    """A URL the browser can load a file in the data dir from (its folder is among launch's allowed paths)."""
    return "gradio_api/file=" + urllib.parse.quote(str(path))


def when(card: dict) -> str:
    try:
        return dt.datetime.fromisoformat(card["created"]).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    except (KeyError, ValueError):
        return card.get("created", "")


def summary(card: dict) -> str:
    """One line: task, kind, model, seed and time taken."""
    parts = [card["model"]]
    if card.get("seed") is not None:
        parts.append(f"seed {card['seed']}")
    seconds = (card.get("timings") or {}).get("seconds")
    if seconds is not None:
        parts.append(f"{seconds:.1f} s")
    if card.get("stopped"):  # a result cut short must never read as complete
        parts.append(f"cut short: {card['stopped']}")
    return " · ".join(parts)


def card_html(card: dict, run_log, title_of) -> str:
    """One run as a small card: its picture or player (else its text), what went in, and when."""
    media = ""
    files = [(e, run_log.file(e["path"])) for e in card.get("output_files") or []]
    files += [(e, run_log.file(e["path"])) for e in card.get("input_files") or []]
    for _, path in files:
        if path is None:
            continue
        if path.suffix.lower() in IMAGE_SUFFIXES:
            media = f'<img src="{html.escape(file_url(path))}" loading="lazy" alt="picture of run {card["run_id"]}">'
        elif path.suffix.lower() in AUDIO_SUFFIXES:
            media = f'<audio controls preload="none" src="{html.escape(file_url(path))}"></audio>'
        if media:
            break
    inputs = card.get("input_text") or ""
    output = card.get("output_text") or ""
    title = title_of(card)
    run = html.escape(card["run_id"])
    return (
        f'<div class="run" data-run="{run}" title="Open run {run}">'
        f'<label class="pick" title="Select for export"><input type="checkbox" data-pick="{run}"></label>'
        f'<div class="head">{html.escape(title)}</div>'
        + (f'<div class="media">{media}</div>' if media else "")
        + (f'<div class="in">{html.escape(inputs[:200])}</div>' if inputs else "")
        + (f'<div class="out">{html.escape(output[:400])}</div>' if output else "")
        + f'<div class="foot">{html.escape(when(card))}<br>{html.escape(summary(card))}</div></div>'
    )


def build(registry, run_log, tabs: gr.Tabs, targets: dict, access: HistoryAccess = HistoryAccess()) -> dict:
    """Build the History tab; ``targets`` maps each task to its tab's build() dict, for "Use these settings".

    ``access`` says whose runs each login sees; every event below reads and changes only those.
    """
    titles = {name: registry.task(name).title for name in registry.catalog}
    titles.update({task: built["title"] for task, built in targets.items() if "title" in built})
    run_titles = {
        (task, e.api_name): e.title for task, built in targets.items() for e in built.get("endpoints", ()) if e.title
    }
    sub_tabs = {task: built["sub_tabs"] for task, built in targets.items() if "sub_tabs" in built}

    def title_of(card: dict) -> str:
        """ "Text to Image", "Chat · compare", "Chat · arena", "Try it together · Draw and describe"."""
        title = titles.get(card["task"], card["task"])
        run = run_titles.get((card["task"], card.get("api_name")))
        kind = card.get("kind")
        return title + (f" · {run}" if run else f" · {kind}" if kind in ("compare", "arena") else "")

    slots = restore_slots(targets)
    receivers = list(dict.fromkeys(slots.values()))
    first_receivers = list(dict.fromkeys(c for (_, _, name), c in slots.items() if name in FIRST))
    with gr.Tab("History", id="history") as tab:
        note = gr.Markdown(elem_id="history-note")
        with gr.Row(visible=run_log.enabled):
            task = gr.Dropdown(
                [("All tasks", ""), *((t, n) for n, t in titles.items())],
                value="",
                label="Task",
                elem_id="history-task",
            )
            model = gr.Dropdown(
                [("Any model", "")], value="", allow_custom_value=True, label="Model", elem_id="history-model"
            )
            text = gr.Textbox(
                label="Text",
                placeholder="Words in a prompt, message, caption or transcript; Enter",
                elem_id="history-text",
            )
            refresh = gr.Button("Refresh", size="sm", scale=0, min_width=90)
        with gr.Row():
            with gr.Column(scale=3):
                cards = gr.HTML(
                    "", js_on_load=CARDS_JS, css_template=CARDS_CSS, elem_id="history-cards", visible=run_log.enabled
                )
                with gr.Row(visible=run_log.enabled):
                    picked_note = gr.Markdown("Tick runs to export several at once.", elem_id="history-picked")
                    export_picked = gr.Button("Export selected", size="sm", interactive=False)
                    more = gr.Button("Show more", size="sm", visible=False)
            with gr.Column(scale=2):
                title = gr.Markdown("Open a run to see its run card.", elem_id="history-title")
                image = shown_file("image", "Output", "history-image", height=280)
                audio = shown_file("audio", "Output", "history-audio")
                output_text = gr.Textbox(
                    label="Output", interactive=False, visible=False, lines=4, max_lines=12, elem_id="history-output"
                )
                with gr.Row():
                    use = gr.Button("Use these settings", variant="primary", interactive=False, elem_id="history-use")
                    export_one = gr.Button("Export this run", interactive=False, elem_id="history-export")
                    delete = gr.Button("Delete this run", variant="stop", interactive=False, elem_id="history-delete")
                download = gr.File(label="Exported zip", visible=False, interactive=False, elem_id="history-zip")
                with gr.Accordion(
                    "Report: one offline HTML file, or CSV or JSON", open=False, elem_id="history-report"
                ) as report_dialog:
                    report_runs = gr.Textbox(
                        label="Runs in the report",
                        placeholder="Tick runs or open one; or type run ids, separated by commas",
                        elem_id="history-report-runs",
                    )
                    with gr.Row():
                        report_format = gr.Radio(
                            list(reports.FORMATS), value="html", label="Format", elem_id="history-report-format"
                        )
                        report_button = gr.Button("Export report", elem_id="history-report-export")
                    report_file = gr.File(label="Report", interactive=False, elem_id="history-report-file")
                card_view = gr.JSON(label="Run card", open=True, elem_id="history-card", visible=False)
                dropped = gr.File(
                    label="Restore settings from a file: drop a PNG or WAV made by the app, or its run-card JSON",
                    file_types=[".png", ".wav", ".json"],
                    type="filepath",
                    elem_id="history-drop",
                )
        confirm = gr.Checkbox(visible=False)  # set by the browser's "are you sure?" before a delete
    opened = gr.State(None)  # the card on show: an opened run, or one read from a dropped file
    picked = gr.State([])
    limit = gr.State(PAGE)

    def viewer(request: gr.Request | None) -> str | None:
        """The login whose runs this request may see (None: every run)."""
        try:
            return access.user_of(getattr(request, "username", None))
        except UserError as exc:
            raise plain_error(exc, "history") from None

    def list_runs(task, model, text, limit, user):
        if not run_log.enabled:
            return (f"**{run_log.note}**", "", gr.update(), [], "", gr.update(interactive=False), gr.update())
        runs = run_log.runs(task or None, model or None, text or None, limit=limit, user=user)
        total = run_log.count(task or None, model or None, text or None, user=user)
        filtered = bool(task or (model or "").strip() or (text or "").strip())
        lines = [f"**{run_log.note}**"] if run_log.note else []
        lines.append(
            f"{total} run{'s' if total != 1 else ''}{' match' if filtered else ' kept'}"
            + (f" for {user}" if user is not None else "")
            + (f"; showing the newest {len(runs)}." if total > len(runs) else ".")
            + f" Files live in `{run_log.data_dir}`."
        )
        body = "".join(card_html(c, run_log, title_of) for c in runs)
        if not runs:
            body = (
                '<div class="empty">No runs match.</div>'
                if filtered
                else '<div class="empty">No runs yet: every result you make in the other tabs is kept here with '
                'its settings.</div>'
            )
        models = [("Any model", ""), *((m, m) for m in run_log.models(user=user))]
        return (
            "\n\n".join(lines),
            f'<div class="runs">{body}</div>',
            gr.update(choices=models),
            [],
            "Tick runs to export several at once.",
            gr.update(interactive=False),
            gr.update(visible=total > len(runs)),
        )

    def first_page(task, model, text, request: gr.Request):
        return (PAGE, *list_runs(task, model, text, PAGE, viewer(request)))

    def next_page(task, model, text, limit, request: gr.Request):
        return (limit + PAGE, *list_runs(task, model, text, limit + PAGE, viewer(request)))

    def show(card, user, preview=None, heading=None):
        """The detail pane for ``card``; ``preview`` is a dropped file to show when the run's own file is gone."""
        if card is None:
            return (
                None,
                "Open a run to see its run card.",
                gr.update(visible=False, value=None),
                gr.update(visible=False, value=None),
                gr.update(visible=False, value=""),
                *[gr.update(interactive=False)] * 3,
                gr.update(visible=False, value=None),
                gr.update(visible=False, value=None),
            )

        def found(entries):  # a dropped card's paths are not trusted: only files of this login's runs are shown
            paths = [
                run_log.file(e.get("path"), user) if run_log.enabled and isinstance(e, dict) else None
                for e in entries or []
            ]
            return (
                [p for p in paths if p is not None and p.suffix.lower() in IMAGE_SUFFIXES],
                [p for p in paths if p is not None and p.suffix.lower() in AUDIO_SUFFIXES],
            )

        pictures, sounds = found(card.get("output_files"))
        if preview and Path(preview).suffix.lower() == ".png" and not pictures:
            pictures = [preview]
        if preview and Path(preview).suffix.lower() == ".wav" and not sounds:
            sounds = [preview]
        input_pictures, input_sounds = found(card.get("input_files"))  # what a caption or transcript came from
        picture_label = "Output" if pictures else "Input image"
        sound_label = "Output" if sounds else "Input audio"
        pictures, sounds = pictures or input_pictures, sounds or input_sounds
        known = run_log.enabled and run_log.get(card["run_id"], user) is not None
        head = heading or f"### {title_of(card)}"
        lines = [
            head,
            f"Run `{card['run_id']}` · {when(card)} · {summary(card)}",
            f"{card.get('backend', '')} on {card.get('device', '')} {card.get('dtype', '')} · model "
            f"revision `{(card.get('revision') or 'unknown')[:23]}`",
        ]
        return (
            card,
            "\n\n".join(lines),
            gr.update(visible=bool(pictures), value=str(pictures[0]) if pictures else None, label=picture_label),
            gr.update(visible=bool(sounds), value=str(sounds[0]) if sounds else None, label=sound_label),
            gr.update(visible=bool(card.get("output_text")), value=card.get("output_text") or ""),
            gr.update(interactive=True),
            gr.update(interactive=known),
            gr.update(interactive=known),
            gr.update(visible=False, value=None),
            gr.update(visible=True, value=card),
        )

    def open_run(evt: gr.EventData, request: gr.Request):
        user = viewer(request)
        card = run_log.get(evt.run, user) if run_log.enabled else None
        if card is None:
            raise gr.Error("That run is no longer in the history; press Refresh.", print_exception=False)
        return show(card, user)

    def open_file(path, request: gr.Request):
        user = viewer(request)
        if not path:
            return show(None, user)
        try:
            card = read_card(path, run_log, user)
        except UserError as exc:
            raise plain_error(exc, "open_file") from None
        return show(card, user, preview=path, heading="### Settings read from the dropped file")

    def fields_of(card) -> dict:
        """Setting name -> the component that shows it, on the endpoint that made the card."""
        endpoint = endpoint_for(card, targets)
        return endpoint.fields if endpoint else {}

    def settings_of(card, user):
        """The card's settings as they may go back to its tab: no file but its own input copies."""
        if card is None:
            raise gr.Error("Open a run or drop a file first.", print_exception=False)
        fields = fields_of(card)
        file_settings = {n for n in card.get("settings") or {} if isinstance(fields.get(n), FILE_COMPONENTS)}
        return run_log.replay_settings(card, file_settings, user=user)

    def updates_for(card, settings, names=None):
        """{component: value} for those of the card's ``settings`` whose names are in ``names`` (None: all)."""
        fields = fields_of(card)
        return {fields[n]: v for n, v in settings.items() if n in fields and (names is None or n in names)}

    def use_first(card, request: gr.Request):
        if card is None:
            raise gr.Error("Open a run or drop a file first.", print_exception=False)
        if card["task"] not in targets:
            raise gr.Error(f"This app has no {card['task']} tab to send these settings to.", print_exception=False)
        settings, _ = settings_of(card, viewer(request))
        changes = {tabs: gr.Tabs(selected=card["task"]), **updates_for(card, settings, FIRST)}
        endpoint = endpoint_for(card, targets)
        if endpoint and endpoint.tab and card["task"] in sub_tabs:  # and the inner tab of the endpoint
            changes[sub_tabs[card["task"]]] = gr.Tabs(selected=endpoint.tab)
        return changes

    def use_rest(card, request: gr.Request):
        settings, missing = settings_of(card, viewer(request))  # read once: it checks the card's input files
        changes = updates_for(card, settings)
        fields = fields_of(card)
        skipped = [n for n in settings if n not in fields]
        compared = card.get("kind") == "compare"
        where = "open “Compare settings” and press its button" if compared else "press the tab's button"
        message = f"Restored {len(changes)} settings from run {card['run_id']}: {where} to run it again."
        if missing:
            message += f" The input {', '.join(missing)} is not in this app's data folder: add it again."
        if skipped:
            message += f" Not restored (no control here): {', '.join(skipped)}."
        gr.Info(html.escape(message))
        rest = {c: v for c, v in changes.items() if c not in first_receivers}
        # Gradio reads an empty dict as one value for its many outputs, and marks them all "Error"
        return rest or {receivers[0]: gr.skip()}

    def export(run_ids, user):
        try:
            path = run_log.export(run_ids, user=user)
        except UserError as exc:
            raise plain_error(exc, "export") from None
        return gr.update(visible=True, value=str(path))

    def export_opened(card, request: gr.Request):
        return export([card["run_id"]] if card else [], viewer(request))

    def export_ticked(run_ids, request: gr.Request):
        return export(run_ids, viewer(request))

    def delete_run(confirmed, card, task, model, text, limit, request: gr.Request):
        if not confirmed:
            return tuple(gr.skip() for _ in [*detail, *listing])
        if card is None or not run_log.enabled:
            raise gr.Error("Open a run first.", print_exception=False)
        user = viewer(request)
        if not run_log.delete([card["run_id"]], user=user):
            raise gr.Error(f"Run {card['run_id']} is not in your history.", print_exception=False)
        gr.Info(html.escape(f"Deleted run {card['run_id']} and its files."))
        return (*show(None, user), *list_runs(task, model, text, limit, user))

    def picked_runs(evt: gr.EventData):
        runs = list(evt.runs or [])
        label = f"{len(runs)} selected." if runs else "Tick runs to export several at once."
        return runs, label, gr.update(interactive=bool(runs)), ", ".join(runs) if runs else gr.skip()

    def report_of_opened(card, runs):
        """An opened run is the report's, unless runs are ticked."""
        return card["run_id"] if card and not runs else gr.skip()

    def export_report(run_ids, format, request: gr.Request):
        try:
            return str(reports.write_report(registry, run_log, run_ids, format, user=viewer(request)))
        except UserError as exc:
            raise plain_error(exc, "export_report") from None

    def deep_link(request: gr.Request):
        """?run=<id> opens History on that run; ?report=<id> also opens the report dialog with it."""
        params = dict(getattr(request, "query_params", None) or {})
        run_id = str(params.get("report") or params.get("run") or "").strip()
        if not run_id:
            return tuple(gr.skip() for _ in deep_link_outputs)
        user = viewer(request)
        card = run_log.get(run_id, user) if run_log.enabled else None
        if card is None:
            gr.Warning(html.escape(f"Run {shown(run_id, 60)} is not in your history."))
        listed = list_runs("", "", "", PAGE, user)
        opening = "report" in params and card is not None
        return (
            gr.Tabs(selected="history"),
            PAGE,
            *listed,
            *show(card, user),
            gr.update(open=True) if opening else gr.skip(),
            card["run_id"] if card else gr.skip(),
        )

    listing = [note, cards, model, picked, picked_note, export_picked, more]
    detail = [opened, title, image, audio, output_text, use, export_one, delete, download, card_view]
    filters = [task, model, text, limit]
    private = dict(api_visibility="private")
    gr.on(
        [tab.select, refresh.click, task.change, model.change, text.submit],
        first_page,
        filters[:3],
        [limit, *listing],
        **private,
    )
    more.click(next_page, filters, [limit, *listing], **private)
    cards.open_run(open_run, None, detail, **private).success(
        report_of_opened, [opened, picked], report_runs, **private
    )
    cards.pick(picked_runs, None, [picked, picked_note, export_picked, report_runs], **private)
    dropped.upload(open_file, dropped, detail, **private)
    use.click(use_first, opened, [tabs, *sub_tabs.values(), *first_receivers], **private).success(
        use_rest, opened, receivers, **private
    )
    export_one.click(export_opened, opened, download, **private)
    export_picked.click(export_ticked, picked, download, **private)
    delete.click(None, None, confirm, js=CONFIRM_DELETE, queue=False, **private).then(
        delete_run, [confirm, opened, *filters], [*detail, *listing], **private
    )
    report_button.click(
        api_function(export_report, ["run_ids", "format"]),
        [report_runs, report_format],
        report_file,
        api_name="export_report",
    )
    deep_link_outputs = [tabs, limit, *listing, *detail, report_dialog, report_runs]
    return {
        "cards": cards,
        "use": use,
        "card": card_view,
        "dropped": dropped,
        "report_runs": report_runs,
        "deep_link": deep_link,
        "deep_link_outputs": deep_link_outputs,
    }
