"""A take-away summary of an activity for the person referred: what it is, where, when
next, how to get there, who to contact, whether it is step-free, what it costs. Plain
words and short sentences (reading age about 9; ``tests/test_summaries.py`` measures it),
as text, HTML, PDF, or one SMS (160 characters, or 70 when a word needs more than the GSM
alphabet). It carries nothing about the person unless the link worker asks for their first
name on it.
"""

import functools
import html
import io
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Header, Query, Response
from sqlmodel import Session

from app.capacity.models import ActivityCapacity
from app.core.errors import NotFound
from app.core.types import utcnow
from app.search.models import ActivityCardRecord
from app.search.schedule import CardSchedule, Closed, next_session, notices

UK = ZoneInfo("Europe/London")
# One SMS: 160 characters of the GSM 7-bit alphabet (those of GSM_EXTENDED count twice);
# a single character outside it sends the whole message as UCS-2, where one holds 70.
SMS_LIMIT = 160
SMS_LIMIT_UCS2 = 70
GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENDED = frozenset("^{}\\[~]|€\f")
FEATURES = {
    "step_free_access": "No steps to get in.",
    "wheelchair_accessible_toilet": "There is a toilet for wheelchair users.",
    "hearing_loop": "There is a hearing loop.",
    "parking": "There is parking.",
    "blue_badge_parking": "There is Blue Badge parking.",
    "near_public_transport": "A bus or train stop is close by.",
    "lift": "There is a lift.",
    "quiet_space": "There is a quiet room.",
    "baby_changing": "There is a baby changing room.",
    "assistance_dogs_welcome": "Assistance dogs are welcome.",
}
REMOTE = {
    "phone": "It is on the phone. They will call you.",
    "online": "It is online. You join from home.",
    "home_visit": "Someone comes to your home.",
}


@dataclass
class Summary:
    title: str
    provider: str
    about: str
    where: list[str]
    when: str | None
    getting_there: list[str]
    contact: list[str]
    cost: str
    closed: list[str]
    greeting: str | None = None


def _clock(value: datetime) -> str:
    hour = value.hour % 12 or 12
    minutes = f":{value.minute:02d}" if value.minute else ""
    suffix = "am" if value.hour < 12 else "pm"
    if value.hour == 12 and not value.minute:
        return "12 noon"
    return f"{hour}{minutes}{suffix}"


def _when(card: dict[str, Any], closed: Closed, now: datetime) -> str | None:
    upcoming = next_session(
        [CardSchedule.from_card(s) for s in card["schedules"]], now, None, (None, None), closed
    )
    if upcoming is None:
        return None
    starts = upcoming.starts_at.astimezone(UK)
    ends = upcoming.ends_at.astimezone(UK)
    return f"{starts:%A} {starts.day} {starts:%B}, {_clock(starts)} to {_clock(ends)}."


def _cost(card: dict[str, Any]) -> str:
    if card["cost_type"] == "free":
        return "It is free."
    if card["cost_type"] == "donation":
        return "You can give money if you want to. You do not have to."
    amount = card["cost_amount"]
    text = f"It costs £{amount}." if amount else "There is a cost. Ask them how much."
    return text + (f" {card['concessions']}" if card["concessions"] else "")


def _first_sentence(text: str, limit: int = 160) -> str:
    sentence = text.strip().split(". ")[0].strip()
    sentence = sentence if len(sentence) <= limit else sentence[: limit - 1].rsplit(" ", 1)[0]
    return sentence.rstrip(".") + "." if sentence else ""


