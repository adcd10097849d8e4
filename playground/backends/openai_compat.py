"""The client for OpenAI-compatible servers (vLLM, TGI, Ollama, llama.cpp's server, LocalAI), shared by the
remote backends in ``playground.backends.remote``.

A remote model is named ``<base URL>#<model name>``, like ``http://127.0.0.1:8080/v1#smollm2``. The API key is never
part of that name (names are shown, logged and kept in the history): keys live in a ``KeyRing`` in memory, one per
base URL, so a key is only ever sent to the server it was given for. Every failure becomes one plain sentence that
names the server, never the key.
"""

from __future__ import annotations

import json
import re
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator
from urllib.parse import unquote, urlsplit

from playground.errors import UserError

REMOTE_SCHEMES = ("http://", "https://")
DEFAULT_PATH = "/v1"  # where every OpenAI-compatible server listed above serves its API
KEY_VARIABLE = "PLAYGROUND_REMOTE_KEY"
KEY_FILE_VARIABLE = "PLAYGROUND_REMOTE_KEY_FILE"
CONNECT_SECONDS = 5.0
MESSAGE_CHARS = 200  # a server's own error message is shortened to this
UNKNOWN_MODEL = re.compile(r"(model\b.*\b(not found|does not exist|doesn't exist|not exist|unknown|no such|"
                           r"not available|not loaded|not supported))|((unknown|invalid|no such) model)", re.I | re.S)


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
        raise UserError(f"'{text}' is not a valid server URL; use one like http://127.0.0.1:8080/v1#model-name.") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise UserError(f"'{text}' is not a valid server URL; use one like http://127.0.0.1:8080/v1#model-name.")
    if parts.username is not None or parts.password is not None:
        raise UserError("A remote model id must not hold a login or key (user:key@host); give the key in the Remote "
                        f"server section or with {KEY_VARIABLE}.")
    if parts.query:
        raise UserError("A remote model id must not have a query (?…); give the base URL, then # and the model name, "
                        "like http://127.0.0.1:8080/v1#model-name.")
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    path = parts.path.rstrip("/") or DEFAULT_PATH
    model = unquote(parts.fragment).strip()
    if len(model) > 200 or any(c.isspace() or ord(c) < 32 for c in model):
        raise UserError(f"The remote model name '{model[:60]}' is not valid: it must be at most 200 characters, "
                        "without spaces.")
    netloc = host + (f":{port}" if port is not None else "")
    return RemoteId(f"{parts.scheme.lower()}://{netloc}{path}", model)


def remote_id(base_url: str, model: str) -> RemoteId:
    """The id for a base URL and a model name typed separately (the Remote server section, the command line)."""
    base_url = (base_url or "").strip()
    if not base_url:
        raise UserError("The server URL is empty; type one like http://127.0.0.1:8080/v1.")
    if not is_remote_id(base_url):
        raise UserError(f"The server URL '{base_url[:100]}' must start with http:// or https://.")
    if "#" in base_url:
        raise UserError("Give the server URL without #; the model name has its own box.")
    model = (model or "").strip()
    return parse_remote_id(f"{base_url}#{model}" if model else base_url)


