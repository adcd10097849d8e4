"""The client for OpenAI-compatible servers (vLLM, TGI, Ollama, llama.cpp's server, LocalAI), shared by the
remote backends in ``playground.models.remote``.

A remote model is named ``<base URL>#<model name>``, like ``http://127.0.0.1:8080/v1#smollm2``. The API key is never
part of that name (names are shown, logged and kept in the history): keys live in a ``KeyRing`` in memory, one per
base URL, so a key is only ever sent to the server it was given for. Every failure becomes one plain sentence that
names the server, never the key, and summarises what the server said instead of repeating it.

Requests go only to the servers a ``RemoteAllowList`` names (``--remote-url`` and ``--allow-remote``): anyone who
can reach the app can type a URL, and the app must not become their way into the machine's network.
"""

from __future__ import annotations

import ipaddress
import json
import re
import socket
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from http import HTTPStatus
from typing import Callable, Iterable, Iterator
from urllib.parse import unquote, urlsplit

from playground.errors import UserError, shown

REMOTE_SCHEMES = ("http://", "https://")
DEFAULT_PATH = "/v1"  # where every OpenAI-compatible server listed above serves its API
KEY_VARIABLE = "PLAYGROUND_REMOTE_KEY"
KEY_FILE_VARIABLE = "PLAYGROUND_REMOTE_KEY_FILE"
CONNECT_SECONDS = 5.0
REASON_CHARS = 80  # what is shown of a server's own error message: enough to say why, too little to carry a page
URL_HOST = re.compile(r"[\w.:%-]+")  # names, IPv4 and (unbracketed) IPv6 addresses
URL_PATH = re.compile(r"[\w.~:/@+=%-]*")  # shown in the page, so no markup
MODEL_NAME = re.compile(r"[\w.:/@+=~-]{0,200}")  # names servers use (llama3.2:1b, org/model, tts-1@alloy): no markup
# link-local addresses (cloud metadata services live there) are used only when a flag gives the address itself
LINK_LOCAL = (ipaddress.ip_network("169.254.0.0/16"), ipaddress.ip_network("fe80::/10"))
UNKNOWN_MODEL = re.compile(
    r"(model\b.*\b(not found|does not exist|doesn't exist|not exist|unknown|no such|"
    r"not available|not loaded|not supported))|((unknown|invalid|no such) model)",
    re.I | re.S,
)


def is_remote_id(text: str) -> bool:
    """Whether a model id names a model on a server (it starts with http:// or https://)."""
    return isinstance(text, str) and text.strip().lower().startswith(REMOTE_SCHEMES)


@dataclass(frozen=True)
class RemoteId:
    """A remote model id, checked: the server's base URL (no trailing slash) and the model name (may be empty)."""

    base_url: str
    model: str

    @property
    def source(self) -> str:
        """The canonical id: ``base_url#model``."""
        return f"{self.base_url}#{self.model}" if self.model else self.base_url


def parse_remote_id(text: str) -> RemoteId:
    """Check ``<base URL>#<model name>``; a URL without a path gets ``/v1``.

    Errors never repeat a URL that holds a login or a query, since those may carry a key.
    """
    text = (text or "").strip()
    try:
        parts = urlsplit(text)
        port = parts.port  # raises ValueError for a port that is not a number or out of range
    except ValueError:
        raise UserError(
            f"'{shown(text)}' is not a valid server URL; use one like http://127.0.0.1:8080/v1#model-name."
        ) from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise UserError(f"'{shown(text)}' is not a valid server URL; use one like http://127.0.0.1:8080/v1#model-name.")
    if parts.username is not None or parts.password is not None:
        raise UserError(
            "A remote model id must not hold a login or key (user:key@host); give the key in the Remote "
            f"server section or with {KEY_VARIABLE}."
        )
    if parts.query:
        raise UserError(
            "A remote model id must not have a query (?…); give the base URL, then # and the model name, "
            "like http://127.0.0.1:8080/v1#model-name."
        )
    if not URL_HOST.fullmatch(parts.hostname) or not URL_PATH.fullmatch(parts.path):
        raise UserError(
            f"'{shown(text)}' is not a valid server URL: its host or path holds characters a server URL does not need."
        )
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    path = parts.path.rstrip("/") or DEFAULT_PATH
    model = unquote(parts.fragment).strip()
    if not MODEL_NAME.fullmatch(model):
        raise UserError(
            f"The remote model name '{shown(model, 60)}' is not valid: it must be at most 200 characters, "
            "without spaces, of letters, digits and . _ - : / @ + = ~."
        )
    netloc = host + (f":{port}" if port is not None else "")
    return RemoteId(f"{parts.scheme.lower()}://{netloc}{path}", model)


