"""Two people editing the same listing cannot silently overwrite each other."""

import threading
import uuid

from sqlalchemy import update
from sqlmodel import Session, select

from app.activities import service as activity_service
from app.activities.models import Activity
from app.core.db import get_engine
from app.search import indexing as search_index
from app.search.models import ActivityPlace
from tests.factories import (
    client_for,
    create_activity,
    create_listing,
    create_organisation,
    make_user,
)


def _editors(client, session, count=2):
    organisation = create_organisation(client, status="published")
    activity = create_activity(client, organisation["id"], description="Original")
    editors = [
        client_for(make_user(session, member_of={organisation["id"]: "editor"}))
        for _ in range(count)
    ]
    return activity, editors


def test_second_writer_with_a_stale_etag_gets_412_and_the_first_change_survives(client, session):
    activity, (alice, bob) = _editors(client, session)
    path = f"/v1/activities/{activity['id']}"
    alice_read, bob_read = alice.get(path), bob.get(path)
    assert alice_read.headers["etag"] == bob_read.headers["etag"] == '"1"'

    won = alice.patch(
        path,
        json={"name": "Alice's name", "description": "Alice's description"},
        headers={"If-Match": alice_read.headers["etag"]},
    )
    assert won.status_code == 200
    assert won.headers["etag"] == '"2"'
    lost = bob.patch(
        path,
        json={"description": "Bob's description"},
        headers={"If-Match": bob_read.headers["etag"]},
    )
    assert lost.status_code == 412
    assert lost.headers["content-type"] == "application/problem+json"

    stored = client.get(path).json()
    assert (stored["name"], stored["description"]) == ("Alice's name", "Alice's description")
    assert stored["version"] == 2

    audit = client.get("/v1/audit", params={"object_id": activity["id"], "action": "update"})
    entries = audit.json()["contents"]
    assert len(entries) == 1
    assert entries[0]["changes"]["description"] == {
        "before": "Original",
        "after": "Alice's description",
    }
    assert entries[0]["changes"]["name"]["after"] == "Alice's name"
    assert "Bob's description" not in audit.text


def test_if_match_is_required_weak_tags_never_match_and_star_matches_any(client, session):
    activity, (editor, _) = _editors(client, session)
    path = f"/v1/activities/{activity['id']}"
    missing = editor.patch(path, json={"name": "No header"})
    assert missing.status_code == 428
    wrong = editor.patch(path, json={"name": "Wrong"}, headers={"If-Match": '"41"'})
    assert wrong.status_code == 412
    # RFC 9110 §13.1.1: If-Match compares strongly, so a weak tag of the current version fails.
    weak = editor.patch(path, json={"name": "Weak"}, headers={"If-Match": 'W/"1"'})
    assert weak.status_code == 412
    assert client.get(path).json()["name"] == activity["name"]
    listed = editor.patch(path, json={"name": "Listed"}, headers={"If-Match": 'W/"1", "1"'})
    assert listed.status_code == 200
    star = editor.patch(path, json={"name": "Any version"}, headers={"If-Match": "*"})
    assert star.status_code == 200, star.text
    assert star.headers["etag"] == '"3"'
    assert client.get(path).json()["name"] == "Any version"


def test_simultaneous_writers_with_the_same_etag_produce_one_winner(client, session):
    activity, editors = _editors(client, session, count=6)
    path = f"/v1/activities/{activity['id']}"
    etag = client.get(path).headers["etag"]
    barrier = threading.Barrier(len(editors))
    statuses = []

    def write(number, editor):
        barrier.wait()
        response = editor.patch(path, json={"name": f"Writer {number}"}, headers={"If-Match": etag})
        statuses.append(response.status_code)

    threads = [threading.Thread(target=write, args=pair) for pair in enumerate(editors)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] + [412] * (len(editors) - 1)
    assert client.get(path).json()["version"] == 2


def test_the_database_refuses_a_write_that_raced_past_the_etag_check(client, session, monkeypatch):
    """Both writers passed If-Match; the other committed first. The version column in the
    UPDATE's WHERE clause catches it: 412, and the other writer's change stands."""
    activity, (editor, _) = _editors(client, session)
    path = f"/v1/activities/{activity['id']}"
    original = activity_service.update_activity

    def racing_update(db, target, changes):
        with Session(get_engine()) as other:  # someone else commits in between
            other.exec(
                update(Activity)
                .where(Activity.id == target.id)
                .values(name="The other writer", version=Activity.version + 1)
            )
            search_index.refresh(other, [target.id])  # as every write through the API does
            other.commit()
        return original(db, target, changes)

    monkeypatch.setattr(activity_service, "update_activity", racing_update)
    response = editor.patch(path, json={"name": "Too late"}, headers={"If-Match": '"1"'})
    assert response.status_code == 412
    assert client.get(path).json()["name"] == "The other writer"


def test_two_rebuilds_of_one_activity_at_once_both_commit(client, session):
    """Two transactions rebuilding the same activity's search rows together (two editors
    changing its venues, say) both commit: the second waits for the first and rebuilds
    from what it wrote, rather than colliding with the place rows it added (a 409)."""
    activity_id = uuid.UUID(create_listing(client)["id"])
    first = Session(get_engine())
    search_index.refresh(first, [activity_id])  # its rows written, not yet committed
    outcome: list = []

    def second() -> None:
        with Session(get_engine()) as other:
            try:
                search_index.refresh(other, [activity_id])
                other.commit()
                outcome.append("committed")
            except Exception as error:  # the test reports which
                outcome.append(type(error).__name__)

    racer = threading.Thread(target=second)
    racer.start()
    racer.join(timeout=0.5)  # it is waiting for the first
    first.commit()
    first.close()
    racer.join(timeout=30)
    assert outcome == ["committed"]
    places = session.exec(select(ActivityPlace).where(ActivityPlace.activity_id == activity_id))
    assert len(places.all()) == 1
