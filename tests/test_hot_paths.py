"""What the hot paths cost in database work (issue #14): who is calling is remembered for
a few seconds, without outliving a revocation; PostgreSQL's JIT is off; the search log
is written after the answer, in batches, and never fails a search."""

import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, event, func, select, text

from app.accounts.models import GlobalRole, OrganisationRole
from app.accounts.service import grant_membership
from app.core.config import get_settings
from app.core.db import get_engine
from app.main import app
from app.organisations import visibility
from app.organisations.models import PUBLIC, Organisation
from app.search import search_log
from app.search.models import SearchDemandDay, SearchLog
from app.vocabulary.seed import seed_vocabulary
from tests.factories import (
    client_for,
    create_activity,
    create_listing,
    create_organisation,
    key_client,
    make_api_key,
    make_user,
    patch,
)
from tests.statements import Statements


def test_a_repeated_api_key_is_not_looked_up_again(session):
    key = make_api_key(session, role=GlobalRole.link_worker)
    caller = key_client(key)
    assert caller.get("/v1/taxonomies").status_code == 200
    with Statements() as statements:
        assert caller.get("/v1/taxonomies").status_code == 200
    assert statements.seen  # the route itself reads
    assert statements.touching("api_key") == []


def test_a_repeated_bearer_token_is_not_looked_up_again(session):
    caller = client_for(make_user(session, role=GlobalRole.link_worker))
    assert caller.get("/v1/me").status_code == 200
    with Statements() as statements:
        assert caller.get("/v1/taxonomies").status_code == 200
    assert statements.seen
    assert statements.touching("membership") == []


def test_a_revoked_key_is_refused_at_once(session, client):
    created = client.post("/v1/api-keys", json={"name": "script", "role": "link_worker"})
    assert created.status_code == 201, created.text
    caller = key_client(created.json()["key"])
    assert caller.get("/v1/me").status_code == 200
    assert client.post(f"/v1/api-keys/{created.json()['id']}/revoke").status_code == 200
    refused = caller.get("/v1/me")
    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/problem+json"


def test_a_deactivated_user_is_refused_at_once(session, client):
    user = make_user(session, role=GlobalRole.link_worker)
    caller = client_for(user)
    assert caller.get("/v1/me").status_code == 200
    answer = client.patch(
        f"/v1/users/{user.id}", json={"is_active": False}, headers={"If-Match": '"1"'}
    )
    assert answer.status_code == 200, answer.text
    assert caller.get("/v1/me").status_code == 401


def test_a_new_membership_counts_at_once(session, client):
    user = make_user(session)
    caller = client_for(user)
    organisation = create_listing(client)["organisation"]["id"]
    assert caller.get("/v1/me").json()["memberships"] == []
    grant_membership(session, user.id, uuid.UUID(organisation), OrganisationRole.editor)
    session.commit()
    memberships = caller.get("/v1/me").json()["memberships"]
    assert [m["organisation_id"] for m in memberships] == [organisation]


@pytest.mark.skipif(get_engine().dialect.name != "postgresql", reason="JIT is PostgreSQL's")
def test_jit_is_off_for_the_application(session):
    assert session.execute(text("SHOW jit")).scalar_one() == "off"


def test_the_search_log_is_written_after_the_answer(client, searcher, session):
    create_listing(client, name="Logged Walking Group")
    answer = searcher.get("/v1/referral-options", params={"q": "walking"})
    assert answer.status_code == 200
    assert session.scalar(select(func.count()).select_from(SearchLog)) == 1


def test_a_search_log_that_cannot_be_written_costs_only_itself(
    client, searcher, session, monkeypatch
):
    create_listing(client, name="Unlogged Walking Group")

    unreachable = create_engine("sqlite:////nonexistent/signpost/search-log.db")
    monkeypatch.setattr(search_log, "get_engine", lambda: unreachable)
    answer = searcher.get("/v1/referral-options", params={"q": "walking"})
    monkeypatch.undo()
    assert answer.status_code == 200
    assert [o["activity"]["name"] for o in answer.json()["contents"]] == ["Unlogged Walking Group"]
    assert session.scalar(select(func.count()).select_from(SearchLog)) == 0


