"""Models on an OpenAI-compatible server: one wrapper per task, tried before the task's own BACKENDS.

``REMOTE_BACKENDS`` registers them with their tasks (the registry reads it); the task modules never import this
one, so the imports go one way: this module uses each task's Options and result types as any backend does.

Each shares its task's Options and returns its task's result type, so the tabs, Compare, the chains and the history
work unchanged. What reaches the server (anything else in the Options has no counterpart in the protocol):

- chat (``/chat/completions``, streamed): temperature, top_p, max_tokens, seed; the repetition penalty as
  ``repeat_penalty`` (llama.cpp, LocalAI) and ``repetition_penalty`` (vLLM); ``logprobs``/``top_logprobs`` for
  the explain view.
- speech to text (``/audio/transcriptions``): temperature, ``beam_size``; ``response_format=verbose_json``.
- text to speech (``/audio/speech``): the speaking rate as ``speed``; the voice from ``model@voice``.
- text to image (``/images/generations``): size, and ``seed``, ``negative_prompt``, ``guidance_scale``,
  ``num_inference_steps``.

Names outside the OpenAI protocol are extras: a server that refuses one (400 or 422) is asked again without them,
once, and then never sent them again.
"""

from __future__ import annotations

import base64
import contextlib
import io
import math
import threading
from dataclasses import dataclass
from typing import Callable, Iterator

from playground.backends.openai_compat import (
    KeyRing,
    OpenAICompatibleServer,
    RemoteAllowList,
    is_remote_id,
    listed,
    parse_remote_id,
)
from playground.devices import Device
from playground.errors import UserError
from playground.media import wav_bytes
from playground.models.base import ModelWrapper
from playground.models.chat import ChatOptions, TokenStep
from playground.models.speech_to_text import SAMPLE_RATE, TranscribeOptions, Transcript, is_silent
from playground.models.text_to_image import ImageOptions, ImageResult, Stopped
from playground.models.text_to_speech import Speech, SpeechOptions

TOP_LOGPROBS = 10  # candidates asked for per token (OpenAI allows up to 20)
DEFAULT_VOICE = "alloy"  # OpenAI's first voice; servers with one voice ignore it


@dataclass(frozen=True)
class ServerDevice(Device):
    """Where a remote model runs: its server (history records the type ``remote``; the id already names the URL)."""

    url: str = ""

    def __str__(self) -> str:
        return "its server"


class RemoteModel(ModelWrapper):
    """A model on an OpenAI-compatible server. ``load()`` only checks that the server answers and accepts the key."""

    backend = "openai-compatible"
    pickled_bin = False
    remote = True  # the registry hands remote backends its KeyRing and its RemoteAllowList

    def __init__(
        self,
        model_id,
        source,
        device,
        cache_dir,
        policy=None,
        budget=None,
        keys: KeyRing | None = None,
        allowed: RemoteAllowList | None = None,
    ):
        super().__init__(model_id, source, device, cache_dir, policy=policy, budget=budget)
        self.remote_id = parse_remote_id(source)
        self.device = ServerDevice("remote", "", self.remote_id.base_url)
        self.keys = keys if keys is not None else KeyRing()
        self.allowed = allowed if allowed is not None else RemoteAllowList()  # none: every server is refused
        self.server: OpenAICompatibleServer | None = None
        self.model_name = self.remote_id.model
        self._extras_refused = False
        self._extras_lock = threading.Lock()

    @classmethod
    def claims(cls, source: str) -> bool:
        return is_remote_id(source)

    def load(self) -> None:
        server = OpenAICompatibleServer(self.remote_id.base_url, self.keys, allowed=self.allowed)
        try:
            names = server.models()  # raises a plain sentence when unreachable or the key is refused
            self.model_name = self.remote_id.model or self._only_model(names)
        except BaseException:
            server.close()
            raise
        self.server = server

    def _only_model(self, names: list[str] | None) -> str:
        if names and len(names) == 1:
            return names[0]
        offered = f"; it offers: {', '.join(listed(names))}" if names and listed(names) else ""
        raise UserError(
            f"Name the model on {self.remote_id.base_url}: add # and its name to the id, like "
            f"{self.remote_id.base_url}#model-name{offered}."
        )

    def _release(self) -> None:
        if self.server is not None:
            self.server.close()
        self.server = None

    def _with_extras(self, send: Callable[[dict], object], extras: dict):
        """``send(extras)``; if the server refuses the request (400/422), once more without them."""
        if self._extras_refused or not extras:
            return send({})
        try:
            return send(extras)
        except UserError as exc:
            if getattr(exc, "status", None) not in (400, 422) or "has no model" in str(exc):
                raise
        result = send({})  # it worked without: remember, so later requests go plainly at once
        with self._extras_lock:
            self._extras_refused = True
        return result


