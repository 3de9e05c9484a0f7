"""Take-away summaries (issue #19): what the person is given, in plain words, as text,
HTML, PDF and a 160-character SMS, with nothing about them unless the link worker asks
for their first name."""

import io
import logging

import pytest
import textstat
from pypdf import PdfReader
from sqlmodel import func, select

from app.audit.models import AuditEntry
from tests.factories import create_activity, create_organisation, create_venue, patch
from tests.referral_world import build_world


@pytest.fixture
def world(session, client):
    w = build_world(session, client)
    venue = create_venue(
        client, name="Easton Community Centre", accessibility=["step_free_access", "hearing_loop"]
    )
    w.activity = create_activity(
        client,
        w.organisation["id"],
        name="Walk and Talk",
        description="A gentle walk in the park with a cup of tea after. Everyone is welcome.",
        access_modes=["referral"],
        venue_ids=[venue["id"]],
        phone="0117 496 0321",
        cost_type="donation",
        schedules=[{"freq": "WEEKLY", "byday": "TU", "opens_at": "10:00", "closes_at": "12:00"}],
    )
    return w


def test_the_summary_says_what_where_when_and_who_in_plain_words(world, searcher):
    path = f"/v1/referral-options/{world.activity['id']}/summary"
    text = searcher.get(path)
    assert text.status_code == 200
    assert text.headers["content-type"].startswith("text/plain")
    body = text.text
    for expected in (
        "Walk and Talk",
        "Easton Community Centre",
        "BS5 6AW",
        "Tuesday",
        "10am to 12 noon",
        "Phone: 0117 496 0321",
        "No steps to get in.",
        "There is a hearing loop.",
        "You can give money if you want to.",
    ):
        assert expected in body, expected
    # Reading age about 9: Flesch reading ease of 70 or more, short sentences.
    prose = " ".join(line for line in body.splitlines() if not line.startswith(("Phone", "Web")))
    assert textstat.flesch_reading_ease(prose) >= 70
    assert textstat.avg_sentence_length(prose) <= 12

    html = searcher.get(path, headers={"Accept": "text/html"})
    assert html.headers["content-type"].startswith("text/html")
    assert '<html lang="en">' in html.text and "<h1>Walk and Talk</h1>" in html.text

    pdf = searcher.get(path, params={"format": "pdf"})
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-") and len(pdf.content) > 500

    sms = searcher.get(path, params={"format": "sms"}).text
    assert len(sms) <= 160
    assert sms.startswith("Walk and Talk.") and sms.endswith("Call 0117 496 0321")


def _pdf_text(response) -> str:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)


@pytest.mark.parametrize(
    "name, shown",
    [
        ("Walk and Talk", "Walk and Talk"),  # Latin-1: the built-in font, as before
        ("Klub Polski \N{EN DASH} spotkania w Łodzi", "Klub Polski \N{EN DASH} spotkania w Łodzi"),
        ("Українська громада Бристоля", "Українська громада Бристоля"),
        ("Cân a Chwŵps", "Cân a Chwŵps"),
        ("আড্ডা Adda club", "????? Adda club"),  # Bengali: beyond the font, never a 500
    ],
)
def test_the_pdf_shows_names_beyond_latin_1(world, client, searcher, name, shown):
    """The PDF's built-in font holds Latin-1 only, so "Łodzi" and every Cyrillic name came
    out as "?". A summary that needs more is set in DejaVu Sans, shipped with the app."""
    activity = world.activity
    changed = patch(client, f"/v1/activities/{activity['id']}", {"name": name})
    assert changed.status_code == 200, changed.text
    missing = []
    handler = logging.Handler()
    handler.emit = missing.append
    logging.getLogger("fpdf").addHandler(handler)
    try:
        path = f"/v1/referral-options/{activity['id']}/summary"
        pdf = searcher.get(path, params={"format": "pdf"})
    finally:
        logging.getLogger("fpdf").removeHandler(handler)
    text = _pdf_text(pdf)
    assert shown in text
    assert "Easton Community Centre" in text
    assert (b"DejaVu" in pdf.content) == (name != "Walk and Talk")
    assert missing == []  # nothing of a name in the logs


@pytest.mark.parametrize(
    "name, limit",
    [
        ("Walk and Talk", 160),
        ("Walk and Talk for everyone who lives in Easton, Lawrence Hill and St Pauls", 160),
        ("Klub Polski \N{EN DASH} spotkania w Łodzi", 70),
        ("Українська громада Бристоля", 70),
        ("Cân a Chwŵps", 70),
        ("আড্ডা Adda club", 70),
    ],
)
def test_the_sms_is_one_message_whatever_the_name(world, client, searcher, name, limit):
    """An SMS holds 160 characters of the GSM alphabet, but only 70 once any character is
    outside it (then the whole message goes as UCS-2). The 160-character form cut long
    ones with "…" (not GSM: three messages) and sent Polish or Ukrainian names as three."""
    activity = world.activity
    changed = patch(client, f"/v1/activities/{activity['id']}", {"name": name})
    assert changed.status_code == 200, changed.text
    sms = searcher.get(
        f"/v1/referral-options/{activity['id']}/summary", params={"format": "sms"}
    ).text
    assert len(sms.encode("utf-16-le")) // 2 <= limit, sms
    assert sms.endswith("Call 0117 496 0321")
    assert "…" not in sms
    if limit == 160:
        assert sms.isascii()  # these words are all in the GSM alphabet
        assert sms.startswith(name)


def test_a_referrals_summary_names_the_person_only_when_asked(world, session):
    referral = world.refer(activity_id=world.activity["id"])
    path = f"/v1/referrals/{referral['id']}/summary"
    plain = world.link_worker.get(path).text
    assert "Sam" not in plain and "07700" not in plain and "LW-2291" not in plain
    reads = session.exec(select(func.count()).where(AuditEntry.action == "read")).one()
    named = world.link_worker.get(path, params={"name": "true"}).text
    assert named.startswith("Hello Sam.")
    session.expire_all()
    assert session.exec(select(func.count()).where(AuditEntry.action == "read")).one() == reads + 1
    # Only those who may read the referral get its summary.
    assert world.other_link_worker.get(path).status_code == 404


def test_an_unknown_or_hidden_option_has_no_summary(world, searcher, client):
    draft = create_organisation(client)
    hidden = create_activity(client, draft["id"], name="Not yet listed")
    assert searcher.get(f"/v1/referral-options/{hidden['id']}/summary").status_code == 404
    assert (
        searcher.get(
            "/v1/referral-options/8f2b1c3d-4e5f-4a6b-9c7d-0e1f2a3b4c5d/summary"
        ).status_code
        == 404
    )
