"""What an import remembers of its sources: whose record became which of ours, and the
terms of other taxonomies that stewards map onto our vocabulary."""

import uuid
from datetime import datetime

from sqlmodel import Field, SQLModel, UniqueConstraint

from app.core.types import UTCDateTime, id_field


class ExternalRecord(SQLModel, table=True):
    """One record of a source (an ORUK feed's base URL, or ``csv:``/``file:`` and a name),
    by its own id, and the row of ours it fills: a re-run updates that row, and a record
    the source no longer has is archived here."""

    __tablename__ = "external_record"

    source: str = Field(max_length=500, primary_key=True)
    kind: str = Field(max_length=32, primary_key=True)  # organization, service, location
    external_id: str = Field(max_length=255, primary_key=True)
    local_id: uuid.UUID = Field(index=True)
    seen_at: datetime = Field(sa_type=UTCDateTime)


class ExternalTerm(SQLModel, table=True):
    """A taxonomy term of another directory, met on import. A steward maps it onto one of
    ours (``term_id``), and every later import tags with that term."""

    __tablename__ = "external_term"
    __audit__ = "external_term"
    __table_args__ = (UniqueConstraint("source", "external_id"),)

    id: uuid.UUID = id_field()
    source: str = Field(max_length=500)
    external_id: str = Field(max_length=255)
    taxonomy: str = Field(default="", max_length=255)
    name: str = Field(max_length=255)
    term_id: uuid.UUID | None = Field(
        default=None, foreign_key="taxonomy_term.id", index=True, ondelete="SET NULL"
    )
    first_seen_at: datetime = Field(sa_type=UTCDateTime)
