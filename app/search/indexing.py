"""Keep ``activity_search`` (text), ``activity_facet`` (filters), ``activity_place`` (each
located venue, with a copy of the facets and on PostgreSQL of the text vector) and the
activity cards in step with the activities, organisations and schedules they are built
from."""

import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import delete, exists, text
from sqlmodel import Session, select

from app.activities import cards
from app.activities.models import (
    AccessMode,
    Activity,
    ActivityStatus,
    ActivityTerm,
    ActivityVenue,
    CostType,
    DeliveryMode,
    Schedule,
)
from app.assurance.service import assured_until_for
from app.capacity.models import ActivityCapacity
from app.core.types import utcnow
from app.organisations import standing
from app.organisations.models import Organisation, OrganisationStatus
from app.search.models import (
    ActivityCardRecord,
    ActivityFacet,
    ActivityPlace,
    ActivitySearch,
    SearchWord,
    capacity_copy,
    lock_facet_rows,
)
from app.search.words import add_to_lexicon, lexicon_words
from app.venues.models import Venue
from app.vocabulary.models import TaxonomyTerm, TermSynonym

BATCH = 500
WEEKDAY_BITS = {code: 1 << n for n, code in enumerate(("MO", "TU", "WE", "TH", "FR", "SA", "SU"))}
DELIVERY_BITS = {mode: 1 << n for n, mode in enumerate(DeliveryMode)}
LOW_COST_POUNDS = 5


def weekday_mask(days: Iterable[str]) -> int:
    return sum(WEEKDAY_BITS[day] for day in set(days))


def delivery_mask(modes: Iterable[DeliveryMode | str]) -> int:
    return sum(DELIVERY_BITS[DeliveryMode(mode)] for mode in set(modes))


def cost_class(activity: Activity) -> int:
    if activity.cost_type == CostType.free:
        return 0
    if activity.cost_type == CostType.donation:
        return 1
    if activity.cost_amount is not None and activity.cost_amount <= LOW_COST_POUNDS:
        return 2
    return 3


def refresh(session: Session, activity_ids: Iterable[uuid.UUID]) -> int:
    """Rebuild the search rows of these activities; returns how many. In key order, so
    two transactions rebuilding overlapping sets lock their rows in the same order."""
    ids = sorted(set(activity_ids))
    for start in range(0, len(ids), BATCH):
        _refresh_batch(session, ids[start : start + BATCH])
    session.flush()
    return len(ids)


def refresh_venue(session: Session, venue_id: uuid.UUID) -> int:
    return refresh_venues(session, [venue_id])


def refresh_venues(session: Session, venue_ids: Iterable[uuid.UUID]) -> int:
    ids = session.exec(
        select(ActivityVenue.activity_id).where(ActivityVenue.venue_id.in_(list(venue_ids)))
    )
    return refresh(session, list(ids))


def refresh_terms(session: Session, term_ids: Iterable[uuid.UUID]) -> int:
    """A term was renamed or its synonyms changed: its activities' documents hold them."""
    ids = session.exec(
        select(ActivityTerm.activity_id).where(ActivityTerm.term_id.in_(list(term_ids)))
    )
    return refresh(session, list(dict.fromkeys(ids)))


def refresh_organisation(session: Session, organisation_id: uuid.UUID) -> int:
    ids = session.exec(select(Activity.id).where(Activity.organisation_id == organisation_id))
    return refresh(session, list(ids))


def refresh_all(session: Session) -> int:
    """Rebuild every activity's rows and card, the lexicon from scratch, and every
    organisation's standing, committing as it goes: each batch of activities is its own
    transaction, so a write to a listing, its capacity or a referral waits at most for one
    batch (about a second), not for the whole directory (minutes)."""
    ids = sorted(session.exec(select(Activity.id)))
    for start in range(0, len(ids), BATCH):
        _refresh_batch(session, ids[start : start + BATCH])
        session.commit()
    # Words no document holds any more leave the lexicon. The lexicon is read first: a
    # word a write adds meanwhile is not in it, so it is kept.
    known = set(session.scalars(select(SearchWord.word)))
    stale = sorted(known - _document_words(session))
    for start in range(0, len(stale), BATCH):
        session.exec(delete(SearchWord).where(SearchWord.word.in_(stale[start : start + BATCH])))
    standing.refresh_all(session, utcnow())
    session.commit()
    return len(ids)


def _document_words(session: Session) -> set[str]:
    """The words of every activity's search document: what the lexicon should hold."""
    words: set[str] = set()
    for document in session.exec(select(ActivitySearch.document)).yield_per(BATCH):
        words |= lexicon_words(document)
    return words


