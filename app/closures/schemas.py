import uuid
from datetime import date

from pydantic import Field, ValidationInfo, field_validator
from sqlmodel import SQLModel

from app.closures.models import REASON_EXAMPLE, ClosureBase
from app.core.inputs import Day
from app.core.schemas import RequestModel

LONGEST_DAYS = 366


class ClosureCreate(RequestModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {"starts_on": "2026-12-24", "ends_on": "2027-01-02", "reason": REASON_EXAMPLE},
                {"activity_id": "8d1f4c2a-6b0e-4f7a-9c3d-2e5b7a1c9f04", "starts_on": "2027-05-05"},
            ]
        }
    }

    activity_id: uuid.UUID | None = Field(
        default=None, description="One of the organisation's activities; omit to close them all"
    )
    starts_on: Day = Field(description="First day closed (UK date)")
    ends_on: Day | None = Field(
        default=None, description="Last day closed, inclusive; omit for a single date"
    )
    reason: str = Field(default="", max_length=200, examples=[REASON_EXAMPLE])

    @field_validator("ends_on")
    @classmethod
    def _after_start(cls, ends_on: date | None, info: ValidationInfo) -> date | None:
        starts_on = info.data.get("starts_on")
        if ends_on is None or starts_on is None:
            return ends_on
        if ends_on < starts_on:
            raise ValueError("must not be before starts_on")
        if (ends_on - starts_on).days >= LONGEST_DAYS:
            raise ValueError(
                f"a closure lasts at most {LONGEST_DAYS} days; for longer, set the activity's "
                "status to inactive"
            )
        return ends_on

    @property
    def last_day(self) -> date:
        return self.ends_on or self.starts_on


class ClosurePublic(ClosureBase):
    id: uuid.UUID
    activity_id: uuid.UUID | None = Field(description="Null: the whole organisation")


class ClosureNotice(SQLModel):
    """A stretch of days without sessions, said as a link worker would say it."""

    kind: str = Field(description="`closure`, `bank_holiday` or `pause`", examples=["closure"])
    starts_on: date
    ends_on: date | None = Field(description="Inclusive; null: paused until further notice")
    reason: str = Field(examples=["Closed for Christmas"])
    summary: str = Field(examples=["No session 24 Dec \N{EN DASH} 2 Jan (Closed for Christmas)"])
