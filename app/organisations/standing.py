"""An organisation's standing: its assurance level and how it answers referrals, the two
figures every listing and search result shows of its provider.

Both are derived (``app.assurance.rules``, ``app.referrals.responsiveness``) and used to be
computed per request; now they are stored in ``organisation_standing`` when something that
changes them is written (an assurance item, a referral's status) and read with the page.
Each figure also changes with the clock alone, at a moment known when it is computed: the
level when a required item lapses, responsiveness when the oldest referral counted leaves
the 90-day window. A stored figure is used only until then (and only while the required
kinds are those it was computed for); a stale or missing one is computed from the live
tables, so an answer is always what the live tables say.
"""

import functools
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import event, exists, func, select
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session

from app.assurance import rules
from app.assurance.models import AssuranceItem
from app.assurance.rules import AssuranceLevel
from app.core.db import insert_missing, insert_or_replace
from app.core.types import utcnow
from app.organisations.models import Organisation, OrganisationStanding
from app.referrals import responsiveness as provider_responsiveness
from app.referrals.models import Referral
from app.referrals.responsiveness import Responsiveness

COLUMNS = (
    OrganisationStanding.assurance_level,
    OrganisationStanding.assurance_valid_through,
    OrganisationStanding.assurance_required,
    OrganisationStanding.responsiveness,
    OrganisationStanding.responsiveness_valid_until,
)


@dataclass(frozen=True)
class Standing:
    assurance_level: AssuranceLevel
    responsiveness_json: dict[str, Any]  # a ``Responsiveness`` as JSON, as stored

    @functools.cached_property
    def responsiveness(self) -> Responsiveness:
        return Responsiveness.model_validate(self.responsiveness_json)


def required_now() -> list[str]:
    """The assurance kinds required today, as a stored standing lists them."""
    return [str(kind) for kind in rules.required_kinds()]


def stored(row: Mapping[str, Any] | None, now: datetime, required: list[str]) -> Standing | None:
    """The standing in a row with ``COLUMNS``, or None when it is missing, not computed yet
    (a placeholder ``refresh`` is about to fill) or has run out (``required``: what
    ``required_now`` says, read once for all the rows)."""
    if row is None or not row["assurance_level"]:
        return None
    through = row["assurance_valid_through"]
    until = row["responsiveness_valid_until"]
    if (
        row["assurance_required"] != required
        or (through is not None and now.date() > through)
        or (until is not None and now >= until)
    ):
        return None
    # Stored as Responsiveness.model_dump(mode="json") wrote it: passed through as it is.
    return Standing(AssuranceLevel(row["assurance_level"]), row["responsiveness"])


def for_organisations(
    session: Session, organisation_ids: Iterable[uuid.UUID], now: datetime
) -> dict[uuid.UUID, Standing]:
    """Each organisation's standing: stored where it still holds, else computed."""
    wanted = set(organisation_ids)
    if not wanted:
        return {}
    rows = session.execute(
        select(OrganisationStanding.organisation_id, *COLUMNS).where(
            OrganisationStanding.organisation_id.in_(wanted)
        )
    )
    required = required_now()
    found = {row.organisation_id: stored(row._mapping, now, required) for row in rows}
    return complete(session, found, wanted, now)


def complete(
    session: Session,
    found: Mapping[uuid.UUID, Standing | None],
    wanted: Iterable[uuid.UUID],
    now: datetime,
) -> dict[uuid.UUID, Standing]:
    """``found`` with every organisation it lacks (or holds as None) computed live."""
    answer = {o: s for o, s in found.items() if s is not None}
    missing = set(wanted) - set(answer)
    if missing:
        for organisation_id, values in _compute(session, missing, now).items():
            answer[organisation_id] = Standing(
                AssuranceLevel(values["assurance_level"]), values["responsiveness"]
            )
    return answer