# ---------------------------------------------------------------- chat


class RemoteChat(RemoteModel):
    """A chat model on the server, streamed token by token over server-sent events."""

    task = "chat"
    Options = ChatOptions

    def stream(self, messages: list[dict], options, seed: int, top_k_shown: int = 0) -> Iterator:
        """Yield the reply as ``TokenStep``s; closing the iterator closes the connection, which stops the server.

        The HTTP stream is read in a worker (``iterate_job``); Gradio closes this generator when its request is
        cancelled or its page closes, and the worker then leaves the stream at its next event.
        """
        from playground.jobs import iterate_job

        with self.in_use():
            body = {
                "model": self.model_name,
                "messages": messages,
                "stream": True,
                "temperature": options.temperature,
                "top_p": options.top_p,
                "max_tokens": options.max_new_tokens,
                "seed": seed,
            }
            extras = {}
            if options.repetition_penalty != 1.0:
                extras.update(repeat_penalty=options.repetition_penalty, repetition_penalty=options.repetition_penalty)
            if top_k_shown:
                extras.update(logprobs=True, top_logprobs=TOP_LOGPROBS)

            def work(report, stop):
                started = [False]

                def send(extra):
                    with self.server.stream("/chat/completions", {**body, **extra}, model=self.model_name) as events:
                        for event in events:
                            started[0] = True
                            for step in _chat_steps(event, top_k_shown):
                                report(step)
                            if stop.is_set():
                                return  # leaving the block closes the connection

                self._with_extras(send, extras)

            with contextlib.closing(iterate_job(work)) as job:
                for kind, value in job:
                    if kind == "progress":
                        yield value


def _chat_steps(event: dict, top_k_shown: int) -> list:
    """The ``TokenStep``s in one streamed chunk: one per token when the server sent each token's logprobs."""

    choices = event.get("choices") or []
    if not choices or not isinstance(choices[0], dict):
        return []
    choice = choices[0]
    text = (choice.get("delta") or {}).get("content") or ""
    if not text:
        return []
    entries = [e for e in ((choice.get("logprobs") or {}).get("content") or []) if isinstance(e, dict)]
    if len(entries) > 1 and "".join(str(e.get("token", "")) for e in entries) == text:
        return [_token_step(TokenStep, str(e.get("token", "")), e, top_k_shown) for e in entries]
    return [_token_step(TokenStep, text, entries[0] if entries else None, top_k_shown)]


def _token_step(TokenStep, text: str, entry: dict | None, top_k_shown: int):
    """A step from the server's logprobs. Ids are positions in the step's own candidate list (the server sends
    no token ids); log-probabilities are already normalised, so ``logsumexp`` is 0. No logprobs: empty fields."""
    if entry is None or not isinstance(entry.get("logprob"), (int, float)):
        return TokenStep(token_id=-1, text=text, probability=0.0, token_text=text)
    token = str(entry.get("token", text))
    top = [
        t for t in entry.get("top_logprobs") or [] if isinstance(t, dict) and isinstance(t.get("logprob"), (int, float))
    ]
    texts = [str(t.get("token", "")) for t in top]
    logits = [max(float(t["logprob"]), -1e4) for t in top]  # -inf would not survive JSON
    if token not in texts:
        texts.append(token)
        logits.append(max(float(entry["logprob"]), -1e4))
    chosen = texts.index(token)
    return TokenStep(
        token_id=chosen,
        text=text,
        probability=math.exp(logits[chosen]),
        candidates=[(t, math.exp(v)) for t, v in zip(texts, logits)][:top_k_shown],
        choice_ids=list(range(len(texts))),
        choice_texts=texts,
        choice_logits=logits,
        logsumexp=0.0,
        token_text=token,
    )


