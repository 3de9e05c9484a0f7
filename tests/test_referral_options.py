"""The link workers' search, on a small directory with known places and times."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from app.accounts.models import GlobalRole
from app.cli import cli
from app.core.config import get_settings
from app.geo.service import EARTH_RADIUS_KM
from app.search.models import SearchLog
from app.vocabulary.seed import seed_vocabulary
from tests.factories import (
    assure,
    client_for,
    create_activity,
    create_listing,
    create_organisation,
    create_venue,
    make_user,
)

BS5 = (51.4614, -2.54992)  # the BS5 outcode centre in the shipped data
ONE_DEGREE_KM = EARTH_RADIUS_KM * 3.141592653589793 / 180  # arc length along a meridian


def weekly(byday, opens, closes):
    return [{"freq": "WEEKLY", "byday": byday, "opens_at": opens, "closes_at": closes}]


@pytest.fixture
def directory(client, session):
    terms = {code: str(term.id) for code, term in seed_vocabulary(session).items()}
    session.commit()
    verified = create_organisation(client, name="Easton Voices", status="published")
    assure(session, client, verified["id"])
    plain = create_organisation(client, name="Bristol Walkers", status="published")
    hidden = create_organisation(client, name="Secret Draft", status="draft")

    centre = create_venue(
        client,
        latitude=BS5[0],
        longitude=BS5[1],
        accessibility=["step_free_access", "hearing_loop"],
    )
    three_km_north = create_venue(
        client, postcode="BS7 9JN", latitude=BS5[0] + 3 / ONE_DEGREE_KM, longitude=BS5[1]
    )
    eleven_km_north = create_venue(
        client, postcode="BS10 6AS", latitude=BS5[0] + 0.1, longitude=BS5[1]
    )
    a = {
        "choir": create_activity(
            client,
            verified["id"],
            name="Community Choir",
            description="Friendly singing for all",
            minimum_age=18,
            access_modes=["referral", "drop_in"],
            term_ids=[terms["music-and-singing"]],
            venue_ids=[centre["id"]],
            schedules=weekly("TU", "10:00", "12:00"),
        ),
        "walk": create_activity(
            client,
            plain["id"],
            name="Health Walk",
            description="Gentle walking in the park",
            minimum_age=55,
            cost_type="fee",
            cost_amount="2.50",
            languages=["en", "pl"],
            term_ids=[terms["walking-and-physical-activity"]],
            venue_ids=[three_km_north["id"]],
            schedules=weekly("SA", "09:00", "10:00"),
            last_confirmed_at=(datetime.now(UTC) - timedelta(days=200)).isoformat(),
        ),
        "phone": create_activity(
            client,
            verified["id"],
            name="Telephone Befriending",
            delivery_modes=["phone"],
            access_modes=["referral"],
            term_ids=[terms["befriending"], terms["social-isolation"]],
            schedules=weekly("MO,TU,WE,TH,FR", "10:00", "16:00"),
        ),
        "art": create_activity(
            client,
            plain["id"],
            name="Watercolour Art Class",
            cost_type="fee",
            cost_amount="12.00",
            term_ids=[terms["arts-and-crafts"]],
            venue_ids=[eleven_km_north["id"]],
            schedules=[
                {"freq": "MONTHLY", "byday": "1WE", "opens_at": "14:00", "closes_at": "16:00"}
            ],
        ),
        "draft": create_activity(
            client,
            hidden["id"],
            name="Hidden Choir",
            term_ids=[terms["music-and-singing"]],
            venue_ids=[centre["id"]],
        ),
        "closed": create_activity(
            client,
            verified["id"],
            name="Closed Choir",
            status="temporarily closed",
            term_ids=[terms["music-and-singing"]],
            venue_ids=[centre["id"]],
        ),
    }
    return {"terms": terms, "activities": a, "venues": (centre, three_km_north, eleven_km_north)}


@pytest.fixture
def link_worker(session):
    return client_for(make_user(session, role=GlobalRole.link_worker))


def names(response):
    assert response.status_code == 200, response.text
    return {option["activity"]["name"] for option in response.json()["contents"]}


def search(client, **params):
    return client.get("/v1/referral-options", params={"per_page": 50, **params})


NEVER = {"Hidden Choir", "Closed Choir"}


def test_needs_match_through_synonyms_and_linked_categories(link_worker, directory):
    found = [
        names(search(link_worker, need=word))
        for word in ("lonely", "loneliness", "Social Isolation")
    ]
    assert found[0] == found[1] == found[2]
    # Tagged with the need itself, or with a category that helps with it.
    assert found[0] == {
        "Community Choir",
        "Health Walk",
        "Telephone Befriending",
        "Watercolour Art Class",
    }
    assert not found[0] & NEVER


def test_need_by_id_and_category_with_matched_reasons(link_worker, directory):
    terms = directory["terms"]
    response = search(link_worker, need=terms["social-isolation"], category="music-and-singing")
    options = {o["activity"]["name"]: o for o in response.json()["contents"]}
    assert options["Community Choir"]["matched"]["needs"] == ["Social isolation"]
    assert options["Community Choir"]["matched"]["categories"] == ["Choirs and music"]
    assert options["Telephone Befriending"]["matched"]["needs"] == ["Social isolation"]


FILTERS = [
    ({"age": 30}, {"Community Choir", "Telephone Befriending", "Watercolour Art Class"}),
    (
        {"age": 60},
        {"Community Choir", "Telephone Befriending", "Watercolour Art Class", "Health Walk"},
    ),
    ({"day": "SA"}, {"Health Walk"}),
    (
        {"day": ["TU", "WE"]},
        {"Community Choir", "Telephone Befriending", "Watercolour Art Class"},
    ),
    (
        {"available_from": "09:30"},
        {"Community Choir", "Telephone Befriending", "Watercolour Art Class"},
    ),
    ({"available_to": "12:00"}, {"Community Choir", "Health Walk"}),
    ({"delivery": "phone"}, {"Telephone Befriending"}),
    ({"cost": "free"}, {"Community Choir", "Telephone Befriending"}),
    ({"cost": "low_cost"}, {"Community Choir", "Telephone Befriending", "Health Walk"}),
    ({"accessibility": "hearing_loop"}, {"Community Choir"}),
    ({"language": "pl"}, {"Health Walk"}),
    ({"accepting_referrals": True}, {"Community Choir", "Telephone Befriending"}),
    ({"assured_only": True}, {"Community Choir", "Telephone Befriending"}),
    ({"q": "singing"}, {"Community Choir"}),
    ({"q": "walks"}, {"Health Walk"}),  # stemmed: walks ~ walking
    ({"q": "choir"}, {"Community Choir"}),
    ({"q": "Easton"}, {"Community Choir", "Telephone Befriending"}),  # organisation name
    ({"category": "advice"}, set()),
    ({"postcode": "BS5", "radius_km": 5}, {"Community Choir", "Health Walk"}),
    ({"postcode": "BS5", "radius_km": 2}, {"Community Choir"}),
    (
        {"postcode": "BS5", "radius_km": 20},
        {"Community Choir", "Health Walk", "Watercolour Art Class"},
    ),
    (
        {"postcode": "BS5", "radius_km": 5, "include_online": True},
        {"Community Choir", "Health Walk", "Telephone Befriending"},
    ),
    ({"postcode": "BS5", "radius_km": 20, "age": 30, "cost": "free"}, {"Community Choir"}),
]


@pytest.mark.parametrize(("params", "expected"), FILTERS)
def test_each_filter_narrows_the_results(link_worker, directory, params, expected):
    assert names(search(link_worker, **params)) == expected


@pytest.mark.parametrize(
    ("params", "expected"), [(p, e) for p, e in FILTERS if "postcode" not in p]
)
def test_each_filter_narrows_a_located_search_alike(link_worker, directory, params, expected):
    """A search with a place filters the rows of its bounding box (each carrying a copy of
    its activity's facets) and the services without a venue: every filter must give what it
    gives without a place when the place's radius takes in every venue."""
    located = search(link_worker, **params, postcode="BS5", radius_km=100, include_online=True)
    assert located.status_code == 200, located.text
    assert names(located) == expected
    assert all(o["distance_km"] is not None for o in located.json()["contents"] if o["venues"])


def test_everything_visible_and_active_without_filters(link_worker, directory):
    found = names(search(link_worker))
    assert found == {
        "Community Choir",
        "Health Walk",
        "Telephone Befriending",
        "Watercolour Art Class",
    }


def test_distances_are_right_to_within_100_metres(link_worker, directory):
    response = search(link_worker, lat=BS5[0], lon=BS5[1], radius_km=20, sort="distance")
    options = response.json()["contents"]
    assert [o["activity"]["name"] for o in options] == [
        "Community Choir",
        "Health Walk",
        "Watercolour Art Class",
    ]
    assert abs(options[0]["distance_km"] - 0.0) < 0.1
    assert abs(options[1]["distance_km"] - 3.0) < 0.1
    assert abs(options[2]["distance_km"] - 0.1 * ONE_DEGREE_KM) < 0.1
    assert options[1]["nearest_venue"]["id"] == directory["venues"][1]["id"]
    assert response.json()["location"]["precision"] == "coordinates"
    assert response.json()["location"]["outcode"] == "BS5"


def test_ranking_prefers_relevant_near_accepting_and_fresh(link_worker, directory):
    response = search(link_worker, need="lonely", postcode="BS5", radius_km=20)
    ranked = [(o["activity"]["name"], o["score"]) for o in response.json()["contents"]]
    assert [name for name, _ in ranked] == [
        "Community Choir",
        "Health Walk",
        "Watercolour Art Class",
    ]
    scores = [score for _, score in ranked]
    assert scores == sorted(scores, reverse=True)
    # Choir: category of the need 0.8, distance 0 → 1, takes referrals 1, fresh 1.
    assert ranked[0][1] == pytest.approx(0.4 * 0.8 + 0.3 * 1 + 0.15 * 1 + 0.15 * 1, abs=0.001)


def test_other_sorts(link_worker, directory):
    by_name = [o["activity"]["name"] for o in search(link_worker, sort="name").json()["contents"]]
    assert by_name == sorted(by_name)
    upcoming = search(link_worker, sort="next_session").json()["contents"]
    starts = [o["next_session"]["starts_at"] for o in upcoming]
    assert starts == sorted(starts)
    assert all(o["next_session"] for o in upcoming)


def test_each_result_carries_what_a_link_worker_needs(link_worker, directory):
    option = search(link_worker, q="choir", postcode="BS5").json()["contents"][0]
    assert option["organisation"]["name"] == "Easton Voices"
    assert option["assurance_status"] == "assured"
    assert option["nearest_venue"]["accessibility"] == ["step_free_access", "hearing_loop"]
    assert option["next_session"]["starts_at"][11:16] == "10:00"
    assert option["activity"]["cost_type"] == "free"
    assert option["activity"]["delivery_modes"] == ["in_person"]
    assert option["matched"]["words"] == ["choir"]
    assert option["matched"]["filters"] == ["location"]
    assert "capacity_status" in option


@pytest.mark.parametrize("written", ["bs5 6aw", "BS56AW", "BS5 6AW"])
def test_postcodes_are_normalised_and_fall_back_to_the_outcode(link_worker, directory, written):
    body = search(link_worker, postcode=written, radius_km=5).json()
    assert body["location"]["precision"] == "outcode"
    assert body["location"]["outcode"] == "BS5"
    assert "BS5 6AW is not in the postcode table" in body["location"]["note"]
    assert {o["activity"]["name"] for o in body["contents"]} == {"Community Choir", "Health Walk"}


def test_imported_postcodes_resolve_exactly(link_worker, directory, tmp_path):
    csv_file = tmp_path / "NSPL_TEST.csv"
    lat = BS5[0] + 0.1  # the far venue's latitude
    csv_file.write_text(
        "pcd,pcd2,pcds,dointr,doterm,lat,long\n"
        f"BS5 6AW,BS5  6AW,BS5 6AW,199801,,{lat},{BS5[1]}\n"
        f"BS5 9ZZ,BS5  9ZZ,BS5 9ZZ,199801,200012,{BS5[0]},{BS5[1]}\n"
        "BS5 8QQ,BS5  8QQ,BS5 8QQ,199801,,99.999999,0.000000\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli, ["import-postcodes", str(csv_file)])
    assert result.exit_code == 0, result.output
    assert "imported 1 postcodes" in result.output
    body = search(link_worker, postcode="bs56aw", radius_km=1).json()
    assert body["location"]["precision"] == "postcode"
    assert body["location"]["latitude"] == pytest.approx(lat, abs=1e-5)
    assert names(search(link_worker, postcode="BS5 6AW", radius_km=1)) == {"Watercolour Art Class"}
    # A terminated postcode was not imported: it falls back to its outcode.
    assert search(link_worker, postcode="BS5 9ZZ").json()["location"]["precision"] == "outcode"


def test_an_unusable_postcode_file_is_refused(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("postcode,x,y\nBS5 6AW,1,2\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["import-postcodes", str(bad)])
    assert result.exit_code == 1


def test_unknown_need_words_give_an_empty_answer_with_a_hint(link_worker, directory):
    response = search(link_worker, need="frobnication")
    assert response.status_code == 200
    assert response.json()["empty"] is True
    assert "frobnication" in response.json()["hints"][0]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"available_from": "14:00", "available_to": "10:00"}, "query.available_from"),
        ({"radius_km": -1}, "query.radius_km"),
        ({"radius_km": 0}, "query.radius_km"),
        ({"radius_km": 101}, "query.radius_km"),
        ({"age": 121}, "query.age"),
        ({"per_page": 101}, "query.per_page"),
        ({"postcode": "NOT A POSTCODE"}, "query.postcode"),
        ({"postcode": "ZZ99"}, "query.postcode"),
        ({"postcode": "BS5", "lat": 51.4, "lon": -2.5}, "query.postcode"),
        ({"lat": 51.4}, "query.lon"),
        ({"lat": 10, "lon": 0}, "query.lat"),
        ({"day": "Tuesday"}, "query.day.0"),
        ({"delivery": "carrier pigeon"}, "query.delivery.0"),
        ({"sort": "random"}, "query.sort"),
        ({"language": "English"}, "query.language.0"),
    ],
)
def test_contradictory_or_impossible_filters_are_422(link_worker, directory, params, field):
    response = search(link_worker, **params)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == field


