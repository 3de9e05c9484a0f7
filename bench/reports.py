"""Commissioner reports at national scale, on PostgreSQL.

On top of the search benchmark's directory (50,000 organisations, 200,000 activities at
100,000 venues over real English outcodes; built by bench/search.py if missing) this adds,
once: England's local authorities as areas (`signpost seed-areas`: each holds its postcode
districts), 1,000,000 referrals over two years with their transitions (~2.6 million events),
needs and ONS4 answers (a baseline for 7 in 10, a completion for 6 in 10 completed), the
capacity history they imply (~2.2 million changes), 2,000,000 searches in the search log
and 20,000 support needs. Then it serves the API and times every report through
HTTP for one area (the City of Bristol) and for all of England, grouped by local authority
where a report groups by area, plus the area profile, and appends to bench/RESULTS.md.

Environment: as bench/search.py (BENCH_DATABASE_URL, BENCH_PORT, BENCH_WORKERS);
BENCH_REPORT_RUNS (5 per report); BENCH_REPORTS (only these, e.g. "area-profile");
BENCH_SCALE and BENCH_RESULTS as there.
"""

import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
import search as directory
from sqlmodel import Session, select

from app.accounts.models import GlobalRole
from app.accounts.principal import SYSTEM
from app.accounts.schemas import ApiKeyCreate
from app.accounts.service import create_api_key
from app.areas.models import Area
from app.areas.seed import local_authorities
from app.core.db import get_engine
from app.vocabulary.seed import seed_vocabulary

RUNS = int(os.environ.get("BENCH_REPORT_RUNS", "5"))
# Only these reports (comma-separated names, e.g. "area-profile"); all when unset.
ONLY = {name for name in os.environ.get("BENCH_REPORTS", "").split(",") if name}
REFERRALS, SEARCHES, NEEDS = (
    max(100, int(n * directory.SCALE)) for n in (1_000_000, 2_000_000, 20_000)
)
AREA_NAME = "City of Bristol"
RESULTS = directory.RESULTS

