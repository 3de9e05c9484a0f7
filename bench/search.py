"""Referral-options search at national scale, on PostgreSQL.

1. Builds (once; reused while its size matches) a synthetic national directory in its own
   database: 50,000 organisations, 100,000 venues over real English outcodes, 200,000
   activities with schedules, terms and search documents; then rewrites its search tables
   with `signpost cluster-search`, as the nightly job leaves them (BENCH_CLUSTER).
2. Serves the API with uvicorn on a real socket and sends a fixed mix of searches.
3. Runs each search's SQL alone (the page statement the API runs, compiled once and sent
   straight through psycopg) next to the same search through the API, and through the
   least handler this stack allows (`bench/floor.py`: the same statement behind the same
   HTTP server, answering with its rows), for comparison.
4. Measures throughput at 1 and 8 concurrent clients (need + postcode alone three times) and
   each API worker's steady-state RSS, and appends everything to bench/RESULTS.md.

Environment: BENCH_DATABASE_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/
signpost_bench), BENCH_PORT (8766), BENCH_ROUNDS (200 per query), BENCH_WORKERS (2),
BENCH_SCALE (1: the national sizes above; .ci/run uses a tiny fraction to prove it still
runs), BENCH_RESULTS (where to append; default bench/RESULTS.md), BENCH_CLUSTER (1: first
rewrite the search tables with `signpost cluster-search`, as a nightly job leaves them; 0:
measure them as last written). Any failed request makes the run exit non-zero.
"""

import json
import os
import pickle
import platform
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/signpost_bench"
)
os.environ["SIGNPOST_DATABASE_URL"] = DATABASE_URL
os.environ.setdefault("SIGNPOST_LOG_LEVEL", "WARNING")

PORT = int(os.environ.get("BENCH_PORT", "8766"))
FLOOR_PORT = PORT + 1  # bench/floor.py
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "200"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
SCALE = float(os.environ.get("BENCH_SCALE", "1"))
ORGANISATIONS, VENUES, ACTIVITIES = (max(20, int(n * SCALE)) for n in (50_000, 100_000, 200_000))
THROUGHPUT_REQUESTS = max(16, int(800 * min(SCALE, 1)))
RESULTS = Path(os.environ.get("BENCH_RESULTS", ROOT / "bench" / "RESULTS.md"))
CLUSTER = os.environ.get("BENCH_CLUSTER", "1") != "0"

from sqlalchemy import func, select  # noqa: E402
from sqlalchemy.dialects import postgresql  # noqa: E402
from sqlmodel import Session  # noqa: E402

import app.models  # noqa: E402, F401
from app.accounts.models import GlobalRole  # noqa: E402
from app.accounts.principal import SYSTEM  # noqa: E402
from app.accounts.schemas import ApiKeyCreate  # noqa: E402
from app.accounts.service import create_api_key  # noqa: E402
from app.activities.models import Activity  # noqa: E402
from app.assurance.models import AssuranceItem  # noqa: E402
from app.core.db import get_engine  # noqa: E402
from app.core.migrations import upgrade  # noqa: E402
from app.core.pagination import PageParams  # noqa: E402
from app.core.types import utcnow  # noqa: E402
from app.geo.outcodes import outcodes  # noqa: E402
from app.search import service as search_service  # noqa: E402
from app.search.indexing import delivery_mask, refresh_missing, weekday_mask  # noqa: E402
from app.search.models import CAPACITY_COPIED, FACET_FIELDS  # noqa: E402
from app.search.upkeep import cluster  # noqa: E402
from app.vocabulary.models import TermSynonym  # noqa: E402
from app.vocabulary.seed import CATEGORIES, NEEDS, seed_vocabulary  # noqa: E402

PLAIN_DSN = DATABASE_URL.replace("postgresql+psycopg://", "postgresql://")
ACCESSIBILITY = [
    "step_free_access",
    "wheelchair_accessible_toilet",
    "hearing_loop",
    "parking",
    "near_public_transport",
    "quiet_space",
]
WEEKDAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]


# --- the dataset --------------------------------------------------------------------------