@pytest.mark.skipif(get_engine().dialect.name != "sqlite", reason="SQLite's journal")
def test_sqlite_commits_without_a_disk_sync_each_but_safely(session):
    assert session.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
    assert session.execute(text("PRAGMA synchronous")).scalar_one() == 1  # NORMAL
    assert session.execute(text("PRAGMA foreign_keys")).scalar_one() == 1


@pytest.fixture
def batching(monkeypatch):
    """Search-log batches of ``size`` rows or ``seconds`` (the test suite otherwise writes
    each row at once)."""

    def configure(size: int, seconds: float) -> None:
        monkeypatch.setenv("SIGNPOST_SEARCH_LOG_BATCH_SIZE", str(size))
        monkeypatch.setenv("SIGNPOST_SEARCH_LOG_BATCH_SECONDS", str(seconds))
        get_settings.cache_clear()

    yield configure
    search_log.flush()
    monkeypatch.undo()
    get_settings.cache_clear()


def logged(session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(SearchLog))


def test_search_log_rows_wait_for_a_full_batch_and_are_written_together(
    client, searcher, session, batching
):
    seed_vocabulary(session)
    session.commit()
    create_listing(client, name="Batched Walking Group")
    batching(size=3, seconds=60)
    search = {"need": "low mood", "postcode": "BS5 6AW"}
    for _ in range(2):
        assert searcher.get("/v1/referral-options", params=search).status_code == 200
    assert logged(session) == 0
    assert search_log.pending() == 2

    with Statements() as statements:
        assert searcher.get("/v1/referral-options", params=search).status_code == 200
    assert logged(session) == 3
    assert search_log.pending() == 0
    assert len(statements.touching("INSERT INTO search_log")) == 1
    demand = session.execute(select(SearchDemandDay.place, SearchDemandDay.searches)).all()
    assert [tuple(row) for row in demand] == [("BS5 6", 3)]  # the batch's rows, counted


def test_a_search_log_batch_is_written_by_its_deadline(client, session, batching):
    create_listing(client, name="Deadline Walking Group")
    batching(size=100, seconds=0.2)
    with TestClient(app) as served:  # one event loop for the whole test, as in a worker
        served.headers.update({"X-API-Key": make_api_key(session, role=GlobalRole.link_worker)})
        assert served.get("/v1/referral-options", params={"q": "walking"}).status_code == 200
        assert logged(session) == 0
        deadline = time.monotonic() + 5
        while logged(session) == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert logged(session) == 1


def test_a_stopping_worker_writes_the_batch_it_holds(client, session, batching):
    create_listing(client, name="Stopping Walking Group")
    batching(size=100, seconds=60)
    with TestClient(app) as served:
        served.headers.update({"X-API-Key": make_api_key(session, role=GlobalRole.link_worker)})
        assert served.get("/v1/referral-options", params={"q": "walking"}).status_code == 200
        assert logged(session) == 0
    assert logged(session) == 1


def test_demand_counts_are_written_in_key_order(client, searcher, session, batching):
    """Two workers flushing batches that share (day, place, need) rows must take the rows'
    locks in the same order, or PostgreSQL ends one of them as a deadlock and its batch is
    lost: the upsert's rows go in key order, whatever order the searches came in."""
    seed_vocabulary(session)
    session.commit()
    create_listing(client, name="Ordered Walking Group")
    batching(size=3, seconds=60)
    places = ["BS7 8", "BS5 6", "BS1 4"]  # searched from the last in key order to the first
    with Statements() as statements:
        for place in places:
            params = {"need": "low mood", "postcode": f"{place}AA"}
            assert searcher.get("/v1/referral-options", params=params).status_code == 200
    upserts = [
        parameters
        for statement, parameters in zip(statements.seen, statements.parameters, strict=True)
        if "INSERT INTO search_demand_day" in statement
    ]
    assert len(upserts) == 1
    written = [place for place in upserts[0] if place in places]
    assert written == sorted(places)


