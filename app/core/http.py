"""Headers every answer carries, and the largest body the API reads."""

import threading

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_ALWAYS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]
_NO_STORE = (b"cache-control", b"no-store")
_CREDENTIALS = (b"authorization", b"x-api-key", b"cookie")
_PROBLEM_413 = (
    b'{"type":"https://signpost.example/problems/content-too-large",'
    b'"title":"Content Too Large","status":413,"detail":"%s"}'
)


class SecurityHeadersMiddleware:
    """``nosniff``, ``no-referrer`` and ``DENY`` framing on every answer; ``no-store`` on
    every answer to a caller who sent credentials (anything they see may be personal or
    unpublished) unless the route chose its own caching."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        authenticated = any(name in _CREDENTIALS for name, _ in scope["headers"])

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.setdefault("headers", [])
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in _ALWAYS if h[0] not in present)
                if authenticated and b"cache-control" not in present:
                    headers.append(_NO_STORE)
            await send(message)

        await self.app(scope, receive, send_with_headers)


class OpenAccessMiddleware:
    """``Access-Control-Allow-Origin: *`` on every answer under ``prefix`` (errors too), so
    any web page may read an open feed, whatever origins the rest of the API allows."""

    def __init__(self, app: ASGIApp, prefix: str) -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not (path == self.prefix or path.startswith(self.prefix + "/")):
            await self.app(scope, receive, send)
            return

        async def send_open(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if name.lower() != b"access-control-allow-origin"
                ]
                headers.append((b"access-control-allow-origin", b"*"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_open)


class BodyLimitMiddleware:
    """413 for a body over ``max_bytes``, by ``Content-Length`` or while it streams in, so
    nobody can make the API parse megabytes of JSON."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length", b"")
        if length.isdigit() and int(length) > self.max_bytes:
            await self._refuse(send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # An HTTPException, so FastAPI's body parsing lets it through to our
                    # problem+json handler instead of calling it a parse error.
                    raise HTTPException(413, self._detail())
            return message

        await self.app(scope, counted, send)

    def _detail(self) -> str:
        return f"The request body is larger than this API accepts ({self.max_bytes} bytes)"

    async def _refuse(self, send: Send) -> None:
        body = _PROBLEM_413 % self._detail().encode()
        await send_problem(send, 413, body, (b"connection", b"close"))


async def send_problem(send: Send, status: int, body: bytes, *headers: tuple[bytes, bytes]):
    """Answer with a ready-made problem+json body, below the framework (middleware that
    must answer before or after FastAPI's own handlers)."""
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


OVERLOADED = (
    b'{"type":"https://signpost.example/problems/service-unavailable",'
    b'"title":"Service Unavailable","status":503,'
    b'"detail":"Too many requests in progress on this server; retry shortly."}'
)
# Probes must answer whatever the load: a load balancer asks them exactly when it is high.
UNLIMITED_PATHS = frozenset({"/healthz", "/readyz"})


class InFlightLimitMiddleware:
    """At most ``limit`` requests in progress in this worker; the next one is answered 503
    with Retry-After at once instead of queueing without end (for threads, then for a
    database connection). With the limit at the pool size, every request in progress can
    hold a connection, so none waits for one another request holds."""

    def __init__(self, app: ASGIApp, limit: int, retry_after: int) -> None:
        self.app = app
        self.limit = limit
        self.retry_after = str(retry_after).encode()
        self.in_flight = 0
        self.lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNLIMITED_PATHS:
            await self.app(scope, receive, send)
            return
        with self.lock:  # uncontended in a worker (one event loop); tests run several
            admitted = self.in_flight < self.limit
            self.in_flight += admitted
        if not admitted:
            await send_problem(send, 503, OVERLOADED, (b"retry-after", self.retry_after))
            return
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                with self.lock:
                    self.in_flight -= 1

        async def send_and_release(message: Message) -> None:
            await send(message)
            # The answer has gone: what runs after it (a background task such as the
            # search log) no longer counts against the client-facing limit.
            if message["type"] == "http.response.body" and not message.get("more_body"):
                release()

        try:
            await self.app(scope, receive, send_and_release)
        finally:
            release()
