"""The outbox and what leaves it: events written with the change that caused them, and one
delivery per recipient (a user's email or a webhook), retried until delivered or failed."""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, Index, SQLModel

from app.core.types import JSONColumn, UTCDateTime, created_at_field, enum_type, id_field


class OutboxEvent(SQLModel, table=True):
    """Something happened. Written in the transaction of the change itself, so it exists
    exactly when the change committed; the worker fans it out into deliveries."""

    __tablename__ = "outbox_event"
    __table_args__ = (
        Index(
            "ix_outbox_event_undispatched",
            "created_at",
            postgresql_where=sa.text("dispatched_at IS NULL"),
            sqlite_where=sa.text("dispatched_at IS NULL"),
        ),
        # "Was this listing already nudged since it was last confirmed?" (the sweeps)
        Index("ix_outbox_event_subject_id_type", "subject_id", "type"),
    )

    id: uuid.UUID = id_field()
    type: str = Field(max_length=64)
    # The organisation the event is about: whose webhooks may hear of it (null: admins').
    organisation_id: uuid.UUID | None = Field(default=None, index=True)
    subject_id: uuid.UUID | None = None
    # Sweeps emit once per occasion: a second emit with the same key is skipped.
    dedupe_key: str | None = Field(default=None, max_length=200, unique=True)
    # Ids, states and names of organisations and activities; never personal data.
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=JSONColumn)
    created_at: datetime = created_at_field()
    dispatched_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Channel(StrEnum):
    email = "email"
    webhook = "webhook"


class DeliveryStatus(StrEnum):
    pending = "pending"
    delivered = "delivered"
    failed = "failed"  # dead letter: out of attempts, or its webhook was disabled


class Delivery(SQLModel, table=True):
    """One event to one recipient. The worker claims due deliveries with a lease (row locks
    skipped by other workers on PostgreSQL), delivers outside any transaction, then records
    the outcome."""

    __tablename__ = "notification_delivery"
    __table_args__ = (
        Index("ix_notification_delivery_due", "status", "next_attempt_at"),
        Index("ix_notification_delivery_webhook_id_created_at", "webhook_id", "created_at"),
    )

    id: uuid.UUID = id_field()
    event_id: uuid.UUID = Field(foreign_key="outbox_event.id", index=True, ondelete="CASCADE")
    channel: Channel = Field(sa_type=enum_type(Channel))
    user_id: uuid.UUID | None = Field(
        default=None, foreign_key="user_account.id", index=True, ondelete="CASCADE"
    )
    webhook_id: uuid.UUID | None = Field(default=None, foreign_key="webhook.id", ondelete="CASCADE")
    # An invitation's email goes to its address, which may have no account yet.
    invitation_id: uuid.UUID | None = Field(
        default=None, foreign_key="invitation.id", ondelete="CASCADE"
    )
    digest: bool = False  # an email held for the recipient's daily digest
    status: DeliveryStatus = Field(
        default=DeliveryStatus.pending, sa_type=enum_type(DeliveryStatus)
    )
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_type=UTCDateTime)
    claimed_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    claimed_by: str | None = Field(default=None, max_length=64)
    # What went wrong last, in our words: an HTTP status, a timeout, an SMTP reply code.
    last_error: str | None = Field(default=None, max_length=300)
    response_status: int | None = None
    created_at: datetime = created_at_field()
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class DeliveryMode(StrEnum):
    immediately = "immediately"
    daily_digest = "daily_digest"
    off = "off"


class NotificationPreference(SQLModel, table=True):
    """How a user hears of one kind of event by email; no row means immediately."""

    __tablename__ = "notification_preference"

    user_id: uuid.UUID = Field(foreign_key="user_account.id", primary_key=True, ondelete="CASCADE")
    event_type: str = Field(max_length=64, primary_key=True)
    mode: DeliveryMode = Field(sa_type=enum_type(DeliveryMode))


class Webhook(SQLModel, table=True):
    """An endpoint that hears of chosen events: an organisation's (about that organisation
    only) or, with no organisation, an admin's (about everything)."""

    __tablename__ = "webhook"
    __audit__ = "webhook"
    __audit_redact__ = frozenset({"secret"})

    id: uuid.UUID = id_field()
    organisation_id: uuid.UUID | None = Field(
        default=None, foreign_key="organisation.id", index=True
    )
    created_by_id: uuid.UUID | None = Field(
        default=None, foreign_key="user_account.id", ondelete="SET NULL"
    )
    url: str = Field(max_length=2000)
    description: str = Field(default="", max_length=200)
    event_types: list[str] = Field(sa_type=JSONColumn)
    # The signing secret (whsec_…), encrypted with the data keys: we must sign with it.
    secret: str = Field(sa_type=sa.Text)
    is_active: bool = True
    consecutive_failures: int = 0
    disabled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    disabled_reason: str | None = Field(default=None, max_length=300)
    created_at: datetime = created_at_field()
    updated_at: datetime = created_at_field()


class UsedToken(SQLModel, table=True):
    """Single-use links (the "still accurate" button): a token's id once it has been used,
    kept until the token would have expired anyway."""

    __tablename__ = "used_token"

    jti: str = Field(primary_key=True, max_length=64)
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)
