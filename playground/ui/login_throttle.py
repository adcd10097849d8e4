"""A per-address throttle on Gradio's ``/login``: after a few wrong passwords an address waits before its next try.

Gradio checks a login as fast as it is asked to (100 wrong passwords took 1.7 s), so without this a password can be
guessed at that rate. The throttle wraps the whole app as ASGI middleware and looks only at ``POST /login``: it
counts the wrong answers (Gradio's 400) per client address, and once ``max_failures`` came in a row that address is
answered 429 without its password being checked, for ``lock_seconds``, doubled with each further failure up to
``max_lock_seconds``. A right password clears the count. Behind a reverse proxy every client shares the proxy's
address, so there a proxy's own limit is the better place.
"""

from __future__ import annotations

import json
import math
import threading
import time
from typing import Callable

MAX_FAILURES = 5
LOCK_SECONDS = 30.0
MAX_LOCK_SECONDS = 15 * 60.0
MAX_ADDRESSES = 10_000  # addresses remembered at once; the oldest are forgotten first


class LoginThrottle:
    """ASGI middleware: ``app`` wrapped so each client address gets ``max_failures`` wrong logins, then waits."""

    def __init__(
        self,
        app,
        max_failures: int = MAX_FAILURES,
        lock_seconds: float = LOCK_SECONDS,
        max_lock_seconds: float = MAX_LOCK_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.app = app
        self.max_failures = max_failures
        self.lock_seconds = lock_seconds
        self.max_lock_seconds = max_lock_seconds
        self.clock = clock
        self._failures: dict[str, tuple[int, float]] = {}  # address -> (wrong logins in a row, locked until)
        self._lock = threading.Lock()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST" or not scope["path"].rstrip("/").endswith("/login"):
            return await self.app(scope, receive, send)
        address = (scope.get("client") or ("unknown",))[0]
        wait = self.wait(address)
        if wait > 0:
            return await refuse(send, wait)
        status = []

        async def watched(message):
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        await self.app(scope, receive, watched)
        if status and status[0] == 400:  # Gradio's "Incorrect credentials."
            self.failed(address)
        elif status and status[0] < 400:
            self.succeeded(address)

    def wait(self, address: str) -> float:
        """Seconds ``address`` must still wait before its next login is checked (0: it may try now)."""
        with self._lock:
            _, until = self._failures.get(address, (0, 0.0))
        return max(0.0, until - self.clock())

    def failed(self, address: str) -> None:
        with self._lock:
            count, until = self._failures.pop(address, (0, 0.0))
            count += 1
            if count >= self.max_failures:
                until = self.clock() + min(
                    self.max_lock_seconds, self.lock_seconds * 2 ** min(count - self.max_failures, 32)
                )
            self._failures[address] = (count, until)  # re-inserted: the dict keeps the most recent last
            while len(self._failures) > MAX_ADDRESSES:
                del self._failures[next(iter(self._failures))]

    def succeeded(self, address: str) -> None:
        with self._lock:
            self._failures.pop(address, None)


async def refuse(send, wait: float) -> None:
    seconds = math.ceil(wait)
    body = json.dumps({"detail": f"Too many wrong logins from this address; try again in {seconds} s."}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 429,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(seconds).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def middleware() -> list:
    """The throttle as the ``middleware`` list for ``launch(app_kwargs=...)``."""
    from starlette.middleware import Middleware

    return [Middleware(LoginThrottle)]
