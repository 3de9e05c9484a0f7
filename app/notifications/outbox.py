"""The worker's side of the outbox, in the database: fan events out into deliveries, claim
due deliveries with a lease, record what happened (retry later, dead-letter, switch off a
failing webhook). Claims use ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so any number of
workers share the work without delivering anything twice; SQLite runs the same statements
without the row locks (one worker)."""

import uuid
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import structlog
import tenacity
from sqlalchemy import or_, select, update
from sqlmodel import Session

from app.accounts.models import User
from app.core import crypto
from app.core.config import get_settings
from app.notifications import messages
from app.notifications.events import ACCOUNT_EVENTS, EventType, emit
from app.notifications.models import (
    Channel,
    Delivery,
    DeliveryMode,
    DeliveryStatus,
    NotificationPreference,
    OutboxEvent,
    Webhook,
)
from app.notifications.recipients import active_webhooks, email_audience, subscribed_webhooks
from app.notifications.transport import DeliveryFailed

log = structlog.get_logger("signpost.worker")
LEASE = timedelta(minutes=5)
UK = ZoneInfo("Europe/London")


def next_digest_at(now: datetime) -> datetime:
    """The next SIGNPOST_DIGEST_HOUR o'clock, UK time, after ``now``."""
    local = now.astimezone(UK)
    at = datetime.combine(local.date(), time(get_settings().digest_hour), tzinfo=UK)
    if at <= local:
        at = datetime.combine(local.date() + timedelta(days=1), time(at.hour), tzinfo=UK)
    return at.astimezone(now.tzinfo)


def retry_delay(attempts: int) -> timedelta:
    """Exponential backoff with jitter after ``attempts`` failures (tenacity's timing)."""
    settings = get_settings()
    wait = tenacity.wait_exponential_jitter(
        multiplier=settings.delivery_retry_initial_seconds,
        max=settings.delivery_retry_max_seconds,
        jitter=settings.delivery_retry_initial_seconds,
    )
    state = tenacity.RetryCallState(None, None, (), {})
    state.attempt_number = attempts
    return timedelta(seconds=wait(state))


# --- fan-out ------------------------------------------------------------------------------


