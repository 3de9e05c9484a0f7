"""People and machines that act on Signpost, and what they may do."""

import uuid
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel, UniqueConstraint

from app.core.types import JSONColumn, UTCDateTime, created_at_field, enum_type, id_field


class GlobalRole(StrEnum):
    link_worker = "link_worker"
    steward = "steward"
    commissioner = "commissioner"
    admin = "admin"


class OrganisationRole(StrEnum):
    editor = "editor"
    admin = "admin"


class User(SQLModel, table=True):
    __tablename__ = "user_account"
    __audit__ = "user"
    __audit_redact__ = frozenset({"email", "display_name", "password_hash"})

    id: uuid.UUID = id_field()
    email: str = Field(max_length=254, unique=True)
    display_name: str = Field(max_length=100)
    password_hash: str = Field(max_length=255)
    role: GlobalRole | None = Field(default=None, sa_type=enum_type(GlobalRole))
    is_active: bool = True
    # Set when the person proved the address (sign-up's link); null for accounts made by
    # an admin. A signed-up account stays inactive until then.
    email_verified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Signed up and not yet confirmed: only such an account may be activated by the link
    # (one an admin switched off stays off).
    awaiting_verification: bool = Field(
        default=False, sa_column_kwargs={"server_default": sa.false()}
    )
    # Part of every access token; raised when the password changes, ending older tokens.
    token_version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    last_login_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Areas a commissioner's reports are limited to (area ids as text); empty: no limit.
    area_ids: list[str] = Field(
        default_factory=list, sa_type=JSONColumn, sa_column_kwargs={"server_default": "[]"}
    )
    created_at: datetime = created_at_field()


class Membership(SQLModel, table=True):
    __tablename__ = "membership"
    __table_args__ = (UniqueConstraint("user_id", "organisation_id"),)
    __audit__ = "membership"

    id: uuid.UUID = id_field()
    user_id: uuid.UUID = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    organisation_id: uuid.UUID = Field(foreign_key="organisation.id", index=True)
    role: OrganisationRole = Field(sa_type=enum_type(OrganisationRole))
    created_at: datetime = created_at_field()


class ApiKey(SQLModel, table=True):
    """A machine client's key. Only a hash of the secret is kept; the prefix identifies it."""

    __tablename__ = "api_key"
    __audit__ = "api_key"
    __audit_redact__ = frozenset({"secret_hash"})

    id: uuid.UUID = id_field()
    name: str = Field(max_length=100)
    prefix: str = Field(max_length=16, unique=True)
    secret_hash: str = Field(max_length=64)
    role: GlobalRole | None = Field(default=None, sa_type=enum_type(GlobalRole))
    organisation_id: uuid.UUID | None = Field(default=None, foreign_key="organisation.id")
    organisation_role: OrganisationRole | None = Field(
        default=None, sa_type=enum_type(OrganisationRole)
    )
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_by_id: uuid.UUID | None = Field(default=None, foreign_key="user_account.id")
    # Areas a commissioner's reports are limited to (area ids as text); empty: no limit.
    area_ids: list[str] = Field(
        default_factory=list, sa_type=JSONColumn, sa_column_kwargs={"server_default": "[]"}
    )
    created_at: datetime = created_at_field()


class SignInThrottle(SQLModel, table=True):
    """Failed sign-ins per account or address, keyed by a hash (no email stored)."""

    __tablename__ = "sign_in_throttle"

    key: str = Field(primary_key=True, max_length=80)
    failures: int = 0
    window_started_at: datetime = Field(sa_type=UTCDateTime)
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