def test_a_search_is_its_statements_alone_without_a_transaction(client, session, batching):
    """BEGIN and COMMIT were two of a search's three round trips: a search reads in
    autocommit, each statement on its own. The first search by a key not yet remembered
    (the lookup marks the key used, a write) shares the request's one connection."""
    create_listing(client, name="Autocommit Walking Group")
    batching(size=100, seconds=60)  # the search log's own connection comes later
    caller = key_client(make_api_key(session, role=GlobalRole.link_worker))
    checkouts = []

    def count(*_):
        checkouts.append(1)

    event.listen(get_engine().pool, "checkout", count)
    try:
        with Statements() as first:
            assert caller.get("/v1/referral-options", params={"q": "walking"}).status_code == 200
    finally:
        event.remove(get_engine().pool, "checkout", count)
    assert first.touching("api_key") and first.touching("activity_card")
    assert len(checkouts) == 1

    with Statements() as again:
        response = caller.get("/v1/referral-options", params={"q": "walking"})
    assert response.status_code == 200
    names = [option["activity"]["name"] for option in response.json()["contents"]]
    assert names == ["Autocommit Walking Group"]
    assert again.seen and again.alone == [True] * len(again.seen)


@pytest.mark.parametrize(
    "path",
    [
        "/v1/activities",
        "/v1/activities/{id}",
        "/openreferral/services",
        "/openreferral/services/{id}",
        "/openreferral/service_at_locations",
    ],
)
@pytest.mark.parametrize("caller", ["anonymous", "remembered key"])
def test_listing_reads_are_their_statements_alone_and_see_the_latest_write(
    client, session, path, caller
):
    """Pages of listings and one listing (ours and the Open Referral feed's, which
    crawlers walk end to end) read in autocommit on the primary (no BEGIN and COMMIT round
    trips, no hop to a thread to commit), and still show a change the moment it is made."""
    listing = create_listing(client, name="Before Autocommit")
    url = path.format(id=listing["id"])
    reader = TestClient(app)
    if caller == "remembered key":
        reader = key_client(make_api_key(session, role=GlobalRole.link_worker))
        assert reader.get(url).status_code == 200  # the key looked up and remembered

    with Statements() as read:
        response = reader.get(url)
    assert response.status_code == 200
    assert read.touching("activity")
    assert read.alone == [True] * len(read.seen)

    changed = patch(client, f"/v1/activities/{listing['id']}", {"name": "After Autocommit"})
    assert changed.status_code == 200
    body = reader.get(url).json()
    shown = body.get("contents", [body])
    names = [each.get("service", each)["name"] for each in shown]  # services at locations
    assert names == ["After Autocommit"]


def test_paging_through_a_listing_builds_its_statement_once(client):
    """Building a listing's statement and its key for SQLAlchemy's statement cache took
    about a tenth of a page's time: it is built once per shape of request, and each
    page binds its own values."""
    from app.activities.service import _listing

    organisation = create_organisation(client, status="published")["id"]
    for _ in range(3):
        create_activity(client, organisation)
    _listing.cache_clear()
    pages = [
        client.get(
            "/v1/activities", params={"organisation": organisation, "per_page": 1, "page": n}
        )
        for n in (1, 2, 3)
    ]
    assert [p.status_code for p in pages] == [200, 200, 200]
    shown = [p.json()["contents"][0]["id"] for p in pages]
    assert len(set(shown)) == 3
    assert (_listing.cache_info().misses, _listing.cache_info().hits) == (1, 2)


