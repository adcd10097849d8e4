"""Issue 21, tried as an attacker would: server-side requests to addresses nobody allowed, keys shared between
sessions, model ids that are paths, guessed passwords, and markup in error toasts. Every server here is real and on
loopback: a tiny OpenAI-compatible fake that records each request it gets (so a test can prove none arrived), the
app started as users start it, and Chromium."""

from __future__ import annotations

import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from conftest import ARTIFACTS, open_app
from playground.app_process import AppDidNotStart, free_port, running_app
from playground.backends.openai_compat import CONNECT_SECONDS
from playground.errors import UserError, shown

SERVER_KEY = "sk-server-wide-7f3a9c"  # the app's own key (PLAYGROUND_REMOTE_KEY), for --remote-url
KEY_A, KEY_B = "sk-session-a-51c2e8", "sk-session-b-90d4b1"
HTML_BODY = (
    "<html><body><h1>Internal admin panel</h1><p>db password: hunter2</p>"
    "<img src='http://127.0.0.1:{beacon}/from-body.png'></body></html>"
)
LONG_REASON = "Overloaded <img src='http://127.0.0.1:{beacon}/from-reason.png'> " + "tail-secret " * 40


class Recorder(ThreadingHTTPServer):
    """An HTTP server on 127.0.0.1 that keeps (method, path, Authorization) of every request it gets."""

    daemon_threads = True

    def __init__(self, routes=None):
        self.seen: list[tuple[str, str, str | None]] = []
        self.routes = routes or (lambda handler: handler.answer(404, {"error": {"message": "no such route"}}))
        super().__init__(("127.0.0.1", free_port()), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        self.server.seen.append(("GET", self.path, self.headers.get("Authorization")))
        self.server.routes(self)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.body = self.rfile.read(length)
        self.server.seen.append(("POST", self.path, self.headers.get("Authorization")))
        self.server.routes(self)

    def answer(self, status: int, payload, kind: str = "application/json"):
        data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def openai_routes(beacon: Recorder, elsewhere: Recorder):
    """A chat model ``chatty`` under /v1; under /json, /html and /img the same list of models, then a JSON error
    with markup and a long tail, a web page with secrets, and an image given as a link to another server."""

    def route(h: Handler):
        base, _, rest = h.path.partition("/v1/")
        if rest == "models":
            return h.answer(200, {"object": "list", "data": [{"id": "chatty"}]})
        if base == "" and rest == "chat/completions":
            chunks = [{"choices": [{"delta": {"content": word}}]} for word in ("hello ", "there")]
            events = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
            return h.answer(200, events, "text/event-stream")
        if base == "/json":
            return h.answer(503, {"error": {"message": LONG_REASON.format(beacon=beacon.server_address[1])}})
        if base == "/html":
            return h.answer(500, HTML_BODY.format(beacon=beacon.server_address[1]), "text/html")
        if base == "/img" and rest == "images/generations":
            return h.answer(200, {"data": [{"url": f"{elsewhere.url}/picture.png"}]})
        return h.answer(404, {"error": {"message": "no such route"}})

    return route


@pytest.fixture(scope="module")
def beacon():
    """Where markup in a toast would make the browser fetch from; nothing may ever arrive."""
    server = Recorder()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def elsewhere():
    """A server nobody allowed: a typed URL pointing here must not reach it."""
    server = Recorder()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def fake(beacon, elsewhere):
    server = Recorder(openai_routes(beacon, elsewhere))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def app(fake, tmp_path_factory):
    """app.py with one --remote-url (its key in PLAYGROUND_REMOTE_KEY) and three --allow-remote prefixes."""
    folder = tmp_path_factory.mktemp("remote-security")
    os.environ["PLAYGROUND_REMOTE_KEY"] = SERVER_KEY  # read by the child process only
    try:
        with running_app(
            folder / "data",
            folder / "app.log",
            "--remote-url",
            f"{fake.url}/v1",
            "--remote-model",
            "chatty",
            "--allow-remote",
            f"{fake.url}/json",
            "--allow-remote",
            f"{fake.url}/html",
            "--allow-remote",
            f"{fake.url}/img",
        ) as url:
            yield url
    except AppDidNotStart as exc:
        pytest.fail(str(exc))
    finally:
        os.environ.pop("PLAYGROUND_REMOTE_KEY", None)


@pytest.fixture(scope="module")
def client(app):
    from gradio_client import Client

    return Client(app, verbose=False)


def fresh_registry(tmp_path, **kwargs):
    from playground.devices import DeviceChoice
    from playground.registry import Registry

    return Registry(tmp_path / "data", DeviceChoice("cpu"), **kwargs)


def error_of(call) -> str:
    with pytest.raises(Exception) as caught:
        call()
    return str(caught.value)


def ui_call(app: str, elem_id: str, data: list, session: str):
    """Press the button ``elem_id`` as a page of ``session`` does (a direct call of its private event)."""
    config = httpx.get(f"{app}config", timeout=10).json()
    button = next(c["id"] for c in config["components"] if c.get("props", {}).get("elem_id") == elem_id)
    fn = next(d["id"] for d in config["dependencies"] if [button, "click"] in d["targets"])
    response = httpx.post(
        f"{app}gradio_api/run/predict",
        timeout=30,
        json={"data": data, "fn_index": fn, "trigger_id": button, "session_hash": session},
    )
    return response.status_code, response.json()


# ---------------------------------------------------------------- the allow-list itself


def test_prefixes_match_scheme_host_port_and_whole_path_segments():
    from playground.backends.openai_compat import RemoteAllowList

    allowed = RemoteAllowList(["http://10.0.0.5:8000/v1", "https://llm.lan"])
    assert allowed.allows("http://10.0.0.5:8000/v1") and allowed.allows("http://10.0.0.5:8000/v1/extra")
    assert allowed.allows("https://llm.lan/v1") and allowed.allows("https://LLM.lan:443/api/v1")
    for url in (
        "http://10.0.0.5:8000/v10",
        "http://10.0.0.5:8001/v1",
        "https://10.0.0.5:8000/v1",
        "http://10.0.0.5:80/v1",
        "http://llm.lan/v1",
        "https://llm.lan.evil.example/v1",
        "https://llm.lan:8443/v1",
    ):
        assert not allowed.allows(url), url
    for bad in ("ftp://x", "http://user:key@host", "http://host/v1?key=1", "http://host/v1#m", "nonsense"):
        with pytest.raises(UserError, match="is not a server URL prefix"):
            RemoteAllowList([bad])


def test_link_local_addresses_are_used_only_when_given_themselves():
    from playground.backends.openai_compat import RemoteAllowList

    message = "link-local address, which this app uses only when --remote-url or --allow-remote gives that address"
    # the same metadata address spelled as one decimal number and in hex: names that resolve to 169.254.169.254
    for spelled in ("http://2852039166", "http://0xa9.0xfe.0xa9.0xfe"):
        with pytest.raises(UserError, match=message):
            RemoteAllowList([spelled]).check_address(f"{spelled}/latest/meta-data")
    RemoteAllowList(["http://169.254.169.254"]).check_address("http://169.254.169.254/v1")  # given itself
    RemoteAllowList(["http://[fe80::1]:8000"]).check_address("http://[fe80::1]:8000/v1")
    RemoteAllowList(["http://127.0.0.1:8000"]).check_address("http://127.0.0.1:8000/v1")  # not link-local


def test_a_url_nobody_allowed_is_refused_before_any_request(tmp_path, elsewhere):
    """In the registry: the same sentence whether a server listens there or the port is closed, and the server
    that listens sees nothing."""
    registry = fresh_registry(tmp_path)
    closed = f"http://127.0.0.1:{free_port()}"
    messages = []
    for base in (elsewhere.url, closed):
        started = time.perf_counter()
        with pytest.raises(UserError) as caught:
            registry.load("chat", f"{base}/v1#m")
        assert time.perf_counter() - started < CONNECT_SECONDS  # no connection was tried: one may take that long
        messages.append(str(caught.value).replace(base, "URL"))
    assert (
        messages[0]
        == messages[1]
        == (
            "The server at URL/v1 is not one this app may use: it only uses servers "
            "named with --remote-url or --allow-remote when it starts."
        )
    )
    assert elsewhere.seen == []


# ---------------------------------------------------------------- through the app: API and the page's button


def test_the_api_cannot_make_the_app_call_a_typed_address(client, elsewhere, tmp_path):
    import numpy as np
    import soundfile as sf
    from gradio_client import handle_file

    wav = tmp_path / "noise.wav"
    sf.write(wav, np.random.default_rng(0).normal(0, 0.1, 16000).astype(np.float32), 16000)
    closed = f"http://127.0.0.1:{free_port()}"
    for base in (elsewhere.url, closed):
        model = f"{base}/v1#m"
        texts = [
            error_of(lambda m=model: client.predict(message="hi", model=m, api_name="/chat")),
            error_of(
                lambda m=model: client.predict(prompt="a red circle", model=m, steps=2, api_name="/text_to_image")
            ),
            error_of(lambda m=model: client.predict(text="Hello.", model=m, api_name="/synthesize")),
            error_of(lambda m=model: client.predict(audio=handle_file(str(wav)), model=m, api_name="/transcribe")),
        ]
        assert {t.replace(base, "URL") for t in texts} == {
            "The server at URL/v1 is not one this app may use: it only uses servers named with --remote-url or "
            "--allow-remote when it starts."
        }, texts
    assert elsewhere.seen == []


def test_the_remote_section_button_cannot_call_a_typed_address(app, elsewhere):
    messages = []
    for base in (elsewhere.url, f"http://127.0.0.1:{free_port()}"):
        status, reply = ui_call(app, "chat-remote-use", [f"{base}/v1", "m", "", "sk-typed"], session="attacker")
        assert status == 200
        messages.append(reply["data"][2].replace(base, "URL"))  # the section's note: the model stays as it was
    assert (
        messages[0]
        == messages[1]
        == (
            "Not changed: The server at URL/v1 is not one this app may use: it only "
            "uses servers named with --remote-url or --allow-remote when it starts."
        )
    )
    assert elsewhere.seen == []


def test_allowed_servers_work_and_get_only_their_own_key(client, fake):
    fake.seen.clear()
    history, _, status = client.predict(message="hi", model=f"{fake.url}/v1#chatty", api_name="/chat")
    assert "hello there" in json.dumps(history) and "chatty" in status
    assert ("POST", "/v1/chat/completions", f"Bearer {SERVER_KEY}") in fake.seen
    with pytest.raises(Exception, match="answered 503"):  # allowed by --allow-remote: reached, without the key
        client.predict(message="hi", model=f"{fake.url}/json/v1#chatty", api_name="/chat")
    reached = [auth for _, path, auth in fake.seen if path.startswith("/json/")]
    assert reached and set(reached) == {None}


def test_a_servers_error_is_summarised_never_echoed(client, fake):
    text = error_of(lambda: client.predict(message="hi", model=f"{fake.url}/json/v1#chatty", api_name="/chat"))
    assert text.startswith(f"The server at {fake.url}/json/v1 answered 503: Overloaded ")
    assert "<" not in text and ">" not in text and text.count("tail-secret") <= 6
    page = error_of(lambda: client.predict(message="hi", model=f"{fake.url}/html/v1#chatty", api_name="/chat"))
    assert page == f"The server at {fake.url}/html/v1 answered 500 (Internal Server Error)."


def test_an_image_linked_on_another_server_is_not_fetched(client, fake, elsewhere):
    text = error_of(
        lambda: client.predict(
            prompt="a red circle", model=f"{fake.url}/img/v1#pic", steps=2, api_name="/text_to_image"
        )
    )
    assert "sent its image as a link to a server this app may not use" in text
    assert elsewhere.seen == []


# ---------------------------------------------------------------- keys typed in the page are per session


def last_key(fake) -> str | None:
    return [auth for method, path, auth in fake.seen if path == "/v1/chat/completions"][-1]


def test_a_key_typed_in_one_session_is_nobody_elses(app, fake):
    from gradio_client import Client

    a, b, anonymous = (Client(app, verbose=False) for _ in range(3))

    def chat(client):
        client.predict(message="hi", model=f"{fake.url}/v1#chatty", api_name="/chat")
        return last_key(fake)

    assert chat(anonymous) == f"Bearer {SERVER_KEY}"
    status, reply = ui_call(app, "chat-remote-use", [f"{fake.url}/v1", "chatty", "", KEY_A], a.session_hash)
    assert status == 200 and "with the API key" in json.dumps(reply)
    assert fake.seen[-1] == ("GET", "/v1/models", f"Bearer {KEY_A}")  # the check used A's key
    assert chat(a) == f"Bearer {KEY_A}"
    assert chat(anonymous) == f"Bearer {SERVER_KEY}"  # an API client never gets A's key
    ui_call(app, "chat-remote-use", [f"{fake.url}/v1", "chatty", "", KEY_B], b.session_hash)
    assert chat(b) == f"Bearer {KEY_B}" and chat(a) == f"Bearer {KEY_A}"  # B did not replace A's
    status, _ = ui_call(app, "chat-remote-forget", [f"{fake.url}/v1"], b.session_hash)
    assert status == 200
    assert chat(b) == f"Bearer {SERVER_KEY}" and chat(a) == f"Bearer {KEY_A}"  # B forgot only its own
    ui_call(app, "chat-remote-forget", [f"{fake.url}/v1"], a.session_hash)
    assert chat(a) == f"Bearer {SERVER_KEY}"


def test_key_ring_sessions_are_apart():
    from playground.backends.openai_compat import KeyRing

    who = ["a"]
    ring = KeyRing(session=lambda: who[0])
    ring.set("http://h:1/v1", "wide")
    ring.set_for_session("a", "http://h:1/v1", "mine")
    assert ring.get("http://h:1/v1") == "mine"
    who[0] = "b"
    assert ring.get("http://h:1/v1") == "wide"
    who[0] = None
    assert ring.get("http://h:1/v1") == "wide"
    ring.forget_session("a")
    who[0] = "a"
    assert ring.get("http://h:1/v1") == "wide" and "mine" not in repr(ring)


# ---------------------------------------------------------------- --remote-url repeatable


def test_remote_urls_are_repeatable_and_each_model_names_its_server(monkeypatch, capsys):
    from app import parse_args

    monkeypatch.delenv("PLAYGROUND_REMOTE_KEY", raising=False)
    monkeypatch.delenv("PLAYGROUND_REMOTE_KEY_FILE", raising=False)
    args = parse_args(
        [
            "--remote-url",
            "http://127.0.0.1:8080/v1",
            "--remote-url",
            "http://127.0.0.1:9000/v1",
            "--remote-model",
            "stt=http://127.0.0.1:9000/v1#whisper-1",
            "--remote-model",
            "http://127.0.0.1:9000/v1",
            "--allow-remote",
            "http://10.0.0.5:8000",
        ]
    )
    assert [(task, r.source) for task, r in args.remote_models] == [
        ("speech_to_text", "http://127.0.0.1:9000/v1#whisper-1"),
        ("chat", "http://127.0.0.1:9000/v1"),
        ("chat", "http://127.0.0.1:8080/v1"),
    ]
    assert args.allow_remote == ["http://10.0.0.5:8000"]
    for argv, message in (
        (["--remote-url", "http://a:1/v1", "--remote-url", "http://b:1/v1", "--remote-model", "m"], "name its server"),
        (["--remote-url", "http://a:1/v1", "--remote-model", "http://c:1/v1#m"], "not one of the --remote-url"),
        (["--allow-remote", "http://user:pw@host"], "not a server URL prefix"),
    ):
        with pytest.raises(SystemExit):
            parse_args(argv)
        assert message in capsys.readouterr().err, argv


# ---------------------------------------------------------------- model ids that are paths


def test_paths_outside_the_allowed_folders_are_refused_alike_and_at_once(tmp_path):
    registry = fresh_registry(tmp_path)
    inside = tmp_path / "data" / "models"
    inside.mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    (inside / "escape").symlink_to(tmp_path / "outside")  # a link in an allowed folder that leads out
    (tmp_path / "into").symlink_to(inside)  # a link outside that leads in: judged by how it is spelled
    sentence = (
        "The model path 'P' is not in a folder this app loads models from (its data folder, the bundled "
        "models, the Hugging Face cache, or a --model-dir)."
    )
    for path in (
        "/usr",
        "/etc/passwd",
        "/no/such/folder",
        str(inside / ".." / ".." / ".." / "outside"),
        str(inside / "escape"),
        str(tmp_path / "into"),
        "~/.ssh",
        "../../etc",
        "/usr/*",
    ):
        started = time.perf_counter()
        with pytest.raises(UserError) as caught:
            registry.get("captioning", path)
        assert time.perf_counter() - started < 2.0, path  # nothing is read; walking /usr took 13 s
        assert str(caught.value).replace(shown(path), "P") == sentence, path  # as quoted: markup made plain


def test_model_dirs_and_the_data_folder_are_allowed(tmp_path, tiny_blip):
    assert fresh_registry(tmp_path, model_dirs=[tiny_blip.parent]).load("captioning", str(tiny_blip)).loaded
    with pytest.raises(UserError, match="not in a folder this app loads models from"):
        fresh_registry(tmp_path).get("captioning", str(tiny_blip))
    with pytest.raises(UserError, match="No model file or folder exists"):  # inside: its absence may be told
        fresh_registry(tmp_path).get("captioning", str(tmp_path / "data" / "missing"))


def test_a_load_error_never_quotes_the_files(tmp_path):
    folder = tmp_path / "data" / "models" / "odd"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"model_type": "SECRET-VALUE-4711", "token": "hunter2"}))
    with pytest.raises(UserError) as caught:
        fresh_registry(tmp_path).load("captioning", str(folder))
    assert "could not be loaded" in str(caught.value)
    assert "SECRET-VALUE" not in str(caught.value) and "hunter2" not in str(caught.value)


