"""Reports you can hand to someone: runs from History as one offline HTML file, or as CSV and JSON of the same data.

A report holds, per run, its run card (task, model and revision, backend and device, every setting, the seed, the
timings) and the summary metrics the app showed beside it (a compare panel's distinct-n or word error rate, an
arena round's result, ``RunLog.record(metrics=...)``), and for the arena rounds among the runs the Bradley–Terry
ratings with their intervals over those rounds' votes (``playground.arena.ratings``).

The HTML file is self-contained: pictures and sounds are inlined as data: URIs, its style sheet is inline, and it
loads nothing (a Content-Security-Policy forbids every request but data:), so it opens from file:// on a machine
with no network. The CSV is long-format, one value a row (run, section, row, name, value), so it parses back to
the numbers shown; the JSON holds the same data with files as paths in the data folder.

No gradio here: ``playground.ui.history`` and ``playground.ui.arena`` offer the export, ``/export_report`` serves it.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import html
import io
import json
import os
import re
import secrets
from pathlib import Path
from typing import Iterable

from playground import arena
from playground.errors import UserError, shown
from playground.history import APP

FORMATS = ("html", "csv", "json")
MAX_RUNS = 500
INLINE_LIMIT = 25 * 2**20  # a file larger than this is named in the report, not inlined
MIME = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".gif": "image/gif",
    ".bmp": "image/bmp",
    ".wav": "audio/wav",
    ".flac": "audio/flac",
    ".ogg": "audio/ogg",
    ".oga": "audio/ogg",
    ".opus": "audio/ogg",
    ".mp3": "audio/mpeg",
    ".m4a": "audio/mp4",
    ".aac": "audio/aac",
    ".webm": "audio/webm",
}
CSV_COLUMNS = ("run_id", "task", "kind", "model", "section", "row", "name", "value")
CARD_FIELDS = ("created", "api_name", "revision", "backend", "device", "dtype", "seed", "seconds", "stopped")
# every request but inline data is refused: the file cannot reach a network even if something in it tried
POLICY = "default-src 'none'; img-src data:; media-src data:; style-src 'unsafe-inline'"


def parse_run_ids(run_ids) -> list[str]:
    """Run ids from a list, a JSON list, or text separated by commas, spaces or lines; one sentence if none."""
    if isinstance(run_ids, str) and run_ids.strip().startswith("["):
        try:
            run_ids = json.loads(run_ids)
        except ValueError:
            raise UserError("The run ids are not a valid JSON list: give them separated by commas instead.") from None
    if isinstance(run_ids, str):
        run_ids = re.split(r"[\s,;]+", run_ids)
    ids = [str(r).strip() for r in run_ids or [] if str(r).strip()]
    if not ids:
        raise UserError("Pick at least one run for the report.")
    if len(ids) > MAX_RUNS:
        raise UserError(f"A report holds at most {MAX_RUNS} runs; {len(ids)} were given.")
    return list(dict.fromkeys(ids))


def report_format(value) -> str:
    fmt = str(value or "").strip().lower().lstrip(".")
    if fmt not in FORMATS:
        raise UserError(f"A report's format is html, csv or json; got '{shown(value, 20)}'.")
    return fmt


def report_data(registry, run_log, run_ids, user: str | None = None) -> dict:
    """The report's data: the runs' cards and metrics (of ``user``'s runs; None: anyone's) and the arena ratings."""
    if not getattr(run_log, "enabled", False):
        raise UserError(f"Reports are made from History, which is off here: {run_log.note}")
    ids = parse_run_ids(run_ids)
    cards = [c for c in (run_log.get(r, user) for r in ids) if c is not None]
    if not cards:
        missing = ", ".join(shown(r, 40) for r in ids[:3])
        raise UserError(f"None of those runs is in your history ({missing}); pick runs from the History tab.")
    titles = {name: spec.title for name, spec in registry.tasks.items()}
    rounds = run_log.rounds_of_runs(c["run_id"] for c in cards if c.get("kind") == "arena")
    ratings = []
    for task in dict.fromkeys(r["task"] for r in rounds):
        voted = [r for r in rounds if r["task"] == task]
        ratings.append(
            {
                "task": task,
                "title": titles.get(task, task),
                "votes": len(voted),
                "rows": arena.rounds_ratings(registry, voted),
            }
        )
    from playground import __version__

    return {
        "app": APP,
        "version": __version__,
        "created": dt.datetime.now(dt.UTC).isoformat(),
        "runs": [_run_entry(card, titles) for card in cards],
        "ratings": ratings,
        "rating_method": (
            "Bradley–Terry (MM algorithm), ties and 'both bad' as half a win each, one virtual tie per pair that met; "
            f"rating 1000 + 400·log10(strength), geometric mean 1000; 95% interval from {arena.BOOTSTRAP_DRAWS} "
            "bootstrap resamplings of the votes with one pseudo-win for each side of every pair"
        ),
    }


def _run_entry(card: dict, titles: dict) -> dict:
    timings = card.get("timings") or {}
    return {
        "run_id": card["run_id"],
        "created": card.get("created", ""),
        "task": card["task"],
        "title": titles.get(card["task"], card["task"]),
        "kind": card.get("kind", "run"),
        "api_name": card.get("api_name", ""),
        "model": card.get("model", ""),
        "revision": card.get("revision", ""),
        "backend": card.get("backend", ""),
        "device": card.get("device", ""),
        "dtype": card.get("dtype", ""),
        "seed": card.get("seed"),
        "seconds": timings.get("seconds"),
        "timings": timings,
        "stopped": card.get("stopped", ""),
        "settings": card.get("settings") or {},
        "input_text": card.get("input_text", ""),
        "input_files": [
            {k: e.get(k) for k in ("name", "path", "sha256")}
            for e in card.get("input_files") or []
            if isinstance(e, dict)
        ],
        "output_text": card.get("output_text", ""),
        "output_files": [
            {k: e.get(k) for k in ("path", "kind", "sha256")}
            for e in card.get("output_files") or []
            if isinstance(e, dict)
        ],
        "metrics": card.get("metrics") or [],
        "versions": card.get("versions") or {},
    }


def write_report(registry, run_log, run_ids, fmt="html", user: str | None = None) -> Path:
    """Write the report of ``run_ids`` into the data folder's exports/ and return its path."""
    fmt = report_format(fmt)
    data = report_data(registry, run_log, run_ids, user)
    if fmt == "html":
        text = to_html(data, lambda relative: run_log.file(relative, user))
    elif fmt == "csv":
        text = to_csv(data)
    else:
        text = to_json(data)
    folder = run_log.data_dir / "exports"
    folder.mkdir(parents=True, exist_ok=True)
    runs = data["runs"]
    name = runs[0]["run_id"] if len(runs) == 1 else f"{dt.datetime.now(dt.UTC):%Y%m%d-%H%M%S}-{len(runs)}-runs"
    target = folder / f"report-{name}-{secrets.token_hex(4)}.{fmt}"  # served by name: not guessable by another login
    partial = target.with_name(target.name + f".part-{secrets.token_hex(3)}")
    partial.write_text(text, encoding="utf-8", newline="")
    os.replace(partial, target)
    return target


