"""Load and faults, as a busy region meets them: many link workers at once, a burst of
referrals into one activity, the database restarting, the API being stopped, a long soak.

Every scenario is bounded in count and time, runs on loopback against the suite's own
PostgreSQL cluster, and writes its figures (``record``) to LOAD_RESULTS when that is set.
Durations are environment settings so CI can run them smaller: LOAD_SECONDS (mixed load),
LOAD_SOAK_SECONDS (soak).
"""

import asyncio
import os
import random
import signal
import subprocess
import time
import uuid
from collections import Counter

import httpx
import pytest

from load.harness import (
    Api,
    Tally,
    alive,
    by_kind,
    client_session,
    honour_retry_after,
    open_directory,
    percentile,
    record,
    rss_mb,
    run_for,
    send,
)

MIXED_SECONDS = float(os.environ.get("LOAD_SECONDS", 30))
SOAK_SECONDS = float(os.environ.get("LOAD_SOAK_SECONDS", 300))
# The slowest acceptable answer, even a refusal: pool checkout (3 s) plus connecting (3 s)
# plus a lock wait (2 s), with room for a loaded 2-core machine.
ANSWER_BOUND_SECONDS = 12


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def _mixed_request(directory, rng: random.Random) -> tuple[str, str, str, dict]:
    """One request as the directory's users send them: mostly searches and reads, some
    referrals and reports."""
    link_worker, commissioner = directory.auth("linkworker"), directory.auth("commissioner")
    roll = rng.random()
    if roll < 0.40:
        params = (
            {"need": rng.choice(["lonely", "low mood", "exercise"]), "postcode": "BS5 6AW"}
            if roll < 0.30
            else {"q": rng.choice(["walking", "singing", "garden"]), "postcode": "BS1"}
        )
        kind = "search need+postcode" if "need" in params else "search text"
        return kind, "GET", "/v1/referral-options", {"params": params, "headers": link_worker}
    if roll < 0.55:
        return "list activities", "GET", "/v1/activities", {"params": {"per_page": 20}}
    if roll < 0.70:
        return "read activity", "GET", f"/v1/activities/{rng.choice(directory.activity_ids)}", {}
    if roll < 0.80:
        return "me", "GET", "/v1/me", {"headers": link_worker}
    if roll < 0.85:
        return "list referrals", "GET", "/v1/referrals", {"headers": link_worker}
    if roll < 0.95:
        body = directory.referral_body(rng.choice(directory.referral_activity_ids))
        headers = {**link_worker, "Idempotency-Key": str(uuid.uuid4())}
        return "create referral", "POST", "/v1/referrals", {"json": body, "headers": headers}
    return "capacity report", "GET", "/v1/reports/capacity", {"headers": commissioner}


async def _mixed_load(directory, seconds: float, clients: int) -> Tally:
    tally = Tally()
    # One connection per simulated user, as hundreds of link workers' browsers would have.
    pool = [client_session(directory.base_url) for _ in range(clients)]

    async def one(index: int) -> None:
        rng = random.Random()
        kind, method, url, kwargs = _mixed_request(directory, rng)
        await honour_retry_after(await send(pool[index], tally, kind, method, url, **kwargs))

    try:
        await run_for(seconds, clients, one)
    finally:
        await asyncio.gather(*(client.close() for client in pool))
    return tally


def _summary(tally: Tally, seconds: float) -> list[str]:
    served = tally.seconds(served_only=True)
    every = tally.seconds()
    statuses = dict(sorted(tally.statuses().items(), key=str))
    return [
        f"{len(tally.answers)} requests in {seconds:.0f} s "
        f"({len(served) / seconds:.0f} served/s); answers {statuses}",
        f"served (status < 500): p50 {_ms(percentile(served, 50))}, "
        f"p95 {_ms(percentile(served, 95))}, p99 {_ms(percentile(served, 99))}, "
        f"max {_ms(max(served, default=0))}",
        f"every answer incl. 503: p99 {_ms(percentile(every, 99))}, "
        f"max {_ms(max(every, default=0))}",
    ]


