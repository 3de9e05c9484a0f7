"""The shared vocabulary (HSDS taxonomy / taxonomy_term): schemes of hierarchical terms.

Needs are written in health language ("low mood"), activity categories in community
language ("choir"); ``NeedCategory`` links a need to the categories that help with it.
"""

import uuid

from sqlmodel import Field, Relationship, SQLModel, UniqueConstraint

from app.core.types import id_field

RAISE = {"lazy": "raise"}


class Taxonomy(SQLModel, table=True):
    __tablename__ = "taxonomy"

    id: uuid.UUID = id_field()
    code: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=255)
    description: str = Field(default="", max_length=2000)

    terms: list["TaxonomyTerm"] = Relationship(
        back_populates="taxonomy", sa_relationship_kwargs=RAISE
    )


class TaxonomyTerm(SQLModel, table=True):
    __tablename__ = "taxonomy_term"
    __table_args__ = (UniqueConstraint("taxonomy_id", "code"),)

    id: uuid.UUID = id_field()
    taxonomy_id: uuid.UUID = Field(foreign_key="taxonomy.id", index=True, ondelete="CASCADE")
    code: str = Field(max_length=64)
    name: str = Field(max_length=255)
    description: str = Field(default="", max_length=2000)
    parent_id: uuid.UUID | None = Field(
        default=None, foreign_key="taxonomy_term.id", index=True, ondelete="SET NULL"
    )

    taxonomy: Taxonomy = Relationship(back_populates="terms", sa_relationship_kwargs=RAISE)
    synonyms: list["TermSynonym"] = Relationship(
        sa_relationship_kwargs={
            **RAISE,
            "cascade": "all, delete-orphan",
            "order_by": "TermSynonym.text",
        }
    )


class TermSynonym(SQLModel, table=True):
    """Another way people say a term ("lonely" for social isolation); stored lower-case."""

    __tablename__ = "term_synonym"

    term_id: uuid.UUID = Field(foreign_key="taxonomy_term.id", primary_key=True, ondelete="CASCADE")
    text: str = Field(max_length=255, primary_key=True, index=True)


class NeedCategory(SQLModel, table=True):
    """A need term helped by an activity-category term."""

    __tablename__ = "need_category"

    need_id: uuid.UUID = Field(foreign_key="taxonomy_term.id", primary_key=True, ondelete="CASCADE")
    category_id: uuid.UUID = Field(
        foreign_key="taxonomy_term.id", primary_key=True, index=True, ondelete="CASCADE"
    )
