"""Read user-supplied audio and images, turning every bad file into one plain sentence."""

from __future__ import annotations

import os
from pathlib import Path

from playground.errors import UserError

MAX_AUDIO_SECONDS = 30 * 60
MAX_IMAGE_PIXELS = 40_000_000


def load_audio(path: str | os.PathLike | None, sample_rate: int = 16_000):
    """Load an audio file as mono float32 at ``sample_rate`` with librosa."""
    if path is None or str(path).strip() == "":
        raise UserError("No audio was given: record with the microphone or upload a file.")
    file = Path(path)
    if not file.is_file():
        raise UserError(f"The audio file '{file.name}' does not exist.")
    if file.stat().st_size == 0:
        raise UserError("The audio file is empty (0 bytes).")
    import warnings

    import librosa
    import numpy as np

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # librosa warns before falling back to audioread
            duration = librosa.get_duration(path=str(file))
            if duration > MAX_AUDIO_SECONDS:
                raise UserError(f"The audio is {duration / 60:.0f} minutes long; the limit is {MAX_AUDIO_SECONDS // 60} minutes.")
            audio, _ = librosa.load(str(file), sr=sample_rate, mono=True)
    except UserError:
        raise
    except Exception:
        raise UserError(
            f"Could not read '{file.name}' as audio: the file is truncated or not an audio format (use wav, flac, ogg or mp3)."
        ) from None
    if audio.size == 0:
        raise UserError("The audio file holds no samples.")
    if not np.all(np.isfinite(audio)):
        raise UserError("The audio file holds invalid (non-finite) samples.")
    return audio.astype(np.float32)


def load_image(value):
    """Accept a PIL image, a path or an array and return an RGB PIL image."""
    from PIL import Image, UnidentifiedImageError

    if value is None:
        raise UserError("No image was given: upload or paste one.")
    if isinstance(value, Image.Image):
        image = value
    elif isinstance(value, (str, os.PathLike)):
        file = Path(value)
        if not file.is_file() or file.stat().st_size == 0:
            raise UserError("The image file is missing or empty.")
        try:
            image = Image.open(file)
            if image.width * image.height > MAX_IMAGE_PIXELS:
                raise UserError(f"The image is {image.width}×{image.height} pixels; the limit is {MAX_IMAGE_PIXELS // 1_000_000} megapixels.")
            image.load()
        except UserError:
            raise
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
            raise UserError(f"Could not read '{file.name}' as an image: the file is truncated or not an image.") from None
    else:
        import numpy as np

        try:
            image = Image.fromarray(np.asarray(value))
        except Exception:
            raise UserError("The image data could not be understood.") from None
    if image.width < 1 or image.height < 1:
        raise UserError("The image has no pixels.")
    if image.width * image.height > MAX_IMAGE_PIXELS:
        raise UserError(f"The image is {image.width}×{image.height} pixels; the limit is {MAX_IMAGE_PIXELS // 1_000_000} megapixels.")
    if image.mode == "RGBA":
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image, mask=image.split()[3])
        return background
    return image.convert("RGB")
