"""Venues (HSDS location + address). One venue may host several organisations' activities."""

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import field_validator, model_validator
from sqlmodel import Field, SQLModel

from app.core.concurrency import version_column
from app.core.types import (
    JSONColumn,
    archived_at_field,
    created_at_field,
    enum_type,
    id_field,
    updated_at_field,
)
from app.geo.postcodes import normalise_postcode


class AccessibilityFeature(StrEnum):
    step_free_access = "step_free_access"
    wheelchair_accessible_toilet = "wheelchair_accessible_toilet"
    hearing_loop = "hearing_loop"
    parking = "parking"
    blue_badge_parking = "blue_badge_parking"
    near_public_transport = "near_public_transport"
    lift = "lift"
    quiet_space = "quiet_space"
    baby_changing = "baby_changing"
    assistance_dogs_welcome = "assistance_dogs_welcome"


class LocationPrecision(StrEnum):
    """Where a venue's coordinates came from."""

    postcode = "postcode"  # the full postcode table (signpost import-postcodes)
    outcode = "outcode"  # the centre of its postcode district, shipped with the app
    manual = "manual"  # sent by whoever keeps the venue's record


class VenueBase(SQLModel):
    name: str = Field(min_length=1, max_length=255, index=True)
    description: str = Field(default="", max_length=2000)
    address_1: str = Field(min_length=1, max_length=255)
    address_2: str | None = Field(default=None, max_length=255)
    city: str = Field(min_length=1, max_length=100)
    county: str | None = Field(default=None, max_length=100)
    postcode: str = Field(max_length=8, description='UK postcode, stored as "SE1 7PB"')
    latitude: float | None = Field(
        default=None,
        ge=-90,
        le=90,
        description="Leave out to place the venue by its postcode; sent coordinates must lie "
        "within 60 km of the postcode's district and are kept until the postcode changes",
    )
    longitude: float | None = Field(default=None, ge=-180, le=180)
    accessibility: list[AccessibilityFeature] = Field(
        default_factory=list, sa_type=JSONColumn, max_length=len(AccessibilityFeature)
    )
    accessibility_notes: str = Field(default="", max_length=1000)
    managed_by_organisation_id: uuid.UUID | None = Field(
        default=None,
        foreign_key="organisation.id",
        index=True,
        description="The organisation that keeps this venue's record; stewards manage the rest",
    )

    @field_validator("postcode", mode="before")
    @classmethod
    def _normalise_postcode(cls, value: object) -> object:
        if isinstance(value, str) and len(value) <= 16:
            return normalise_postcode(value)
        return value

    @model_validator(mode="after")
    def _coordinates_come_in_pairs(self):
        if (self.latitude is None) != (self.longitude is None):
            raise ValueError("latitude and longitude must be given together")
        return self


_version = version_column()


class Venue(VenueBase, table=True):
    __tablename__ = "venue"
    __audit__ = "venue"
    __mapper_args__ = {"version_id_col": _version}

    id: uuid.UUID = id_field()
    outcode: str = Field(max_length=4, index=True)
    location_precision: LocationPrecision = Field(
        default=LocationPrecision.outcode,
        sa_type=enum_type(LocationPrecision),
        sa_column_kwargs={"server_default": "outcode"},
    )
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()
    archived_at: datetime | None = archived_at_field()
    version: int = Field(default=1, sa_column=_version)
