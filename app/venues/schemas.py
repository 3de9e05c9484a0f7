import uuid
from datetime import datetime

from sqlmodel import Field, SQLModel

from app.core.pagination import Page
from app.core.schemas import RequestModel, patch_model_of
from app.venues.models import AccessibilityFeature, LocationPrecision, VenueBase

EXAMPLE = {
    "name": "Easton Community Centre",
    "address_1": "Kilburn Street",
    "city": "Bristol",
    "postcode": "bs5 6at",
    "accessibility": ["step_free_access", "hearing_loop", "wheelchair_accessible_toilet"],
    "accessibility_notes": "Ramp at the side entrance.",
}


class VenueCreate(RequestModel, VenueBase):
    model_config = {"json_schema_extra": {"examples": [EXAMPLE]}}


VenueUpdate = patch_model_of(
    VenueCreate,
    "VenueUpdate",
    examples=[{"accessibility": ["step_free_access", "parking"]}],
)


PRECISION = (
    "Where the coordinates came from: `postcode` (the full postcode table), `outcode` (the "
    "centre of the postcode district) or `manual` (sent with the venue)"
)


class VenuePublic(VenueBase):
    id: uuid.UUID
    outcode: str
    location_precision: LocationPrecision = Field(description=PRECISION)
    created_at: datetime
    updated_at: datetime
    archived_at: datetime | None
    version: int


class VenueSummary(SQLModel):
    id: uuid.UUID
    name: str
    address_1: str
    city: str
    postcode: str
    latitude: float | None
    longitude: float | None
    location_precision: LocationPrecision = Field(description=PRECISION)
    accessibility: list[AccessibilityFeature]


class VenuePage(Page[VenuePublic]):
    """One page of venues."""