def test_the_search_log_keeps_no_more_than_the_outcode(link_worker, directory, session):
    response = search(
        link_worker,
        postcode="BS5 6AW",
        q="feeling lonely at home since my wife died",
        age=67,
        need="low mood",
    )
    entry = session.exec(select(SearchLog)).one()
    assert entry.outcode == "BS5"
    stored = repr(entry.model_dump())
    for private in ("6AW", "6aw", "wife", "home", "feeling"):
        assert private not in stored
    assert 67 not in entry.filters.values() and "age" not in entry.filters
    assert entry.filters["age_band"] == "65+"
    assert directory["terms"]["social-isolation"] in entry.filters["q_terms"]
    assert entry.need_ids == [directory["terms"]["low-mood"]]
    assert entry.unmatched == []  # q named needs, so none of its words are kept
    assert entry.result_count == response.json()["total_items"]


def test_each_search_is_logged_with_its_count(link_worker, directory, session):
    search(link_worker, need="lonely")
    search(link_worker, need="no such need")
    counts = sorted(entry.result_count for entry in session.exec(select(SearchLog)).all())
    assert counts == [0, 4]


def test_only_link_workers_stewards_and_admins_search(anon, session, directory):
    assert anon.get("/v1/referral-options").status_code == 401
    commissioner = client_for(make_user(session, role=GlobalRole.commissioner))
    assert commissioner.get("/v1/referral-options").status_code == 403
    steward = client_for(make_user(session, role=GlobalRole.steward))
    assert steward.get("/v1/referral-options").status_code == 200


