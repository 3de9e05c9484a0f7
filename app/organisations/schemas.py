import uuid
from datetime import datetime

from sqlmodel import Field, SQLModel

from app.areas.schemas import AreaSummary
from app.assurance.rules import AssuranceLevel
from app.core.pagination import Page
from app.core.schemas import RequestModel, patch_model_of
from app.organisations.models import OrganisationBase, OrganisationStatus
from app.referrals.responsiveness import Responsiveness

EXAMPLE = {
    "name": "Easton Community Choir",
    "description": "A friendly choir for anyone who loves to sing. No auditions.",
    "website": "https://eastonchoir.example.org",
    "email": "hello@eastonchoir.example.org",
    "phone": "0117 496 0123",
    "charity_number": "1187654",
    "legal_form": "charity",
    "areas_served": ["Bristol", "BS5"],
    "status": "published",
}


class OrganisationCreate(RequestModel, OrganisationBase):
    model_config = {"json_schema_extra": {"examples": [EXAMPLE]}}

    status: OrganisationStatus = OrganisationStatus.draft
    served_area_ids: list[uuid.UUID] = Field(
        default_factory=list,
        max_length=50,
        description="Areas (GET /v1/areas) it serves beyond those its venues lie in: what "
        "reports by area count it in. `areas_served` stays as it was typed",
    )


OrganisationUpdate = patch_model_of(
    OrganisationCreate,
    "OrganisationUpdate",
    examples=[{"phone": "0117 496 0999", "areas_served": ["Bristol", "BS5", "BS6"]}],
)


class OrganisationPublic(OrganisationBase):
    id: uuid.UUID
    status: OrganisationStatus
    served_areas: list[AreaSummary] = Field(
        description="The areas it declares it serves (its venues' areas count too)"
    )
    created_at: datetime
    updated_at: datetime
    archived_at: datetime | None = Field(
        description="Set when archived; archived listings are hidden by default"
    )
    verified_at: datetime | None = Field(description="When a steward last verified it")
    responsiveness: Responsiveness = Field(
        description="How the organisation answers referrals (last 90 days)"
    )
    assurance_level: AssuranceLevel = Field(
        description="assured, pending, lapsed or unassured (GET …/{id}/assurance)"
    )
    version: int = Field(description="Changes on every write; the ETag carries it")


class OrganisationSummary(SQLModel):
    id: uuid.UUID
    name: str
    status: OrganisationStatus


class OrganisationPage(Page[OrganisationPublic]):
    """One page of organisations."""
