import uuid

from sqlmodel import SQLModel

from app.core.pagination import Page


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
    helped_by: list[TermSummary] = []
    helps_with: list[TermSummary] = []


class TaxonomyPage(Page[TaxonomyPublic]):
    """One page of taxonomies."""


class TermPage(Page[TermPublic]):
    """One page of taxonomy terms."""
