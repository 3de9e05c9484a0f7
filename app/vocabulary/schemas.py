import uuid

from sqlmodel import SQLModel


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
