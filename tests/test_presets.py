"""Presets: a tab's settings saved under a name, listed, applied and deleted, through the API and in Chromium;
kept in the History database, so they outlive the app."""

import pytest
from playwright.sync_api import expect

from conftest import ARTIFACTS, open_app
from playground.app_process import running_app
from playground.history import RunLog


def test_presets_through_the_api(client):
    crisp = {"model": "bundled/picture-sd", "guidance_scale": 9.0, "steps": 12, "seed": 5}
    saved = client.predict(tab="text_to_image", name=" crisp ", settings=crisp, api_name="/preset_save")
    assert saved["name"] == "crisp" and saved["settings"] == crisp
    client.predict(tab="text_to_image", name="dreamy", settings={"guidance_scale": 2.0}, api_name="/preset_save")
    names = [p["name"] for p in client.predict(tab="text_to_image", api_name="/preset_list")]
    assert {"crisp", "dreamy"} <= set(names)
    assert client.predict(tab="text_to_image", name="crisp", api_name="/preset_apply") == crisp
    # the same name again replaces the settings
    client.predict(tab="text_to_image", name="dreamy", settings={"guidance_scale": 3.0}, api_name="/preset_save")
    assert client.predict(tab="text_to_image", name="dreamy", api_name="/preset_apply") == {"guidance_scale": 3.0}
    assert "Deleted" in client.predict(tab="text_to_image", name="dreamy", api_name="/preset_delete")
    assert "dreamy" not in [p["name"] for p in client.predict(tab="text_to_image", api_name="/preset_list")]
    assert "crisp" not in [p["name"] for p in client.predict(tab="caption", api_name="/preset_list")]  # per tab


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"tab": "text_to_image", "name": "x", "settings": {"guidance_scale": 99}}, "Guidance scale must be between"),
        ({"tab": "text_to_image", "name": "x", "settings": {"loudness": 3}}, "has no setting named 'loudness'"),
        ({"tab": "text_to_image", "name": "  ", "settings": {}}, "Give the preset a name."),
        ({"tab": "painting", "name": "x", "settings": {}}, "There is no tab 'painting' with presets"),
    ],
)
def test_a_bad_preset_gets_one_sentence(client, kwargs, message):
    with pytest.raises(Exception) as err:
        client.predict(**kwargs, api_name="/preset_save")
    assert message in str(err.value) and "Traceback" not in str(err.value)


def test_applying_an_unknown_preset_names_the_saved_ones(client):
    client.predict(tab="synthesize", name="slow", settings={"rate": 0.8}, api_name="/preset_save")
    with pytest.raises(Exception) as err:
        client.predict(tab="synthesize", name="fast", api_name="/preset_apply")
    assert "There is no preset named 'fast' for synthesize (saved: 'slow')." in str(err.value)


def test_presets_are_kept_in_the_history_database(client, data_dir):
    client.predict(tab="chat", name="careful", settings={"temperature": 0.1}, api_name="/preset_save")
    assert RunLog(data_dir).preset("chat", "careful")["settings"] == {"temperature": 0.1}


def test_presets_are_per_login(tmp_path):
    from gradio_client import Client

    with running_app(tmp_path, tmp_path / "app.log", "--auth", "ann:pw-ann-1", "--auth", "bob:pw-bob-1") as url:
        ann = Client(url, auth=("ann", "pw-ann-1"), verbose=False)
        bob = Client(url, auth=("bob", "pw-bob-1"), verbose=False)
        ann.predict(tab="chat", name="mine", settings={"temperature": 0.3}, api_name="/preset_save")
        assert [p["name"] for p in ann.predict(tab="chat", api_name="/preset_list")] == ["mine"]
        assert bob.predict(tab="chat", api_name="/preset_list") == []


def test_save_and_apply_a_preset_in_the_browser(browser, server):
    page = open_app(browser, server)
    page.get_by_role("tab", name="Text to Image").click()
    steps = page.locator("#text_to_image-steps input[type=number]")
    steps.fill("7")
    steps.press("Enter")
    page.locator("#text_to_image-presets").get_by_text("Presets").click()
    name = page.locator("#text_to_image-preset-name input")
    name.fill("seven steps")
    page.locator("#text_to_image-preset-save").click()
    expect(page.locator("#text_to_image-preset-status")).to_contain_text("Saved the preset seven steps")
    steps.fill("30")
    steps.press("Enter")
    page.locator("#text_to_image-preset-apply").click()
    expect(page.locator("#text_to_image-preset-status")).to_contain_text("Applied the preset seven steps")
    expect(steps).to_have_value("7")
    page.locator("#text_to_image-presets").screenshot(path=ARTIFACTS / "presets.png")
    page.close()
