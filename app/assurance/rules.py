"""Derived assurance: each item's status and the organisation's level, from dates.

Item status, first match wins:

- ``missing``: a policy item that says the organisation has no such policy.
- ``expired``: ``lapses_on`` is before today (insurance or training expiry, policy review
  date, ICO renewal), whatever its review.
- ``pending``: submitted or changed, not yet reviewed by a steward.
- ``rejected``: a steward rejected it (``rejection_reason`` says what is missing).
- ``expiring``: verified and lapsing within ``SIGNPOST_ASSURANCE_EXPIRING_DAYS`` (30).
- ``verified``.

Organisation level, over the kinds in ``SIGNPOST_ASSURANCE_REQUIRED`` (default safeguarding
policy, public liability insurance, ICO registration):

- ``assured``: every required item verified and current (``expiring`` still counts);
- ``unassured``: some required item missing or rejected;
- ``lapsed``: otherwise, some required item expired;
- ``pending``: otherwise (all there, some awaiting review).

``assured_until`` (the earliest lapse among the required items once all are verified) is
what the search index keeps, so ``assured_only`` is right on any day without a sweep.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from app.assurance.models import AssuranceItem, AssuranceKind, ReviewStatus
from app.core.config import get_settings

NEVER = date(9999, 12, 31)
POLICY_KINDS = frozenset({AssuranceKind.safeguarding_policy, AssuranceKind.data_protection_policy})


class ItemStatus(StrEnum):
    missing = "missing"
    pending = "pending"
    rejected = "rejected"
    verified = "verified"
    expiring = "expiring"
    expired = "expired"


class AssuranceLevel(StrEnum):
    assured = "assured"
    pending = "pending"
    lapsed = "lapsed"
    unassured = "unassured"


CURRENT = frozenset({ItemStatus.verified, ItemStatus.expiring})


def required_kinds() -> list[AssuranceKind]:
    return [AssuranceKind(kind) for kind in get_settings().assurance_required]


def item_status(item: AssuranceItem, today: date) -> ItemStatus:
    if item.kind in POLICY_KINDS and item.has_policy is False:
        return ItemStatus.missing
    if item.lapses_on is not None and item.lapses_on < today:
        return ItemStatus.expired
    if item.review_status is ReviewStatus.pending:
        return ItemStatus.pending
    if item.review_status is ReviewStatus.rejected:
        return ItemStatus.rejected
    window = timedelta(days=get_settings().assurance_expiring_days)
    if item.lapses_on is not None and item.lapses_on <= today + window:
        return ItemStatus.expiring
    return ItemStatus.verified


@dataclass(frozen=True)
class Level:
    level: AssuranceLevel
    assured_until: date | None
    missing: list[AssuranceKind]


def level_of(items: Iterable[AssuranceItem], today: date) -> Level:
    by_kind = {item.kind: item for item in items if item.kind is not AssuranceKind.training}
    required = required_kinds()
    statuses = {
        kind: item_status(by_kind[kind], today) if kind in by_kind else ItemStatus.missing
        for kind in required
    }
    missing = [kind for kind, status in statuses.items() if status is ItemStatus.missing]
    until = assured_until(by_kind, required)
    if all(status in CURRENT for status in statuses.values()):
        level = AssuranceLevel.assured
    elif any(s in (ItemStatus.missing, ItemStatus.rejected) for s in statuses.values()):
        level = AssuranceLevel.unassured
    elif ItemStatus.expired in statuses.values():
        level = AssuranceLevel.lapsed
    else:
        level = AssuranceLevel.pending
    return Level(level, until if level is AssuranceLevel.assured else None, missing)


def assured_until(
    by_kind: dict[AssuranceKind, AssuranceItem], required: list[AssuranceKind]
) -> date | None:
    """The earliest lapse of the required items when all are verified, else None. Assured
    on a day exactly when this is that day or later."""
    dates = []
    for kind in required:
        item = by_kind.get(kind)
        if item is None or item.review_status is not ReviewStatus.verified:
            return None
        if item.kind in POLICY_KINDS and item.has_policy is False:
            return None
        dates.append(item.lapses_on or NEVER)
    return min(dates, default=NEVER)
