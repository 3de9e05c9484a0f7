"""Teams of link workers (a PCN's, a service's): members see and act on each other's
referrals, so a colleague can cover a caseload."""

import uuid
from datetime import datetime

from sqlmodel import Field, SQLModel

from app.core.concurrency import version_column
from app.core.types import created_at_field, id_field, updated_at_field

_version = version_column()


class Team(SQLModel, table=True):
    __tablename__ = "team"
    __audit__ = "team"
    __mapper_args__ = {"version_id_col": _version}

    id: uuid.UUID = id_field()
    name: str = Field(max_length=255, unique=True)
    description: str = Field(default="", max_length=2000)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()
    version: int = Field(default=1, sa_column=_version)


class TeamMember(SQLModel, table=True):
    __tablename__ = "team_member"

    team_id: uuid.UUID = Field(foreign_key="team.id", primary_key=True, ondelete="CASCADE")
    user_id: uuid.UUID = Field(
        foreign_key="user_account.id", primary_key=True, index=True, ondelete="CASCADE"
    )
