"""The memory budget: the least recently used idle model makes room, and the process really gives memory back."""

import gc
import shutil

import pytest

from playground.errors import UserError
from playground.memory import human


def fresh_registry(tmp_path, max_memory):
    from playground.devices import DeviceChoice
    from playground.registry import Registry

    return Registry(
        tmp_path / "data", DeviceChoice("cpu"), max_memory=max_memory, model_dirs=[tmp_path.parent]
    )  # pytest's base temp folder: the tiny models are in it


@pytest.fixture(scope="module")
def big_blip(tiny_blip, tmp_path_factory):
    """A BLIP of about 250 MB (random weights), big enough that its memory shows in the process's RSS."""
    import torch
    from transformers import BlipConfig, BlipForConditionalGeneration

    folder = tmp_path_factory.mktemp("big") / "blip"
    shutil.copytree(tiny_blip, folder)
    config = BlipConfig.from_pretrained(tiny_blip)
    for part in (config.text_config, config.vision_config):
        part.hidden_size, part.intermediate_size, part.num_hidden_layers, part.num_attention_heads = 768, 3072, 4, 12
    config.text_config.encoder_hidden_size = 768
    torch.manual_seed(0)
    BlipForConditionalGeneration(config).save_pretrained(folder)
    return folder


def rss(trim: bool = False) -> int:
    """The process's resident memory; ``trim`` first hands the heap's free pages back (what earlier tests freed
    would otherwise be reused by the next load, and the load would hardly grow the RSS)."""
    import psutil

    from playground.memory import trim_heap

    gc.collect()
    if trim:
        trim_heap()
    return psutil.Process().memory_info().rss


def test_least_recently_used_model_is_unloaded_and_rss_drops(big_blip, tiny_blip, tiny_sd, tmp_path):
    from PIL import Image

    from playground.models.base import weight_bytes

    big, small, image = weight_bytes(big_blip), weight_bytes(tiny_blip), weight_bytes(tiny_sd)
    assert big > 200 * 1024**2
    registry = fresh_registry(tmp_path, max_memory=big + max(small, image) + 1)  # room for two, not three
    before = rss(trim=True)
    large = registry.load("captioning", str(big_blip))
    large.caption(Image.new("RGB", (32, 32), "red"), large.Options.parse(max_new_tokens=2))  # every weight is read
    loaded = rss()
    first = registry.load("captioning", str(tiny_blip))
    assert large.loaded and first.loaded  # both fit
    registry.load("captioning", str(big_blip))  # used again: now the small one is least recently used
    second = registry.load("text_to_image", str(tiny_sd))  # does not fit beside both
    assert large.loaded and second.loaded and not first.loaded
    assert registry.memory.used() <= registry.memory.limit
    registry.load("captioning", str(tiny_blip))  # the large one is least recently used now
    after = rss()
    assert not large.loaded
    print(
        f"RSS {human(before)} before, {human(loaded)} with the {human(big)} model, {human(after)} after it was unloaded"
    )
    assert loaded - before > big * 0.7
    assert loaded - after > big * 0.7


def test_a_model_larger_than_the_budget_is_refused_with_its_size(tiny_blip, tmp_path):
    registry = fresh_registry(tmp_path, max_memory=1024)
    with pytest.raises(UserError, match=r"needs about \d+ [KM]B of memory, more than the 1 KB budget.*--max-memory"):
        registry.load("captioning", str(tiny_blip))


def test_a_model_in_use_is_never_unloaded_to_make_room(tiny_blip, tiny_sd, tmp_path):
    from playground.models.base import weight_bytes

    registry = fresh_registry(tmp_path, max_memory=max(weight_bytes(tiny_blip), weight_bytes(tiny_sd)) + 1)
    captioner = registry.get("captioning", str(tiny_blip))
    with captioner.in_use():
        with pytest.raises(UserError, match="models that are running hold"):
            registry.load("text_to_image", str(tiny_sd))
        assert captioner.loaded
    assert registry.load("text_to_image", str(tiny_sd)).loaded and not captioner.loaded


def test_unload_button_frees_the_budget(tiny_blip, tmp_path):
    registry = fresh_registry(tmp_path, max_memory=None)
    registry.load("captioning", str(tiny_blip))
    assert registry.memory.used() > 0
    assert registry.unload("captioning") == [str(tiny_blip)]
    assert registry.memory.used() == 0
