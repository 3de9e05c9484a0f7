import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query

from app.core.db import SessionDep
from app.core.errors import problem_responses
from app.core.pagination import PageDep
from app.vocabulary import service
from app.vocabulary.schemas import TaxonomyPage, TaxonomyPublic, TermPage, TermPublic

router = APIRouter(prefix="/v1", tags=["vocabulary"])


@router.get("/taxonomies", responses=problem_responses(422))
def list_taxonomies(session: SessionDep, page: PageDep) -> TaxonomyPage:
    """The vocabulary's schemes: activity categories, needs, accessibility and more."""
    return service.list_taxonomies(session, page)


@router.get("/taxonomies/{taxonomy_id}", responses=problem_responses(404, 422))
def get_taxonomy(session: SessionDep, taxonomy_id: Annotated[uuid.UUID, Path()]) -> TaxonomyPublic:
    return service.get_taxonomy(session, taxonomy_id)


@router.get("/taxonomy-terms", responses=problem_responses(422))
def list_taxonomy_terms(
    session: SessionDep,
    page: PageDep,
    taxonomy: Annotated[
        str | None, Query(max_length=64, description='Scheme code, e.g. "need"')
    ] = None,
    parent: Annotated[uuid.UUID | None, Query(description="Only children of this term")] = None,
    q: Annotated[
        str | None,
        Query(min_length=1, max_length=100, description="Words in the name or a synonym"),
    ] = None,
) -> TermPage:
    """Terms with their synonyms; needs list the categories that help with them."""
    return service.list_terms(session, page, taxonomy=taxonomy, parent_id=parent, q=q)


@router.get("/taxonomy-terms/{term_id}", responses=problem_responses(404, 422))
def get_taxonomy_term(session: SessionDep, term_id: Annotated[uuid.UUID, Path()]) -> TermPublic:
    return service.get_term(session, term_id)