GENERATE = [
    # Referrals over two years to activities that take them, with realistic outcomes.
    f"""
    WITH t AS (
        SELECT row_number() OVER (ORDER BY id) - 1 AS n, id, organisation_id
        FROM activity WHERE access_modes ? 'referral'
    ), c AS (SELECT count(*) AS c FROM t),
    g AS (
        SELECT i, random() AS r1, random() AS r2, random() AS r3,
               now() - random() * interval '730 days' AS created
        FROM generate_series(1, {REFERRALS}) AS i
    )
    INSERT INTO referral (id, activity_id, organisation_id, status, decline_reason,
        holds_place, created_at, respond_by, status_changed_at, first_response_at,
        accepted_at, closed_at, consent_confirmed_at, purged_at)
    SELECT gen_random_uuid(), t.id, t.organisation_id,
        CASE WHEN r1 < 0.05 THEN 'sent' WHEN r1 < 0.15 THEN 'declined'
             WHEN r1 < 0.20 THEN 'waitlisted' WHEN r1 < 0.25 THEN 'expired'
             WHEN r1 < 0.30 THEN 'withdrawn' WHEN r1 < 0.40 THEN 'did_not_attend'
             WHEN r1 < 0.50 THEN 'attended' WHEN r1 < 0.60 THEN 'accepted'
             ELSE 'completed' END,
        CASE WHEN r1 >= 0.05 AND r1 < 0.15 THEN (ARRAY['no_capacity', 'not_eligible',
             'needs_not_met', 'unable_to_contact', 'person_declined', 'duplicate',
             'other'])[1 + floor(r2 * 7)::int] END,
        r1 >= 0.40 AND r1 < 0.60,
        created, created + interval '14 days', created + interval '5 days',
        CASE WHEN r1 >= 0.05 AND NOT (r1 >= 0.20 AND r1 < 0.30)
             THEN created + r3 * 200 * interval '1 hour' END,
        CASE WHEN r1 >= 0.30 THEN created + r3 * 200 * interval '1 hour' END,
        CASE WHEN (r1 >= 0.05 AND r1 < 0.15) OR (r1 >= 0.20 AND r1 < 0.30) OR r1 >= 0.60
             THEN created + interval '30 days' END,
        created, created + interval '120 days'
    FROM g JOIN t ON t.n = (g.i::bigint * 7919) % (SELECT c FROM c)
    """,
    """
    INSERT INTO referral_need (referral_id, term_id)
    SELECT r.id, (SELECT array_agg(term.id ORDER BY term.code) FROM taxonomy_term term
                  JOIN taxonomy s ON s.id = term.taxonomy_id WHERE s.code = 'need')
                 [1 + abs(hashtext(r.id::text)::bigint) % 13]
    FROM referral r
    """,
    # Transitions: sent, then accepted for those that got that far, then where each ended.
    """
    INSERT INTO referral_event (id, referral_id, occurred_at, from_status, to_status,
        actor_type)
    SELECT gen_random_uuid(), id, created_at, NULL, 'sent', 'user' FROM referral
    UNION ALL
    SELECT gen_random_uuid(), id, accepted_at, 'sent', 'accepted', 'user' FROM referral
    WHERE accepted_at IS NOT NULL
    UNION ALL
    SELECT gen_random_uuid(), id, coalesce(closed_at, status_changed_at),
        CASE WHEN accepted_at IS NOT NULL THEN 'accepted' ELSE 'sent' END, status,
        CASE WHEN status = 'expired' THEN 'system' ELSE 'user' END
    FROM referral WHERE status NOT IN ('sent', 'accepted')
    """,
    # The capacity history those referrals imply.
    """
    INSERT INTO capacity_change (id, activity_id, organisation_id, recorded_at, cause,
        status, waiting_list_length, referrals_this_week)
    SELECT gen_random_uuid(), activity_id, organisation_id, created_at, 'referral_received',
        'open', 0, 1 FROM referral
    UNION ALL
    SELECT gen_random_uuid(), activity_id, organisation_id, accepted_at, 'place_taken',
        'open', 0, 1 FROM referral WHERE accepted_at IS NOT NULL
    UNION ALL
    SELECT gen_random_uuid(), activity_id, organisation_id, closed_at, 'place_released',
        'open', 0, 1 FROM referral WHERE status IN ('completed', 'did_not_attend')
        AND closed_at IS NOT NULL
    """,
    # Two years of searches from every outcode that has a venue.
    f"""
    WITH o AS (SELECT array_agg(DISTINCT outcode) AS codes FROM venue),
    n AS (SELECT array_agg(term.id::text) AS ids FROM taxonomy_term term
          JOIN taxonomy s ON s.id = term.taxonomy_id WHERE s.code = 'need')
    INSERT INTO search_log (id, searched_at, outcode, need_ids, category_ids, filters,
        unmatched, result_count)
    SELECT gen_random_uuid(), now() - random() * interval '730 days',
        o.codes[1 + floor(random() * array_length(o.codes, 1))::int],
        CASE WHEN random() < 0.7
             THEN jsonb_build_array(n.ids[1 + floor(random() * array_length(n.ids, 1))::int])
             ELSE '[]'::jsonb END,
        '[]'::jsonb, '{{}}'::jsonb,
        CASE WHEN random() < 0.05
             THEN jsonb_build_array((ARRAY['lonesome', 'hoarding', 'bus pass', 'tidy garden',
                 'sight loss group', 'phrase ' || floor(random() * 5000)::int::text])
                 [1 + floor(random() * 6)::int])
             ELSE '[]'::jsonb END,
        floor(power(random(), 2) * 40)::int
    FROM generate_series(1, {SEARCHES}), o, n
    """,
    # The daily demand counts the API keeps as it logs each search (app/search/demand.py).
    """
    INSERT INTO search_demand_day (day, place, need_id, searches, fewer_than_3, no_results)
    SELECT searched_at::date, coalesce(sector, outcode), n.value, count(*),
           count(*) FILTER (WHERE result_count < 3), count(*) FILTER (WHERE result_count = 0)
    FROM search_log, jsonb_array_elements_text(need_ids) AS n(value)
    WHERE coalesce(sector, outcode) IS NOT NULL
    GROUP BY 1, 2, 3
    """,
    f"""
    WITH c AS (SELECT array_agg(term.id) AS ids FROM taxonomy_term term
               JOIN taxonomy s ON s.id = term.taxonomy_id WHERE s.code = 'support-category'),
    orgs AS (SELECT array_agg(id) AS ids FROM organisation),
    g AS (SELECT random() AS r, now() - random() * interval '730 days' AS created
          FROM generate_series(1, {NEEDS}))
    INSERT INTO support_need (id, organisation_id, category_id, urgency, description,
        visibility, status, created_at, acknowledged_at, resolved_at, updated_at, version)
    SELECT gen_random_uuid(), orgs.ids[1 + floor(random() * array_length(orgs.ids, 1))::int],
        c.ids[1 + floor(random() * array_length(c.ids, 1))::int],
        (ARRAY['low', 'medium', 'high', 'critical'])[1 + floor(random() * 4)::int],
        'Generated', 'responders',
        CASE WHEN r < 0.3 THEN 'open' WHEN r < 0.5 THEN 'acknowledged'
             WHEN r < 0.6 THEN 'in_progress' ELSE 'resolved' END,
        created,
        CASE WHEN r >= 0.3 THEN created + random() * interval '10 days' END,
        CASE WHEN r >= 0.6 THEN created + interval '10 days' + random() * interval '60 days'
        END,
        created, 1
    FROM g, c, orgs
    """,
]


