"""Notification throughput: events delivered per second by one and by two workers.

Fills the outbox of a PostgreSQL database with BENCH_OUTBOX_EVENTS `capacity.changed`
events (10,000 times BENCH_SCALE, at least 40) for an admin's webhook, starts `signpost worker`
processes (one, then two) and a webhook receiver on loopback, and times the deliveries
(signed POSTs, each recorded in the delivery log) from the first to the last. Appends the
figures to bench/RESULTS.md (BENCH_RESULTS).

Environment: BENCH_DATABASE_URL (default: SIGNPOST_DATABASE_URL), BENCH_SCALE,
BENCH_RESULTS, BENCH_OUTBOX_BATCH (the workers' SIGNPOST_WORKER_BATCH_SIZE, 50).
"""

import os
import platform
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = Path(os.environ.get("BENCH_RESULTS", ROOT / "bench" / "RESULTS.md"))
SCALE = float(os.environ.get("BENCH_SCALE", "1"))
EVENTS = max(40, round(10_000 * SCALE))
BATCH = os.environ.get("BENCH_OUTBOX_BATCH", "50")
DATABASE_URL = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("SIGNPOST_DATABASE_URL")


class Receiver(BaseHTTPRequestHandler):
    received = 0
    lock = threading.Lock()

    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        with Receiver.lock:
            Receiver.received += 1
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_args):
        pass


def main() -> None:
    if not DATABASE_URL or not DATABASE_URL.startswith("postgresql"):
        sys.exit("set BENCH_DATABASE_URL to a PostgreSQL database (several workers need it)")
    os.environ["SIGNPOST_DATABASE_URL"] = DATABASE_URL
    env = dict(os.environ, SIGNPOST_LOG_LEVEL="WARNING", SIGNPOST_WORKER_POLL_SECONDS="0.05")
    env["SIGNPOST_WORKER_BATCH_SIZE"] = BATCH
    subprocess.run([sys.executable, "-m", "app.cli", "migrate"], env=env, check=True, cwd=ROOT)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    webhook_id = _setup(url)
    rows = []
    for workers in (1, 2):
        _fill(EVENTS)
        rows.append((workers, *_run(env, workers, webhook_id)))
    server.shutdown()
    _write(rows)


def _setup(url: str) -> uuid.UUID:
    from sqlmodel import Session

    import app.models  # noqa: F401
    from app.accounts.models import GlobalRole, User
    from app.core import crypto
    from app.core.db import get_engine
    from app.notifications.models import Webhook

    with Session(get_engine()) as session:
        admin = User(
            email=f"bench-{uuid.uuid4().hex[:8]}@bench.example",
            display_name="Bench",
            password_hash="-",
            role=GlobalRole.admin,
        )
        session.add(admin)
        session.flush()
        hook = Webhook(
            url=url,
            event_types=["capacity.changed"],
            secret=crypto.encrypt({"secret": "whsec_" + "YmVuY2gtc2VjcmV0LWJlbmNoLXNlY3JldA=="}),
            created_by_id=admin.id,
        )
        session.add(hook)
        session.commit()
        return hook.id


def _fill(count: int) -> None:
    from sqlmodel import Session

    from app.core.db import get_engine
    from app.core.types import utcnow
    from app.notifications.models import OutboxEvent

    now = utcnow()
    payload = {"activity_id": str(uuid.uuid4()), "status": "open", "available": 3}
    with Session(get_engine()) as session:
        session.execute(
            OutboxEvent.__table__.insert(),
            [
                {
                    "id": uuid.uuid4(),
                    "type": "capacity.changed",
                    "payload": payload,
                    "created_at": now,
                }
                for _ in range(count)
            ],
        )
        session.commit()


def _delivered(webhook_id: uuid.UUID) -> tuple[int, int]:
    from sqlalchemy import func, select
    from sqlmodel import Session

    from app.core.db import get_engine
    from app.notifications.models import Delivery, DeliveryStatus

    with Session(get_engine()) as session:
        rows = dict(
            session.execute(
                select(Delivery.status, func.count())
                .where(Delivery.webhook_id == webhook_id)
                .group_by(Delivery.status)
            ).all()
        )
    return rows.get(DeliveryStatus.delivered, 0), rows.get(DeliveryStatus.failed, 0)


def _run(env: dict, workers: int, webhook_id: uuid.UUID) -> tuple[float, float, int]:
    before, _ = _delivered(webhook_id)
    received_before = Receiver.received
    started = time.perf_counter()
    processes = [
        subprocess.Popen([sys.executable, "-m", "app.cli", "worker"], env=env, cwd=ROOT)
        for _ in range(workers)
    ]
    first = None
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            delivered, failed = _delivered(webhook_id)
            if first is None and delivered > before:
                first = time.perf_counter()
            if delivered - before >= EVENTS or failed:
                break
            time.sleep(0.05)
        finished = time.perf_counter()
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
    delivered, failed = _delivered(webhook_id)
    if delivered - before != EVENTS or failed:
        sys.exit(f"{workers} worker(s): {delivered - before} of {EVENTS} delivered, {failed} lost")
    duplicates = Receiver.received - received_before - EVENTS
    steady = EVENTS / (finished - (first or started))
    return EVENTS / (finished - started), steady, duplicates


def _write(rows) -> None:
    host = DATABASE_URL.split("@")[-1]
    lines = [
        f"## Notification outbox throughput, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"Machine: {platform.node()}, {os.cpu_count()} cores, {platform.machine()}, Python "
        f"{platform.python_version()}; PostgreSQL (`{host}`); {EVENTS:,} `capacity.changed` "
        f"events per run for one webhook (a signed POST each to a receiver on loopback), "
        f"worker batch {BATCH}. Whole run: from starting the worker processes to the last "
        "delivery recorded; steady: from the first delivery to the last.",
        "",
        "| workers | events/s (whole run) | events/s (steady) | duplicate deliveries |",
        "|---|---|---|---|",
        *[f"| {w} | {whole:.0f} | {steady:.0f} | {dup} |" for w, whole, steady, dup in rows],
        "",
    ]
    with RESULTS.open("a", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
