"""Assurance: the safety evidence an organisation keeps on record, item by item, each with
its own dates and a steward's review.

An item's status is derived when read (app/assurance/rules.py), so it is right between
``signpost assurance-sweep`` runs: ``lapses_on`` (the insurance or training expiry, or the
policy review date) against today.
"""

import uuid
from datetime import date, datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, Index, SQLModel

from app.core.concurrency import version_column
from app.core.types import UTCDateTime, enum_type, id_field, utcnow


class AssuranceKind(StrEnum):
    safeguarding_policy = "safeguarding_policy"
    safeguarding_lead = "safeguarding_lead"
    dbs_checks = "dbs_checks"
    public_liability_insurance = "public_liability_insurance"
    ico_registration = "ico_registration"
    data_protection_policy = "data_protection_policy"
    training = "training"


class DbsApproach(StrEnum):
    enhanced_for_all = "enhanced_for_all"
    enhanced_for_regulated_roles = "enhanced_for_regulated_roles"
    basic_for_all = "basic_for_all"
    not_required = "not_required"


class ReviewStatus(StrEnum):
    pending = "pending"
    verified = "verified"
    rejected = "rejected"


_version = version_column()


class AssuranceItem(SQLModel, table=True):
    __tablename__ = "assurance_item"
    __audit__ = "assurance_item"
    __mapper_args__ = {"version_id_col": _version}
    __table_args__ = (
        # One record per kind per organisation, except training (one per course).
        Index(
            "uq_assurance_item_organisation_kind",
            "organisation_id",
            "kind",
            unique=True,
            sqlite_where=sa.text("kind <> 'training'"),
            postgresql_where=sa.text("kind <> 'training'"),
        ),
        Index("ix_assurance_item_review_status", "review_status"),
    )

    id: uuid.UUID = id_field()
    organisation_id: uuid.UUID = Field(foreign_key="organisation.id", index=True)
    kind: AssuranceKind = Field(sa_type=enum_type(AssuranceKind))
    # Kind-specific facts (which apply to which kind: app/assurance/schemas.py).
    has_policy: bool | None = None
    last_reviewed_on: date | None = None
    review_due_on: date | None = None
    role_title: str | None = Field(default=None, max_length=100)
    dbs_approach: DbsApproach | None = Field(default=None, sa_type=enum_type(DbsApproach))
    insurer: str | None = Field(default=None, max_length=200)
    cover_amount: int | None = None
    registration_number: str | None = Field(default=None, max_length=20)
    training_type_id: uuid.UUID | None = Field(default=None, foreign_key="taxonomy_term.id")
    staff_trained: int | None = None
    volunteers_trained: int | None = None
    completed_on: date | None = None
    expires_on: date | None = None
    evidence_reference: str | None = Field(default=None, max_length=500)
    evidence_note: str = Field(default="", max_length=1000)
    # Derived on write: the day after which the item no longer counts (null: never lapses).
    lapses_on: date | None = Field(default=None, index=True)
    review_status: ReviewStatus = Field(
        default=ReviewStatus.pending, sa_type=enum_type(ReviewStatus)
    )
    rejection_reason: str | None = Field(default=None, max_length=1000)
    reviewed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    reviewed_by_id: uuid.UUID | None = None
    expiry_recorded_on: date | None = None
    submitted_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    version: int = Field(default=1, sa_column=_version)
