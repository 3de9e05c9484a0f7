"""``/openreferral``: the directory as an Open Referral UK 3.0 API (Level 1 and Level 2).

Public: no key, ``Access-Control-Allow-Origin: *`` (``OpenAccessMiddleware``), the
profile's ``Page`` envelope with exact counts, pages in id order (stable while crawled).
"""

import uuid
from typing import Annotated, Any

import pydantic_core
from fastapi import APIRouter, Depends, Query, Request, Response

from app.core.db import StatementSessionDep
from app.core.errors import problem_responses
from app.core.inputs import Instant
from app.core.pagination import Page, PageDep
from app.openreferral import feed
from app.openreferral.schemas import (
    OrukApiDetails,
    OrukOrganizationFull,
    OrukOrganizationPage,
    OrukService,
    OrukServiceAtLocation,
    OrukServiceAtLocationPage,
    OrukServicePage,
    OrukTaxonomy,
    OrukTaxonomyPage,
    OrukTaxonomyTerm,
    OrukTaxonomyTermPage,
)

PREFIX = "/openreferral"
TAG = "Open Referral UK"
router = APIRouter(prefix=PREFIX, tags=[TAG])

Search = Annotated[str | None, Query(max_length=200, description="Words in names and descriptions")]
Full = Annotated[bool, Query(description="Fully nested items, as on /{id}")]
TermId = Annotated[uuid.UUID | None, Query(description="Tagged with this taxonomy_term")]
TaxonomyId = Annotated[uuid.UUID | None, Query(description="Tagged with any term of this taxonomy")]
OrganizationId = Annotated[uuid.UUID | None, Query(description="Provided by this organization")]
ModifiedAfter = Annotated[
    Instant | None, Query(description="Changed on or after this time (ISO 8601)")
]
Postcode = Annotated[
    str | None,
    Query(max_length=10, description='Near this full postcode or outcode: "BS5 6AW", "BS5"'),
]
Proximity = Annotated[
    int | None,
    Query(
        ge=1,
        le=feed.MAX_PROXIMITY_M,
        description=f"Metres from the postcode's centre (default {feed.DEFAULT_PROXIMITY_M:,})",
    ),
]


def service_filters(
    search: Search = None,
    taxonomy_term_id: TermId = None,
    taxonomy_id: TaxonomyId = None,
    organization_id: OrganizationId = None,
    modified_after: ModifiedAfter = None,
    postcode: Postcode = None,
    proximity: Proximity = None,
) -> feed.Filters:
    """The profile's service filters, shared by services and services at locations."""
    return feed.Filters(
        search, taxonomy_term_id, taxonomy_id, organization_id, modified_after, postcode, proximity
    )


ServiceFilters = Annotated[feed.Filters, Depends(service_filters)]
ERRORS = problem_responses(422)
ONE = problem_responses(404, 422)


def _json(body: Any) -> Response:
    return Response(pydantic_core.to_json(body), media_type="application/json")


def _page(page: Page[dict[str, Any]]) -> Response:
    return _json({**dict(page)})


@router.get("/", response_model=OrukApiDetails, summary="About this Open Referral UK API")
def oruk_api_details(request: Request) -> Response:
    """The HSDS version and profile this API follows, and where its OpenAPI document is."""
    openapi_path = (request.app.openapi_url or "/openapi.json").lstrip("/")
    return _json(
        {
            "version": feed.VERSION,
            "profile": feed.PROFILE_URL,
            "openapi_url": f"{request.base_url}{openapi_path}",
        }
    )


@router.get("/services", response_model=OrukServicePage, responses=ERRORS)
def oruk_list_services(
    session: StatementSessionDep, page: PageDep, filters: ServiceFilters, full: Full = False
) -> Response:
    """Live services of published organisations, in id order; filters combine with AND."""
    return _page(feed.list_services(session, filters, page, full))


@router.get("/services/{id}", response_model=OrukService, responses=ONE)
def oruk_get_service(session: StatementSessionDep, id: uuid.UUID) -> Response:
    """One service, fully nested: schedules, locations with addresses and accessibility,
    languages, organization, cost, funding, service areas and taxonomy terms."""
    return _json(feed.get_service(session, id))


@router.get("/organizations", response_model=OrukOrganizationPage, responses=ERRORS)
def oruk_list_organizations(
    session: StatementSessionDep,
    page: PageDep,
    search: Search = None,
    full: Full = False,
) -> Response:
    """Published organisations, in id order."""
    return _page(feed.list_organizations(session, search, page, full))


@router.get("/organizations/{id}", response_model=OrukOrganizationFull, responses=ONE)
def oruk_get_organization(
    session: StatementSessionDep,
    id: uuid.UUID,
    full_service: Annotated[bool, Query(description="Its services fully nested")] = False,
) -> Response:
    """One organisation with its identifiers and its live services."""
    return _json(feed.get_organization(session, id, full_service))


@router.get("/service_at_locations", response_model=OrukServiceAtLocationPage, responses=ERRORS)
def oruk_list_service_at_locations(
    session: StatementSessionDep, page: PageDep, filters: ServiceFilters, full: Full = False
) -> Response:
    """Each live service at each of its live venues, in id order; filters combine with AND."""
    return _page(feed.list_service_at_locations(session, filters, page, full))


@router.get("/service_at_locations/{id}", response_model=OrukServiceAtLocation, responses=ONE)
def oruk_get_service_at_location(session: StatementSessionDep, id: uuid.UUID) -> Response:
    """One service at one venue, both fully nested."""
    return _json(feed.get_service_at_location(session, id))


@router.get("/taxonomies", response_model=OrukTaxonomyPage, responses=ERRORS)
def oruk_list_taxonomies(
    session: StatementSessionDep, page: PageDep, search: Search = None
) -> Response:
    """The vocabulary's schemes (needs, activity categories...)."""
    return _page(feed.list_taxonomies(session, search, page))


@router.get("/taxonomies/{id}", response_model=OrukTaxonomy, responses=ONE)
def oruk_get_taxonomy(session: StatementSessionDep, id: uuid.UUID) -> Response:
    """One scheme with all its terms."""
    return _json(feed.get_taxonomy(session, id))


@router.get("/taxonomy_terms", response_model=OrukTaxonomyTermPage, responses=ERRORS)
def oruk_list_taxonomy_terms(
    session: StatementSessionDep,
    page: PageDep,
    search: Search = None,
    taxonomy_id: Annotated[uuid.UUID | None, Query(description="Terms of this taxonomy")] = None,
    parent_id: Annotated[uuid.UUID | None, Query(description="Children of this term")] = None,
    top_only: Annotated[bool, Query(description="Only terms without a parent")] = False,
) -> Response:
    """Every term of the vocabulary, retired ones too (older listings still carry them)."""
    return _page(feed.list_taxonomy_terms(session, page, search, taxonomy_id, parent_id, top_only))


@router.get("/taxonomy_terms/{id}", response_model=OrukTaxonomyTerm, responses=ONE)
def oruk_get_taxonomy_term(session: StatementSessionDep, id: uuid.UUID) -> Response:
    """One term."""
    return _json(feed.get_taxonomy_term(session, id))