def test_200_concurrent_mixed_requests(api, directory):
    """200 clients at once for LOAD_SECONDS: no 5xx but clear 503s, nothing hangs."""
    tally = asyncio.run(_mixed_load(directory, MIXED_SECONDS, clients=200))

    record(
        f"200 concurrent mixed requests, {api.workers} workers",
        _summary(tally, MIXED_SECONDS) + by_kind(tally),
    )
    assert tally.server_errors() == []
    assert tally.transport_errors() == []
    assert max(tally.seconds()) < ANSWER_BOUND_SECONDS
    served = [a for a in tally.answers if a.status is not None and a.status < 500]
    # What is admitted is served; the rest is refused at once and comes back later.
    assert {a.kind for a in served} == {a.kind for a in tally.answers}
    assert {a.status for a in served} <= {200, 201, 409}  # 409: an activity full, refusing


# --- A hot row: one activity, ten places, a hundred link workers at once ------------------


def _new_activity(directory, **capacity) -> str:
    """A published organisation's activity that takes referrals, made through the API."""
    admin = directory.auth("admin")
    with httpx.Client(base_url=directory.base_url, headers=admin, timeout=30) as client:
        organisation = client.post(
            "/v1/organisations",
            json={
                "name": f"Load {uuid.uuid4().hex[:8]}",
                "legal_form": "charity",
                "status": "published",
            },
        )
        assert organisation.status_code == 201, organisation.text
        activity = client.post(
            "/v1/activities",
            json={
                "organisation_id": organisation.json()["id"],
                "name": "Hot Row Walking Group",
                "access_modes": ["referral"],
                "schedules": [
                    {"freq": "WEEKLY", "byday": "TU", "opens_at": "10:00", "closes_at": "12:00"}
                ],
            },
        )
        assert activity.status_code == 201, activity.text
        activity_id = activity.json()["id"]
        if capacity:
            path = f"/v1/activities/{activity_id}/capacity"
            etag = client.get(path).headers["etag"]
            changed = client.patch(path, json=capacity, headers={"If-Match": etag})
            assert changed.status_code == 200, changed.text
    return activity_id


async def _all_at_once(directory, requests, retry_503: bool) -> tuple[Tally, list]:
    """Send every (method, url, kwargs) at once, one connection each; with ``retry_503``
    each is re-sent (same Idempotency-Key) after a 503 until it gets another answer. Returns
    the tally of every attempt and each request's final answer."""
    tally = Tally()
    sessions = [client_session(directory.base_url) for _ in requests]

    async def one(session, method, url, kwargs):
        while True:
            answer = await send(session, tally, url, method, url, **kwargs)
            if not (retry_503 and answer is not None and answer.status == 503):
                return answer
            await honour_retry_after(answer)

    try:
        finals = await asyncio.wait_for(
            asyncio.gather(*(one(s, *r) for s, r in zip(sessions, requests, strict=True))),
            timeout=120,
        )
    finally:
        await asyncio.gather(*(s.close() for s in sessions))
    return tally, finals


def _or_record_hang(title: str, work):
    """Run ``work``; if it has not finished in 120 s, write that down and fail."""
    try:
        return asyncio.run(work)
    except TimeoutError:
        record(title, ["hung: not every request was answered within 120 s"])
        raise


