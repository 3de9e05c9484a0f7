import uuid
from datetime import datetime

from sqlmodel import Field, SQLModel

from app.core.types import JSONColumn, UTCDateTime, id_field, utcnow


class AuditEntry(SQLModel, table=True):
    """One write: who (user, API key or system), when, what, and each field before/after.

    Append-only: nothing in the API updates or deletes these rows.
    """

    __tablename__ = "audit_entry"

    id: uuid.UUID = id_field()
    occurred_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    actor_type: str = Field(max_length=16)
    actor_id: uuid.UUID | None = Field(default=None, index=True)
    action: str = Field(max_length=16)
    object_type: str = Field(max_length=32, index=True)
    object_id: uuid.UUID = Field(index=True)
    organisation_id: uuid.UUID | None = Field(default=None, index=True)
    changes: dict = Field(default_factory=dict, sa_type=JSONColumn)