def fan_out(session: Session, now: datetime, batch: int) -> int:
    """Turn undispatched events into deliveries: an email per user who wants it (now, or
    held for their digest), a POST per subscribed webhook."""
    events = list(
        session.execute(
            select(OutboxEvent)
            .where(OutboxEvent.dispatched_at.is_(None))
            .order_by(OutboxEvent.created_at, OutboxEvent.id)
            .limit(batch)
            .with_for_update(skip_locked=True)
        ).scalars()
    )
    if not events:
        return 0
    webhooks = active_webhooks(session)
    digest_at = next_digest_at(now)
    for event in events:
        users = email_audience(session, event)
        modes = {} if event.type in ACCOUNT_EVENTS else _modes(session, users, event.type)
        for user_id in sorted(users):
            mode = modes.get(user_id, DeliveryMode.immediately)
            if mode is DeliveryMode.off:
                continue
            digest = mode is DeliveryMode.daily_digest
            session.add(
                Delivery(
                    event_id=event.id,
                    channel=Channel.email,
                    user_id=user_id,
                    digest=digest,
                    next_attempt_at=digest_at if digest else now,
                    created_at=now,
                )
            )
        if event.type == EventType.account_invitation:
            session.add(
                Delivery(
                    event_id=event.id,
                    channel=Channel.email,
                    invitation_id=uuid.UUID(event.payload["invitation_id"]),
                    next_attempt_at=now,
                    created_at=now,
                )
            )
        if event.type == EventType.webhook_ping:
            pinged = session.get(Webhook, uuid.UUID(event.payload["webhook_id"]))
            hooks = [pinged] if pinged is not None else []
        else:
            hooks = subscribed_webhooks(event, webhooks)
        for hook in hooks:
            session.add(
                Delivery(
                    event_id=event.id,
                    channel=Channel.webhook,
                    webhook_id=hook.id,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
        event.dispatched_at = now
        session.add(event)
    session.flush()
    return len(events)


def _modes(session: Session, users: set, event_type: str) -> dict:
    if not users:
        return {}
    rows = session.execute(
        select(NotificationPreference.user_id, NotificationPreference.mode).where(
            NotificationPreference.event_type == event_type,
            NotificationPreference.user_id.in_(users),
        )
    ).all()
    return {user_id: DeliveryMode(mode) for user_id, mode in rows}


# --- claiming and delivering --------------------------------------------------------------


@dataclass
class Job:
    delivery_id: uuid.UUID
    channel: Channel
    attempts: int
    event_id: uuid.UUID
    event_type: str
    created_at: datetime
    data: dict
    digest: bool = False
    to: str | None = None  # email address, or webhook URL
    user_id: uuid.UUID | None = None
    webhook_id: uuid.UUID | None = None
    secret: str | None = None
    message: messages.Message | None = None


@dataclass
class Outcome:
    job: Job
    error: DeliveryFailed | None = None
    status: int | None = None
    released: bool = False


def claim(session: Session, now: datetime, batch: int, worker: str) -> list[Job]:
    """Lease up to ``batch`` due deliveries to ``worker`` and load what sending needs."""
    due = (
        select(Delivery.id)
        .where(
            Delivery.status == DeliveryStatus.pending,
            Delivery.next_attempt_at <= now,
            or_(Delivery.claimed_until.is_(None), Delivery.claimed_until < now),
        )
        .order_by(Delivery.next_attempt_at, Delivery.id)
        .limit(batch)
        .with_for_update(skip_locked=True)
    )
    ids = list(session.execute(due).scalars())
    if not ids:
        return []
    session.execute(
        update(Delivery)
        .where(Delivery.id.in_(ids))
        .values(claimed_until=now + LEASE, claimed_by=worker)
    )
    from app.invitations.models import Invitation

    rows = session.execute(
        select(Delivery, OutboxEvent, User.email, Invitation.email, Webhook)
        .join(OutboxEvent, OutboxEvent.id == Delivery.event_id)
        .outerjoin(User, User.id == Delivery.user_id)
        .outerjoin(Invitation, Invitation.id == Delivery.invitation_id)
        .outerjoin(Webhook, Webhook.id == Delivery.webhook_id)
        .where(Delivery.id.in_(ids))
    ).all()
    jobs = []
    for delivery, event, user_email, invited_email, webhook in rows:
        email = user_email or invited_email
        data = {k: v for k, v in event.payload.items() if k != "actor_id"} | {
            "event_id": str(event.id),
            "organisation_id": _str(event.organisation_id),
        }
        job = Job(
            delivery_id=delivery.id,
            channel=delivery.channel,
            attempts=delivery.attempts,
            event_id=event.id,
            event_type=event.type,
            created_at=event.created_at,
            data=data,
            digest=delivery.digest,
            user_id=delivery.user_id,
            webhook_id=delivery.webhook_id,
        )
        if delivery.channel is Channel.email:
            job.to = email
            try:
                job.message = messages.compose(
                    session, event.type, event.payload, event.organisation_id, now
                )
            except Exception:  # a malformed payload fails its own deliveries, not the batch
                log.exception("could not compose a notification email")
        elif webhook is not None:
            job.to = webhook.url
            job.secret = crypto.decrypt(webhook.secret)["secret"]
        jobs.append(job)
    return jobs


def _str(value) -> str | None:
    return None if value is None else str(value)


def record(session: Session, outcomes: list[Outcome], now: datetime, worker: str) -> None:
    """Write what happened to each claimed delivery (only while the claim is still ours)."""
    settings = get_settings()
    for outcome in outcomes:
        job = outcome.job
        mine = (Delivery.id == job.delivery_id) & (Delivery.claimed_by == worker)
        values: dict = {"claimed_until": None, "claimed_by": None}
        if outcome.released:
            session.execute(update(Delivery).where(mine).values(**values))
            continue
        values["attempts"] = job.attempts + 1
        if outcome.error is None:
            values |= {
                "status": DeliveryStatus.delivered,
                "finished_at": now,
                "last_error": None,
                "response_status": outcome.status,
            }
        else:
            values |= {
                "last_error": outcome.error.reason,
                "response_status": outcome.error.status,
            }
            dead = job.attempts + 1 >= settings.delivery_max_attempts
            if dead:
                values |= {"status": DeliveryStatus.failed, "finished_at": now}
            else:
                values["next_attempt_at"] = now + retry_delay(job.attempts + 1)
            # Ids and our own wording only: no address, URL or payload reaches the log.
            (log.error if dead else log.warning)(
                "delivery failed",
                delivery_id=str(job.delivery_id),
                channel=job.channel.value,
                attempt=job.attempts + 1,
                reason=outcome.error.reason,
                dead_letter=dead,
            )
        session.execute(update(Delivery).where(mine).values(**values))
        if job.channel is Channel.webhook and job.webhook_id is not None:
            _count_webhook_result(session, job.webhook_id, outcome.error is None, now)
    session.flush()


def _count_webhook_result(session: Session, webhook_id: uuid.UUID, ok: bool, now) -> None:
    if ok:
        session.execute(
            update(Webhook)
            .where(Webhook.id == webhook_id, Webhook.consecutive_failures != 0)
            .values(consecutive_failures=0)
        )
        return
    limit = get_settings().webhook_disable_after_failures
    row = session.execute(
        update(Webhook)
        .where(Webhook.id == webhook_id)
        .values(consecutive_failures=Webhook.consecutive_failures + 1)
        .returning(Webhook.consecutive_failures, Webhook.is_active)
    ).first()
    if row is None or not row.is_active or row.consecutive_failures < limit:
        return
    disable_webhook(session, webhook_id, row.consecutive_failures, now)


def disable_webhook(session: Session, webhook_id: uuid.UUID, failures: int, now) -> None:
    """Switch a failing webhook off, fail what waits for it, and tell its owner."""
    reason = f"{failures} deliveries in a row failed"
    hook = session.execute(
        update(Webhook)
        .where(Webhook.id == webhook_id, Webhook.is_active.is_(True))
        .values(is_active=False, disabled_at=now, disabled_reason=reason, updated_at=now)
        .returning(Webhook.organisation_id, Webhook.url, Webhook.created_by_id)
    ).first()
    if hook is None:
        return
    session.execute(
        update(Delivery)
        .where(
            Delivery.webhook_id == webhook_id,
            Delivery.status == DeliveryStatus.pending,
            Delivery.claimed_until.is_(None),
        )
        .values(status=DeliveryStatus.failed, finished_at=now, last_error="webhook disabled")
    )
    emit(
        session,
        EventType.webhook_disabled,
        organisation_id=hook.organisation_id,
        subject_id=webhook_id,
        webhook_id=webhook_id,
        url=hook.url,
        failures=failures,
        owner_id=hook.created_by_id,
    )
