import uuid
from datetime import datetime
from typing import Literal

from pydantic import EmailStr, Field
from sqlmodel import SQLModel

from app.accounts.models import GlobalRole, OrganisationRole
from app.accounts.schemas import DisplayName, Password
from app.core.pagination import Page
from app.core.schemas import RequestModel


class OrganisationInvitationCreate(RequestModel):
    model_config = {
        "json_schema_extra": {
            "examples": [{"email": "sam@eastonwalkers.example.org", "role": "editor"}]
        }
    }

    email: EmailStr = Field(max_length=254)
    role: OrganisationRole = OrganisationRole.editor


class GlobalInvitationCreate(RequestModel):
    model_config = {
        "json_schema_extra": {
            "examples": [{"email": "alex@practice.example.nhs.uk", "role": "link_worker"}]
        }
    }

    email: EmailStr = Field(max_length=254)
    role: GlobalRole = Field(
        description="Stewards invite link workers and commissioners; admins any role"
    )


class InvitationPublic(SQLModel):
    id: uuid.UUID
    email: str
    organisation_id: uuid.UUID | None
    role: str = Field(description="The organisation role, or the global role")
    status: Literal["pending", "accepted", "declined", "withdrawn", "expired"]
    created_at: datetime
    expires_at: datetime
    answered_at: datetime | None


InvitationPage = Page[InvitationPublic]


class InvitationAnswer(RequestModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {"token": "eyJhbGciOiJIUzI1NiJ9…"},
                {
                    "token": "eyJhbGciOiJIUzI1NiJ9…",
                    "display_name": "Sam Jones",
                    "password": "four unrelated words here",
                },
            ]
        }
    }

    token: str = Field(min_length=1, max_length=2000, description="The token from the email")
    display_name: DisplayName | None = Field(
        default=None, description="With `password`: create your account on the way"
    )
    password: Password | None = None


class InvitationDecline(RequestModel):
    model_config = {"json_schema_extra": {"examples": [{"token": "eyJhbGciOiJIUzI1NiJ9…"}]}}

    token: str = Field(min_length=1, max_length=2000)


class InvitationAnswered(SQLModel):
    invitation: InvitationPublic
    access_token: str | None = Field(
        default=None, description="A bearer token, when accepting created your account"
    )
