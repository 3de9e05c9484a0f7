"""Structured logs through the standard library, with a request id on every line.

What is never written, whatever fails: query strings (search parameters hold postcodes
and needs), headers (so no `Authorization`, `X-API-Key` or `Cookie`), request bodies, and
the local variables of a failing frame. Tracebacks are plain (file, line, function and
source), rendered once, in both console and JSON modes, and name each exception's type but
never its message: messages quote the values that failed. Other text in a log line is
scrubbed of anything shaped like an email, a postcode, a token, a key or a long number.
"""

import logging.config
import re
import sys
import time
import traceback
import uuid
from typing import Any, TextIO

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.config import Settings
from app.core.http import send_problem

_SCRUB = [
    (re.compile(r"(?i)\b(bearer|basic)\s+[\w.~+/=-]+"), r"\1 [redacted]"),
    (re.compile(r"\bsp_[\w-]+"), "[api-key]"),
    (re.compile(r"\beyJ[\w-]+\.[\w-]+\.[\w-]*"), "[token]"),
    (re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+"), "[email]"),
    (re.compile(r"(?i)\b[A-Z]{1,2}[0-9][A-Z0-9]?\s*[0-9][A-Z]{2}\b"), "[postcode]"),
    (
        re.compile(r"(?i)(password|passwd|secret|token|api[_-]?key|cookie)(\W{1,3})\S+"),
        r"\1\2[redacted]",
    ),
    (re.compile(r"\+?\d(?:[ -]?\d){9,}"), "[number]"),
    (re.compile(r"\[parameters: .*?\]", re.S), "[parameters hidden]"),
]
MAX_TRACEBACK_CHARS = 20_000
# Values we write ourselves and know to be safe (tracebacks carry no messages).
_OURS = frozenset({"timestamp", "level", "logger", "request_id", "method", "path", "exception"})


def scrub(text: str) -> str:
    """``text`` with anything that may be personal or secret replaced by a placeholder."""
    for pattern, replacement in _SCRUB:
        text = pattern.sub(replacement, text)
    return text


def format_exception(exc_info: Any) -> str:
    """A plain traceback of the exception and its causes: files, lines, functions and
    source, never local variables, and never exception messages, which quote whatever
    value failed (a database error quotes the row, a validation error the input)."""
    if exc_info is True:
        exc_info = sys.exc_info()
    error = exc_info if isinstance(exc_info, BaseException) else exc_info[1]
    chain: list[BaseException] = []
    while error is not None and error not in chain:
        chain.append(error)
        error = error.__cause__ or (None if error.__suppress_context__ else error.__context__)
    lines: list[str] = []
    for error in reversed(chain):
        if lines:
            lines.append("\nwhich led to:\n\n")
        lines.append("Traceback (most recent call last):\n")
        lines.extend(traceback.format_list(traceback.extract_tb(error.__traceback__, limit=40)))
        kind = type(error)
        lines.append(f"{kind.__module__}.{kind.__qualname__}: (message withheld)\n")
    text = "".join(lines)
    if len(text) > MAX_TRACEBACK_CHARS:
        text = text[: MAX_TRACEBACK_CHARS // 2] + "\n…\n" + text[-MAX_TRACEBACK_CHARS // 2 :]
    return text


def _exceptions_and_scrubbing(_logger: Any, _name: str, event_dict: dict) -> dict:
    exc_info = event_dict.pop("exc_info", None)
    if exc_info:
        event_dict["exception"] = format_exception(exc_info)
    for key, value in event_dict.items():
        if isinstance(value, str) and key not in _OURS:
            event_dict[key] = scrub(value)
    return event_dict


def configure_logging(settings: Settings, stream: TextIO | None = None) -> None:
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer = (
        structlog.processors.JSONRenderer()
        if settings.log_json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    handler: dict[str, Any] = {"class": "logging.StreamHandler", "formatter": "structlog"}
    if stream is not None:
        handler["stream"] = stream
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {
                "structlog": {
                    "()": structlog.stdlib.ProcessorFormatter,
                    "processors": [
                        structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                        _exceptions_and_scrubbing,
                        renderer,
                    ],
                    "foreign_pre_chain": shared,
                }
            },
            "handlers": {"default": handler},
            "root": {"handlers": ["default"], "level": settings.log_level},
            "loggers": {
                "uvicorn.access": {"handlers": [], "propagate": False},
                "uvicorn.error": {"level": settings.log_level},
                "alembic": {"level": "WARNING"},
                "httpx": {"level": "WARNING"},
            },
        }
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_INTERNAL_ERROR = (
    b'{"type":"https://signpost.example/problems/internal-server-error",'
    b'"title":"Internal Server Error","status":500,'
    b'"detail":"An unexpected error occurred; it has been logged."}'
)


class RequestLogMiddleware:
    """Bind a request id (from ``X-Request-ID`` or new), echo it back, log one line; and be
    the one place an unexpected error is logged and answered (500 problem+json), so it is
    logged once and never re-raised to the server, which would log it again."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.log = structlog.get_logger("signpost.request")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                message.setdefault("headers", []).append(
                    (b"x-request-id", request_id.encode("latin-1"))
                )
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            status = 500
            self.log.error("unhandled_error", path=scope["path"], exc_info=True)
            if not response_started:
                await send_problem(
                    send_with_id, 500, _INTERNAL_ERROR, (b"cache-control", b"no-store")
                )
        finally:
            self.log.info(
                "request",
                method=scope["method"],
                path=scope["path"],
                status=status,
                ms=round((time.perf_counter() - started) * 1000, 1),
            )