def test_a_path_model_over_the_api_is_refused_alike_without_reading_it(client):
    texts = []
    for path in ("/usr", "/no/such/folder"):
        started = time.perf_counter()
        texts.append(
            error_of(lambda p=path: client.predict(message="hi", model=p, api_name="/chat")).replace(path, "P")
        )
        assert time.perf_counter() - started < 10, path  # walking /usr took 13 s and held up the next request
    assert texts[0] == texts[1] and "is not in a folder this app loads models from" in texts[0]
    wav, _, _, _ = client.predict(text="Next user.", api_name="/synthesize")
    assert wav.endswith(".wav")


def test_model_dir_must_be_a_folder(tmp_path):
    from app import parse_args

    with pytest.raises(SystemExit):
        parse_args(["--model-dir", str(tmp_path / "missing")])
    assert parse_args(["--model-dir", str(tmp_path)]).model_dir == [tmp_path.resolve()]


# ---------------------------------------------------------------- /login is throttled per address


@pytest.fixture(scope="module")
def login_app(data_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("login")
    with running_app(data_dir, folder / "app.log", "--auth", "alice:s3cret") as url:
        yield url


def login(url: str, password: str, source: str = "127.0.0.1") -> int:
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(transport=transport, timeout=10) as http:
        return http.post(f"{url}login", data={"username": "alice", "password": password}).status_code


def test_wrong_passwords_lock_the_address_out(login_app):
    assert login(login_app, "s3cret") == 200
    answers = [login(login_app, f"guess-{n}") for n in range(100)]
    assert answers[:5] == [400] * 5 and set(answers[5:]) == {429}  # only five were checked
    assert login(login_app, "s3cret") == 429  # even the right one waits: otherwise guessing goes on
    assert login(login_app, "s3cret", source="127.0.0.2") == 200  # another address is not held up


def test_the_lock_grows_and_ends():
    from playground.ui.login_throttle import LoginThrottle

    now = [0.0]
    throttle = LoginThrottle(None, max_failures=3, lock_seconds=10, max_lock_seconds=25, clock=lambda: now[0])
    for _ in range(2):
        throttle.failed("a")
    assert throttle.wait("a") == 0
    throttle.failed("a")
    assert throttle.wait("a") == 10 and throttle.wait("b") == 0
    now[0] = 10.0
    assert throttle.wait("a") == 0
    throttle.failed("a")
    assert throttle.wait("a") == 20  # doubled
    now[0] = 30.0
    throttle.failed("a")
    assert throttle.wait("a") == 25  # capped
    throttle.succeeded("a")
    assert throttle.wait("a") == 0


# ---------------------------------------------------------------- error toasts are text


def test_error_messages_are_escaped_for_the_toast():
    from playground.ui.controls import plain_error

    assert plain_error(UserError("No <img src=x> & co"), "t").message == "No &lt;img src=x&gt; &amp; co"
    import gradio as gr

    assert plain_error(gr.Error("<b>bold</b>", duration=3), "t").message == "&lt;b&gt;bold&lt;/b&gt;"


def next_toast(page, act) -> str:
    """Close the toasts shown, ``act()``, and return the text of the next error toast (its messages' HTML is
    checked for images on the way)."""
    for close in page.locator(".toast-close").all():
        close.click()
    page.wait_for_function("document.querySelectorAll('.toast-body').length === 0", timeout=10_000)
    act()
    toast = page.locator(".toast-body").first
    toast.wait_for(timeout=30_000)
    assert toast.locator("img, a").count() == 0
    return toast.inner_text()


def test_markup_in_a_model_id_or_a_servers_error_is_not_fetched_by_the_browser(app, fake, beacon, elsewhere, browser):
    page = open_app(browser, app)
    box = page.locator("#chat-model input")

    def send_with(model):
        def act():
            box.fill(model)
            box.press("Enter")
            page.locator("#chat-message textarea").fill("hi")
            page.locator("#chat-send").click()

        return act

    text = next_toast(page, send_with(f"<img src='{beacon.url}/from-model-id.png'>"))
    assert "img src=" in text and "is not in a folder this app loads models from" in text
    text = next_toast(page, send_with(f"{fake.url}/json/v1#chatty"))
    assert "answered 503: Overloaded" in text and "img src=" in text
    # the Remote server section refuses a server typed in the page, too, in its note
    page.locator("#chat-remote").get_by_text("Remote server (OpenAI-compatible)").click()
    page.locator("#chat-remote-url input, #chat-remote-url textarea").first.fill(f"{elsewhere.url}/v1")
    page.locator("#chat-remote-use").click()
    page.locator("#chat-remote-note").get_by_text("is not one this app may use").wait_for(timeout=30_000)
    page.wait_for_timeout(1000)  # time for any image a toast named to be fetched
    page.screenshot(path=str(ARTIFACTS / "remote-security-toast.png"), full_page=True)
    page.close()
    assert beacon.seen == [] and elsewhere.seen == []


def test_a_file_input_given_as_a_url_is_not_fetched_from_loopback(client, elsewhere):
    """A model id is not the only way to make the server send a request: Gradio downloads a file input given by
    URL itself, and its own guard (safehttpx) refuses private and link-local addresses."""
    from gradio_client import handle_file

    with pytest.raises(Exception):  # noqa: B017  (whatever Gradio raises, what counts is that no request went out)
        client.predict(image=handle_file(f"{elsewhere.url}/picture.png"), api_name="/caption")
    assert elsewhere.seen == []
