"""Closures: days an organisation, or one of its activities, does not meet (Christmas, a
refurbishment, "no session on 5 May"). Public: a link worker and the person need to know."""

import uuid
from datetime import date, datetime

from sqlmodel import Field, SQLModel

from app.core.types import created_at_field, id_field

REASON_EXAMPLE = "Closed for Christmas"


class ClosureBase(SQLModel):
    starts_on: date = Field(description="First day closed (UK date)")
    ends_on: date = Field(description="Last day closed, inclusive (the same day for one date)")
    reason: str = Field(
        default="", max_length=200, description="Shown to link workers and the person"
    )


class Closure(ClosureBase, table=True):
    __tablename__ = "closure"
    __audit__ = "closure"

    id: uuid.UUID = id_field()
    organisation_id: uuid.UUID = Field(
        foreign_key="organisation.id", index=True, ondelete="CASCADE"
    )
    activity_id: uuid.UUID | None = Field(
        default=None,
        foreign_key="activity.id",
        index=True,
        ondelete="CASCADE",
        description="Null: the whole organisation (every activity) is closed",
    )
    created_at: datetime = created_at_field()