def remote_id(base_url: str, model: str) -> RemoteId:
    """The id for a base URL and a model name typed separately (the Remote server section, the command line)."""
    base_url = (base_url or "").strip()
    if not base_url:
        raise UserError("The server URL is empty; type one like http://127.0.0.1:8080/v1.")
    if not is_remote_id(base_url):
        raise UserError(f"The server URL '{shown(base_url)}' must start with http:// or https://.")
    if "#" in base_url:
        raise UserError("Give the server URL without #; the model name has its own box.")
    model = (model or "").strip()
    return parse_remote_id(f"{base_url}#{model}" if model else base_url)


class KeyRing:
    """API keys by server base URL, kept in memory only: never saved, never shown (not even by ``repr``).

    A server-wide key (``--remote-key``, the environment) serves every caller. A key typed in the page belongs to
    one browser session: ``session()`` names the session the current request comes from (the UI sets it; None
    outside a request), and a session's own key for a server is used instead of the server-wide one. No session
    can see, replace or forget another's.
    """

    def __init__(self, session: Callable[[], str | None] = lambda: None):
        self.session = session
        self._keys: dict[str, str] = {}
        self._session_keys: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()

    def set(self, base_url: str, key: str | None) -> None:
        """Use ``key`` for every caller of the server at ``base_url`` (an empty key forgets it)."""
        self._store(self._keys, parse_remote_id(base_url).base_url, key)

    def set_for_session(self, session: str, base_url: str, key: str | None) -> None:
        """Use ``key`` for ``session``'s requests to the server at ``base_url`` (an empty key forgets it)."""
        if not session:
            raise UserError("A key typed in the page needs a browser session; reload the page.")
        self._store(self._session_keys, (session, parse_remote_id(base_url).base_url), key)

    def forget_session(self, session: str) -> None:
        """Drop every key ``session`` typed (its page was closed)."""
        with self._lock:
            for name in [n for n in self._session_keys if n[0] == session]:
                del self._session_keys[name]

    def _store(self, keys: dict, name, key: str | None) -> None:
        key = (key or "").strip()
        if any(ord(c) < 32 or ord(c) > 126 for c in key):
            raise UserError(
                "The API key holds characters that cannot be sent in a header (spaces inside it, "
                "control or non-ASCII characters)."
            )
        with self._lock:
            if key:
                keys[name] = key
            else:
                keys.pop(name, None)

    def get(self, base_url: str) -> str | None:
        """The key for a request to ``base_url`` now: the current session's own, else the server-wide one."""
        session = self.session()
        with self._lock:
            own = self._session_keys.get((session, base_url)) if session else None
            return own or self._keys.get(base_url)

    def secrets(self) -> list[str]:
        """Every key held: what must be masked wherever a server's words are shown."""
        with self._lock:
            return [*self._keys.values(), *self._session_keys.values()]

    def __repr__(self) -> str:
        return f"KeyRing({len(self._keys)} servers, {len(self._session_keys)} session keys)"


@dataclass(frozen=True)
class ServerPrefix:
    """One entry of the allow-list: a scheme, host and port, and a path the server's base URL must start with
    (empty: any path on that host and port)."""

    scheme: str
    host: str  # lower case; IPv6 without brackets
    port: int
    path: str  # "" or "/v1"-like, without a trailing slash

    def matches(self, scheme: str, host: str, port: int, path: str) -> bool:
        return (scheme, host, port) == (self.scheme, self.host, self.port) and (
            not self.path or path == self.path or path.startswith(self.path + "/")
        )

    @property
    def names_link_local(self) -> bool:
        """Whether the flag gave a link-local address itself (the only way such an address is used)."""
        return _is_link_local(self.host)

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}{self.path}"