# ONS4 answers: a baseline for 7 in 10 referrals, and a completion for 6 in 10 of the
# completed ones (kept apart from GENERATE so that a dataset from before outcomes gains them).
WELLBEING = """
    INSERT INTO wellbeing_score (id, referral_id, stage, organisation_id, measured_on,
        life_satisfaction, worthwhile, happiness, anxiety, updated_at)
    SELECT gen_random_uuid(), id, 'baseline', organisation_id, created_at::date,
        floor(random() * 8)::int, floor(random() * 8)::int, floor(random() * 8)::int,
        3 + floor(random() * 8)::int, created_at
    FROM referral WHERE abs(hashtext(id::text)::bigint) % 10 < 7
    UNION ALL
    SELECT gen_random_uuid(), id, 'completion', organisation_id, closed_at::date,
        2 + floor(random() * 9)::int, 2 + floor(random() * 9)::int, 2 + floor(random() * 9)::int,
        floor(random() * 8)::int, closed_at
    FROM referral WHERE status = 'completed' AND closed_at IS NOT NULL
        AND abs(hashtext(id::text)::bigint) % 10 < 6
"""


# The change each referral keeps (app/referrals/wellbeing.record does this as answers come).
WELLBEING_CHANGE = """
    UPDATE referral r SET life_satisfaction_change = l.life_satisfaction - b.life_satisfaction,
        worthwhile_change = l.worthwhile - b.worthwhile,
        happiness_change = l.happiness - b.happiness,
        anxiety_change = l.anxiety - b.anxiety
    FROM wellbeing_score b, wellbeing_score l
    WHERE b.referral_id = r.id AND b.stage = 'baseline'
        AND l.referral_id = r.id AND l.stage = 'completion'
"""


def ensure_wellbeing() -> None:
    with psycopg.connect(directory.PLAIN_DSN) as connection:
        if connection.execute("SELECT 1 FROM wellbeing_score LIMIT 1").fetchone():
            return
        connection.execute(WELLBEING)
        connection.execute(WELLBEING_CHANGE)
        connection.commit()
        connection.autocommit = True
        connection.execute("VACUUM ANALYZE wellbeing_score")
        connection.execute("VACUUM ANALYZE referral")


def ensure_report_data() -> float | None:
    with Session(get_engine()) as session:  # a dataset from before support categories
        seed_vocabulary(session)
        session.commit()
    with psycopg.connect(directory.PLAIN_DSN) as connection:
        have = connection.execute("SELECT count(*) FROM referral").fetchone()[0]
        if have >= REFERRALS:
            return None
        started = time.perf_counter()
        connection.execute(
            "TRUNCATE referral, referral_need, referral_event, wellbeing_score, "
            "capacity_change, search_log, "
            "search_demand_day, "
            "support_need, support_message CASCADE"
        )
        for statement in GENERATE:
            connection.execute(statement)
        connection.commit()
        connection.autocommit = True
        connection.execute("VACUUM ANALYZE")
        return time.perf_counter() - started


def ensure_areas() -> str:
    """England's local authorities as areas (once); the id of the one area measured."""
    with Session(get_engine()) as session:
        local_authorities(session, "ENG")
        session.commit()
        found = str(session.exec(select(Area.id).where(Area.name == AREA_NAME)).one())
    # This machine's server runs without autovacuum: without fresh statistics the planner
    # takes the areas for one row (England's referrals by area: 2.9 s against 1.8 s).
    with psycopg.connect(directory.PLAIN_DSN, autocommit=True) as connection:
        connection.execute("ANALYZE area")
        connection.execute("ANALYZE area_key")
    return found


