"""Inviting people by email, and their answer. The inviter learns only what the invitee did
(pending, accepted, declined, expired), never whether the address has an account; the
invitee signs up on the way if they need to. Nobody joins without accepting."""

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlmodel import Session

from app.accounts import service as accounts
from app.accounts.links import LinkRefused
from app.accounts.models import GlobalRole, User
from app.accounts.passwords import check_password
from app.accounts.principal import Principal
from app.accounts.security import create_access_token, hash_password
from app.accounts.service import normalise_email
from app.core import links
from app.core.errors import Conflict, Forbidden, InvalidField, NotFound, Unauthorized
from app.core.pagination import Page, PageParams, paginate
from app.core.types import utcnow
from app.invitations.models import Invitation, InvitationStatus
from app.invitations.schemas import (
    GlobalInvitationCreate,
    InvitationAnswer,
    InvitationAnswered,
    InvitationPublic,
    OrganisationInvitationCreate,
)
from app.notifications.events import EventType, emit

LIFETIME = timedelta(days=14)
PURPOSE = "invitation"
# What each role may invite people to be, globally.
GLOBAL_INVITERS = {
    GlobalRole.steward: {GlobalRole.link_worker, GlobalRole.commissioner},
    GlobalRole.admin: set(GlobalRole),
}


def to_public(invitation: Invitation, now: datetime) -> InvitationPublic:
    status = invitation.status.value
    if invitation.status is InvitationStatus.pending and invitation.expires_at <= now:
        status = "expired"
    role = invitation.organisation_role or invitation.global_role
    return InvitationPublic.model_validate(
        invitation, update={"status": status, "role": role.value if role else ""}
    )


def _send(session: Session, invitation: Invitation) -> None:
    emit(
        session,
        EventType.account_invitation,
        organisation_id=None,
        subject_id=invitation.id,
        invitation_id=invitation.id,
    )


def _create(session: Session, principal: Principal, email: str, **role) -> Invitation:
    now = utcnow()
    invitation = Invitation(
        email=normalise_email(email),
        invited_by_id=principal.id if principal.kind == "user" else None,
        created_at=now,
        expires_at=now + LIFETIME,
        **role,
    )
    session.add(invitation)
    session.flush()
    _send(session, invitation)
    return invitation


def invite_to_organisation(
    session: Session,
    principal: Principal,
    organisation_id: uuid.UUID,
    body: OrganisationInvitationCreate,
) -> InvitationPublic:
    invitation = _create(
        session,
        principal,
        body.email,
        organisation_id=organisation_id,
        organisation_role=body.role,
    )
    return to_public(invitation, utcnow())


def invite_globally(
    session: Session, principal: Principal, body: GlobalInvitationCreate
) -> InvitationPublic:
    allowed = GLOBAL_INVITERS.get(principal.role, set()) if principal.kind == "user" else set()
    if body.role not in allowed:
        if not allowed:
            raise Forbidden("Stewards and admins invite people to Signpost's roles")
        raise Forbidden(f"Stewards invite link workers and commissioners, not {body.role}s")
    return to_public(_create(session, principal, body.email, global_role=body.role), utcnow())


def _page(session: Session, statement, params: PageParams) -> Page[InvitationPublic]:
    now = utcnow()
    ordered = statement.order_by(Invitation.created_at.desc(), Invitation.id)
    return paginate(session, ordered, params, lambda invitation: to_public(invitation, now))


def list_for_organisation(
    session: Session, organisation_id: uuid.UUID, params: PageParams
) -> Page[InvitationPublic]:
    statement = select(Invitation).where(Invitation.organisation_id == organisation_id)
    return _page(session, statement, params)


def list_global(session: Session, principal: Principal, params: PageParams):
    if not principal.is_steward_or_admin:
        raise Forbidden("Stewards and admins see the invitations to Signpost's roles")
    return _page(session, select(Invitation).where(Invitation.global_role.is_not(None)), params)


def withdraw(session: Session, principal: Principal, invitation_id: uuid.UUID) -> None:
    invitation = session.get(Invitation, invitation_id)
    if invitation is None or not _may_manage(principal, invitation):
        raise NotFound(f"No invitation with id {invitation_id}")
    if invitation.status is not InvitationStatus.pending:
        raise Conflict(f"The invitation was already {invitation.status}")
    invitation.status, invitation.answered_at = InvitationStatus.withdrawn, utcnow()
    session.add(invitation)
    session.flush()


def _may_manage(principal: Principal, invitation: Invitation) -> bool:
    if invitation.organisation_id is not None:
        return principal.can_manage_members(invitation.organisation_id)
    allowed = GLOBAL_INVITERS.get(principal.role, set()) if principal.kind == "user" else set()
    return invitation.global_role in allowed


# --- the invitee's side -------------------------------------------------------------------


def link_token(invitation: Invitation) -> str:
    return links.sign(PURPOSE, invitation.id, invitation.expires_at)


def _from_token(session: Session, token: str) -> Invitation:
    link = links.read(token, PURPOSE)
    invitation = session.get(Invitation, link.subject) if link is not None else None
    if invitation is None:
        raise LinkRefused("This invitation link is not valid")
    if invitation.status is not InvitationStatus.pending:
        raise Conflict(f"This invitation was already {invitation.status}")
    if invitation.expires_at <= utcnow():
        raise Conflict("This invitation has expired; ask for a new one")
    return invitation


def accept(session: Session, principal: Principal, body: InvitationAnswer) -> InvitationAnswered:
    invitation = _from_token(session, body.token)
    token = None
    if principal.kind == "user":
        user = session.get(User, principal.id)
        if user is None or user.email != invitation.email:
            raise Forbidden("This invitation was sent to another address; sign in as that one")
    elif principal.kind != "anonymous":
        raise Forbidden("People accept invitations, not API keys")
    else:
        if session.execute(select(User.id).where(User.email == invitation.email)).first():
            raise Unauthorized("Sign in with the invited address, then accept")
        user = _sign_up(session, invitation, body)
        token = create_access_token(user.id, user.token_version)[0]
    _join(session, invitation, user)
    invitation.status, invitation.answered_at = InvitationStatus.accepted, utcnow()
    invitation.accepted_by_id = user.id
    session.add(invitation)
    session.flush()
    return InvitationAnswered(invitation=to_public(invitation, utcnow()), access_token=token)


def _sign_up(session: Session, invitation: Invitation, body: InvitationAnswer) -> User:
    """The invitation proves the address: the account is active at once."""
    for name in ("display_name", "password"):
        if getattr(body, name) is None:
            raise InvalidField(f"body.{name}", "is needed to create your account", "missing")
    check_password("body.password", body.password, invitation.email, body.display_name)
    now = utcnow()
    user = User(
        email=invitation.email,
        display_name=body.display_name,
        password_hash=hash_password(body.password),
        email_verified_at=now,
        last_login_at=now,
    )
    session.add(user)
    session.flush()
    return user


def _join(session: Session, invitation: Invitation, user: User) -> None:
    if invitation.organisation_id is not None:
        accounts.grant_membership(
            session, user.id, invitation.organisation_id, invitation.organisation_role
        )
        return
    if user.role is GlobalRole.admin and invitation.global_role is not GlobalRole.admin:
        raise Conflict("You are an admin already; an admin's role is changed by another admin")
    user.role = invitation.global_role
    session.add(user)


def decline(session: Session, token: str) -> InvitationAnswered:
    invitation = _from_token(session, token)
    invitation.status, invitation.answered_at = InvitationStatus.declined, utcnow()
    session.add(invitation)
    session.flush()
    return InvitationAnswered(invitation=to_public(invitation, utcnow()))
