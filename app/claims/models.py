"""A person's claim to run an organisation that is already listed (imported, or created by
a steward), with evidence; a steward approves (they become its admin) or rejects it."""

import uuid
from datetime import datetime
from enum import StrEnum

from sqlmodel import Field, SQLModel

from app.core.types import UTCDateTime, created_at_field, enum_type, id_field


class ClaimStatus(StrEnum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"


class OrganisationClaim(SQLModel, table=True):
    __tablename__ = "organisation_claim"
    __audit__ = "organisation_claim"
    __audit_redact__ = frozenset({"role_email", "note"})

    id: uuid.UUID = id_field()
    organisation_id: uuid.UUID = Field(foreign_key="organisation.id", index=True)
    claimant_id: uuid.UUID = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    status: ClaimStatus = Field(default=ClaimStatus.pending, sa_type=enum_type(ClaimStatus))
    charity_number: str | None = Field(default=None, max_length=16)
    company_number: str | None = Field(default=None, max_length=8)
    role_email: str | None = Field(default=None, max_length=254)
    note: str = Field(default="", max_length=1000)
    reason: str | None = Field(default=None, max_length=1000)
    reviewed_by_id: uuid.UUID | None = Field(
        default=None, foreign_key="user_account.id", ondelete="SET NULL"
    )
    created_at: datetime = created_at_field()
    reviewed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