def test_100_referrals_into_10_places_then_100_accepts(cluster, api, directory):
    activity_id = _new_activity(directory, maximum=10)
    link_worker, admin = directory.auth("linkworker"), directory.auth("admin")
    creates = [
        (
            "POST",
            "/v1/referrals",
            {
                "json": directory.referral_body(activity_id),
                "headers": {**link_worker, "Idempotency-Key": str(uuid.uuid4())},
            },
        )
        for _ in range(100)
    ]
    started = time.monotonic()
    created_tally, created = _or_record_hang(
        "100 referrals into one activity with 10 places: creates",
        _all_at_once(directory, creates, retry_503=True),
    )
    create_seconds = time.monotonic() - started
    record(
        "100 referrals into one activity with 10 places, then 100 accepts at once",
        [
            f"creates: {create_seconds:.1f} s, attempts {dict(created_tally.statuses())} "
            f"(503s retried after Retry-After), max answer "
            f"{max(created_tally.seconds()) * 1000:.0f} ms",
        ],
    )
    assert created_tally.server_errors() == [] and created_tally.transport_errors() == []
    assert Counter(answer.status for answer in created) == {201: 100}
    referral_ids = [answer.json()["id"] for answer in created]

    accepts = [
        (
            "POST",
            f"/v1/referrals/{referral_id}/transitions",
            {"json": {"status": "accepted"}, "headers": admin},
        )
        for referral_id in referral_ids
    ]
    started = time.monotonic()
    accept_tally, accepted = _or_record_hang(
        "100 accepts at once", _all_at_once(directory, accepts, retry_503=False)
    )
    accept_seconds = time.monotonic() - started

    first_attempts = Counter(answer.status for answer in accepted)
    record(
        "... and the 100 accepts",
        [
            f"accepts: {accept_seconds:.1f} s, answers {dict(first_attempts)}, "
            f"max answer {max(accept_tally.seconds()) * 1000:.0f} ms",
        ],
    )
    assert accept_tally.server_errors() == [] and accept_tally.transport_errors() == []
    assert set(first_attempts) <= {200, 409, 503}
    stored_accepted = cluster.scalar(
        "signpost",
        "SELECT count(*) FROM referral WHERE activity_id = %s AND status = 'accepted'",
        activity_id,
    )
    assert first_attempts[200] == stored_accepted
    # Accepts refused for load are sent again: exactly ten places are ever taken.
    retries = [accepts[i] for i, answer in enumerate(accepted) if answer.status == 503]
    if retries:
        _, retried = asyncio.run(_all_at_once(directory, retries, retry_503=True))
        assert {answer.status for answer in retried} <= {200, 409}
    assert (
        cluster.scalar(
            "signpost",
            "SELECT count(*) FROM referral WHERE activity_id = %s AND status = 'accepted'",
            activity_id,
        )
        == 10
    )
    with httpx.Client(base_url=directory.base_url, headers=admin) as client:
        capacity = client.get(f"/v1/activities/{activity_id}/capacity").json()
    assert capacity["available"] == 0


# --- The database restarts under write load ---------------------------------------------


