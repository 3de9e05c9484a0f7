"""Keeping closures, and reading them for activity cards."""

import uuid
from datetime import date

from sqlmodel import Session, select

from app.activities.models import Activity
from app.closures.models import Closure
from app.closures.schemas import ClosureCreate
from app.core.errors import InvalidField, NotFound
from app.search import indexing


def list_closures(
    session: Session, organisation_id: uuid.UUID, since: date | None
) -> list[Closure]:
    """The organisation's closures (its own and its activities'), by start; ``since``
    leaves out those over before it."""
    query = select(Closure).where(Closure.organisation_id == organisation_id)
    if since is not None:
        query = query.where(Closure.ends_on >= since)
    return list(session.exec(query.order_by(Closure.starts_on, Closure.id)))


def create_closure(session: Session, organisation_id: uuid.UUID, data: ClosureCreate) -> Closure:
    if data.activity_id is not None:
        owner = session.exec(
            select(Activity.organisation_id).where(Activity.id == data.activity_id)
        ).first()
        if owner != organisation_id:
            raise InvalidField(
                "body.activity_id", "is not one of this organisation's activities", "not_found"
            )
    closure = Closure(
        organisation_id=organisation_id,
        activity_id=data.activity_id,
        starts_on=data.starts_on,
        ends_on=data.last_day,
        reason=data.reason,
    )
    session.add(closure)
    session.flush()
    _refresh(session, closure)
    return closure


def delete_closure(session: Session, organisation_id: uuid.UUID, closure_id: uuid.UUID) -> None:
    closure = session.get(Closure, closure_id)
    if closure is None or closure.organisation_id != organisation_id:
        raise NotFound(f"No closure with id {closure_id} in this organisation")
    session.delete(closure)
    session.flush()
    _refresh(session, closure)


def _refresh(session: Session, closure: Closure) -> None:
    """The cards that show it: the activity's, or every activity of the organisation."""
    if closure.activity_id is not None:
        indexing.refresh(session, [closure.activity_id])
    else:
        indexing.refresh_organisation(session, closure.organisation_id)
