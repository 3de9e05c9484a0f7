"""A directory made through the API, for the Open Referral feed and import tests."""

from tests.factories import create_activity, create_organisation, create_venue


def build_directory(client, terms):
    """Listings made through the API: three published organisations with seven live
    activities (fees, terms, venues, schedules at venues), and what must stay out of the
    feed: a draft organisation's activity, an archived activity, an archived venue."""
    made: dict = {"public": [], "hidden": []}
    charity = create_organisation(
        client, status="published", charity_number="1187654", areas_served=["Bristol", "BS5"]
    )
    plain = create_organisation(client, status="published", website="https://walks.example.org")
    third = create_organisation(client, status="published")
    draft = create_organisation(client)
    hall = create_venue(client, accessibility=["step_free_access"], county="Bristol")
    far = create_venue(client, postcode="LS1 4AP", city="Leeds")
    gone = create_venue(client)
    made.update(charity=charity, plain=plain, draft=draft, hall=hall, far=far, gone=gone)
    made["choir"] = create_activity(
        client,
        charity["id"],
        name="Community Choir",
        description="Singing together on Tuesdays",
        venue_ids=[hall["id"]],
        term_ids=[terms["music-and-singing"], terms["social-isolation"]],
        schedules=[
            {
                "freq": "WEEKLY",
                "byday": "TU",
                "opens_at": "10:00",
                "closes_at": "12:00",
                "venue_id": hall["id"],
            }
        ],
        cost_type="fee",
        cost_amount="2.50",
        cost_description="£2.50 a session",
        url="https://choir.example.org",
        email="choir@example.org",
        minimum_age=18,
    )
    made["walk"] = create_activity(
        client,
        plain["id"],
        name="Leeds Walk",
        venue_ids=[far["id"]],
        term_ids=[terms["walking-and-physical-activity"]],
    )
    made["public"] += [made["choir"], made["walk"]]
    for n in range(5):
        org = (charity, plain, third)[n % 3]
        made["public"].append(
            create_activity(client, org["id"], name=f"Group {n}", venue_ids=[hall["id"]])
        )
    made["hidden"].append(create_activity(client, draft["id"], name="Draft Group"))
    archived = create_activity(client, third["id"], name="Ended Group")
    archive = client.post(f"/v1/activities/{archived['id']}/archive")
    assert archive.status_code == 200, archive.text
    made["hidden"].append(archived)
    linked_gone = create_activity(client, third["id"], name="Moved Group", venue_ids=[gone["id"]])
    made["public"].append(linked_gone)
    gone_archive = client.post(f"/v1/venues/{gone['id']}/archive")
    assert gone_archive.status_code == 200, gone_archive.text
    return made
