"""The worker delivers: real SMTP server and real HTTP receiver on loopback, retries with
backoff, dead letters, disabling failing webhooks, preferences and digests, the one-click
"still accurate" link."""

import re
import threading
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook as Verifier

from app.core.config import get_settings
from app.core.types import utcnow
from app.notifications.models import Delivery, DeliveryStatus, OutboxEvent, Webhook
from app.notifications.outbox import next_digest_at
from app.notifications.sweeps import run_sweeps
from app.notifications.worker import Worker
from tests.factories import token_for
from tests.notification_world import Receiver, build_people, deliver_all

PERSONAL = ("LW-5150", "Marigold", "07700 900456", "mornings")


@pytest.fixture
def receiver():
    receiver = Receiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def people(session, client):
    return build_people(session, client)


def settle(session):
    session.expire_all()
    return list(session.execute(select(Delivery)).scalars())


def register(client, url, organisation_id=None, event_types=("referral.created",)):
    body = {"url": url, "event_types": list(event_types)}
    if organisation_id:
        body["organisation_id"] = organisation_id
    response = client.post("/v1/webhooks", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def body_of(message) -> str:
    return message.get_content()


# --- email --------------------------------------------------------------------------------


def test_a_new_referral_emails_the_receiving_organisation_without_personal_data(people, inbox):
    referral = people.refer()
    deliver_all()
    provider = people.provider_user.email
    assert people.link_worker_user.email not in inbox.recipients  # they sent it
    assert people.other_admin_user.email not in inbox.recipients
    [message] = inbox.to(provider)
    assert message["Subject"] == "New referral to Easton Walking Group"
    text = body_of(message)
    assert f"/referrals/{referral['id']}" in text
    for value in PERSONAL:
        assert value not in text and value not in message["Subject"]


def test_each_answer_emails_the_referring_link_worker(people, inbox):
    referral = people.refer()
    people.provider.post(
        f"/v1/referrals/{referral['id']}/transitions",
        json={"status": "declined", "reason": "no_capacity"},
    )
    deliver_all()
    [message] = inbox.to(people.link_worker_user.email)
    assert message["Subject"] == "Referral to Easton Walking Group: declined"
    assert "Reason: no capacity." in body_of(message)
    assert not inbox.to(people.provider_user.email)[1:]  # only the referral itself


def test_an_email_that_fails_is_retried_later_then_delivered(people, inbox, session, clock):
    inbox.refuse = True
    people.refer()
    deliver_all()
    waiting = [d for d in settle(session) if d.user_id == people.provider_user.id]
    assert [(d.status, d.attempts, d.last_error) for d in waiting] == [("pending", 1, "SMTP 451")]
    assert waiting[0].next_attempt_at > utcnow() + timedelta(seconds=20)
    inbox.refuse = False
    deliver_all()
    assert not inbox.to(people.provider_user.email)  # not due yet
    clock.travel(timedelta(minutes=2))
    deliver_all()
    assert len(inbox.to(people.provider_user.email)) == 1


def test_preferences_turn_a_kind_off_or_into_a_daily_digest(people, inbox, session, clock):
    off = people.provider.put(
        "/v1/me/notification-preferences",
        json={"preferences": [{"event_type": "referral.created", "mode": "off"}]},
    )
    assert off.status_code == 200, off.text
    chosen = {p["event_type"]: p for p in off.json()["preferences"]}
    assert chosen["referral.created"]["mode"] == "off"
    assert chosen["referral.created"]["applies_to_you"] is True
    assert chosen["assurance.submitted"]["applies_to_you"] is False
    digest = people.provider_admin.put(
        "/v1/me/notification-preferences",
        json={"preferences": [{"event_type": "referral.created", "mode": "daily_digest"}]},
    )
    assert digest.status_code == 200
    people.refer()
    people.refer()
    deliver_all()
    assert not inbox.to(people.provider_user.email)
    assert not inbox.to(people.provider_admin_user.email)
    clock.travel(next_digest_at(utcnow()) - utcnow() + timedelta(minutes=1))
    deliver_all()
    assert not inbox.to(people.provider_user.email)
    [summary] = inbox.to(people.provider_admin_user.email)
    assert summary["Subject"] == "Signpost: 2 updates for you"
    assert body_of(summary).count("New referral to Easton Walking Group") == 2


def test_preferences_refuse_kinds_that_are_never_emailed_and_api_keys(people, client):
    response = people.provider.put(
        "/v1/me/notification-preferences",
        json={"preferences": [{"event_type": "capacity.changed", "mode": "off"}]},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.preferences.0.event_type"
    unknown = people.provider.put(
        "/v1/me/notification-preferences",
        json={"preferences": [{"event_type": "referral.eaten", "mode": "off"}]},
    )
    assert unknown.status_code == 422


def test_stewards_hear_of_new_support_needs_and_the_organisation_of_replies(people, inbox, session):
    need = people.provider.post(
        f"/v1/organisations/{people.organisation['id']}/support-needs",
        json={
            "category_id": people.needs["volunteers"],
            "urgency": "high",
            "description": "Short of drivers",
        },
    ).json()
    people.steward.post(f"/v1/support-needs/{need['id']}/messages", json={"body": "We can help"})
    deliver_all()
    flagged = [m for m in inbox.to(people.steward_user.email) if "Support need" in m["Subject"]]
    assert [m["Subject"] for m in flagged] == ["Support need: Easton Community Hub"]
    assert "(high urgency)" in body_of(flagged[0])
    replies = inbox.to(people.provider_user.email)
    assert [m["Subject"] for m in replies] == ["Support need: Easton Community Hub"]
    assert "We can help" not in body_of(replies[0])


# --- webhooks -----------------------------------------------------------------------------


def test_a_webhook_gets_signed_events_about_its_organisation_only(people, inbox, receiver, session):
    own = register(people.provider_admin, receiver.url, people.organisation["id"])
    other_receiver = Receiver().start()
    try:
        register(people.other_admin, other_receiver.url, people.other["id"])
        referral = people.refer()
        deliver_all()
        [request] = receiver.requests
        payload = Verifier(own["secret"]).verify(request["body"], request["headers"])
        assert payload["type"] == "referral.created"
        assert payload["data"]["referral_id"] == referral["id"]
        assert payload["data"]["organisation_id"] == people.organisation["id"]
        for value in PERSONAL:
            assert value not in request["body"].decode()
        assert other_receiver.requests == []
        log = people.provider_admin.get(f"/v1/webhooks/{own['id']}/deliveries").json()
        assert [(d["status"], d["attempts"], d["response_status"]) for d in log["contents"]] == [
            ("delivered", 1, 204)
        ]
    finally:
        other_receiver.stop()


def test_an_admin_webhook_hears_of_every_organisation(people, receiver):
    register(people.admin, receiver.url, event_types=["referral.created", "capacity.changed"])
    people.refer()
    deliver_all()
    kinds = sorted(b["type"] for b in receiver.bodies())
    assert "referral.created" in kinds and "capacity.changed" in kinds


def test_a_failing_endpoint_is_retried_then_dead_lettered_and_can_be_retried(
    people, receiver, session, clock, monkeypatch
):
    monkeypatch.setenv("SIGNPOST_DELIVERY_MAX_ATTEMPTS", "3")
    get_settings.cache_clear()
    receiver.status = 500
    hook = register(people.provider_admin, receiver.url, people.organisation["id"])
    people.refer()
    for _ in range(3):
        deliver_all()
        clock.travel(timedelta(hours=1))
    [delivery] = [d for d in settle(session) if d.webhook_id is not None]
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("failed", 3, "HTTP 500")
    assert len(receiver.requests) == 3
    # the retries carry the same webhook-id, so a receiver can de-duplicate
    assert len({r["headers"]["webhook-id"] for r in receiver.requests}) == 1
    failed = people.admin.get("/v1/notifications/failed").json()
    assert [d["id"] for d in failed["contents"]] == [str(delivery.id)]
    assert people.provider_admin.get("/v1/notifications/failed").status_code == 403
    receiver.status = 200
    retried = people.admin.post(f"/v1/notifications/failed/{delivery.id}/retry")
    assert retried.status_code == 200, retried.text
    assert retried.json()["status"] == "pending"
    deliver_all()
    assert [d.status for d in settle(session) if d.webhook_id] == ["delivered"]
    assert people.admin.post(f"/v1/notifications/failed/{delivery.id}/retry").status_code == 404
    log = people.provider_admin.get(f"/v1/webhooks/{hook['id']}/deliveries").json()
    assert [(d["status"], d["attempts"]) for d in log["contents"]] == [("delivered", 1)]


def test_repeated_failures_switch_a_webhook_off_and_tell_its_owners(
    people, inbox, receiver, session, clock, monkeypatch
):
    monkeypatch.setenv("SIGNPOST_WEBHOOK_DISABLE_AFTER_FAILURES", "2")
    get_settings.cache_clear()
    receiver.status = 503
    hook = register(people.provider_admin, receiver.url, people.organisation["id"])
    people.refer()
    people.refer()
    deliver_all()
    stored = session.get(Webhook, uuid.UUID(hook["id"]))
    session.refresh(stored)
    assert (stored.is_active, stored.disabled_reason) == (False, "2 deliveries in a row failed")
    deliver_all()
    told = [
        m
        for m in inbox.to(people.provider_admin_user.email)
        if m["Subject"] == "A webhook was switched off"
    ]
    assert len(told) == 1 and receiver.url in body_of(told[0])
    people.refer()
    clock.travel(timedelta(hours=1))
    deliver_all()
    assert len(receiver.requests) == 2  # nothing more goes to a switched-off webhook
    switched_on = people.provider_admin.patch(
        f"/v1/webhooks/{hook['id']}", json={"is_active": True}
    )
    assert switched_on.status_code == 200
    assert (switched_on.json()["is_active"], switched_on.json()["consecutive_failures"]) == (
        True,
        0,
    )


def test_ping_sends_a_signed_test_delivery(people, receiver):
    hook = register(people.provider_admin, receiver.url, people.organisation["id"])
    ping = people.provider_admin.post(f"/v1/webhooks/{hook['id']}/ping")
    assert ping.status_code == 202, ping.text
    deliver_all()
    [request] = receiver.requests
    payload = Verifier(hook["secret"]).verify(request["body"], request["headers"])
    assert payload["type"] == "webhook.ping"
    assert request["headers"]["webhook-id"] == f"msg_{uuid.UUID(ping.json()['event_id']).hex}"


def test_webhooks_are_managed_only_by_their_owners(people, receiver):
    hook = register(people.provider_admin, receiver.url, people.organisation["id"])
    path = f"/v1/webhooks/{hook['id']}"
    assert people.other_admin.get(path).status_code == 404
    assert people.other_admin.patch(path, json={"description": "mine"}).status_code == 404
    assert people.other_admin.delete(path).status_code == 404
    assert people.provider.get(path).status_code == 404  # an editor, not an admin
    refused = people.other_admin.post(
        "/v1/webhooks",
        json={
            "url": receiver.url,
            "event_types": ["referral.created"],
            "organisation_id": people.organisation["id"],
        },
    )
    assert refused.status_code == 403
    everything = people.provider_admin.post(
        "/v1/webhooks", json={"url": receiver.url, "event_types": ["referral.created"]}
    )
    assert everything.status_code == 403
    pings = people.provider_admin.post(
        "/v1/webhooks",
        json={
            "url": receiver.url,
            "event_types": ["webhook.ping"],
            "organisation_id": people.organisation["id"],
        },
    )
    assert pings.status_code == 422  # pings are asked for, not subscribed to
    assert pings.json()["errors"][0]["field"] == "body.event_types.0"
    listed = people.other_admin.get("/v1/webhooks").json()
    assert listed["total_items"] == 0
    mine = people.provider_admin.get("/v1/webhooks").json()
    assert [w["id"] for w in mine["contents"]] == [hook["id"]]
    assert "secret" not in mine["contents"][0]
    assert people.provider_admin.delete(path).status_code == 204
    assert people.provider_admin.get(path).status_code == 404


def test_production_refuses_private_and_plain_http_endpoints(people, monkeypatch):
    import socket

    monkeypatch.setenv("SIGNPOST_WEBHOOK_ALLOW_PRIVATE", "false")
    get_settings.cache_clear()
    public = [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", 443))]
    private = [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", 443))]
    names = {"hooks.example.org": public, "sneaky.example.org": private}
    monkeypatch.setattr(
        "app.notifications.transport.socket.getaddrinfo", lambda host, *a, **k: names[host]
    )
    try:
        for url, reason in (
            ("http://hooks.example.org/x", "must be an https:// URL"),
            ("https://sneaky.example.org/x", "private, loopback or reserved"),
            ("https://127.0.0.1/x", "private, loopback or reserved"),
            ("https://169.254.169.254/latest", "private, loopback or reserved"),
        ):
            if url.startswith("https://1"):
                host = url.split("/")[2]
                names[host] = [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (host, 443))]
            response = people.admin.post(
                "/v1/webhooks", json={"url": url, "event_types": ["referral.created"]}
            )
            assert response.status_code == 422, url
            assert response.json()["errors"][0]["field"] == "body.url"
            assert reason in response.json()["errors"][0]["message"], url
        accepted = people.admin.post(
            "/v1/webhooks",
            json={"url": "https://hooks.example.org/x", "event_types": ["referral.created"]},
        )
        assert accepted.status_code == 201, accepted.text
    finally:
        get_settings.cache_clear()


# --- freshness nudges and the one-click link ------------------------------------------------


def _still_accurate_link(inbox, address) -> str:
    [nudge] = [m for m in inbox.to(address) if m["Subject"].startswith("Is ")]
    return re.search(r"http\S+/v1/still-accurate\?token=\S+", body_of(nudge)).group(0)


def test_a_listing_due_for_review_is_confirmed_with_one_click_once(
    people, inbox, session, clock, anon
):
    clock.travel(timedelta(days=200))
    run_sweeps(session, utcnow())
    session.commit()
    deliver_all()
    assert not inbox.to(people.provider_user.email)  # editors are not nudged, admins are
    link = _still_accurate_link(inbox, people.provider_admin_user.email)
    path = link.split("8000", 1)[1]
    page = anon.get(path)
    assert page.status_code == 200
    assert "Easton Walking Group" in page.text and '<form method="post"' in page.text
    before = anon.get(f"/v1/activities/{people.activity['id']}").json()
    assert before["freshness"]["status"] == "due_for_review"  # opening the page changed nothing
    confirmed = anon.post(path)
    assert confirmed.status_code == 200 and "still accurate" in confirmed.text
    after = anon.get(f"/v1/activities/{people.activity['id']}").json()
    assert after["freshness"]["status"] == "fresh"
    assert anon.post(path).status_code == 409
    assert anon.get(path).status_code == 409


def test_the_link_expires_and_nothing_else_opens_it(people, inbox, session, clock, anon):
    clock.travel(timedelta(days=200))
    run_sweeps(session, utcnow())
    session.commit()
    deliver_all()
    path = _still_accurate_link(inbox, people.provider_admin_user.email).split("8000", 1)[1]
    access_token = token_for(people.provider_admin_user)
    assert anon.post(f"/v1/still-accurate?token={access_token}").status_code == 400
    assert anon.post(path[:-3] + "abc").status_code == 400
    clock.travel(timedelta(days=15))
    expired = anon.post(path)
    assert expired.status_code == 410, expired.text
    assert "expired" in expired.text


def test_two_workers_on_postgresql_deliver_each_event_exactly_once(people, receiver, session):
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("SKIP LOCKED claims are PostgreSQL's; SQLite runs one worker")
    register(people.admin, receiver.url, event_types=["capacity.changed"])
    path = f"/v1/activities/{people.activity['id']}/capacity"
    from tests.factories import patch

    for number in range(30):
        assert patch(people.provider, path, {"maximum": 10 + number}).status_code == 200
    workers = [Worker(sweep=False), Worker(sweep=False)]
    barrier = threading.Barrier(2)

    def drain(worker):
        barrier.wait()
        while worker.run_once():
            pass

    threads = [threading.Thread(target=drain, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    ids = [r["headers"]["webhook-id"] for r in receiver.requests]
    events = session.execute(select(OutboxEvent).where(OutboxEvent.type == "capacity.changed"))
    assert len(ids) == len(set(ids)) == len(events.all())
    claimed_by = {d.claimed_by for d in settle(session)}
    assert claimed_by == {None}
    assert {d.status for d in settle(session) if d.webhook_id} == {DeliveryStatus.delivered}


def test_a_name_that_later_resolves_inside_our_network_is_not_posted_to(
    people, receiver, session, monkeypatch
):
    import socket

    monkeypatch.setenv("SIGNPOST_WEBHOOK_ALLOW_PRIVATE", "false")
    get_settings.cache_clear()
    answers = {"hooks.example.org": "93.184.215.14"}
    monkeypatch.setattr(
        "app.notifications.transport.socket.getaddrinfo",
        lambda host, port, **_: [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], port))
        ],
    )
    try:
        register(people.provider_admin, "https://hooks.example.org/x", people.organisation["id"])
        answers["hooks.example.org"] = "127.0.0.1"  # DNS changed its answer since
        people.refer()
        deliver_all()
        [delivery] = [d for d in settle(session) if d.webhook_id]
        assert delivery.status == "pending"
        assert delivery.last_error == "resolves to a private, loopback or reserved address"
        assert receiver.requests == []
    finally:
        get_settings.cache_clear()


def test_without_smtp_emails_are_written_to_the_mail_folder(people, tmp_path, monkeypatch):
    monkeypatch.setenv("SIGNPOST_MAIL_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        people.refer()
        deliver_all()
    finally:
        get_settings.cache_clear()
    written = [p.read_text() for p in tmp_path.glob("*.eml")]
    to_provider = [m for m in written if f"To: {people.provider_user.email}" in m]
    assert len(to_provider) == 1
    assert "Subject: New referral to Easton Walking Group" in to_provider[0]
