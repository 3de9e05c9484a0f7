"""The search forgives how people write, and what it could not understand reaches the
stewards who can teach it (without keeping anything that could identify a person)."""

import pytest
from sqlmodel import select

from app.accounts.models import GlobalRole
from app.search.models import SearchLog
from tests.factories import create_listing


def _search(client, **params):
    response = client.get("/v1/referral-options", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def _ids(page):
    return {option["activity"]["id"] for option in page["contents"]}


@pytest.mark.parametrize(
    "typed, read_as",
    [("lonley", "lonely"), ("isloated", "isolated"), ("lonelyness", "loneliness")],
)
def test_a_misspelt_need_is_corrected_and_says_so(client, searcher, terms, typed, read_as):
    activity = create_listing(client, term_ids=[terms["social-isolation"]])

    page = _search(searcher, need=typed)

    assert _ids(page) == {activity["id"]}
    assert page["corrections"] == [{"from": typed, "to": read_as, "parameter": "need"}]
    assert page["contents"][0]["matched"]["needs"] == ["Social isolation"]


def test_everyday_phrasings_name_needs(client, searcher, terms):
    isolation = create_listing(client, term_ids=[terms["social-isolation"]])
    low_mood = create_listing(client, term_ids=[terms["low-mood"]])

    assert _ids(_search(searcher, need="no friends")) == {isolation["id"]}
    both = _search(searcher, need="feeling low and lonely since moving")
    assert _ids(both) == {isolation["id"], low_mood["id"]}
    assert {(u["words"], u["code"]) for u in both["understood"]} == {
        ("feeling low", "low-mood"),
        ("lonely", "social-isolation"),
    }
    # a broader need takes in its narrower ones
    assert _ids(_search(searcher, need="mental health")) >= {low_mood["id"]}


def test_words_in_q_that_name_a_need_count_as_that_need(client, searcher, terms):
    anxiety = create_listing(client, term_ids=[terms["anxiety"]])
    by_need = _search(searcher, need="anxiety")

    by_q = _search(searcher, q="panic attacks")

    assert _ids(by_q) == _ids(by_need) == {anxiety["id"]}
    assert by_q["understood"] == [
        {
            "words": "panic attacks",
            "parameter": "q",
            "taxonomy": "need",
            "code": "anxiety",
            "name": "Anxiety and panic",
        }
    ]
    assert by_q["contents"][0]["matched"]["needs"] == ["Anxiety and panic"]


def test_a_misspelt_q_word_is_corrected_against_the_listings(client, searcher, terms):
    climbing = create_listing(client, name="Bouldering club", description="Indoor climbing.")
    sowing = create_listing(client, name="Seed sowing morning")

    corrected = _search(searcher, q="bouldring")
    assert _ids(corrected) == {climbing["id"]}
    assert corrected["corrections"] == [{"from": "bouldring", "to": "bouldering", "parameter": "q"}]
    # a word some listing uses is never "corrected", however close to the vocabulary
    kept = _search(searcher, q="sowing")
    assert _ids(kept) == {sowing["id"]}
    assert kept["corrections"] == []


def test_a_short_word_is_not_bent_into_a_need(searcher, terms):
    """ "freak" is one edit from "break" (of "needs a break from caring"): a guess on a
    guess, so the words stay unmatched and reach the stewards instead."""
    page = _search(searcher, need="tidy freak")
    assert (page["understood"], page["corrections"], page["total_items"]) == ([], [], 0)


def test_nothing_matching_offers_suggestions_not_a_bare_hint(searcher, terms):
    page = _search(searcher, need="lonesome")

    assert page["total_items"] == 0
    assert page["suggestions"][0] == {
        "instead_of": "lonesome",
        "taxonomy": "need",
        "code": "social-isolation",
        "name": "Social isolation",
    }
    assert any("suggestions" in hint for hint in page["hints"])


def test_unmatched_words_are_logged_scrubbed_of_anything_personal(searcher, terms, session):
    _search(
        searcher,
        need="lonesome",
        q="hoarding help please ring 07700 900123 Mrs Patel BS5 6AW jo@example.com",
    )

    entry = session.exec(select(SearchLog)).one()
    assert entry.unmatched == ["lonesome", "hoarding help please ring"]
    stored = repr(entry.model_dump()).lower()
    for private in ("07700", "900123", "patel", "bs5", "6aw", "jo@", "example.com"):
        assert private not in stored


@pytest.mark.parametrize(
    "text, kept",
    [
        ("NHS 943 476 5919 lonely", "nhs lonely"),
        ("dob 12/03/1950 housebound", "dob housebound"),
        ("see www.example.org now", "see now"),
        ("Dr. Okafor said anxious", "said anxious"),
        ("07700900123", None),
    ],
)
def test_scrubbing_drops_numbers_addresses_and_titled_names(text, kept):
    from app.search.words import scrub

    assert scrub(text) == kept


def test_unmet_phrases_reach_the_report_and_the_steward_once_five_searches_used_them(
    client, searcher, terms, as_role
):
    activity = create_listing(client, term_ids=[terms["social-isolation"]])
    for _ in range(5):
        _search(searcher, need="lonesome hoarder")
    for _ in range(4):
        _search(searcher, need="tidy freak")
    commissioner = as_role(GlobalRole.commissioner)
    steward = as_role(GlobalRole.steward)

    report = commissioner.get("/v1/reports/unmet-demand", params={"group_by": "phrase"})
    assert report.status_code == 200, report.text
    rows = report.json()["rows"]
    assert [(r["phrase"], r["searches"], r["no_results"]) for r in rows] == [
        ("lonesome hoarder", 5, 5)
    ]
    view = steward.get("/v1/vocabulary/unmatched-phrases").json()
    assert [(p["phrase"], p["searches"]) for p in view["contents"]] == [("lonesome hoarder", 5)]
    assert view["contents"][0]["suggestions"][0]["code"] == "social-isolation"

    added = steward.post(
        f"/v1/taxonomy-terms/{terms['social-isolation']}/synonyms",
        json={"text": "lonesome hoarder"},
    )
    assert added.status_code == 200
    assert steward.get("/v1/vocabulary/unmatched-phrases").json()["contents"] == []
    assert _ids(_search(searcher, need="lonesome hoarder")) == {activity["id"]}


def test_a_misspelt_category_is_corrected(client, searcher, terms):
    garden = create_listing(client, term_ids=[terms["gardening-and-nature"]])

    page = _search(searcher, category="gardenning")

    assert _ids(page) == {garden["id"]}
    assert page["corrections"] == [
        {"from": "gardenning", "to": "gardening", "parameter": "category"}
    ]


def test_a_synonym_without_letters_or_digits_is_refused_naming_the_field(as_role, terms):
    steward = as_role(GlobalRole.steward)
    response = steward.post(
        "/v1/taxonomy-terms",
        json={"taxonomy": "need", "code": "x-need", "name": "X need", "synonyms": ["ok", "--"]},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.synonyms.1"
    assert steward.get("/v1/taxonomy-terms", params={"q": "x need"}).json()["total_items"] == 0
