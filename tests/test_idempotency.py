"""A creating POST retried with the same Idempotency-Key creates nothing new."""

import threading
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from app.idempotency.models import IdempotencyRecord
from app.idempotency.service import purge_expired
from app.main import app
from app.referrals.models import Referral
from tests.factories import organisation_body
from tests.referral_world import build_world


@pytest.fixture
def world(session, client):
    return build_world(session, client)


def _referrals(session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(Referral))


def test_a_retried_referral_returns_the_first_answer_and_creates_nothing(world, session):
    key = {"Idempotency-Key": str(uuid.uuid4())}
    body = world.referral_body()
    first = world.link_worker.post("/v1/referrals", json=body, headers=key)
    assert first.status_code == 201
    again = world.link_worker.post("/v1/referrals", json=body, headers=key)
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert _referrals(session) == 1
    # The stored answer holds personal data, so it is encrypted at rest.
    stored = session.scalars(select(IdempotencyRecord.response)).one()
    assert "07700 900123" not in stored and "LW-2291" not in stored


def test_without_a_key_each_post_creates(world, session):
    world.refer()
    world.refer()
    assert _referrals(session) == 2


def test_the_same_key_with_another_body_is_422(world, session):
    key = {"Idempotency-Key": "retry-1"}
    first = world.link_worker.post("/v1/referrals", json=world.referral_body(), headers=key)
    assert first.status_code == 201
    other = world.link_worker.post(
        "/v1/referrals", json=world.referral_body(person_reference="LW-9999"), headers=key
    )
    assert other.status_code == 422
    assert other.json()["errors"][0]["field"] == "header.Idempotency-Key"
    assert _referrals(session) == 1


def test_keys_belong_to_their_caller(world, session):
    key = {"Idempotency-Key": "shared-key"}
    mine = world.link_worker.post("/v1/referrals", json=world.referral_body(), headers=key)
    theirs = world.other_link_worker.post("/v1/referrals", json=world.referral_body(), headers=key)
    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["id"] != theirs.json()["id"]
    assert _referrals(session) == 2


def test_a_refused_attempt_frees_the_key_for_a_retry(world, session):
    key = {"Idempotency-Key": "after-fixing"}
    world.set_capacity(status="paused", pause_reason="holiday")
    refused = world.link_worker.post("/v1/referrals", json=world.referral_body(), headers=key)
    assert refused.status_code == 409
    world.set_capacity(status="open")
    accepted = world.link_worker.post("/v1/referrals", json=world.referral_body(), headers=key)
    assert accepted.status_code == 201
    assert _referrals(session) == 1


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_retry_after_a_lost_commit_creates_exactly_one(world, session, monkeypatch, when):
    """The connection drops at the commit: before it (nothing was kept) or just after it
    (kept, but the acknowledgement was lost on the way back). The client gets a 503 either
    way, and its retry with the same key leaves exactly one referral: the claim and the
    answer commit with the work, never apart."""
    key = {"Idempotency-Key": "through-a-restart"}
    commit = Session.commit
    failures = []

    def commit_and_lose(self):
        if not failures:
            failures.append(True)
            if when == "after":
                commit(self)
            raise OperationalError("COMMIT", {}, Exception("server closed the connection"))
        commit(self)

    monkeypatch.setattr(Session, "commit", commit_and_lose)
    lost = world.link_worker.post("/v1/referrals", json=world.referral_body(), headers=key)
    monkeypatch.undo()
    assert lost.status_code == 503
    assert _referrals(session) == (0 if when == "before" else 1)

    retried = world.link_worker.post("/v1/referrals", json=world.referral_body(), headers=key)
    assert retried.status_code == 201
    assert (retried.headers.get("Idempotent-Replayed") == "true") == (when == "after")
    again = world.link_worker.post("/v1/referrals", json=world.referral_body(), headers=key)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == retried.json()["id"]
    assert _referrals(session) == 1


def test_concurrent_retries_create_one_referral(world, session):
    key = {"Idempotency-Key": "double-click"}
    body = world.referral_body()
    barrier = threading.Barrier(4)
    statuses = []

    def send():
        barrier.wait()
        statuses.append(world.link_worker.post("/v1/referrals", json=body, headers=key).status_code)

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert _referrals(session) == 1
    assert statuses.count(201) >= 1
    assert set(statuses) <= {201, 409}  # 409: "still being processed; retry shortly"


def test_other_creating_posts_honour_the_key_too(client, session):
    key = {"Idempotency-Key": "new-org"}
    body = organisation_body()
    first = client.post("/v1/organisations", json=body, headers=key)
    again = client.post("/v1/organisations", json=body, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["etag"] == first.headers["etag"]
    listed = client.get("/v1/organisations", params={"per_page": 100}).json()["contents"]
    assert [o["name"] for o in listed].count(body["name"]) == 1


def test_keys_are_kept_24_hours_then_purged(world, session, clock):
    key = {"Idempotency-Key": "old"}
    world.link_worker.post("/v1/referrals", json=world.referral_body(), headers=key)
    assert purge_expired(session) == 0
    clock.travel(timedelta(hours=25))
    assert purge_expired(session) == 1
    session.commit()
    again = world.link_worker.post("/v1/referrals", json=world.referral_body(), headers=key)
    assert again.status_code == 201
    assert _referrals(session) == 2


def test_the_purge_command_deletes_expired_answers(world, session, clock):
    from typer.testing import CliRunner

    from app.cli import cli

    key = {"Idempotency-Key": "kept-a-day"}
    world.link_worker.post("/v1/referrals", json=world.referral_body(), headers=key)
    clock.travel(timedelta(hours=25))
    result = CliRunner().invoke(cli, ["purge"])
    assert result.exit_code == 0, result.output
    assert ", 1 kept answers" in result.output
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(IdempotencyRecord)) == 0


@pytest.mark.parametrize("value", ["", "x" * 256, "has space", "tab\there"])
def test_malformed_keys_are_422(world, value):
    response = world.link_worker.post(
        "/v1/referrals", json=world.referral_body(), headers={"Idempotency-Key": value}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "header.Idempotency-Key"


def test_every_creating_post_documents_the_header():
    for path, operations in app.openapi()["paths"].items():
        post = operations.get("post")
        if post and "201" in post["responses"]:
            names = {p["name"] for p in post.get("parameters", [])}
            assert "Idempotency-Key" in names, path
            assert "Idempotent-Replayed" in post["responses"]["201"]["headers"], path