def build(
    session: Session, activity_id, first_name: str | None = None, now: datetime | None = None
) -> Summary:
    record = session.get(ActivityCardRecord, activity_id)
    if record is None:
        raise NotFound(f"No activity with id {activity_id}")
    card = record.card
    now = now or utcnow()
    closed = Closed.of(card, session.get(ActivityCapacity, activity_id), now)
    live = set(card["live_venue_ids"])
    venues = [v for v in card["venues"] if v["id"] in live]
    provider = card["provider"]
    where = [f"{v['name']}, {v['address_1']}, {v['city']} {v['postcode']}." for v in venues[:1]]
    if not venues:
        where = [REMOTE[m] for m in card["delivery_modes"] if m in REMOTE][:1] or [
            "Ask them where it is."
        ]
    features = venues[0]["accessibility"] if venues else []
    phone = card["phone"] or provider["phone"]
    contact = [f"Phone: {phone}"] if phone else []
    if card["email"]:
        contact.append(f"Email: {card['email']}")
    website = card["url"] or provider["website"]
    if website:
        contact.append(f"Website: {website}")
    return Summary(
        title=card["name"],
        provider=provider["name"],
        about=_first_sentence(card["description"]),
        where=where,
        when=_when(card, closed, now),
        closed=[
            n["summary"] + "."
            for n in notices(closed, [CardSchedule.from_card(s) for s in card["schedules"]], now)
        ],
        getting_there=[FEATURES[f] for f in features if f in FEATURES],
        contact=contact,
        cost=_cost(card),
        greeting=f"Hello {first_name}." if first_name else None,
    )


def as_text(summary: Summary) -> str:
    parts = [summary.greeting] if summary.greeting else []
    parts += [
        f"{summary.title}",
        f"Run by {summary.provider}.",
        summary.about,
        "",
        "Where: " + " ".join(summary.where),
        "When: " + (summary.when or "Ask them when it is on."),
        *summary.closed,
        summary.cost,
    ]
    if summary.getting_there:
        parts += ["", "Getting there:", *summary.getting_there]
    if summary.contact:
        parts += ["", "Who to contact:", *summary.contact]
    return "\n".join(p for p in parts if p is not None).strip() + "\n"


def as_html(summary: Summary) -> str:
    e = html.escape
    items = "".join(f"<li>{e(line)}</li>" for line in summary.getting_there)
    contact = "".join(f"<li>{e(line)}</li>" for line in summary.contact)
    greeting = f"<p>{e(summary.greeting)}</p>" if summary.greeting else ""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{e(summary.title)}</title></head><body>"
        f"{greeting}<h1>{e(summary.title)}</h1><p>Run by {e(summary.provider)}.</p>"
        f"<p>{e(summary.about)}</p>"
        f"<h2>Where</h2><p>{e(' '.join(summary.where))}</p>"
        f"<h2>When</h2><p>{e(summary.when or 'Ask them when it is on.')}</p>"
        + "".join(f"<p>{e(line)}</p>" for line in summary.closed)
        + f"<p>{e(summary.cost)}</p>"
        + (f"<h2>Getting there</h2><ul>{items}</ul>" if items else "")
        + (f"<h2>Who to contact</h2><ul>{contact}</ul>" if contact else "")
        + "</body></html>"
    )


def fits_one_sms(text: str) -> bool:
    """Whether ``text`` goes as one SMS, in GSM 7-bit or, failing that, UCS-2."""
    if all(c in GSM_BASIC or c in GSM_EXTENDED for c in text):
        return len(text) + sum(c in GSM_EXTENDED for c in text) <= SMS_LIMIT
    return len(text.encode("utf-16-le")) // 2 <= SMS_LIMIT_UCS2


def as_sms(summary: Summary) -> str:
    """One SMS (160 characters, or 70 when a name needs more than the GSM alphabet): what,
    when, where, and a phone number if there is one."""
    phone = next((c.split(": ", 1)[1] for c in summary.contact if c.startswith("Phone")), None)
    pieces = [summary.title, summary.when or "", " ".join(summary.where)]
    tail = f" Call {phone}" if phone else ""
    text = " ".join(p.rstrip(".") + "." for p in pieces if p)
    whole, end = text + tail, len(text)
    while end and not fits_one_sms(whole):  # cut the words, never the phone number
        end -= 1
        whole = text[:end].rstrip() + "..." + tail
    return whole


