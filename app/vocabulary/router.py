import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response, status

from app.accounts.deps import Authenticated
from app.accounts.principal import Principal
from app.core.concurrency import IfMatch, check_if_match, set_etag
from app.core.db import SessionDep, StatementSessionDep
from app.core.errors import problem_responses
from app.core.pagination import PageDep
from app.idempotency.service import Idempotent, IdempotentRoute
from app.reports import queries as report_queries
from app.reports.common import Period, period_params
from app.vocabulary import curation, service
from app.vocabulary.matching import NEED_SCHEMES, suggest, understand
from app.vocabulary.models import TaxonomyTerm
from app.vocabulary.schemas import (
    SynonymCreate,
    SynonymText,
    TaxonomyPage,
    TaxonomyPublic,
    TermCreate,
    TermPage,
    TermPublic,
    TermUpdate,
    UnmatchedPhrase,
    UnmatchedPhrases,
)
from app.vocabulary.snapshot import snapshot

router = APIRouter(route_class=IdempotentRoute, prefix="/v1", tags=["vocabulary"])

TermId = Annotated[uuid.UUID, Path(description="The term's id")]
CURATION = problem_responses(401, 403, 404, 409, 422)


def _curator(principal: Authenticated) -> Principal:
    curation.require_curator(principal)
    return principal


Curator = Annotated[Principal, Depends(_curator)]


def _curated_term(session: SessionDep, _: Curator, term_id: TermId) -> TaxonomyTerm:
    return curation.term_for_update(session, term_id)


CuratedTerm = Annotated[TaxonomyTerm, Depends(_curated_term)]


def _public(session: SessionDep, response: Response, term: TaxonomyTerm) -> TermPublic:
    set_etag(response, term.version)
    return service.get_term(session, term.id)


@router.get("/taxonomies", responses=problem_responses(422))
def list_taxonomies(session: StatementSessionDep, page: PageDep) -> TaxonomyPage:
    """The vocabulary's schemes: activity categories, needs, accessibility and more."""
    return service.list_taxonomies(session, page)


@router.get("/taxonomies/{taxonomy_id}", responses=problem_responses(404, 422))
def get_taxonomy(
    session: StatementSessionDep, taxonomy_id: Annotated[uuid.UUID, Path()]
) -> TaxonomyPublic:
    return service.get_taxonomy(session, taxonomy_id)


@router.get("/taxonomy-terms", responses=problem_responses(422))
def list_taxonomy_terms(
    session: StatementSessionDep,
    page: PageDep,
    taxonomy: Annotated[
        str | None, Query(max_length=64, description='Scheme code, e.g. "need"')
    ] = None,
    parent: Annotated[uuid.UUID | None, Query(description="Only children of this term")] = None,
    q: Annotated[
        str | None,
        Query(min_length=1, max_length=100, description="Words in the name or a synonym"),
    ] = None,
    include_retired: Annotated[
        bool, Query(description="Also list retired terms (pickers leave them out)")
    ] = False,
) -> TermPage:
    """Terms with their synonyms; needs list the categories that help with them."""
    return service.list_terms(
        session, page, taxonomy=taxonomy, parent_id=parent, q=q, include_retired=include_retired
    )


@router.get("/taxonomy-terms/{term_id}", responses=problem_responses(404, 422))
def get_taxonomy_term(
    session: StatementSessionDep, term_id: TermId, response: Response
) -> TermPublic:
    """One term, retired or not. The `ETag` header is what `If-Match` needs to change it."""
    term = service.get_term(session, term_id)
    set_etag(response, term.version)
    return term


@router.post(
    "/taxonomy-terms",
    status_code=status.HTTP_201_CREATED,
    responses=CURATION,
    dependencies=[Idempotent],
)
def create_taxonomy_term(
    session: SessionDep, _: Curator, body: TermCreate, response: Response
) -> TermPublic:
    """Add a term to a scheme, with its synonyms (stewards and admins). A synonym or name
    that already names another live term of the scheme is a 409 naming both."""
    term = curation.create_term(session, body)
    response.headers["Location"] = f"/v1/taxonomy-terms/{term.id}"
    return _public(session, response, term)


