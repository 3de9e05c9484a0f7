import uuid
from datetime import datetime
from decimal import Decimal

from pydantic import Field
from sqlmodel import SQLModel

from app.activities.freshness import Freshness
from app.activities.models import AccessMode, ActivityStatus, CostType, DeliveryMode
from app.activities.schemas import SchedulePublic
from app.assurance.rules import AssuranceLevel
from app.capacity.models import CapacityStatus
from app.capacity.schemas import CapacitySummary
from app.closures.schemas import ClosureNotice
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
    words: list[str] = Field(
        description="The words of `q` searched for (after corrections); a result has them "
        "all in its text, or a need or category they name"
    )
    filters: list[str] = Field(description="Other filters it passed, e.g. `age`, `day`")


class OptionContact(SQLModel):
    """How to reach the activity, as its provider chose: its own details, else its
    organisation's."""

    phone: str | None
    email: str | None
    website: str | None


class ReferralOption(SQLModel):
    activity: OptionActivity
    organisation: OptionOrganisation
    contact: OptionContact
    remote: bool = Field(
        description="Delivered by phone, online or at home: no venue to get to. Located "
        "searches offer remote services whose organisation serves the place searched "
        "(include_remote=false leaves them out)"
    )
    schedules: list[SchedulePublic] = Field(description="Every schedule, in full")
    venues: list[VenueSummary] = Field(
        description="Where it meets: addresses and accessibility (nearest_venue is one)"
    )
    distance_km: float | None = Field(description="To the nearest venue; null if no venue")
    nearest_venue: VenueSummary | None
    next_session: NextSession | None = Field(
        description="The first session from now on a day it meets: closures, bank holidays "
        "(unless it runs on them) and a pause skipped; with days/available_from/available_to, "
        "the first that fits them too"
    )
    closures: list[ClosureNotice] = Field(
        description="Why there is no session when there would be: the pause, closures not "
        "yet over, bank holidays of the next 8 weeks on its days; each with a `summary` to "
        "read out"
    )
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


class Correction(SQLModel):
    """A word taken to be a typo and read as the nearest known word."""

    model_config = {"populate_by_name": True}

    typed: str = Field(alias="from", description="The word as typed", examples=["lonley"])
    read_as: str = Field(alias="to", description="The word searched for", examples=["lonely"])
    parameter: str = Field(description="`need`, `category` or `q`")


class UnderstoodWords(SQLModel):
    """Words of a parameter that named a vocabulary term."""

    words: str = Field(examples=["panic attacks"])
    parameter: str = Field(description="`need`, `category` or `q`")
    taxonomy: str = Field(examples=["need"])
    code: str = Field(examples=["anxiety"])
    name: str = Field(examples=["Anxiety and panic"])


class Suggestion(SQLModel):
    """A term that looks like words which matched nothing: offer it to the searcher."""

    instead_of: str = Field(description="What was searched for", examples=["lonelyness"])
    taxonomy: str
    code: str = Field(description="Use as `need=` or `category=`", examples=["social-isolation"])
    name: str


class ReferralOptionPage(Page[ReferralOption]):
    location: SearchLocation | None = None
    hints: list[str] = Field(default_factory=list, description="Why results may be few or none")
    corrections: list[Correction] = Field(
        default_factory=list, description="Words read as the nearest known word"
    )
    understood: list[UnderstoodWords] = Field(
        default_factory=list,
        description="Which words named which needs and categories (words in `q` that name a "
        "need count as that need)",
    )
    suggestions: list[Suggestion] = Field(
        default_factory=list, description="When words matched nothing: terms that look like them"
    )
