"""The shared vocabulary (HSDS taxonomy / taxonomy_term): schemes of hierarchical terms.

Needs are written in health language ("low mood"), activity categories in community
language ("choir"); ``NeedCategory`` links a need to the categories that help with it.
"""

import uuid
from datetime import datetime

from sqlmodel import Field, Relationship, SQLModel, UniqueConstraint

from app.core.concurrency import version_column
from app.core.types import archived_at_field, id_field, updated_at_field

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


_version = version_column()


class TaxonomyTerm(SQLModel, table=True):
    """A term; stewards curate them. Synonym and link changes are audited by the service
    (``record_event``) and touch ``updated_at`` so the term's ETag moves with them."""

    __tablename__ = "taxonomy_term"
    __table_args__ = (UniqueConstraint("taxonomy_id", "code"),)
    __audit__ = "taxonomy_term"
    __mapper_args__ = {"version_id_col": _version}

    id: uuid.UUID = id_field()
    taxonomy_id: uuid.UUID = Field(foreign_key="taxonomy.id", index=True, ondelete="CASCADE")
    code: str = Field(max_length=64)
    name: str = Field(max_length=255)
    description: str = Field(default="", max_length=2000)
    parent_id: uuid.UUID | None = Field(
        default=None, foreign_key="taxonomy_term.id", index=True, ondelete="SET NULL"
    )
    # Retired terms keep the links they have but are offered for no new ones.
    retired_at: datetime | None = archived_at_field()
    updated_at: datetime = updated_at_field()
    version: int = Field(default=1, sa_column=_version)

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


class VocabularyState(SQLModel, table=True):
    """One row whose ``version`` goes up with every vocabulary change, in the change's own
    transaction: every process compares it with the version its in-memory copy was built
    from (``app.vocabulary.snapshot``), so curation shows in all searches within seconds.
    Updating the row also queues concurrent curators one behind another, which is what
    makes "this synonym is already used in the scheme" safe to check."""

    __tablename__ = "vocabulary_state"

    id: int = Field(default=1, primary_key=True)
    version: int = Field(default=1)
    # The starter vocabulary release (app/vocabulary/seed.py SEED_RELEASE) last applied.
    seeded: int = Field(default=0)