@router.patch(
    "/taxonomy-terms/{term_id}", responses=problem_responses(401, 403, 404, 409, 412, 422, 428)
)
def update_taxonomy_term(
    session: SessionDep,
    term: CuratedTerm,
    body: TermUpdate,
    response: Response,
    if_match: IfMatch = None,
) -> TermPublic:
    """Rename, re-describe or re-parent a term (send `If-Match` with the ETag you read).
    Searches in every process see the change within a few seconds."""
    check_if_match(if_match, term.version)
    return _public(session, response, curation.update_term(session, term, body.changes()))


@router.post("/taxonomy-terms/{term_id}/retire", responses=CURATION)
def retire_taxonomy_term(session: SessionDep, term: CuratedTerm, response: Response) -> TermPublic:
    """Retire a term: activities, referrals and records keep it, but pickers, searches by
    its words and new links leave it out. Its code still works in searches."""
    return _public(session, response, curation.set_retired(session, term, True))


@router.post("/taxonomy-terms/{term_id}/reinstate", responses=CURATION)
def reinstate_taxonomy_term(
    session: SessionDep, term: CuratedTerm, response: Response
) -> TermPublic:
    """Undo a retirement (409 if another term has taken one of its synonyms meanwhile)."""
    return _public(session, response, curation.set_retired(session, term, False))


@router.post("/taxonomy-terms/{term_id}/synonyms", responses=CURATION)
def add_synonym(
    session: SessionDep, term: CuratedTerm, body: SynonymCreate, response: Response
) -> TermPublic:
    """Add a way people say the term (e.g. an unmatched phrase from
    `GET /v1/vocabulary/unmatched-phrases`); adding one it has already changes nothing."""
    return _public(session, response, curation.add_synonym(session, term, body.text))


@router.delete("/taxonomy-terms/{term_id}/synonyms/{text}", responses=CURATION)
def remove_synonym(
    session: SessionDep,
    term: CuratedTerm,
    text: Annotated[SynonymText, Path(description="The synonym, as listed")],
    response: Response,
) -> TermPublic:
    return _public(session, response, curation.remove_synonym(session, term, text))


CategoryId = Annotated[uuid.UUID, Path(description="An activity category's id")]


@router.put("/taxonomy-terms/{term_id}/helped-by/{category_id}", responses=CURATION)
def link_category(
    session: SessionDep, term: CuratedTerm, category_id: CategoryId, response: Response
) -> TermPublic:
    """Say that activities of this category help with this need: need searches then find
    them (ranked a little below activities tagged with the need itself)."""
    return _public(session, response, curation.link(session, term, category_id, True))


@router.delete("/taxonomy-terms/{term_id}/helped-by/{category_id}", responses=CURATION)
def unlink_category(
    session: SessionDep, term: CuratedTerm, category_id: CategoryId, response: Response
) -> TermPublic:
    return _public(session, response, curation.link(session, term, category_id, False))


@router.get("/vocabulary/unmatched-phrases", responses=problem_responses(401, 403, 422))
def list_unmatched_phrases(
    session: StatementSessionDep, _: Curator, period: Annotated[Period, Depends(period_params)]
) -> UnmatchedPhrases:
    """What link workers searched for that no term understood, with the terms each looks
    like, so a steward can add it as a synonym in one call (stewards and admins). A phrase
    shows once at least 5 separate searches used it, and stops showing once the vocabulary
    understands it."""
    snap = snapshot(session)
    found = []
    for row in report_queries.unmatched_phrases(session, period):
        if understand(snap, NEED_SCHEMES, row["phrase"]).ids:
            continue  # curated since
        suggested = suggest(snap, NEED_SCHEMES, row["phrase"])
        summaries = service.summaries(session, suggested)
        found.append(
            UnmatchedPhrase(**row, suggestions=[summaries[term_id] for term_id in suggested])
        )
    return UnmatchedPhrases(minimum_searches=report_queries.PHRASE_MIN_SEARCHES, contents=found)
