"""The "Try it together" tab: Talk to it, Draw and describe, Say it back. Layout and wiring only;
the chains themselves live in ``playground.chains`` and run the same wrappers as the single tabs."""

from __future__ import annotations

import base64
import html
import io
import logging
import secrets
import tempfile
import time
from pathlib import Path

import gradio as gr

from playground import chains
from playground.bundled import ASSETS
from playground.listening import Listeners, parse_chunk
from playground.media import load_audio, wav_bytes
from playground.metrics import words
from playground.models.chat import plain_history
from playground.models.speech_to_text import SAMPLE_RATE
from playground.models.text_to_image import MAX_PROMPT_CHARS
from playground.models.text_to_speech import MAX_TEXT_CHARS
from playground.ui.components import OptionSlider
from playground.ui.controls import (
    api_function,
    default_overrides,
    model_dropdown,
    option_controls,
    require_text,
    resolve_seed,
    seed_box,
)
from playground.ui.endpoints import Endpoint
from playground.ui.stopping import StopNotes, stop_button
from playground.views import audio_views
from playground.views.words import karaoke_html

log = logging.getLogger("playground")

TASK = "chains"
TITLE = "Try it together"
TALK_SYSTEM_PROMPT = "You are a helpful assistant. Answer in one short sentence in English."
TALK_MAX_NEW_TOKENS = 60  # a spoken reply should be short; the slider goes up to the chat tab's limit
TALK_STT_DEFAULTS = {"beam_size": 1, "word_timestamps": False}
LISTEN_RATE = 16_000  # what the listener hands on (playground.listening)
# the page's own recorder (page.js, which also stops it after ten minutes) and its level meter
MIC_HTML = (
    '<div class="talk-mic"><button id="chain-talk-listen" class="lg secondary" type="button">'
    '🎙️ Start listening</button><div id="chain-talk-level" title="How loud the microphone is"><span></span></div></div>'
)
MAX_LISTENERS = 64  # browser sessions listened to at once
QUESTIONS = {  # assets/examples/audio/<name>.wav, spoken by the bundled voice (see assets/examples/make_examples.py)
    "capital-of-france": "What is the capital of France?",
    "why-is-the-sky-blue": "Why is the sky blue?",
    "fun-fact-about-the-moon": "Tell me a fun fact about the moon.",
}
DRAW_PROMPTS = [
    "a cat on the beach",
    "a big rocket in space, on the left",
    "a small boat at night, on the right",
]
SAY_TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "She sells sea shells by the sea shore.",
    "Generative models turn one kind of data into another.",
]
DIFF_LABELS = {"-": "typed, not heard", "+": "heard instead"}
DIFF_COLOURS = {"typed, not heard": "#f87171", "heard instead": "#60a5fa"}
STATE_TEXT = {"waiting": "waiting", "loading": "loading the model…", "running": "working…"}
# a stage's name -> its task; the name prefixes its controls (stt_beam_size) and its chain keywords (stt_model)
STAGE_TASKS = {
    "stt": "speech_to_text",
    "chat": "chat",
    "tts": "text_to_speech",
    "image": "text_to_image",
    "caption": "captioning",
}

