import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response, status

from app.accounts.deps import Authenticated
from app.core.db import LoaderSessionDep, SessionDep, StatementSessionDep
from app.core.errors import problem_responses
from app.core.pagination import PageDep
from app.core.types import utcnow
from app.idempotency.service import Idempotent, IdempotentRoute
from app.organisations.deps import VisibleOrganisation
from app.support import service
from app.support.models import NeedStatus, SupportNeed, Urgency
from app.support.schemas import (
    MessageCreate,
    NeedTransition,
    SupportMatches,
    SupportNeedCreate,
    SupportNeedPage,
    SupportNeedPublic,
    SupportOfferCreate,
    SupportOfferPage,
    SupportOfferPublic,
)
from app.vocabulary import service as vocabulary

router = APIRouter(route_class=IdempotentRoute, tags=["support"])
SCHEME = ["support-category"]


def visible_need(
    session: LoaderSessionDep,
    principal: Authenticated,
    need_id: Annotated[uuid.UUID, Path(description="The support need's id")],
) -> SupportNeed:
    return service.get_visible(session, principal, need_id)


VisibleNeed = Annotated[SupportNeed, Depends(visible_need)]


def _one(session, principal, need: SupportNeed) -> SupportNeedPublic:
    return service.to_public(session, principal, [need], utcnow())[0]


@router.post(
    "/v1/organisations/{organisation_id}/support-needs",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 404, 422),
    dependencies=[Idempotent],
)
def create_support_need(
    session: SessionDep,
    principal: Authenticated,
    organisation: VisibleOrganisation,
    body: SupportNeedCreate,
    response: Response,
) -> SupportNeedPublic:
    """Flag a support need (the organisation's members). `visibility=peers` lets other
    organisations see it and offer help; the thread stays between the organisation and
    its responders."""
    need = service.create_need(session, principal, organisation.id, body, utcnow())
    response.headers["Location"] = f"/v1/support-needs/{need.id}"
    return _one(session, principal, need)


@router.get("/v1/support-needs", responses=problem_responses(401, 403, 422))
def list_support_needs(
    session: StatementSessionDep,
    principal: Authenticated,
    page: PageDep,
    peers: Annotated[
        bool,
        Query(description="Other organisations' needs shared with peers (to offer help)"),
    ] = False,
    category: Annotated[
        list[str], Query(max_length=14, description="Category ids or codes (repeatable)")
    ] = [],  # noqa: B006 - FastAPI copies the default per request
    urgency: Annotated[list[Urgency], Query(max_length=4)] = [],  # noqa: B006
    status_: Annotated[list[NeedStatus], Query(alias="status", max_length=5)] = [],  # noqa: B006
    area: Annotated[
        str | None, Query(max_length=100, description="An area the organisation serves")
    ] = None,
    waiting_days: Annotated[
        int | None, Query(ge=0, le=3650, description="Raised at least this many days ago")
    ] = None,
    organisation: Annotated[uuid.UUID | None, Query(description="Raised by")] = None,
) -> SupportNeedPage:
    """Support needs, most urgent first, then longest waiting. Stewards, commissioners and
    admins see every organisation's (the queue); organisation members their own, or with
    `peers=true` other organisations' needs shared with peers."""
    filters = service.NeedFilters(
        peers=peers,
        categories=vocabulary.resolve(session, category, SCHEME, "query.category"),
        urgencies=tuple(urgency),
        statuses=tuple(status_),
        area=area,
        waiting_days=waiting_days,
        organisation_id=organisation,
    )
    return service.list_needs(session, principal, filters, page, utcnow())


@router.get("/v1/support-needs/{need_id}", responses=problem_responses(401, 404, 422))
def get_support_need(
    session: StatementSessionDep, principal: Authenticated, need: VisibleNeed
) -> SupportNeedPublic:
    """One need with its thread (the thread only for the organisation and responders)."""
    return _one(session, principal, need)


@router.post(
    "/v1/support-needs/{need_id}/transitions",
    responses=problem_responses(401, 403, 404, 409, 412, 422),
)
def transition_support_need(
    session: SessionDep, principal: Authenticated, need: VisibleNeed, body: NeedTransition
) -> SupportNeedPublic:
    """Move a need on: `open → acknowledged → in_progress → resolved | closed`.
    Stewards and commissioners acknowledge and take it in hand (and become its handler);
    they or the organisation resolve or close it. Anything else is 409."""
    need = service.transition(session, principal, need, NeedStatus(body.status), utcnow())
    return _one(session, principal, need)


@router.post(
    "/v1/support-needs/{need_id}/messages",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 404, 409, 422),
    dependencies=[Idempotent],
)
def add_support_message(
    session: SessionDep, principal: Authenticated, need: VisibleNeed, body: MessageCreate
) -> SupportNeedPublic:
    """Write in the need's thread (the organisation and its responders; not once resolved
    or closed)."""
    service.add_message(session, principal, need, body.body, utcnow())
    return _one(session, principal, need)


@router.get("/v1/support-needs/{need_id}/matches", responses=problem_responses(401, 404, 409, 422))
def match_support_need(
    session: StatementSessionDep, principal: Authenticated, need: VisibleNeed
) -> SupportMatches:
    """Organisations offering help in the need's category, nearest first (the organisation
    and responders; only for needs shared with peers)."""
    return service.matches(session, principal, need)


@router.post(
    "/v1/organisations/{organisation_id}/support-offers",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 404, 422),
    dependencies=[Idempotent],
)
def create_support_offer(
    session: SessionDep,
    principal: Authenticated,
    organisation: VisibleOrganisation,
    body: SupportOfferCreate,
) -> SupportOfferPublic:
    """Offer help to peers in a support category (the organisation's members)."""
    offer = service.create_offer(session, principal, organisation.id, body, utcnow())
    return service.offers_public(session, [offer])[0]


@router.get("/v1/support-offers", responses=problem_responses(401, 422))
def list_support_offers(
    session: StatementSessionDep,
    principal: Authenticated,
    page: PageDep,
    category: Annotated[str | None, Query(description="A category id or code")] = None,
    organisation: Annotated[uuid.UUID | None, Query(description="Offered by")] = None,
    include_withdrawn: bool = False,
) -> SupportOfferPage:
    """Peer offers, newest first (anyone signed in)."""
    category_id = (
        vocabulary.resolve(session, [category], SCHEME, "query.category")[0] if category else None
    )
    return service.list_offers(
        session, principal, category_id, organisation, include_withdrawn, page
    )


@router.post(
    "/v1/support-offers/{offer_id}/withdraw", responses=problem_responses(401, 403, 404, 422)
)
def withdraw_support_offer(
    session: SessionDep,
    principal: Authenticated,
    offer_id: Annotated[uuid.UUID, Path(description="The offer's id")],
) -> SupportOfferPublic:
    """Withdraw an offer (the organisation's members)."""
    offer = service.withdraw_offer(
        session, principal, service.get_offer(session, principal, offer_id), utcnow()
    )
    return service.offers_public(session, [offer])[0]
