"""Activities (HSDS service), their schedules, and their links to terms and venues."""

import uuid
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import sqlalchemy as sa
from pydantic import EmailStr, StringConstraints, model_validator
from sqlmodel import Field, Index, Relationship, SQLModel

from app.core.concurrency import version_column
from app.core.inputs import ClockTime, Day
from app.core.schemas import Phone, WebUrl
from app.core.types import (
    JSONColumn,
    UTCDateTime,
    archived_at_field,
    created_at_field,
    enum_type,
    id_field,
    updated_at_field,
    utcnow,
)
from app.organisations.models import Organisation
from app.venues.models import Venue
from app.vocabulary.models import TaxonomyTerm

if TYPE_CHECKING:
    from app.capacity.models import ActivityCapacity

RAISE = {"lazy": "raise"}


class ActivityStatus(StrEnum):
    """HSDS service status values, spelled as HSDS spells them."""

    active = "active"
    inactive = "inactive"
    defunct = "defunct"
    temporarily_closed = "temporarily closed"


class DeliveryMode(StrEnum):
    in_person = "in_person"
    online = "online"
    phone = "phone"
    home_visit = "home_visit"


class AccessMode(StrEnum):
    referral = "referral"
    appointment = "appointment"
    drop_in = "drop_in"
    membership = "membership"


class CostType(StrEnum):
    free = "free"
    donation = "donation"
    fee = "fee"


class FundingSource(StrEnum):
    commissioned = "commissioned"
    grant = "grant"
    unfunded = "unfunded"


# ISO 639-1/639-3 language codes ("en", "pl", "bfi" for British Sign Language).
LanguageCode = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}$")]


class ActivityBase(SQLModel):
    name: str = Field(min_length=1, max_length=255, index=True)
    description: str = Field(default="", max_length=5000)
    status: ActivityStatus = Field(
        default=ActivityStatus.active, sa_type=enum_type(ActivityStatus), index=True
    )
    eligibility_description: str = Field(default="", max_length=2000)
    minimum_age: int | None = Field(default=None, ge=0, le=120)
    maximum_age: int | None = Field(default=None, ge=0, le=120)
    suits: str = Field(default="", max_length=2000, description="Who the activity suits")
    does_not_suit: str = Field(
        default="",
        max_length=2000,
        description='Who it does not suit, e.g. "not a crisis service"',
    )
    delivery_modes: list[DeliveryMode] = Field(
        default_factory=lambda: [DeliveryMode.in_person],
        sa_type=JSONColumn,
        min_length=1,
        max_length=len(DeliveryMode),
    )
    access_modes: list[AccessMode] = Field(
        default_factory=lambda: [AccessMode.drop_in],
        sa_type=JSONColumn,
        max_length=len(AccessMode),
    )
    cost_type: CostType = Field(default=CostType.free, sa_type=enum_type(CostType))
    cost_amount: Decimal | None = Field(
        default=None, ge=0, max_digits=8, decimal_places=2, description="Pounds sterling"
    )
    cost_description: str = Field(default="", max_length=500)
    concessions: str = Field(default="", max_length=500)
    languages: list[LanguageCode] = Field(
        default_factory=lambda: ["en"], sa_type=JSONColumn, max_length=20
    )
    funding_source: FundingSource | None = Field(
        default=None,
        sa_type=enum_type(FundingSource),
        description="How the activity is paid for; reports split referral load by it",
    )
    url: WebUrl | None = Field(default=None, max_length=500)
    email: EmailStr | None = Field(default=None, max_length=254)
    phone: Phone | None = Field(default=None, max_length=32)
    runs_on_bank_holidays: bool = Field(
        default=False,
        sa_column_kwargs={"server_default": sa.false()},
        description="Meets on the bank holidays of England and Wales too (by default its "
        "sessions skip them)",
    )

    @model_validator(mode="after")
    def _ages_in_order(self):
        if (
            self.minimum_age is not None
            and self.maximum_age is not None
            and self.minimum_age > self.maximum_age
        ):
            raise ValueError("minimum_age must not be greater than maximum_age")
        return self


