"""The Signpost application: routers, middleware and error handlers."""

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute
from fastapi_offline import FastAPIOffline
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

import app.models
from app import __version__
from app.accounts.router import router as accounts_router
from app.activities.router import router as activities_router
from app.areas.router import router as areas_router
from app.assurance.router import router as assurance_router
from app.audit.router import router as audit_router
from app.capacity.router import router as capacity_router
from app.claims.router import router as claims_router
from app.closures.router import router as closures_router
from app.core import openapi
from app.core.config import get_settings
from app.core.db import dispose_engines, get_engine
from app.core.errors import install_error_handlers
from app.core.http import (
    BodyLimitMiddleware,
    InFlightLimitMiddleware,
    OpenAccessMiddleware,
    SecurityHeadersMiddleware,
)
from app.core.inputs import refuse_bad_query_text
from app.core.lifecycle import stop_with_parent
from app.core.logging import RequestLogMiddleware, configure_logging
from app.health.router import router as health_router
from app.idempotency.service import Replay, replay_response
from app.invitations.router import router as invitations_router
from app.notifications.router import router as notifications_router
from app.openreferral.external_terms import router as external_terms_router
from app.openreferral.router import router as openreferral_router
from app.organisations.router import router as organisations_router
from app.referrals.router import router as referrals_router
from app.reports.router import router as reports_router
from app.search import search_log
from app.search.router import router as search_router
from app.support.router import router as support_router
from app.teams.router import router as teams_router
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
    {
        "name": "areas",
        "description": "Places reports compare: local authorities, ICBs, PCNs, wards, "
        "neighbourhoods, drawn as postcode districts and sectors.",
    },
    {"name": "accounts", "description": "Sign-in, users, organisation members and API keys."},
    {"name": "audit", "description": "Who changed what, when: before and after."},
    {"name": "health", "description": "Liveness and readiness probes."},
    {
        "name": "Open Referral UK",
        "description": "The public directory as an Open Referral UK 3.0 (HSDS UK profile) API: "
        "no key, any origin, the profile's shapes.",
    },
]


def _operation_id(route: APIRoute) -> str:
    # Function names are unique across routers; clients get stable, readable method names.
    return route.name


@asynccontextmanager
async def _lifespan(_app: FastAPI) -> AsyncIterator[None]:
    """Size the route thread pool to the connection pool (each sync route holds at most one
    connection), open the process's one engine before the first request, and have a worker
    stop when its master dies (app/core/lifecycle.py)."""
    settings = get_settings()
    to_thread.current_default_thread_limiter().total_tokens = settings.db_pool_size
    get_engine()
    stop_with_parent()
    # What start-up built (modules, models, mappers: about 150,000 objects) lives as long as
    # the worker: keep the cyclic garbage collector from walking it again and again (it cost
    # each search about 4 ms; bench/RESULTS.md).
    gc.freeze()
    yield
    search_log.flush()  # the rows of searches answered since the last batch
    dispose_engines()


def create_app() -> FastAPI:
    settings = get_settings()
    configure_logging(settings)
    # Swagger UI and ReDoc from files installed with the package: /docs works offline.
    app = FastAPIOffline(
        lifespan=_lifespan,
        title="Signpost",
        version=__version__,
        description=DESCRIPTION,
        openapi_tags=TAGS,
        generate_unique_id_function=_operation_id,
        dependencies=[Depends(refuse_bad_query_text)],
    )
    install_error_handlers(app)
    app.add_exception_handler(Replay, replay_response)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["*"],
            expose_headers=["X-Request-ID", "ETag", "Idempotent-Replayed", "Retry-After"],
        )
    app.add_middleware(OpenAccessMiddleware, prefix=openreferral_router.prefix)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    if settings.trusted_proxies:
        # X-Forwarded-For is believed only from these addresses; otherwise any client could
        # choose the address the sign-in lockout counts against.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
    app.add_middleware(RequestLogMiddleware)
    app.add_middleware(
        InFlightLimitMiddleware,
        limit=settings.in_flight_limit,
        retry_after=settings.retry_after_seconds,
    )
    app.add_middleware(SecurityHeadersMiddleware)
    for router in ROUTERS:
        app.include_router(router)
    openapi.install(app, ROUTERS)
    return app


# In the order requests most often want them: FastAPI tries each router's routes in turn
# until one matches: reaching the last router cost /healthz about 0.2 ms here. The
# order changes nothing else: no path can match routes of two routers
# (tests/test_http_semantics.py), and the API reference groups operations by tag.
ROUTERS = (
    search_router,
    activities_router,
    openreferral_router,
    referrals_router,
    organisations_router,
    venues_router,
    capacity_router,
    closures_router,
    assurance_router,
    teams_router,
    support_router,
    reports_router,
    areas_router,
    vocabulary_router,
    external_terms_router,
    accounts_router,
    audit_router,
    notifications_router,
    invitations_router,
    claims_router,
    health_router,
)


app = create_app()
