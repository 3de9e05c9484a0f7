"""The closures activity cards show (no imports of the search index: it reads this)."""

import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import date

from sqlalchemy import or_
from sqlmodel import Session, select

from app.activities.models import Activity
from app.closures.models import Closure


def for_activities(
    session: Session, activities: Iterable[Activity], today: date
) -> dict[uuid.UUID, list[Closure]]:
    """Each activity's closures not over by ``today``: its own and its organisation's, by
    start (one query)."""
    activities = list(activities)
    if not activities:
        return {}
    ids = {a.id for a in activities}
    organisations = {a.organisation_id for a in activities}
    found = session.exec(
        select(Closure)
        .where(
            Closure.organisation_id.in_(organisations),
            Closure.ends_on >= today,
            or_(Closure.activity_id.is_(None), Closure.activity_id.in_(ids)),
        )
        .order_by(Closure.starts_on, Closure.id)
    )
    by_organisation: dict[uuid.UUID, list[Closure]] = defaultdict(list)
    by_activity: dict[uuid.UUID, list[Closure]] = defaultdict(list)
    for closure in found:
        if closure.activity_id is None:
            by_organisation[closure.organisation_id].append(closure)
        else:
            by_activity[closure.activity_id].append(closure)
    return {
        a.id: sorted(
            by_organisation[a.organisation_id] + by_activity[a.id],
            key=lambda c: (c.starts_on, str(c.id)),
        )
        for a in activities
    }
