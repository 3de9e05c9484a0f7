"""``/v1/external-terms``: terms of other directories' taxonomies met on import, and the
steward's mapping of each onto our vocabulary (which every later import then applies)."""

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from sqlmodel import Field, Session, SQLModel, select

from app.core.db import SessionDep, StatementSessionDep
from app.core.errors import NotFound, problem_responses
from app.core.pagination import Page, PageDep, paginate_many
from app.core.schemas import RequestModel
from app.openreferral.models import ExternalTerm
from app.vocabulary import service as vocabulary
from app.vocabulary.router import Curator
from app.vocabulary.schemas import TermSummary

router = APIRouter(prefix="/v1/external-terms", tags=["vocabulary"])


class ExternalTermPublic(SQLModel):
    id: uuid.UUID
    source: str = Field(description="The feed or file it came from")
    external_id: str = Field(description="Its id in that source")
    taxonomy: str = Field(description="The source's name for its taxonomy")
    name: str
    term: TermSummary | None = Field(description="Our term it maps onto; null until mapped")
    first_seen_at: datetime


class ExternalTermPage(Page[ExternalTermPublic]):
    """One page of external terms."""


class Mapping(RequestModel):
    term_id: uuid.UUID = Field(description="Our term: imports tag with it from now on")


ExternalTermId = Annotated[uuid.UUID, Path(description="The external term's id")]


def _public_many(session: Session, rows: list[ExternalTerm]) -> list[ExternalTermPublic]:
    """With their mapped terms, read in one query."""
    terms = vocabulary.summaries(session, [row.term_id for row in rows if row.term_id])
    return [
        ExternalTermPublic(**row.model_dump(exclude={"term_id"}), term=terms.get(row.term_id))
        for row in rows
    ]


def _public(session: Session, row: ExternalTerm) -> ExternalTermPublic:
    return _public_many(session, [row])[0]


def _get(session: Session, external_term_id: uuid.UUID) -> ExternalTerm:
    row = session.get(ExternalTerm, external_term_id)
    if row is None:
        raise NotFound(f"No external term with id {external_term_id}")
    return row


@router.get("", responses=problem_responses(401, 403, 422))
def list_external_terms(
    session: StatementSessionDep,
    _: Curator,
    page: PageDep,
    unmapped: Annotated[bool, Query(description="Only those not yet mapped")] = False,
    source: Annotated[str | None, Query(max_length=500, description="From this source")] = None,
) -> ExternalTermPage:
    """Terms of other taxonomies that imports met, most recently met first (stewards and
    admins)."""
    statement = select(ExternalTerm).order_by(ExternalTerm.first_seen_at.desc(), ExternalTerm.id)
    if unmapped:
        statement = statement.where(ExternalTerm.term_id.is_(None))
    if source:
        statement = statement.where(ExternalTerm.source == source)
    return paginate_many(session, statement, page, lambda rows: _public_many(session, rows))


@router.put("/{external_term_id}/mapping", responses=problem_responses(401, 403, 404, 422))
def map_external_term(
    session: SessionDep, _: Curator, external_term_id: ExternalTermId, body: Mapping
) -> ExternalTermPublic:
    """Map it onto one of our terms: every later import of a record with this term tags
    the activity with ours (audited)."""
    row = _get(session, external_term_id)
    vocabulary.load_terms(session, [body.term_id], "body.term_id")
    row.term_id = body.term_id
    session.add(row)
    session.flush()
    return _public(session, row)


@router.delete("/{external_term_id}/mapping", responses=problem_responses(401, 403, 404, 422))
def unmap_external_term(
    session: SessionDep, _: Curator, external_term_id: ExternalTermId
) -> ExternalTermPublic:
    """Forget the mapping: later imports keep the term aside again (audited)."""
    row = _get(session, external_term_id)
    row.term_id = None
    session.add(row)
    session.flush()
    return _public(session, row)
