"""``signpost worker``: fans outbox events out into deliveries and delivers them.

Any number of workers share the work on PostgreSQL: events and deliveries are claimed with
``FOR UPDATE SKIP LOCKED`` (a row one worker holds is skipped by the others), deliveries
with a lease written in the claiming transaction, so sending happens outside any
transaction and a worker that dies mid-send only delays its claims by the lease. On SQLite
(one worker) the same statements run without the row locks.

SIGTERM or SIGINT: the worker finishes the delivery in hand (each is bounded by its
timeout), releases the rest of its claims for others, and exits.
"""

import logging
import os
import socket
import threading
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import tenacity
from sqlalchemy import and_, delete, exists, or_, select, text, update
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from app.accounts.models import User
from app.core import crypto
from app.core.config import get_settings
from app.core.db import get_engine
from app.core.types import utcnow
from app.notifications import messages
from app.notifications.events import EventType, emit
from app.notifications.models import (
    Channel,
    Delivery,
    DeliveryMode,
    DeliveryStatus,
    NotificationPreference,
    OutboxEvent,
    UsedToken,
    Webhook,
)
from app.notifications.recipients import active_webhooks, email_audience, subscribed_webhooks
from app.notifications.transport import DeliveryFailed, Mailer, WebhookSender

log = logging.getLogger("signpost.worker")
LEASE = timedelta(minutes=5)
UK = ZoneInfo("Europe/London")
SWEEP_LOCK = 7_316_042  # pg advisory lock: one worker sweeps at a time


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
        modes = _modes(session, users, event.type)
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
    rows = session.execute(
        select(Delivery, OutboxEvent, User.email, Webhook)
        .join(OutboxEvent, OutboxEvent.id == Delivery.event_id)
        .outerjoin(User, User.id == Delivery.user_id)
        .outerjoin(Webhook, Webhook.id == Delivery.webhook_id)
        .where(Delivery.id.in_(ids))
    ).all()
    jobs = []
    for delivery, event, email, webhook in rows:
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


