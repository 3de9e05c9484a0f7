import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, select

from app.accounts.principal import Principal
from app.audit.models import AuditEntry
from app.audit.schemas import AuditEntryPublic
from app.core.errors import Forbidden
from app.core.pagination import Page, PageParams, paginate


@dataclass(frozen=True)
class AuditFilters:
    object_type: str | None = None
    object_id: uuid.UUID | None = None
    actor_id: uuid.UUID | None = None
    organisation_id: uuid.UUID | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def list_entries(
    session: Session, principal: Principal, filters: AuditFilters, params: PageParams
) -> Page[AuditEntryPublic]:
    statement = select(AuditEntry)
    if not principal.is_steward_or_admin:
        # Organisation admins see their own organisations' entries and nothing else.
        if not principal.admin_of:
            raise Forbidden("The audit log is for stewards, admins and organisation admins")
        statement = statement.where(AuditEntry.organisation_id.in_(principal.admin_of))
    for column, value in (
        (AuditEntry.object_type, filters.object_type),
        (AuditEntry.object_id, filters.object_id),
        (AuditEntry.actor_id, filters.actor_id),
        (AuditEntry.organisation_id, filters.organisation_id),
        (AuditEntry.action, filters.action),
    ):
        if value is not None:
            statement = statement.where(column == value)
    if filters.since:
        statement = statement.where(AuditEntry.occurred_at >= filters.since)
    if filters.until:
        statement = statement.where(AuditEntry.occurred_at < filters.until)
    statement = statement.order_by(AuditEntry.occurred_at.desc(), AuditEntry.id)
    return paginate(session, statement, params, AuditEntryPublic.model_validate)