# ---------------------------------------------------------------- JSON and CSV


def to_json(data: dict) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def csv_rows(data: dict) -> Iterable[dict]:
    """The report as long-format rows: one value each, named by run, section, row and name."""
    for run in data["runs"]:
        base = {"run_id": run["run_id"], "task": run["task"], "kind": run["kind"], "model": run["model"]}
        for name in CARD_FIELDS:
            if run.get(name) not in (None, ""):
                yield {**base, "section": "card", "row": "", "name": name, "value": _cell(run[name])}
        for name, value in run["settings"].items():
            yield {**base, "section": "setting", "row": "", "name": name, "value": _cell(value)}
        for entry in run["input_files"]:
            yield {**base, "section": "input", "row": "", "name": entry["name"], "value": entry["path"]}
        for i, text in enumerate(t for t in run["output_text"].split("\n\n") if t):
            yield {**base, "section": "output", "row": i + 1, "name": "text", "value": text}
        for i, entry in enumerate(run["output_files"]):
            yield {
                **base,
                "section": "output",
                "row": i + 1,
                "name": entry.get("kind") or "file",
                "value": entry["path"],
            }
        for i, row in enumerate(run["metrics"]):
            for name, value in row.items():
                yield {**base, "section": "metric", "row": i + 1, "name": name, "value": _cell(value)}
    for board in data["ratings"]:
        base = {"run_id": "", "task": board["task"], "kind": "arena", "model": ""}
        for i, row in enumerate(board["rows"]):
            for name, value in row.items():
                yield {**base, "section": "rating", "row": i + 1, "name": name, "value": _cell(value)}


def to_csv(data: dict) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(csv_rows(data))
    return buffer.getvalue()


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


# ---------------------------------------------------------------- HTML

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px auto; max-width: 1100px;
       padding: 0 16px; color: #1c1c1e; background: #fafafa; line-height: 1.4; }
