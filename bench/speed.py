"""Speed and memory, each measured side by side with the raw library a user could run instead.

    make bench            # or: python bench/speed.py [--repeats 3] [--only start,chat,ttft,stt,tts,t2i,rss]

Absolute times vary from run to run on shared machines, so each path is timed against its baseline in the
same run, alternating the two, and the table reports the ratio. Paths:

- start: ``python app.py`` until its first HTTP 200, against ``python -c "import gradio"``;
- chat: decode tokens/s of the playground's chat wrapper on the bundled GGUF, on each backend, against
  llama.cpp (``Llama.generate``) and transformers ``generate`` on the same weights;
- ttft: time to the first streamed token through the running app's API, warm;
- chatapi / chatbrowser: decode tokens/s of the 5th reply of one session through the app's API and typed into
  the Chat tab in Chromium, against raw llama.cpp in the same run; chatapi also times 50 replies in one session
  (the last 10 against the first 10); concurrent: aggregate tokens/s of 2, 4 and 8 sessions at once against one
  (``bench/chat_app.py``);
- stt / tts / t2i: the playground's wrapper, and the full HTTP API round trip, against raw faster-whisper,
  raw piper and a raw diffusers pipeline call with the same settings; the API rows also time the same request to
  a model-free Gradio app with the same components (``gradio_floor.py``), to separate Gradio's own round trip
  from what the playground adds;
- rss: the app's peak resident memory with all five bundled models loaded and run once.

The table is printed and written to ``bench/results/`` (git-ignored).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from a checkout
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

PATHS = ["start", "chat", "ttft", "chatapi", "concurrent", "chatbrowser", "stt", "tts", "t2i", "rss"]
STORY = [{"role": "user", "content": "Write a long story about a dragon who learns to bake bread."}]
CHAT_TOKENS = 128
API_WARM_UPS = 3  # an app with all five models loaded took about four requests to settle
SPEECH = (
    "The quick brown fox jumps over the lazy dog. Speech recognition turns sound into text, one short "
    "window at a time. A playground lets people hear and see how generative models work, and compare "
    "their settings side by side. Good morning, everyone, and welcome to the demonstration."
)
PICTURE = "a big cat on the beach, on the left"  # the bundled picture world


@dataclass
class Row:
    path: str
    ours: str
    baseline: str
    ratio: float | None
    target: str
    met: bool | None
    note: str = ""


def machine() -> str:
    """CPU model, cores, memory, OS and library versions: the context the ratios were taken in."""
    import psutil

    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        pass
    versions = []
    for name in ("torch", "gradio", "transformers", "diffusers", "llama_cpp", "faster_whisper", "onnxruntime"):
        try:
            versions.append(f"{name} {__import__(name).__version__}")
        except Exception:
            versions.append(f"{name} missing")
    return (
        f"{cpu}, {os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB RAM, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}; {', '.join(versions)}"
    )


def alternate(first, second, repeats: int, warm_ups: int = 1) -> tuple[float, float]:
    """Median seconds of ``first()`` and ``second()``, run alternately so both see the same machine state."""
    for _ in range(warm_ups):  # first-call costs (allocations, caches, lazy imports) are not the path's speed
        first(), second()
    a, b = [], []
    for _ in range(repeats):
        for fn, out in ((first, a), (second, b)):
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
    return statistics.median(a), statistics.median(b)


# --- start -------------------------------------------------------------------------------------------------


def time_app_start(data_dir: Path) -> float:
    """Seconds from launching app.py to its first HTTP 200."""
    from playground.app_process import free_port

    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py"), "--port", str(port), "--data-dir", str(data_dir)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5)
                return time.perf_counter() - start
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError("app.py exited before serving") from None
                time.sleep(0.02)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def bench_start(repeats: int, data_dir: Path) -> list[Row]:
    import_gradio = lambda: subprocess.run([sys.executable, "-c", "import gradio"], check=True)  # noqa: E731
    app, baseline = alternate(lambda: time_app_start(data_dir), import_gradio, repeats)
    ratio = app / baseline
    return [
        Row(
            "app start → first HTTP 200",
            f"{app:.2f} s",
            f"`import gradio` {baseline:.2f} s",
            ratio,
            "≤ 1.5×",
            ratio <= 1.5,
        )
    ]


# --- chat --------------------------------------------------------------------------------------------------


def decode_rate(stamps: list[float]) -> float:
    """Tokens per second after the first token (the prompt's evaluation is not decoding)."""
    return (len(stamps) - 1) / (stamps[-1] - stamps[0])


def ours_chat_rate(wrapper) -> tuple[float, int]:
    options = wrapper.Options.parse(temperature=0.7, top_p=0.9, repetition_penalty=1.1, max_new_tokens=CHAT_TOKENS)
    stamps = [time.perf_counter() for _ in wrapper.stream(STORY, options, seed=0)]
    return decode_rate(stamps), len(stamps)


def bench_chat(registry, repeats: int) -> tuple[list[Row], dict]:
    import torch

    from playground.models.chat import MAX_NEW_TOKENS, LlamaCppChat, TransformersChat

    picked = registry.get("chat")
    backends = {}
    for cls in (LlamaCppChat, TransformersChat):
        if cls is LlamaCppChat and not cls.claims(picked.source):
            continue
        wrapper = (
            picked
            if type(picked) is cls
            else cls(picked.model_id, picked.source, registry.device.resolve(), picked.cache_dir)
        )
        wrapper.ensure_loaded()
        backends[cls.backend] = wrapper
    rates: dict[str, list[float]] = {name: [] for name in ["llama.cpp raw", "transformers raw", *backends]}
    tokens: dict[str, int] = {}

    reference = backends["transformers"]
    hf_model, hf_ids = reference.model, torch.tensor([reference.prompt_tokens(STORY)])

    def raw_transformers() -> float:
        kwargs = dict(do_sample=True, temperature=0.7, top_p=0.9, repetition_penalty=1.1, top_k=0)
        with torch.inference_mode():
            start = time.perf_counter()
            hf_model.generate(hf_ids, max_new_tokens=1, min_new_tokens=1, **kwargs)
            first = time.perf_counter()
            hf_model.generate(hf_ids, max_new_tokens=CHAT_TOKENS, min_new_tokens=CHAT_TOKENS, **kwargs)
            end = time.perf_counter()
        return (CHAT_TOKENS - 1) / ((end - first) - (first - start))

    raw_llama = None
    if "llama.cpp" in backends:
        from llama_cpp import Llama

        fast = backends["llama.cpp"]
        raw_llama = Llama(
            model_path=fast.source,
            n_ctx=fast.context_limit + MAX_NEW_TOKENS,
            n_batch=512,
            n_threads=os.cpu_count(),
            n_threads_batch=os.cpu_count(),
            verbose=False,
            seed=0,
        )
        prompt = fast.prompt_tokens(STORY)

    def raw_llama_rate() -> float:
        raw_llama.reset()
        stamps = []
        for _ in raw_llama.generate(prompt, temp=0.7, top_p=0.9, repeat_penalty=1.1, reset=True):
            stamps.append(time.perf_counter())
            if len(stamps) == CHAT_TOKENS:
                break
        return decode_rate(stamps)

    for _ in range(repeats):
        if raw_llama is not None:
            rates["llama.cpp raw"].append(raw_llama_rate())
        for name, wrapper in backends.items():
            rate, tokens[name] = ours_chat_rate(wrapper)
            rates[name].append(rate)
        rates["transformers raw"].append(raw_transformers())
    median = {name: statistics.median(values) for name, values in rates.items() if values}
    rows = []
    best = max(backends, key=lambda name: median[name])
    if "llama.cpp raw" in median:
        ratio = median[best] / median["llama.cpp raw"]
        rows.append(
            Row(
                f"chat decode, playground ({best}, default for GGUF)",
                f"{median[best]:.1f} tok/s",
                f"llama.cpp {median['llama.cpp raw']:.1f} tok/s",
                ratio,
                "≥ 0.8×",
                ratio >= 0.8,
            )
        )
    else:
        rows.append(
            Row(
                "chat decode vs llama.cpp",
                f"{median[best]:.1f} tok/s",
                "llama-cpp-python not installed",
                None,
                "≥ 0.8×",
                None,
                "run make llama",
            )
        )
    ratio = median["transformers"] / median["transformers raw"]
    rows.append(
        Row(
            "chat decode, playground (transformers fallback)",
            f"{median['transformers']:.1f} tok/s",
            f"transformers `generate` {median['transformers raw']:.1f} tok/s",
            ratio,
            "(information)",
            None,
        )
    )
    for wrapper in backends.values():
        if wrapper is not picked:
            wrapper.unload()
    if raw_llama is not None:
        raw_llama.close()
    return rows, {"tokens": tokens}


def bench_ttft(url: str, repeats: int) -> list[Row]:
    """Warm time to first token through the app's API, as a browser's request sees it."""
    from gradio_client import Client

    client = Client(url, verbose=False)
    client.predict(message="Hello", history=[], max_new_tokens=4, seed=0, api_name="/chat")  # warm the model
    times = []
    for i in range(max(5, repeats)):
        start = time.perf_counter()
        job = client.submit(
            message=f"Tell me about the number {i}.", history=[], max_new_tokens=32, seed=i, api_name="/chat"
        )
        for update in job:
            history = update[0]
            if history and history[-1].get("role") == "assistant" and _text(history[-1]).strip():
                times.append(time.perf_counter() - start)
                break
        job.cancel()
    ttft = statistics.median(times)
    return [
        Row("chat, warm, time to first token (app API)", f"{ttft * 1000:.0f} ms", "—", None, "≤ 0.3 s", ttft <= 0.3)
    ]


def bench_chat_app(registry, url: str, path: str) -> list[Row]:
    """The chat rows measured through the running app (``bench/chat_app.py``), against raw llama.cpp."""
    from bench import chat_app
    from playground.models.chat import LlamaCppChat

    wrapper = registry.get("chat")
    if path == "concurrent":
        return chat_app.concurrent_rows(Row, url, wrapper.source if isinstance(wrapper, LlamaCppChat) else None)
    if not isinstance(wrapper, LlamaCppChat):
        return [
            Row(
                f"chat in the app ({path})",
                "—",
                "llama-cpp-python not installed",
                None,
                "≥ 0.8×",
                None,
                "run make llama",
            )
        ]
    wrapper.ensure_loaded()  # for the prompt's tokens
    raw = chat_app.RawLlama(wrapper)
    try:
        return (chat_app.warm_api_rows if path == "chatapi" else chat_app.browser_rows)(Row, url, raw)
    finally:
        raw.close()


def _text(message: dict) -> str:
    content = message.get("content")
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content or "")


