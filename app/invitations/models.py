"""An invitation to join an organisation (with an organisation role) or Signpost itself
(with a global role), sent to an email address. Nobody is added without accepting."""

import uuid
from datetime import datetime
from enum import StrEnum

from sqlmodel import Field, SQLModel

from app.accounts.models import GlobalRole, OrganisationRole
from app.core.types import UTCDateTime, created_at_field, enum_type, id_field


class InvitationStatus(StrEnum):
    pending = "pending"
    accepted = "accepted"
    declined = "declined"
    withdrawn = "withdrawn"


class Invitation(SQLModel, table=True):
    __tablename__ = "invitation"
    __audit__ = "invitation"
    __audit_redact__ = frozenset({"email"})

    id: uuid.UUID = id_field()
    email: str = Field(max_length=254, index=True)
    organisation_id: uuid.UUID | None = Field(
        default=None, foreign_key="organisation.id", index=True
    )
    organisation_role: OrganisationRole | None = Field(
        default=None, sa_type=enum_type(OrganisationRole)
    )
    global_role: GlobalRole | None = Field(default=None, sa_type=enum_type(GlobalRole))
    status: InvitationStatus = Field(
        default=InvitationStatus.pending, sa_type=enum_type(InvitationStatus)
    )
    invited_by_id: uuid.UUID | None = Field(
        default=None, foreign_key="user_account.id", ondelete="SET NULL"
    )
    accepted_by_id: uuid.UUID | None = Field(
        default=None, foreign_key="user_account.id", ondelete="SET NULL"
    )
    created_at: datetime = created_at_field()
    expires_at: datetime = Field(sa_type=UTCDateTime)
    answered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
