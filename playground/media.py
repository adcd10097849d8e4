"""Read user-supplied audio and images, turning every bad file into one plain sentence."""

from __future__ import annotations

import os
from pathlib import Path

from playground.errors import UserError

MAX_AUDIO_SECONDS = 30 * 60
MAX_IMAGE_PIXELS = 40_000_000


def check_wav_length(file: Path) -> None:
    """Refuse a WAV whose header promises more audio than the file holds.

    FLAC and OGG decoders fail on a cut file, but libsndfile reads a cut WAV as a shorter, complete-looking one
    (a header promising 3.4 s, a file holding 5 ms, was transcribed as "no speech"). A data size of 0 or
    0xFFFFFFFF means a writer that never knew the length (a stream): that is not a promise, and is let through."""
    import struct

    size = file.stat().st_size
    with open(file, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return
        byte_rate, block = 0, 1
        while True:
            chunk = f.read(8)
            if len(chunk) < 8:
                return
            kind, length = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if kind == b"fmt ":
                fmt = f.read(length)
                if len(fmt) >= 14:
                    byte_rate, block = struct.unpack("<I", fmt[8:12])[0], max(1, struct.unpack("<H", fmt[12:14])[0])
                f.seek(length % 2, 1)  # chunks are padded to an even size
            elif kind == b"data":
                held = size - f.tell()
                if length in (0, 0xFFFFFFFF) or held >= length - block or not byte_rate:
                    return
                raise UserError(
                    f"Could not read '{file.name}' as audio: the file is truncated (its header promises "
                    f"{length / byte_rate:.1f} s of audio, the file holds {max(held, 0) / byte_rate:.1f} s)."
                )
            else:
                f.seek(length + length % 2, 1)


def check_ogg_ends(file: Path) -> None:
    """Refuse an Ogg file that stops before its last page: a whole stream's final page carries the end-of-stream
    flag and ends where the file does. (A cut Ogg of speech decoded as no samples at all.)"""
    import struct

    size = file.stat().st_size
    with open(file, "rb") as f:
        if f.read(4) != b"OggS":
            return
        f.seek(max(0, size - 65_536))  # a page is at most 65,307 bytes
        tail = f.read()
    at = tail.rfind(b"OggS")
    page = tail[at:]
    complete = False
    if at >= 0 and len(page) >= 27:
        segments = page[26]
        if len(page) >= 27 + segments:
            body = sum(page[27 : 27 + segments])
            complete = (
                bool(page[5] & 0x04) and len(page) == 27 + segments + body and struct.unpack("<q", page[6:14])[0] >= 0
            )
    if not complete:
        raise UserError(
            f"Could not read '{file.name}' as audio: the file is truncated (it stops before the end of its last page)."
        )


def load_audio(path: str | os.PathLike | None, sample_rate: int = 16_000):
    """Load an audio file as mono float32 at ``sample_rate`` with librosa."""
    if path is None or str(path).strip() == "":
        raise UserError("No audio was given: record with the microphone or upload a file.")
    file = Path(path)
    if not file.is_file():
        raise UserError(f"The audio file '{file.name}' does not exist.")
    if file.stat().st_size == 0:
        raise UserError("The audio file is empty (0 bytes).")
    check_wav_length(file)
    check_ogg_ends(file)
    import warnings

    import librosa
    import numpy as np

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # librosa warns before falling back to audioread
            duration = librosa.get_duration(path=str(file))
            if duration > MAX_AUDIO_SECONDS:
                raise UserError(
                    f"The audio is {duration / 60:.0f} minutes long; the limit is {MAX_AUDIO_SECONDS // 60} minutes."
                )
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
                raise UserError(
                    f"The image is {image.width}×{image.height} pixels; the limit is {MAX_IMAGE_PIXELS // 1_000_000} megapixels."
                )
            image.load()
        except UserError:
            raise
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
            raise UserError(
                f"Could not read '{file.name}' as an image: the file is truncated or not an image."
            ) from None
    else:
        import numpy as np

        try:
            image = Image.fromarray(np.asarray(value))
        except Exception:
            raise UserError("The image data could not be understood.") from None
    if image.width < 1 or image.height < 1:
        raise UserError("The image has no pixels.")
    if image.width * image.height > MAX_IMAGE_PIXELS:
        raise UserError(
            f"The image is {image.width}×{image.height} pixels; the limit is {MAX_IMAGE_PIXELS // 1_000_000} megapixels."
        )
    if image.mode == "RGBA":
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image, mask=image.split()[3])
        return background
    return image.convert("RGB")


def mono_float(samples):
    """Samples as mono float32 in [-1, 1], whatever their integer type or channel layout."""
    import numpy as np

    audio = np.asarray(samples)
    # the scale is read before channels are averaged, which turns integers into float64
    scale = float(np.iinfo(audio.dtype).max + 1) if np.issubdtype(audio.dtype, np.integer) else 1.0
    if audio.ndim == 2:  # (samples, channels), the layout Gradio and soundfile use
        audio = audio.mean(axis=1) if audio.shape[1] <= 8 else audio.mean(axis=0)
    return np.ascontiguousarray(audio / scale, dtype=np.float32)


def wav_bytes(samples, sample_rate: int) -> bytes:
    """Samples as a 16-bit PCM WAV file in memory."""
    import io

    import numpy as np
    import soundfile as sf

    buffer = io.BytesIO()
    audio = np.asarray(samples)
    sf.write(buffer, audio, sample_rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()