# --- speech and images -------------------------------------------------------------------------------------


def speech_clip(registry, folder: Path) -> tuple[Path, float]:
    """SPEECH spoken by the bundled voice, saved as a WAV; and its length in seconds."""
    import soundfile

    tts = registry.load("text_to_speech")
    speech = tts.synthesize(SPEECH, tts.Options.parse(), seed=0)
    path = folder / "speech.wav"
    soundfile.write(path, speech.samples, speech.sample_rate)
    return path, speech.seconds


def overhead_rows(
    path: str,
    ours: float,
    api: float | None,
    floor: float | None,
    raw: float,
    raw_name: str,
    unit_seconds: float | None,
    limit: float,
) -> list[Row]:
    """Rows for the wrapper and the API against a raw call; real-time factors when ``unit_seconds`` is given.

    ``floor`` is the same request to a model-free Gradio app with the same components (gradio_floor.py): what
    any Gradio app pays for the HTTP round trip, the queue and the file transfers. The API row's target
    applies to what the playground adds on top of it.
    """

    def shown(seconds: float) -> str:
        return f"RTF {seconds / unit_seconds:.3f}" if unit_seconds else f"{seconds:.2f} s"

    rows = [
        Row(
            f"{path}, playground wrapper",
            shown(ours),
            f"{raw_name} {shown(raw)}",
            ours / raw,
            f"overhead ≤ {limit:.0%}",
            ours / raw <= 1 + limit,
        )
    ]
    if api is not None:
        if floor is None:
            rows.append(
                Row(
                    f"{path}, app HTTP API",
                    shown(api),
                    f"{raw_name} {shown(raw)}",
                    api / raw,
                    f"overhead ≤ {limit:.0%}",
                    api / raw <= 1 + limit,
                )
            )
        else:
            ratio = (api - floor) / raw
            rows.append(
                Row(
                    f"{path}, app HTTP API",
                    f"{api:.2f} s, of which Gradio's round trip {floor:.2f} s",
                    f"{raw_name} {raw:.2f} s",
                    ratio,
                    f"overhead ≤ {limit:.0%} beyond Gradio's",
                    ratio <= 1 + limit,
                    f"{api / raw:.2f}× with Gradio's round trip",
                )
            )
    return rows


