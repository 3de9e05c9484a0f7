import uuid
from datetime import datetime

from sqlmodel import Field, SQLModel

from app.core.types import JSONColumn, UTCDateTime, id_field, utcnow


class ActivitySearch(SQLModel, table=True):
    """The text an activity is found by: its name, description, who it suits, its
    organisation's name and its terms with their synonyms.

    PostgreSQL adds a generated ``tsv`` column with a GIN index; SQLite mirrors rows into
    the FTS5 table ``activity_fts`` by trigger (see migration 0003). Both stem English.
    """

    __tablename__ = "activity_search"

    activity_id: uuid.UUID = Field(foreign_key="activity.id", primary_key=True, ondelete="CASCADE")
    document: str = Field(max_length=20000)


class SearchLog(SQLModel, table=True):
    """One referral-options search, for unmet-demand reports. Nothing here identifies a
    person: the area is an outcode, free text is kept only as the vocabulary terms it
    matched, and age is kept as a band."""

    __tablename__ = "search_log"

    id: uuid.UUID = id_field()
    searched_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    outcode: str | None = Field(default=None, max_length=4, index=True)
    need_ids: list[str] = Field(default_factory=list, sa_type=JSONColumn)
    category_ids: list[str] = Field(default_factory=list, sa_type=JSONColumn)
    filters: dict = Field(default_factory=dict, sa_type=JSONColumn)
    result_count: int
