"""The Chat tab: a streamed, multi-turn conversation with a Stop button; what the model was choosing
from at each token; and the same message answered at several settings side by side."""

from __future__ import annotations

import collections
import contextlib
import html
import secrets
import threading
import time

import gradio as gr

from playground import compare
from playground import run as runs
from playground.models.chat import MAX_NEW_TOKENS, conversation
from playground.ui.components import OptionSlider
from playground.ui.controls import (
    data_view,
    diversity_table,
    loading_message,
    model_dropdown,
    rows_table,
    seed_row,
    task_controls,
    wire_unload,
)
from playground.ui.endpoints import Endpoint
from playground.ui.presenter import advanced
from playground.ui.remote import remote_section
from playground.ui.stopping import StopNotes, stop_button
from playground.ui.sweeps import ComparePanel, card, card_grid
from playground.views import token_choices

TASK = "chat"
DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant. Answer briefly."
CANDIDATES_SHOWN = 5
COMPARE_MAX_TOKENS = 48
UPDATE_EVERY = 0.1  # seconds between streamed updates: at most 10 a second (20 cost Chromium a third of a core on 2)
REPLIES_KEPT = 64  # replies whose token choices the explain view can still show (about 1 MB each at 256 tokens)


class ReplyStore:
    """The recorded token choices of recent replies, by key, server-side; the oldest go first."""

    def __init__(self, capacity: int = REPLIES_KEPT):
        self.capacity = capacity
        self._items: collections.OrderedDict[str, list] = collections.OrderedDict()
        self._lock = threading.Lock()

    def put(self, recorded: list) -> str:
        key = secrets.token_hex(8)
        with self._lock:
            self._items[key] = recorded
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)
        return key

    def get(self, key) -> list:
        with self._lock:
            return self._items.get(key, []) if isinstance(key, str) else []


def answer_cards(cells, limit: int = 0) -> str:
    """The compared answers as cards: setting, seed, length, and the text."""
    cards = []
    for c in cells:
        state = "" if c.done else " (writing…)" if c.text else " (waiting)"
        if c.done and limit and c.tokens >= limit:
            state = f" (cut off at the {limit}-token limit)"
        head = f"temperature {c.temperature:g} · top-p {c.top_p:g} · sample {c.sample + 1} · seed {c.seed}"
        cards.append(card(head, html.escape(c.text) or "…", f"{len(c.text.split())} words · {c.tokens} tokens{state}"))
    return card_grid(cards)


def reply_limit_note(tokens: int, limit: int) -> str:
    """What a reply's status adds when it ended at its token limit rather than where the model ended it."""
    return f"cut off at the {limit}-token limit (raise Max new tokens for more)" if tokens >= limit else ""