# ---------------------------------------------------------------- speech to text


class RemoteSpeechToText(RemoteModel):
    """A transcription model on the server (``/audio/transcriptions``)."""

    task = "speech_to_text"
    Options = TranscribeOptions

    def transcribe(self, audio, options):
        """Transcribe 16 kHz mono float32 audio, sent as a 16-bit WAV."""

        if is_silent(audio):
            return Transcript("", [])
        with self.in_use():
            wav = wav_bytes(audio, SAMPLE_RATE)
            form = {"model": self.model_name, "temperature": f"{options.temperature:g}"}

            def send(extra):
                fields = {
                    **form,
                    **(
                        {"response_format": "verbose_json", "beam_size": str(options.beam_size)}
                        if extra
                        else {"response_format": "json"}
                    ),
                }
                return self.server.request(
                    "POST",
                    "/audio/transcriptions",
                    model=self.model_name,
                    data=fields,
                    files={"file": ("audio.wav", wav, "audio/wav")},
                    read_seconds=300.0,
                )

            response = self._with_extras(send, {"verbose": True})
        try:
            data = response.json()
        except ValueError:
            return Transcript(response.text.strip(), [])
        if not isinstance(data, dict) or not isinstance(data.get("text"), str):
            raise UserError(f"The server at {self.remote_id.base_url} sent a transcription without text.")
        segments = [
            (float(s.get("start") or 0.0), float(s.get("end") or 0.0), str(s.get("text", "")).strip())
            for s in data.get("segments") or []
            if isinstance(s, dict)
        ]
        return Transcript(data["text"].strip(), segments, data.get("language"))


# ---------------------------------------------------------------- text to speech


class RemoteTextToSpeech(RemoteModel):
    """A speech model on the server (``/audio/speech``); name a voice with ``#model@voice``."""

    task = "text_to_speech"
    Options = SpeechOptions

    @property
    def voice(self) -> tuple[str, str]:
        """(model, voice) from ``model@voice``."""
        model, at, voice = self.model_name.rpartition("@")
        return (model, voice) if at and model and voice else (self.model_name, DEFAULT_VOICE)

    def synthesize(self, text: str, options, seed: int = 0, reference_audio: str | None = None, on_sentence=None):
        """Speak ``text`` (the seed and Piper's noise settings have no counterpart in the protocol); the server sends
        the whole clip, so ``on_sentence`` gets it at once."""
        import numpy as np
        import soundfile as sf

        if reference_audio:
            raise UserError(
                f"Model '{self.model_id}' cannot clone a voice: the protocol has no reference clip; "
                "remove it, or pick a voice with #model@voice."
            )
        model, voice = self.voice
        with self.in_use():
            response = self.server.request(
                "POST",
                "/audio/speech",
                model=model,
                read_seconds=300.0,
                json={"model": model, "input": text, "voice": voice, "response_format": "wav", "speed": options.rate},
            )
        if not response.content:
            raise UserError(f"The server at {self.remote_id.base_url} sent no audio.")
        try:
            samples, rate = sf.read(io.BytesIO(response.content), dtype="int16", always_2d=True)
        except Exception:
            kind = response.headers.get("content-type", "unknown type")
            raise UserError(
                f"The server at {self.remote_id.base_url} sent audio that could not be read ({kind}); "
                "it was asked for WAV."
            ) from None
        mono = samples[:, 0] if samples.shape[1] == 1 else samples.mean(axis=1).astype(np.int16)
        if mono.size == 0:
            raise UserError(f"The server at {self.remote_id.base_url} sent an empty clip.")
        speech = Speech(int(rate), mono)
        if on_sentence is not None:
            on_sentence(speech)
        return speech


