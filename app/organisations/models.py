"""Organisations (HSDS organization): who runs the activities."""

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import EmailStr, StringConstraints
from sqlalchemy import Index, text
from sqlmodel import Field, SQLModel

from app.core.concurrency import version_column
from app.core.schemas import Phone, WebUrl
from app.core.types import (
    JSONColumn,
    UTCDateTime,
    archived_at_field,
    created_at_field,
    enum_type,
    id_field,
    updated_at_field,
)


class LegalForm(StrEnum):
    charity = "charity"
    cic = "cic"
    community_group = "community_group"
    social_enterprise = "social_enterprise"
    freelance_practitioner = "freelance_practitioner"
    statutory = "statutory"


class OrganisationStatus(StrEnum):
    draft = "draft"
    published = "published"
    suspended = "suspended"


AreaName = Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]
CharityNumber = Annotated[
    str, StringConstraints(max_length=16, pattern=r"^(SC|NIC)?[0-9]{5,8}(-[0-9]{1,2})?$")
]
CompanyNumber = Annotated[
    str, StringConstraints(max_length=8, pattern=r"^([0-9]{8}|[A-Z]{2}[0-9]{6})$")
]
IcoRegistration = Annotated[
    str, StringConstraints(max_length=12, pattern=r"^[A-Z]{1,2}[0-9]{6,8}$")
]


class OrganisationBase(SQLModel):
    name: str = Field(min_length=1, max_length=255, index=True)
    description: str = Field(default="", max_length=5000)
    website: WebUrl | None = Field(default=None, max_length=500)
    email: EmailStr | None = Field(default=None, max_length=254)
    phone: Phone | None = Field(default=None, max_length=32)
    charity_number: CharityNumber | None = Field(
        default=None,
        max_length=16,
        description="Charity Commission (or OSCR/CCNI) registration number",
    )
    company_number: CompanyNumber | None = Field(
        default=None,
        max_length=8,
        description="Companies House number",
    )
    ico_registration: IcoRegistration | None = Field(
        default=None,
        max_length=12,
        description="Information Commissioner's Office data protection registration",
    )
    legal_form: LegalForm = Field(sa_type=enum_type(LegalForm))
    areas_served: list[AreaName] = Field(
        default_factory=list,
        sa_type=JSONColumn,
        max_length=50,
        description="Places the organisation serves: local authorities, towns or outcodes",
    )


_version = version_column()

# Who the public may see (``app.organisations.visibility.public``), written the same way in
# that query and in the partial index that serves it: PostgreSQL proves a query may use a
# partial index only from a matching literal, never from a bound value.
PUBLIC = "status = 'published' AND archived_at IS NULL"


class Organisation(OrganisationBase, table=True):
    __tablename__ = "organisation"
    # Each activity of a public list or feed checks its organisation by this index alone
    # (an index-only scan), not by reading the organisation's row.
    __table_args__ = (
        Index(
            "ix_organisation_public",
            "id",
            postgresql_where=text(PUBLIC),
            sqlite_where=text(PUBLIC),
        ),
    )
    __audit__ = "organisation"
    __mapper_args__ = {"version_id_col": _version}

    id: uuid.UUID = id_field()
    status: OrganisationStatus = Field(
        default=OrganisationStatus.draft, sa_type=enum_type(OrganisationStatus), index=True
    )
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()
    archived_at: datetime | None = archived_at_field()
    verified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    verified_by_id: uuid.UUID | None = Field(default=None, foreign_key="user_account.id")
    version: int = Field(default=1, sa_column=_version)


class OrganisationStanding(SQLModel, table=True):
    """Per organisation, its assurance level and how it answers referrals, stored so that
    listings and searches read them instead of computing them per request. Each figure
    says how long it holds (the next lapse of a required item; the moment the oldest
    referral counted leaves the 90-day window); past that, or missing, it is computed from
    the live tables (``app.organisations.standing``)."""

    __tablename__ = "organisation_standing"

    organisation_id: uuid.UUID = Field(
        foreign_key="organisation.id", primary_key=True, ondelete="CASCADE"
    )
    assurance_level: str = Field(max_length=16)
    assurance_valid_through: date | None = None
    assurance_required: list[str] = Field(sa_type=JSONColumn)
    responsiveness: dict = Field(sa_type=JSONColumn)
    responsiveness_valid_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    refreshed_at: datetime = Field(sa_type=UTCDateTime)