def test_kept_statements_read_straight_give_what_execute_gives(
    client, session, searcher, as_role, monkeypatch
):
    """Searches, listing pages and one activity read their kept statements through
    ``app.core.reads`` (on PostgreSQL past SQLAlchemy's per-execution work): every row
    must equal, column for column and type for type, what ``execute`` gives for the same
    statement and values; and on PostgreSQL the hot statements must take the short way."""
    from app.core import reads

    listings = [create_listing(client, name=f"Straight Read Walk {n}") for n in range(3)]
    capacity = f"/v1/activities/{listings[0]['id']}/capacity"
    assert patch(client, capacity, {"maximum": 5}).status_code == 200
    paused = {"status": "paused", "pause_reason": "holiday", "paused_until": "2099-01-01T09:00:00Z"}
    assert patch(client, f"/v1/activities/{listings[1]['id']}/capacity", paused).status_code == 200
    member = as_role(member_of={listings[2]["organisation"]["id"]: "editor"})
    compared, straight = [], []
    read = reads.Kept.rows

    def both(kept, session, values):
        got = read(kept, session, values)
        expected = [
            dict(row) for row in session.connection().execute(kept.statement, values).mappings()
        ]
        compared.append([[(k, v, type(v)) for k, v in row.items()] for row in got])
        assert compared[-1] == [[(k, v, type(v)) for k, v in row.items()] for row in expected]
        straight.append((len(asked) - 1, kept.took_the_short_way(session)))
        return got

    monkeypatch.setattr(reads.Kept, "rows", both)
    asked = []  # the requests made so far
    for caller, url, params in [
        (searcher, "/v1/referral-options", {"q": "walk", "postcode": "BS5 6AW"}),
        (searcher, "/v1/referral-options", {"q": "walk", "sort": "distance", "page": 2}),
        (searcher, "/v1/referral-options", {"q": "walk", "sort": "next_session"}),
        (TestClient(app), "/v1/activities", {"per_page": 2}),
        (TestClient(app), "/v1/activities", {"sort": "name", "per_page": 1}),
        (member, "/v1/activities", {"per_page": 2}),
        (TestClient(app), f"/v1/activities/{listings[0]['id']}", {}),
        (member, f"/v1/activities/{listings[2]['id']}", {}),
    ]:
        asked.append(url)
        assert caller.get(url, params=params).status_code == 200, (url, params)
    assert len(compared) >= 7 and sum(map(len, compared)) >= 10
    every_row = [{k: v for k, v, _ in row} for rows in compared for row in rows]
    assert any(str(row.get("capacity_status")) == "paused" for row in every_row)
    # The search pages, the anonymous listing pages and one activity for anyone; members'
    # pages bind their organisations as an expanding IN list and go through execute.
    on_postgresql = session.get_bind().dialect.name == "postgresql"
    short = {n for n, took in straight if took}
    assert short == ({0, 1, 3, 4, 6} if on_postgresql else set())


def test_a_read_in_autocommit_that_changes_something_fails_loudly(session):
    """A route on StatementSessionDep that adds or changes an object would otherwise see it
    silently dropped (nothing commits an autocommit session): the request fails instead,
    and nothing is stored. Reads that write (an audit entry) keep SessionDep."""
    from fastapi import FastAPI

    from app.core.db import StatementSessionDep
    from app.vocabulary.models import VocabularyState

    reader = FastAPI()

    @reader.get("/reads-and-writes")
    def reads_and_writes(session: StatementSessionDep) -> dict:
        session.add(VocabularyState(id=99, version=1))
        return {}

    answer = TestClient(reader, raise_server_exceptions=False).get("/reads-and-writes")
    assert answer.status_code == 500
    assert session.get(VocabularyState, 99) is None


def test_the_public_check_is_written_as_its_partial_index_is():
    """PostgreSQL uses ix_organisation_public only for a query whose condition it can prove
    from literals: a bound status would leave every prepared statement's plan without it."""
    compiled = select(Organisation.id).where(visibility.public()).compile(get_engine())
    assert "organisation.status = 'published'" in str(compiled)
    assert "archived_at IS NULL" in str(compiled)
    assert compiled.params == {}
    index = next(i for i in Organisation.__table__.indexes if i.name == "ix_organisation_public")
    assert str(index.dialect_options["postgresql"]["where"]) == PUBLIC


