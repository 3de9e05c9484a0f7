"""Stewards curate the vocabulary through the API, and searches follow within seconds."""

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import insert, select, text

from app.accounts.models import GlobalRole
from app.audit.models import AuditEntry
from app.core.db import get_engine
from app.vocabulary import snapshot as vocabulary_snapshot
from app.vocabulary.models import TermSynonym
from app.vocabulary.seed import seed_vocabulary
from tests.factories import create_listing, create_organisation, patch


@pytest.fixture
def steward(as_role):
    return as_role(GlobalRole.steward)


def _found(searcher, **params):
    response = searcher.get("/v1/referral-options", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def _ids(page):
    return [option["activity"]["id"] for option in page["contents"]]


def test_a_steward_adds_a_need_that_searches_understand_at_once(client, steward, searcher, terms):
    created = steward.post(
        "/v1/taxonomy-terms",
        json={
            "taxonomy": "need",
            "code": "hoarding",
            "name": "Hoarding",
            "synonyms": ["Too Much Stuff", "clutter"],
        },
    )
    assert created.status_code == 201, created.text
    term = created.json()
    assert created.headers["location"] == f"/v1/taxonomy-terms/{term['id']}"
    assert created.headers["etag"] == f'"{term["version"]}"'
    assert term["synonyms"] == ["clutter", "too much stuff"]
    activity = create_listing(client, term_ids=[term["id"]])

    assert _ids(_found(searcher, need="too much stuff")) == [activity["id"]]
    assert _ids(_found(searcher, need="hoarding")) == [activity["id"]]
    audit = steward.get(
        "/v1/audit", params={"object_type": "taxonomy_term", "object_id": term["id"]}
    ).json()
    assert sorted(entry["action"] for entry in audit["contents"]) == ["create", "update"]


def test_a_synonym_used_by_another_term_of_the_scheme_is_a_409_naming_both(steward, terms, session):
    taken = steward.post(
        f"/v1/taxonomy-terms/{terms['low-mood']}/synonyms", json={"text": "Lonely"}
    )
    assert taken.status_code == 409
    assert taken.headers["content-type"] == "application/problem+json"
    detail = taken.json()["detail"]
    assert "Social isolation" in detail and "Low mood" in detail
    assert "lonely" not in steward.get(f"/v1/taxonomy-terms/{terms['low-mood']}").json()["synonyms"]

    new_term = steward.post(
        "/v1/taxonomy-terms",
        json={"taxonomy": "need", "code": "solitude", "name": "Solitude", "synonyms": ["alone"]},
    )
    assert new_term.status_code == 409
    assert steward.get("/v1/taxonomy-terms", params={"q": "solitude"}).json()["total_items"] == 0
    # the same words may name a term of another scheme
    other_scheme = steward.post(
        f"/v1/taxonomy-terms/{terms['befriending']}/synonyms", json={"text": "lonely"}
    )
    assert other_scheme.status_code == 200, other_scheme.text


def test_removing_a_synonym_stops_it_matching_and_offers_suggestions(
    client, steward, searcher, terms
):
    activity = create_listing(client, term_ids=[terms["social-isolation"]])
    assert _ids(_found(searcher, need="lonely")) == [activity["id"]]

    removed = steward.delete(f"/v1/taxonomy-terms/{terms['social-isolation']}/synonyms/lonely")

    assert removed.status_code == 200, removed.text
    assert "lonely" not in removed.json()["synonyms"]
    missing = steward.delete(f"/v1/taxonomy-terms/{terms['social-isolation']}/synonyms/lonely")
    assert missing.status_code == 404


def test_renaming_needs_if_match_and_moves_the_search_text(client, steward, searcher, terms):
    activity = create_listing(client, term_ids=[terms["mens-sheds"]])
    path = f"/v1/taxonomy-terms/{terms['mens-sheds']}"
    assert steward.patch(path, json={"name": "Community workshops"}).status_code == 428
    stale = steward.patch(path, json={"name": "Community workshops"}, headers={"If-Match": '"99"'})
    assert stale.status_code == 412

    renamed = patch(steward, path, {"name": "Community workshops"})

    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["name"] == "Community workshops"
    assert _ids(_found(searcher, q="workshops")) == [activity["id"]]


def test_retired_terms_keep_their_links_but_take_no_new_ones(client, steward, searcher, terms):
    activity = create_listing(client, term_ids=[terms["bereavement"]])
    retired = steward.post(f"/v1/taxonomy-terms/{terms['bereavement']}/retire")
    assert retired.status_code == 200
    assert retired.json()["retired_at"] is not None

    listed = steward.get("/v1/taxonomy-terms", params={"taxonomy": "need"}).json()
    assert terms["bereavement"] not in {t["id"] for t in listed["contents"]}
    everything = steward.get(
        "/v1/taxonomy-terms", params={"taxonomy": "need", "include_retired": True}
    ).json()
    assert terms["bereavement"] in {t["id"] for t in everything["contents"]}
    kept = client.get(f"/v1/activities/{activity['id']}").json()
    assert terms["bereavement"] in {t["id"] for t in kept["terms"]}
    # an edit that keeps the retired term is fine; a new link to it is refused
    assert (
        patch(client, f"/v1/activities/{activity['id']}", {"name": "Grief café"}).status_code == 200
    )
    organisation = create_organisation(client)
    refused = client.post(
        "/v1/activities",
        json={
            "organisation_id": organisation["id"],
            "name": "X",
            "term_ids": [terms["bereavement"]],
        },
    )
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["type"] == "retired"
    # its words no longer name it, its code still does
    assert _found(searcher, need="grief")["total_items"] == 0
    assert _ids(_found(searcher, need="bereavement")) == [activity["id"]]

    reinstated = steward.post(f"/v1/taxonomy-terms/{terms['bereavement']}/reinstate")
    assert reinstated.json()["retired_at"] is None
    assert _ids(_found(searcher, need="grief")) == [activity["id"]]


def test_linking_a_category_to_a_need_brings_its_activities_into_need_searches(
    client, steward, searcher, terms
):
    advice = create_listing(client, term_ids=[terms["advice"]])
    assert advice["id"] not in _ids(_found(searcher, need="social-isolation"))

    linked = steward.put(
        f"/v1/taxonomy-terms/{terms['social-isolation']}/helped-by/{terms['advice']}"
    )
    assert linked.status_code == 200, linked.text
    assert "advice" in {t["code"] for t in linked.json()["helped_by"]}
    assert advice["id"] in _ids(_found(searcher, need="social-isolation"))

    unlinked = steward.delete(
        f"/v1/taxonomy-terms/{terms['social-isolation']}/helped-by/{terms['advice']}"
    )
    assert "advice" not in {t["code"] for t in unlinked.json()["helped_by"]}
    assert advice["id"] not in _ids(_found(searcher, need="social-isolation"))

    wrong_way = steward.put(
        f"/v1/taxonomy-terms/{terms['advice']}/helped-by/{terms['social-isolation']}"
    )
    assert wrong_way.status_code == 422


@pytest.mark.parametrize(
    "parent, reason",
    [("own-child", "cycle"), ("other-scheme", "unknown_id"), ("itself", "cycle")],
)
def test_re_parenting_refuses_cycles_and_other_schemes(steward, terms, parent, reason):
    path = f"/v1/taxonomy-terms/{terms['advice']}"
    parent_id = {
        "own-child": terms["debt-advice"],
        "other-scheme": terms["low-mood"],
        "itself": terms["advice"],
    }[parent]
    response = patch(steward, path, {"parent_id": parent_id})
    assert response.status_code == 422
    assert (response.json()["errors"][0]["field"], response.json()["errors"][0]["type"]) == (
        "body.parent_id",
        reason,
    )
    assert steward.get(path).json()["parent_id"] is None


def test_another_process_s_change_shows_within_seconds(session, terms, monkeypatch):
    """A change committed elsewhere raises the version; this process's copy is checked
    against it every CHECK_SECONDS and rebuilt when it moved."""
    before = vocabulary_snapshot.snapshot(session)
    assert not before.find("need", "strapped for cash")
    with get_engine().begin() as other:  # another process: no clear() here
        other.execute(
            insert(TermSynonym).values(
                term_id=uuid.UUID(terms["money-worries"]), text="strapped for cash"
            )
        )
        other.execute(text("UPDATE vocabulary_state SET version = version + 1"))
    assert vocabulary_snapshot.snapshot(session) is before  # not yet checked

    clock = vocabulary_snapshot.time.monotonic() + vocabulary_snapshot.CHECK_SECONDS + 0.1
    monkeypatch.setattr(vocabulary_snapshot.time, "monotonic", lambda: clock)
    after = vocabulary_snapshot.snapshot(session)
    assert after.find("need", "strapped for cash")


def test_curation_is_audited_with_what_changed(steward, terms, session):
    steward.post(
        f"/v1/taxonomy-terms/{terms['low-mood']}/synonyms", json={"text": "down in the dumps"}
    )
    entry = session.scalars(
        select(AuditEntry)
        .where(AuditEntry.object_type == "taxonomy_term")
        .order_by(AuditEntry.occurred_at.desc())
    ).first()
    assert entry.changes == {"synonyms": {"added": ["down in the dumps"]}}
    assert entry.actor_type == "user"


def test_two_stewards_racing_for_one_synonym_cannot_both_win(as_role, terms):
    """The vocabulary version row is updated first in every curation, so concurrent
    curators queue and the second sees the first's synonym."""
    stewards = [as_role(GlobalRole.steward) for _ in range(2)]
    barrier = threading.Barrier(2)

    def add(steward, code):
        barrier.wait()
        return steward.post(
            f"/v1/taxonomy-terms/{terms[code]}/synonyms", json={"text": "all at sea"}
        ).status_code

    with ThreadPoolExecutor(2) as pool:
        statuses = sorted(pool.map(add, stewards, ["low-mood", "anxiety"]))

    assert statuses == [200, 409]
    holders = [
        code
        for code in ("low-mood", "anxiety")
        if "all at sea" in stewards[0].get(f"/v1/taxonomy-terms/{terms[code]}").json()["synonyms"]
    ]
    assert len(holders) == 1


def test_re_seeding_never_undoes_a_steward_s_removal_but_tops_up_an_older_release(
    steward, terms, session
):
    from app.vocabulary.models import VocabularyState

    path = f"/v1/taxonomy-terms/{terms['social-isolation']}"
    assert steward.delete(f"{path}/synonyms/lonely").status_code == 200

    seed_vocabulary(session)  # what `make run` does on every start
    session.commit()
    assert "lonely" not in steward.get(path).json()["synonyms"]

    # A database from before this starter release takes its additions once.
    session.get(VocabularyState, 1).seeded = 1
    session.commit()
    seed_vocabulary(session)
    session.commit()
    assert "lonely" in steward.get(path).json()["synonyms"]
