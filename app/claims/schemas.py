import uuid
from datetime import datetime

from pydantic import EmailStr, Field
from sqlmodel import SQLModel

from app.claims.models import ClaimStatus
from app.core.pagination import Page
from app.core.schemas import RequestModel
from app.organisations.models import CharityNumber, CompanyNumber


class ClaimCreate(RequestModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "charity_number": "1123456",
                    "role_email": "coordinator@eastonwalkers.example.org",
                    "note": "I coordinate the walks; our treasurer can confirm.",
                }
            ]
        }
    }

    charity_number: CharityNumber | None = None
    company_number: CompanyNumber | None = None
    role_email: EmailStr | None = Field(
        default=None,
        max_length=254,
        description="Your address at the organisation's own domain (its website's or email's)",
    )
    note: str = Field(default="", max_length=1000, description="Anything a steward should know")


class ClaimRejection(RequestModel):
    model_config = {
        "json_schema_extra": {
            "examples": [{"reason": "The charity number belongs to another organisation."}]
        }
    }

    reason: str = Field(min_length=1, max_length=1000)


class ClaimPublic(SQLModel):
    id: uuid.UUID
    organisation_id: uuid.UUID
    claimant_id: uuid.UUID
    status: ClaimStatus
    charity_number: str | None
    company_number: str | None
    role_email: str | None
    note: str
    reason: str | None = Field(description="Why it was rejected")
    created_at: datetime
    reviewed_at: datetime | None


ClaimPage = Page[ClaimPublic]