def _url_parts(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path) of an http(s) URL, the port filled in from the scheme."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or (443 if scheme == "https" else 80)
    return scheme, (parts.hostname or "").lower(), port, parts.path.rstrip("/")


def parse_prefix(text: str, flag: str = "--allow-remote") -> ServerPrefix:
    """Check a server URL prefix given on the command line, like http://10.0.0.5:8000 or https://llm.lan/v1."""
    text = (text or "").strip()
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number or out of range
    except ValueError:
        parts = None
    if (
        parts is None
        or parts.scheme.lower() not in ("http", "https")
        or not parts.hostname
        or parts.username is not None
        or parts.query
        or parts.fragment
    ):
        raise UserError(
            f"{flag} {shown(text)} is not a server URL prefix like http://10.0.0.5:8000/v1 (no login, query or #model)."
        )
    return ServerPrefix(*_url_parts(text))


class RemoteAllowList:
    """The servers this app may send requests to: those named with ``--remote-url`` or ``--allow-remote`` when it
    started, nothing else. A URL typed in the page or the API is refused before any connection is tried, with the
    same sentence whether anything listens there or not."""

    def __init__(self, prefixes: Iterable[str] = ()):
        self._prefixes: list[ServerPrefix] = []
        self._lock = threading.Lock()
        for prefix in prefixes:
            self.add(prefix)

    def add(self, prefix: str) -> None:
        """Allow the servers under ``prefix`` (a server URL or a prefix of one)."""
        entry = parse_prefix(prefix)
        with self._lock:
            if entry not in self._prefixes:
                self._prefixes.append(entry)

    @property
    def prefixes(self) -> list[ServerPrefix]:
        with self._lock:
            return list(self._prefixes)

    def _matching(self, url: str) -> list[ServerPrefix]:
        parts = _url_parts(url)
        return [p for p in self.prefixes if p.matches(*parts)]

    def allows(self, base_url: str) -> bool:
        return bool(self._matching(base_url))

    def check(self, base_url: str) -> None:
        """Raise unless ``base_url`` is under an allowed prefix; nothing is sent anywhere to decide."""
        if not self._matching(base_url):
            raise UserError(
                f"The server at {shown(base_url)} is not one this app may use: it only uses servers "
                "named with --remote-url or --allow-remote when it starts."
            )

    def check_address(self, url: str) -> None:
        """Raise if ``url`` is not allowed, or if its host is or resolves to a link-local address that no flag
        gave itself (a name that points at a cloud metadata service is refused)."""
        self.check(url)
        if any(p.names_link_local for p in self._matching(url)):
            return
        scheme, host, port, _ = _url_parts(url)
        if _is_link_local(host) or any(_is_link_local(a) for a in _addresses(host, port)):
            raise UserError(
                f"The server at {shown(url)} is at a link-local address, which this app uses only when "
                "--remote-url or --allow-remote gives that address itself."
            )

    def __len__(self) -> int:
        return len(self.prefixes)


