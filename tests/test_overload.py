"""Every wait is bounded and overload is refused early: 503 problem+json with Retry-After,
never a hang or a 500, and nothing half-written (issue #20)."""

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from app.capacity.models import ActivityCapacity
from app.core import db
from app.core.config import get_settings
from app.core.http import InFlightLimitMiddleware
from app.main import app
from app.referrals.models import Referral
from tests.factories import create_listing
from tests.referral_world import build_world


def _is_busy(response):
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == str(get_settings().retry_after_seconds)
    return True


@pytest.fixture
def swap_engine():
    """Run a request against another engine, as if the process had built that one."""
    original = db._engine

    def swap(engine):
        db._engine = engine
        return engine

    yield swap
    if db._engine is not original:
        db._engine.dispose()
    db._engine = original


def test_one_engine_however_many_first_requests_arrive_together(monkeypatch, swap_engine):
    built = []

    def slow_make_engine(url):
        time.sleep(0.05)  # long enough for every thread to arrive while it is being built
        built.append(url)
        return db.create_engine("sqlite://")

    swap_engine(None)
    monkeypatch.setattr(db, "make_engine", slow_make_engine)
    with ThreadPoolExecutor(50) as pool:
        engines = list(pool.map(lambda _: db.get_engine(), range(50)))

    assert len(built) == 1
    assert len({id(engine) for engine in engines}) == 1


def test_requests_beyond_the_in_flight_limit_are_refused_at_once():
    release = asyncio.Event()

    async def slow(_request):
        await release.wait()
        return PlainTextResponse("done")

    async def probe(_request):
        return PlainTextResponse("ok")

    inner = Starlette(routes=[Route("/slow", slow), Route("/healthz", probe)])
    limited = InFlightLimitMiddleware(inner, limit=2, retry_after=2)

    async def scenario():
        transport = httpx.ASGITransport(app=limited)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            held = [asyncio.create_task(client.get("/slow")) for _ in range(2)]
            await asyncio.sleep(0.05)
            started = time.perf_counter()
            refused = await client.get("/slow")
            waited = time.perf_counter() - started
            probe_answer = await client.get("/healthz")
            release.set()
            finished = await asyncio.gather(*held)
            again = await client.get("/slow")
        return refused, waited, probe_answer, finished, again

    refused, waited, probe_answer, finished, again = asyncio.run(scenario())

    assert _is_busy(refused)
    assert waited < 0.5
    assert probe_answer.status_code == 200  # probes are never limited
    assert [r.status_code for r in finished] == [200, 200]
    assert again.status_code == 200  # the count goes back down


@pytest.fixture
def referral_world(client, session):
    world = build_world(session, client)
    return world.link_worker, world.referral_body(), world.activity


def _counts(session):
    session.expire_all()
    return (
        session.scalar(select(func.count()).select_from(Referral)),
        [tuple(row) for row in session.execute(select(ActivityCapacity.__table__))],
    )


def test_a_write_that_waits_too_long_for_a_lock_is_a_503_that_saved_nothing(
    referral_world, session
):
    link_worker, body, activity = referral_world
    before = _counts(session)

    def hold(holder):
        if holder.dialect.name == "postgresql":  # another transaction holds the hot row
            holder.execute(
                text("SELECT 1 FROM activity_capacity WHERE activity_id = :id FOR UPDATE"),
                {"id": activity["id"]},
            )
        else:  # SQLite: another transaction holds the write lock
            holder.exec_driver_sql("BEGIN IMMEDIATE")

    assert _busy_in_time(hold, lambda: link_worker.post("/v1/referrals", json=body))
    assert _counts(session) == before
    assert link_worker.post("/v1/referrals", json=body).status_code == 201  # and it recovers


def _busy_in_time(hold, request) -> bool:
    """``request()`` made while another connection, after ``hold(connection)``, holds a
    lock it needs: a 503 (``_is_busy``) within the lock timeout (and a margin)."""
    holder = db.get_engine().connect()
    try:
        hold(holder)
        started = time.perf_counter()
        response = request()
        waited = time.perf_counter() - started
    finally:
        holder.rollback()
        holder.close()
    assert waited < get_settings().db_lock_timeout_ms / 1000 + 2
    return _is_busy(response)


@pytest.mark.skipif(get_settings().is_sqlite, reason="SQLite's readers never wait for a lock")
@pytest.mark.parametrize(
    "path", ["/v1/activities/{id}", "/v1/activities", "/v1/referral-options?q=locked"]
)
def test_a_read_that_waits_too_long_for_a_lock_is_a_503_and_then_served(client, searcher, path):
    """Reads of kept statements (one activity, a listing page, a search page) go past
    SQLAlchemy's execute (app/core/reads.py): a lock wait that runs out there is still a
    503 problem+json, not a 500, and the next read on the same pool is served."""
    listing = create_listing(client, name="Locked Card Walk")
    url = path.format(id=listing["id"])
    assert searcher.get(url).status_code == 200  # the statement compiled and kept

    def hold(holder):
        holder.execute(text("LOCK TABLE activity_card IN ACCESS EXCLUSIVE MODE"))

    assert _busy_in_time(hold, lambda: searcher.get(url))
    again = searcher.get(url)
    assert again.status_code == 200
    assert "Locked Card Walk" in again.text


