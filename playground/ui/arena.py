"""The Arena tab: two contestants, (model, settings) pairs, answer the same inputs blind; vote A, B, tie or both
bad, see the names, and watch the leaderboard's ratings and intervals. Also the ``/arena_*`` endpoints.

The logic is ``playground.arena`` (no gradio); this module lays out the tab and wires its events. The page and the
API run a round through the same ``arena.play_round`` and vote through ``arena.vote``. While a round waits for its
vote, the page shows nothing that names a contestant: the set-up and the leaderboard are hidden until the vote.
"""

from __future__ import annotations

import contextlib
import json
import secrets

import gradio as gr

from playground import arena, reports
from playground.bundled import ASSETS
from playground.errors import UserError
from playground.history import HistoryAccess
from playground.jobs import HEARTBEAT, iterate_job
from playground.ui.components import ImageInput, SeedNumber
from playground.ui.controls import api_function, option_controls, plain_error, shown_file
from playground.ui.history import current_user

TAB = "arena"
MAX_ROUNDS = 100  # one session's inputs
# The contestants a new session starts with, per task: the task's default model at two settings worth comparing.
STARTING_OPTIONS = {
    "chat": ({"temperature": 0.2, "max_new_tokens": 64}, {"temperature": 1.0, "max_new_tokens": 64}),
    "text_to_image": ({"guidance_scale": 3.0}, {"guidance_scale": 7.5}),
    "captioning": ({"temperature": 0.0}, {"temperature": 1.0}),
    "speech_to_text": ({"beam_size": 1}, {"beam_size": 5}),
    "text_to_speech": ({"expressiveness": 0.3}, {"expressiveness": 1.0}),
}
EXAMPLE_TEXTS = {
    "chat": "Write one sentence about the sea.\nName three fruits.\nWhat is the capital of France?\n"
    "Give me a tip for sleeping well.\nDescribe a cat in five words.",
    "text_to_image": "a cat on the beach\na rocket in space\na small boat at night, on the right\n"
    "a big dog in the snow, on the left",
    "text_to_speech": "The quick brown fox jumps over the lazy dog.\nWelcome to the generative AI playground.",
}
EXAMPLE_FOLDERS = {"image": ASSETS / "examples" / "images", "audio": ASSETS / "examples" / "audio"}
CONCURRENCY = {"chat": 4}  # the same limit as the task's own tab (Gradio applies the lowest one to a shared id)

CSS = """
#arena-outputs .arena-text textarea { min-height: 7em; }
#arena-input-image img, #arena-a-image img, #arena-b-image img { image-rendering: pixelated; object-fit: contain; }
#arena-reveal { font-size: 1.05em; }
"""


def example_files(kind: str) -> list[str]:
    folder = EXAMPLE_FOLDERS.get(kind)
    suffixes = {".png"} if kind == "image" else {".wav"}
    return sorted(str(p) for p in folder.iterdir() if p.suffix in suffixes) if folder and folder.is_dir() else []


def starting_json(registry, task: str, index: int) -> str:
    """The JSON a new session starts a contestant with: the sliders' starting values."""
    fields = registry.options_class(task).model_fields
    spec = registry.spec(task, registry.task(task).default)
    start = {**(spec.recommended if spec else {}), **STARTING_OPTIONS.get(task, ({}, {}))[index]}
    values = {name: start.get(name, info.default) for name, info in fields.items()}
    return contestant_json(registry, task, registry.task(task).default, values)


def contestant_json(registry, task: str, model: str, values: dict) -> str:
    """The contestant the sliders describe: the model and every option, written out (nothing left implied)."""
    fields = registry.options_class(task).model_fields
    model = (model or "").strip() or registry.task(task).default
    options = {k: int(v) if fields[k].annotation is int else v for k, v in values.items() if k in fields}
    return json.dumps({"model": model, **options})


