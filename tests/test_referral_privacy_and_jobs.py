"""Personal data at rest, its deletion, key rotation, expiry, and provider responsiveness."""

import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text, update
from typer.testing import CliRunner

from app.cli import cli
from app.core import crypto
from app.core.config import get_settings
from app.core.types import utcnow
from app.referrals import service
from app.referrals.models import Referral
from tests.referral_world import build_world

PLAINTEXT = ["Sam", "07700 900123", "LW-2291", "quieter group", "For over 65s only"]


@pytest.fixture
def world(session, client):
    return build_world(session, client)


def _declined(world):
    referral = world.refer()
    world.move(referral["id"], "declined", reason="not_eligible", note="For over 65s only.")
    return referral


def test_no_plaintext_contact_details_or_notes_are_stored(world, session):
    _declined(world)
    rows = [
        *session.execute(text("SELECT * FROM referral")).all(),
        *session.execute(text("SELECT * FROM referral_event")).all(),
        *session.execute(text("SELECT * FROM audit_entry")).all(),
        *session.execute(text("SELECT * FROM capacity_change")).all(),
    ]
    dump = repr(rows)
    assert "gAAAAA" in dump  # Fernet tokens are there...
    for secret in PLAINTEXT:
        assert secret not in dump  # ...and nothing readable
    url = get_settings().database_url
    if url.startswith("sqlite"):
        session.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        raw = Path(url.split("///", 1)[1]).read_bytes()
        for secret in PLAINTEXT:
            assert secret.encode() not in raw


def test_purge_deletes_personal_data_after_the_retention_period(world, session):
    referral = _declined(world)
    still_open = world.refer()
    now = utcnow()
    days = get_settings().referral_retention_days
    assert service.purge_personal_data(session, now + timedelta(days=days - 1), days) == 0
    session.commit()
    assert service.purge_personal_data(session, now + timedelta(days=days + 1), days) == 1
    session.commit()

    purged = world.provider.get(f"/v1/referrals/{referral['id']}").json()
    assert (purged["person_reference"], purged["contact"], purged["note"]) == (None, None, None)
    assert purged["purged_at"] is not None
    assert all(event["note"] is None for event in purged["history"])
    # The anonymous facts stay for reports.
    assert purged["status"] == "declined"
    assert purged["decline_reason"] == "not_eligible"
    assert [n["code"] for n in purged["needs"]] == ["social-isolation"]
    assert [e["to_status"] for e in purged["history"]] == ["sent", "declined"]
    # An open referral keeps its details whatever its age.
    kept = world.provider.get(f"/v1/referrals/{still_open['id']}").json()
    assert kept["contact"]["first_name"] == "Sam"
    row = session.get(Referral, uuid.UUID(referral["id"]))
    session.refresh(row)
    assert row.personal_data is None


def test_the_purge_command(world, session):
    referral = _declined(world)
    session.execute(update(Referral).values(closed_at=utcnow() - timedelta(days=200)))
    session.commit()
    result = CliRunner().invoke(cli, ["purge"])
    assert result.exit_code == 0, result.output
    assert "purged personal data from 1 referrals" in result.output
    assert world.admin.get(f"/v1/referrals/{referral['id']}").json()["contact"] is None


@pytest.fixture
def data_keys(monkeypatch):
    """Set SIGNPOST_DATA_KEYS for the rest of the test."""

    def use(*keys):
        monkeypatch.setenv("SIGNPOST_DATA_KEYS", ",".join(keys))
        get_settings.cache_clear()
        crypto.clear()

    yield use
    monkeypatch.delenv("SIGNPOST_DATA_KEYS")
    get_settings.cache_clear()
    crypto.clear()


def test_keys_rotate_and_old_data_stays_readable(world, data_keys):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    data_keys(old)
    referral = _declined(world)
    path = f"/v1/referrals/{referral['id']}"

    data_keys(new, old)  # the new key first: it encrypts, both decrypt
    assert world.admin.get(path).json()["contact"]["first_name"] == "Sam"
    result = CliRunner().invoke(cli, ["rotate-data-key"])
    assert result.exit_code == 0, result.output
    assert "re-encrypted 2 values" in result.output  # the referral and the decline note

    data_keys(new)  # the old key is gone; everything still reads
    body = world.admin.get(path).json()
    assert body["contact"]["first_name"] == "Sam"
    assert body["history"][-1]["note"] == "For over 65s only."