class ActivityTerm(SQLModel, table=True):
    __tablename__ = "activity_term"
    # term first, activity second: "activities with this term" is an index-only scan.
    __table_args__ = (Index("ix_activity_term_term_id_activity_id", "term_id", "activity_id"),)

    activity_id: uuid.UUID = Field(foreign_key="activity.id", primary_key=True, ondelete="CASCADE")
    term_id: uuid.UUID = Field(foreign_key="taxonomy_term.id", primary_key=True, ondelete="CASCADE")


class ActivityVenue(SQLModel, table=True):
    """An activity held at a venue: Open Referral's ``service_at_location``, whose own id
    the feed publishes (given by the column default, also when the ORM writes the link)."""

    __tablename__ = "activity_venue"

    activity_id: uuid.UUID = Field(foreign_key="activity.id", primary_key=True, ondelete="CASCADE")
    venue_id: uuid.UUID = Field(
        foreign_key="venue.id", primary_key=True, index=True, ondelete="CASCADE"
    )
    id: uuid.UUID = Field(default_factory=uuid.uuid4, unique=True)


_version = version_column()


class Activity(ActivityBase, table=True):
    __tablename__ = "activity"
    __audit__ = "activity"
    __audit_collections__ = ("schedules", "terms", "venues")
    __mapper_args__ = {"version_id_col": _version}

    id: uuid.UUID = id_field()
    organisation_id: uuid.UUID = Field(foreign_key="organisation.id", index=True)
    last_confirmed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()
    archived_at: datetime | None = archived_at_field()
    version: int = Field(default=1, sa_column=_version)

    organisation: Organisation = Relationship(sa_relationship_kwargs=RAISE)
    schedules: list["Schedule"] = Relationship(
        back_populates="activity",
        sa_relationship_kwargs={**RAISE, "cascade": "all, delete-orphan"},
    )
    terms: list[TaxonomyTerm] = Relationship(link_model=ActivityTerm, sa_relationship_kwargs=RAISE)
    venues: list[Venue] = Relationship(link_model=ActivityVenue, sa_relationship_kwargs=RAISE)
    capacity: "ActivityCapacity" = Relationship(
        sa_relationship_kwargs={**RAISE, "uselist": False, "viewonly": True}
    )


class Frequency(StrEnum):
    """RFC 5545 FREQ values HSDS uses for schedules."""

    weekly = "WEEKLY"
    monthly = "MONTHLY"


class ScheduleBase(SQLModel):
    freq: Frequency = Field(sa_type=enum_type(Frequency, 16))
    interval: int = Field(default=1, ge=1, le=52, description="Every N weeks or months")
    byday: str = Field(
        max_length=64,
        description=(
            'RFC 5545 BYDAY: "MO,TH" for weekly; with MONTHLY an ordinal such as '
            '"1TU" (first Tuesday) or "-1FR" (last Friday)'
        ),
    )
    opens_at: ClockTime = Field(description="UK local time, no offset, e.g. 10:00")
    closes_at: ClockTime = Field(description="UK local time, no offset")
    valid_from: Day | None = None
    valid_to: Day | None = None
    description: str = Field(default="", max_length=500)
    venue_id: uuid.UUID | None = Field(
        default=None,
        foreign_key="venue.id",
        ondelete="SET NULL",
        description="Where this session runs, when the activity has several venues",
    )


class Schedule(ScheduleBase, table=True):
    __tablename__ = "schedule"

    id: uuid.UUID = id_field()
    activity_id: uuid.UUID = Field(foreign_key="activity.id", index=True, ondelete="CASCADE")

    activity: Activity = Relationship(back_populates="schedules", sa_relationship_kwargs=RAISE)