async def _writes_through_restart(cluster, directory, activity_id: str, mode: str) -> dict:
    """Twenty link workers keep creating referrals (each retried with its Idempotency-Key
    until acknowledged) while the cluster stops (``mode``), stays down 3 s and starts."""
    tally, probes = Tally(), Tally()
    acknowledged: list[str] = []
    unacknowledged: list[str] = []  # keys still refused after 90 s of retrying
    timeline: dict[str, float] = {}
    stop = asyncio.Event()
    link_worker = directory.auth("linkworker")

    async def writer(session) -> None:
        while not stop.is_set():
            key = str(uuid.uuid4())
            body = directory.referral_body(activity_id)
            give_up = time.monotonic() + 90
            while time.monotonic() < give_up:
                answer = await send(
                    session,
                    tally,
                    "create referral",
                    "POST",
                    "/v1/referrals",
                    json=body,
                    headers={**link_worker, "Idempotency-Key": key},
                )
                if answer is not None and answer.status == 201:
                    acknowledged.append(answer.json()["id"])
                    break
                await honour_retry_after(answer)
            else:
                unacknowledged.append(key)

    async def prober(session) -> None:
        while not stop.is_set():
            await send(session, probes, "readyz", "GET", "/readyz")
            await asyncio.sleep(0.5)

    async def fault() -> None:
        await asyncio.sleep(4)
        timeline["down"] = time.monotonic()
        await asyncio.to_thread(cluster.stop, mode)
        timeline["stopped"] = time.monotonic()  # pg_ctl -w returned: nothing is listening
        await asyncio.sleep(3)
        timeline["starting"] = time.monotonic()
        await asyncio.to_thread(cluster.start)
        timeline["up"] = time.monotonic()
        await asyncio.sleep(10)
        stop.set()

    sessions = [client_session(directory.base_url) for _ in range(21)]
    try:
        await asyncio.gather(fault(), prober(sessions[0]), *map(writer, sessions[1:]))
    finally:
        await asyncio.gather(*(s.close() for s in sessions))
    return {
        "tally": tally,
        "probes": probes,
        "acknowledged": acknowledged,
        "unacknowledged": unacknowledged,
        **timeline,
    }


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_database_restart_under_write_load(cluster, api, directory, mode):
    activity_id = _new_activity(directory)
    processes = (api.process.pid, sorted(api.worker_pids()))

    run = asyncio.run(_writes_through_restart(cluster, directory, activity_id, mode))

    tally, probes, acknowledged = run["tally"], run["probes"], run["acknowledged"]
    down, up = run["down"], run["up"]
    outage = [a for a in tally.answers if down <= a.started < up]
    after = [a for a in tally.answers if a.started >= up and a.status == 201]
    recovered_in = min(a.started + a.seconds for a in after) - up if after else float("inf")
    # Probes sent while nothing listened: between pg_ctl stop returning and start being called
    # (a probe sent as the stop begins may still find the database, one sent as it starts
    # may already find it again).
    probes_down = [a for a in probes.answers if run["stopped"] <= a.started < run["starting"]]
    stored = cluster.scalar(
        "signpost", "SELECT count(*) FROM referral WHERE activity_id = %s", activity_id
    )
    present = cluster.scalar(
        "signpost", "SELECT count(*) FROM referral WHERE id = ANY(%s::uuid[])", acknowledged
    )
    record(
        f"PostgreSQL stopped ({mode}) for 3 s under write load (20 writers), API not restarted",
        [
            f"{len(acknowledged)} referrals acknowledged; {present} of them stored; "
            f"{stored} referral rows in all; {len(run['unacknowledged'])} never acknowledged "
            "after 90 s of retries",
            f"answers while down: {dict(Counter(a.status or a.error for a in outage))}, "
            f"slowest {max((a.seconds for a in outage), default=0) * 1000:.0f} ms",
            f"/readyz while down: {dict(Counter(a.status or a.error for a in probes_down))}, "
            f"slowest {max((a.seconds for a in probes_down), default=0) * 1000:.0f} ms",
            f"first acknowledged write {recovered_in:.1f} s after the database was back",
            f"every attempt: {dict(tally.statuses())}",
        ],
    )
    assert run["unacknowledged"] == []
    assert tally.server_errors() == [] and tally.transport_errors() == []
    assert {a.status for a in probes.answers} <= {200, 503}  # 503: unreachable or pool busy
    assert {a.status for a in outage} <= {201, 503}
    assert max(a.seconds for a in tally.answers) < ANSWER_BOUND_SECONDS
    assert {a.status for a in probes_down} == {503}
    assert recovered_in < 10
    assert present == len(acknowledged) == stored  # nothing lost, nothing applied twice
    assert (api.process.pid, sorted(api.worker_pids())) == processes  # recovered by itself


# --- Stopping the API --------------------------------------------------------------------


def _wait_exit(api: Api, seconds: float) -> float | None:
    """Seconds until the master exited, or None if it had not within ``seconds``."""
    started = time.monotonic()
    try:
        api.process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        return None
    return time.monotonic() - started