class Deliverer:
    """Sends claimed jobs, one transport connection per batch; stops between jobs."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self._mailer: Mailer | None = None
        self._sender: WebhookSender | None = None

    def deliver(self, jobs: list[Job], now: datetime) -> list[Outcome]:
        outcomes: list[Outcome] = []
        digests: dict[uuid.UUID, list[Job]] = defaultdict(list)
        for job in jobs:
            if job.channel is Channel.email and job.digest:
                digests[job.user_id].append(job)
                continue
            if self.stop.is_set():
                outcomes.append(Outcome(job, released=True))
                continue
            outcomes.append(self._one(job, now))
        for group in digests.values():
            if self.stop.is_set():
                outcomes.extend(Outcome(job, released=True) for job in group)
                continue
            outcomes.extend(self._digest(group))
        return outcomes

    def _one(self, job: Job, now: datetime) -> Outcome:
        try:
            if job.channel is Channel.email:
                if not job.to:
                    raise DeliveryFailed("the recipient no longer exists")
                if job.message is None:
                    raise DeliveryFailed("the message could not be composed")
                self.mailer.send(
                    job.to,
                    job.message.subject,
                    messages.render(job.message),
                    job.delivery_id.hex,
                )
                return Outcome(job)
            if not job.to or not job.secret:
                raise DeliveryFailed("the webhook no longer exists")
            status = self.sender.send(
                job.to,
                job.secret,
                f"msg_{job.event_id.hex}",
                job.event_type,
                job.data,
                job.created_at,
                now,
            )
            return Outcome(job, status=status)
        except DeliveryFailed as failed:
            return Outcome(job, error=failed)

    def _digest(self, group: list[Job]) -> list[Outcome]:
        first = group[0]
        try:
            if not first.to:
                raise DeliveryFailed("the recipient no longer exists")
            body = messages.render_digest([j.message for j in group if j.message])
            count = len(group)
            subject = f"Signpost: {count} update{'s' if count != 1 else ''} for you"
            self.mailer.send(first.to, subject, body, first.delivery_id.hex)
            return [Outcome(job) for job in group]
        except DeliveryFailed as failed:
            return [Outcome(job, error=failed) for job in group]

    @property
    def mailer(self) -> Mailer:
        if self._mailer is None:
            self._mailer = Mailer()
        return self._mailer

    @property
    def sender(self) -> WebhookSender:
        if self._sender is None:
            self._sender = WebhookSender()
        return self._sender

    def close(self) -> None:
        if self._mailer is not None:
            self._mailer.close()
            self._mailer = None
        if self._sender is not None:
            self._sender.close()
            self._sender = None


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
            if job.attempts + 1 >= settings.delivery_max_attempts:
                values |= {"status": DeliveryStatus.failed, "finished_at": now}
            else:
                values["next_attempt_at"] = now + retry_delay(job.attempts + 1)
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


# --- sweeps -------------------------------------------------------------------------------


def run_sweeps(session: Session, now: datetime) -> dict[str, int]:
    """Everything time makes happen: referrals expiring and expired, pauses ended,
    assurance expiring and lapsed, listings due for review or stale; old outbox rows go."""
    from app.activities.freshness import nudge_unconfirmed
    from app.assurance import service as assurance
    from app.capacity.service import end_elapsed_pauses
    from app.referrals import service as referrals

    return {
        "referrals_expired": referrals.expire_unanswered(session, now),
        "referrals_expiring": referrals.warn_expiring(session, now),
        "pauses_ended": end_elapsed_pauses(session, now),
        "assurance_lapsed": assurance.sweep(session, now.date()),
        "assurance_expiring": assurance.warn_expiring(session, now.date()),
        "listings_nudged": nudge_unconfirmed(session, now),
        "outbox_purged": purge_outbox(session, now),
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


# --- the loop -----------------------------------------------------------------------------


@dataclass
class Worker:
    name: str = field(
        default_factory=lambda: f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
    )
    stop: threading.Event = field(default_factory=threading.Event)
    sweep: bool = True
    _last_sweep: datetime | None = None

    def run_once(self, now: datetime | None = None) -> int:
        """One round: sweep when due, fan out a batch, deliver a batch. Returns how much
        was done (0: nothing waiting)."""
        now = now or utcnow()
        batch = get_settings().worker_batch_size
        if self.sweep and self._sweep_due(now):
            self.run_sweeps(now)
        with Session(get_engine()) as session:
            fanned = fan_out(session, now, batch)
            session.commit()
        with Session(get_engine()) as session:
            jobs = claim(session, now, batch, self.name)
            session.commit()
        if not jobs:
            return fanned
        deliverer = Deliverer(self.stop)
        try:
            outcomes = deliverer.deliver(jobs, utcnow())
        finally:
            deliverer.close()
        with Session(get_engine()) as session:
            record(session, outcomes, utcnow(), self.name)
            session.commit()
        return fanned + len(jobs)

    def _sweep_due(self, now: datetime) -> bool:
        every = timedelta(minutes=get_settings().worker_sweep_minutes)
        return self._last_sweep is None or now - self._last_sweep >= every

    def run_sweeps(self, now: datetime) -> dict[str, int] | None:
        self._last_sweep = now
        with Session(get_engine()) as session:
            if session.get_bind().dialect.name == "postgresql":
                locked = session.execute(
                    text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": SWEEP_LOCK}
                ).scalar_one()
                if not locked:
                    return None  # another worker is sweeping
            done = run_sweeps(session, now)
            session.commit()
        log.info("sweep done", extra={"counts": done})
        return done

    def run(self) -> None:
        """Until stopped: work while there is work, then poll."""
        poll = get_settings().worker_poll_seconds
        log.info("worker started", extra={"worker": self.name})
        while not self.stop.is_set():
            try:
                worked = self.run_once()
            except OperationalError:
                log.warning("database unavailable; worker retrying")
                self.stop.wait(poll * 5)
                continue
            except Exception:  # one bad round must not stop every later delivery
                log.exception("worker round failed; retrying")
                self.stop.wait(poll * 5)
                continue
            if not worked:
                self.stop.wait(poll)
        log.info("worker stopped", extra={"worker": self.name})