# For names and places beyond Latin-1 (Polish, Welsh, Romanian, Ukrainian, Greek…): DejaVu
# Sans, shipped with the app (fonts/LICENSE). Embedding it makes a PDF about 15 times
# slower to build (about 150 ms), so a summary that Latin-1 can write uses the built-in
# Helvetica, as before.
FONTS = Path(__file__).with_name("fonts")
UNICODE_FONT = {"": FONTS / "DejaVuSans.ttf", "B": FONTS / "DejaVuSans-Bold.ttf"}


def _plain(text: str) -> str:
    return text.replace("…", "...").replace("\N{EN DASH}", "-")


def _latin(text: str) -> bool:
    try:
        _plain(text).encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


@functools.cache
def _drawable() -> frozenset[int]:
    """The characters both weights of the Unicode font can draw."""
    from fontTools.ttLib import TTFont

    maps = [set(TTFont(path, lazy=True).getBestCmap()) for path in UNICODE_FONT.values()]
    return frozenset(set.intersection(*maps))


def _in_font(text: str) -> str:
    """``text`` with what the font cannot draw as "?" (the PDF library would log each
    missing character, and a summary may hold the person's name)."""
    drawable = _drawable()
    return "".join(c if ord(c) in drawable else "?" for c in text)


def as_pdf(summary: Summary) -> bytes:
    from fpdf import FPDF

    lines = [line for line in as_text(summary).splitlines() if line != summary.title]
    pdf = FPDF(format="A4")
    if all(_latin(text) for text in (summary.title, *lines)):
        family, fit = "Helvetica", _plain
    else:
        for style, path in UNICODE_FONT.items():
            pdf.add_font("DejaVu", style, str(path))
        family, fit = "DejaVu", _in_font
    pdf.set_title(fit(summary.title))
    pdf.set_creation_date(datetime(2000, 1, 1, tzinfo=UK))  # no clock in the file
    pdf.add_page()
    pdf.set_font(family, "B", 20)
    pdf.multi_cell(0, 10, fit(summary.title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, size=14)
    for line in lines:  # the title is the heading
        pdf.multi_cell(0, 8, fit(line) or " ", new_x="LMARGIN", new_y="NEXT")
    buffer = io.BytesIO()
    pdf.output(buffer)
    return buffer.getvalue()


class SummaryFormat(StrEnum):
    text = "text"
    html = "html"
    pdf = "pdf"
    sms = "sms"


MEDIA = {
    SummaryFormat.text: "text/plain; charset=utf-8",
    SummaryFormat.html: "text/html; charset=utf-8",
    SummaryFormat.pdf: "application/pdf",
    SummaryFormat.sms: "text/plain; charset=utf-8",
}
RESPONSES = {
    200: {
        "content": {
            "text/plain": {"schema": {"type": "string"}},
            "text/html": {"schema": {"type": "string"}},
            "application/pdf": {"schema": {"type": "string", "format": "binary"}},
        },
        "description": "The summary as text, HTML, PDF or an SMS (text that fits one message)",
    }
}


async def summary_format(
    format_: Annotated[
        SummaryFormat | None,
        Query(
            alias="format",
            description="text (default), html, pdf or sms (one text message: 160 "
            "characters, or 70 with letters outside the GSM alphabet); or send "
            "Accept: text/html or application/pdf",
        ),
    ] = None,
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> SummaryFormat:
    if format_ is not None:
        return format_
    for media, chosen in (
        ("application/pdf", SummaryFormat.pdf),
        ("text/html", SummaryFormat.html),
    ):
        if accept and media in accept:
            return chosen
    return SummaryFormat.text


def respond(summary: Summary, fmt: SummaryFormat) -> Response:
    body: str | bytes = {
        SummaryFormat.text: as_text,
        SummaryFormat.html: as_html,
        SummaryFormat.pdf: as_pdf,
        SummaryFormat.sms: as_sms,
    }[fmt](summary)
    headers = {"Cache-Control": "no-store"}
    if fmt is SummaryFormat.pdf:
        headers["Content-Disposition"] = 'inline; filename="summary.pdf"'
    return Response(body, media_type=MEDIA[fmt], headers=headers)