async def _load_then_signal(api: Api, directory, signum: int, clients: int = 30) -> dict:
    """Mixed load; SIGTERM the master after 3 s; keep sending until it has exited."""
    tally, timeline = Tally(), {}
    sessions = [client_session(directory.base_url) for _ in range(clients)]
    acknowledged: list[str] = []

    async def user(session) -> None:
        rng = random.Random()
        while "exited" not in timeline:
            kind, method, url, kwargs = _mixed_request(directory, rng)
            answer = await send(session, tally, kind, method, url, **kwargs)
            if answer is not None and answer.status == 201 and kind == "create referral":
                acknowledged.append(answer.json()["id"])
            await honour_retry_after(answer)

    async def stopper() -> None:
        await asyncio.sleep(3)
        timeline["signalled"] = time.monotonic()
        api.signal(signum)
        timeline["exit_seconds"] = await asyncio.to_thread(_wait_exit, api, 60)
        timeline["exited"] = time.monotonic()

    try:
        await asyncio.gather(stopper(), *map(user, sessions))
    finally:
        await asyncio.gather(*(s.close() for s in sessions))
    return {"tally": tally, "acknowledged": acknowledged, **timeline}


def test_sigterm_mid_load_finishes_what_was_admitted(cluster, database_url):
    grace = 5
    api = Api(database_url, workers=2, shutdown_grace_seconds=grace).start()
    try:
        directory = open_directory(api.base_url)
        workers = api.worker_pids()
        run = asyncio.run(_load_then_signal(api, directory, signal.SIGTERM))
    finally:
        api.stop()
    tally, signalled = run["tally"], run["signalled"]
    before = [a for a in tally.answers if a.started < signalled - 0.2]
    after = [a for a in tally.answers if a.started >= signalled]
    stored = cluster.scalar(
        "signpost", "SELECT count(*) FROM referral WHERE id = ANY(%s::uuid[])", run["acknowledged"]
    )
    record(
        f"SIGTERM to the master mid-load (30 clients, 2 workers, grace {grace} s)",
        [
            f"master exited {run['exit_seconds']:.1f} s after SIGTERM; workers left running: "
            f"{sum(map(alive, workers))}",
            f"requests sent before SIGTERM: {dict(Counter(a.status or a.error for a in before))}",
            f"requests sent after: {dict(Counter(a.status or a.error for a in after))}",
            f"{len(run['acknowledged'])} referrals acknowledged, {stored} stored",
        ],
    )
    assert run["exit_seconds"] is not None and run["exit_seconds"] < grace + 5
    assert not any(map(alive, workers))
    assert tally.server_errors() == []
    assert all(a.status is not None for a in before), "a request admitted before was cut"
    assert stored == len(run["acknowledged"])


def test_sigterm_during_a_stall_is_bounded_by_the_grace_period(cluster, database_url):
    """Requests stuck behind a row lock (waits made long on purpose) cannot hold the
    server up: after the grace period they are cut, the process exits, and the cut
    transactions leave nothing behind."""
    grace = 3
    api = Api(
        database_url,
        workers=2,
        shutdown_grace_seconds=grace,
        db_lock_timeout_ms=120_000,
        db_statement_timeout_ms=120_000,
    ).start()
    directory = open_directory(api.base_url)
    activity_id = _new_activity(directory, maximum=10)
    workers = api.worker_pids()
    blocker = cluster.connect("signpost")
    try:
        blocker.execute(
            "SELECT 1 FROM activity_capacity WHERE activity_id = %s FOR UPDATE", (activity_id,)
        )

        async def stalled_then_stopped():
            tally = Tally()
            sessions = [client_session(directory.base_url) for _ in range(5)]
            headers = directory.auth("linkworker")
            requests = [
                send(
                    s,
                    tally,
                    "create referral",
                    "POST",
                    "/v1/referrals",
                    json=directory.referral_body(activity_id),
                    headers=headers,
                )
                for s in sessions
            ]
            pending = asyncio.gather(*requests)
            await asyncio.sleep(2)  # every request is now waiting for the row lock
            api.signal(signal.SIGTERM)
            exit_seconds = await asyncio.to_thread(_wait_exit, api, 60)
            await pending
            await asyncio.gather(*(s.close() for s in sessions))
            return tally, exit_seconds

        tally, exit_seconds = asyncio.run(stalled_then_stopped())
    finally:
        blocker.rollback()
        blocker.close()
        api.stop()
    time.sleep(1)  # the cut transactions' backends notice their clients have gone
    stored = cluster.scalar(
        "signpost", "SELECT count(*) FROM referral WHERE activity_id = %s", activity_id
    )
    record(
        f"SIGTERM while 5 requests wait on a held row lock (grace {grace} s)",
        [
            f"master exited {exit_seconds:.1f} s after SIGTERM" if exit_seconds else "never",
            f"the stuck requests got: {dict(tally.statuses())}; referrals stored: {stored}",
        ],
    )
    assert exit_seconds is not None and exit_seconds < grace + 5
    assert not any(map(alive, workers))
    assert stored == 0
    assert all(a.status is None or a.status == 503 for a in tally.answers)


