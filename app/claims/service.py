"""Claiming a listed organisation: evidence in, a steward's decision out. On approval the
claimant becomes the organisation's admin. Registering an organisation that is already
listed points at this route instead (app/organisations/service.py)."""

import re
import uuid
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlmodel import Session

from app.accounts import service as accounts
from app.accounts.models import OrganisationRole
from app.accounts.principal import Principal
from app.claims.models import ClaimStatus, OrganisationClaim
from app.claims.schemas import ClaimCreate, ClaimPublic
from app.core.errors import Conflict, Forbidden, InvalidField, NotFound
from app.core.pagination import Page, PageParams, paginate
from app.core.types import utcnow
from app.notifications.events import EventType, emit
from app.organisations.models import Organisation


def _domains(organisation: Organisation) -> set[str]:
    found = set()
    if organisation.website:
        host = (urlsplit(organisation.website).hostname or "").lower()
        found.add(host.removeprefix("www."))
    if organisation.email:
        found.add(organisation.email.rsplit("@", 1)[-1].lower())
    return found - {""}


def submit(
    session: Session, principal: Principal, organisation: Organisation, body: ClaimCreate
) -> OrganisationClaim:
    if principal.kind != "user":
        raise Forbidden("People claim organisations, not API keys")
    if organisation.id in principal.memberships:
        raise Conflict("You are already a member of this organisation")
    if not (body.charity_number or body.company_number or body.role_email):
        raise InvalidField(
            "body.charity_number",
            "give a charity number, a company number or a role email as evidence",
            "missing",
        )
    for name in ("charity_number", "company_number"):
        given, listed = getattr(body, name), getattr(organisation, name)
        if given and listed and given != listed:
            raise InvalidField(f"body.{name}", "does not match the organisation's record")
    if body.role_email and (domains := _domains(organisation)):
        domain = body.role_email.rsplit("@", 1)[-1].lower()
        if not any(domain == d or domain.endswith("." + d) for d in domains):
            raise InvalidField(
                "body.role_email",
                f"is not at the organisation's domain ({', '.join(sorted(domains))})",
            )
    pending = select(OrganisationClaim.id).where(
        OrganisationClaim.organisation_id == organisation.id,
        OrganisationClaim.claimant_id == principal.id,
        OrganisationClaim.status == ClaimStatus.pending,
    )
    if session.execute(pending).first():
        raise Conflict("You already have a pending claim on this organisation")
    claim = OrganisationClaim(
        organisation_id=organisation.id,
        claimant_id=principal.id,
        **body.model_dump(),
        created_at=utcnow(),
    )
    session.add(claim)
    session.flush()
    emit(
        session,
        EventType.organisation_claimed,
        organisation_id=organisation.id,
        subject_id=claim.id,
        claim_id=claim.id,
        name=organisation.name,
    )
    return claim


def get(session: Session, principal: Principal, claim_id: uuid.UUID) -> OrganisationClaim:
    claim = session.get(OrganisationClaim, claim_id)
    if claim is None or not (principal.is_steward_or_admin or claim.claimant_id == principal.id):
        raise NotFound(f"No claim with id {claim_id}")
    return claim


def list_claims(
    session: Session, principal: Principal, status: ClaimStatus | None, params: PageParams
) -> Page[ClaimPublic]:
    statement = select(OrganisationClaim)
    if not principal.is_steward_or_admin:
        statement = statement.where(OrganisationClaim.claimant_id == principal.id)
    if status is not None:
        statement = statement.where(OrganisationClaim.status == status)
    ordered = statement.order_by(OrganisationClaim.created_at, OrganisationClaim.id)
    return paginate(session, ordered, params, ClaimPublic.model_validate)


def decide(
    session: Session,
    principal: Principal,
    claim: OrganisationClaim,
    approve: bool,
    reason: str | None = None,
) -> OrganisationClaim:
    if not principal.is_steward_or_admin:
        raise Forbidden("Stewards and admins decide claims")
    if claim.status is not ClaimStatus.pending:
        raise Conflict(f"The claim was already {claim.status}")
    claim.status = ClaimStatus.approved if approve else ClaimStatus.rejected
    claim.reason, claim.reviewed_at = reason, utcnow()
    claim.reviewed_by_id = principal.id if principal.kind == "user" else None
    session.add(claim)
    if approve:
        accounts.grant_membership(
            session, claim.claimant_id, claim.organisation_id, OrganisationRole.admin
        )
    session.flush()
    emit(
        session,
        EventType.account_claim_decided,
        organisation_id=None,
        subject_id=claim.id,
        user_id=claim.claimant_id,
        claim_id=claim.id,
        organisation_ref=claim.organisation_id,
        approved=approve,
    )
    return claim


_WORDS = re.compile(r"[^a-z0-9]+")
_NOISE = {"the", "ltd", "limited", "cic", "cio", "charity", "trust", "uk", "and"}


def normalised_name(name: str) -> str:
    """For catching duplicates: "The Easton Walkers Ltd." and "easton walkers" agree."""
    words = _WORDS.split(name.casefold().replace("&", " and "))
    return " ".join(w for w in words if w and w not in _NOISE)