CSS = """
.chain-intro { font-size: var(--text-lg); }
.chain-pipeline { display: flex; flex-wrap: wrap; align-items: stretch; gap: 6px; }
.chain-stage { border: 2px solid var(--border-color-primary); border-radius: 10px; padding: 8px 14px; min-width: 150px;
               background: var(--background-fill-secondary); }
.chain-stage .stage-name { font-weight: 600; }
.chain-stage .stage-time { font-size: 1.35em; font-weight: 700; }
.chain-stage .stage-detail { font-size: 0.85em; opacity: 0.8; }
.chain-stage.done { border-color: #15803d; }
.chain-stage.loading, .chain-stage.running { border-color: #1d4ed8; }
.chain-stage.failed { border-color: #b91c1c; }
.chain-stage.failed .stage-detail { color: #b91c1c; opacity: 1; }
.chain-arrow { align-self: center; font-size: 1.6em; opacity: 0.6; }
.chain-pipeline.compact { margin-bottom: 6px; align-items: center; flex-wrap: nowrap; }
.chain-pipeline.compact .chain-stage { padding: 2px 10px; min-width: 0; flex: 1 1 0; }
.chain-pipeline.compact .stage-name, .chain-pipeline.compact .stage-time { display: inline; margin-right: 6px; }
.chain-pipeline.compact .stage-time { font-size: 1em; white-space: nowrap; }
.chain-pipeline.compact .chain-arrow { font-size: 1.2em; }
.chain-pipeline .round-label { font-weight: 600; white-space: nowrap; }
.round-card { display: flex; gap: 16px; align-items: center; border: 2px solid var(--border-color-primary);
              border-radius: 10px; padding: 10px; margin-bottom: 10px; }
.round-card img { width: 160px; height: 160px; image-rendering: pixelated; border-radius: 6px; flex: none; }
.round-card .label { font-size: 0.8em; text-transform: uppercase; letter-spacing: 0.04em; opacity: 0.7; }
.round-card .text { font-size: 1.2em; margin-bottom: 6px; }
.round-card .score { font-weight: 600; }
.round-card .score.high { color: #15803d; } .round-card .score.mid { color: #b45309; } .round-card .score.low { color: #b91c1c; }
.wer-score { font-size: 1.6em; font-weight: 700; }
"""


# ---------------------------------------------------------------- rendering


def stage_box(stage: chains.Stage, label: str) -> str:
    """One stage: its name, its time (or its state), and what it made or why it failed."""
    timing = f"{stage.seconds:.2f} s" if stage.state in ("done", "failed") else STATE_TEXT[stage.state]
    notes = [stage.error if stage.failed else stage.detail]
    if stage.time_to_first_audio_s is not None:
        notes.append(f"first audio after {stage.time_to_first_audio_s:.2f} s")
    if stage.load_seconds >= 0.05:
        notes.append(f"first use: {stage.load_seconds:.1f} s loading")
    detail = " · ".join(html.escape(n) for n in notes if n)
    return (
        f'<div class="chain-stage {stage.state}"><div class="stage-name">{html.escape(label)}</div>'
        f'<div class="stage-time">{timing}</div><div class="stage-detail">{detail}</div></div>'
    )


def pipeline_html(stages: list[chains.Stage]) -> str:
    """The chain's stages left to right; the rounds of a telephone game one row each."""
    arrow = '<span class="chain-arrow">→</span>'
    rounds: dict[str, list[chains.Stage]] = {}
    for stage in stages:
        title, _, rest = stage.title.partition(" (round ")
        rounds.setdefault(rest.rstrip(")"), []).append(stage)
    if list(rounds) == [""]:  # a single pass
        boxes = [stage_box(s, f"{i}. {s.title}") for i, s in enumerate(stages, 1)]
        return f'<div class="chain-pipeline">{arrow.join(boxes)}</div>'
    rows = []
    for number, group in rounds.items():
        boxes = [stage_box(s, s.title.partition(" (round ")[0]) for s in group]
        rows.append(
            f'<div class="chain-pipeline compact"><span class="round-label">Round {number}</span>'
            f'{arrow.join(boxes)}</div>'
        )
    return "".join(rows)


def status_line(result: chains.ChainResult, extra: str = "") -> str:
    if result.failed:
        return result.failure_sentence()
    current = next((s for s in result.stages if s.state != "done"), None)
    if current is not None:
        return f"{current.title}: {STATE_TEXT[current.state]}"
    per_title: dict[str, float] = {}  # the rounds of a telephone game add up per stage
    for stage in result.stages:
        title = stage.title.partition(" (round ")[0]
        per_title[title] = per_title.get(title, 0.0) + stage.seconds
    rounds = len(result.stages) // max(1, len(per_title))
    timed = (f"{rounds} rounds: " if rounds > 1 else "") + " · ".join(
        f"{t} {sec:.2f} s" for t, sec in per_title.items()
    )
    loading = sum(s.load_seconds for s in result.stages)
    total = f"total {result.total_seconds:.1f} s" + (
        f", of which {loading:.1f} s loading models" if loading >= 0.05 else ""
    )
    return f"{timed} · {total}" + (f" · {extra}" if extra else "")


