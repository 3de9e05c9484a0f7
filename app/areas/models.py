"""Areas: the places commissioners fund and compare (a local authority, an ICB, a PCN, a
ward, a neighbourhood...), defined by the postcode districts and sectors they hold.

A venue is in an area when its outcode ("BS5") or its postcode sector ("BS5 6") is one of
the area's places; a search, when the outcode or sector it was centred on is; an
organisation serves the areas of the venues its activities meet at, plus those it
declares. Every report reads areas this one way (``app.areas.placement``).
"""

import uuid
from datetime import datetime
from enum import StrEnum

from sqlmodel import Field, SQLModel

from app.core.concurrency import version_column
from app.core.types import created_at_field, enum_type, id_field, updated_at_field


class AreaKind(StrEnum):
    local_authority = "local_authority"
    icb = "icb"
    sub_icb = "sub_icb"
    pcn = "pcn"
    ward = "ward"
    neighbourhood = "neighbourhood"
    custom = "custom"


_version = version_column()


class Area(SQLModel, table=True):
    __tablename__ = "area"
    __audit__ = "area"
    __mapper_args__ = {"version_id_col": _version}

    id: uuid.UUID = id_field()
    kind: AreaKind = Field(sa_type=enum_type(AreaKind, 32), index=True)
    name: str = Field(max_length=255, index=True)
    code: str | None = Field(
        default=None,
        max_length=16,
        unique=True,
        description="Official code: ONS GSS (E06000023) or NHS ODS (a PCN's U-code)",
    )
    parent_id: uuid.UUID | None = Field(
        default=None, foreign_key="area.id", index=True, ondelete="SET NULL"
    )
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()
    version: int = Field(default=1, sa_column=_version)


class AreaPlace(SQLModel, table=True):
    """One postcode district ("BS5") or sector ("BS5 6") an area holds."""

    __tablename__ = "area_place"

    area_id: uuid.UUID = Field(foreign_key="area.id", primary_key=True, ondelete="CASCADE")
    prefix: str = Field(max_length=8, primary_key=True, index=True)


class AreaKey(SQLModel, table=True):
    """What a place matches, one row per key, kept with the places (``app.areas.service``):
    a sector ("BS5 6") matches itself; a district ("BS5") matches itself (a search centred
    on a district alone) and its ten sectors. Everything is then placed by one equality:
    a venue by its sector, a search by its sector or, without one, its district."""

    __tablename__ = "area_key"

    area_id: uuid.UUID = Field(foreign_key="area.id", primary_key=True, ondelete="CASCADE")
    key: str = Field(max_length=8, primary_key=True, index=True)


class OrganisationServedArea(SQLModel, table=True):
    """An area an organisation says it serves (beside those of its venues)."""

    __tablename__ = "organisation_served_area"

    organisation_id: uuid.UUID = Field(
        foreign_key="organisation.id", primary_key=True, ondelete="CASCADE"
    )
    area_id: uuid.UUID = Field(
        foreign_key="area.id", primary_key=True, index=True, ondelete="CASCADE"
    )
