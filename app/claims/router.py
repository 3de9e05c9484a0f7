import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from app.accounts.deps import Authenticated
from app.claims import service
from app.claims.models import ClaimStatus
from app.claims.schemas import ClaimCreate, ClaimPage, ClaimPublic, ClaimRejection
from app.core.db import SessionDep, StatementSessionDep
from app.core.errors import problem_responses
from app.core.pagination import PageDep
from app.idempotency.service import Idempotent, IdempotentRoute
from app.organisations.deps import VisibleOrganisation

router = APIRouter(route_class=IdempotentRoute, prefix="/v1", tags=["claims"])
ClaimId = Annotated[uuid.UUID, Path(description="The claim's id")]


@router.post(
    "/organisations/{organisation_id}/claims",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 404, 409, 422),
    dependencies=[Idempotent],
)
def claim_organisation(
    session: SessionDep,
    principal: Authenticated,
    organisation: VisibleOrganisation,
    body: ClaimCreate,
    response: Response,
) -> ClaimPublic:
    """Claim a listed organisation you run (one imported, or created by a steward), with
    evidence: its charity or company number, or your address at its own domain. Stewards
    are told; when one approves, you become the organisation's admin."""
    claim = service.submit(session, principal, organisation, body)
    response.headers["Location"] = f"/v1/claims/{claim.id}"
    return ClaimPublic.model_validate(claim)


@router.get("/claims", responses=problem_responses(401, 422))
def list_claims(
    session: StatementSessionDep,
    principal: Authenticated,
    page: PageDep,
    status_: Annotated[ClaimStatus | None, Query(alias="status")] = None,
) -> ClaimPage:
    """Claims, oldest first: every claim for stewards and admins, your own for anyone else."""
    return service.list_claims(session, principal, status_, page)


@router.get("/claims/{claim_id}", responses=problem_responses(401, 404, 422))
def get_claim(
    session: StatementSessionDep, principal: Authenticated, claim_id: ClaimId
) -> ClaimPublic:
    return ClaimPublic.model_validate(service.get(session, principal, claim_id))


@router.post("/claims/{claim_id}/approve", responses=problem_responses(401, 403, 404, 409, 422))
def approve_claim(session: SessionDep, principal: Authenticated, claim_id: ClaimId) -> ClaimPublic:
    """Approve: the claimant becomes the organisation's admin and is emailed. Stewards."""
    claim = service.get(session, principal, claim_id)
    return ClaimPublic.model_validate(service.decide(session, principal, claim, approve=True))


@router.post("/claims/{claim_id}/reject", responses=problem_responses(401, 403, 404, 409, 422))
def reject_claim(
    session: SessionDep, principal: Authenticated, claim_id: ClaimId, body: ClaimRejection
) -> ClaimPublic:
    """Reject with a reason the claimant sees. Stewards."""
    claim = service.get(session, principal, claim_id)
    return ClaimPublic.model_validate(
        service.decide(session, principal, claim, approve=False, reason=body.reason)
    )