def stopped_sentence(result: chains.ChainResult) -> str:
    """What a chain stopped now would say: the stage it was in and the stages it had finished."""
    current = next((s for s in result.stages if s.state != "done"), None)
    kept = [s.title for s in result.stages if s.state == "done"]
    where = f" during {current.title}" if current is not None else ""
    return f"Stopped{where}: " + (f"{chains._join(kept)} finished and kept." if kept else "no stage had finished.")


def png_data_uri(image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def score_class(score: float) -> str:
    return "high" if score >= 0.75 else "mid" if score >= 0.5 else "low"


def round_cards(result: chains.DrawResult) -> str:
    """Each round as a card: the picture, the prompt beside the caption, and how well they agree."""
    cards = []
    for r in result.rounds:
        picture = f'<img alt="round {r.number}" src="{png_data_uri(r.image)}">' if r.image is not None else ""
        caption = html.escape(r.caption) if r.caption else "…"
        scores = ""
        if r.agreement is not None:
            scores = (
                f'<div class="score {score_class(r.agreement.score)}">{r.agreement.score:.0%} agreement: '
                f'{html.escape(r.agreement.describe())}</div>'
            )
            if r.prompt != result.rounds[0].prompt:
                scores += (
                    f'<div class="score {score_class(r.drift.score)}">{r.drift.score:.0%} agreement with the '
                    f'first prompt: {html.escape(r.drift.describe())}</div>'
                )
        cards.append(
            f'<div class="round-card">{picture}<div><div class="label">Round {r.number} · asked</div>'
            f'<div class="text">{html.escape(r.prompt)}</div><div class="label">The captioner saw</div>'
            f'<div class="text">{caption}</div>{scores}</div></div>'
        )
    return "".join(cards)


def round_records(result: chains.DrawResult) -> dict:
    def agreement(a):
        return (
            None
            if a is None
            else {"score": round(a.score, 4), "method": a.method, "matched": a.matched, "differing": a.differing}
        )

    return {
        "rounds": [
            {
                "round": r.number,
                "prompt": r.prompt,
                "seed": r.seed,
                "caption": r.caption,
                "agreement": agreement(r.agreement),
                "agreement_with_first_prompt": agreement(r.drift),
            }
            for r in result.rounds
        ],
        "stages": result.stage_records(),
    }


def wer_html(result: chains.SayBackResult) -> str:
    if result.wer is None:
        return ""
    changed = sum(1 for _, tag in result.diff if tag == "-")
    total = len(words(result.text))
    return (
        f'<div class="wer-score">Word error rate {result.wer:.0%}</div>'
        f'<div>{changed} of {total} typed words were not heard as typed.</div>'
    )


# ---------------------------------------------------------------- building


def stage_settings(registry, stage: str, title: str, overrides: dict | None = None):
    """A stage's model picker and option sliders (the single tab's, from the same Options class)."""
    task, prefix = STAGE_TASKS[stage], f"{stage}_"
    gr.Markdown(f"**{title}**")
    model = model_dropdown(registry, task, label=f"{title} model", elem_id=f"chain-{prefix}model")
    controls = option_controls(registry.options_class(task), {**default_overrides(registry, task), **(overrides or {})})
    return model, {prefix + name: control for name, control in controls.items()}


def stage_options(registry, task: str, prefix: str, values: dict):
    """Parse the prefixed values of one stage with its Options class."""
    return registry.options_class(task).parse(
        **{k[len(prefix) :]: v for k, v in values.items() if k.startswith(prefix)}
    )


def used_model(registry, result: chains.ChainResult, task: str, given: str | None) -> str:
    """The model a stage ran with (its default when the field was empty), for replaying the run."""
    ran = next((s.model_id for s in result.stages if s.task == task and s.model_id), "")
    return ran or (given or "").strip() or registry.task(task).default


def replay_options(registry, task: str, prefix: str, values: dict) -> dict:
    """A stage's options as the endpoint names them (prefixed), with the values parsed and defaults filled in."""
    parsed = stage_options(registry, task, prefix, values).model_dump()
    return {k: parsed[k[len(prefix) :]] for k in values if k.startswith(prefix) and k[len(prefix) :] in parsed}


def chain_stages(registry, models: dict, values: dict) -> dict:
    """The chain's keywords for its stages, from each stage's model field and prefixed option values.

    ``models`` maps a stage name (``STAGE_TASKS``) to its model field: ``{"stt": "tiny"}`` gives ``stt_model`` and
    ``stt_options``, the options parsed (a bad value raises here, before any stage runs).
    """
    stages = {}
    for name, model in models.items():
        stages[f"{name}_model"] = model
        stages[f"{name}_options"] = stage_options(registry, STAGE_TASKS[name], f"{name}_", values)
    return stages


def replay_stages(registry, result: chains.ChainResult, models: dict, values: dict) -> dict:
    """Each stage's model as it ran, then each stage's options as the endpoint names them: what replays the run."""
    replay = {f"{name}_model": used_model(registry, result, STAGE_TASKS[name], given) for name, given in models.items()}
    for name in models:
        replay.update(replay_options(registry, STAGE_TASKS[name], f"{name}_", values))
    return replay


def record_chain(run_log, registry, api: str, result: chains.ChainResult, outputs: list, **card) -> None:
    """Keep one chain run in History: what its finished stages made, and a failure's sentence.

    A run whose first stage made nothing is not kept: there is nothing to look at or compare with.
    Recording never breaks the chain: a failure here is logged and the result is shown all the same.
    """
    if run_log is None or not any(s.state == "done" for s in result.stages):
        return
    try:
        notes = [result.failure_sentence()] if result.failed else []
        run_log.record(
            api,
            chains.models_of(registry, result, TASK),
            outputs=[*outputs, *notes],
            seconds=result.total_seconds,
            **card,
        )
    except Exception:
        log.exception("the %s run was not recorded", api)


def example_clips() -> tuple[list[list[str]], list[str]]:
    folder = ASSETS / "examples" / "audio"
    found = [(folder / f"{name}.wav", text) for name, text in QUESTIONS.items() if (folder / f"{name}.wav").is_file()]
    return [[str(path)] for path, _ in found], [text for _, text in found]


def build(registry, run_log=None, *, presenter: bool = False) -> dict:
    """Build the tab and wire its events; returns the main components."""
    with gr.Tab(TITLE, id=TASK):
        gr.Markdown(
            "Chain the models: what one makes, the next one reads. Each box shows how long its stage took.",
            elem_classes=["chain-intro"],
        )
        with gr.Tabs() as sub_tabs:
            talk = build_talk(registry, run_log)
            draw = build_draw(registry, run_log)
            say = build_say_back(registry, run_log)
    endpoints = [built.pop("endpoint") for built in (talk, draw, say)]
    # History's "Use these settings" reads these: the tab's title, the inner tabs, and per endpoint its controls
    return {**talk, **draw, **say, "title": TITLE, "sub_tabs": sub_tabs, "endpoints": endpoints}


def build_talk(registry, run_log=None) -> dict:
    notes = StopNotes()
    with gr.Tab("Talk to it", id="chain-talk"):
        gr.Markdown(
            "Speak (or pick a question): **Speech to Text** writes it down, **Chat** answers, "
            "**Text to Speech** says the answer. Keep talking: it remembers the conversation."
        )
        with gr.Row():
            with gr.Column(scale=2):
                audio = gr.Audio(
                    label="Your question", sources=["microphone", "upload"], type="filepath", elem_id="chain-talk-audio"
                )
                with gr.Row():
                    run = gr.Button("Talk", variant="primary", elem_id="chain-talk-run")
                    stop = gr.Button("Stop", variant="stop")
                    clear = gr.Button("Start over")
                clips, labels = example_clips()
                if clips:
                    gr.Examples(clips, inputs=[audio], example_labels=labels, label="Questions to try")
                with gr.Accordion("Hands free: just talk, it answers when you pause", open=False):
                    # recorded by the page itself (page.js): numbered chunks handed to the hidden button's clicks, none lost
                    gr.HTML(MIC_HTML, elem_id="chain-talk-mic")
                    mic = gr.Textbox(elem_id="chain-talk-chunk", elem_classes=["by-script-only"])
                    send = gr.Button("send", elem_id="chain-talk-send", elem_classes=["by-script-only"])
                    listening = gr.Markdown(
                        "Press Start listening and speak; pause for a moment when you are done.",
                        elem_id="chain-talk-listening",
                    )
                    # set by the listener, never shown: the utterance it heard, and each start of speech
                    utterance = gr.Audio(type="filepath", interactive=False, elem_classes=["by-script-only"])
                    barge_in = gr.Number(value=0, interactive=False, elem_classes=["by-script-only"])
                with gr.Accordion("Advanced", open=False):
                    system_prompt = gr.Textbox(label="System prompt", value=TALK_SYSTEM_PROMPT, lines=2)
                    seed = seed_box()
                    # a spoken question is short: greedy decoding and no word timings hear it sooner
                    stt_model, stt = stage_settings(registry, "stt", "Speech to Text", TALK_STT_DEFAULTS)
                    chat_model, chat = stage_settings(registry, "chat", "Chat", {"max_new_tokens": TALK_MAX_NEW_TOKENS})
                    tts_model, tts = stage_settings(registry, "tts", "Text to Speech")
            with gr.Column(scale=3):
                pipeline = gr.HTML(elem_id="chain-talk-stages")
                chatbot = gr.Chatbot(
                    label="Conversation",
                    height=320,
                    elem_id="chain-talk-chat",
                    placeholder="The transcript and the reply appear here.",
                )
                transcript = gr.Textbox(label="What it heard", interactive=False, elem_id="chain-talk-transcript")
                live = gr.HTML(elem_id="chain-talk-live", elem_classes=["live-line"])  # spoken as it is written
                reply = gr.Audio(
                    label="The whole reply (WAV)",
                    type="numpy",
                    format="wav",
                    interactive=False,
                    elem_id="chain-talk-reply",
                )
                status = gr.Markdown(elem_id="chain-talk-status")
                with gr.Accordion("Results as data", open=False):
                    stages = gr.JSON(label="Stages")

    def chain_talk(audio, history, system_prompt, seed, stt_model, chat_model, tts_model, request=None, **options):
        samples = load_audio(audio, SAMPLE_RATE)
        seed = resolve_seed(seed)
        models = {"stt": stt_model, "chat": chat_model, "tts": tts_model}
        stage_args = chain_stages(registry, models, options)
        earlier = plain_history(history)
        reply = None  # cleared at the start; the whole spoken reply is sent once, at the end
        played, live_run = 0, secrets.token_hex(4)  # the sentences sent to the page's live player so far

        def keep(result, speech, note=None):
            record_chain(
                run_log,
                registry,
                "chain_talk",
                result,
                [
                    *([f"Heard: {result.transcript}"] if result.transcript else []),
                    *([f"Reply: {result.reply}"] if result.reply and result.stages[1].state == "done" else []),
                    speech,
                ],
                seed=seed,
                files={"audio": audio},
                settings={"history": earlier},  # the card shows what was heard
                stopped=note,
                options={"system_prompt": system_prompt or "", **replay_stages(registry, result, models, options)},
            )

        with notes.run(request, "chain_talk") as run:
            for result in chains.talk(
                registry,
                samples,
                earlier,
                system_prompt=system_prompt,
                seed=seed,
                **stage_args,
            ):
                run.if_stopped(stopped_sentence(result), lambda note, result=result: keep(result, None, note))
                fresh = len(result.speech_parts) > played  # the chain yields after each spoken sentence
                played = len(result.speech_parts)
                parts = [(p.sample_rate, p.samples) for p in result.speech_parts]
                yield (
                    result.history,
                    result.transcript,
                    reply,
                    pipeline_html(result.stages),
                    result.stage_records(),
                    status_line(result, f"seed {seed}"),
                    audio_views.live_html(parts, live_run, result.spoken) if fresh else gr.skip(),
                )
                reply = gr.skip()
            if result.failed:
                gr.Warning(html.escape(result.failure_sentence()))  # Gradio renders toasts as HTML
            speech = (result.speech.sample_rate, result.speech.samples) if result.speech is not None else None
            keep(result, speech)
            yield (
                result.history,
                result.transcript,
                speech,
                pipeline_html(result.stages),
                result.stage_records(),
                status_line(result, f"seed {seed}"),
                gr.skip(),
            )

    endpoint = Endpoint(
        "chain_talk",
        dict(
            audio=audio,
            history=chatbot,
            system_prompt=system_prompt,
            seed=seed,
            stt_model=stt_model,
            chat_model=chat_model,
            tts_model=tts_model,
            **stt,
            **chat,
            **tts,
        ),
        action="chain-talk-run",
        tab="chain-talk",
        title="Talk to it",
    )
    outputs = [chatbot, transcript, reply, pipeline, stages, status, live]
    event = endpoint.on([run.click], chain_talk, outputs, concurrency_limit=1, concurrency_id="chains")
    stop_button(stop, notes, "chain_talk", event, status)
    listen_and_answer(
        mic,
        send,
        listening,
        utterance,
        barge_in,
        api_function(chain_talk, endpoint.names),
        list(endpoint.controls.values())[1:],  # all but the recorded question, which the microphone gives
        outputs,
        event,
    )
    clear.click(
        lambda: ([], "", None, "", None, ""),
        None,
        [chatbot, transcript, reply, pipeline, stages, status],
        api_visibility="private",
        queue=False,
    )
    return {
        "talk_audio": audio,
        "talk_chatbot": chatbot,
        "talk_status": status,
        "endpoint": endpoint,
    }


def listen_and_answer(mic, send, line, utterance, barge_in, talk, other_inputs, outputs, typed_event) -> None:
    """Hands-free Talk to it: the page's recorder hands numbered chunks to ``send``'s clicks (as ``mic``), voice-activity
    detection finds the end of speech, and the utterance goes through the same chain as the Talk button. Speaking
    again while it answers stops the answer."""
    ears = Listeners(MAX_LISTENERS)  # per browser session: the speech gathered so far

    def listen(text, request: gr.Request):
        if not text:
            return gr.skip(), gr.skip(), gr.skip()
        key = getattr(request, "session_hash", None) or "default"
        try:
            heard = ears.hear(key, parse_chunk(text))
        except (RuntimeError, ValueError) as exc:
            raise gr.Error(f"Hands-free listening stopped: {exc}.") from None
        onset = time.monotonic() if heard.started else gr.skip()  # a new start of speech: any answer still going stops
        if heard.speech is None:
            text = listening_line(heard, ears.last_lost(key))
            return gr.skip(), text if ears.changed(key, text) else gr.skip(), onset
        path = Path(tempfile.mkdtemp(prefix="talk-")) / "utterance.wav"
        path.write_bytes(wav_bytes(heard.speech, LISTEN_RATE))
        line = f"Heard {len(heard.speech) / LISTEN_RATE:.1f} s of speech: answering…"
        if heard.lost_s:
            line += f" {lost_note(heard.lost_s)}"
        return str(path), line, onset

    # every chunk is its own click ("multiple": none is dropped while another is handled), handled at once; the
    # page's script hands the click its chunk
    send.click(
        listen,
        [mic],
        [utterance, line, barge_in],
        trigger_mode="multiple",
        api_visibility="private",
        concurrency_limit=None,
        show_progress="hidden",
        js="() => [window.__micTake ? window.__micTake() : '']",
    )
    answered = utterance.change(
        talk, [utterance, *other_inputs], outputs, api_visibility="private", concurrency_id="chains"
    )
    barge_in.change(None, None, None, cancels=[answered, typed_event])


def listening_line(heard, last_lost: float) -> str:
    """The hands-free line between questions: listening, hearing speech, or still loading the voice detector."""
    if not heard.ready:
        return "Getting the voice detector ready… talk as you like: what you say is kept until it is."
    line = "Listening… (speech)" if heard.speaking else "Listening…"
    if last_lost and not heard.speaking:
        line += f" Last question: {lost_note(last_lost)}"
    return line


def lost_note(seconds: float) -> str:
    """Said when part of an utterance never arrived: a chunk still missing once REORDER_CHUNKS later ones came."""
    return f"{seconds:.1f} s of your speech never reached the app (it was too busy to take it in), so the answer may miss words."


def build_draw(registry, run_log=None) -> dict:
    notes = StopNotes()
    with gr.Tab("Draw and describe", id="chain-draw"):
        gr.Markdown(
            "A prompt goes to **Text to Image**; **Image Captioning** describes the picture. With more rounds, "
            "each caption is drawn again, like the telephone game: watch the meaning drift."
        )
        with gr.Row():
            with gr.Column(scale=2):
                prompt = gr.Textbox(label="Prompt", value=DRAW_PROMPTS[0], lines=2, elem_id="chain-draw-prompt")
                rounds = OptionSlider(
                    minimum=1,
                    maximum=chains.MAX_ROUNDS,
                    value=1,
                    step=1,
                    label="Rounds",
                    info="1 draws and describes once; more plays the telephone game.",
                    elem_id="chain-draw-rounds",
                )
                with gr.Row():
                    run = gr.Button("Draw and describe", variant="primary", elem_id="chain-draw-run")
                    stop = gr.Button("Stop", variant="stop")
                gr.Examples(
                    [[p, 1] for p in DRAW_PROMPTS[:2]] + [[DRAW_PROMPTS[2], 4]],
                    inputs=[prompt, rounds],
                    example_labels=DRAW_PROMPTS[:2] + [f"{DRAW_PROMPTS[2]}, 4 rounds"],
                    label="Prompts to try",
                )
                with gr.Accordion("Advanced", open=False):
                    negative = gr.Textbox(label="Negative prompt", value="")
                    seed = seed_box()
                    image_model, image = stage_settings(registry, "image", "Text to Image")
                    caption_model, caption = stage_settings(registry, "caption", "Image Captioning")
            with gr.Column(scale=3):
                pipeline = gr.HTML(elem_id="chain-draw-stages")
                cards = gr.HTML(elem_id="chain-draw-rounds-view")
                status = gr.Markdown(elem_id="chain-draw-status")
                with gr.Accordion("Results as data", open=False):
                    gallery = gr.Gallery(label="Pictures", format="png", columns=4, height="auto")
                    records = gr.JSON(label="Rounds and stages")

    def chain_draw_describe(prompt, rounds, negative_prompt, seed, image_model, caption_model, request=None, **options):
        prompt = require_text(prompt, "prompt", MAX_PROMPT_CHARS)
        if negative_prompt:
            require_text(negative_prompt, "negative prompt", MAX_PROMPT_CHARS)
        seed = resolve_seed(seed)
        models = {"image": image_model, "caption": caption_model}
        stage_args = chain_stages(registry, models, options)

        def keep(result, note=None):
            several = len(result.rounds) > 1
            record_chain(
                run_log,
                registry,
                "chain_draw_describe",
                result,
                [
                    *[r.image for r in result.rounds if r.image is not None],
                    *[f"Round {r.number}: {r.caption}" if several else r.caption for r in result.rounds if r.caption],
                ],
                seed=seed,
                settings={"prompt": prompt, "rounds": int(rounds), "negative_prompt": negative_prompt or ""},
                stopped=note,
                options=replay_stages(registry, result, models, options),
            )

        with notes.run(request, "chain_draw_describe") as run:
            for result in chains.draw_and_describe(
                registry,
                prompt,
                seed=seed,
                rounds=int(rounds),
                negative_prompt=negative_prompt or "",
                **stage_args,
            ):
                run.if_stopped(stopped_sentence(result), lambda note, result=result: keep(result, note))
                pictures = [
                    (r.image, f"Round {r.number}: {r.caption or '…'}") for r in result.rounds if r.image is not None
                ]
                yield (
                    round_cards(result),
                    pipeline_html(result.stages),
                    pictures,
                    round_records(result),
                    status_line(result, f"seed {seed}"),
                )
            if result.failed:
                gr.Warning(html.escape(result.failure_sentence()))  # Gradio renders toasts as HTML
            keep(result)

    endpoint = Endpoint(
        "chain_draw_describe",
        dict(
            prompt=prompt,
            rounds=rounds,
            negative_prompt=negative,
            seed=seed,
            image_model=image_model,
            caption_model=caption_model,
            **image,
            **caption,
        ),
        action="chain-draw-run",
        tab="chain-draw",
        title="Draw and describe",
    )
    event = endpoint.on(
        [run.click, prompt.submit],
        chain_draw_describe,
        [cards, pipeline, gallery, records, status],
        concurrency_limit=1,
        concurrency_id="chains",
    )
    stop_button(stop, notes, "chain_draw_describe", event, status)
    return {
        "draw_prompt": prompt,
        "draw_cards": cards,
        "draw_status": status,
        "endpoint": endpoint,
    }


def build_say_back(registry, run_log=None) -> dict:
    with gr.Tab("Say it back", id="chain-say"):
        gr.Markdown(
            "**Text to Speech** reads your text aloud; **Speech to Text** writes down what it hears. "
            "The word error rate counts the words that did not survive the round trip."
        )
        with gr.Row():
            with gr.Column(scale=2):
                text = gr.Textbox(label="Text", value=SAY_TEXTS[0], lines=3, elem_id="chain-say-text")
                run = gr.Button("Say it back", variant="primary", elem_id="chain-say-run")
                gr.Examples([[t] for t in SAY_TEXTS], inputs=[text], example_labels=SAY_TEXTS, label="Texts to try")
                with gr.Accordion("Advanced", open=False):
                    tts_model, tts = stage_settings(registry, "tts", "Text to Speech")
                    stt_model, stt = stage_settings(registry, "stt", "Speech to Text")
            with gr.Column(scale=3):
                pipeline = gr.HTML(elem_id="chain-say-stages")
                speech = gr.Audio(
                    label="What the voice said",
                    type="numpy",
                    format="wav",
                    interactive=False,
                    autoplay=True,
                    elem_id="chain-say-audio",
                )
                transcript = gr.Textbox(label="What was heard", interactive=False, elem_id="chain-say-transcript")
                heard_words = gr.HTML(elem_id="chain-say-words")
                score = gr.HTML(elem_id="chain-say-score")
                diff = gr.HighlightedText(
                    label="Words that differ",
                    color_map=DIFF_COLOURS,
                    show_legend=True,
                    combine_adjacent=False,
                    elem_id="chain-say-diff",
                )
                status = gr.Markdown(elem_id="chain-say-status")
                with gr.Accordion("Results as data", open=False):
                    wer = gr.Number(label="Word error rate (0 is perfect)", interactive=False, precision=4)
                    stages = gr.JSON(label="Stages")

    def chain_say_back(text, tts_model, stt_model, **options):
        text = require_text(text, "text", MAX_TEXT_CHARS)
        models = {"tts": tts_model, "stt": stt_model}
        stage_args = chain_stages(registry, models, options)

        def shown(result):
            audio = (result.speech.sample_rate, result.speech.samples) if result.speech is not None else None
            diff = [
                part
                for i, (w, tag) in enumerate(result.diff)
                for part in ([(" ", None)] if i else []) + [(w, DIFF_LABELS.get(tag))]
            ]
            return (
                audio,
                result.transcript,
                wer_html(result),
                diff,
                pipeline_html(result.stages),
                result.wer,
                result.stage_records(),
                status_line(result),
                karaoke_html(result.heard_words, result.speech.samples, result.speech.sample_rate)
                if result.heard_words
                else "",
            )

        sent = False  # the speech is sent once, as soon as it exists, so it plays once
        for result in chains.say_back(registry, text, **stage_args):
            values = shown(result)
            yield (gr.skip() if sent else values[0], *values[1:])
            sent = result.speech is not None
        if result.failed:
            gr.Warning(html.escape(result.failure_sentence()))  # Gradio renders toasts as HTML
        speech = (result.speech.sample_rate, result.speech.samples) if result.speech is not None else None
        record_chain(
            run_log,
            registry,
            "chain_say_back",
            result,
            [
                *(
                    [f"Heard: {result.transcript}", f"Word error rate {result.wer:.0%}"]
                    if result.wer is not None
                    else []
                ),
                speech,
            ],
            settings={"text": text},
            options=replay_stages(registry, result, models, options),
        )
        yield shown(result)  # the whole result once more, so an API caller's final value holds the speech too

    endpoint = Endpoint(
        "chain_say_back",
        dict(text=text, tts_model=tts_model, stt_model=stt_model, **tts, **stt),
        action="chain-say-run",
        tab="chain-say",
        title="Say it back",
    )
    endpoint.on(
        [run.click],
        chain_say_back,
        [speech, transcript, score, diff, pipeline, wer, stages, status, heard_words],
        concurrency_limit=1,
        concurrency_id="chains",
    )
    return {
        "say_text": text,
        "say_transcript": transcript,
        "say_status": status,
        "endpoint": endpoint,
    }
