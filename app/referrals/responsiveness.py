"""How providers answer referrals, shown on listings and search results."""

import statistics
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlmodel import Field, Session, SQLModel

from app.referrals.models import Referral, ReferralStatus

WINDOW_DAYS = 90


class Responsiveness(SQLModel):
    """How a provider answers referrals (as "usually replies in 3 days, 94% accepted")."""

    window_days: int = Field(description="Counted over referrals received in these days")
    referrals_received: int
    median_hours_to_first_response: float | None = Field(
        description="Median time to accept, decline or waitlist; null with no answers yet"
    )
    acceptance_rate: float | None = Field(
        description="Accepted, of those answered or left to expire (0 to 1)"
    )


def for_organisations(
    session: Session, organisation_ids: Iterable[uuid.UUID], now: datetime
) -> dict[uuid.UUID, Responsiveness]:
    """Per organisation, over referrals received in the last 90 days: the median time to a
    first answer (accept, decline or waitlist) and the share accepted, of those answered or
    left to expire (withdrawn before an answer, and still-open ones, do not count)."""
    wanted = set(organisation_ids)
    received: dict[uuid.UUID, int] = dict.fromkeys(wanted, 0)
    hours: dict[uuid.UUID, list[float]] = {o: [] for o in wanted}
    decided: dict[uuid.UUID, int] = dict.fromkeys(wanted, 0)
    accepted: dict[uuid.UUID, int] = dict.fromkeys(wanted, 0)
    if wanted:
        rows = session.execute(
            select(
                Referral.organisation_id,
                Referral.created_at,
                Referral.first_response_at,
                Referral.accepted_at,
                Referral.status,
            ).where(
                Referral.organisation_id.in_(wanted),
                Referral.created_at >= now - timedelta(days=WINDOW_DAYS),
            )
        ).all()
        for organisation_id, created, responded, accepted_at, status in rows:
            received[organisation_id] += 1
            if responded is not None:
                hours[organisation_id].append((responded - created).total_seconds() / 3600)
            if responded is not None or status is ReferralStatus.expired:
                decided[organisation_id] += 1
                accepted[organisation_id] += accepted_at is not None
    return {
        o: Responsiveness(
            window_days=WINDOW_DAYS,
            referrals_received=received[o],
            median_hours_to_first_response=round(statistics.median(hours[o]), 1)
            if hours[o]
            else None,
            acceptance_rate=round(accepted[o] / decided[o], 3) if decided[o] else None,
        )
        for o in wanted
    }
