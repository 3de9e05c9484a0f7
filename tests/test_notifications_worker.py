"""``signpost worker`` as a process: it delivers, and on SIGTERM it finishes the delivery in
hand, releases the rest of its claims and exits within the grace period."""

import os
import signal
import subprocess
import sys
import time

from sqlalchemy import select

from app.notifications.models import Delivery, DeliveryStatus, OutboxEvent
from tests.factories import patch
from tests.notification_world import Receiver, build_people, deliver_all

GRACE_SECONDS = 10  # docker-compose gives the worker 30 s; a delivery takes at most 5 s


def _wait_for(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_sigterm_finishes_the_delivery_in_hand_and_releases_the_rest(session, client):
    people = build_people(session, client)
    receiver = Receiver(delay=1.0).start()
    try:
        hook = client.post(
            "/v1/webhooks", json={"url": receiver.url, "event_types": ["capacity.changed"]}
        )
        assert hook.status_code == 201, hook.text
        path = f"/v1/activities/{people.activity['id']}/capacity"
        for number in range(6):
            assert patch(people.provider, path, {"maximum": 10 + number}).status_code == 200
        env = os.environ | {"SIGNPOST_WORKER_POLL_SECONDS": "0.1"}
        worker = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "worker"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            assert _wait_for(lambda: receiver.requests, 30), "the worker delivered nothing"
            worker.send_signal(signal.SIGTERM)
            started = time.monotonic()
            worker.wait(timeout=GRACE_SECONDS)
            assert time.monotonic() - started < GRACE_SECONDS
        finally:
            if worker.poll() is None:
                worker.kill()
        assert worker.returncode == 0, worker.stderr.read().decode()[-2000:]
        session.expire_all()
        deliveries = [d for d in session.execute(select(Delivery)).scalars() if d.webhook_id]
        events = session.execute(
            select(OutboxEvent.id).where(OutboxEvent.type == "capacity.changed")
        ).all()
        assert len(deliveries) == len(events) == 7  # the activity's creation and 6 changes
        assert all(d.claimed_by is None and d.claimed_until is None for d in deliveries)
        delivered = [d for d in deliveries if d.status is DeliveryStatus.delivered]
        assert 1 <= len(delivered) < 7
        assert len(delivered) == len(receiver.requests)  # finished, and recorded as such
        assert {d.attempts for d in deliveries if d not in delivered} == {0}  # released
        receiver.delay = 0
        deliver_all()
        ids = [r["headers"]["webhook-id"] for r in receiver.requests]
        assert len(ids) == len(set(ids)) == 7
    finally:
        receiver.stop()


def test_in_production_the_worker_will_not_start_without_smtp(monkeypatch):
    from typer.testing import CliRunner

    from app.cli import cli
    from app.core.config import get_settings

    monkeypatch.setenv("SIGNPOST_ENVIRONMENT", "production")
    monkeypatch.setenv("SIGNPOST_SECRET_KEY", "a-private-value-for-this-test-only")
    monkeypatch.setenv("SIGNPOST_DATA_KEYS", "bXktdGVzdC1rZXktMzItYnl0ZXMtbG9uZy0xMjM0NTY=")
    monkeypatch.delenv("SIGNPOST_SMTP_HOST", raising=False)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["worker", "--once"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code != 0
    assert "SIGNPOST_SMTP_HOST" in result.output
