"""A task added from this file alone, with no edit anywhere else, gets everything a task has: a tab, a named API
endpoint, History records (restorable with "Use these settings"), a ``--check`` line, and the same refusals on
every path. The task is a toy ("reverse the text") so the test needs no model files."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import ARTIFACTS, open_app
from playground.models.base import ModelWrapper
from playground.models.spec import Input, Kept, ModelSpec, TaskSpec
from playground.options import Field, Options


class ReverseOptions(Options):
    repeat: int = Field(1, ge=1, le=3, description="How many times the reversed text is written.")
    upper: bool = Field(False, description="Write it in capitals.")


class Reverser(ModelWrapper):
    """A "model" that writes the text backwards: loading it only notes that it happened."""

    task = "reverse"
    backend = "python"
    Options = ReverseOptions
    pickled_bin = False
    loads = 0

    def load(self) -> None:
        Reverser.loads += 1

    def reverse(self, text: str, options: ReverseOptions) -> str:
        backwards = text[::-1].upper() if options.upper else text[::-1]
        return " ".join([backwards] * options.repeat)


REVERSE = TaskSpec(
    name="reverse",
    title="Reverse the text",
    api_name="reverse",
    aliases=("rev",),
    backends=(Reverser,),
    models=(ModelSpec("toy/reverser", "Reverser (a toy)", locate=lambda: Path(__file__)),),
    inputs=(Input("text", "text", "Text", limit=100),),
    seeded=False,
    run=lambda wrapper, inputs, options, seed, job: wrapper.reverse(inputs["text"], options),
    keep=lambda inputs, result: Kept(outputs=[result], settings={"text": inputs["text"]}),
    status=lambda run: f"Reversed {len(run.inputs['text'])} characters in {run.seconds:.3f} s",
    check=lambda wrapper, shared: f"reversed {wrapper.reverse('abc', wrapper.Options.parse())!r}",
)


@pytest.fixture(scope="module")
def toy_registry(data_dir, model_dir):
    from playground.devices import DeviceChoice
    from playground.registry import Registry
    from playground.tasks import default_tasks

    return Registry(data_dir, DeviceChoice("cpu"), model_dirs=[model_dir], tasks=[*default_tasks(), REVERSE])


@pytest.fixture(scope="module")
def app(toy_registry, tmp_path_factory):
    from playground.app_process import free_port
    from playground.history import open_history
    from playground.ui.app import build_app

    run_log = open_history(tmp_path_factory.mktemp("toy-task-data"))
    demo = build_app(toy_registry, run_log)
    demo.queue(default_concurrency_limit=2)
    port = free_port()
    demo.launch(server_port=port, prevent_thread_lock=True, quiet=True)
    yield run_log, f"http://127.0.0.1:{port}/"
    demo.close()


def test_the_toy_task_has_a_check_line(toy_registry):
    from playground import selfcheck

    lines: list[str] = []
    results = selfcheck.run_checks(toy_registry, ["reverse"], write=lines.append)
    assert [r.task for r in results] == ["reverse"] and results[0].ok, results
    assert "Reverse the text" in lines[-1] and "reversed 'cba'" in lines[-1], lines


def test_the_cli_names_come_from_the_specs():
    from playground.tasks import default_tasks, task_names

    names = task_names([*default_tasks(), REVERSE])
    assert names["rev"] == names["reverse"] == "reverse"
    assert names["stt"] == "speech_to_text" and names["t2i"] == "text_to_image"
    with pytest.raises(Exception, match="Two tasks are both called 'rev'"):
        task_names([REVERSE, TaskSpec(name="revise", title="Revise", api_name="revise", aliases=("rev",))])


def test_the_toy_task_has_a_named_endpoint_and_is_kept_in_history(app):
    from gradio_client import Client

    run_log, url = app
    client = Client(url, verbose=False)
    reply, status = client.predict(text="stressed", model="toy/reverser", repeat=2, upper=False, api_name="/reverse")
    assert reply == "desserts desserts"
    assert status.startswith("Reversed 8 characters in")
    card = run_log.runs(task="reverse")[0]
    assert card["api_name"] == "reverse" and card["settings"]["text"] == "stressed"
    assert card["settings"]["repeat"] == 2 and card["output_text"] == "desserts desserts"
    # the spec's checks refuse for the API as for any other path, with the same sentence
    with pytest.raises(Exception, match="The text is 101 characters long; the limit is 100"):
        client.predict(text="x" * 101, model="toy/reverser", repeat=1, upper=False, api_name="/reverse")
    with pytest.raises(Exception, match="The text is empty"):
        client.predict(text="   ", model="toy/reverser", repeat=1, upper=False, api_name="/reverse")
    from playground.errors import UserError
    from playground.run import run_task

    with pytest.raises(UserError, match="The text is 101 characters long; the limit is 100"):
        run_task(app_registry(), "reverse", {"text": "x" * 101})


def app_registry():
    from playground.devices import DeviceChoice
    from playground.registry import Registry

    return Registry(Path("/nonexistent"), DeviceChoice("cpu"), tasks=[REVERSE])


def test_the_toy_task_has_a_tab_and_history_restores_its_settings(app, browser):
    _, url = app
    page = open_app(browser, url)
    page.get_by_role("tab", name="Reverse the text").click()
    page.locator("#text-input textarea").fill("a toy task")
    page.locator("#reverse-run").click()
    page.wait_for_function(
        "() => document.querySelector('#reverse-output textarea')?.value === 'ksat yot a'", timeout=60_000
    )
    page.screenshot(path=ARTIFACTS / "toy_task_tab.png", full_page=True)
    page.locator("#text-input textarea").fill("something else")
    page.get_by_role("tab", name="History").click()
    newest = page.locator("#history-cards .run").first
    newest.wait_for(timeout=30_000)
    assert "a toy task" in newest.inner_text() or "ksat yot a" in newest.inner_text()
    newest.click()
    page.locator("#history-use").click()
    page.wait_for_function(
        "() => document.querySelector('#text-input textarea')?.value === 'a toy task'", timeout=30_000
    )
    page.close()
