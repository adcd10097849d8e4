"""A quota on what each client uploads: Gradio caps each file (``max_file_size``), not a request or a client.

Without it, one request of two 150 MB files was stored whole, and nothing stopped the next. The quota wraps the
whole app as ASGI middleware and looks only at ``POST …/upload``. Each request says its size (Content-Length;
one that does not is refused), and is refused with a sentence when it, or the client's uploads in the last
``window`` seconds with it, would pass ``quota`` bytes. A client is its login under --auth, else its address
(behind a reverse proxy every client shares the proxy's). A refused or failed upload costs nothing.

The files themselves do not stay: Gradio's copy of an upload is only what the page holds until a run uses it
(a run keeps its own copy in the history's ``inputs/``), and ``CACHE_CLEANUP`` removes those copies.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from typing import Callable

from playground.memory import human

QUOTA_BYTES = 1024**3
WINDOW_SECONDS = 3600.0
CACHE_CLEANUP = (600, 3600)  # Blocks(delete_cache=...): every 10 minutes, Gradio's copies older than an hour go
MAX_CLIENTS = 10_000  # clients remembered at once; the oldest are forgotten first


class UploadQuota:
    """ASGI middleware: ``app`` wrapped so each client uploads at most ``quota`` bytes per ``window`` seconds."""

    def __init__(
        self, app, quota: int = QUOTA_BYTES, window: float = WINDOW_SECONDS, clock: Callable[[], float] = time.monotonic
    ):
        self.app = app
        self.quota = int(quota)
        self.window = window
        self.clock = clock
        self._taken: dict[str, deque] = {}  # client -> (time, bytes) of its uploads in the window
        self._lock = threading.Lock()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST" or not scope["path"].rstrip("/").endswith("/upload"):
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length", b"").decode("latin-1").strip()
        if not length.isdigit():
            return await refuse(send, 411, "An upload must state its size (a Content-Length header).")
        size, client = int(length), client_of(scope, headers)
        problem = self.take(client, size)
        if problem:
            return await refuse(send, 413, problem)
        status = []

        async def watched(message):
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, watched)
        finally:
            if not status or status[0] >= 400:  # nothing was stored: the client keeps its quota
                self.give_back(client, size)

    def take(self, client: str, size: int) -> str | None:
        """Count ``size`` bytes against ``client``; the sentence to refuse with when that would pass the quota."""
        if size > self.quota:
            return f"This upload is {human(size)}, over the {human(self.quota)} a client may upload per hour."
        now = self.clock()
        with self._lock:
            taken = self._taken.pop(client, deque())
            while taken and taken[0][0] <= now - self.window:
                taken.popleft()
            used = sum(n for _, n in taken)
            if used + size > self.quota:
                self._taken[client] = taken
                wait = max(1, round(taken[0][0] + self.window - now)) if taken else 1
                return (
                    f"You have uploaded {human(used)} in the last hour; with this {human(size)} it would pass "
                    f"the {human(self.quota)} quota: try again in {wait} s."
                )
            taken.append((now, size))
            self._taken[client] = taken  # re-inserted: the dict keeps the most recent last
            while len(self._taken) > MAX_CLIENTS:
                del self._taken[next(iter(self._taken))]
        return None

    def give_back(self, client: str, size: int) -> None:
        with self._lock:
            taken = self._taken.get(client)
            for i in range(len(taken or ()) - 1, -1, -1):
                if taken[i][1] == size:
                    del taken[i]
                    return


def client_of(scope, headers: dict) -> str:
    """The login that sent a request (from Gradio's session cookie), else its address."""
    app = scope.get("app")
    tokens, cookie_id = getattr(app, "tokens", None), getattr(app, "cookie_id", None)
    if tokens and cookie_id:
        from http.cookies import SimpleCookie

        cookies = SimpleCookie()
        try:
            cookies.load(headers.get(b"cookie", b"").decode("latin-1"))
        except Exception:  # a malformed cookie header: no login, so the address
            cookies = SimpleCookie()
        for name in (f"access-token-{cookie_id}", f"access-token-unsecure-{cookie_id}"):
            user = tokens.get(cookies[name].value) if name in cookies else None
            if user:
                return f"login:{user}"
    return "address:" + (scope.get("client") or ("unknown",))[0]


async def refuse(send, status: int, sentence: str) -> None:
    body = json.dumps({"detail": sentence}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def middleware(quota: int = QUOTA_BYTES) -> list:
    """The quota as the ``middleware`` list for ``launch(app_kwargs=...)``."""
    from starlette.middleware import Middleware

    return [Middleware(UploadQuota, quota=quota)]
