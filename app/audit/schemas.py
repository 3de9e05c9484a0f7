import uuid
from datetime import datetime
from typing import Any

from sqlmodel import SQLModel

from app.core.pagination import Page


class AuditEntryPublic(SQLModel):
    id: uuid.UUID
    occurred_at: datetime
    actor_type: str
    actor_id: uuid.UUID | None
    action: str
    object_type: str
    object_id: uuid.UUID
    organisation_id: uuid.UUID | None
    changes: dict[str, Any]


class AuditPage(Page[AuditEntryPublic]):
    """One page of audit entries, newest first."""
