import uuid
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Query

from app.accounts.deps import Authenticated
from app.audit import service
from app.audit.schemas import AuditPage
from app.core.db import StatementSessionDep
from app.core.errors import problem_responses
from app.core.inputs import Instant
from app.core.pagination import PageDep

router = APIRouter(prefix="/v1/audit", tags=["audit"])


class AuditAction(StrEnum):
    create = "create"
    update = "update"
    archive = "archive"
    delete = "delete"
    read = "read"  # personal data was read (referral contact details and notes)
    transition = "transition"  # a referral moved from one status to another
    purge = "purge"  # personal data deleted at the end of its retention period


class AuditObjectType(StrEnum):
    """Every kind of object the audit log records (each model's ``__audit__``, and the
    referral and support message events recorded by hand)."""

    organisation = "organisation"
    venue = "venue"
    activity = "activity"
    capacity = "capacity"
    closure = "closure"
    referral = "referral"
    wellbeing_score = "wellbeing_score"
    assurance_item = "assurance_item"
    support_need = "support_need"
    support_message = "support_message"
    support_offer = "support_offer"
    user = "user"
    membership = "membership"
    api_key = "api_key"
    invitation = "invitation"
    organisation_claim = "organisation_claim"
    team = "team"
    area = "area"
    taxonomy_term = "taxonomy_term"
    external_term = "external_term"
    webhook = "webhook"


@router.get("", responses=problem_responses(401, 403, 422))
def list_audit_entries(
    session: StatementSessionDep,
    principal: Authenticated,
    page: PageDep,
    object_type: AuditObjectType | None = None,
    object_id: uuid.UUID | None = None,
    actor_id: Annotated[uuid.UUID | None, Query(description="A user's or API key's id")] = None,
    organisation: uuid.UUID | None = None,
    action: AuditAction | None = None,
    since: Annotated[Instant | None, Query(description="At or after (ISO 8601)")] = None,
    until: Annotated[Instant | None, Query(description="Before (ISO 8601)")] = None,
) -> AuditPage:
    """Who changed what and when, newest first. Stewards and admins see everything;
    organisation admins see their own organisations' entries."""
    filters = service.AuditFilters(
        object_type=object_type,
        object_id=object_id,
        actor_id=actor_id,
        organisation_id=organisation,
        action=action,
        since=since,
        until=until,
    )
    return service.list_entries(session, principal, filters, page)
