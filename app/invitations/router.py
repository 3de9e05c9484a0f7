import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from app.accounts.deps import Authenticated, CurrentPrincipal
from app.core.db import SessionDep, StatementSessionDep
from app.core.errors import problem_responses
from app.core.pagination import PageDep
from app.idempotency.service import Idempotent, IdempotentRoute
from app.invitations import service
from app.invitations.schemas import (
    GlobalInvitationCreate,
    InvitationAnswer,
    InvitationAnswered,
    InvitationDecline,
    InvitationPage,
    InvitationPublic,
    OrganisationInvitationCreate,
)
from app.organisations.deps import ManagedOrganisationId

router = APIRouter(route_class=IdempotentRoute, prefix="/v1", tags=["invitations"])


@router.post(
    "/organisations/{organisation_id}/invitations",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 404, 422),
    dependencies=[Idempotent],
)
def invite_to_organisation(
    session: SessionDep,
    principal: Authenticated,
    organisation_id: ManagedOrganisationId,
    body: OrganisationInvitationCreate,
    response: Response,
) -> InvitationPublic:
    """Invite someone by email to join the organisation with a role (its admins, and
    admins). They are emailed a link to accept or decline, creating an account on the way
    if they need one; nobody is added without accepting. The answer is the same whether or
    not the address has an account. Invitations last 14 days."""
    invitation = service.invite_to_organisation(session, principal, organisation_id, body)
    response.headers["Location"] = f"/v1/organisations/{organisation_id}/invitations"
    return invitation


@router.get(
    "/organisations/{organisation_id}/invitations",
    responses=problem_responses(401, 403, 404, 422),
)
def list_organisation_invitations(
    session: StatementSessionDep, organisation_id: ManagedOrganisationId, page: PageDep
) -> InvitationPage:
    """The organisation's invitations, newest first: pending, accepted, declined, withdrawn
    or expired."""
    return service.list_for_organisation(session, organisation_id, page)


@router.post(
    "/invitations",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 422),
    dependencies=[Idempotent],
)
def invite_globally(
    session: SessionDep, principal: Authenticated, body: GlobalInvitationCreate
) -> InvitationPublic:
    """Invite someone to a Signpost role: stewards invite link workers and commissioners,
    admins any role. Nobody types anybody else's password."""
    return service.invite_globally(session, principal, body)


@router.get("/invitations", responses=problem_responses(401, 403, 422))
def list_global_invitations(
    session: StatementSessionDep, principal: Authenticated, page: PageDep
) -> InvitationPage:
    """Invitations to Signpost's roles (stewards and admins)."""
    return service.list_global(session, principal, page)


@router.delete(
    "/invitations/{invitation_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 404, 409, 422),
)
def withdraw_invitation(
    session: SessionDep,
    principal: Authenticated,
    invitation_id: Annotated[uuid.UUID, Path(description="The invitation's id")],
) -> None:
    """Withdraw a pending invitation: its link stops working."""
    service.withdraw(session, principal, invitation_id)


@router.post(
    "/invitations/accept",
    responses=problem_responses(400, 401, 403, 409, 422),
)
def accept_invitation(
    session: SessionDep, principal: CurrentPrincipal, body: InvitationAnswer
) -> InvitationAnswered:
    """Accept with the token from the email: signed in as the invited address, or, with
    no account yet, giving `display_name` and `password` to create one (the invitation
    proves the address, so it is active at once and a bearer token comes back)."""
    return service.accept(session, principal, body)


@router.post(
    "/invitations/decline",
    responses=problem_responses(400, 409, 422),
)
def decline_invitation(session: SessionDep, body: InvitationDecline) -> InvitationAnswered:
    """Decline with the token from the email; the inviter sees `declined`."""
    return service.decline(session, body.token)
