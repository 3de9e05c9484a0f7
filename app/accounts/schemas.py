import uuid
from datetime import datetime
from typing import Annotated

from pydantic import EmailStr, Field, StringConstraints, model_validator
from sqlmodel import SQLModel

from app.accounts.models import GlobalRole, OrganisationRole
from app.core.inputs import Instant
from app.core.pagination import Page
from app.core.schemas import RequestModel, patch_model_of

Password = Annotated[str, StringConstraints(min_length=12, max_length=128)]
DisplayName = Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]


class Token(SQLModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="Seconds until the token expires")


class MembershipPublic(SQLModel):
    organisation_id: uuid.UUID
    organisation_name: str
    role: OrganisationRole


class UserCreate(RequestModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "email": "sam.link@practice.example.nhs.uk",
                    "display_name": "Sam (link worker)",
                    "password": "a long passphrase here",
                    "role": "link_worker",
                }
            ]
        }
    }

    email: EmailStr = Field(max_length=254)
    display_name: DisplayName
    password: Password
    role: GlobalRole | None = Field(
        default=None, description="Global role; omit for people who only belong to organisations"
    )


class UserUpdateFields(RequestModel):
    display_name: DisplayName
    role: GlobalRole | None
    is_active: bool
    area_ids: list[uuid.UUID] = Field(
        default_factory=list,
        max_length=50,
        description="Limit this commissioner's reports to these areas (ids); empty: no limit",
    )


UserUpdate = patch_model_of(
    UserUpdateFields,
    "UserUpdate",
    examples=[{"is_active": False}, {"role": "steward"}],
)


class UserPublic(SQLModel):
    id: uuid.UUID
    email: str
    display_name: str
    role: GlobalRole | None
    is_active: bool
    last_login_at: datetime | None
    created_at: datetime
    memberships: list[MembershipPublic]
    area_ids: list[uuid.UUID] = Field(description="Areas their reports are limited to")


class UserPage(Page[UserPublic]):
    """One page of user accounts."""


class Me(UserPublic):
    kind: str = Field(description="`user` or `api_key`")
    email: str | None = Field(description="None for an API key")


class MemberCreate(RequestModel):
    model_config = {
        "json_schema_extra": {"examples": [{"email": "jo@choir.example.org", "role": "editor"}]}
    }

    email: EmailStr = Field(max_length=254, description="The person's existing account")
    role: OrganisationRole = OrganisationRole.editor


class MemberPublic(SQLModel):
    user_id: uuid.UUID
    display_name: str
    email: str
    role: OrganisationRole
    created_at: datetime


class MemberPage(Page[MemberPublic]):
    """One page of an organisation's members."""


class ApiKeyCreate(RequestModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "name": "ICB Power BI refresh",
                    "role": "commissioner",
                    "expires_at": "2027-06-30T00:00:00Z",
                }
            ]
        }
    }

    name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    role: GlobalRole | None = Field(
        default=None, description="link_worker, steward or commissioner (never admin)"
    )
    organisation_id: uuid.UUID | None = Field(
        default=None, description="For an organisation's own integration, with organisation_role"
    )
    organisation_role: OrganisationRole | None = None
    expires_at: Instant | None = None
    area_ids: list[uuid.UUID] = Field(
        default_factory=list,
        max_length=50,
        description="Limit this commissioner's reports to these areas (ids); empty: no limit",
    )

    @model_validator(mode="after")
    def _scope(self):
        if self.role is GlobalRole.admin:
            raise ValueError("API keys cannot have the admin role")
        if (self.organisation_id is None) != (self.organisation_role is None):
            raise ValueError("organisation_id and organisation_role go together")
        if self.role is None and self.organisation_id is None:
            raise ValueError("give a role, or an organisation_id with organisation_role")
        return self


class ApiKeyPublic(SQLModel):
    id: uuid.UUID
    name: str
    prefix: str = Field(description="Shown in the key as sp_<prefix>_…; identifies it in logs")
    role: GlobalRole | None
    organisation_id: uuid.UUID | None
    organisation_role: OrganisationRole | None
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    created_at: datetime
    area_ids: list[uuid.UUID] = Field(description="Areas its reports are limited to")


class ApiKeyCreated(ApiKeyPublic):
    key: str = Field(description="The whole key. Shown once: store it now")


class ApiKeyPage(Page[ApiKeyPublic]):
    """One page of API keys (never their secrets)."""


class SignUp(RequestModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "email": "jo@eastonwalkers.example.org",
                    "display_name": "Jo Bloggs",
                    "password": "four unrelated words here",
                }
            ]
        }
    }

    email: EmailStr = Field(max_length=254)
    display_name: DisplayName
    password: Password = Field(
        description="At least 12 characters and not easy to guess (common and breached "
        "passwords, keyboard patterns and your own name or email are refused)"
    )


class EmailOnly(RequestModel):
    model_config = {"json_schema_extra": {"examples": [{"email": "jo@eastonwalkers.example.org"}]}}

    email: EmailStr = Field(max_length=254)


class LinkToken(RequestModel):
    model_config = {"json_schema_extra": {"examples": [{"token": "eyJhbGciOiJIUzI1NiJ9…"}]}}

    token: str = Field(min_length=1, max_length=2000, description="The token from the link")


class PasswordReset(LinkToken):
    model_config = {
        "json_schema_extra": {
            "examples": [{"token": "eyJhbGciOiJIUzI1NiJ9…", "password": "four unrelated words"}]
        }
    }

    password: Password


class PasswordChange(RequestModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {"current_password": "my old passphrase", "password": "four unrelated words"}
            ]
        }
    }

    current_password: str = Field(min_length=1, max_length=1024)
    password: Password


class Accepted(SQLModel):
    detail: str