def api_median(url: str | None, repeats: int, warm_ups: int = 1, **call) -> float | None:
    """Median seconds of ``repeats + 1`` requests ``call`` to the Gradio app at ``url`` (None without one)."""
    if not url:
        return None
    from gradio_client import Client

    client = Client(url, verbose=False)
    for _ in range(warm_ups):
        client.predict(**call)
    times = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        client.predict(**call)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_stt(registry, url: str | None, floor_url: str | None, clip: Path, seconds: float, repeats: int) -> list[Row]:
    import librosa
    from faster_whisper import WhisperModel
    from gradio_client import Client, handle_file

    wrapper = registry.load("speech_to_text")
    audio, _ = librosa.load(clip, sr=16000, mono=True)
    raw = WhisperModel(wrapper.source, device="cpu", compute_type="int8")
    options = wrapper.Options.parse()

    def raw_call():
        segments, _ = raw.transcribe(
            audio,
            beam_size=options.beam_size,
            temperature=options.temperature,
            language="en",
            condition_on_previous_text=False,
            vad_filter=False,
        )
        list(segments)

    ours, base = alternate(lambda: wrapper.transcribe(audio, options), raw_call, repeats)
    api = None
    if url:
        client = Client(url, verbose=False)
        api, _ = alternate(
            lambda: client.predict(audio=handle_file(str(clip)), api_name="/transcribe"),
            raw_call,
            repeats,
            API_WARM_UPS,
        )
    floor = api_median(floor_url, repeats, audio=handle_file(str(clip)), api_name="/transcribe")
    return overhead_rows("STT", ours, api, floor, base, "raw faster-whisper", seconds, 0.10)


