"""A small OpenAI-compatible server for the tests, run by the project's own bundled models.

Routes: ``/v1/audio/transcriptions`` (Whisper tiny.en), ``/v1/audio/speech`` (the Piper voice),
``/v1/images/generations`` (shapes-sd), ``/v1/models``, and ``/v1/chat/completions`` with one model, ``echo``, that
streams the last message back without logprobs; any other name does not exist (llama.cpp's server accepts any
model name, so the unknown-model path is tested here).
The model ``shapes-sd-strict`` refuses any field outside the OpenAI protocol, as strict servers do.

    python tests/openai_audio_server.py --port 8123 [--api-key KEY] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import tempfile
from pathlib import Path

from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse, Response, StreamingResponse

MODELS = {
    "echo": "chat",
    "whisper-tiny.en": "speech_to_text",
    "piper-joe": "text_to_speech",
    "shapes-sd": "text_to_image",
    "shapes-sd-strict": "text_to_image",
}
VOICES = ("joe", "alloy")
IMAGE_FIELDS = {"model", "prompt", "n", "size", "response_format", "quality", "style", "user"}


def error(status: int, message: str, kind: str = "invalid_request_error") -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind, "param": None, "code": None}}, status_code=status)


def build(registry, api_key: str | None) -> FastAPI:
    app = FastAPI()

    @app.middleware("http")
    async def check_key(request: Request, call_next):
        if api_key:
            sent = request.headers.get("authorization", "")
            if sent != f"Bearer {api_key}":
                # like OpenAI, repeat the key that was refused: the client must not show it
                return error(401, f"Incorrect API key provided: {sent.removeprefix('Bearer ')}.", "auth_error")
        return await call_next(request)

    def unknown(model: str, task: str) -> JSONResponse | None:
        if MODELS.get(model) != task:
            return error(404, f"The model `{model}` does not exist.", "NotFoundError")
        return None

    @app.get("/v1/models")
    def models():
        return {"object": "list", "data": [{"id": name, "object": "model", "owned_by": "tests"} for name in MODELS]}

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        body = await request.json()
        if body.get("model") != "echo":
            return error(404, f"The model `{body.get('model')}` does not exist.", "NotFoundError")
        text = str(body["messages"][-1]["content"])
        pieces = [w + " " for w in text.split()][: int(body.get("max_tokens", 256))]

        def events():  # streamed like any server, but with no logprobs (as many servers send)
            yield f"data: {json.dumps({'choices': [{'index': 0, 'delta': {'role': 'assistant'}}]})}\n\n"
            for piece in pieces:
                yield f"data: {json.dumps({'choices': [{'index': 0, 'delta': {'content': piece}}]})}\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    @app.post("/v1/audio/transcriptions")
    def transcriptions(
        file: UploadFile = File(...),
        model: str = Form(...),
        temperature: float = Form(0.0),
        response_format: str = Form("json"),
        beam_size: int = Form(5),
    ):
        from playground.media import load_audio
        from playground.models.speech_to_text import SAMPLE_RATE

        if (problem := unknown(model, "speech_to_text")) is not None:
            return problem
        with tempfile.NamedTemporaryFile(suffix=".wav") as handle:
            handle.write(file.file.read())
            handle.flush()
            samples = load_audio(handle.name, SAMPLE_RATE)
        wrapper = registry.load("speech_to_text")
        result = wrapper.transcribe(samples, wrapper.Options.parse(beam_size=beam_size, temperature=temperature))
        if response_format == "text":
            return Response(result.text, media_type="text/plain")
        if response_format == "verbose_json":
            return {
                "text": result.text,
                "language": result.language or "en",
                "duration": len(samples) / SAMPLE_RATE,
                "segments": [{"id": i, "start": s, "end": e, "text": t} for i, (s, e, t) in enumerate(result.segments)],
            }
        return {"text": result.text}

    @app.post("/v1/audio/speech")
    async def speech(request: Request):
        from playground.media import wav_bytes

        body = await request.json()
        if (problem := unknown(body.get("model"), "text_to_speech")) is not None:
            return problem
        if body.get("voice") not in VOICES:
            return error(400, f"Unknown voice '{body.get('voice')}'; this server has {', '.join(VOICES)}.")
        if body.get("response_format", "mp3") != "wav":
            return error(400, "This server only makes WAV.")
        wrapper = registry.load("text_to_speech")
        clip = wrapper.synthesize(str(body.get("input", "")), wrapper.Options.parse(rate=float(body.get("speed", 1.0))))
        return Response(wav_bytes(clip.samples, clip.sample_rate), media_type="audio/wav")

    @app.post("/v1/images/generations")
    async def images(request: Request):
        body = await request.json()
        model = body.get("model")
        if (problem := unknown(model, "text_to_image")) is not None:
            return problem
        extra = sorted(set(body) - IMAGE_FIELDS)
        if model == "shapes-sd-strict" and extra:
            return error(400, f"Unrecognized request argument supplied: {extra[0]}")
        width, _, height = str(body.get("size", "0x0")).partition("x")
        wrapper = registry.load("text_to_image")
        options = wrapper.Options.parse(
            guidance_scale=float(body.get("guidance_scale", 7.5)),
            steps=int(body.get("num_inference_steps", 20)),
            width=int(width),
            height=int(height),
        )
        result = wrapper.generate(body["prompt"], body.get("negative_prompt", ""), options, int(body.get("seed", 0)))
        buffer = io.BytesIO()
        result.image.save(buffer, format="PNG")
        return {"created": 0, "data": [{"b64_json": base64.b64encode(buffer.getvalue()).decode()}]}

    return app


def main() -> None:
    import uvicorn

    from playground.devices import DeviceChoice
    from playground.registry import Registry

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--api-key", default=None)
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="openai-audio-server-"))
    registry = Registry(data_dir, DeviceChoice("cpu"))
    uvicorn.run(build(registry, args.api_key), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
