"""The Chat tab: a streamed, multi-turn conversation with a Stop button."""

from __future__ import annotations

import time

import gradio as gr

from playground.ui.controls import (api_function, default_overrides, loading_message, model_dropdown, option_controls,
                                    require_text, resolve_seed, seed_box)

TASK = "chat"
MAX_MESSAGE_CHARS = 20_000
DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant. Answer briefly."


def plain_history(history) -> list[dict]:
    """Chatbot messages as role/content dicts with plain-text content."""
    messages = []
    for item in history or []:
        role = item.get("role") if isinstance(item, dict) else getattr(item, "role", None)
        content = item.get("content") if isinstance(item, dict) else getattr(item, "content", "")
        if isinstance(content, list):
            content = "".join(part.get("text", "") if isinstance(part, dict) else str(part) for part in content)
        if role in ("user", "assistant") and isinstance(content, str):
            messages.append({"role": role, "content": content})
    return messages


def build(registry) -> dict:
    """Build the tab and wire its events; returns the main components."""
    options_cls = registry.options_class(TASK)
    with gr.Tab("Chat", id=TASK):
        with gr.Row():
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(label="Conversation", height=440,
                                     placeholder="Say hello: the reply streams in token by token.")
                message = gr.Textbox(show_label=False, placeholder="Type a message and press Enter", lines=2,
                                     elem_id="chat-message")
                with gr.Row():
                    send = gr.Button("Send", variant="primary", elem_id="chat-send")
                    stop = gr.Button("Stop", variant="stop")
                    clear = gr.Button("Clear chat")
                status = gr.Markdown(elem_id="chat-status")
            with gr.Column(scale=2):
                model = model_dropdown(registry, TASK)
                system_prompt = gr.Textbox(label="System prompt", value=DEFAULT_SYSTEM_PROMPT, lines=2)
                controls = option_controls(options_cls, default_overrides(registry, TASK))
                with gr.Row():
                    seed = seed_box()
                    seed_used = gr.Number(label="Seed used", interactive=False, precision=0)
                unload = gr.Button("Unload model", size="sm")
        pending = gr.Textbox(visible=False)  # the message being answered, once the box is cleared

    def respond(message, history, system_prompt, model, seed, progress=gr.Progress(), **options):
        message = require_text(message, "message", MAX_MESSAGE_CHARS)
        options = options_cls.parse(**options)
        seed = resolve_seed(seed)
        wrapper = registry.get(TASK, model)
        history = plain_history(history)
        conversation = ([{"role": "system", "content": system_prompt}] if (system_prompt or "").strip() else [])
        conversation += history + [{"role": "user", "content": message}]
        shown = history + [{"role": "user", "content": message}, {"role": "assistant", "content": ""}]
        if not wrapper.loaded:
            yield shown, seed, loading_message(wrapper)
            wrapper.ensure_loaded()
        start, count, reply = time.perf_counter(), 0, ""
        for step in wrapper.stream(conversation, options, seed):
            count += 1
            reply += step.text
            shown[-1]["content"] = reply
            yield shown, seed, f"Generating… {count} tokens"
        elapsed = time.perf_counter() - start
        if not reply.strip():
            shown[-1]["content"] = "(the model ended its reply without any text)"
        yield shown, seed, (f"{count} tokens in {elapsed:.1f} s ({count / max(elapsed, 1e-9):.1f} tokens/s) · "
                            f"seed {seed} · {wrapper.model_id} on {wrapper.device}")

    names = ["message", "history", "system_prompt", "model", "seed", *controls]
    take = gr.on([message.submit, send.click], lambda text: ("", text), [message], [message, pending],
                 api_visibility="private", queue=False)
    answer = take.then(api_function(respond, names),
                       [pending, chatbot, system_prompt, model, seed, *controls.values()],
                       [chatbot, seed_used, status], api_name="chat",
                       concurrency_limit=4, concurrency_id="chat")
    stop.click(None, None, None, cancels=[answer])
    clear.click(lambda: ([], ""), None, [chatbot, status], api_visibility="private", queue=False)
    unload.click(lambda: f"Unloaded: {', '.join(registry.unload(TASK)) or 'nothing was loaded'}.", None, status,
                 api_visibility="private")
    return {"chatbot": chatbot, "message": message, "model": model, "status": status, **controls}