def bench_tts(registry, url: str | None, floor_url: str | None, repeats: int) -> list[Row]:
    from gradio_client import Client
    from piper import PiperVoice, SynthesisConfig

    wrapper = registry.load("text_to_speech")
    options = wrapper.Options.parse()
    raw = PiperVoice.load(wrapper.source)
    config = SynthesisConfig(
        length_scale=raw.config.length_scale / options.rate,
        noise_scale=options.expressiveness,
        noise_w_scale=options.rhythm_variation,
    )
    seconds = wrapper.synthesize(SPEECH, options, seed=0).seconds

    def raw_call():
        list(raw.synthesize(SPEECH, syn_config=config))

    ours, base = alternate(lambda: wrapper.synthesize(SPEECH, options, seed=0), raw_call, repeats)
    api = None
    if url:
        client = Client(url, verbose=False)
        api, _ = alternate(
            lambda: client.predict(text=SPEECH, seed=0, api_name="/synthesize"), raw_call, repeats, API_WARM_UPS
        )
    floor = api_median(floor_url, repeats, text=SPEECH, seed=0, api_name="/synthesize")
    return overhead_rows("TTS", ours, api, floor, base, "raw piper", seconds, 0.10)


def bench_t2i(registry, url: str | None, floor_url: str | None, repeats: int, measured: dict) -> list[Row]:
    import torch
    from diffusers import AutoPipelineForText2Image
    from gradio_client import Client

    wrapper = registry.load("text_to_image")
    options = wrapper.Options.parse()
    raw = AutoPipelineForText2Image.from_pretrained(wrapper.source)
    raw.set_progress_bar_config(disable=True)

    def raw_call():
        raw(
            prompt=PICTURE,
            guidance_scale=options.guidance_scale,
            num_inference_steps=options.steps,
            generator=torch.Generator().manual_seed(0),
        )

    ours, base = alternate(lambda: wrapper.generate(PICTURE, "", options, seed=0), raw_call, repeats)
    api = None
    if url:
        client = Client(url, verbose=False)
        api, _ = alternate(
            lambda: client.predict(prompt=PICTURE, seed=0, show_noise_steps=False, api_name="/text_to_image"),
            raw_call,
            repeats,
            API_WARM_UPS,
        )
        measured["t2i api"] = api
    floor = api_median(floor_url, repeats, prompt=PICTURE, seed=0, show_noise_steps=False, api_name="/text_to_image")
    return overhead_rows(f"text-to-image ({options.steps} steps)", ours, api, floor, base, "raw diffusers", None, 0.05)


