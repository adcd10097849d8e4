"""Gradio's cache writes for results, made atomic, so two people who get the same result each get all of it.

Gradio 6.31 keeps a result (a picture, a clip) at a path named by a hash of its content and writes it there in
place (``write_bytes``, ``AudioSegment.export``): the file is truncated, then filled. Two sessions that draw the
same seeded picture write the same path, and a page that downloads the first one's file while the second one's
write has just truncated it gets fewer bytes than the size it was told (under load, 0 of 186,672: the download
failed). Gradio already copies files it is handed under a temporary name and renames them into place
(``save_file_to_cache``); ``install`` does the same for the writes that take data.

Each wrapped function runs Gradio's own code unchanged, into a private folder inside the same cache, and the
file it writes is then renamed onto the real path: a rename is atomic within a file system, a reader that had
opened the old file keeps reading it whole, and one that opens the path afterwards gets the new, complete one.
"""

from __future__ import annotations

import functools
import inspect
import os
import shutil
import tempfile
from pathlib import Path

WRAPPED = ("save_pil_to_cache", "save_audio_to_cache", "save_bytes_to_cache")  # every one that writes data in place
WRITING_PREFIX = ".writing-"  # the private folders; each lasts one write


def atomic(save):
    """``save`` (a Gradio ``save_*_to_cache``, which takes ``cache_dir``) writing through a rename."""

    signature = inspect.signature(save)

    @functools.wraps(save)
    def wrapper(*args, **kwargs) -> str:
        call = signature.bind(*args, **kwargs)
        cache = Path(call.arguments["cache_dir"])
        cache.mkdir(parents=True, exist_ok=True)
        private = Path(tempfile.mkdtemp(prefix=WRITING_PREFIX, dir=cache))
        try:
            call.arguments["cache_dir"] = str(private)
            written = Path(save(*call.args, **call.kwargs)).resolve()
            final = cache.resolve() / written.relative_to(private.resolve())  # <hash>/<name>, as Gradio named it
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(written, final)
        finally:
            shutil.rmtree(private, ignore_errors=True)
        return str(final)

    wrapper.atomic = True
    return wrapper


def install() -> None:
    """Make Gradio's data-taking cache writes atomic; idempotent. ``build_app`` calls it."""
    from gradio import processing_utils

    for name in WRAPPED:
        save = getattr(processing_utils, name)
        if not getattr(save, "atomic", False):
            setattr(processing_utils, name, atomic(save))
