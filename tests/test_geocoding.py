"""Every venue is on the map: placed by its postcode when entered, by hand when its keeper
sends coordinates, and moved up to postcode precision when the postcode table arrives."""

import uuid

import pytest
from sqlalchemy import select, text
from typer.testing import CliRunner

from app.accounts.models import GlobalRole
from app.cli import cli
from app.core.config import get_settings
from app.core.db import get_engine
from app.core.migrations import downgrade
from app.geo import service as geo
from app.geo.models import Postcode
from app.geo.outcodes import centroid
from app.search.models import ActivityPlace
from app.vocabulary.seed import seed_vocabulary
from tests.factories import create_activity, create_organisation, create_venue, patch, venue_body

BS5 = centroid("BS5")
EASTON = (51.46321, -2.56112)  # a made-up full-postcode position inside BS5


def _search(client, **params):
    response = client.get("/v1/referral-options", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_listing_entered_through_the_api_is_found_near_its_postcode(client, as_role):
    organisation = create_organisation(client, status="published")
    venue = create_venue(client, postcode="bs5 6aw")
    assert (venue["latitude"], venue["longitude"]) == (BS5.latitude, BS5.longitude)
    assert venue["location_precision"] == "outcode"
    activity = create_activity(client, organisation["id"], venue_ids=[venue["id"]])

    found = _search(as_role(GlobalRole.link_worker), postcode="BS5 6AW", radius_km=5)

    assert [o["activity"]["id"] for o in found["contents"]] == [activity["id"]]
    assert found["contents"][0]["distance_km"] == 0
    assert found["contents"][0]["nearest_venue"]["location_precision"] == "outcode"


def test_the_full_postcode_table_places_a_venue_exactly(client, session):
    session.add(
        Postcode(postcode="BS5 6AW", outcode="BS5", latitude=EASTON[0], longitude=EASTON[1])
    )
    session.commit()
    venue = create_venue(client, postcode="BS56AW")
    assert (venue["latitude"], venue["longitude"], venue["location_precision"]) == (
        *EASTON,
        "postcode",
    )


def test_coordinates_sent_by_hand_win_and_survive_edits_until_the_postcode_changes(client):
    venue = create_venue(client, latitude=51.4601, longitude=-2.5402)
    assert venue["location_precision"] == "manual"
    path = f"/v1/venues/{venue['id']}"

    renamed = patch(
        client, path, {"name": "Easton Hall", "latitude": 51.4601, "longitude": -2.5402}
    )
    assert (renamed.json()["latitude"], renamed.json()["location_precision"]) == (51.4601, "manual")

    moved = patch(client, path, {"postcode": "BS8 1AA"}).json()
    bs8 = centroid("BS8")
    assert (moved["latitude"], moved["longitude"], moved["location_precision"]) == (
        bs8.latitude,
        bs8.longitude,
        "outcode",
    )

    placed = patch(client, path, {"latitude": 51.4545, "longitude": -2.6201}).json()
    assert placed["location_precision"] == "manual"
    cleared = patch(client, path, {"latitude": None, "longitude": None}).json()
    assert (cleared["latitude"], cleared["location_precision"]) == (bs8.latitude, "outcode")


def test_sending_back_the_coordinates_read_keeps_the_venue_placed_by_postcode(client):
    venue = create_venue(client)
    body = {k: venue[k] for k in ("name", "latitude", "longitude", "postcode")}
    again = patch(client, f"/v1/venues/{venue['id']}", {**body, "name": "Renamed"}).json()
    assert again["location_precision"] == "outcode"


@pytest.mark.parametrize(
    "latitude, longitude",
    [
        (-2.5499, 51.4614),  # swapped
        (51.4614, 2.5499),  # lost minus sign
        (0, 0),
        (48.8566, 2.3522),  # Paris
        (53.3498, -6.2603),  # Dublin
    ],
)
def test_coordinates_far_from_the_postcode_are_refused(client, latitude, longitude):
    response = client.post("/v1/venues", json=venue_body(latitude=latitude, longitude=longitude))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == "body.latitude"
    assert "UK" in response.json()["errors"][0]["message"]
    assert client.get("/v1/venues").json()["total_items"] == 0

    venue = create_venue(client)
    moved = patch(
        client, f"/v1/venues/{venue['id']}", {"latitude": latitude, "longitude": longitude}
    )
    assert moved.status_code == 422
    assert client.get(f"/v1/venues/{venue['id']}").json()["latitude"] == venue["latitude"]


def test_a_postcode_in_no_known_outcode_is_refused(client):
    response = client.post("/v1/venues", json=venue_body(postcode="ZZ99 9ZZ"))
    assert response.status_code == 422
    error = response.json()["errors"][0]
    assert (error["field"], error["type"]) == ("body.postcode", "unknown_postcode")
    assert client.get("/v1/venues").json()["total_items"] == 0

    venue = create_venue(client)
    moved = patch(client, f"/v1/venues/{venue['id']}", {"postcode": "ZZ99 9ZZ"})
    assert moved.status_code == 422
    assert moved.json()["errors"][0]["field"] == "body.postcode"
    assert client.get(f"/v1/venues/{venue['id']}").json()["postcode"] == "BS5 6AW"


def test_import_postcodes_moves_outcode_venues_to_their_postcode(client, session, tmp_path):
    organisation = create_organisation(client, status="published")
    by_outcode = create_venue(client, postcode="BS5 6AW")
    by_hand = create_venue(client, postcode="BS5 6AW", latitude=51.47, longitude=-2.55)
    activity = create_activity(client, organisation["id"], venue_ids=[by_outcode["id"]])
    onspd = tmp_path / "onspd.csv"
    onspd.write_text(f"pcds,lat,long,doterm\nBS5 6AW,{EASTON[0]},{EASTON[1]},\n")

    result = CliRunner().invoke(cli, ["import-postcodes", str(onspd)])

    assert result.exit_code == 0, result.output
    assert "1 venues placed at their postcode" in result.output
    upgraded = client.get(f"/v1/venues/{by_outcode['id']}").json()
    assert (upgraded["latitude"], upgraded["longitude"], upgraded["location_precision"]) == (
        *EASTON,
        "postcode",
    )
    kept = client.get(f"/v1/venues/{by_hand['id']}").json()
    assert (kept["latitude"], kept["location_precision"]) == (51.47, "manual")
    session.expire_all()
    place = session.scalars(
        select(ActivityPlace).where(ActivityPlace.activity_id == uuid.UUID(activity["id"]))
    ).one()
    assert (place.latitude, place.longitude) == EASTON  # the search follows


def test_migration_places_venues_that_existed_before_it(client, session):
    """On SQLite the migration rebuilds tables that others refer to (venue, taxonomy_term):
    nothing that refers to them may be lost on the way."""
    need = str(seed_vocabulary(session)["social-isolation"].id)
    session.commit()
    organisation = create_organisation(client, status="published")
    venue = create_venue(client, postcode="BS5 6AW")
    activity = create_activity(client, organisation["id"], venue_ids=[venue["id"]], term_ids=[need])
    url = get_settings().database_url
    engine = get_engine()
    downgrade(url, "0008_hardening")
    with engine.begin() as connection:  # as API-made venues were before: no coordinates
        connection.execute(text("UPDATE venue SET latitude = NULL, longitude = NULL"))
        connection.execute(text("DELETE FROM activity_place"))
    engine.dispose()
    migrated = CliRunner().invoke(cli, ["migrate"])  # as a deployment upgrades
    assert migrated.exit_code == 0, migrated.output
    engine.dispose()

    placed = client.get(f"/v1/venues/{venue['id']}").json()
    assert (placed["latitude"], placed["location_precision"]) == (BS5.latitude, "outcode")
    found = client.get(
        "/v1/referral-options", params={"postcode": "BS5 6AW", "radius_km": 5, "need": "lonely"}
    )
    assert [o["activity"]["id"] for o in found.json()["contents"]] == [activity["id"]]
    kept = client.get(f"/v1/activities/{activity['id']}").json()
    assert ([v["id"] for v in kept["venues"]], [t["id"] for t in kept["terms"]]) == (
        [venue["id"]],
        [need],
    )


def test_a_worker_remembers_a_bounded_number_of_placed_postcodes(session, monkeypatch):
    """Each worker remembers where the postcodes it was asked about lie, up to a limit (its
    memory counts against #14's budget per worker); then it starts afresh."""
    monkeypatch.setattr(geo, "_PLACED_MAX", 3)
    geo.forget_placed()
    asked = ["BS5 6AW", "BS5 6AX", "BS5 6AY", "BS5 6AZ", "BS5 6BA"]
    sizes = []
    for postcode in asked:
        geo.resolve_postcode(session, postcode)
        sizes.append(len(geo._placed_cache))
    geo.forget_placed()
    assert max(sizes) == 3
    assert sizes == [1, 2, 3, 1, 2]