def test_renaming_an_organisation_reindexes_its_activities(client, link_worker, directory):
    from tests.factories import patch

    organisation_id = directory["activities"]["walk"]["organisation"]["id"]
    patch(client, f"/v1/organisations/{organisation_id}", {"name": "Stapleton Striders"})
    assert names(search(link_worker, q="stapleton")) == {"Health Walk", "Watercolour Art Class"}


def test_the_search_follows_every_change_to_what_it_reads(client, link_worker, directory):
    from tests.factories import patch

    choir = directory["activities"]["choir"]
    centre = directory["venues"][0]
    near = {"postcode": "BS5", "radius_km": 2}
    assert names(search(link_worker, day="SA")) == {"Health Walk"}

    patch(client, f"/v1/activities/{choir['id']}", {"schedules": weekly("SA", "10:00", "11:00")})
    assert names(search(link_worker, day="SA")) == {"Health Walk", "Community Choir"}

    patch(client, f"/v1/activities/{choir['id']}", {"minimum_age": 80})
    assert "Community Choir" not in names(search(link_worker, age=70))

    moved = patch(
        client, f"/v1/venues/{centre['id']}", {"latitude": BS5[0] + 0.5, "longitude": BS5[1]}
    )
    assert moved.status_code == 200
    assert names(search(link_worker, **near)) == set()
    patch(client, f"/v1/venues/{centre['id']}", {"latitude": BS5[0], "longitude": BS5[1]})
    assert names(search(link_worker, **near)) == {"Community Choir"}

    organisation = choir["organisation"]["id"]
    patch(client, f"/v1/organisations/{organisation}", {"status": "draft"})
    assert "Community Choir" not in names(search(link_worker))
    patch(client, f"/v1/organisations/{organisation}", {"status": "published"})
    assert "Community Choir" in names(search(link_worker))

    client.post(f"/v1/venues/{centre['id']}/archive")
    assert names(search(link_worker, **near)) == set()
    client.post(f"/v1/activities/{choir['id']}/archive")
    assert "Community Choir" not in names(search(link_worker))


