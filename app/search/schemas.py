import uuid
from datetime import datetime
from decimal import Decimal

from pydantic import Field
from sqlmodel import SQLModel

from app.activities.freshness import Freshness
from app.activities.models import AccessMode, ActivityStatus, CostType, DeliveryMode
from app.assurance.rules import AssuranceLevel
from app.capacity.models import CapacityStatus
from app.capacity.schemas import CapacitySummary
from app.core.pagination import Page
from app.referrals.responsiveness import Responsiveness
from app.venues.schemas import VenueSummary


class OptionActivity(SQLModel):
    id: uuid.UUID
    name: str
    description: str
    status: ActivityStatus
    eligibility_description: str
    minimum_age: int | None
    maximum_age: int | None
    suits: str
    does_not_suit: str
    delivery_modes: list[DeliveryMode]
    access_modes: list[AccessMode]
    cost_type: CostType
    cost_amount: Decimal | None
    cost_description: str
    concessions: str
    languages: list[str]
    last_confirmed_at: datetime


class OptionOrganisation(SQLModel):
    id: uuid.UUID
    name: str
    phone: str | None
    website: str | None
    verified_at: datetime | None


class NextSession(SQLModel):
    starts_at: datetime = Field(description="Local UK time, with its offset")
    ends_at: datetime
    venue_id: uuid.UUID | None


class Matched(SQLModel):
    needs: list[str] = Field(description="Requested needs this activity helps with")
    categories: list[str] = Field(description="Its categories that answered the request")
    words: list[str] = Field(description="Words of `q` found in its text")
    filters: list[str] = Field(description="Other filters it passed, e.g. `age`, `day`")


class ReferralOption(SQLModel):
    activity: OptionActivity
    organisation: OptionOrganisation
    distance_km: float | None = Field(description="To the nearest venue; null if no venue")
    nearest_venue: VenueSummary | None
    next_session: NextSession | None
    capacity_status: CapacityStatus = Field(
        description="Effective capacity: open, waitlist, paused or closed (as `capacity.status`)"
    )
    capacity: CapacitySummary
    responsiveness: Responsiveness = Field(
        description="How the organisation answers referrals (last 90 days)"
    )
    assurance_status: AssuranceLevel = Field(
        description="The organisation's assurance level: assured, pending, lapsed or "
        "unassured (see GET /v1/organisations/{id}/assurance)"
    )
    freshness: Freshness
    score: float = Field(description="Ranking score, 0 to 1 (see the operation's description)")
    matched: Matched


class SearchLocation(SQLModel):
    precision: str = Field(description="`postcode`, `outcode` or `coordinates`")
    outcode: str | None
    latitude: float
    longitude: float
    radius_km: float
    note: str | None = None


class ReferralOptionPage(Page[ReferralOption]):
    location: SearchLocation | None = None
    hints: list[str] = Field(default_factory=list, description="Why results may be few or none")
