"""``signpost worker``: fans outbox events out into deliveries and delivers them.

Any number of workers share the work on PostgreSQL: events and deliveries are claimed with
``FOR UPDATE SKIP LOCKED`` (a row one worker holds is skipped by the others), deliveries
with a lease written in the claiming transaction, so sending happens outside any
transaction and a worker that dies mid-send only delays its claims by the lease. On SQLite
(one worker) the same statements run without the row locks.

SIGTERM or SIGINT: the worker finishes the delivery in hand (each is bounded by its
timeout), releases the rest of its claims for others, and exits.
"""

import os
import socket
import threading
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from app.core.config import get_settings
from app.core.db import get_engine
from app.core.types import utcnow
from app.notifications import messages, sweeps
from app.notifications.models import Channel
from app.notifications.outbox import Job, Outcome, claim, fan_out, record
from app.notifications.transport import DeliveryFailed, Mailer, WebhookSender

log = structlog.get_logger("signpost.worker")
SWEEP_LOCK = 7_316_042  # pg advisory lock: one worker sweeps at a time


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
            done = sweeps.run_sweeps(session, now)
            session.commit()
        log.info("sweep done", **done)
        return done

    def run(self) -> None:
        """Until stopped: work while there is work, then poll."""
        poll = get_settings().worker_poll_seconds
        log.info("worker started", worker=self.name)
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
        log.info("worker stopped", worker=self.name)
