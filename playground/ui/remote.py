"""The "Remote server" section of a tab: point its model choice at an OpenAI-compatible server.

The key typed here goes into the registry's ``KeyRing`` (memory only, for that server's URL), never into the model
id, so it is never shown, logged or kept in the history; the box is emptied once the key is taken.
"""

from __future__ import annotations

import html

import gradio as gr

from playground.backends.openai_compat import KEY_VARIABLE, OpenAICompatibleServer, remote_id
from playground.errors import UserError
from playground.ui.controls import api_function

ROUTES = {"chat": "/v1/chat/completions", "speech_to_text": "/v1/audio/transcriptions",
          "text_to_speech": "/v1/audio/speech", "text_to_image": "/v1/images/generations"}
SERVERS = {"chat": "vLLM, TGI, Ollama, llama.cpp's server, LocalAI", "speech_to_text": "LocalAI, speaches, vLLM",
           "text_to_speech": "LocalAI, speaches, Kokoro-FastAPI", "text_to_image": "LocalAI"}
PLACEHOLDERS = {"chat": "e.g. llama3.2 (empty: the server's only model)", "speech_to_text": "e.g. whisper-1",
                "text_to_speech": "e.g. tts-1", "text_to_image": "e.g. stablediffusion"}


def remote_section(registry, task: str, model: gr.Dropdown) -> dict:
    """A closed accordion with the server URL, model name (and voice, for speech) and API key; "Use this server"
    checks the server and sets ``model`` to ``URL#name``."""
    prefix = task.replace("_", "-")
    with gr.Accordion("Remote server (OpenAI-compatible)", open=False, elem_id=f"{prefix}-remote"):
        gr.Markdown(f"Run this tab on a server with `{ROUTES[task]}` ({SERVERS[task]}). The model id becomes "
                    "`URL#model`; the key stays in this app's memory for that URL only (shared by its sessions, "
                    "gone when it stops) and is never saved.", elem_classes=["explain-caption"])
        url = gr.Textbox(label="Server URL", placeholder="http://127.0.0.1:8080/v1", elem_id=f"{prefix}-remote-url")
        with gr.Row():
            name = gr.Textbox(label="Model name", placeholder=PLACEHOLDERS[task], elem_id=f"{prefix}-remote-model")
            voice = gr.Textbox(label="Voice", placeholder="e.g. alloy", visible=task == "text_to_speech",
                               elem_id=f"{prefix}-remote-voice")
        key = gr.Textbox(label="API key (optional)", type="password", placeholder="Kept in memory only, never saved",
                         elem_id=f"{prefix}-remote-key")
        with gr.Row():
            use = gr.Button("Use this server", size="sm", elem_id=f"{prefix}-remote-use")
            forget = gr.Button("Forget the key", size="sm")
        note = gr.Markdown(elem_id=f"{prefix}-remote-note")

    def connect(url, name, voice, key):
        name = (name or "").strip()
        if (voice or "").strip():
            if not name:
                raise UserError("Give the model name as well as the voice.")
            name = f"{name}@{voice.strip()}"
        remote = remote_id(url, name)
        if (key or "").strip():
            registry.remote_keys.set(remote.base_url, key)
        server = OpenAICompatibleServer(remote.base_url, registry.remote_keys)
        try:
            names = server.models()  # a plain sentence when unreachable or the key is refused
        finally:
            server.close()
        listed = ""
        if names is not None and not remote.model and len(names) == 1:
            remote = remote_id(url, names[0])
        elif names is not None and not remote.model:
            raise UserError(f"Name the model: the server offers {', '.join(names[:10]) or 'none'}.")
        elif names and remote.model.split("@")[0] not in names:
            listed = (f" The server lists {html.escape(', '.join(names[:10]))}, not this name; some servers accept "
                      "any name.")
        held = "with the API key" if registry.remote_keys.get(remote.base_url) else "without an API key"
        return (gr.update(value=remote.source), "",
                f"Using `{remote.source}` {held}.{listed} Runs in this tab now go to that server.")

    def forget_key(url):
        remote = remote_id(url, "")
        registry.remote_keys.set(remote.base_url, None)
        return "", f"The key for {remote.base_url} is forgotten (a key from {KEY_VARIABLE} is back after a restart)."

    use.click(api_function(connect, ["url", "name", "voice", "key"]), [url, name, voice, key], [model, key, note],
              api_visibility="private", queue=False)
    forget.click(api_function(forget_key, ["url"]), [url], [key, note], api_visibility="private", queue=False)
    return {"url": url, "name": name, "voice": voice, "key": key, "use": use, "note": note}