def cases(area_id: str) -> list[tuple[str, str, dict]]:
    two_years = {"from": (date.today() - timedelta(days=729)).isoformat()}
    found = []
    for scope, area in (("one area", {"area": area_id}), ("England", {})):
        base = {**two_years, **area}
        found += [
            ("referrals", scope, base),
            ("referrals", scope, {**base, "group_by": ["organisation", "funding"]}),
            ("referrals", scope, {**base, "group_by": ["need"]}),
            ("referrals", scope, {**base, "group_by": ["area"]}),
            ("capacity", scope, {**base, "group_by": ["area"]}),
            ("capacity-history", scope, {**base, "interval": "week"}),
            ("unmet-demand", scope, {**base, "group_by": ["need", "period"]}),
            ("unmet-demand", scope, {**base, "group_by": ["area"]}),
            ("unmet-demand", scope, {**base, "group_by": ["phrase"]}),
            ("assurance", scope, {**base, "group_by": ["area"]}),
            ("support-needs", scope, {**base, "group_by": ["area", "urgency"]}),
        ]
    found.append(("area-profile", "one area", {**two_years, "area": area_id}))
    return [case for case in found if not ONLY or case[0] in ONLY]


def main() -> None:
    directory.ensure_database()
    if not directory.dataset_ready():
        directory.generate()
    generated = ensure_report_data()
    ensure_wellbeing()
    area_id = ensure_areas()
    with Session(get_engine()) as session:
        key = create_api_key(
            session, SYSTEM, ApiKeyCreate(name="bench reports", role=GlobalRole.commissioner)
        ).key
        session.commit()
    server = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(directory.PORT),
         "--workers", str(directory.WORKERS)],
        env=dict(os.environ),
        cwd=directory.ROOT,
    )  # fmt: skip
    results = []
    try:
        with httpx.Client(
            base_url=f"http://127.0.0.1:{directory.PORT}",
            headers={"X-API-Key": key},
            timeout=120,
        ) as client:
            for _ in range(200):
                try:
                    if client.get("/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            for name, scope, params in cases(area_id):
                times, rows = [], 0
                for _ in range(RUNS):
                    started = time.perf_counter()
                    response = client.get(f"/v1/reports/{name}", params=params)
                    times.append((time.perf_counter() - started) * 1000)
                    response.raise_for_status()
                    body = response.json()
                    rows = len(body["rows"] if "rows" in body else body["by_need"])
                results.append((name, scope, params, statistics.median(times), max(times), rows))
                print(f"{name:17} {scope:9} {results[-1][3]:8.0f} ms  {rows} rows", flush=True)
    finally:
        server.terminate()
        server.wait(timeout=20)
    write(results, generated)


def write(results, generated) -> None:
    lines = [
        f"\n## Reports, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"Machine: {platform.node()}, {os.cpu_count()} cores, {platform.machine()}; PostgreSQL "
        f"(`{directory.PLAIN_DSN.split('@')[-1]}`); the search benchmark's directory plus "
        f"{REFERRALS:,} referrals over two years with their transitions, the capacity history "
        f"they imply, {SEARCHES:,} logged searches and {NEEDS:,} support needs"
        + (f" (generated in {generated:.0f} s)" if generated else " (reused)")
        + f"; uvicorn with {directory.WORKERS} workers; each report {RUNS} times over HTTP "
        f"(JSON), period two years; one area = the {AREA_NAME} (1 of England's local "
        "authorities, drawn from the outcode table); England grouped by area = by local "
        "authority. Targets: the area profile of one area 300 ms, England by local authority "
        "2 s.",
        "",
        "| report | grouping | scope | p50 ms | max ms | rows | target met? |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, scope, params, p50, worst, rows in results:
        grouping = ", ".join(params.get("group_by", [])) or params.get("interval", "-")
        target = 300 if name == "area-profile" else 2000
        lines.append(
            f"| {name} | {grouping} | {scope} | {p50:.0f} | {worst:.0f} | {rows:,} | "
            f"{'yes' if p50 <= target else 'no'} (≤ {target:,}) |"
        )
    with RESULTS.open("a", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")
    print(f"appended to {RESULTS}")


if __name__ == "__main__":
    main()