def test_no_free_connection_within_the_pool_timeout_is_a_503(client, swap_engine):
    small = db.create_engine(
        get_settings().database_url, pool_size=1, max_overflow=0, pool_timeout=0.2
    )
    swap_engine(small)
    held = small.connect()
    try:
        response = client.get("/v1/organisations")
        ready = client.get("/readyz")
    finally:
        held.close()

    assert _is_busy(response)
    assert ready.status_code == 503
    assert ready.json()["database"].startswith("busy")


def test_an_unreachable_database_is_a_quick_503(client, swap_engine):
    # Nothing listens on port 9 of loopback: connections are refused at once.
    swap_engine(db.create_engine("postgresql+psycopg://signpost@127.0.0.1:9/none"))
    started = time.perf_counter()
    response = client.get("/v1/organisations")
    ready = client.get("/readyz")

    assert _is_busy(response)
    assert (ready.status_code, ready.json()["database"]) == (503, "unreachable")
    assert time.perf_counter() - started < 5


def test_the_route_thread_pool_matches_the_connection_pool():
    """Each sync route holds at most one connection, so threads and connections are sized
    together at start-up."""

    with TestClient(app) as running:  # runs the lifespan
        tokens = running.portal.call(_thread_tokens)
    assert tokens == get_settings().db_pool_size


async def _thread_tokens() -> float:
    from anyio import to_thread

    return to_thread.current_default_thread_limiter().total_tokens


@pytest.mark.skipif(get_settings().is_sqlite, reason="PostgreSQL's connection settings")
@pytest.mark.parametrize("pgbouncer", [False, True])
def test_timeouts_travel_at_connect_unless_behind_pgbouncer(monkeypatch, pgbouncer):
    monkeypatch.setattr(get_settings(), "db_pgbouncer", pgbouncer)
    engine = db.make_engine(get_settings().database_url)
    try:
        with engine.connect() as connection:
            lock_timeout = connection.execute(
                text("SELECT setting FROM pg_settings WHERE name = 'lock_timeout'")  # in ms
            ).scalar()
            prepare_threshold = connection.connection.dbapi_connection.prepare_threshold
    finally:
        engine.dispose()
    if pgbouncer:  # the role's settings apply; statements are never prepared server-side
        assert (lock_timeout, prepare_threshold) == ("0", None)
    else:
        assert lock_timeout == str(get_settings().db_lock_timeout_ms)
        assert prepare_threshold == 5


def test_work_after_the_answer_does_not_hold_a_place():
    """A request whose answer has gone (its background work, such as writing the search
    log, still running) leaves its place to the next request."""
    background_started, release = asyncio.Event(), asyncio.Event()

    async def after_the_answer():
        background_started.set()
        await release.wait()

    async def answered(_request):
        return PlainTextResponse("ok", background=BackgroundTask(after_the_answer))

    async def plain(_request):
        return PlainTextResponse("ok")

    limited = InFlightLimitMiddleware(
        Starlette(routes=[Route("/answered", answered), Route("/plain", plain)]),
        limit=1,
        retry_after=2,
    )

    async def scenario():
        transport = httpx.ASGITransport(app=limited)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            first = asyncio.create_task(client.get("/answered"))
            await asyncio.wait_for(background_started.wait(), 5)
            second = await client.get("/plain")  # the first's background still runs
            release.set()
            return await first, second

    first, second = asyncio.run(scenario())
    assert first.status_code == 200
    assert second.status_code == 200


@pytest.mark.skipif(get_settings().is_sqlite, reason="a PostgreSQL server ends the connection")
@pytest.mark.parametrize("idle", [0.0, 3600.0])
def test_a_connection_killed_while_idle_is_replaced_before_use(monkeypatch, idle):
    """A worker idle through a database restart: its pooled connection is dead. Pinged
    after a quiet spell, it is replaced and the request is served; without the ping (the
    spell shorter than the setting) the request's first statement finds it dead."""
    monkeypatch.setattr(get_settings(), "db_ping_after_idle_seconds", idle)
    engine = db.make_engine(get_settings().database_url)
    try:
        with engine.connect() as connection:
            victim = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with db.get_engine().connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": victim})
            other.commit()
        time.sleep(0.2)
        if idle:
            with pytest.raises(OperationalError), engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        with engine.connect() as connection:
            served_by = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        assert served_by != victim
    finally:
        engine.dispose()