def test_workers_never_outlive_a_killed_master(database_url):
    api = Api(database_url, workers=2).start()
    try:
        workers = api.worker_pids()
        api.signal(signal.SIGKILL)
        api.process.wait(timeout=10)
        deadline = time.monotonic() + 10
        while any(map(alive, workers)) and time.monotonic() < deadline:
            time.sleep(0.1)
        gone_after = 10 - (deadline - time.monotonic())
    finally:
        api.stop()
    record(
        "SIGKILL to the master (2 workers)",
        [f"workers gone {gone_after:.1f} s later; still running: {sum(map(alive, workers))}"],
    )
    assert not any(map(alive, workers))


# --- A soak: memory per worker over time -------------------------------------------------


def _medians(samples: list[float], parts: int = 3) -> list[float]:
    """The median of each of ``parts`` consecutive windows of the samples."""
    size = len(samples) // parts
    return [
        sorted(w)[len(w) // 2] for w in (samples[i * size : (i + 1) * size] for i in range(parts))
    ]


def test_soak_memory_does_not_keep_growing(database_url):
    """40 clients of mixed load for LOAD_SOAK_SECONDS; each worker's RSS every 5 s. The
    first third warms up (caches, pools, the allocator's arenas). Over the rest, split in
    three windows, a worker grows steadily if each window's median RSS is above the last
    and the whole rise exceeds LOAD_RSS_MAX_GROWTH_MB: that fails."""
    limit = float(os.environ.get("LOAD_RSS_MAX_GROWTH_MB", 10))
    api = Api(database_url, workers=3).start()
    samples: dict[int, list[float]] = {pid: [] for pid in api.worker_pids()}
    try:
        directory = open_directory(api.base_url)

        async def soak() -> Tally:
            started = time.monotonic()

            async def sampler() -> None:
                while time.monotonic() - started < SOAK_SECONDS:
                    for pid, series in samples.items():
                        series.append(rss_mb(pid) or 0.0)
                    await asyncio.sleep(5)

            results = await asyncio.gather(
                _mixed_load(directory, SOAK_SECONDS, clients=40), sampler()
            )
            return results[0]

        tally = asyncio.run(soak())
    finally:
        api.stop()
    windows = {pid: _medians(series[len(series) // 3 :]) for pid, series in samples.items()}
    steady = {pid: w[0] < w[1] < w[2] and w[2] - w[0] > limit for pid, w in windows.items()}
    record(
        f"Soak: 40 clients of mixed load for {SOAK_SECONDS:.0f} s, 3 workers",
        _summary(tally, SOAK_SECONDS)
        + [
            f"worker {index}: RSS {series[0]:.0f} MB at start, {series[-1]:.0f} MB at the "
            f"end; after warm-up, window medians "
            + " / ".join(f"{m:.1f}" for m in windows[pid])
            + " MB"
            for index, (pid, series) in enumerate(samples.items(), 1)
        ],
    )
    assert tally.server_errors() == [] and tally.transport_errors() == []
    assert not any(steady.values()), windows
