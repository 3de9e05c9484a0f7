import re
import uuid
from datetime import datetime

from pydantic import Field, field_validator, model_validator
from sqlmodel import SQLModel

from app.activities.freshness import Freshness
from app.activities.models import ActivityBase, Frequency, ScheduleBase
from app.assurance.rules import AssuranceLevel
from app.capacity.schemas import CapacitySummary
from app.closures.schemas import ClosurePublic
from app.core.inputs import Instant
from app.core.pagination import Page
from app.core.schemas import RequestModel, patch_model_of
from app.core.types import utcnow
from app.organisations.schemas import OrganisationSummary
from app.referrals.responsiveness import Responsiveness
from app.venues.schemas import VenueSummary
from app.vocabulary.schemas import TermSummary

_WEEKDAY = r"(MO|TU|WE|TH|FR|SA|SU)"
_BYDAY = {
    Frequency.weekly: re.compile(rf"^{_WEEKDAY}(,{_WEEKDAY})*$"),
    Frequency.monthly: re.compile(rf"^-?[1-5]{_WEEKDAY}(,-?[1-5]{_WEEKDAY})*$"),
}


class ScheduleIn(RequestModel, ScheduleBase):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "freq": "WEEKLY",
                    "byday": "TU",
                    "opens_at": "10:00",
                    "closes_at": "12:00",
                    "description": "Tuesday mornings in term time",
                }
            ]
        }
    }

    @model_validator(mode="after")
    def _consistent(self):
        if not _BYDAY[self.freq].match(self.byday):
            shape = '"MO,TH"' if self.freq is Frequency.weekly else '"1TU" or "-1FR"'
            raise ValueError(
                f"byday {self.byday!r} does not fit freq {self.freq.value}; use {shape}"
            )
        if self.closes_at <= self.opens_at:
            raise ValueError("closes_at must be after opens_at")
        if self.valid_from and self.valid_to and self.valid_to < self.valid_from:
            raise ValueError("valid_to must not be before valid_from")
        return self


class SchedulePublic(ScheduleBase):
    id: uuid.UUID


EXAMPLE = {
    "organisation_id": "3f0c9a52-8a3e-4d7e-9a43-6c1f2b9d7e11",
    "name": "Tuesday Singing for Wellbeing",
    "description": "Warm-ups, easy songs and a cup of tea. No need to read music.",
    "eligibility_description": "Adults living in east Bristol",
    "minimum_age": 18,
    "suits": "People who feel lonely or low and enjoy music",
    "does_not_suit": "Not a crisis service",
    "delivery_modes": ["in_person"],
    "access_modes": ["referral", "drop_in"],
    "cost_type": "donation",
    "cost_description": "Suggested donation £2",
    "languages": ["en"],
    "funding_source": "grant",
    "schedules": [{"freq": "WEEKLY", "byday": "TU", "opens_at": "10:00", "closes_at": "12:00"}],
    "term_ids": [],
    "venue_ids": [],
}


class ActivityLinks(RequestModel):
    schedules: list[ScheduleIn] = Field(default_factory=list, max_length=20)
    term_ids: list[uuid.UUID] = Field(
        default_factory=list, max_length=50, description="Category and need terms"
    )
    venue_ids: list[uuid.UUID] = Field(default_factory=list, max_length=20)


class ActivityCreate(ActivityLinks, ActivityBase):
    model_config = {"json_schema_extra": {"examples": [EXAMPLE]}}

    organisation_id: uuid.UUID
    last_confirmed_at: Instant | None = Field(
        default=None,
        description="When the listing was last confirmed accurate; default now; never later",
    )

    @field_validator("last_confirmed_at")
    @classmethod
    def _not_in_future(cls, value: datetime | None) -> datetime | None:
        if value is not None and value > utcnow():
            raise ValueError("cannot be in the future")
        return value


ActivityUpdate = patch_model_of(
    ActivityCreate,
    "ActivityUpdate",
    exclude=frozenset({"organisation_id", "last_confirmed_at"}),
    examples=[
        {
            "status": "temporarily closed",
            "schedules": [
                {"freq": "MONTHLY", "byday": "1TH", "opens_at": "18:30", "closes_at": "20:00"}
            ],
        }
    ],
)


class ActivityCard(ActivityBase):
    """What a listing shows of an activity that does not change with the clock: stored per
    activity (``activity_card``) and completed per request (``ActivityPublic``)."""

    id: uuid.UUID
    organisation: OrganisationSummary
    last_confirmed_at: datetime
    schedules: list[SchedulePublic]
    terms: list[TermSummary]
    venues: list[VenueSummary]
    closures: list[ClosurePublic] = Field(
        description="Closures not yet over, its own and its organisation's: no sessions on "
        "those days (POST /v1/organisations/{id}/closures)"
    )
    created_at: datetime
    updated_at: datetime
    archived_at: datetime | None
    version: int


class ActivityPublic(ActivityCard):
    capacity: CapacitySummary
    freshness: Freshness
    assurance_level: AssuranceLevel = Field(
        description="The organisation's assurance level (GET /v1/organisations/{id}/assurance)"
    )
    responsiveness: Responsiveness = Field(
        description="How the organisation answers referrals (last 90 days)"
    )


class ActivitySummary(SQLModel):
    id: uuid.UUID
    name: str


class ActivityPage(Page[ActivityPublic]):
    """One page of activities."""

    next_after: str | None = Field(
        None,
        description="Pass as `after` for the next page (keyset pagination: as fast on the "
        "thousandth page as on the first, and steady while listings change); null on the "
        "last page. A page read with `after` has `first_page` false and `page_number` 1",
    )
