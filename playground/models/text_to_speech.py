"""Text to speech: Piper voices (ONNX) run with piper-tts.

A Piper graph draws its own noise (``RandomNormalLike`` nodes) from a generator that onnxruntime
seeds once per session and advances on every run, so the same settings never sound the same twice.
At load we replace those nodes with noise computed from a ``noise_key`` input, a pure function of
(key, element index), and derive the key from the user's seed: same seed, same audio.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from playground.errors import UserError
from playground.models.base import ModelWrapper, load_error
from playground.options import Field, Options

MAX_TEXT_CHARS = 5_000
NOISE_KEY = "noise_key"  # the graph input our seeded noise nodes read
_MASK64 = (1 << 64) - 1


@dataclass
class Speech:
    """Synthesized speech: 16-bit samples and their rate."""

    sample_rate: int
    samples: "object"  # np.ndarray of int16

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.sample_rate


class SpeechOptions(Options):
    rate: float = Field(1.0, ge=0.5, le=2.0, title="Speaking rate",
                        description="1 is the voice's natural pace; 2 is twice as fast.",
                        json_schema_extra={"step": 0.05})
    expressiveness: float = Field(0.667, ge=0.0, le=1.5, title="Expressiveness",
                                  description="How much the voice varies (Piper's noise scale, the TTS counterpart of temperature).",
                                  json_schema_extra={"step": 0.01})
    rhythm_variation: float = Field(0.8, ge=0.0, le=1.5, title="Rhythm variation",
                                    description="How much the length of each sound varies (Piper's noise width).",
                                    json_schema_extra={"step": 0.01})


class PiperTTS(ModelWrapper):
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
        try:
            import onnxruntime
            from piper.config import PiperConfig

            providers = ["CUDAExecutionProvider"] if self.device.type == "cuda" else ["CPUExecutionProvider"]
            session = onnxruntime.InferenceSession(seeded_noise_graph(model), providers=providers)
            self.voice = PiperVoice(config=PiperConfig.from_dict(json.loads(config.read_text())), session=session)
        except Exception as exc:
            raise load_error(exc, self.model_id) from exc

    def _release(self) -> None:
        self.voice = None

    def synthesize(self, text: str, options: SpeechOptions, seed: int = 0) -> Speech:
        """Speak ``text``; sentences are synthesized one by one and joined. The same seed gives the same audio."""
        import dataclasses

        import numpy as np
        from piper import SynthesisConfig

        with self.in_use():
            config = SynthesisConfig(
                length_scale=self.voice.config.length_scale / options.rate,
                noise_scale=options.expressiveness,
                noise_w_scale=options.rhythm_variation,
            )
            voice = dataclasses.replace(self.voice, session=SeededSession(self.voice.session, seed))
            chunks = [c.audio_int16_array for c in voice.synthesize(text, syn_config=config)]
        if not chunks:
            raise UserError("The text has nothing that can be spoken; type some words.")
        return Speech(self.voice.config.sample_rate, np.concatenate(chunks))


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
        "zero": np.array(0, np.int64), "one": np.array(1, np.int64), "two_u": np.array([2], np.uint64),
        "one_u": np.array([1], np.uint64), "shift": np.array([32], np.uint64), "half": np.array([0.5], np.float64),
        "inv32": np.array([2.0 ** -32], np.float64), "minus_two": np.array([-2.0], np.float32),
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

        def add(op, inputs, out, **attributes):
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
                x = add("Add", [add("BitShift", [x, c["shift"]], f"{name}_hi{r}", direction="RIGHT"),
                                add("BitShift", [x, c["shift"]], f"{name}_lo{r}", direction="LEFT")], f"{name}_rot{r}")
            bits = add("BitShift", [add("Add", [add("Mul", [x, x], f"{name}_sq3"), z], f"{name}_sum3"), c["shift"]],
                       f"{name}_bits", direction="RIGHT")
            unit = add("Mul", [add("Add", [add("Cast", [bits], f"{name}_f64", to=TensorProto.DOUBLE), c["half"]],
                                   f"{name}_centred"), c["inv32"]], f"{name}_unit64")
            uniforms.append(add("Cast", [unit], f"{name}_unit", to=TensorProto.FLOAT))
        radius = add("Sqrt", [add("Mul", [add("Log", [uniforms[0]], "log"), c["minus_two"]], "radius_sq")], "radius")
        angle = add("Cos", [add("Mul", [uniforms[1], c["two_pi"]], "angle")], "cos")
        normal = add("Reshape", [add("Mul", [radius, angle], "normal_flat"), shape], "normal")
        scale, mean = float(attrs.get("scale", 1.0)), float(attrs.get("mean", 0.0))
        if scale != 1.0 or mean != 0.0:
            graph.initializer.extend([numpy_helper.from_array(np.array([scale], np.float32), p + "scale"),
                                      numpy_helper.from_array(np.array([mean], np.float32), p + "mean")])
            normal = add("Add", [add("Mul", [normal, p + "scale"], "scaled"), p + "mean"], "shifted")
        nodes.append(helper.make_node("Identity", [normal], [node.output[0]]))
        k += 1
    del graph.node[:]
    graph.node.extend(nodes)
    return model.SerializeToString()


BACKENDS = [PiperTTS]