def refresh(session: Session, organisation_ids: Iterable[uuid.UUID], now: datetime) -> None:
    """Store the organisations' standing as the live tables now say, in the caller's
    transaction. Each row is locked before it is computed, so of two writers the second
    computes after the first has committed and no change is lost."""
    wanted = sorted(set(organisation_ids))  # one lock order for every writer
    if not wanted:
        return
    placeholders = [
        {
            "organisation_id": organisation_id,
            "assurance_level": "",
            "assurance_required": [],
            "responsiveness": {},
            "refreshed_at": now,
        }
        for organisation_id in wanted
    ]
    insert_missing(session, OrganisationStanding.__table__, placeholders, ["organisation_id"])
    session.execute(
        select(OrganisationStanding.organisation_id)
        .where(OrganisationStanding.organisation_id.in_(wanted))
        .order_by(OrganisationStanding.organisation_id)
        .with_for_update()
    ).all()
    computed = _compute(session, wanted, now)
    insert_or_replace(
        session,
        OrganisationStanding.__table__,
        [
            {"organisation_id": organisation_id, **values, "refreshed_at": now}
            for organisation_id, values in computed.items()
        ],
        ["organisation_id"],
    )


def mark(session: Session, organisation_id: uuid.UUID) -> None:
    """Something that changes this organisation's standing was written: store it afresh
    when the transaction commits (once per organisation, however many changes)."""
    session.info.setdefault(_MARKED, set()).add(organisation_id)


_MARKED = "standing_marked"


@event.listens_for(OrmSession, "after_flush")
def _mark_new_organisations(session: OrmSession, _context) -> None:
    """However an organisation comes to be, its standing is stored with it."""
    for instance in session.new:
        if isinstance(instance, Organisation):
            mark(session, instance.id)


@event.listens_for(OrmSession, "before_commit")
def _refresh_marked(session: Session) -> None:
    marked = session.info.pop(_MARKED, None)
    if marked:
        refresh(session, marked, utcnow())


@event.listens_for(OrmSession, "after_rollback")
def _forget_marked(session: Session) -> None:
    session.info.pop(_MARKED, None)


def refresh_all(session: Session, now: datetime) -> int:
    """Store every organisation's standing (``signpost reindex-search``)."""
    return _refresh_in_batches(session, select(Organisation.id), now)


def refresh_missing(session: Session, now: datetime) -> int:
    """Store the standing of organisations that have none (``signpost migrate``)."""
    have = exists().where(OrganisationStanding.organisation_id == Organisation.id)
    return _refresh_in_batches(session, select(Organisation.id).where(~have), now)


def refresh_stale(session: Session, now: datetime) -> int:
    """Store afresh every standing that has run out (the worker's hourly sweep), so reads
    stop computing it."""
    stale = select(OrganisationStanding.organisation_id).where(
        (OrganisationStanding.assurance_valid_through < now.date())
        | (OrganisationStanding.responsiveness_valid_until <= now)
    )
    return _refresh_in_batches(session, stale, now)


def _refresh_in_batches(session: Session, ids_statement, now: datetime) -> int:
    ids = list(session.execute(ids_statement).scalars())
    for start in range(0, len(ids), 500):
        refresh(session, ids[start : start + 500], now)
    return len(ids)


def _compute(
    session: Session, organisation_ids: Iterable[uuid.UUID], now: datetime
) -> dict[uuid.UUID, dict[str, Any]]:
    from app.assurance.service import items_of  # it refreshes the standing it changes

    wanted = set(organisation_ids)
    today = now.date()
    required = rules.required_kinds()
    grouped: dict[uuid.UUID, list[AssuranceItem]] = {o: [] for o in wanted}
    for item in items_of(session, wanted):
        grouped[item.organisation_id].append(item)
    answers = provider_responsiveness.for_organisations(session, wanted, now)
    window = timedelta(days=provider_responsiveness.WINDOW_DAYS)
    oldest = dict(
        session.execute(
            select(Referral.organisation_id, func.min(Referral.created_at))
            .where(Referral.organisation_id.in_(wanted), Referral.created_at >= now - window)
            .group_by(Referral.organisation_id)
        ).all()
    )
    return {
        o: {
            "assurance_level": str(rules.level_of(grouped[o], today).level),
            "assurance_valid_through": _level_holds_through(grouped[o], required, today),
            "assurance_required": [str(kind) for kind in required],
            "responsiveness": answers[o].model_dump(mode="json"),
            "responsiveness_valid_until": oldest[o] + window if o in oldest else None,
        }
        for o in wanted
    }


def _level_holds_through(items: list[AssuranceItem], required, today: date) -> date | None:
    """The last day the level stays as it is today with no write: a required item whose
    ``lapses_on`` is today or later expires the day after it."""
    lapses = [
        item.lapses_on
        for item in items
        if item.kind in required and item.lapses_on is not None and item.lapses_on >= today
    ]
    return min(lapses, default=None)
