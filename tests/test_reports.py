"""Reports you can hand to someone: one offline HTML file per selection of runs (pictures and sounds inside it, no
request to any network), CSV and JSON of the same data that parse back to the numbers the app showed, and the deep
links that open History on a run or on its report."""

from __future__ import annotations

import csv
import io
import json
import re
import secrets
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import ARTIFACTS, open_app
from playground import reports
from playground.bundled import ASSETS
from playground.errors import UserError
from playground.history import RunLog

URL_IN_PAGE = re.compile(r"""(?:src|href)\s*=\s*(?!["']?(?:data:|#))""", re.IGNORECASE)  # not inline data


def csv_of(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def metric_rows(rows: list[dict], run_id: str) -> dict[tuple[int, str], str]:
    return {(int(r["row"]), r["name"]): r["value"] for r in rows if r["run_id"] == run_id and r["section"] == "metric"}


# ---------------------------------------------------------------- the writer, on a run log of its own


@pytest.fixture
def log_with_runs(tmp_path, registry):
    """A run log holding a compare-like chat run with its metrics, a picture, a clip and a transcript of a file."""
    run_log = RunLog(tmp_path / "data")
    chat, t2i, tts, stt = (registry.get(t) for t in ("chat", "text_to_image", "text_to_speech", "speech_to_text"))
    metrics = [{"set": "all answers", "answers": 2, "distinct-1": 0.812, "distinct-2": 0.95}]
    cards = [
        run_log.record("compare_chat", chat, chat.Options.parse(), seed=7, outputs=["one", "two"], metrics=metrics),
        run_log.record(
            "text_to_image",
            t2i,
            t2i.Options.parse(steps=2),
            seed=1,
            settings={"prompt": "a <b>cat</b>"},
            outputs=[Image.new("RGB", (16, 16), (200, 40, 40))],
            seconds=0.25,
        ),
        run_log.record(
            "synthesize",
            tts,
            tts.Options.parse(),
            seed=2,
            settings={"text": "hi"},
            outputs=[(22050, (np.sin(np.arange(4410) / 8) * 8000).astype(np.int16))],
        ),
        run_log.record(
            "transcribe",
            stt,
            stt.Options.parse(),
            files={"audio": str(sorted((ASSETS / "examples" / "audio").glob("*.wav"))[0])},
            outputs=["what is the capital of france"],
            user="alice",
        ),
    ]
    assert all(cards)
    return run_log, cards


def test_html_csv_and_json_hold_the_same_runs_and_metrics(registry, log_with_runs):
    run_log, cards = log_with_runs
    ids = [c["run_id"] for c in cards]
    page = reports.write_report(registry, run_log, ", ".join(ids), "html").read_text(encoding="utf-8")
    assert not URL_IN_PAGE.search(page), URL_IN_PAGE.search(page)  # every src is a data: URI
    assert "http://" not in page and "https://" not in page and "@import" not in page
    assert page.count("<img src='data:image/png;base64,") == 1 and page.count("src='data:audio/wav;base64,") == 2
    assert "a &lt;b&gt;cat&lt;/b&gt;" in page and "<b>cat</b>" not in page  # a prompt is text, not markup
    rows = csv_of(reports.write_report(registry, run_log, ids, "csv").read_text(encoding="utf-8"))
    assert metric_rows(rows, ids[0]) == {
        (1, "set"): "all answers",
        (1, "answers"): "2",
        (1, "distinct-1"): "0.812",
        (1, "distinct-2"): "0.95",
    }
    seeds = {r["run_id"]: r["value"] for r in rows if r["section"] == "card" and r["name"] == "seed"}
    assert seeds == {ids[0]: "7", ids[1]: "1", ids[2]: "2"}  # transcription takes no seed
    data = json.loads(reports.write_report(registry, run_log, json.dumps(ids), "json").read_text(encoding="utf-8"))
    assert [r["run_id"] for r in data["runs"]] == ids and data["runs"][0]["metrics"] == cards[0]["metrics"]
    assert data["runs"][3]["input_files"][0]["path"].startswith("inputs/")


def test_a_report_holds_only_the_callers_runs_and_refuses_in_one_sentence(registry, log_with_runs):
    run_log, cards = log_with_runs
    ids = [c["run_id"] for c in cards]
    alice = json.loads(reports.write_report(registry, run_log, ids, "json", user="alice").read_text())
    assert [r["run_id"] for r in alice["runs"]] == [ids[3]]
    for run_ids, fmt, sentence in [
        (ids[:3], "json", "None of those runs is in your history"),
        ("", "html", "Pick at least one run for the report."),
        (ids, "pdf", "A report's format is html, csv or json; got 'pdf'."),
        ("[1,", "html", "The run ids are not a valid JSON list"),
    ]:
        with pytest.raises(UserError, match=re.escape(sentence)):
            reports.write_report(registry, run_log, run_ids, fmt, user="alice")


# ---------------------------------------------------------------- compare runs from the app, opened offline


def open_offline(browser, path: Path, shot: str) -> dict:
    """Open ``path`` from file:// in a fresh context that lets nothing but file: and data: through; screenshot it."""
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    requests = []

    def route(call):
        requests.append(call.request.url)
        if call.request.url.startswith(("file:", "data:")):
            call.continue_()
        else:
            call.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.on("request", lambda request: requests.append(request.url))
    try:
        page.goto(path.as_uri(), wait_until="load")
        page.wait_for_function(
            "() => [...document.images].every((i) => i.complete) && "
            "[...document.querySelectorAll('audio')].every((a) => a.readyState >= 1 || a.error)",
            timeout=30_000,
        )
        found = page.evaluate(
            """() => ({
                images: [...document.images].map((i) => i.complete && i.naturalWidth > 0),
                audio: [...document.querySelectorAll('audio')].map((a) => a.readyState >= 1 && !a.error
                                                                   && a.duration > 0),
                text: document.body.innerText,
            })"""
        )
        page.screenshot(path=ARTIFACTS / shot, full_page=True)
    finally:
        context.close()
    found["requests"] = sorted(set(requests))
    return found


def newest(run_log: RunLog, api: str, setting: str, value: str) -> dict:
    card = next(
        (c for c in run_log.runs(limit=200) if c["api_name"] == api and c["settings"].get(setting) == value), None
    )
    assert card is not None, f"no {api} run with {setting}={value!r} in the history"
    return card


def test_compare_reports_open_offline_and_the_csv_gives_back_the_numbers_shown(client, data_dir, browser):
    from gradio_client import handle_file

    tag = secrets.token_hex(3)  # this test's runs, told apart from any other in the shared data folder
    run_log = RunLog(data_dir)
    client.predict(
        prompt="a cat on the beach",
        x_param="guidance_scale",
        x_values="1, 7.5",
        y_param="seed",
        y_values="1",
        negative_prompt=f"blurry {tag}",
        steps=2,
        api_name="/compare_text_to_image",
    )
    grid = newest(run_log, "compare_text_to_image", "negative_prompt", f"blurry {tag}")
    message = f"Name a colour ({tag})."
    _, diversity, _, _ = client.predict(
        message=message, temperatures="0.2, 1.2", samples=1, seed=7, max_new_tokens=8, api_name="/compare_chat"
    )
    chat = newest(run_log, "compare_chat", "message", message)
    said = f"Hello from report {tag}."
    client.predict(text=said, expressiveness_values="0.3, 1.0", seed=3, api_name="/compare_speech")
    speech = newest(run_log, "compare_speech", "text", said)
    clip = sorted((ASSETS / "examples" / "audio").glob("*.wav"))[0]
    reference = f"what is the capital of france {tag}"
    client.predict(audio=handle_file(str(clip)), beam_sizes="1, 2", reference=reference, api_name="/compare_transcribe")
    heard = newest(run_log, "compare_transcribe", "reference", reference)

    made = {}
    for name, run_ids in {"grid": [grid], "chat": [chat], "speech": [speech, heard]}.items():
        ids = ", ".join(c["run_id"] for c in run_ids)
        made[name] = Path(client.predict(run_ids=ids, format="html", api_name="/export_report"))
    expected = {"grid": (1, 0), "chat": (0, 0), "speech": (0, 3)}  # pictures, sounds: 2 clips and the clip heard
    for name, path in made.items():
        seen = open_offline(browser, path, f"report-{name}.png")
        assert seen["requests"] == [path.as_uri()], seen["requests"]  # the file itself, nothing else
        assert (len(seen["images"]), len(seen["audio"])) == expected[name], name
        assert all(seen["images"]) and all(seen["audio"]), name  # every picture decoded, every sound playable
        if name == "grid":
            assert "guidance_scale=7.5, seed=1" in seen["text"]  # the cells' settings, as the grid's summary

    rows = csv_of(Path(client.predict(run_ids=chat["run_id"], format="csv", api_name="/export_report")).read_text())
    shown = metric_rows(rows, chat["run_id"])
    headers, values = diversity["headers"], diversity["data"]
    assert values and len(shown) == len(headers) * len(values)
    for i, row in enumerate(values):
        for header, value in zip(headers, row):
            back = shown[(i + 1, header)]
            assert (float(back) == float(value)) if isinstance(value, (int, float)) else back == value, header
    rows = csv_of(Path(client.predict(run_ids=heard["run_id"], format="csv", api_name="/export_report")).read_text())
    rates = [float(r["value"]) for r in rows if r["section"] == "metric" and r["name"] == "word error rate (%)"]
    assert len(rates) == 2 and all(0 < rate <= 100 for rate in rates)  # the reference carries a word never said


# ---------------------------------------------------------------- deep links


def test_deep_links_open_history_on_a_run_and_its_report(browser, server, client, data_dir):
    played = client.predict(
        prompt="a rocket in space",
        contestant_a=json.dumps({"model": "bundled/picture-sd", "guidance_scale": 3, "steps": 2}),
        contestant_b=json.dumps({"model": "bundled/picture-sd", "guidance_scale": 7.5, "steps": 2}),
        seed=5,
        api_name="/arena_text_to_image",
    )
    run_id = client.predict(round_id=played[0], vote="A", api_name="/arena_vote")["run_id"]
    page = open_app(browser, f"{server}?run={run_id}")
    try:
        page.wait_for_function(
            "(id) => (document.querySelector('#history-title')?.innerText || '').includes(id)", arg=run_id
        )
        history_tab = page.locator("button[role=tab][data-tab-id=history]")
        assert history_tab.count() == 1  # (a component between the Arena and History tabs once drew it twice)
        assert history_tab.get_attribute("aria-selected") == "true"
        assert "Text to Image · arena" in page.locator("#history-title").inner_text()
        assert not page.locator("#history-report-runs textarea").is_visible()  # the report dialog stays closed
        page.goto(f"{server}?report={run_id}")
        page.wait_for_function(
            "(id) => document.querySelector('#history-report-runs textarea')?.value === id", arg=run_id, timeout=60_000
        )
        assert page.locator("#history-report-runs textarea").is_visible()
        page.locator("#history-report-export").click()
        page.wait_for_selector("#history-report-file a", timeout=30_000)
        page.locator("#history-report").scroll_into_view_if_needed()
        page.screenshot(path=ARTIFACTS / "report-dialog.png")
    finally:
        page.close()
    path = Path(client.predict(run_ids=run_id, format="html", api_name="/export_report"))
    seen = open_offline(browser, path, "report-arena.png")
    assert seen["requests"] == [path.as_uri()] and len(seen["images"]) == 2 and all(seen["images"])
    assert "Arena ratings · Text to Image" in seen["text"] and "guidance_scale=3" in seen["text"]