@contextlib.contextmanager
def gradio_floor(clip: Path, log: Path):
    """Serve bench/gradio_floor.py on a free port; yield its URL."""
    from playground.app_process import free_port

    port = free_port()
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "gradio_floor.py"), str(port), str(clip)],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.time() + 120
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5)
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError(f"gradio_floor.py did not start; see {log}") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def bench_neighbours(url: str | None, repeats: int, measured: dict) -> list[Row]:
    """Text to image through the app again, once chat, speech to text and speech synthesis have run in it.

    Engines with their own thread pools can slow each other down for good (CTranslate2's OpenMP runtime
    once made every later torch call 3-4× slower), so this compares the same request before and after.
    The app's process is the one to watch: this one also ran the raw libraries.
    """
    before = measured.get("t2i api")
    if url is None or before is None:
        return []
    after = api_median(
        url, repeats, warm_ups=0, prompt=PICTURE, seed=0, show_noise_steps=False, api_name="/text_to_image"
    )
    ratio = after / before
    return [
        Row(
            "text-to-image (app API) after the other models ran in the app",
            f"{after:.2f} s",
            f"the same request before them {before:.2f} s",
            ratio,
            "≤ 1.1×",
            ratio <= 1.1,
        )
    ]


# --- memory ------------------------------------------------------------------------------------------------


def bench_rss(url: str, app_pid: int, clip: Path) -> list[Row]:
    """Peak RSS of the app after running each of the five bundled models once."""
    from gradio_client import Client, handle_file
    from PIL import Image

    client = Client(url, verbose=False)
    with tempfile.TemporaryDirectory() as folder:
        image = Path(folder) / "circle.png"
        client_image, _, _, _ = client.predict(
            prompt=PICTURE, seed=1, show_noise_steps=False, api_name="/text_to_image"
        )
        Image.open(client_image).save(image)
        client.predict(image=handle_file(str(image)), api_name="/caption")
        client.predict(audio=handle_file(str(clip)), api_name="/transcribe")
        client.predict(text="Hello there.", seed=1, api_name="/synthesize")
        client.predict(message="Hello", history=[], max_new_tokens=16, seed=0, api_name="/chat")
    status = Path(f"/proc/{app_pid}/status").read_text()
    peak_kb = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM")))
    peak = peak_kb / 2**20
    return [
        Row("peak RSS, all five bundled models loaded and run", f"{peak:.2f} GB", "—", None, "≤ 2.5 GB", peak <= 2.5)
    ]


