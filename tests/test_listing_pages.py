"""Pages that stay cheap however big the directory (issue #14): list counts stop at
SIGNPOST_EXACT_COUNT_LIMIT and say so, and listings page by cursor as well as by number."""

import pytest
from sqlalchemy import text

from app.core.config import get_settings
from app.core.db import get_engine
from tests.factories import (
    client_for,
    create_activity,
    create_organisation,
    create_venue,
    make_user,
)


@pytest.fixture
def directory(client):
    """Seven published activities with names that sort in a known order."""
    organisation = create_organisation(client, status="published")
    venue = create_venue(client)
    names = [f"Group {letter}" for letter in "GFEDCBA"]
    for name in names:
        create_activity(client, organisation["id"], name=name, venue_ids=[venue["id"]])
    return sorted(names)


@pytest.fixture
def small_count_limit(monkeypatch):
    monkeypatch.setattr(get_settings(), "exact_count_limit", 3)


def _names(page: dict) -> list[str]:
    return [item["name"] for item in page["contents"]]


@pytest.mark.parametrize("sort", ["name", "-name", "created_at", "-updated_at"])
def test_paging_by_cursor_visits_what_paging_by_number_does(anon, directory, sort):
    by_number = []
    for number in range(1, 5):
        page = anon.get("/v1/activities", params={"per_page": 2, "page": number, "sort": sort})
        assert page.status_code == 200
        by_number += _names(page.json())
    by_cursor, after, pages = [], None, 0
    while True:
        params = {"per_page": 2, "sort": sort, **({"after": after} if after else {})}
        page = anon.get("/v1/activities", params=params)
        assert page.status_code == 200, page.text
        body = page.json()
        by_cursor += _names(body)
        pages += 1
        after = body["next_after"]
        assert (after is None) == body["last_page"]
        if after is None:
            break
    assert pages == 4
    assert by_cursor == by_number
    assert sorted(by_cursor) == directory


def test_a_cursor_is_checked(anon, directory):
    first = anon.get("/v1/activities", params={"per_page": 2}).json()
    cursor = first["next_after"]
    for params, reason in (
        ({"after": "not-a-cursor"}, "is not a cursor"),
        ({"after": ""}, "is not a cursor"),  # was a 500 (found by `make fuzz`)
        ({"after": cursor, "sort": "-name"}, "another sort order"),
        ({"after": cursor, "page": 2}, "not both"),
    ):
        answer = anon.get("/v1/activities", params=params)
        assert answer.status_code == 422
        assert answer.headers["content-type"] == "application/problem+json"
        error = answer.json()["errors"][0]
        assert error["field"] == "query.after"
        assert reason in error["message"]


def test_counts_are_exact_up_to_the_limit(anon, directory):
    page = anon.get("/v1/activities", params={"per_page": 2}).json()
    assert page["total_items"] == 7
    assert page["total_is_estimate"] is False
    assert page["total_pages"] == 4


def test_beyond_the_limit_the_count_is_a_lower_bound(anon, directory, small_count_limit):
    first = anon.get("/v1/activities", params={"per_page": 2}).json()
    assert first["total_is_estimate"] is True
    assert 4 <= first["total_items"] <= 7
    assert first["last_page"] is False
    last = anon.get("/v1/activities", params={"per_page": 2, "page": 4}).json()
    assert _names(last) == ["Group G"]
    assert last["last_page"] is True
    assert last["total_items"] == 7  # by the last page the bound is the count
    beyond = anon.get("/v1/activities", params={"per_page": 2, "page": 9}).json()
    assert beyond["empty"] is True and beyond["contents"] == []


def test_search_counts_are_exact(client, searcher, directory, small_count_limit):
    """A search ranks every match (so counting them costs nothing more): its total is
    exact whatever the limit on list counts."""
    page = searcher.get("/v1/referral-options", params={"q": "group", "per_page": 2}).json()
    assert page["total_items"] == 7
    assert page["total_is_estimate"] is False
    assert len(page["contents"]) == 2
    assert page["last_page"] is False
    last = searcher.get(
        "/v1/referral-options", params={"q": "group", "per_page": 2, "page": 4}
    ).json()
    assert last["last_page"] is True
    assert len(last["contents"]) == 1


def test_every_list_shares_the_capped_count(client, small_count_limit):
    """Lists read through app.core.pagination (organisations here, as invitations, claims,
    webhooks, referrals, assurance items and support needs) count the same way."""
    for name in ("Alpha", "Bravo", "Charlie", "Delta", "Echo"):
        create_organisation(client, name=name)
    first = client.get("/v1/organisations", params={"per_page": 2}).json()
    assert first["total_is_estimate"] is True
    assert first["last_page"] is False
    last = client.get("/v1/organisations", params={"per_page": 2, "page": 3}).json()
    assert [o["name"] for o in last["contents"]] == ["Echo"]
    assert last["last_page"] is True
    assert last["total_items"] == 5


def test_the_public_total_is_remembered_until_listings_change(anon, client, session, directory):
    """The public listing's total is counted once per worker and remembered (like the Open
    Referral lists'); a write through Signpost forgets it at once. Admins and the
    organisation's members, who see more than the public, are counted afresh every time."""
    listed = anon.get("/v1/activities").json()
    assert listed["total_items"] == 7
    organisation_id = listed["contents"][0]["organisation"]["id"]
    member = client_for(make_user(session, member_of={organisation_id: "editor"}))
    with get_engine().begin() as connection:  # behind Signpost's back: nothing forgets
        connection.execute(
            text("UPDATE activity SET archived_at = updated_at WHERE name = 'Group A'")
        )
    assert anon.get("/v1/activities").json()["total_items"] == 7  # remembered
    assert client.get("/v1/activities").json()["total_items"] == 6  # an admin: counted
    assert member.get("/v1/activities").json()["total_items"] == 6  # a member: counted too
    renamed = client.get("/v1/activities", params={"per_page": 1}).json()["contents"][0]
    etag = client.get(f"/v1/activities/{renamed['id']}").headers["etag"]
    patched = client.patch(
        f"/v1/activities/{renamed['id']}", json={"name": "Group Z"}, headers={"If-Match": etag}
    )
    assert patched.status_code == 200, patched.text
    assert anon.get("/v1/activities").json()["total_items"] == 6  # a write: forgotten