def ensure_database() -> None:
    server = PLAIN_DSN.rsplit("/", 1)[0] + "/postgres"
    name = PLAIN_DSN.rsplit("/", 1)[1]
    with psycopg.connect(server, autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        if not exists.fetchone():
            connection.execute(f'CREATE DATABASE "{name}"')
    upgrade(DATABASE_URL)


def dataset_ready() -> bool:
    """The dataset is there and as complete as this version generates (a dataset from
    before assurance records is generated again)."""
    with Session(get_engine()) as session:
        activities = session.execute(select(func.count()).select_from(Activity)).scalar_one()
        assured = session.execute(select(func.count()).select_from(AssuranceItem)).scalar_one()
    return activities == ACTIVITIES and assured > 0


def generate() -> float:
    started = time.perf_counter()
    rng = random.Random(20261125)
    with psycopg.connect(PLAIN_DSN) as connection:
        connection.execute(
            "TRUNCATE organisation, venue, activity, schedule, activity_term, activity_venue, "
            "assurance_item, activity_capacity, "
            "activity_search, activity_facet, activity_place, search_log, membership, api_key, "
            "audit_entry CASCADE"
        )
        connection.commit()
    with Session(get_engine()) as session:
        terms = {code: term.id for code, term in seed_vocabulary(session).items()}
        session.commit()
        synonyms: dict[uuid.UUID, list[str]] = {}
        for term_id, text in session.execute(select(TermSynonym.term_id, TermSynonym.text)):
            synonyms.setdefault(term_id, []).append(text)
    categories = [code for code in CATEGORIES if code != "advice"]
    need_for = {
        code: [n for n, (_, _, cats) in NEEDS.items() if code in cats] for code in categories
    }
    england = [outcodes()[code] for code in ENGLAND_CODES]
    now = utcnow()

    org_ids = [uuid.uuid4() for _ in range(ORGANISATIONS)]
    org_names = [f"{rng.choice(PLACES)} {rng.choice(ORG_WORDS)} {n}" for n in range(ORGANISATIONS)]
    venue_rows = []
    for n in range(VENUES):
        area = rng.choice(england)
        venue_id = uuid.uuid4()
        venue_rows.append(
            (
                venue_id,
                f"{area.town or area.code} Hall {n}",
                "",
                f"{n} High Street",
                None,
                area.town or "Town",
                None,
                f"{area.code} 1AA",
                area.latitude + rng.uniform(-0.02, 0.02),
                area.longitude + rng.uniform(-0.03, 0.03),
                json.dumps(rng.sample(ACCESSIBILITY, rng.randint(0, 3))),
                "",
                area.code,
                now,
                now,
                None,
                None,
                1,
            )
        )
    org_rows = [
        (
            org_ids[n],
            org_names[n],
            "A community organisation.",
            None,
            None,
            None,
            None,
            None,
            None,
            rng.choice(["charity", "cic", "community_group", "social_enterprise"]),
            json.dumps([]),
            "published" if rng.random() < 0.95 else "draft",
            now,
            now,
            None,
            now if rng.random() < 0.3 else None,
            None,
            1,
        )
        for n in range(ORGANISATIONS)
    ]
    activity_rows, schedule_rows, term_rows, venue_links, documents = [], [], [], [], []
    facet_rows, places = [], []
    for n in range(ACTIVITIES):
        activity_id = uuid.uuid4()
        org = rng.randrange(ORGANISATIONS)
        category = rng.choice(categories)
        name, _, _ = CATEGORIES[category]
        roll = rng.random()
        delivery = ["in_person"] if roll < 0.85 else (["online"] if roll < 0.95 else ["phone"])
        cost = rng.choices(["free", "donation", "fee"], [50, 25, 25])[0]
        minimum_age = rng.choice([None, None, 16, 18, 18, 55, 60])
        access = rng.choice([["drop_in"], ["referral"], ["referral", "drop_in"], ["appointment"]])
        title = f"{name} session {n}"
        status = "active" if rng.random() < 0.95 else "temporarily closed"
        confirmed = now - timedelta(days=rng.randint(0, 400))
        amount = round(rng.uniform(1, 8), 2) if cost == "fee" else None
        description = f"{rng.choice(DESCRIPTIONS)} Run by {org_names[org]}."
        activity_rows.append(
            (
                activity_id,
                title,
                description,
                status,
                "",
                minimum_age,
                None,
                "",
                "Not a crisis service",
                json.dumps(delivery),
                json.dumps(access),
                cost,
                amount,
                "",
                "",
                json.dumps(
                    ["en"] if rng.random() < 0.9 else ["en", rng.choice(["pl", "ur", "so"])]
                ),
                rng.choice(["commissioned", "grant", "unfunded", None]),
                None,
                None,
                None,
                org_ids[org],
                confirmed,
                now,
                now,
                None,
                1,
            )
        )
        if rng.random() < 0.8:
            freq, token = "WEEKLY", rng.choice(WEEKDAYS)
        else:
            freq, token = "MONTHLY", f"{rng.choice([1, 2, 3, -1])}{rng.choice(WEEKDAYS)}"
        schedule_rows.append((uuid.uuid4(), activity_id, freq, 1, token, *_times(rng)))
        tags = [terms[category]]
        if need_for[category] and rng.random() < 0.5:
            tags.append(terms[rng.choice(need_for[category])])
        org_row = org_rows[org]
        facet_rows.append(
            (
                activity_id,
                title,
                org_row[11] == "published" and status == "active",
                None,  # assured_until: set from the assurance items below
                "referral" in access,
                minimum_age,
                None,
                weekday_mask([token[-2:]]),
                delivery_mask(delivery),
                {"free": 0, "donation": 1}.get(cost, 2 if amount and amount <= 5 else 3),
                confirmed,
                json.dumps(sorted(str(term_id) for term_id in tags)),
            )
        )
        term_rows += [(activity_id, term_id) for term_id in tags]
        if delivery == ["in_person"]:
            venue = venue_rows[rng.randrange(VENUES)]
            venue_links.append((activity_id, venue[0], uuid.uuid4()))
            places.append((activity_id, venue[0], venue[8], venue[9], venue[10]))
        words = [title, description, org_names[org]]
        for term_id in tags:
            words += synonyms.get(term_id, [])
        documents.append((activity_id, " ".join(words)))

    with psycopg.connect(PLAIN_DSN) as connection:
        _copy(connection, "organisation", ORG_COLUMNS, org_rows)
        _copy(connection, "venue", VENUE_COLUMNS, venue_rows)
        _copy(connection, "activity", ACTIVITY_COLUMNS, activity_rows)
        _copy(connection, "schedule", SCHEDULE_COLUMNS, schedule_rows)
        _copy(connection, "activity_term", ("activity_id", "term_id"), term_rows)
        _copy(connection, "activity_venue", ("activity_id", "venue_id", "id"), venue_links)
        _copy(connection, "activity_search", ("activity_id", "document"), documents)
        _copy(connection, "activity_facet", FACET_COLUMNS, facet_rows)
        # Places are written once the facets they carry a copy of are complete (below).
        connection.execute(
            "CREATE TEMP TABLE place_staging (activity_id uuid, venue_id uuid, "
            "latitude float8, longitude float8, accessibility jsonb)"
        )
        _copy(connection, "place_staging", PLACE_COLUMNS, places)
        # Capacity for every activity: mostly open, some counting places (a few full), 4%
        # paused and 6% running a waiting list.
        connection.execute(
            """
            INSERT INTO activity_capacity (activity_id, organisation_id, status, unit, maximum,
                available, waiting_list_length, weekly_referral_cap, when_full,
                release_places_on, pause_reason, pause_note, referrals_this_week, updated_at,
                version)
            SELECT id, organisation_id,
                CASE WHEN h < 4 THEN 'paused' WHEN h < 10 THEN 'waitlist' ELSE 'open' END,
                'places',
                CASE WHEN h % 3 = 0 THEN 12 END,
                CASE WHEN h % 3 = 0 THEN h % 13 END,
                CASE WHEN h < 10 THEN h ELSE 0 END,
                CASE WHEN h % 5 = 0 THEN 5 END,
                'waitlist',
                '["did_not_attend", "completed", "withdrawn"]'::jsonb,
                CASE WHEN h < 4 THEN 'staff_capacity' END,
                '', 0, updated_at, 1
            FROM (SELECT id, organisation_id, updated_at, abs(hashtext(id::text)::bigint) % 100 AS h
                  FROM activity) AS a
            """
        )
        # The organisations a steward verified (30%) get their three required assurance
        # items, verified; insurance lapses between 60 days ago and 400 days from now.
        for kind, facts, lapses in (
            ("safeguarding_policy", "has_policy, last_reviewed_on, review_due_on",
             "current_date + 265"),
            ("public_liability_insurance", "insurer, expires_on",
             "current_date + (abs(hashtext(id::text)::bigint) % 460)::int - 60"),
            ("ico_registration", "registration_number", "NULL"),
        ):  # fmt: skip
            values = {
                "safeguarding_policy": f"true, current_date - 100, {lapses}",
                "public_liability_insurance": f"'Community Mutual', {lapses}",
                "ico_registration": "'ZA123456'",
            }[kind]
            connection.execute(
                f"""
                INSERT INTO assurance_item (id, organisation_id, kind, {facts}, evidence_note,
                    lapses_on, review_status, submitted_at, updated_at, version)
                SELECT gen_random_uuid(), id, '{kind}', {values}, '', {lapses}, 'verified',
                    now(), now(), 1
                FROM organisation WHERE verified_at IS NOT NULL
                """
            )
        connection.execute(
            """
            UPDATE activity_facet AS f SET assured_until = a.until
            FROM activity AS t,
                 (SELECT organisation_id, min(coalesce(lapses_on, DATE '9999-12-31')) AS until
                  FROM assurance_item GROUP BY organisation_id) AS a
            WHERE t.id = f.activity_id AND t.organisation_id = a.organisation_id
            """
        )
        copied = ", ".join(f"capacity_{name} = c.{name}" for name in CAPACITY_COPIED)
        connection.execute(
            f"UPDATE activity_facet AS f SET {copied} FROM activity_capacity AS c "
            "WHERE c.activity_id = f.activity_id"
        )
        facets = ", ".join(f"f.{name}" for name in FACET_FIELDS)
        connection.execute(
            f"""
            INSERT INTO activity_place ({", ".join(PLACE_COLUMNS)}, {facets.replace("f.", "")}, tsv)
            SELECT {", ".join(f"p.{name}" for name in PLACE_COLUMNS)}, {facets}, s.tsv
            FROM place_staging AS p
            JOIN activity_facet AS f ON f.activity_id = p.activity_id
            JOIN activity_search AS s ON s.activity_id = p.activity_id
            """
        )
        connection.commit()
        connection.autocommit = True
        connection.execute("VACUUM ANALYZE")
    return time.perf_counter() - started


def _times(rng: random.Random):
    opens = rng.choice(range(9, 20))
    return (
        f"{opens:02d}:00",
        f"{opens + rng.choice([1, 2]):02d}:00",
        None,
        None,
        "",
        None,
    )


def _copy(connection, table: str, columns, rows) -> None:
    with connection.cursor().copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


PLACE_COLUMNS = ("activity_id", "venue_id", "latitude", "longitude", "accessibility")
ORG_COLUMNS = (
    "id",
    "name",
    "description",
    "website",
    "email",
    "phone",
    "charity_number",
    "company_number",
    "ico_registration",
    "legal_form",
    "areas_served",
    "status",
    "created_at",
    "updated_at",
    "archived_at",
    "verified_at",
    "verified_by_id",
    "version",
)
VENUE_COLUMNS = (
    "id",
    "name",
    "description",
    "address_1",
    "address_2",
    "city",
    "county",
    "postcode",
    "latitude",
    "longitude",
    "accessibility",
    "accessibility_notes",
    "outcode",
    "created_at",
    "updated_at",
    "archived_at",
    "managed_by_organisation_id",
    "version",
)
ACTIVITY_COLUMNS = (
    "id",
    "name",
    "description",
    "status",
    "eligibility_description",
    "minimum_age",
    "maximum_age",
    "suits",
    "does_not_suit",
    "delivery_modes",
    "access_modes",
    "cost_type",
    "cost_amount",
    "cost_description",
    "concessions",
    "languages",
    "funding_source",
    "url",
    "email",
    "phone",
    "organisation_id",
    "last_confirmed_at",
    "created_at",
    "updated_at",
    "archived_at",
    "version",
)
FACET_COLUMNS = (
    "activity_id",
    "name",
    "listed",
    "assured_until",
    "takes_referrals",
    "minimum_age",
    "maximum_age",
    "weekdays",
    "delivery",
    "cost_class",
    "last_confirmed_at",
    "term_ids",
)
SCHEDULE_COLUMNS = (
    "id",
    "activity_id",
    "freq",
    "interval",
    "byday",
    "opens_at",
    "closes_at",
    "valid_from",
    "valid_to",
    "description",
    "venue_id",
)
PLACES = ["Riverside", "Northgate", "Hillside", "Parkview", "Old Town", "Greenfield", "Harbour"]
ORG_WORDS = ["Community Trust", "Friends", "Wellbeing CIC", "Together", "Neighbours", "Network"]
DESCRIPTIONS = [
    "A friendly group for adults; beginners welcome.",
    "Relaxed sessions with tea and conversation.",
    "Supportive, small-group sessions led by trained volunteers.",
    "Open to everyone; come as you are.",
]


# --- the searches -------------------------------------------------------------------------

LOCATED = "need + postcode + radius"


def query_mix(rng: random.Random) -> dict[str, list[dict]]:
    picks = [rng.choice(ENGLAND_CODES) for _ in range(ROUNDS)]
    needs = ["lonely", "low mood", "anxiety", "physical inactivity", "bereavement"]
    words = ["singing", "walking", "gardening", "art", "friendly", "volunteers"]
    categories = ["walking-and-physical-activity", "music-and-singing", "arts-and-crafts"]
    return {
        LOCATED: [
            {"need": rng.choice(needs), "postcode": f"{code} 1AA", "radius_km": 5} for code in picks
        ],
        "text + outcode": [
            {"q": rng.choice(words), "postcode": code, "radius_km": 10} for code in picks
        ],
        "category + day + age": [
            {"category": rng.choice(categories), "day": rng.choice(WEEKDAYS), "age": 70}
            for _ in picks
        ],
        "assured + free + online": [
            {"assured_only": "true", "cost": "free", "delivery": "online"} for _ in picks
        ],
    }


def to_request(params: dict) -> search_service.SearchRequest:
    return search_service.SearchRequest(
        needs=[params["need"]] if "need" in params else [],
        categories=[params["category"]] if "category" in params else [],
        q=params.get("q"),
        postcode=params.get("postcode"),
        radius_km=params.get("radius_km", 10),
        age=params.get("age"),
        days=[params["day"]] if "day" in params else [],
        delivery=[params["delivery"]] if "delivery" in params else [],
        cost=search_service.CostFilter(params["cost"]) if "cost" in params else None,
        assured_only=params.get("assured_only") == "true",
    )


def compile_raw(mix) -> dict[str, list[tuple[str, dict, str, dict]]]:
    """The page SQL the API runs for each search (its window function also counts the
    matches), compiled once."""
    dialect = postgresql.psycopg.dialect()
    compiled = {}
    page = PageParams(page=1, per_page=20)
    with Session(get_engine()) as session:
        for label, searches in mix.items():
            compiled[label] = []
            for params in searches:
                planned = search_service.plan(session, to_request(params), utcnow())
                kept, values = search_service.page_statement(
                    planned, search_service.SearchSort.relevance, page
                )
                sql = kept.statement.params(values).compile(
                    dialect=dialect, compile_kwargs={"render_postcompile": True}
                )
                compiled[label].append((str(sql), sql.params))
    return compiled


def measure_side_by_side(client: httpx.Client, floor: httpx.Client, mix, compiled):
    """Each search three ways, one after the other: its page statement alone (sent straight
    through psycopg on a connection of its own, with the settings the application's
    connections have: no JIT), the same statement behind the least handler
    (`bench/floor.py`), and the search through the API; the three take turns at going
    first. All three see the machine as it is at that moment: on a shared VM its speed
    drifts within a run, and timing all the SQL first and all the API calls after made their
    ratio drift with it. Returns (API, SQL and least-handler samples, failed requests)."""
    api, raw, least, errors = {}, {}, {}, 0
    with psycopg.connect(PLAIN_DSN, options="-c jit=off") as connection:

        def run_raw(label: str, n: int) -> None:
            page_sql, page_params = compiled[label][n]
            started = time.perf_counter()
            connection.execute(page_sql, page_params).fetchall()
            raw[label].append((time.perf_counter() - started) * 1000)

        def run_least(label: str, n: int) -> None:
            nonlocal errors
            started = time.perf_counter()
            response = floor.get("/", params={"label": label, "n": n})
            least[label].append((time.perf_counter() - started) * 1000)
            errors += response.status_code != 200

        def run_api(label: str, n: int) -> None:
            nonlocal errors
            started = time.perf_counter()
            response = client.get("/v1/referral-options", params=mix[label][n])
            api[label].append((time.perf_counter() - started) * 1000)
            errors += response.status_code != 200

        ways = [run_raw, run_least, run_api]
        for label, searches in mix.items():
            api[label], raw[label], least[label] = [], [], []
            # Whichever goes later finds the pages the first read in memory: take turns.
            for n in range(len(searches)):
                for way in ways[n % 3 :] + ways[: n % 3]:
                    way(label, n)
    return api, raw, least, errors


def measure_floor(floor: httpx.Client, compiled) -> None:
    """Warm the least handler's workers up (their connections, PostgreSQL's plans)."""
    for label, pages in compiled.items():
        for n in range(len(pages)):
            floor.get("/", params={"label": label, "n": n}).raise_for_status()


def measure_api(client: httpx.Client, mix) -> tuple[dict[str, list[float]], int]:
    results, errors = {}, 0
    for label, searches in mix.items():
        samples = []
        for params in searches:
            started = time.perf_counter()
            response = client.get("/v1/referral-options", params=params)
            samples.append((time.perf_counter() - started) * 1000)
            errors += response.status_code != 200
        results[label] = samples
    return results, errors


def listing_requests(rng: random.Random) -> dict[str, list[str]]:
    """Anonymous listing pages (the first 50) and single activities, as a directory's
    public front end or a crawler asks for them; and the liveness probe, which touches
    nothing: the floor any request pays here (client, socket, server, middleware)."""
    with psycopg.connect(PLAIN_DSN) as connection:
        listed = [
            str(row[0])
            for row in connection.execute(
                "SELECT activity_id FROM activity_facet WHERE listed ORDER BY random() LIMIT %s",
                (ROUNDS,),
            )
        ]
    return {
        "GET /v1/activities?per_page=20 (anonymous)": [
            f"/v1/activities?per_page=20&page={rng.randint(1, 50)}" for _ in range(ROUNDS)
        ],
        "GET /v1/activities/{id} (anonymous)": [f"/v1/activities/{i}" for i in listed],
        "GET /healthz (the floor: no database)": ["/healthz"] * ROUNDS,
    }


def measure_paths(client: httpx.Client, requests: dict[str, list[str]]):
    results, errors = {}, 0
    for label, paths in requests.items():
        samples = []
        for path in paths:
            started = time.perf_counter()
            response = client.get(path)
            samples.append((time.perf_counter() - started) * 1000)
            errors += response.status_code != 200
        results[label] = samples
    return results, errors


def throughput(key: str, mix, clients: int) -> tuple[float, int]:
    """Searches per second through the API by ``clients`` at once, and the failures."""
    everything = [params for searches in mix.values() for params in searches]
    return _rate(
        PORT,
        {"X-API-Key": key},
        lambda n: ("/v1/referral-options", everything[n % len(everything)]),
        clients,
    )


def floor_throughput(pages: list, label: str, clients: int) -> tuple[float, int]:
    """The same through the least handler (`bench/floor.py`), over ``label``'s pages."""
    return _rate(FLOOR_PORT, {}, lambda n: ("/", {"label": label, "n": n % len(pages)}), clients)


def _rate(port: int, headers: dict, request, clients: int) -> tuple[float, int]:
    per_client = THROUGHPUT_REQUESTS // clients
    errors = 0
    lock = threading.Lock()

    def run(offset: int) -> None:
        nonlocal errors
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers) as c:
            for n in range(per_client):
                path, params = request(offset + n)
                if c.get(path, params=params).status_code != 200:
                    with lock:
                        errors += 1

    threads = [threading.Thread(target=run, args=(n * 97,)) for n in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return per_client * clients / (time.perf_counter() - started), errors


def worker_rss_mb(pid: int) -> list[float]:
    """Resident memory now (VmRSS, after the runs: steady state) of each worker process of
    the server ``pid`` (the master when it has no workers). Not VmHWM: each worker's
    start-up peak (hashing a dummy argon2 password, 64 MiB, given back at once) says
    nothing about what it holds while serving."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    pids = [
        int(p)
        for p in (children.read_text().split() if children.exists() else [])
        if b"resource_tracker" not in Path(f"/proc/{p}/cmdline").read_bytes()
    ]
    sizes = []
    for each in pids or [pid]:
        for line in Path(f"/proc/{each}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                sizes.append(int(line.split()[1]) / 1024)
    return sizes


def percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def build_read_model() -> float:
    """Cards and standings for whatever lacks them (all of a freshly generated dataset), as
    `signpost migrate` builds them."""
    started = time.perf_counter()
    with Session(get_engine()) as session:
        refresh_missing(session)
        session.commit()
    with psycopg.connect(PLAIN_DSN, autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE activity_card")
        connection.execute("VACUUM ANALYZE organisation_standing")
    return time.perf_counter() - started


@contextmanager
def served(command: list[str], port: int, ready: str, env: dict) -> Iterator[subprocess.Popen]:
    """``command`` (a server on ``port``) running, once ``ready`` (a path) answers 200."""
    server = subprocess.Popen(command, env=env, cwd=ROOT)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            for _ in range(300):
                try:
                    if client.get(ready).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
        yield server
    finally:
        server.terminate()
        server.wait(timeout=20)


def api_server():
    """The API served by uvicorn (``WORKERS`` workers) on ``PORT``, once it is ready."""
    return served(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(PORT), "--workers", str(WORKERS)],
        PORT,
        "/readyz",
        dict(os.environ),
    )


@contextmanager
def floor_server(compiled) -> Iterator[subprocess.Popen]:
    """`bench/floor.py` served like the API (uvicorn, ``WORKERS`` workers) on
    ``FLOOR_PORT``, answering with the pages of ``compiled``, once it is ready."""
    with tempfile.NamedTemporaryFile(suffix=".pickle") as pages:
        pages.write(pickle.dumps(compiled))
        pages.flush()
        with served(
            [
                *(sys.executable, "-m", "uvicorn", "bench.floor:app", "--lifespan", "off"),
                *("--no-access-log", "--port", str(FLOOR_PORT), "--workers", str(WORKERS)),
            ],
            FLOOR_PORT,
            "/?" + urlencode({"label": next(iter(compiled)), "n": 0}),
            {**os.environ, "BENCH_FLOOR_PAGES": pages.name, "BENCH_FLOOR_DSN": PLAIN_DSN},
        ) as server:
            yield server


def prepared_directory() -> tuple[float | None, float, float | None]:
    """The national directory, generated unless already there, with its read model, and
    (unless ``CLUSTER`` is off) its search tables as the nightly ``signpost cluster-search``
    leaves them: (seconds generating, or None when reused; seconds completing the read
    model; seconds clustering, or None)."""
    ensure_database()
    generated = None if dataset_ready() else generate()
    carded = build_read_model()
    if not CLUSTER:
        return generated, carded, None
    started = time.perf_counter()
    cluster(get_engine())
    return generated, carded, time.perf_counter() - started


def main() -> None:
    generated, carded, clustered = prepared_directory()
    with Session(get_engine()) as session:
        key = create_api_key(
            session, SYSTEM, ApiKeyCreate(name="bench", role=GlobalRole.link_worker)
        ).key
        session.commit()
    mix = query_mix(random.Random(7))
    compiled = compile_raw(mix)

    with floor_server(compiled), api_server() as server:
        with (
            httpx.Client(
                base_url=f"http://127.0.0.1:{PORT}", headers={"X-API-Key": key}, timeout=30
            ) as client,
            httpx.Client(base_url=f"http://127.0.0.1:{FLOOR_PORT}", timeout=30) as floor,
        ):
            measure_api(client, {k: v[:20] for k, v in mix.items()})  # warm up
            measure_floor(floor, {k: v[:20] for k, v in compiled.items()})
            api, raw, least, errors = measure_side_by_side(client, floor, mix, compiled)
        with httpx.Client(base_url=f"http://127.0.0.1:{PORT}", timeout=30) as anonymous:
            paths = listing_requests(random.Random(11))
            measure_paths(anonymous, {k: v[:20] for k, v in paths.items()})  # warm up
            listings, listing_errors = measure_paths(anonymous, paths)
            errors += listing_errors
        single, single_errors = throughput(key, mix, 1)
        eight, eight_errors = throughput(key, mix, 8)
        # The throughput target is for these; three runs, as one varies on a shared VM
        located = [throughput(key, {LOCATED: mix[LOCATED]}, 8) for _ in range(3)]
        least_located = floor_throughput(compiled[LOCATED], LOCATED, 8)
        rss = worker_rss_mb(server.pid)
    write(
        raw,
        api,
        least,
        listings,
        errors,
        (single, single_errors),
        (eight, eight_errors),
        located,
        least_located,
        rss,
        (generated, carded, clustered),
    )


def write(
    raw, api, least, listings, errors, single, eight, located, least_located, rss, prepared
) -> None:
    generated, carded, clustered = prepared
    lines = [
        f"\n## Referral-options search, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"Machine: {platform.node()}, {os.cpu_count()} cores, {platform.machine()}, Python "
        f"{platform.python_version()}; PostgreSQL (`{PLAIN_DSN.split('@')[-1]}`); "
        f"{ORGANISATIONS:,} organisations, {VENUES:,} venues, {ACTIVITIES:,} activities"
        + (f" (generated in {generated:.0f} s)" if generated else " (reused)")
        + f"; read model (cards, standings) completed in {carded:.0f} s"
        + (
            f"; search tables rewritten by `signpost cluster-search` in {clustered:.1f} s"
            if clustered is not None
            else "; search tables as last written (BENCH_CLUSTER=0)"
        )
        + f"; uvicorn with {WORKERS} workers; {ROUNDS} searches per row, one client, "
        "keep-alive. API = HTTP round trip (API key check, understanding the request, the "
        "page's one statement: filter, rank, cards, capacity, standing and capped count; "
        "dressing the page; the search log is written after the answer). SQL = the same "
        "page statement sent alone through psycopg. Least = the same statement behind the "
        "least handler this stack allows (`bench/floor.py`: same server and workers, no "
        "framework, answering with the rows), the three taking turns for each search.",
        "",
        "| search | API p50 | API p95 | API p99 | least p50 | least p95 | SQL p50 | SQL p95 "
        "| SQL p99 | API/SQL p50 | least/SQL p50 | API/least p50 |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for label in api:
        a, m, s = api[label], least[label], raw[label]
        a50, m50, s50 = (max(percentile(x, 50), 0.01) for x in (a, m, s))
        lines.append(
            f"| {label} | {a50:.1f} | {percentile(a, 95):.1f} | {percentile(a, 99):.1f} | "
            f"{m50:.1f} | {percentile(m, 95):.1f} | {s50:.1f} | {percentile(s, 95):.1f} | "
            f"{percentile(s, 99):.1f} | {a50 / s50:.2f} | {m50 / s50:.2f} | {a50 / m50:.2f} |"
        )
    lines += ["", "| other request (no SQL) | API p50 | API p95 | API p99 |", "|---|---|---|---|"]
    for label, samples in listings.items():
        lines.append(
            f"| {label} | {percentile(samples, 50):.1f} | {percentile(samples, 95):.1f} | "
            f"{percentile(samples, 99):.1f} |"
        )
    lines += [
        "",
        f"Times in ms. Errors in the latency runs: {errors}.",
        f"Throughput over the whole mix ({THROUGHPUT_REQUESTS} searches): "
        f"1 client {single[0]:.0f}/s ({single[1]} errors); "
        f"8 clients {eight[0]:.0f}/s ({eight[1]} errors); {LOCATED} alone at 8 clients, "
        f"three runs: {', '.join(f'{rate:.0f}' for rate, _ in located)}/s "
        f"({sum(failed for _, failed in located)} errors); the same pages through the least "
        f"handler at 8 clients: {least_located[0]:.0f}/s ({least_located[1]} errors).",
        "Steady-state RSS per API worker after the runs: "
        + ", ".join(f"{size:.0f} MB" for size in rss)
        + ".",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    with RESULTS.open("a", encoding="utf-8") as handle:
        handle.write(text)
    failed = errors + single[1] + eight[1] + sum(failed for _, failed in located)
    failed += least_located[1]
    if failed:
        raise SystemExit(f"bench: {failed} searches failed")


ENGLAND_CODES = sorted(code for code, outcode in outcodes().items() if outcode.country == "ENG")

if __name__ == "__main__":
    main()