def no_choices_figure():
    """What the candidates plot says when the reply came without token probabilities (some remote servers)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 1.2), dpi=100)
    fig.text(
        0.02,
        0.5,
        "The server sent no token probabilities for this reply,\nso there are no candidates to show.",
        va="center",
        fontsize=12,
    )
    return fig


def build(registry, run_log, *, presenter: bool = False) -> dict:
    """Build the tab and wire its events; ``run_log`` keeps each reply. Returns the main components."""
    options_cls = registry.options_class(TASK)
    notes = StopNotes()
    replies = ReplyStore()
    with gr.Tab("Chat", id=TASK):
        with gr.Row():
            with gr.Column(scale=3):
                # no LaTeX: the page would scan the whole growing reply for formulas on every streamed update
                chatbot = gr.Chatbot(
                    label="Conversation",
                    height=440,
                    placeholder="Say hello: the reply streams in token by token.",
                    latex_delimiters=[],
                )
                # one line that grows: Gradio sends a one-line box on Enter (Shift+Enter adds a line)
                message = gr.Textbox(
                    show_label=False,
                    placeholder="Type a message and press Enter (Shift+Enter: new line)",
                    lines=1,
                    max_lines=8,
                    elem_id="chat-message",
                )
                with gr.Row():
                    send = gr.Button("Send", variant="primary", elem_id="chat-send")
                    stop = gr.Button("Stop", variant="stop")
                    clear = gr.Button("Clear chat")
                status = gr.Markdown(elem_id="chat-status")
            with gr.Column(scale=2):
                with advanced(presenter):
                    model = model_dropdown(registry, TASK)
                    remote_section(registry, TASK, model)
                    system_prompt = gr.Textbox(label="System prompt", value=DEFAULT_SYSTEM_PROMPT, lines=2)
                    controls = task_controls(registry, TASK)
                    seed, seed_used = seed_row()
                    unload = gr.Button("Unload model", size="sm")
        pending = gr.Textbox(visible=False)  # the message being answered, once the box is cleared
        # The last reply's key in ``replies``: Gradio hashes every gr.State of a session on each streamed update, so
        # the tokens' candidates (kilobytes a token) live server-side and the session holds a short key.
        steps = gr.State("")
        with gr.Accordion("What the model was choosing from", open=True, elem_id="chat-explain"):
            gr.Markdown(
                "A language model writes one small piece of a word (a *token*) at a time. For each one it "
                "scores every possible next token; temperature and top-p then decide how adventurous the pick is. "
                "Click a token of the reply to see its candidates; move the temperature slider to watch the "
                "choice flatten (higher) or sharpen (lower).",
                elem_classes=["explain-caption"],
            )
            with gr.Row():
                with gr.Column(scale=2):
                    highlighted = gr.HighlightedText(
                        label="The reply, coloured by how sure the model was",
                        color_map=token_choices.BAND_COLOURS,
                        show_legend=True,
                        combine_adjacent=False,
                        elem_id="chat-tokens",
                    )
                    step_index = gr.Slider(1, 2, value=1, step=1, label="Token", elem_id="chat-token-index")
                with gr.Column(scale=3):
                    choices_plot = gr.Plot(
                        label="Candidates for the next token", show_label=False, elem_id="chat-choices"
                    )
        with gr.Accordion("Compare settings: one message, several answers", open=False, elem_id="chat-compare"):
            gr.Markdown(
                "The same message answered at several temperatures and/or top-p values, or several samples "
                "at one setting. Sample *n* uses the same seed at every setting, so only the setting differs."
            )
            with gr.Row():
                compare_message = gr.Textbox(
                    label="Message", value="Write one sentence about the sea.", scale=3, elem_id="chat-compare-message"
                )
                temperatures = gr.Textbox(label="Temperatures", value="0.2, 0.8, 1.4", info="Separated by commas")
                top_ps = gr.Textbox(label="Top-p values", value="", info="Empty: the slider's value")
                samples = OptionSlider(
                    minimum=1, maximum=compare.MAX_SAMPLES, value=1, step=1, label="Samples per setting"
                )
                compare_tokens = OptionSlider(
                    minimum=1, maximum=MAX_NEW_TOKENS, value=COMPARE_MAX_TOKENS, step=1, label="Max new tokens"
                )
            panel = ComparePanel("chat-compare", notes, "answer")
            answers = gr.HTML(elem_id="chat-answers")
            diversity = diversity_table("answers", "chat-diversity")
            compare_data = data_view("Every answer as data")

    def respond(message, history, system_prompt, model, seed, progress=gr.Progress(), request=None, **options):
        inputs = {"message": message, "history": history, "system_prompt": system_prompt}
        prepared = runs.prepare(registry, TASK, inputs, model=model, options=options, seed=seed)
        message, history = prepared.inputs["message"], prepared.inputs["history"] or []
        options, seed, wrapper = prepared.options, prepared.seed, prepared.wrapper
        asked = conversation(prepared.inputs["system_prompt"], history, message)
        shown = history + [{"role": "user", "content": message}, {"role": "assistant", "content": ""}]
        settings = {"message": message, "history": history, "system_prompt": system_prompt}
        with notes.run(request, "chat") as run:
            if not wrapper.loaded:
                yield shown, seed, loading_message(wrapper), gr.skip()
                wrapper.ensure_loaded()
            start, count, reply, recorded = time.perf_counter(), 0, "", []

            def keep_partial(note):
                run_log.record(
                    "chat",
                    wrapper,
                    options,
                    seed=seed,
                    outputs=[reply],
                    stopped=note,
                    seconds=time.perf_counter() - start,
                    settings=settings,
                )

            stream = wrapper.stream(asked, options, seed, top_k_shown=CANDIDATES_SHOWN)
            shown_at = 0.0
            with contextlib.closing(stream):
                for step in stream:
                    count += 1
                    reply += step.text
                    recorded.append(dict(vars(step)))  # asdict deep-copies 400 numbers a token: 0.3 ms
                    run.if_stopped(
                        f"Stopped after {count} tokens (of at most {options.max_new_tokens}) · seed {seed}",
                        keep_partial,
                    )
                    if time.perf_counter() - shown_at >= UPDATE_EVERY:  # tokens come faster than people read
                        shown_at = time.perf_counter()
                        shown[-1]["content"] = reply
                        yield shown, seed, f"Generating… {count} tokens", gr.skip()
            shown[-1]["content"] = reply
            elapsed = time.perf_counter() - start
            cut = reply_limit_note(count, options.max_new_tokens)
            if not reply.strip():
                shown[-1]["content"] = "(the model ended its reply without any text)"
            keep_partial(cut or None)  # the whole reply, or the limit that cut it
            yield (
                shown,
                seed,
                (
                    f"{count} tokens in {elapsed:.1f} s ({count / max(elapsed, 1e-9):.1f} tokens/s) · "
                    f"{cut + ' · ' if cut else ''}seed {seed} · {wrapper.model_id} on {wrapper.device}"
                ),
                replies.put(recorded),
            )

    def explain_reply(key, temperature, top_p):
        recorded = replies.get(key)
        if not recorded:
            return [], gr.update(maximum=1, value=1), None
        if not all(s.get("choice_ids") for s in recorded):  # a remote server that sent no token probabilities
            return (
                [(s["text"], None) for s in recorded],
                gr.update(maximum=max(2, len(recorded)), value=1),
                no_choices_figure(),
            )
        return (
            token_choices.reply_highlights(recorded),
            gr.update(maximum=max(2, len(recorded)), value=1),
            token_choices.choice_figure(recorded[0], temperature, top_p, 0),
        )

    def explain_step(key, index, temperature, top_p):
        recorded = replies.get(key)
        if not recorded:
            return None
        i = min(max(int(index or 1), 1), len(recorded)) - 1
        if not recorded[i].get("choice_ids"):
            return no_choices_figure()
        return token_choices.choice_figure(recorded[i], temperature, top_p, i)

    def pick_token(evt: gr.SelectData):
        return evt.index + 1 if isinstance(evt.index, int) else gr.skip()

    def compare_chat(
        message,
        temperatures,
        samples,
        seed,
        top_ps,
        system_prompt,
        model,
        progress=gr.Progress(),
        request=None,
        **options,
    ):
        inputs = {"message": message, "system_prompt": system_prompt}
        prepared = runs.prepare(registry, TASK, inputs, model=model, options=options, seed=seed)
        message, base, seed, wrapper = prepared.inputs["message"], prepared.options, prepared.seed, prepared.wrapper
        cells = compare.chat_cells(options_cls, base, temperatures, top_ps, samples, seed)
        asked = conversation(prepared.inputs["system_prompt"], [], message)

        def record(note=None):
            run_log.record(
                "compare_chat",
                wrapper,
                base,
                seed=seed,
                metrics=compare.chat_summary([c for c in cells if c.done]),  # the diversity table shown
                seconds=sum(c.seconds for c in cells),
                settings={
                    "message": message,
                    "temperatures": temperatures,
                    "samples": samples,
                    "top_ps": top_ps,
                    "system_prompt": system_prompt,
                },
                stopped=note,
                outputs=[
                    f"temperature {c.temperature:g}, top-p {c.top_p:g}, seed {c.seed}: {c.text}"
                    + ("" if c.done else " (stopped mid-answer)")
                    for c in cells
                    if c.text
                ],
            )

        drawn = [0.0]

        def show(status, final):
            done = [c for c in cells if c.done]
            if not final and not done:
                return answer_cards(cells, base.max_new_tokens), gr.skip(), gr.skip(), status
            return (
                answer_cards(cells, base.max_new_tokens),
                rows_table(compare.chat_summary(done)) if done else None,
                [compare.cell_record(c) for c in cells if c.text],
                status,
            )

        def growing(value, finished):
            if time.monotonic() - drawn[0] <= 0.4:  # redraw a few times a second: enough to watch answers grow
                return None
            drawn[0] = time.monotonic()
            progress(finished / len(cells), desc=f"Answer {finished + 1} of {len(cells)}")
            return (
                answer_cards(cells, base.max_new_tokens),
                gr.skip(),
                gr.skip(),
                f"Answer {finished + 1} of {len(cells)}…",
            )

        def at_limit(done) -> str:
            cut = sum(c.tokens >= base.max_new_tokens for c in done)
            return f"{cut} of them cut off at the {base.max_new_tokens}-token limit. " if cut else ""

        def run_one(cell, report, stop):
            return compare.run_chat_cell(wrapper, asked, base, cell, report, stop)

        yield from panel.stream(
            request,
            cells,
            run_one,
            progress,
            show,
            record,
            load=wrapper,
            seed=seed,
            on_progress=growing,
            extra_note=at_limit,
        )

    # The message waits in ``pending`` while the box is cleared; History puts a restored message in the box.
    endpoint = Endpoint(
        "chat",
        dict(message=pending, history=chatbot, system_prompt=system_prompt, model=model, seed=seed, **controls),
        action="chat-send",
        shown={"message": message},
    )
    take = gr.on(
        [message.submit, send.click],
        lambda text: ("", text),
        [message],
        [message, pending],
        api_visibility="private",
        queue=False,
    )
    answer = take.then(
        **endpoint.event(respond),
        outputs=[chatbot, seed_used, status, steps],
        concurrency_limit=4,
        concurrency_id="chat",
        show_progress="hidden",
    )
    stop_button(stop, notes, "chat", answer, status)
    temperature, top_p = controls["temperature"], controls["top_p"]
    steps.change(
        explain_reply,
        [steps, temperature, top_p],
        [highlighted, step_index, choices_plot],
        api_visibility="private",
        queue=False,
    )
    gr.on(
        [step_index.release, temperature.release, top_p.release],
        explain_step,
        [steps, step_index, temperature, top_p],
        [choices_plot],
        api_visibility="private",
        queue=False,
    )
    highlighted.select(pick_token, None, [step_index], api_visibility="private", queue=False).then(
        explain_step, [steps, step_index, temperature, top_p], [choices_plot], api_visibility="private", queue=False
    )
    compare_options = {
        **controls,
        "max_new_tokens": compare_tokens,
    }  # the panel's own token slider, in the option's place
    compare_endpoint = Endpoint(
        "compare_chat",
        dict(
            message=compare_message,
            temperatures=temperatures,
            samples=samples,
            seed=seed,
            top_ps=top_ps,
            system_prompt=system_prompt,
            model=model,
            **compare_options,
        ),
    )
    panel.wire(compare_endpoint, compare_chat, [answers, diversity, compare_data], "chat")
    clear.click(lambda: ([], "", ""), None, [chatbot, status, steps], api_visibility="private", queue=False)
    wire_unload(unload, registry, TASK, status)
    return {"endpoints": [endpoint, compare_endpoint]}