class KeyRing:
    """API keys by server base URL, kept in memory only: never saved, never shown (not even by ``repr``)."""

    def __init__(self):
        self._keys: dict[str, str] = {}
        self._lock = threading.Lock()

    def set(self, base_url: str, key: str | None) -> None:
        """Use ``key`` for the server at ``base_url`` (an empty key forgets it)."""
        base_url = parse_remote_id(base_url).base_url
        key = (key or "").strip()
        if any(ord(c) < 32 or ord(c) > 126 for c in key):
            raise UserError("The API key holds characters that cannot be sent in a header (spaces inside it, "
                            "control or non-ASCII characters).")
        with self._lock:
            if key:
                self._keys[base_url] = key
            else:
                self._keys.pop(base_url, None)

    def get(self, base_url: str) -> str | None:
        with self._lock:
            return self._keys.get(base_url)

    def secrets(self) -> list[str]:
        """Every key held: what must be masked wherever a server's words are shown."""
        with self._lock:
            return list(self._keys.values())

    def __repr__(self) -> str:
        return f"KeyRing({len(self._keys)} servers)"


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
    """One server: its base URL, an HTTP connection pool, and the key looked up in the ring on every request."""

    def __init__(self, base_url: str, keys: KeyRing | None = None):
        import httpx

        self.base_url = base_url
        self.keys = keys or KeyRing()
        # trust_env stays on (proxies from the environment), except that loopback never goes through one
        self.http = httpx.Client(timeout=httpx.Timeout(60.0, connect=CONNECT_SECONDS), follow_redirects=False,
                                 mounts=_loopback_mounts(base_url))

    def close(self) -> None:
        self.http.close()

    def _headers(self) -> dict:
        key = self.keys.get(self.base_url)
        return {"Authorization": f"Bearer {key}"} if key else {}

    def request(self, method: str, path: str, *, model: str = "", read_seconds: float = 60.0, **kwargs):
        """One request; returns the ``httpx.Response`` of a 2xx answer, else raises ``UserError``."""
        import httpx

        try:
            response = self.http.request(method, self.base_url + path, headers=self._headers(),
                                         timeout=httpx.Timeout(read_seconds, connect=CONNECT_SECONDS), **kwargs)
        except httpx.HTTPError as exc:
            raise self.transport_error(exc, read_seconds) from None
        if response.status_code >= 400:
            raise self.status_error(response.status_code, response.content, path, model)
        return response

    @contextmanager
    def stream(self, path: str, body: dict, *, model: str = "", read_seconds: float = 120.0) -> Iterator[Iterator[dict]]:
        """POST ``body`` and yield an iterator over its server-sent events (as dicts); leaving the block closes
        the connection, which tells the server to stop."""
        import httpx

        try:
            with self.http.stream("POST", self.base_url + path, headers=self._headers(), json=body,
                                  timeout=httpx.Timeout(read_seconds, connect=CONNECT_SECONDS)) as response:
                if response.status_code >= 400:
                    raise self.status_error(response.status_code, response.read(), path, model)
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
                raise UserError(f"The server at {self.base_url} sent a reply that is not JSON: "
                                f"{self.mask(data)[:80]!r}.") from None
            if isinstance(event, dict) and event.get("error"):
                raise UserError(f"The server at {self.base_url} stopped with an error: "
                                f"{self.mask(_message(event))[:MESSAGE_CHARS]}.")
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

    def transport_error(self, exc, read_seconds: float) -> UserError:
        import httpx

        if isinstance(exc, httpx.ConnectTimeout):
            reason = f"no answer within {CONNECT_SECONDS:g} s"
        elif isinstance(exc, httpx.ReadTimeout):
            return UserError(f"The server at {self.base_url} stopped answering (nothing for {read_seconds:g} s); "
                             "it may be overloaded.")
        elif isinstance(exc, httpx.ConnectError):
            text = str(exc).lower()
            reason = ("connection refused" if "refused" in text else "unknown host" if "name" in text or
                      "resolution" in text else "cannot connect")
        elif isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError)):
            return UserError(f"The server at {self.base_url} closed the connection before it finished answering.")
        else:
            reason = type(exc).__name__
        return UserError(f"The server at {self.base_url} cannot be reached ({reason}); check that it is running and "
                         "that the URL is right.")

    def status_error(self, status: int, content: bytes, path: str, model: str) -> UserError:
        message = self.mask(_message_of(content)).strip()
        if status in (401, 403):
            if self.keys.get(self.base_url):
                text = (f"The server at {self.base_url} refused the API key ({status}); check the key in the Remote "
                        f"server section or {KEY_VARIABLE}.")
            else:
                text = (f"The server at {self.base_url} needs an API key ({status}); give it in the Remote server "
                        f"section or with {KEY_VARIABLE}.")
        elif status in (400, 404, 422) and model and (UNKNOWN_MODEL.search(message) or model in message):
            text = f"The server at {self.base_url} has no model '{model}'{self._offered()}."
        elif status in (404, 405):
            text = f"The server at {self.base_url} does not offer {path} ({status}): it cannot do this task."
        else:
            shown = message[:MESSAGE_CHARS] + ("…" if len(message) > MESSAGE_CHARS else "")
            text = f"The server at {self.base_url} answered {status}" + (f": {shown}" if shown else ".")
        error = UserError(text)
        error.status = status  # so callers can tell a missing route from other failures
        error.server_message = message
        return error

    def _offered(self) -> str:
        try:
            names = self.models()
        except UserError:
            return ""
        return f" (it offers: {', '.join(names[:10])})" if names else ""


def _message_of(content: bytes) -> str:
    """The human part of an error body: OpenAI's ``error.message``, FastAPI's ``detail``, or the text itself."""
    text = content.decode("utf-8", "replace")
    try:
        return _message(json.loads(text))
    except (ValueError, TypeError):
        return " ".join(text.split())


def _message(data) -> str:
    if isinstance(data, dict):
        for name in ("error", "detail", "message"):
            if name in data:
                return _message(data[name])
        return json.dumps(data)[:MESSAGE_CHARS]
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