def test_api_workers_do_not_import_what_only_other_commands_use():
    """Each API worker imports the app and, as multiprocessing's main module, the CLI.
    Alembic (migrations) and httpx (webhook delivery, the Open Referral importer) cost
    about 12 and 2 MB per worker there, for nothing; rich and pygments, which structlog
    loads for tracebacks the API never renders, about 5 MB (app/__init__.py). #14's budget
    is 150 MB a worker. The CLI's progress bars still find rich."""
    code = (
        "import sys, app.cli, app.main, structlog.dev; "
        "print(sorted({'alembic', 'httpx', 'rich', 'pygments'} & set(sys.modules))); "
        "import rich.progress; print(structlog.dev.rich, rich.progress.Progress.__name__)"
    )
    printed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    ).stdout.splitlines()
    assert printed[-2:] == ["[]", "None Progress"]


AS_JSON_CASES = [
    (
        "capacity.CapacitySummary",
        {
            "status": "waitlist",
            "status_reason": None,
            "unit": "places",
            "available": 0,
            "maximum": 12,
            "waiting_list_length": 3,
            "paused_until": None,
            "updated": datetime(2026, 11, 27, 9, 30, 15, 123456, tzinfo=UTC),
        },
    ),
    (
        "capacity.CapacitySummary",
        {
            "status": "paused",
            "status_reason": "Leader on leave",
            "unit": "people",
            "available": None,
            "maximum": None,
            "waiting_list_length": 0,
            "paused_until": datetime(2027, 1, 4, tzinfo=UTC),
            "updated": datetime(2026, 3, 29, 1, 0, tzinfo=UTC),
        },
    ),
    (
        "freshness.Freshness",
        {
            "status": "due_for_review",
            "last_confirmed_at": datetime(2026, 5, 1, 12, 0, tzinfo=UTC),
            "review_due_at": datetime(2026, 11, 1, 12, 0, tzinfo=UTC),
            "in_referral_search": True,
        },
    ),
    (
        "schemas.NextSession",
        {
            "starts_at": datetime(2026, 12, 1, 10, 0, tzinfo=ZoneInfo("Europe/London")),
            "ends_at": datetime(2026, 7, 1, 12, 0, tzinfo=ZoneInfo("Europe/London")),
            "venue_id": uuid.UUID("0b7e4c9e-2f4a-4d7e-9a51-3f0c2f9e8d11"),
        },
    ),
    (
        "schemas.NextSession",
        {
            "starts_at": datetime(2026, 12, 1, 10),
            "ends_at": datetime(2026, 12, 1, 11),
            "venue_id": None,
        },
    ),
]


@pytest.mark.parametrize(("model", "fields"), AS_JSON_CASES)
def test_as_json_is_what_the_model_itself_would_give(model, fields):
    """The fast serialisation of search results' capacity, freshness and next session is
    exactly the models' own (values as the services pass them: enum members, aware and
    naive datetimes, None)."""
    from app.activities import freshness
    from app.capacity import schemas as capacity
    from app.core.schemas import as_json
    from app.search import schemas

    module, name = model.split(".")
    model = getattr(
        {"capacity": capacity, "freshness": freshness, "schemas": schemas}[module], name
    )
    enums = {
        name: field.annotation
        for name, field in model.model_fields.items()
        if isinstance(field.annotation, type) and issubclass(field.annotation, StrEnum)
    }
    given = {k: enums[k](v) if k in enums else v for k, v in fields.items()}
    assert as_json(model, **given) == model(**given).model_dump(mode="json")


def test_as_json_fills_in_the_defaults_of_fields_it_was_not_given():
    from pydantic import BaseModel

    from app.core.schemas import as_json

    class Window(BaseModel):
        opens: datetime
        note: str = "as usual"

    opens = datetime(2026, 12, 24, 9, tzinfo=UTC)
    assert as_json(Window, opens=opens) == {"opens": "2026-12-24T09:00:00Z", "note": "as usual"}