def test_reindex_rebuilds_the_search_rows(client, link_worker, directory, session):
    from sqlalchemy import delete

    from app.search.models import ActivityFacet

    session.exec(delete(ActivityFacet))
    session.commit()
    assert names(search(link_worker)) == set()
    result = CliRunner().invoke(cli, ["reindex-search"])
    assert result.exit_code == 0 and "reindexed 6 activities" in result.output
    assert len(names(search(link_worker))) == 4


@pytest.mark.parametrize(
    "q", ["the", '"', "AND OR NOT", "ünïcödé", "*", "a*b", "NEAR(x y)", "don't", "(", "^caret"]
)
def test_odd_text_is_searched_not_parsed(link_worker, directory, q):
    """Free text never reaches the full-text query language raw (FTS5 or tsquery syntax)."""
    response = search(link_worker, q=q)
    assert response.status_code == 200, response.text
    assert not (names(response) & NEVER)


def test_requests_of_one_shape_each_get_their_own_answer(link_worker, directory):
    """The statement is built once per request shape (app/search/service._Shape) and kept;
    each request binds its own place, radius and age to it."""
    found = [
        names(search(link_worker, postcode="BS5", radius_km=radius, age=age))
        for radius, age in ((2, 30), (20, 60), (2, 30))
    ]
    assert found[0] == found[2] == {"Community Choir"}
    assert found[1] == {"Community Choir", "Health Walk", "Watercolour Art Class"}


