import uuid
from datetime import date, datetime

from sqlmodel import Field, SQLModel

from app.capacity.models import (
    CapacityBase,
    CapacityChangeCause,
    CapacityFields,
    CapacityStatus,
    PauseReason,
)
from app.core.pagination import Page
from app.core.schemas import patch_model_of

CapacityUpdate = patch_model_of(
    CapacityBase,
    "CapacityUpdate",
    examples=[
        {"maximum": 12, "available": 4, "weekly_referral_cap": 3, "when_full": "waitlist"},
        {
            "status": "paused",
            "pause_reason": "staff_capacity",
            "paused_until": "2027-01-04T09:00:00Z",
            "pause_note": "Back after the new year",
        },
        {"status": "open"},
    ],
)


class CapacityPublic(CapacityFields):
    """HSDS 3.1 service_capacity (unit, available, maximum, updated) and Signpost's
    referral controls. ``status`` is the effective status (see ``declared_status``)."""

    activity_id: uuid.UUID
    status: CapacityStatus = Field(
        description="Effective status: what the organisation declared, refined by places, "
        "the weekly cap and the pause's end"
    )
    status_reason: str | None = Field(description="Why it is not open, in words")
    declared_status: CapacityStatus = Field(description="The status the organisation set")
    accepting_referrals: bool = Field(description="True when status is open or waitlist")
    referrals_this_week: int = Field(description="Referrals received this week, for the cap")
    week_starting: date = Field(description="The Monday the current week started")
    updated: datetime = Field(description="When capacity last changed (HSDS `updated`)")
    version: int


class CapacitySummary(SQLModel):
    """What a listing shows of capacity."""

    status: CapacityStatus
    status_reason: str | None
    unit: str
    available: int | None
    maximum: int | None
    waiting_list_length: int
    paused_until: datetime | None
    updated: datetime


class CapacityChangePublic(SQLModel):
    id: uuid.UUID
    activity_id: uuid.UUID
    recorded_at: datetime
    cause: CapacityChangeCause
    status: CapacityStatus = Field(description="Effective status after the change")
    maximum: int | None
    available: int | None
    waiting_list_length: int
    weekly_referral_cap: int | None
    referrals_this_week: int
    pause_reason: PauseReason | None
    paused_until: datetime | None


class CapacityChangePage(Page[CapacityChangePublic]):
    """One page of capacity history, newest first."""