h1 { font-size: 1.6em; margin-bottom: 4px; } h2 { font-size: 1.25em; margin: 0 0 6px; } h3 { font-size: 1em; }
.meta { color: #555; font-size: 0.9em; }
.run, .board { background: #fff; border: 1px solid #ddd; border-radius: 10px; padding: 14px 16px; margin: 16px 0; }
table { border-collapse: collapse; font-size: 0.9em; margin: 6px 0 10px; }
th, td { border: 1px solid #e2e2e2; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f3f3f5; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.card td:first-child { color: #555; white-space: nowrap; }
.media { display: flex; flex-wrap: wrap; gap: 12px; margin: 6px 0; }
.media figure { margin: 0; } .media figcaption { font-size: 0.8em; color: #555; }
.media img { max-width: 520px; min-width: 128px; image-rendering: pixelated; border: 1px solid #ddd; }
.media audio { width: 320px; display: block; }
.text { white-space: pre-wrap; background: #f6f6f8; border-radius: 6px; padding: 8px 10px; margin: 4px 0; }
.stopped { color: #a33; font-weight: 600; }
.chart text { font-size: 12px; fill: #333; }
"""


def to_html(data: dict, locate) -> str:
    """The report as one self-contained page; ``locate(relative path)`` finds a run's file (None: gone)."""
    runs = data["runs"]
    head = (
        f"<h1>Generative AI Playground report</h1><div class='meta'>{len(runs)} run{'s' if len(runs) != 1 else ''}"
        f" · made {_esc(_when(data['created']))} by {_esc(data['app'])} {_esc(data['version'])} · offline: every "
        "picture and sound is inside this file</div>"
    )
    boards = "".join(_board_html(board, data["rating_method"]) for board in data["ratings"])
    body = "".join(_run_html(run, locate) for run in runs)
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<meta http-equiv='Content-Security-Policy' content=\"{POLICY}\">"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>Playground report · {len(runs)} runs</title><style>{CSS}</style></head><body>"
        f"{head}{boards}{body}</body></html>\n"
    )


def _board_html(board: dict, method: str) -> str:
    return (
        f"<section class='board'><h2>Arena ratings · {_esc(board['title'])}</h2>"
        f"<div class='meta'>{board['votes']} vote{'s' if board['votes'] != 1 else ''} in this report · {_esc(method)}"
        f"</div>{rows_table(board['rows'])}{interval_chart(board['rows'])}</section>"
    )


def _run_html(run: dict, locate) -> str:
    kind = {"compare": " · compare", "arena": " · arena round"}.get(run["kind"], "")
    card = [
        ("Run", run["run_id"]),
        ("Made", _when(run["created"])),
        ("Endpoint", f"/{run['api_name']}"),
        ("Model", run["model"]),
        ("Revision", run["revision"] or "unknown"),
        ("Backend", f"{run['backend']} on {run['device']} {run['dtype']}".strip()),
        ("Seed", "" if run["seed"] is None else run["seed"]),
        ("Time", "" if run["seconds"] is None else f"{run['seconds']:.2f} s"),
    ]
    card_rows = "".join(f"<tr><td>{_esc(k)}</td><td>{_esc(v)}</td></tr>" for k, v in card if v not in ("", None))
    settings = "".join(
        f"<tr><td>{_esc(k)}</td><td>{_esc(_cell(v))}</td></tr>"
        for k, v in run["settings"].items()
        if v not in ("", None)
    )
    inputs = _media(run["input_files"], locate, "input")
    outputs = _media(run["output_files"], locate, "output", names="AB" if run["kind"] == "arena" else "")
    texts = "".join(f"<div class='text'>{_esc(t)}</div>" for t in run["output_text"].split("\n\n") if t)
    metrics = (
        f"<h3>What the app showed</h3>{rows_table(run['metrics'])}"
        + (interval_chart(run["metrics"]) if _is_ratings(run["metrics"]) else "")
        if run["metrics"]
        else ""
    )
    stopped = f"<div class='stopped'>Cut short: {_esc(run['stopped'])}</div>" if run["stopped"] else ""
    return (
        f"<section class='run' id='run-{_esc(run['run_id'])}'><h2>{_esc(run['title'])}{kind}</h2>{stopped}"
        f"<table class='card'>{card_rows}</table>"
        + (f"<h3>Settings</h3><table class='card'>{settings}</table>" if settings else "")
        + (f"<h3>Input</h3><div class='media'>{inputs}</div>" if inputs else "")
        + (f"<h3>Output</h3><div class='media'>{outputs}</div>" if outputs else "")
        + (f"<h3>Output text</h3>{texts}" if texts else "")
        + metrics
        + "</section>"
    )


def _media(entries: list[dict], locate, what: str, names: str = "") -> str:
    """Files as inline pictures and players; ``names`` labels them in order (an arena round's A and B)."""
    parts = []
    for i, entry in enumerate(entries):
        path = locate(entry.get("path"))
        label = entry.get("name") or (names[i] if i < len(names) else f"{what} {i + 1}")
        if path is None:
            parts.append(
                f"<figure><figcaption>{_esc(label)}: the file is no longer in the data folder</figcaption></figure>"
            )
            continue
        mime = MIME.get(Path(path).suffix.lower())
        size = Path(path).stat().st_size
        if mime is None or size > INLINE_LIMIT:
            parts.append(
                f"<figure><figcaption>{_esc(label)}: {_esc(Path(path).name)} ({size / 2**20:.1f} MB, not inlined)</figcaption></figure>"
            )
            continue
        uri = f"data:{mime};base64,{base64.b64encode(Path(path).read_bytes()).decode('ascii')}"
        tag = (
            f"<img src='{uri}' alt='{_esc(label)}'>"
            if mime.startswith("image/")
            else f"<audio controls preload='metadata' src='{uri}'></audio>"
        )
        parts.append(f"<figure>{tag}<figcaption>{_esc(label)}</figcaption></figure>")
    return "".join(parts)


def rows_table(rows: list[dict]) -> str:
    """Same-keyed rows as an HTML table (the union of their keys, in order)."""
    if not rows:
        return ""
    columns = list(dict.fromkeys(k for row in rows for k in row))
    head = "".join(f"<th>{_esc(c)}</th>" for c in columns)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td class='num'>{_esc(_cell(row.get(c)))}</td>"
            if isinstance(row.get(c), (int, float)) and not isinstance(row.get(c), bool)
            else f"<td>{_esc(_cell(row.get(c)))}</td>"
            for c in columns
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _is_ratings(rows) -> bool:
    return bool(rows) and all({"contestant", "rating", "low", "high"} <= set(r) for r in rows)


def interval_chart(rows: list[dict], width: int = 640) -> str:
    """Leaderboard rows drawn as an inline SVG: each rating a dot on its 95% interval, on one shared axis."""
    rows = [r for r in rows if all(isinstance(r.get(k), (int, float)) for k in ("rating", "low", "high"))]
    if not rows:
        return ""
    low = min(r["low"] for r in rows)
    high = max(r["high"] for r in rows)
    span = max(high - low, 50.0)
    low, high = low - 0.08 * span, high + 0.08 * span
    left, right, step = 300, width - 50, 26
    names = [str(r["contestant"]) for r in rows]
    common = os.path.commonprefix(names)
    common = common[: common.rfind("(")] if "(" in common else ""
    if len(names) > 1 and common.strip():  # one model at several settings: the settings tell them apart
        names = [n[len(common) :] for n in names]

    def x(value):
        return left + (value - low) / (high - low) * (right - left)

    parts = []
    for i, (r, name) in enumerate(zip(rows, names)):
        y = 18 + i * step
        name = name if len(name) <= 46 else "…" + name[-45:]
        parts.append(
            f"<text x='{left - 8}' y='{y + 4}' text-anchor='end'>{_esc(name)}</text>"
            f"<line x1='{x(r['low']):.1f}' y1='{y}' x2='{x(r['high']):.1f}' y2='{y}' stroke='#4a6fa5' stroke-width='3'/>"
            f"<circle cx='{x(r['rating']):.1f}' cy='{y}' r='5' fill='#c0392b'/>"
            f"<text x='{x(r['high']) + 6:.1f}' y='{y + 4}'>{r['rating']:g}</text>"
        )
    height = 18 + len(rows) * step + 16
    axis = (
        f"<line x1='{x(1000):.1f}' y1='4' x2='{x(1000):.1f}' y2='{height - 14}' stroke='#999' stroke-dasharray='3 3'/>"
        f"<text x='{x(1000):.1f}' y='{height - 2}' text-anchor='middle'>1000</text>"
        if low <= 1000 <= high
        else ""
    )
    return (
        f"<svg class='chart' role='img' aria-label='ratings with 95% intervals' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}'>{axis}{''.join(parts)}</svg>"
    )


def _esc(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _when(iso: str) -> str:
    try:
        return dt.datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (TypeError, ValueError):
        return str(iso or "")
