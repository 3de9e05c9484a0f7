"""Keep ``activity_search`` in step with what an activity is found by."""

import uuid
from collections import defaultdict
from collections.abc import Iterable

from sqlmodel import Session, select

from app.activities.models import Activity, ActivityTerm
from app.organisations.models import Organisation
from app.search.models import ActivitySearch
from app.vocabulary.models import TaxonomyTerm, TermSynonym

BATCH = 500


def refresh(session: Session, activity_ids: Iterable[uuid.UUID]) -> int:
    """Rebuild the search documents of these activities; returns how many."""
    ids = list(dict.fromkeys(activity_ids))
    for start in range(0, len(ids), BATCH):
        _refresh_batch(session, ids[start : start + BATCH])
    session.flush()
    return len(ids)


def refresh_organisation(session: Session, organisation_id: uuid.UUID) -> int:
    ids = session.exec(select(Activity.id).where(Activity.organisation_id == organisation_id))
    return refresh(session, list(ids))


def refresh_all(session: Session) -> int:
    return refresh(session, list(session.exec(select(Activity.id))))


def _refresh_batch(session: Session, ids: list[uuid.UUID]) -> None:
    words: dict[uuid.UUID, list[str]] = defaultdict(list)
    for activity_id, name, description, suits, organisation in session.exec(
        select(Activity.id, Activity.name, Activity.description, Activity.suits, Organisation.name)
        .join(Organisation, Organisation.id == Activity.organisation_id)
        .where(Activity.id.in_(ids))
    ):
        words[activity_id] += [name, description, suits, organisation]
    for activity_id, term_name in session.exec(
        select(ActivityTerm.activity_id, TaxonomyTerm.name)
        .join(TaxonomyTerm, TaxonomyTerm.id == ActivityTerm.term_id)
        .where(ActivityTerm.activity_id.in_(ids))
    ):
        words[activity_id].append(term_name)
    for activity_id, synonym in session.exec(
        select(ActivityTerm.activity_id, TermSynonym.text)
        .join(TermSynonym, TermSynonym.term_id == ActivityTerm.term_id)
        .where(ActivityTerm.activity_id.in_(ids))
    ):
        words[activity_id].append(synonym)
    for activity_id, parts in words.items():
        document = " ".join(part for part in parts if part)[:20000]
        row = session.get(ActivitySearch, activity_id)
        if row is None:
            session.add(ActivitySearch(activity_id=activity_id, document=document))
        elif row.document != document:
            row.document = document
            session.add(row)
