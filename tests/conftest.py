"""Test setup: a real database (SQLite file by default, PostgreSQL when
SIGNPOST_DATABASE_URL says so), migrated once per run and emptied after each test."""

import os
import tempfile

if not os.environ.get("SIGNPOST_DATABASE_URL"):
    _tmp = tempfile.mkdtemp(prefix="signpost-test-")
    os.environ["SIGNPOST_DATABASE_URL"] = f"sqlite:///{_tmp}/test.db"
os.environ.setdefault("SIGNPOST_ENVIRONMENT", "test")
os.environ.setdefault("SIGNPOST_MAIL_DIR", tempfile.mkdtemp(prefix="signpost-mail-"))
# Each search's log row written as its answer goes, so a test sees it at once and no batch
# outlives the test that made it; tests/test_search_log.py proves the batching.
os.environ.setdefault("SIGNPOST_SEARCH_LOG_BATCH_SECONDS", "0")

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.accounts.models import GlobalRole
from app.core.config import get_settings
from app.core.db import get_engine
from app.core.migrations import upgrade
from app.main import app
from tests.database import empty_everything
from tests.factories import client_for, make_user


@pytest.fixture(scope="session", autouse=True)
def migrated_database():
    upgrade(get_settings().database_url)
    yield
    get_engine().dispose()


@pytest.fixture(autouse=True)
def empty_tables():
    yield
    empty_everything()


@pytest.fixture
def inbox(monkeypatch):
    """A real SMTP server on loopback that Signpost sends to; ``inbox.to(address)``."""
    from tests.notification_world import Inbox, use_smtp

    inbox = Inbox()
    inbox.controller.start()
    use_smtp(monkeypatch, inbox)
    yield inbox
    inbox.controller.stop()
    get_settings.cache_clear()


@pytest.fixture
def clock():
    """Move Signpost's clock: ``clock.travel(timedelta(days=30))``; reset after the test."""
    from app.core import clock as app_clock

    yield app_clock
    app_clock.reset()


@pytest.fixture
def session():
    with Session(get_engine(), expire_on_commit=False) as session:
        yield session


@pytest.fixture
def anon() -> TestClient:
    """A caller with no credentials."""
    return TestClient(app)


@pytest.fixture
def client(session) -> TestClient:
    """A Signpost admin: for tests about listings rather than about who may do what."""
    return client_for(make_user(session, role=GlobalRole.admin))


@pytest.fixture
def terms(session) -> dict[str, str]:
    """The starter vocabulary, seeded: term ids by code."""
    from app.vocabulary.seed import seed_vocabulary

    found = seed_vocabulary(session)
    session.commit()
    return {code: str(term.id) for code, term in found.items()}


@pytest.fixture
def searcher(as_role) -> TestClient:
    """A link worker, who may search referral options."""
    return as_role(GlobalRole.link_worker)


@pytest.fixture
def as_role(session):
    """``as_role(GlobalRole.steward)`` or ``as_role(member_of={org_id: "editor"})``."""

    def build(role=None, member_of=None):
        return client_for(make_user(session, role=role, member_of=member_of))

    return build
