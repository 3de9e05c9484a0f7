import pytest

from app.vocabulary.seed import seed_vocabulary


@pytest.fixture
def vocabulary(session):
    terms = seed_vocabulary(session)
    session.commit()
    return terms


@pytest.mark.parametrize("words", ["lonely", "Loneliness", "social isolation", "ISOLATED"])
def test_synonyms_find_the_same_need(client, vocabulary, words):
    page = client.get("/v1/taxonomy-terms", params={"q": words, "taxonomy": "need"}).json()
    assert [term["code"] for term in page["contents"]] == ["social-isolation"]


def test_a_need_lists_the_categories_that_help(client, vocabulary):
    need = client.get(f"/v1/taxonomy-terms/{vocabulary['social-isolation'].id}").json()
    assert need["taxonomy"]["code"] == "need"
    assert "lonely" in need["synonyms"]
    helped_by = {term["code"] for term in need["helped_by"]}
    assert {"befriending", "music-and-singing", "mens-sheds"} <= helped_by
    choir = client.get(f"/v1/taxonomy-terms/{vocabulary['music-and-singing'].id}").json()
    assert "social-isolation" in {term["code"] for term in choir["helps_with"]}


def test_terms_are_hierarchical(client, vocabulary):
    advice = vocabulary["advice"]
    children = client.get("/v1/taxonomy-terms", params={"parent": str(advice.id)}).json()
    assert {t["code"] for t in children["contents"]} == {
        "debt-advice",
        "benefits-advice",
        "housing-advice",
    }


def test_taxonomies_are_listed_and_seeding_twice_adds_nothing(client, session, vocabulary):
    page = client.get("/v1/taxonomies").json()
    assert {t["code"] for t in page["contents"]} == {
        "activity-category",
        "need",
        "training-type",
        "support-category",
    }
    before = client.get("/v1/taxonomy-terms", params={"per_page": 100}).json()["total_items"]
    seed_vocabulary(session)
    session.commit()
    after = client.get("/v1/taxonomy-terms", params={"per_page": 100}).json()["total_items"]
    assert before == after == len(vocabulary)


def test_like_wildcards_in_q_are_taken_literally(client, vocabulary):
    assert client.get("/v1/taxonomy-terms", params={"q": "%"}).json()["total_items"] == 0
    assert client.get("/v1/taxonomy-terms", params={"q": "_"}).json()["total_items"] == 0


def test_unknown_term_and_taxonomy_are_404(client, vocabulary):
    missing = "00000000-0000-4000-8000-000000000000"
    assert client.get(f"/v1/taxonomy-terms/{missing}").status_code == 404
    assert client.get(f"/v1/taxonomies/{missing}").status_code == 404
