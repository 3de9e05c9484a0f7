"""Referrals: a link worker refers a person to an activity, and the loop is closed.

Personal data (the link worker's person reference, the contact details the provider needs
and free-text notes) lives only in ``personal_data`` / ``note``, encrypted with Fernet
(app/core/crypto.py), and is deleted by ``signpost purge`` after the retention period. What
stays is anonymous: activity, organisation, dates, states, needs.
"""

import uuid
from datetime import date, datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, Index, SQLModel

from app.core.types import UTCDateTime, enum_type, id_field, utcnow


class ReferralStatus(StrEnum):
    sent = "sent"
    accepted = "accepted"
    declined = "declined"
    waitlisted = "waitlisted"
    expired = "expired"
    attended = "attended"
    did_not_attend = "did_not_attend"
    completed = "completed"
    withdrawn = "withdrawn"


class DeclineReason(StrEnum):
    no_capacity = "no_capacity"
    not_eligible = "not_eligible"
    needs_not_met = "needs_not_met"
    unable_to_contact = "unable_to_contact"
    person_declined = "person_declined"
    duplicate = "duplicate"
    other = "other"


class Referral(SQLModel, table=True):
    __tablename__ = "referral"
    __table_args__ = (
        Index("ix_referral_organisation_id_created_at", "organisation_id", "created_at"),
        Index("ix_referral_referrer_id_created_at", "referrer_id", "created_at"),
        Index("ix_referral_status_respond_by", "status", "respond_by"),
    )

    id: uuid.UUID = id_field()
    activity_id: uuid.UUID = Field(foreign_key="activity.id", index=True)
    organisation_id: uuid.UUID = Field(foreign_key="organisation.id")
    referrer_id: uuid.UUID | None = Field(
        default=None, foreign_key="user_account.id", ondelete="SET NULL"
    )
    status: ReferralStatus = Field(sa_type=enum_type(ReferralStatus))
    decline_reason: DeclineReason | None = Field(default=None, sa_type=enum_type(DeclineReason))
    holds_place: bool = False
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    respond_by: datetime = Field(sa_type=UTCDateTime)
    status_changed_at: datetime = Field(sa_type=UTCDateTime, index=True)
    first_response_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    accepted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    consent_confirmed_at: datetime = Field(sa_type=UTCDateTime)
    # Fernet token of {person_reference, contact, note}; null once purged.
    personal_data: str | None = Field(default=None, sa_type=sa.Text)
    # A keyed hash of the person reference (app.referrals.person.reference_hash), so a
    # link worker finds a person's referrals without decrypting every row; cleared with
    # the personal data.
    person_ref_hash: str | None = Field(default=None, max_length=64, index=True)
    purged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The ONS4 change (completion, else the follow-up, minus the baseline), kept here by
    # app/referrals/wellbeing.record so that the referrals report averages it without
    # joining the answers; null until there are two.
    life_satisfaction_change: int | None = None
    worthwhile_change: int | None = None
    happiness_change: int | None = None
    anxiety_change: int | None = None


class ReferralNeed(SQLModel, table=True):
    __tablename__ = "referral_need"
    __table_args__ = (Index("ix_referral_need_term_id", "term_id"),)

    referral_id: uuid.UUID = Field(foreign_key="referral.id", primary_key=True, ondelete="CASCADE")
    term_id: uuid.UUID = Field(foreign_key="taxonomy_term.id", primary_key=True)


class ReferralEvent(SQLModel, table=True):
    """One status change: from, to, who, when, and why."""

    __tablename__ = "referral_event"

    id: uuid.UUID = id_field()
    referral_id: uuid.UUID = Field(foreign_key="referral.id", index=True, ondelete="CASCADE")
    occurred_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    from_status: ReferralStatus | None = Field(default=None, sa_type=enum_type(ReferralStatus))
    to_status: ReferralStatus = Field(sa_type=enum_type(ReferralStatus))
    actor_type: str = Field(max_length=16, description="user, api_key or system")
    actor_id: uuid.UUID | None = None
    reason: str | None = Field(default=None, max_length=64)
    # Fernet token of the free-text note, if any; null once purged.
    note: str | None = Field(default=None, sa_type=sa.Text)


class WellbeingStage(StrEnum):
    """When ONS4 was asked: at referral, at an agreed follow-up, at completion."""

    baseline = "baseline"
    follow_up = "follow_up"
    completion = "completion"


class Ons4(SQLModel):
    """The ONS personal wellbeing questions (ONS4), each answered 0 to 10."""

    life_satisfaction: int = Field(
        ge=0, le=10, description="Overall, how satisfied are you with your life nowadays?"
    )
    worthwhile: int = Field(
        ge=0,
        le=10,
        description="Overall, to what extent do you feel that the things you do in your life "
        "are worthwhile?",
    )
    happiness: int = Field(ge=0, le=10, description="Overall, how happy did you feel yesterday?")
    anxiety: int = Field(
        ge=0,
        le=10,
        description="Overall, how anxious did you feel yesterday? (0 not at all, 10 "
        "completely: lower is better)",
    )


ONS4_QUESTIONS = tuple(Ons4.model_fields)


class WellbeingScore(Ons4, table=True):
    """One ONS4 measurement of a referral's person, at most one per stage (a later
    follow-up replaces the earlier). The scores say nothing of who the person is; they
    stay after the referral's personal data is purged, for the outcomes report."""

    __tablename__ = "wellbeing_score"
    __table_args__ = (sa.UniqueConstraint("referral_id", "stage"),)
    __audit__ = "wellbeing_score"
    __audit_redact__ = ONS4_QUESTIONS  # the log says who recorded when, not the answers

    id: uuid.UUID = id_field()
    referral_id: uuid.UUID = Field(foreign_key="referral.id", ondelete="CASCADE")
    stage: WellbeingStage = Field(sa_type=enum_type(WellbeingStage, 16))
    organisation_id: uuid.UUID = Field(foreign_key="organisation.id", index=True)
    measured_on: date
    recorded_by_id: uuid.UUID | None = Field(
        default=None, foreign_key="user_account.id", ondelete="SET NULL"
    )
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
