"""One error shape everywhere: RFC 9457 ``application/problem+json``.

Domain code raises :class:`Problem` subclasses; the handlers here turn those, FastAPI's
validation errors, Starlette's HTTP errors and anything unexpected into one body.
"""

import re
from http import HTTPStatus
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.core.config import get_settings

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://signpost.example/problems/"

log = structlog.get_logger(__name__)
# A body with thousands of bad fields gets the first ones and a count, not megabytes.
MAX_ERRORS = 50


class FieldError(BaseModel):
    field: str = Field(description="Where the bad value is, e.g. `body.latitude` or `query.page`")
    message: str = Field(description="Why it was refused")
    type: str = Field(description="Machine-readable reason, e.g. `less_than_equal`")


class ProblemDetail(BaseModel):
    """RFC 9457 problem details, with `errors` listing each bad field."""

    type: str = Field(examples=[PROBLEM_BASE + "validation-error"])
    title: str = Field(examples=["Request validation failed"])
    status: int = Field(examples=[422])
    detail: str | None = Field(None, examples=["body.latitude: Input should be <= 90"])
    instance: str | None = Field(None, examples=["/v1/venues"])
    errors: list[FieldError] | None = None


class Problem(Exception):
    """A refusal the client can act on. Subclasses fix status and type."""

    status: int = 400
    slug: str = "bad-request"
    title: str = "Bad request"

    def __init__(
        self,
        detail: str,
        *,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.headers = headers


class Unauthorized(Problem):
    status, slug, title = 401, "unauthorized", "Unauthorized"

    def __init__(self, detail: str = "Sign in or send an API key") -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(Problem):
    status, slug, title = 403, "forbidden", "Forbidden"


class PreconditionFailed(Problem):
    status, slug, title = 412, "precondition-failed", "Precondition Failed"


class PreconditionRequired(Problem):
    status, slug, title = 428, "precondition-required", "Precondition Required"


class TooManyRequests(Problem):
    status, slug, title = 429, "too-many-requests", "Too Many Requests"

    def __init__(self, detail: str, retry_after_seconds: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(max(1, retry_after_seconds))})


class NotFound(Problem):
    status, slug, title = 404, "not-found", "Not Found"


class Conflict(Problem):
    status, slug, title = 409, "conflict", "Conflict"


class InvalidField(Problem):
    """A well-formed value that names something unusable, e.g. an unknown term id."""

    status, slug, title = 422, "validation-error", "Request validation failed"

    def __init__(self, field: str, message: str, type_: str = "value_error") -> None:
        super().__init__(
            f"{field}: {message}", errors=[FieldError(field=field, message=message, type=type_)]
        )


def problem_response(
    request: Request,
    status: int,
    *,
    slug: str | None = None,
    title: str | None = None,
    detail: str | None = None,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    body = ProblemDetail(
        type=PROBLEM_BASE + (slug or phrase.lower().replace(" ", "-")),
        title=title or phrase,
        status=status,
        detail=detail,
        instance=request.url.path,
        errors=errors,
    )
    return JSONResponse(
        jsonable_encoder(body, exclude_none=True),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


def _field_name(error: dict[str, Any]) -> str:
    if error.get("type") == "json_invalid":
        return "body"  # pydantic's loc here is a character offset, not a field
    return ".".join(str(part) for part in error["loc"]) or "request"


def _validation_message(error: dict[str, Any]) -> str:
    if error.get("type") == "json_invalid":
        return "Body is not valid JSON: " + str(error.get("ctx", {}).get("error", "parse error"))
    return str(error.get("msg", "Invalid value"))


async def _on_problem(request: Request, exc: Problem) -> JSONResponse:
    return problem_response(
        request,
        exc.status,
        slug=exc.slug,
        title=exc.title,
        detail=exc.detail,
        errors=exc.errors,
        headers=exc.headers,
    )


async def _on_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    found = exc.errors()
    errors = [
        FieldError(field=_field_name(e), message=_validation_message(e), type=e["type"])
        for e in found[:MAX_ERRORS]
    ]
    detail = "; ".join(f"{e.field}: {e.message}" for e in errors)
    if len(found) > MAX_ERRORS:
        detail += f"; and {len(found) - MAX_ERRORS} more errors (the first {MAX_ERRORS} shown)"
    return problem_response(
        request,
        422,
        slug="validation-error",
        title="Request validation failed",
        detail=detail,
        errors=errors,
    )


async def _on_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    detail = exc.detail if isinstance(exc.detail, str) else None
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"No resource at {request.url.path}"
    headers = getattr(exc, "headers", None)
    if exc.status_code == 405:
        allowed = _allowed_methods(request)
        detail = f"{request.method} is not allowed on {request.url.path}; use {allowed}"
        headers = {**(headers or {}), "Allow": allowed}
    return problem_response(request, exc.status_code, detail=detail, headers=headers)


def _allowed_methods(request: Request) -> str:
    """Every method any route at this path answers (Starlette names only the first route's)."""
    table = getattr(request.app.state, "allowed_methods", None)
    if table is None:  # built once per app, from the route table the OpenAPI describes
        table = [
            (re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$"), set(operations))
            for path, operations in request.app.openapi()["paths"].items()
        ]
        request.app.state.allowed_methods = table
    methods = {m.upper() for pattern, ops in table if pattern.match(request.url.path) for m in ops}
    if "GET" in methods:
        methods.add("HEAD")
    return ", ".join(sorted(methods))


async def _on_integrity(request: Request, exc: IntegrityError) -> JSONResponse:
    # A race the service-level checks could not see (e.g. a unique key taken concurrently).
    log.warning("integrity_error", error=type(exc.orig).__name__)
    return problem_response(
        request,
        409,
        slug="conflict",
        title="Conflict",
        detail="The change conflicts with data already stored; nothing was saved.",
    )


async def _on_stale(request: Request, exc: StaleDataError) -> JSONResponse:
    # Two writers passed the If-Match check together; the database let only one win.
    return problem_response(
        request,
        412,
        slug="precondition-failed",
        title="Precondition Failed",
        detail="Someone else changed this resource while you were saving; read it again.",
    )


async def _on_database_busy(request: Request, exc: Exception) -> JSONResponse:
    """A bounded wait ran out (pool checkout, row lock, statement) or the database cannot
    be reached: the transaction was rolled back, so the client may simply retry."""
    cause = type(getattr(exc, "orig", None) or exc).__name__
    log.warning("database_unavailable", error=cause)
    return problem_response(
        request,
        503,
        slug="service-unavailable",
        title="Service Unavailable",
        detail="The database is busy or unavailable; nothing was saved. Retry shortly.",
        headers={"Retry-After": str(get_settings().retry_after_seconds)},
    )


def install_error_handlers(app: FastAPI) -> None:
    # OperationalError: connection refused or lost, lock or statement timeout (PostgreSQL's
    # lock_not_available and query_canceled), SQLite's "database is locked";
    # TimeoutError: no pooled connection within db_pool_timeout_seconds.
    app.add_exception_handler(OperationalError, _on_database_busy)
    app.add_exception_handler(PoolTimeout, _on_database_busy)
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(IntegrityError, _on_integrity)
    app.add_exception_handler(StaleDataError, _on_stale)
    # Anything else is logged once and answered 500 by app.core.logging.RequestLogMiddleware.


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries documenting the problem+json errors a route returns."""
    return {
        status: {
            "model": ProblemDetail,
            "description": HTTPStatus(status).phrase,
            "content": {PROBLEM_JSON: {}},
        }
        for status in statuses
    }