def test_a_new_data_key_is_printed():
    result = CliRunner().invoke(cli, ["new-data-key"])
    assert result.exit_code == 0
    Fernet(result.output.strip().encode())  # a valid key, or this raises


def test_unanswered_referrals_expire_and_the_link_worker_sees_it(world, session):
    waiting = world.refer()
    answered = world.refer()
    world.move(answered["id"], "accepted")
    respond_by = world.link_worker.get(f"/v1/referrals/{waiting['id']}").json()["respond_by"]
    days = get_settings().referral_response_days
    assert respond_by.startswith((utcnow() + timedelta(days=days)).date().isoformat())

    assert service.expire_unanswered(session, utcnow() + timedelta(days=days - 1)) == 0
    assert service.expire_unanswered(session, utcnow() + timedelta(days=days, minutes=1)) == 1
    session.commit()

    seen = world.link_worker.get(f"/v1/referrals/{waiting['id']}").json()
    assert seen["status"] == "expired"
    assert seen["history"][-1] | {"occurred_at": None} == {
        "occurred_at": None,
        "from_status": "sent",
        "to_status": "expired",
        "actor_type": "system",
        "actor_id": None,
        "actor_name": "Signpost",
        "actor_role": None,
        "reason": "no_response",
        "note": None,
    }
    assert world.link_worker.get(f"/v1/referrals/{answered['id']}").json()["status"] == "accepted"
    changed = world.link_worker.get("/v1/referrals", params={"status": "expired"}).json()
    assert [r["id"] for r in changed["contents"]] == [waiting["id"]]
    late = world.move(waiting["id"], "accepted")
    assert late.status_code == 409
    assert "is expired" in late.json()["detail"]


def test_the_sweep_command_expires_overdue_referrals(world, session):
    referral = world.refer()
    session.execute(update(Referral).values(respond_by=utcnow() - timedelta(minutes=1)))
    session.commit()
    result = CliRunner().invoke(cli, ["referrals-sweep"])
    assert result.exit_code == 0, result.output
    assert "expired 1 referrals" in result.output
    assert world.admin.get(f"/v1/referrals/{referral['id']}").json()["status"] == "expired"


def test_responsiveness_on_listings(world, session, anon):
    path = f"/v1/activities/{world.activity['id']}"
    assert anon.get(path).json()["responsiveness"] == {
        "window_days": 90,
        "referrals_received": 0,
        "median_hours_to_first_response": None,
        "acceptance_rate": None,
    }
    fast, slow, declined, expired, open_ = (world.refer() for _ in range(5))
    world.move(fast["id"], "accepted")
    world.move(slow["id"], "accepted")
    world.move(declined["id"], "declined", reason="other")
    # Answers came 2, 10 and 30 hours after sending; one was never answered.
    for referral, hours in ((fast, 2), (slow, 10), (declined, 30)):
        row = session.get(Referral, uuid.UUID(referral["id"]))
        row.created_at = row.first_response_at - timedelta(hours=hours)
    session.get(Referral, uuid.UUID(expired["id"])).respond_by = utcnow() - timedelta(hours=1)
    session.commit()
    assert service.expire_unanswered(session, utcnow()) == 1
    session.commit()
    shown = anon.get(path).json()["responsiveness"]
    assert shown["referrals_received"] == 5
    assert shown["median_hours_to_first_response"] == 10.0
    assert shown["acceptance_rate"] == 0.5  # 2 accepted of 4 answered or expired
    assert open_["status"] == "sent"
    # The organisation's own listing, and its page in the organisations list, say the same.
    organisation = f"/v1/organisations/{world.organisation['id']}"
    assert anon.get(organisation).json()["responsiveness"] == shown
    listed = anon.get("/v1/organisations", params={"per_page": 100}).json()["contents"]
    assert [o["responsiveness"] for o in listed if o["id"] == world.organisation["id"]] == [shown]
