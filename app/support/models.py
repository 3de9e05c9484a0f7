"""Support needs (an organisation asks for help) and peer offers (it offers help)."""

import uuid
from datetime import datetime
from enum import StrEnum

from sqlmodel import Field, Index, SQLModel

from app.core.concurrency import version_column
from app.core.types import UTCDateTime, enum_type, id_field, utcnow


class Urgency(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"


class NeedVisibility(StrEnum):
    responders = "responders"  # stewards and commissioners (and admins) only
    peers = "peers"  # also other organisations, who may offer help


class NeedStatus(StrEnum):
    open = "open"
    acknowledged = "acknowledged"
    in_progress = "in_progress"
    resolved = "resolved"
    closed = "closed"


_version = version_column()


class SupportNeed(SQLModel, table=True):
    __tablename__ = "support_need"
    __audit__ = "support_need"
    __mapper_args__ = {"version_id_col": _version}
    __table_args__ = (Index("ix_support_need_status_created_at", "status", "created_at"),)

    id: uuid.UUID = id_field()
    organisation_id: uuid.UUID = Field(foreign_key="organisation.id", index=True)
    category_id: uuid.UUID = Field(foreign_key="taxonomy_term.id", index=True)
    urgency: Urgency = Field(sa_type=enum_type(Urgency))
    description: str = Field(max_length=2000)
    visibility: NeedVisibility = Field(sa_type=enum_type(NeedVisibility))
    status: NeedStatus = Field(default=NeedStatus.open, sa_type=enum_type(NeedStatus))
    raised_by_id: uuid.UUID | None = None
    handler_id: uuid.UUID | None = Field(default=None, foreign_key="user_account.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    acknowledged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    in_progress_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    version: int = Field(default=1, sa_column=_version)


class SupportMessage(SQLModel, table=True):
    """The need's thread: the organisation and its responders write to each other."""

    __tablename__ = "support_message"

    id: uuid.UUID = id_field()
    need_id: uuid.UUID = Field(foreign_key="support_need.id", index=True, ondelete="CASCADE")
    author_id: uuid.UUID | None = Field(default=None, foreign_key="user_account.id")
    author_side: str = Field(max_length=16, description="organisation or responder")
    body: str = Field(max_length=2000)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class SupportOffer(SQLModel, table=True):
    __tablename__ = "support_offer"
    __audit__ = "support_offer"

    id: uuid.UUID = id_field()
    organisation_id: uuid.UUID = Field(foreign_key="organisation.id", index=True)
    category_id: uuid.UUID = Field(foreign_key="taxonomy_term.id", index=True)
    description: str = Field(max_length=1000)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    withdrawn_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
