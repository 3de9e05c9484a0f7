"""What time makes happen, run by the worker hourly (one worker at a time): referrals
expiring and expired, pauses ended, assurance expiring and lapsed, listings due for review or
stale; and old outbox rows removed."""

from datetime import datetime, timedelta

from sqlalchemy import and_, delete, exists
from sqlmodel import Session

from app.core.config import get_settings
from app.notifications.models import Delivery, DeliveryStatus, OutboxEvent, UsedToken


def run_sweeps(session: Session, now: datetime) -> dict[str, int]:
    """Everything time makes happen: referrals expiring and expired, pauses ended,
    assurance expiring and lapsed, listings due for review or stale, organisations'
    stored standing run out; old outbox rows go."""
    from app.activities.freshness import nudge_unconfirmed
    from app.assurance import service as assurance
    from app.capacity.service import end_elapsed_pauses
    from app.organisations import standing
    from app.referrals import service as referrals

    return {
        "referrals_expired": referrals.expire_unanswered(session, now),
        "referrals_expiring": referrals.warn_expiring(session, now),
        "pauses_ended": end_elapsed_pauses(session, now),
        "assurance_lapsed": assurance.sweep(session, now.date()),
        "assurance_expiring": assurance.warn_expiring(session, now.date()),
        "listings_nudged": nudge_unconfirmed(session, now),
        "outbox_purged": purge_outbox(session, now),
        "standings_refreshed": standing.refresh_stale(session, now),
    }


def purge_outbox(session: Session, now: datetime) -> int:
    """Events (and their deliveries) older than SIGNPOST_OUTBOX_RETENTION_DAYS with nothing
    left to deliver, and spent single-use tokens past their expiry."""
    cutoff = now - timedelta(days=get_settings().outbox_retention_days)
    waiting = exists().where(
        and_(Delivery.event_id == OutboxEvent.id, Delivery.status == DeliveryStatus.pending)
    )
    purged = session.execute(
        delete(OutboxEvent).where(
            OutboxEvent.created_at < cutoff, OutboxEvent.dispatched_at.is_not(None), ~waiting
        )
    ).rowcount
    session.execute(delete(UsedToken).where(UsedToken.expires_at < now))
    return purged
