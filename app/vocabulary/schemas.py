import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints
from sqlmodel import SQLModel

from app.core.pagination import Page
from app.core.schemas import PatchModel, RequestModel

TermCode = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")
]
SynonymText = Annotated[str, StringConstraints(min_length=1, max_length=100)]


class TaxonomyPublic(SQLModel):
    id: uuid.UUID
    code: str
    name: str
    description: str


class TermSummary(SQLModel):
    id: uuid.UUID
    code: str
    name: str
    taxonomy: str


class TermPublic(SQLModel):
    id: uuid.UUID
    code: str
    name: str
    description: str
    taxonomy: TaxonomyPublic
    parent_id: uuid.UUID | None
    synonyms: list[str]
    helped_by: list[TermSummary] = Field(
        default=[], description="For a need: the activity categories that help with it"
    )
    helps_with: list[TermSummary] = Field(
        default=[], description="For an activity category: the needs it helps with"
    )
    retired_at: datetime | None = Field(
        description="Set when stewards retired the term: it keeps its links but is offered "
        "for no new ones"
    )
    updated_at: datetime
    version: int


class TermCreate(RequestModel):
    taxonomy: str = Field(max_length=64, description='The scheme\'s code, e.g. "need"')
    code: TermCode = Field(description="Lower-case words joined by hyphens; unique in the scheme")
    name: str = Field(min_length=1, max_length=255)
    description: str = Field(default="", max_length=2000)
    parent_id: uuid.UUID | None = Field(default=None, description="A live term of the same scheme")
    synonyms: list[SynonymText] = Field(default=[], max_length=50)

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "taxonomy": "need",
                    "code": "digital-exclusion",
                    "name": "Digital exclusion",
                    "synonyms": ["no internet", "can't use a computer"],
                }
            ]
        }
    }


class TermUpdate(PatchModel):
    """Rename, re-describe or re-parent a term (its code never changes: searches use it)."""

    not_nullable = frozenset({"name", "description"})

    name: str | None = Field(default=None, min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=2000)
    parent_id: uuid.UUID | None = Field(default=None, description="null makes it top-level")

    model_config = {"json_schema_extra": {"examples": [{"name": "Loneliness and isolation"}]}}


class SynonymCreate(RequestModel):
    text: SynonymText = Field(description="Another way people say the term; stored in lower case")

    model_config = {"json_schema_extra": {"examples": [{"text": "no friends"}]}}


class TaxonomyPage(Page[TaxonomyPublic]):
    """One page of taxonomies."""


class TermPage(Page[TermPublic]):
    """One page of taxonomy terms."""


class UnmatchedPhrase(SQLModel):
    phrase: str = Field(examples=["no friends"])
    searches: int = Field(description="Separate searches that used it (5 or more)")
    no_results: int = Field(description="Of those, how many found nothing")
    last_searched_at: datetime
    suggestions: list[TermSummary] = Field(
        description="Terms it looks like: add it as a synonym of one with "
        "POST /v1/taxonomy-terms/{id}/synonyms"
    )


class UnmatchedPhrases(SQLModel):
    """Words link workers searched with that no term understands, most used first."""

    minimum_searches: int
    contents: list[UnmatchedPhrase]
