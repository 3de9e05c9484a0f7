"""Listing freshness: how long since someone confirmed an activity is still accurate.

``fresh`` until ``SIGNPOST_REVIEW_DUE_DAYS`` (183) after ``last_confirmed_at``, then
``due_for_review``, then ``stale`` after ``SIGNPOST_STALE_DAYS`` (365). After
``SIGNPOST_HIDE_AFTER_DAYS`` (548) it no longer appears in referral search; its organisation
still sees it, in listings and in its review queue. Confirming it unchanged
(``POST /v1/activities/{id}/confirm``) starts the clock again.
"""

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import exists, select
from sqlmodel import Field, Session, SQLModel

from app.core.config import get_settings
from app.core.schemas import as_json


class FreshnessStatus(StrEnum):
    fresh = "fresh"
    due_for_review = "due_for_review"
    stale = "stale"


class Freshness(SQLModel):
    status: FreshnessStatus
    last_confirmed_at: datetime
    review_due_at: datetime = Field(description="When it becomes due for review")
    in_referral_search: bool = Field(
        description="False once unconfirmed for longer than the hard limit"
    )


def freshness(last_confirmed_at: datetime, now: datetime) -> Freshness:
    return Freshness(**_freshness(last_confirmed_at, now))


def freshness_json(last_confirmed_at: datetime, now: datetime) -> dict[str, Any]:
    """``freshness(...)`` as JSON, for pages of many."""
    return as_json(Freshness, **_freshness(last_confirmed_at, now))


def _freshness(last_confirmed_at: datetime, now: datetime) -> dict[str, Any]:
    settings = get_settings()
    age = now - last_confirmed_at
    if age > timedelta(days=settings.stale_days):
        status = FreshnessStatus.stale
    elif age > timedelta(days=settings.review_due_days):
        status = FreshnessStatus.due_for_review
    else:
        status = FreshnessStatus.fresh
    return {
        "status": status,
        "last_confirmed_at": last_confirmed_at,
        "review_due_at": last_confirmed_at + timedelta(days=settings.review_due_days),
        "in_referral_search": age <= timedelta(days=settings.hide_after_days),
    }


def nudge_unconfirmed(session: Session, now: datetime) -> int:
    """Ask each organisation, once per unconfirmed stretch, to confirm listings that are due
    for review (``activity.review_due``) and again when they go stale (``activity.stale``).
    Confirming starts a new stretch, so the next one is nudged afresh. Listings already
    nudged in this stretch are left out in the query, so an hourly run over a national
    directory reads only what is new."""
    from app.activities.models import Activity
    from app.notifications.events import EventType, emit
    from app.notifications.models import OutboxEvent
    from app.organisations.models import Organisation

    settings = get_settings()
    due_before = now - timedelta(days=settings.review_due_days)
    stale_before = now - timedelta(days=settings.stale_days)
    nudged = 0
    for kind, window in (
        (EventType.activity_review_due, Activity.last_confirmed_at >= stale_before),
        (EventType.activity_stale, Activity.last_confirmed_at < stale_before),
    ):
        already = exists().where(
            OutboxEvent.subject_id == Activity.id,
            OutboxEvent.type == kind.value,
            OutboxEvent.created_at > Activity.last_confirmed_at,
        )
        rows = session.execute(
            select(Activity.id, Activity.organisation_id, Activity.name, Activity.last_confirmed_at)
            .join(Organisation, Organisation.id == Activity.organisation_id)
            .where(
                Activity.last_confirmed_at < due_before,
                window,
                Activity.archived_at.is_(None),
                Organisation.archived_at.is_(None),
                ~already,
            )
        ).all()
        for row in rows:
            nudged += emit(
                session,
                kind,
                organisation_id=row.organisation_id,
                subject_id=row.id,
                dedupe_key=f"{kind}:{row.id}:{row.last_confirmed_at.isoformat()}",
                activity_id=row.id,
                name=row.name,
                last_confirmed_at=row.last_confirmed_at,
            )
    return nudged
