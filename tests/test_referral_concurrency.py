"""Many link workers and providers at once never overbook an activity or pass its cap.

On PostgreSQL the requests really run at once (50 threads released together); SQLite
runs one writer at a time, so there the same requests run one after another.
"""

import threading
import time
import uuid
from collections import Counter

import pytest
from sqlalchemy import select, text

from app.accounts.models import GlobalRole
from app.capacity.models import CapacityChange
from app.core.config import get_settings
from tests.factories import client_for, make_user
from tests.referral_world import build_world

CONCURRENT = not get_settings().is_sqlite


@pytest.fixture
def world(session, client):
    return build_world(session, client)


def _run_all(jobs):
    """Run the callables together (threads behind a barrier) or, on SQLite, in turn."""
    results = [None] * len(jobs)
    if not CONCURRENT:
        return [job() for job in jobs]
    barrier = threading.Barrier(len(jobs))

    def run(index, job):
        barrier.wait()
        results[index] = job()

    threads = [threading.Thread(target=run, args=pair) for pair in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def _retrying(call):
    """Call until the answer is not 503, as a client honouring Retry-After would (with a
    shorter wait): 50 requests at once exceed one worker's in-flight limit, and a 503
    promises that nothing was saved."""
    for attempt in range(50):
        response = call()
        if response.status_code != 503:
            return response
        assert response.headers["retry-after"]
        time.sleep(0.02 * (attempt + 1))
    return response


def test_fifty_referrals_into_ten_places(world, session):
    world.set_capacity(maximum=10)
    link_workers = [client_for(make_user(session, role=GlobalRole.link_worker)) for _ in range(50)]

    def refer_and_accept(link_worker):
        def job():
            created = _retrying(
                lambda: link_worker.post("/v1/referrals", json=world.referral_body())
            )
            assert created.status_code == 201, created.text
            referral = created.json()
            accepted = _retrying(lambda: world.move(referral["id"], "accepted"))
            assert accepted.status_code in (200, 409), accepted.text
            return referral["status"], accepted.status_code

        return job

    started = time.perf_counter()
    outcomes = _run_all([refer_and_accept(lw) for lw in link_workers])
    elapsed = time.perf_counter() - started

    accept_codes = Counter(code for _, code in outcomes)
    assert accept_codes == {200: 10, 409: 40}
    stored = Counter(
        dict(session.execute(text("SELECT status, count(*) FROM referral GROUP BY status")).all())
    )
    assert stored["accepted"] == 10
    assert sum(stored.values()) == 50
    capacity = world.capacity()
    assert capacity["available"] == 0
    assert capacity["waiting_list_length"] == stored["waitlisted"]

    # The history tells the same story: each place taken once, never below zero.
    history = session.execute(
        select(CapacityChange.cause, CapacityChange.available).where(
            CapacityChange.activity_id == uuid.UUID(world.activity["id"])
        )
    ).all()
    taken = sorted(
        (available for cause, available in history if cause == "place_taken"), reverse=True
    )
    assert taken == list(range(9, -1, -1))
    assert all(available is None or available >= 0 for _, available in history)
    created_as = Counter(status for status, _ in outcomes)
    causes = Counter(cause for cause, _ in history)
    assert causes["referral_received"] == created_as["sent"]
    assert causes["waitlisted"] == created_as["waitlisted"]
    print(
        f"\n50 refer+accept pairs in {elapsed:.2f} s ({'concurrent' if CONCURRENT else 'serial'}); "
        f"created {dict(created_as)}; accept {dict(accept_codes)}"
    )


def test_a_burst_of_referrals_never_passes_the_weekly_cap(world, session):
    world.set_capacity(weekly_referral_cap=5, when_full="refuse")
    link_workers = [client_for(make_user(session, role=GlobalRole.link_worker)) for _ in range(20)]

    def refer(link_worker):
        return lambda: (
            _retrying(
                lambda: link_worker.post("/v1/referrals", json=world.referral_body())
            ).status_code
        )

    codes = Counter(_run_all([refer(lw) for lw in link_workers]))
    assert codes == {201: 5, 409: 15}
    assert session.execute(text("SELECT count(*) FROM referral")).scalar() == 5
    assert world.capacity()["referrals_this_week"] == 5