def _refresh_batch(session: Session, ids: list[uuid.UUID]) -> None:
    # Two transactions rebuilding one activity at once (two editors changing its venues)
    # take turns here: the second waits for the first to commit, then reads and rebuilds
    # from what it wrote. Without the lock both deleted the old place rows and the second
    # collided with the first's new ones (a 409 for nothing).
    lock_facet_rows(session, ids)
    today = utcnow().date()
    words: dict[uuid.UUID, list[str]] = defaultdict(list)
    days: dict[uuid.UUID, set[str]] = defaultdict(set)
    for schedule in session.exec(select(Schedule).where(Schedule.activity_id.in_(ids))):
        if _current(schedule, today):
            days[schedule.activity_id] |= {token[-2:] for token in schedule.byday.split(",")}
    pairs = session.exec(
        select(Activity, Organisation)
        .join(Organisation, Organisation.id == Activity.organisation_id)
        .where(Activity.id.in_(ids))
    ).all()
    assured = assured_until_for(session, {organisation.id for _, organisation in pairs})
    tagged: dict[uuid.UUID, list[str]] = defaultdict(list)
    for activity_id, term_id in session.exec(
        select(ActivityTerm.activity_id, ActivityTerm.term_id).where(
            ActivityTerm.activity_id.in_(ids)
        )
    ):
        tagged[activity_id].append(str(term_id))
    capacities = {
        row.activity_id: row
        for row in session.execute(
            select(ActivityCapacity.__table__).where(
                ActivityCapacity.__table__.c.activity_id.in_(ids)
            )
        )
    }
    facets: dict[uuid.UUID, dict] = {}
    for activity, organisation in pairs:
        words[activity.id] += [
            activity.name,
            activity.description,
            activity.suits,
            organisation.name,
        ]
        facets[activity.id] = _store_facet(
            session,
            activity,
            organisation,
            days[activity.id],
            assured[organisation.id],
            sorted(tagged[activity.id]),
            capacities.get(activity.id),
        )
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
    # Facet rows are written (and locked) before place rows, the order that
    # app.assurance.service.refresh_index takes them in too: the other order could deadlock.
    session.flush()
    _store_places(session, ids, facets)
    lexicon: set[str] = set()
    for activity_id, parts in words.items():
        document = " ".join(part for part in parts if part)[:20000]
        lexicon |= lexicon_words(document)
        row = session.get(ActivitySearch, activity_id)
        if row is None:
            session.add(ActivitySearch(activity_id=activity_id, document=document))
        elif row.document != document:
            row.document = document
            session.add(row)
    add_to_lexicon(session, lexicon)
    session.flush()
    if session.get_bind().dialect.name == "postgresql":
        # Each place row holds its activity's text vector, generated from the document
        # just stored (migration 0021).
        session.execute(
            text(
                "UPDATE activity_place AS p SET tsv = s.tsv FROM activity_search AS s "
                "WHERE s.activity_id = p.activity_id AND p.activity_id = ANY(:ids)"
            ),
            {"ids": ids},
        )
    cards.store(session, ids)


def _store_places(session: Session, ids: list[uuid.UUID], facets: dict[uuid.UUID, dict]) -> None:
    """A row per live, located venue of each activity, with its ``facets``."""
    session.exec(delete(ActivityPlace).where(ActivityPlace.activity_id.in_(ids)))
    for activity_id, venue in session.exec(
        select(ActivityVenue.activity_id, Venue)
        .join(Venue, Venue.id == ActivityVenue.venue_id)
        .where(
            ActivityVenue.activity_id.in_(ids),
            Venue.archived_at.is_(None),
            Venue.latitude.is_not(None),
        )
    ):
        session.add(
            ActivityPlace(
                activity_id=activity_id,
                venue_id=venue.id,
                latitude=venue.latitude,
                longitude=venue.longitude,
                accessibility=[str(feature) for feature in venue.accessibility],
                **facets[activity_id],
            )
        )


def _current(schedule: Schedule, today: date) -> bool:
    return schedule.valid_to is None or schedule.valid_to >= today


def _store_facet(
    session: Session,
    activity: Activity,
    organisation: Organisation,
    days: set[str],
    assured_until: date | None,
    term_ids: list[str],
    capacity: Any | None,
) -> dict:
    """Store the activity's ``SearchFacets``; returns them."""
    values = {
        "name": activity.name,
        "listed": (
            organisation.status == OrganisationStatus.published
            and organisation.archived_at is None
            and activity.status == ActivityStatus.active
            and activity.archived_at is None
        ),
        "assured_until": assured_until,
        "takes_referrals": AccessMode.referral in activity.access_modes,
        "minimum_age": activity.minimum_age,
        "maximum_age": activity.maximum_age,
        "weekdays": weekday_mask(days),
        "delivery": delivery_mask(activity.delivery_modes),
        "cost_class": cost_class(activity),
        "last_confirmed_at": activity.last_confirmed_at,
        "term_ids": term_ids,
        **capacity_copy(capacity),
    }
    facet = session.get(ActivityFacet, activity.id)
    if facet is None:
        session.add(ActivityFacet(activity_id=activity.id, **values))
    else:
        facet.sqlmodel_update(values)
        session.add(facet)
    return values


def refresh_missing(session: Session) -> int:
    """Index activities that have no search rows or card yet (e.g. rows older than
    migrations 0003 and 0012), fill the lexicon if it is empty (databases older than
    migration 0009), and store the standing of organisations that have none."""
    if session.exec(select(SearchWord.word).limit(1)).first() is None:
        add_to_lexicon(session, _document_words(session))
    # NOT EXISTS, not NOT IN: an anti-join, where NOT IN over a national directory's ids
    # overflows work_mem and runs a subplan per row.
    missing = select(Activity.id).where(~exists().where(ActivityFacet.activity_id == Activity.id))
    indexed = refresh(session, list(session.exec(missing)))
    without_card = list(
        session.exec(
            select(Activity.id).where(
                ~exists().where(ActivityCardRecord.activity_id == Activity.id)
            )
        )
    )
    for start in range(0, len(without_card), BATCH):
        cards.store(session, without_card[start : start + BATCH])
        session.expunge_all()  # a national directory's worth of objects is not kept
    standing.refresh_missing(session, utcnow())
    return indexed
