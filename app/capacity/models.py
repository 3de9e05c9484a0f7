"""Capacity per activity (HSDS 3.1 service_capacity plus Signpost's referral controls) and
its history.

The organisation sets ``status``; what link workers see is the *effective* status
(app/capacity/rules.py), which also follows places, the weekly cap and the pause's end.
"""

import uuid
from datetime import date, datetime
from enum import StrEnum

from pydantic import model_validator
from sqlalchemy import CheckConstraint, Index
from sqlmodel import Field, SQLModel

from app.core.concurrency import version_column
from app.core.inputs import Instant
from app.core.types import JSONColumn, UTCDateTime, enum_type, id_field, utcnow


class CapacityStatus(StrEnum):
    """Maps to FHIR SDOH capacity codes: open → capacity, waitlist → waitlist,
    paused and closed → no-capacity."""

    open = "open"
    waitlist = "waitlist"
    paused = "paused"
    closed = "closed"


class PauseReason(StrEnum):
    staff_capacity = "staff_capacity"
    venue_closed = "venue_closed"
    holiday = "holiday"
    funding = "funding"
    other = "other"


class WhenFull(StrEnum):
    """What happens to new referrals when places run out or the weekly cap is reached."""

    waitlist = "waitlist"
    refuse = "refuse"


class PlaceRelease(StrEnum):
    """Referral outcomes that give an accepted referral's place back."""

    did_not_attend = "did_not_attend"
    completed = "completed"
    withdrawn = "withdrawn"


class CapacityChangeCause(StrEnum):
    created = "created"
    updated = "updated"
    referral_received = "referral_received"
    waitlisted = "waitlisted"
    left_waitlist = "left_waitlist"
    place_taken = "place_taken"
    place_released = "place_released"
    pause_ended = "pause_ended"


class CapacityFields(SQLModel):
    """What an organisation sets."""

    status: CapacityStatus = Field(
        default=CapacityStatus.open,
        sa_type=enum_type(CapacityStatus),
        description="open, waitlist (new referrals join the waiting list), paused or closed",
    )
    unit: str = Field(
        default="places", min_length=1, max_length=50, description='HSDS unit, e.g. "places"'
    )
    maximum: int | None = Field(default=None, ge=0, le=100_000, description="Places in all")
    available: int | None = Field(
        default=None,
        ge=0,
        le=100_000,
        description="Places free now; accepting a referral takes one. Null: not counted",
    )
    waiting_list_length: int = Field(default=0, ge=0, le=100_000)
    weekly_referral_cap: int | None = Field(
        default=None,
        ge=1,
        le=10_000,
        description="New referrals taken per week (Monday to Sunday, UK time); null: no cap",
    )
    when_full: WhenFull = Field(
        default=WhenFull.waitlist,
        sa_type=enum_type(WhenFull),
        description="When places run out or the cap is reached: waitlist new referrals, "
        "or refuse them",
    )
    release_places_on: list[PlaceRelease] = Field(
        default_factory=lambda: list(PlaceRelease),
        sa_type=JSONColumn,
        max_length=len(PlaceRelease),
        description="Referral outcomes that give an accepted referral's place back",
    )
    paused_until: Instant | None = Field(
        default=None,
        sa_type=UTCDateTime,
        description="With status paused: when the pause ends by itself (null: until resumed)",
    )
    pause_reason: PauseReason | None = Field(default=None, sa_type=enum_type(PauseReason))
    pause_note: str = Field(default="", max_length=500)


class CapacityBase(CapacityFields):
    """The settings, checked as a whole."""

    @model_validator(mode="after")
    def _consistent(self):
        if (
            self.maximum is not None
            and self.available is not None
            and self.available > self.maximum
        ):
            raise ValueError("available must not be greater than maximum")
        if self.status is CapacityStatus.paused and self.pause_reason is None:
            raise ValueError("pause_reason is required when status is paused")
        if self.status is not CapacityStatus.paused and (
            self.paused_until is not None or self.pause_reason is not None
        ):
            raise ValueError("paused_until and pause_reason go with status paused only")
        return self


_version = version_column()


class ActivityCapacity(CapacityBase, table=True):
    """One row per activity, created with it."""

    __tablename__ = "activity_capacity"
    __audit__ = "capacity"
    __mapper_args__ = {"version_id_col": _version}
    __table_args__ = (
        # The last line of defence against overbooking: the database itself refuses.
        CheckConstraint("available >= 0", name="available_not_negative"),
        CheckConstraint("waiting_list_length >= 0", name="waiting_list_not_negative"),
        CheckConstraint("referrals_this_week >= 0", name="week_count_not_negative"),
    )

    activity_id: uuid.UUID = Field(foreign_key="activity.id", primary_key=True, ondelete="CASCADE")
    organisation_id: uuid.UUID = Field(foreign_key="organisation.id", index=True)
    # The weekly cap's counter: referrals received in the week (Monday, UK time) starting here.
    week_starting: date | None = None
    referrals_this_week: int = 0
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    version: int = Field(default=1, sa_column=_version)

    @property
    def id(self) -> uuid.UUID:  # the audit log files capacity under its activity
        return self.activity_id


class CapacityChange(SQLModel, table=True):
    """A snapshot after every change, by people or by referrals: capacity over time."""

    __tablename__ = "capacity_change"
    __table_args__ = (
        Index("ix_capacity_change_activity_id_recorded_at", "activity_id", "recorded_at"),
    )

    id: uuid.UUID = id_field()
    activity_id: uuid.UUID = Field(foreign_key="activity.id", ondelete="CASCADE")
    organisation_id: uuid.UUID = Field(foreign_key="organisation.id", index=True)
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    cause: CapacityChangeCause = Field(sa_type=enum_type(CapacityChangeCause))
    status: CapacityStatus = Field(sa_type=enum_type(CapacityStatus))
    maximum: int | None = None
    available: int | None = None
    waiting_list_length: int = 0
    weekly_referral_cap: int | None = None
    referrals_this_week: int = 0
    pause_reason: PauseReason | None = Field(default=None, sa_type=enum_type(PauseReason))
    paused_until: Instant | None = Field(default=None, sa_type=UTCDateTime)
