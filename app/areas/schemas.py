import uuid
from datetime import datetime
from typing import Annotated

from pydantic import StringConstraints, field_validator
from sqlmodel import Field, SQLModel

from app.areas.models import AreaKind
from app.core.pagination import Page
from app.core.schemas import RequestModel, patch_model_of

Place = Annotated[str, StringConstraints(min_length=2, max_length=8)]
PLACES = (
    'Postcode districts ("BS5") and sectors ("BS5 6") the area holds: a venue or a search '
    "is in the area when its district or sector is one of them"
)
EXAMPLE = {
    "kind": "neighbourhood",
    "name": "Easton and Lawrence Hill",
    "parent_id": "5b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d",
    "places": ["BS5 0", "BS5 6", "BS2 0"],
}


class AreaCreate(RequestModel):
    model_config = {"json_schema_extra": {"examples": [EXAMPLE]}}

    kind: AreaKind
    name: str = Field(min_length=1, max_length=255)
    code: Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{3,16}$")] | None = Field(
        default=None,
        max_length=16,
        description="Official code: ONS GSS (E06000023) or NHS ODS (a PCN's U-code); unique",
    )
    parent_id: uuid.UUID | None = Field(default=None, description="The area it lies within")
    places: list[Place] = Field(min_length=1, max_length=2000, description=PLACES)

    @field_validator("code", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value


AreaUpdate = patch_model_of(AreaCreate, "AreaUpdate", examples=[{"places": ["BS5 0", "BS5 6"]}])


class AreaSummary(SQLModel):
    id: uuid.UUID
    kind: AreaKind
    name: str
    code: str | None


class AreaPublic(AreaSummary):
    parent_id: uuid.UUID | None
    places: list[str] = Field(description=PLACES)
    created_at: datetime
    updated_at: datetime
    version: int


class AreaPage(Page[AreaPublic]):
    """One page of areas."""