# ---------------------------------------------------------------- text to image


class RemoteTextToImage(RemoteModel):
    """An image model on the server (``/images/generations``); it sends the picture when done, with no steps
    along the way."""

    task = "text_to_image"
    Options = ImageOptions

    def generate(
        self,
        prompt: str,
        negative_prompt: str,
        options,
        seed: int,
        on_step: Callable[[int, int], None] | None = None,
        stop: threading.Event | None = None,
        preview_every: int = 0,
    ):
        """Ask for one image; ``stop`` is checked before asking and after the answer (the request cannot be
        interrupted); there are no intermediate pictures."""
        from PIL import Image

        for name, value in (("Width", options.width), ("Height", options.height)):
            if value % 8:
                raise UserError(f"{name} must be a multiple of 8, got {value}.")
        if stop is not None and stop.is_set():
            raise Stopped(f"Stopped after 0 of {options.steps} steps.")
        with self.in_use():
            body = {"model": self.model_name, "prompt": prompt, "n": 1, "response_format": "b64_json"}
            if options.width or options.height:
                body["size"] = f"{options.width or options.height}x{options.height or options.width}"
            extras = {
                "seed": seed,
                "guidance_scale": options.guidance_scale,
                "num_inference_steps": options.steps,
                **({"negative_prompt": negative_prompt} if negative_prompt else {}),
            }
            response = self._with_extras(
                lambda extra: self.server.request(
                    "POST", "/images/generations", model=self.model_name, json={**body, **extra}, read_seconds=600.0
                ),
                extras,
            )
            data = self._image_bytes(response)
        if stop is not None and stop.is_set():
            raise Stopped("Stopped: the server had already been asked for the picture, which is discarded.")
        try:
            image = Image.open(io.BytesIO(data))
            image.load()
        except Exception:
            raise UserError(f"The server at {self.remote_id.base_url} sent an image that could not be read.") from None
        image = image.convert("RGB")
        if on_step:
            on_step(options.steps, options.steps)
        return ImageResult(image, seed, image.width, image.height, options.steps, [])

    def _image_bytes(self, response) -> bytes:
        try:
            item = response.json()["data"][0]
        except (ValueError, KeyError, IndexError, TypeError):
            raise UserError(f"The server at {self.remote_id.base_url} sent no image.") from None
        if isinstance(item, dict) and item.get("b64_json"):
            try:
                return base64.b64decode(item["b64_json"], validate=False)
            except ValueError:
                raise UserError(f"The server at {self.remote_id.base_url} sent an image that is not base64.") from None
        url = item.get("url") if isinstance(item, dict) else None
        if isinstance(url, str) and url.startswith(self.remote_id.base_url + "/"):
            return self.server.request("GET", url[len(self.remote_id.base_url) :], read_seconds=120.0).content
        if isinstance(url, str) and url.startswith(("http://", "https://")):
            return self._fetch_plain(url)  # another host: the key is only ever sent to the server it belongs to
        raise UserError(f"The server at {self.remote_id.base_url} sent no image.")

    def _fetch_plain(self, url: str) -> bytes:
        """The picture at another address the server named: only one the allow-list names, without the key."""
        import httpx

        try:
            self.allowed.check_address(url)
        except UserError:
            raise UserError(
                f"The server at {self.remote_id.base_url} sent its image as a link to a server this app may not use."
            ) from None
        try:
            response = httpx.get(url, timeout=120.0)
            response.raise_for_status()
        except httpx.HTTPError:
            raise UserError(
                f"The image the server at {self.remote_id.base_url} pointed to could not be fetched."
            ) from None
        return response.content


REMOTE_BACKENDS = {
    "chat": RemoteChat,
    "speech_to_text": RemoteSpeechToText,
    "text_to_speech": RemoteTextToSpeech,
    "text_to_image": RemoteTextToImage,
}  # each task's wrapper for a server, tried first