def session_inputs(spec, texts, files) -> list:
    """The session's inputs: one text a line, or the uploaded files."""
    given = arena.arena_input(spec)
    if given.kind == "text":
        items = [line.strip() for line in str(texts or "").splitlines() if line.strip()]
        what = f"one {given.what} a line"
    else:
        items = [f if isinstance(f, str) else getattr(f, "name", None) for f in files or []]
        items = [f for f in items if f]
        what = f"{given.kind} files"
    if not items:
        raise UserError(f"Give the rounds' inputs first: {what}.")
    if len(items) > MAX_ROUNDS:
        raise UserError(f"A session plays at most {MAX_ROUNDS} rounds; {len(items)} inputs were given.")
    return items


def build(registry, run_log, recorder, access: HistoryAccess = HistoryAccess(), *, presenter: bool = False) -> dict:
    """Build the Arena tab and the ``/arena_*`` endpoints; ``recorder`` keeps voted rounds in History."""
    tasks = arena.arena_tasks(registry)
    names = [s.name for s in tasks]
    first = names[0]
    titles = {s.name: s.title for s in tasks}
    kinds = {s.name: arena.arena_input(s).kind for s in tasks}
    outputs_of = {s.name: s.output for s in tasks}
    sliders: dict[int, dict[str, dict]] = {0: {}, 1: {}}  # side -> task -> option name -> slider
    groups: dict[int, dict[str, gr.Group]] = {0: {}, 1: {}}
    with gr.Tab("Arena", id=TAB) as tab:
        gr.Markdown(
            "Two contestants, each a model with its settings, answer the same inputs with the same seed. You see "
            "their outputs as **A** and **B**, in a random order, with no names; vote, and the names are revealed. "
            "The votes make a Bradley–Terry leaderboard with 95% intervals (few votes: wide intervals)."
        )
        task = gr.Dropdown([(titles[n], n) for n in names], value=first, label="Task", elem_id="arena-task")
        with gr.Column(elem_id="arena-setup") as setup:
            with gr.Row():
                json_boxes, models = [], []
                for side in (0, 1):
                    with gr.Column(elem_id=f"arena-contestant-{side + 1}"):
                        gr.Markdown(f"**Contestant {side + 1}**")
                        info = registry.task(first)
                        models.append(
                            gr.Dropdown(
                                [(m.label, m.id) for m in info.models],
                                value=info.default,
                                allow_custom_value=True,
                                label="Model",
                                elem_id=f"arena-model-{side + 1}",
                            )
                        )
                        for spec in tasks:
                            start = STARTING_OPTIONS.get(spec.name, ({}, {}))[side]
                            model_spec = registry.spec(spec.name, registry.task(spec.name).default)
                            overrides = {**(model_spec.recommended if model_spec else {}), **start}
                            with gr.Group(visible=spec.name == first) as group:
                                sliders[side][spec.name] = option_controls(registry.options_class(spec.name), overrides)
                            groups[side][spec.name] = group
                        json_boxes.append(
                            gr.Textbox(
                                value=starting_json(registry, first, side),
                                label=f"Contestant {side + 1} as JSON (contestant_{'ab'[side]} in the API)",
                                info="The sliders write it; type a model id or settings here too.",
                                elem_id=f"arena-json-{side + 1}",
                            )
                        )
            with gr.Row():
                texts = gr.Textbox(
                    value=EXAMPLE_TEXTS.get(first, ""),
                    lines=5,
                    label="Inputs: one a line, one round each",
                    visible=kinds[first] == "text",
                    elem_id="arena-inputs",
                )
                files = gr.File(
                    file_count="multiple",
                    label="Inputs: several files, one round each",
                    visible=kinds[first] != "text",
                    value=example_files(kinds[first]) if kinds[first] != "text" else None,
                    elem_id="arena-files",
                )
                seed = SeedNumber(
                    value=-1,
                    precision=0,
                    label="Seed",
                    info="Both contestants use the same seed; -1 draws one per round.",
                    elem_id="arena-seed",
                )
            start = gr.Button("Start the arena", variant="primary", elem_id="arena-start")
        with gr.Column(visible=False, elem_id="arena-round") as round_area:
            round_title = gr.Markdown(elem_id="arena-round-title")
            shown_text = gr.Markdown(elem_id="arena-input-text")
            shown_image = shown_file("image", "Input", "arena-input-image", height=200)
            shown_audio = shown_file("audio", "Input")
            with gr.Row(elem_id="arena-outputs"):
                outs = {}
                for letter in "ab":
                    with gr.Column():
                        outs[letter] = {
                            "text": gr.Textbox(
                                label=f"Output {letter.upper()}",
                                interactive=False,
                                lines=6,
                                elem_id=f"arena-{letter}-text",
                                elem_classes=["arena-text"],
                            ),
                            "image": shown_file(
                                "image", f"Output {letter.upper()}", f"arena-{letter}-image", height=320
                            ),
                            "audio": shown_file("audio", f"Output {letter.upper()}", f"arena-{letter}-audio"),
                        }
            with gr.Row():
                vote_buttons = {
                    "a": gr.Button("A is better", interactive=False, elem_id="arena-vote-a"),
                    "b": gr.Button("B is better", interactive=False, elem_id="arena-vote-b"),
                    "tie": gr.Button("Tie", interactive=False, elem_id="arena-vote-tie"),
                    "both_bad": gr.Button("Both bad", interactive=False, elem_id="arena-vote-both-bad"),
                }
            reveal_line = gr.Markdown(elem_id="arena-reveal")
            with gr.Row():
                next_round = gr.Button("Next round", variant="primary", visible=False, elem_id="arena-next")
                stop = gr.Button("Stop", variant="stop", size="sm", elem_id="arena-stop")
                end = gr.Button("End the session", size="sm", elem_id="arena-end")
        status = gr.Markdown(elem_id="arena-status")
        with gr.Column(elem_id="arena-board-area") as board_area:
            board_title = gr.Markdown(f"### Leaderboard · {titles[first]}", elem_id="arena-board-title")
            board = gr.Dataframe(
                headers=list(arena.LEADERBOARD_COLUMNS),
                interactive=False,
                label="Bradley–Terry rating (1000 = geometric mean), 95% bootstrap interval, votes",
                elem_id="arena-board",
            )
            chart = gr.HTML(elem_id="arena-chart")
            with gr.Row():
                refresh = gr.Button("Refresh the leaderboard", size="sm", elem_id="arena-refresh")
                report_format = gr.Radio(
                    list(reports.FORMATS), value="html", label="Report format", elem_id="arena-report-format"
                )
                export = gr.Button(
                    "Export this session's report", size="sm", interactive=False, elem_id="arena-report-export"
                )
            report_file = gr.File(label="Report", visible=False, interactive=False, elem_id="arena-report-file")
        # the API's own inputs and outputs: the endpoints take the task's input, the contestants and the seed
        with gr.Column(visible=False):
            api_inputs = {
                "text": gr.Textbox(),
                "image": ImageInput(type="filepath"),
                "audio": gr.Audio(type="filepath"),
            }
            api_contestants = [gr.Textbox(), gr.Textbox()]
            api_seed = SeedNumber(value=-1, precision=0)
            api_round = gr.Textbox()
            api_outputs = {
                "text": [gr.Textbox(), gr.Textbox()],
                "image": [gr.Image(type="filepath", format="png"), gr.Image(type="filepath", format="png")],
                "audio": [gr.Audio(type="filepath"), gr.Audio(type="filepath")],
            }
            api_vote = gr.Textbox()
            api_reveal = gr.JSON()
            api_task = gr.Textbox()
            api_board = gr.Dataframe(headers=list(arena.LEADERBOARD_COLUMNS))
            api_triggers = {name: gr.Button() for name in [*names, "vote", "leaderboard"]}
        # inside the tab: a component between two tabs made Gradio draw the next tab's button twice
        session = gr.State(None)  # ids and inputs only: the outputs are on disk under arena/<round id>/

    def viewer(request) -> str | None:
        try:
            return access.user_of(getattr(request, "username", None))
        except UserError as exc:
            raise plain_error(exc, "arena") from None

    def board_rows(task_name, request: gr.Request):
        rows = arena.leaderboard(registry, run_log, task_name, viewer(request))
        return {
            "headers": list(arena.LEADERBOARD_COLUMNS),
            "data": [[r[c] for c in arena.LEADERBOARD_COLUMNS] for r in rows],
        }

    def board_view(task_name, request: gr.Request):
        rows = arena.leaderboard(registry, run_log, task_name, viewer(request))
        votes = sum(r["votes"] for r in rows) // 2
        title = f"### Leaderboard · {titles.get(task_name, task_name)} · {votes} vote{'s' if votes != 1 else ''}"
        if not run_log.enabled:
            title += f"\n\n{run_log.note}"
        table = {
            "headers": list(arena.LEADERBOARD_COLUMNS),
            "data": [[r[c] for c in arena.LEADERBOARD_COLUMNS] for r in rows],
        }
        return title, table, reports.interval_chart(rows)

    def run_round(task_name, value, contestant_a, contestant_b, seed_value, session_id, progress, idle):
        """A generator over the round's work: yields ``idle`` while it runs (so it can be stopped), returns the
        round (``result = yield from run_round(...)``)."""
        user = current_user()

        def work(report, stop_flag):
            return arena.play_round(
                registry,
                run_log,
                task_name,
                value,
                contestant_a,
                contestant_b,
                seed_value,
                user=user,
                session=session_id,
                on_loading=report,
                stop=stop_flag,
            )

        yield idle  # Gradio can close a handler only once its first step has returned
        with contextlib.closing(iterate_job(work, heartbeat=HEARTBEAT)) as job:
            for kind, result in job:
                if kind == "progress":
                    progress(0, desc=result)
                if kind == "done":
                    return result
                yield idle

    def endpoint_for(spec):
        given = arena.arena_input(spec)

        def play(contestant_a, contestant_b, seed=-1, progress=gr.Progress(), request=None, **inputs):
            idle = (gr.skip(),) * 3
            played = yield from run_round(
                spec.name, inputs[given.name], contestant_a, contestant_b, seed, "", progress, idle
            )
            yield arena.round_outputs(played)

        return api_function(play, [given.name, "contestant_a", "contestant_b", "seed"]), given

    for spec in tasks:
        fn, given = endpoint_for(spec)
        api_triggers[spec.name].click(
            fn,
            [api_inputs[given.kind], *api_contestants, api_seed],
            [api_round, *api_outputs[spec.output]],
            api_name=f"arena_{spec.api_name}",
            concurrency_limit=CONCURRENCY.get(spec.name, 2),
            concurrency_id=spec.name,
        )

    def vote_api(round_id, vote):
        return arena.vote(registry, run_log, round_id, vote, user=current_user(), recorder=recorder)

    api_triggers["vote"].click(
        api_function(vote_api, ["round_id", "vote"]), [api_round, api_vote], [api_reveal], api_name="arena_vote"
    )

    def leaderboard_api(task, request: gr.Request = None):
        return board_rows(arena.task_named(registry, task), request)

    api_triggers["leaderboard"].click(
        api_function(leaderboard_api, ["task"]), [api_task], [api_board], api_name="arena_leaderboard"
    )

    # ---------------------------------------------------------------- the page's own events (private)

    all_sliders = {side: [s for t in names for s in sliders[side][t].values()] for side in (0, 1)}

    def write_json(side):
        def write(task_name, model, *values):
            it = iter(values)
            by_task = {t: {name: next(it) for name in sliders[side][t]} for t in names}
            return contestant_json(registry, task_name, model, by_task[task_name])

        return write

    def read_json(side):
        """Typed JSON moves the model and the sliders (a model or option the sliders cannot show stays typed)."""

        def read(task_name, text):
            try:
                typed = arena.parse_contestant(registry, task_name, text)
            except UserError:
                return tuple(gr.skip() for _ in range(1 + len(all_sliders[side])))
            moved = [
                gr.update(value=typed.options[name]) if t == task_name and name in typed.options else gr.skip()
                for t in names
                for name in sliders[side][t]
            ]
            return (gr.update(value=typed.model), *moved)

        return read

    for side in (0, 1):
        gr.on(
            [models[side].change, *(s.change for s in all_sliders[side])],
            write_json(side),
            [task, models[side], *all_sliders[side]],
            [json_boxes[side]],
            api_visibility="private",
            queue=False,
            show_progress="hidden",
        )
        json_boxes[side].blur(
            read_json(side),
            [task, json_boxes[side]],
            [models[side], *all_sliders[side]],
            api_visibility="private",
            queue=False,
            show_progress="hidden",
        )

    def pick_task(task_name, request: gr.Request):
        info = registry.task(task_name)
        kind, output = kinds[task_name], outputs_of[task_name]
        visible = {side: [gr.update(visible=t == task_name) for t in names] for side in (0, 1)}
        title, table, drawn = board_view(task_name, request)
        return (
            # a new model value writes the JSON boxes from this task's sliders (the models' change event)
            *[gr.update(choices=[(m.label, m.id) for m in info.models], value=info.default) for _ in (0, 1)],
            *visible[0],
            *visible[1],
            gr.update(visible=kind == "text", value=EXAMPLE_TEXTS.get(task_name, "")),
            gr.update(visible=kind != "text", value=example_files(kind) if kind != "text" else None),
            *[gr.update(visible=k == output) for letter in "ab" for k in ("text", "image", "audio")],
            title,
            table,
            drawn,
            None,
            gr.update(visible=True),
            gr.update(visible=True),
            gr.update(visible=False),
            "",
        )

    output_components = [outs[letter][k] for letter in "ab" for k in ("text", "image", "audio")]
    task.change(
        pick_task,
        [task],
        [
            *models,
            *[groups[0][t] for t in names],
            *[groups[1][t] for t in names],
            texts,
            files,
            *output_components,
            board_title,
            board,
            chart,
            session,
            setup,
            board_area,
            round_area,
            status,
        ],
        api_visibility="private",
    )

    def begin(task_name, contestant_a, contestant_b, text_inputs, file_inputs, seed_value):
        spec = registry.task_spec(task_name)
        try:
            a = arena.parse_contestant(registry, task_name, contestant_a, "Contestant 1 (contestant_a)")
            b = arena.parse_contestant(registry, task_name, contestant_b, "Contestant 2 (contestant_b)")
            if a.key == b.key:
                raise UserError(f"Both contestants are {a.label}: change the model or a setting of one of them.")
            items = session_inputs(spec, text_inputs, file_inputs)
            if not run_log.enabled:
                raise UserError(f"The arena keeps its rounds and votes in History, which is off here: {run_log.note}")
        except UserError as exc:
            raise plain_error(exc, "arena") from None
        state = {
            "id": secrets.token_hex(6),
            "task": task_name,
            "inputs": items,
            "next": 0,
            "contestants": [contestant_a, contestant_b],
            "seed": seed_value,
            "runs": [],
            "pending": None,
        }
        return (
            state,
            gr.update(visible=False),  # the set-up names the contestants: hidden while rounds wait for votes
            gr.update(visible=False),
            gr.update(visible=True),
            gr.update(interactive=False),
            gr.update(visible=False, value=None),
            f"A session of {len(items)} round{'s' if len(items) != 1 else ''}: vote on each to see who was who.",
        )

    def play_next(state, progress=gr.Progress()):
        idle = tuple(gr.skip() for _ in round_outputs)
        if not state or state["next"] >= len(state["inputs"]):
            yield idle
            return
        task_name, index = state["task"], state["next"]
        value = state["inputs"][index]
        kind, output = kinds[task_name], outputs_of[task_name]
        waiting = (
            gr.skip(),
            f"### Round {index + 1} of {len(state['inputs'])}",
            gr.update(value=f"**Input:** {value}" if kind == "text" else "", visible=kind == "text"),
            gr.update(visible=kind == "image", value=value if kind == "image" else None),
            gr.update(visible=kind == "audio", value=value if kind == "audio" else None),
            *[gr.update(value=None, visible=k == output) for letter in "ab" for k in ("text", "image", "audio")],
            *[gr.update(interactive=False)] * 4,
            "",
            gr.update(visible=False),
            gr.update(visible=False),
            f"Round {index + 1}: both contestants are working…",
        )
        yield waiting
        try:
            played = yield from run_round(
                task_name, value, *state["contestants"], state["seed"], state["id"], progress, idle
            )
        except UserError as exc:
            raise plain_error(exc, "arena") from None
        state = {**state, "next": index + 1, "pending": played["round_id"]}
        shown_outputs = [played["output_a"], played["output_b"]] if played["output_kind"] == "text" else played["files"]
        yield (
            state,
            gr.skip(),
            gr.skip(),
            gr.skip(),
            gr.skip(),
            *[
                gr.update(value=shown_outputs["ab".index(letter)]) if k == output else gr.skip()
                for letter in "ab"
                for k in ("text", "image", "audio")
            ],
            *[gr.update(interactive=True)] * 4,
            "",
            gr.skip(),
            gr.skip(),
            f"Round {index + 1} of {len(state['inputs'])}: which is better, A or B?",
        )

    round_outputs = [
        session,
        round_title,
        shown_text,
        shown_image,
        shown_audio,
        *output_components,
        *vote_buttons.values(),
        reveal_line,
        next_round,
        board_area,
        status,
    ]

    def cast(choice):
        def cast_vote(state, request: gr.Request):
            if not state or not state.get("pending"):
                raise gr.Error("There is no round waiting for a vote: start the arena first.", print_exception=False)
            try:
                revealed = arena.vote(
                    registry, run_log, state["pending"], choice, user=current_user(), recorder=recorder
                )
            except UserError as exc:
                raise plain_error(exc, "arena") from None
            runs = [*state["runs"], *([revealed["run_id"]] if revealed["run_id"] else [])]
            state = {**state, "pending": None, "runs": runs}
            more = state["next"] < len(state["inputs"])
            title, table, drawn = board_view(state["task"], request)
            left = len(state["inputs"]) - state["next"]
            note = (
                f"{left} round{'s' if left != 1 else ''} to go: press Next round."
                if more
                else f"Session over: {len(state['inputs'])} rounds voted. Export its report below, or start again."
            )
            return (
                state,
                arena.reveal_line(revealed),
                *[gr.update(interactive=False)] * 4,
                gr.update(visible=more),
                gr.update(visible=True),
                gr.update(visible=not more),
                title,
                table,
                drawn,
                gr.update(interactive=bool(runs)),
                note,
            )

        return cast_vote

    vote_outputs = [
        session,
        reveal_line,
        *vote_buttons.values(),
        next_round,
        board_area,
        setup,
        board_title,
        board,
        chart,
        export,
        status,
    ]
    begun = start.click(
        begin,
        [task, *json_boxes, texts, files, seed],
        [session, setup, board_area, round_area, export, report_file, status],
        api_visibility="private",
    )
    playing = dict(api_visibility="private", concurrency_limit=2, concurrency_id=TAB)
    first_round = begun.success(play_next, [session], round_outputs, **playing)
    later_round = next_round.click(play_next, [session], round_outputs, **playing)
    for choice, button in vote_buttons.items():
        button.click(cast(choice), [session], vote_outputs, api_visibility="private")

    def end_session(state):
        left = "" if not state or not state.get("pending") else " The last round was left without a vote."
        return (
            gr.update(visible=True),
            gr.update(visible=True),
            gr.update(visible=False),
            f"Session ended.{left}",
            {**state, "pending": None} if state else state,
        )

    stop.click(None, None, None, cancels=[first_round, later_round])
    end.click(
        end_session,
        [session],
        [setup, board_area, round_area, status, session],
        cancels=[first_round, later_round],
        api_visibility="private",
    )
    gr.on([tab.select, refresh.click], board_view, [task], [board_title, board, chart], api_visibility="private")

    def export_session(state, fmt, request: gr.Request):
        if not state or not state.get("runs"):
            raise gr.Error(
                "Vote on a round first: the report holds this session's voted rounds.", print_exception=False
            )
        try:
            path = reports.write_report(registry, run_log, state["runs"], fmt, user=viewer(request))
        except UserError as exc:
            raise plain_error(exc, "export_report") from None
        return gr.update(visible=True, value=str(path))

    export.click(export_session, [session, report_format], [report_file], api_visibility="private")
    return {"title": "Arena", "task": task, "contestants": json_boxes, "inputs": texts, "seed": seed}