def test_a_page_past_the_last_still_counts_every_match(link_worker, directory):
    response = link_worker.get("/v1/referral-options", params={"per_page": 2, "page": 5})
    assert response.status_code == 200, response.text
    assert response.json()["contents"] == []
    assert response.json()["total_items"] == len(names(search(link_worker))) == 4


def test_the_hide_after_setting_holds_for_a_kept_statement(link_worker, directory, monkeypatch):
    assert "Health Walk" in names(search(link_worker))  # confirmed 200 days ago
    monkeypatch.setattr(get_settings(), "hide_after_days", 100)
    assert "Health Walk" not in names(search(link_worker))  # the same shape, read afresh


def test_q_ranks_what_names_its_terms_or_holds_its_words_above_what_is_only_linked(
    client, session, link_worker
):
    """q "lonely" names the social-isolation need; music is only linked to it. A listing
    ranks as fully relevant when it carries the need, or holds the word, whether or not it
    also carries a linked term; carrying only a linked term ranks it lower."""
    terms = {code: str(term.id) for code, term in seed_vocabulary(session).items()}
    session.commit()
    listed = {
        "need": ([terms["social-isolation"]], "Meet neighbours over tea"),
        "word": ([], "For anyone feeling lonely"),
        "linked and word": ([terms["music-and-singing"]], "Singing for lonely people"),
        "linked": ([terms["music-and-singing"]], "Singing in harmony"),
    }
    for name, (term_ids, description) in listed.items():
        create_listing(client, name=name, description=description, term_ids=term_ids)
    response = search(link_worker, q="lonely", postcode="BS5 6AW", radius_km=5)
    assert response.status_code == 200, response.text
    scores = {o["activity"]["name"]: o["score"] for o in response.json()["contents"]}
    assert set(scores) == set(listed)
    full = scores["need"]
    assert scores["word"] == pytest.approx(full)
    assert scores["linked and word"] == pytest.approx(full)
    assert scores["linked"] == pytest.approx(full - 0.4 * 0.2)  # relevance 0.8, not 1


