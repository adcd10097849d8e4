"""Two sessions that get the same seeded result: each downloads all of it while the other's copy is written.

Gradio names a result's file by its content, so the same picture or clip from two sessions is one path. Its own
writes truncate that path and fill it again; a download that read it in between got 0 of 186,672 bytes (seen
in the under-load test). ``build_app`` makes those writes atomic (``playground.ui.cache_writes``); here Gradio's
real components write the same result again and again while the file is read back, as a second page does.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
from PIL import Image

from playground.devices import DeviceChoice
from playground.registry import Registry
from playground.ui.app import build_app
from playground.ui.cache_writes import WRITING_PREFIX

REWRITES = 200  # the same result written this many times while it is read; unguarded, about 1 read in 36 was torn
DEADLINE_S = 60.0


def picture():
    rng = np.random.default_rng(0)
    return gr.Image(type="pil", format="png"), Image.fromarray(rng.integers(0, 255, (256, 256, 3), dtype=np.uint8))


def clip():
    rng = np.random.default_rng(1)
    samples = (rng.standard_normal(22050 * 2) * 3000).astype(np.int16)
    return gr.Audio(type="numpy", format="wav"), (22050, samples)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    return build_app(Registry(tmp_path_factory.mktemp("models"), DeviceChoice("cpu")))


@pytest.mark.concurrency
@pytest.mark.parametrize("result", [picture, clip], ids=["picture", "clip"])
def test_a_result_written_again_is_always_read_whole(app, result, tmp_path):
    component, value = result()
    component.GRADIO_CACHE = str(tmp_path)
    path = Path(component.postprocess(value).path)
    whole = path.read_bytes()
    assert path.parent.parent == tmp_path and len(whole) > 10_000, path

    writes, done = [0], threading.Event()

    def second_session():
        deadline = time.monotonic() + DEADLINE_S
        try:
            while writes[0] < REWRITES and time.monotonic() < deadline:
                assert Path(component.postprocess(value).path) == path  # the same content is the same path
                writes[0] += 1
        finally:  # a failed write stops the reading too; the count below then says so
            done.set()

    writer = threading.Thread(target=second_session)
    writer.start()
    reads, torn = 0, []
    while not done.is_set():
        data = path.read_bytes()
        reads += 1
        if data != whole:
            torn.append(len(data))
    writer.join()
    assert writes[0] == REWRITES, f"only {writes[0]} writes in {DEADLINE_S:.0f} s"
    assert reads > REWRITES, f"only {reads} reads beside {REWRITES} writes: the race was not tried"
    assert not torn, f"{len(torn)} of {reads} reads got part of the file: {sorted(set(torn))[:5]} of {len(whole)} bytes"
    assert not list(tmp_path.glob(WRITING_PREFIX + "*")), "a private writing folder was left in the cache"
