"""The "Remote server" section of a tab: point its model choice at an OpenAI-compatible server.

Only servers named with ``--remote-url`` or ``--allow-remote`` can be used: a URL typed here is refused before any
request is sent. The key typed here belongs to this browser session only (the registry's ``KeyRing`` keeps it in
memory, under the session, for that server's URL), never goes into the model id, so it is never shown, logged or
kept in the history; the box is emptied once the key is taken, and the key is dropped when the page closes.
"""

from __future__ import annotations

import html
import inspect

import gradio as gr

from playground.backends.openai_compat import KEY_VARIABLE, OpenAICompatibleServer, listed, remote_id
from playground.errors import UserError, shown
from playground.ui.controls import api_function

ROUTES = {
    "chat": "/v1/chat/completions",
    "speech_to_text": "/v1/audio/transcriptions",
    "text_to_speech": "/v1/audio/speech",
    "text_to_image": "/v1/images/generations",
}
SERVERS = {
    "chat": "vLLM, TGI, Ollama, llama.cpp's server, LocalAI",
    "speech_to_text": "LocalAI, speaches, vLLM",
    "text_to_speech": "LocalAI, speaches, Kokoro-FastAPI",
    "text_to_image": "LocalAI",
}
PLACEHOLDERS = {
    "chat": "e.g. llama3.2 (empty: the server's only model)",
    "speech_to_text": "e.g. whisper-1",
    "text_to_speech": "e.g. tts-1",
    "text_to_image": "e.g. stablediffusion",
}


def session_of(request: gr.Request | None) -> str | None:
    """The browser session a request comes from, bound to its login under --auth (None outside a session)."""
    if request is None or not getattr(request, "session_hash", None):
        return None
    return f"{getattr(request, 'username', None) or ''}\n{request.session_hash}"


def current_session() -> str | None:
    """The session of the request being served on this thread (Gradio keeps it in a context variable, which the
    playground's job threads inherit)."""
    from gradio.context import LocalContext

    return session_of(LocalContext.request.get(None))


def forget_keys_on_unload(demo: gr.Blocks, registry) -> None:
    """Drop the keys a page typed when that page closes (or reloads: it is a new session then)."""

    def forget(request: gr.Request):
        session = session_of(request)
        if session:
            registry.remote_keys.forget_session(session)

    demo.unload(forget)


def allowed_line(registry) -> str:
    """Which servers this app may use, for the section's caption."""
    prefixes = registry.allowed_remotes.prefixes
    if not prefixes:
        return "This app was started without `--remote-url` or `--allow-remote`, so it uses no server."
    return "Servers this app may use: " + ", ".join(f"`{shown(str(p))}`" for p in prefixes) + "."


def said_in_note(handler, outputs: int):
    """``handler``, its refusal written in the section's note (an event outside the queue shows no toast) and the
    key box emptied; the other outputs stay as they are."""

    def wrapped(*args, **kwargs):
        try:
            return handler(*args, **kwargs)
        except UserError as exc:
            return (*[gr.skip()] * (outputs - 2), "", f"Not changed: {html.escape(str(exc), quote=False)}")

    wrapped.__signature__ = inspect.signature(handler)
    wrapped.__name__ = handler.__name__
    return wrapped


def remote_section(registry, task: str, model: gr.Dropdown) -> dict:
    """A closed accordion with the server URL, model name (and voice, for speech) and API key; "Use this server"
    checks the server and sets ``model`` to ``URL#name``."""
    prefix = task.replace("_", "-")
    registry.remote_keys.session = current_session  # keys typed in a page belong to that page's session
    with gr.Accordion("Remote server (OpenAI-compatible)", open=False, elem_id=f"{prefix}-remote"):
        gr.Markdown(
            f"Run this tab on a server with `{ROUTES[task]}` ({SERVERS[task]}). The model id becomes "
            "`URL#model`; a key typed here is used by this browser tab only, stays in the app's memory "
            f"and is never saved. {allowed_line(registry)}",
            elem_classes=["explain-caption"],
        )
        url = gr.Textbox(label="Server URL", placeholder="http://127.0.0.1:8080/v1", elem_id=f"{prefix}-remote-url")
        with gr.Row():
            name = gr.Textbox(label="Model name", placeholder=PLACEHOLDERS[task], elem_id=f"{prefix}-remote-model")
            voice = gr.Textbox(
                label="Voice",
                placeholder="e.g. alloy",
                visible=task == "text_to_speech",
                elem_id=f"{prefix}-remote-voice",
            )
        key = gr.Textbox(
            label="API key (optional)",
            type="password",
            placeholder="Kept in memory only, never saved",
            elem_id=f"{prefix}-remote-key",
        )
        with gr.Row():
            use = gr.Button("Use this server", size="sm", elem_id=f"{prefix}-remote-use")
            forget = gr.Button("Forget the key", size="sm", elem_id=f"{prefix}-remote-forget")
        note = gr.Markdown(elem_id=f"{prefix}-remote-note")

    def connect(url, name, voice, key, request=None):
        name = (name or "").strip()
        if (voice or "").strip():
            if not name:
                raise UserError("Give the model name as well as the voice.")
            name = f"{name}@{voice.strip()}"
        remote = remote_id(url, name)
        registry.allowed_remotes.check(remote.base_url)  # before the key is taken or anything is sent
        if (key or "").strip():
            registry.remote_keys.set_for_session(session_of(request), remote.base_url, key)
        server = OpenAICompatibleServer(remote.base_url, registry.remote_keys, allowed=registry.allowed_remotes)
        try:
            names = server.models()  # a plain sentence when unreachable or the key is refused
        finally:
            server.close()
        listing = listed(names or [])
        note = ""
        if names is not None and not remote.model and len(names) == 1 and listing:
            remote = remote_id(url, listing[0])
        elif names is not None and not remote.model:
            raise UserError(f"Name the model: the server offers {', '.join(listing) or 'none'}.")
        elif names and remote.model.split("@")[0] not in names:
            note = (
                f" The server lists {', '.join(listing)}, not this name; some servers accept any name."
                if listing
                else ""
            )
        held = "with the API key" if registry.remote_keys.get(remote.base_url) else "without an API key"
        return (
            gr.update(value=remote.source),
            "",
            f"Using `{remote.source}` {held}.{note} Runs in this tab now go to that server.",
        )

    def forget_key(url, request=None):
        remote = remote_id(url, "")
        registry.remote_keys.set_for_session(session_of(request), remote.base_url, None)
        return "", (
            f"This page's key for {remote.base_url} is forgotten (a key the app was started with, from "
            f"--remote-key or {KEY_VARIABLE}, still applies)."
        )

    use.click(
        api_function(said_in_note(connect, 3), ["url", "name", "voice", "key"]),
        [url, name, voice, key],
        [model, key, note],
        api_visibility="private",
        queue=False,
    )
    forget.click(
        api_function(said_in_note(forget_key, 2), ["url"]), [url], [key, note], api_visibility="private", queue=False
    )
    return {"url": url, "name": name, "voice": voice, "key": key, "use": use, "note": note}
