"""The Signpost application: routers, middleware and error handlers."""

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute

import app.models
from app import __version__
from app.accounts.router import router as accounts_router
from app.activities.router import router as activities_router
from app.assurance.router import router as assurance_router
from app.audit.router import router as audit_router
from app.capacity.router import router as capacity_router
from app.core.config import get_settings
from app.core.errors import PROBLEM_JSON, install_error_handlers
from app.core.logging import RequestLogMiddleware, configure_logging
from app.health.router import router as health_router
from app.organisations.router import router as organisations_router
from app.referrals.router import router as referrals_router
from app.reports.router import router as reports_router
from app.search.router import router as search_router
from app.support.router import router as support_router
from app.venues.router import router as venues_router
from app.vocabulary.router import router as vocabulary_router

DESCRIPTION = """
Signpost is the social prescribing directory API for England: community and voluntary
sector organisations list their activities; link workers find safe referral options.

Every list answers the same envelope (`total_items`, `total_pages`, `page_number`, `size`,
`first_page`, `last_page`, `empty`, `contents`); every error is RFC 9457
`application/problem+json` with an `errors` array naming each bad field.

Sign in at `POST /v1/auth/token` and send `Authorization: Bearer <token>`, or send an
API key as `X-API-Key`. Anonymous callers read published listings only. Changing a
listing needs `If-Match` with the `ETag` you read (412 if it changed since, 428 if absent).
"""

TAGS = [
    {"name": "organisations", "description": "Who runs activities: charities, CICs, groups."},
    {"name": "venues", "description": "Where activities happen; shareable between organisations."},
    {"name": "activities", "description": "What people can be referred to, with schedules."},
    {
        "name": "referral options",
        "description": "The link workers' search: ranked options near a person, with reasons.",
    },
    {"name": "vocabulary", "description": "Needs and activity categories, with synonyms."},
    {"name": "accounts", "description": "Sign-in, users, organisation members and API keys."},
    {"name": "audit", "description": "Who changed what, when: before and after."},
    {"name": "health", "description": "Liveness and readiness probes."},
]


def _operation_id(route: APIRoute) -> str:
    # Function names are unique across routers; clients get stable, readable method names.
    return route.name


def _problem_json_only(app: FastAPI) -> None:
    """Document error responses as problem+json only (FastAPI files ``model=`` under JSON)."""
    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = build()
            for methods in schema["paths"].values():
                for operation in methods.values():
                    for status, response in operation["responses"].items():
                        content = response.get("content", {})
                        if status[0] in "45" and PROBLEM_JSON in content:
                            content[PROBLEM_JSON] = content.pop("application/json", {})
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi


def create_app() -> FastAPI:
    settings = get_settings()
    configure_logging(settings)
    app = FastAPI(
        title="Signpost",
        version=__version__,
        description=DESCRIPTION,
        openapi_tags=TAGS,
        generate_unique_id_function=_operation_id,
    )
    install_error_handlers(app)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["*"],
            expose_headers=["X-Request-ID"],
        )
    app.add_middleware(RequestLogMiddleware)
    for router in (
        organisations_router,
        venues_router,
        activities_router,
        capacity_router,
        assurance_router,
        search_router,
        referrals_router,
        support_router,
        reports_router,
        vocabulary_router,
        accounts_router,
        audit_router,
        health_router,
    ):
        app.include_router(router)
    _problem_json_only(app)
    return app


app = create_app()
