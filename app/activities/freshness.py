"""Listing freshness: how long since someone confirmed an activity is still accurate.

``fresh`` until ``SIGNPOST_REVIEW_DUE_DAYS`` (183) after ``last_confirmed_at``, then
``due_for_review``, then ``stale`` after ``SIGNPOST_STALE_DAYS`` (365). After
``SIGNPOST_HIDE_AFTER_DAYS`` (548) it no longer appears in referral search; its organisation
still sees it, in listings and in its review queue. Confirming it unchanged
(``POST /v1/activities/{id}/confirm``) starts the clock again.
"""

from datetime import datetime, timedelta
from enum import StrEnum

from sqlmodel import Field, SQLModel

from app.core.config import get_settings


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
    settings = get_settings()
    age = now - last_confirmed_at
    if age > timedelta(days=settings.stale_days):
        status = FreshnessStatus.stale
    elif age > timedelta(days=settings.review_due_days):
        status = FreshnessStatus.due_for_review
    else:
        status = FreshnessStatus.fresh
    return Freshness(
        status=status,
        last_confirmed_at=last_confirmed_at,
        review_due_at=last_confirmed_at + timedelta(days=settings.review_due_days),
        in_referral_search=age <= timedelta(days=settings.hide_after_days),
    )