def table(rows: list[Row]) -> str:
    lines = ["| path | playground | baseline (same run) | ratio | target | met |", "|---|---|---|---:|---|---|"]
    for row in rows:
        ratio = f"{row.ratio:.2f}×" if row.ratio is not None else "—"
        met = {True: "yes", False: "**no**", None: "—"}[row.met]
        note = f" ({row.note})" if row.note else ""
        lines.append(f"| {row.path} | {row.ours} | {row.baseline} | {ratio} | {row.target} | {met}{note} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per path and baseline (median; default 5)")
    parser.add_argument("--only", default=",".join(PATHS), help=f"comma-separated subset of {','.join(PATHS)}")
    parser.add_argument("--data-dir", type=Path, default=ROOT / ".cache" / "bench-data")
    args = parser.parse_args()
    only = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = set(only) - set(PATHS)
    if unknown or args.repeats < 1:
        parser.error(f"unknown path(s) {sorted(unknown)}; choose from {PATHS}" if unknown else "--repeats must be ≥ 1")

    import psutil

    from playground.app_process import running_app
    from playground.devices import DeviceChoice
    from playground.registry import Registry

    args.data_dir.mkdir(parents=True, exist_ok=True)
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    rows: list[Row] = []
    started = time.strftime("%Y-%m-%d %H:%M")
    print(f"Machine: {machine()}", flush=True)
    if "start" in only:
        rows += bench_start(args.repeats, args.data_dir)
        print(table(rows), flush=True)
    registry = Registry(args.data_dir, DeviceChoice("cpu"))
    needs_app = any(p in only for p in ("ttft", "chatapi", "concurrent", "chatbrowser", "stt", "tts", "t2i", "rss"))
    with tempfile.TemporaryDirectory() as folder:
        clip, seconds = speech_clip(registry, Path(folder)) if needs_app else (None, 0)
        flags = ("--preload", "chat,t2i,caption,stt,tts")
        with contextlib.ExitStack() as stack:
            url = (
                stack.enter_context(running_app(args.data_dir, results / "speed-server.log", *flags, timeout=300))
                if needs_app
                else None
            )
            floor_url = stack.enter_context(gradio_floor(clip, results / "floor-server.log")) if url else None
            app_pid = next((c.pid for c in psutil.Process().children() if "app.py" in " ".join(c.cmdline())), None)
            measured: dict[str, float] = {}  # the first text-to-image API time, for the "after" row
            steps = [
                ("t2i", lambda: bench_t2i(registry, url, floor_url, args.repeats, measured)),
                ("chat", lambda: bench_chat(registry, args.repeats)[0]),
                ("ttft", lambda: bench_ttft(url, args.repeats)),
                ("chatapi", lambda: bench_chat_app(registry, url, "chatapi")),
                ("concurrent", lambda: bench_chat_app(registry, url, "concurrent")),
                ("chatbrowser", lambda: bench_chat_app(registry, url, "chatbrowser")),
                ("stt", lambda: bench_stt(registry, url, floor_url, clip, seconds, args.repeats)),
                ("tts", lambda: bench_tts(registry, url, floor_url, args.repeats)),
                ("t2i", lambda: bench_neighbours(url, args.repeats, measured)),
                ("rss", lambda: bench_rss(url, app_pid, clip)),
            ]
            for name, step in steps:
                if name in only:
                    rows += step()
                    print(f"[{name} done]", flush=True)
    report = "\n".join([f"Measured {started} on: {machine()}", "", table(rows)])
    print("\n" + report)
    (results / f"speed-{time.strftime('%Y%m%d-%H%M%S')}.md").write_text(report + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