def _is_link_local(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:169.254.169.254 reaches the IPv4 address
    return any(
        (mapped or address) in network for network in LINK_LOCAL if (mapped or address).version == network.version
    )


def _addresses(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to (none when it does not: the request then fails as unreachable)."""
    try:
        return [info[4][0] for info in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)]
    except (OSError, UnicodeError):
        return []


def read_key_file(path: str) -> str:
    """The key in a file (its first non-empty line); the error names the file, never its content."""
    from pathlib import Path

    try:
        lines = [line.strip() for line in Path(path).expanduser().read_text().splitlines()]
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "not readable text"
        raise UserError(f"{KEY_FILE_VARIABLE} names {path}, which cannot be read ({reason}).") from None
    key = next((line for line in lines if line), "")
    if not key:
        raise UserError(f"{KEY_FILE_VARIABLE} names {path}, which is empty.")
    return key


class OpenAICompatibleServer:
    """One server: its base URL, an HTTP connection pool, and the key looked up in the ring on every request.

    ``allowed`` is checked when the server is made and again before every request (a name's address can change).
    """

    def __init__(self, base_url: str, keys: KeyRing | None = None, *, allowed: RemoteAllowList):
        import httpx

        allowed.check(base_url)
        self.base_url = base_url
        self.keys = keys or KeyRing()
        self.allowed = allowed
        # trust_env stays on (proxies from the environment), except that loopback never goes through one
        self.http = httpx.Client(
            timeout=httpx.Timeout(60.0, connect=CONNECT_SECONDS),
            follow_redirects=False,
            mounts=_loopback_mounts(base_url),
        )

    def close(self) -> None:
        self.http.close()

    def _headers(self) -> dict:
        self.allowed.check_address(self.base_url)
        key = self.keys.get(self.base_url)
        return {"Authorization": f"Bearer {key}"} if key else {}

    def request(self, method: str, path: str, *, model: str = "", read_seconds: float = 60.0, **kwargs):
        """One request; returns the ``httpx.Response`` of a 2xx answer, else raises ``UserError``."""
        import httpx

        headers = self._headers()
        try:
            response = self.http.request(
                method,
                self.base_url + path,
                headers=headers,
                timeout=httpx.Timeout(read_seconds, connect=CONNECT_SECONDS),
                **kwargs,
            )
        except httpx.HTTPError as exc:
            raise self.transport_error(exc, read_seconds) from None
        if response.status_code >= 400:
            raise self.status_error(response.status_code, response.content, path, model, bool(headers))
        return response

    @contextmanager
    def stream(
        self, path: str, body: dict, *, model: str = "", read_seconds: float = 120.0
    ) -> Iterator[Iterator[dict]]:
        """POST ``body`` and yield an iterator over its server-sent events (as dicts); leaving the block closes
        the connection, which tells the server to stop."""
        import httpx

        headers = self._headers()
        try:
            with self.http.stream(
                "POST",
                self.base_url + path,
                headers=headers,
                json=body,
                timeout=httpx.Timeout(read_seconds, connect=CONNECT_SECONDS),
            ) as response:
                if response.status_code >= 400:
                    raise self.status_error(response.status_code, response.read(), path, model, bool(headers))
                yield self._events(response)
        except httpx.HTTPError as exc:
            raise self.transport_error(exc, read_seconds) from None

    def _events(self, response) -> Iterator[dict]:
        for line in response.iter_lines():
            if not line.startswith("data:"):
                continue  # comments, event names, keep-alives
            data = line[5:].strip()
            if data == "[DONE]":
                return
            try:
                event = json.loads(data)
            except json.JSONDecodeError:
                raise UserError(f"The server at {self.base_url} sent a reply that is not JSON.") from None
            if isinstance(event, dict) and event.get("error"):
                raise UserError(f"The server at {self.base_url} stopped with an error{self.reason(_message(event))}.")
            yield event

    def models(self) -> list[str] | None:
        """The model names the server lists, or None when it has no ``/models`` route."""
        try:
            response = self.request("GET", "/models", read_seconds=15.0)
        except UserError as exc:
            if getattr(exc, "status", None) in (404, 405):
                return None
            raise
        try:
            return [str(m["id"]) for m in response.json().get("data", []) if isinstance(m, dict) and "id" in m]
        except (ValueError, AttributeError):
            return None

    # ---------------------------------------------------------------- errors as one sentence

    def mask(self, text: str) -> str:
        """``text`` with every key this app holds replaced by ``…``: servers sometimes echo the key they refused."""
        for key in self.keys.secrets():
            text = text.replace(key, "…")
        return text

    def reason(self, message: str) -> str:
        """``: <reason>`` from a server's error message: its first line, short, keys masked, no markup; empty when
        there is none. What a server says is summarised, never repeated whole."""
        text = shown(self.mask(message).strip().splitlines()[0] if message.strip() else "", REASON_CHARS)
        return f": {text}" if text else ""

    def transport_error(self, exc, read_seconds: float) -> UserError:
        import httpx

        if isinstance(exc, httpx.ConnectTimeout):
            reason = f"no answer within {CONNECT_SECONDS:g} s"
        elif isinstance(exc, httpx.ReadTimeout):
            return UserError(
                f"The server at {self.base_url} stopped answering (nothing for {read_seconds:g} s); "
                "it may be overloaded."
            )
        elif isinstance(exc, httpx.ConnectError):
            text = str(exc).lower()
            reason = (
                "connection refused"
                if "refused" in text
                else "unknown host"
                if "name" in text or "resolution" in text
                else "cannot connect"
            )
        elif isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError)):
            return UserError(f"The server at {self.base_url} closed the connection before it finished answering.")
        else:
            reason = type(exc).__name__
        return UserError(
            f"The server at {self.base_url} cannot be reached ({reason}); check that it is running and "
            "that the URL is right."
        )

    def status_error(self, status: int, content: bytes, path: str, model: str, sent_key: bool = False) -> UserError:
        """One sentence for an error answer: the status and a short reason from a JSON error message; a body that
        is not an OpenAI-style JSON error (a web page, a traceback) is never shown."""
        message = _json_message(content)
        if status in (401, 403):
            if sent_key:
                text = (
                    f"The server at {self.base_url} refused the API key ({status}); check the key in the Remote "
                    f"server section or {KEY_VARIABLE}."
                )
            else:
                text = (
                    f"The server at {self.base_url} needs an API key ({status}); give it in the Remote server "
                    f"section or with {KEY_VARIABLE}."
                )
        elif status in (400, 404, 422) and model and (UNKNOWN_MODEL.search(message) or model in message):
            text = f"The server at {self.base_url} has no model '{model}'{self._offered()}."
        elif status in (404, 405):
            text = f"The server at {self.base_url} does not offer {path} ({status}): it cannot do this task."
        else:
            reason = self.reason(message) or f" ({_phrase(status)})"
            text = f"The server at {self.base_url} answered {status}{reason}" + ("" if reason.endswith("…") else ".")
        error = UserError(text)
        error.status = status  # so callers can tell a missing route from other failures
        return error

    def _offered(self) -> str:
        try:
            names = self.models()
        except UserError:
            return ""
        names = listed(names or [])
        return f" (it offers: {', '.join(names)})" if names else ""


def listed(names: list[str], limit: int = 10) -> list[str]:
    """The first ``limit`` of a server's model names that are valid names (a server's list is shown in the page)."""
    return [n for n in names if MODEL_NAME.fullmatch(n)][:limit]


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "an unknown status"


def _json_message(content: bytes) -> str:
    """The human part of a JSON error body (OpenAI's ``error.message``, FastAPI's ``detail``); empty otherwise."""
    try:
        data = json.loads(content.decode("utf-8", "replace"))
    except (ValueError, TypeError):
        return ""
    return _message(data) if isinstance(data, (dict, list)) else ""


def _message(data) -> str:
    if isinstance(data, dict):
        for name in ("error", "detail", "message", "msg"):
            if name in data:
                return _message(data[name])
        return ""
    if isinstance(data, list):
        return "; ".join(_message(item) for item in data[:3])
    text = str(data)
    return " ".join(text.split("\n  File ")[0].split())  # some servers append a traceback: the first line says it


def _loopback_mounts(base_url: str) -> dict:
    """No proxy for a server on this machine (a corporate HTTP_PROXY would otherwise swallow 127.0.0.1)."""
    import httpx

    host = urlsplit(base_url).hostname or ""
    if host in ("127.0.0.1", "localhost", "::1") or host.startswith("127."):
        return {f"{urlsplit(base_url).scheme}://{host if ':' not in host else f'[{host}]'}": httpx.HTTPTransport()}
    return {}
