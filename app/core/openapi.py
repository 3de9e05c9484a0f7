"""Shape the generated OpenAPI document into the contract clients are built from.

FastAPI's generator gets most of it right from the code; this fills in what it cannot see:
errors are problem+json only; `If-Match` is required where updates need it (the server
answers 428 rather than 422 when it is missing, so the code declares it optional); `ETag`
is a documented response header; routes anonymous callers may use say so with an empty
security requirement; and every operation documents the errors any request can meet
(400 for an unreadable body, 413 for an oversized one, 500, and 503 with Retry-After
when the server is overloaded or the database busy or away).
"""

from collections.abc import Iterable
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from app.accounts.deps import require_authenticated
from app.core.errors import PROBLEM_JSON

ETAG_HEADER = {
    "description": 'The version to send back as `If-Match` to change it, e.g. "3"',
    "schema": {"type": "string", "examples": ['"3"']},
}
REPLAYED_HEADER = {
    "description": "`true` when this is the stored answer to an earlier request with the "
    "same Idempotency-Key; nothing new was created",
    "schema": {"type": "string", "enum": ["true"]},
}
_COMMON_ERRORS = {
    "413": "Content Too Large: the body is over the limit (SIGNPOST_MAX_BODY_BYTES)",
    "500": "Internal Server Error: logged with the request id; nothing was changed",
    "503": "Service Unavailable: too many requests in progress, or the database busy or "
    "unreachable; nothing was changed. Retry after `Retry-After` seconds",
}
RETRY_AFTER_HEADER = {
    "description": "Seconds to wait before retrying",
    "schema": {"type": "string", "examples": ["2"]},
}


def _needs_authentication(dependant: Dependant) -> bool:
    return dependant.call is require_authenticated or any(
        _needs_authentication(sub) for sub in dependant.dependencies
    )


def public_operations(routers: Iterable[APIRouter]) -> set[str]:
    """operationIds of the routes an anonymous caller may call."""
    return {
        route.name
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute) and not _needs_authentication(route.dependant)
    }


def install(app: FastAPI, routers: Iterable[APIRouter]) -> None:
    build = app.openapi
    public = public_operations(routers)

    def openapi() -> dict:
        if app.openapi_schema is None:
            app.openapi_schema = _shape(build(), public)
        return app.openapi_schema

    app.openapi = openapi


def _shape(schema: dict[str, Any], public: set[str]) -> dict[str, Any]:
    problem_ref = {"$ref": "#/components/schemas/ProblemDetail"}
    versioned_paths = {
        path
        for path, operations in schema["paths"].items()
        for operation in operations.values()
        if any(p["name"] == "If-Match" for p in operation.get("parameters", []))
    }
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                content = response.get("content", {})
                if status[0] in "45" and PROBLEM_JSON in content:
                    # An error documented as problem+json is only that, whatever the
                    # route's success media type (JSON, CSV, an HTML page).
                    for media in [media for media in content if media != PROBLEM_JSON]:
                        other = content.pop(media)
                        if "schema" in other and "schema" not in content[PROBLEM_JSON]:
                            content[PROBLEM_JSON] = other
            for parameter in operation.get("parameters", []):
                if parameter["name"] == "If-Match":
                    parameter["required"] = True
                    parameter["description"] += " (428 when missing)"
            _document_etag(path, method, operation, versioned_paths)
            if any(p["name"] == "Idempotency-Key" for p in operation.get("parameters", [])):
                for status in ("200", "201"):
                    if status in operation["responses"]:
                        headers = operation["responses"][status].setdefault("headers", {})
                        headers["Idempotent-Replayed"] = REPLAYED_HEADER
            if operation["operationId"] in public and "security" in operation:
                operation["security"] = [{}, *operation["security"]]
            errors = dict(_COMMON_ERRORS)
            if "requestBody" in operation:
                errors["400"] = "Bad Request: the body could not be read (not UTF-8, say)"
            for status, description in sorted(errors.items()):
                response = operation["responses"].setdefault(
                    status,
                    {
                        "description": description,
                        "content": {PROBLEM_JSON: {"schema": problem_ref}},
                    },
                )
                if status == "503" and PROBLEM_JSON in response.get("content", {}):
                    response.setdefault("headers", {})["Retry-After"] = RETRY_AFTER_HEADER
    return schema


def _document_etag(path: str, method: str, operation: dict, versioned: set[str]) -> None:
    created = method == "post" and any(p.startswith(path + "/{") for p in versioned)
    if (path in versioned and method in ("get", "patch")) or created:
        for status in ("200", "201"):
            if status in operation["responses"]:
                operation["responses"][status].setdefault("headers", {})["ETag"] = ETAG_HEADER