def test_reindex_rebuilds_the_lexicon_from_the_documents(directory, session):
    """Words no listing holds any more leave the lexicon that typos are corrected against;
    the words of the listings stay."""
    from app.search.models import SearchWord

    session.add(SearchWord(word="zyzzogeton"))
    session.commit()
    result = CliRunner().invoke(cli, ["reindex-search"])
    assert result.exit_code == 0, result.output
    words = set(session.scalars(select(SearchWord.word)))
    assert "zyzzogeton" not in words
    assert {"choir", "walk", "watercolour"} <= words


def test_a_write_during_a_reindex_waits_for_one_batch_not_the_run(directory, monkeypatch):
    """The nightly reindex commits batch by batch: a capacity change (what every referral
    makes) to an activity already reindexed goes through while the run goes on, instead of
    waiting for the whole directory and timing out."""
    import threading

    from sqlmodel import Session

    from app.capacity import service as capacity
    from app.core.db import get_engine
    from app.core.types import utcnow
    from app.search import indexing

    monkeypatch.setattr(indexing, "BATCH", 2)
    batch = indexing._refresh_batch
    done: list[uuid.UUID] = []
    outcome: list[str] = []

    def change_capacity_of(activity_id: uuid.UUID) -> None:
        with Session(get_engine()) as other:
            try:
                held = capacity.get_capacity(other, activity_id)
                capacity.update_capacity(other, held, {"waiting_list_length": 4}, utcnow())
                other.commit()
                outcome.append("committed")
            except Exception as error:  # the test reports which
                outcome.append(type(error).__name__)

    def watched(session, ids):
        if done and not outcome:  # the first batch is done: write to one of its activities
            writer = threading.Thread(target=change_capacity_of, args=(done[0],))
            writer.start()
            writer.join(timeout=30)
        batch(session, ids)
        done.extend(ids)

    monkeypatch.setattr(indexing, "_refresh_batch", watched)
    result = CliRunner().invoke(cli, ["reindex-search"])
    assert result.exit_code == 0, result.output
    assert outcome == ["committed"]
    with Session(get_engine()) as reading:
        assert capacity.get_capacity(reading, done[0]).waiting_list_length == 4
