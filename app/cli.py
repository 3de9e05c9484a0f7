"""The ``signpost`` command: serve, migrate, seed and export the contract."""

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from sqlmodel import Session

import app.models  # noqa: F401 - every table mapped, audit hook registered
from app.core.config import get_settings
from app.core.db import get_engine

cli = typer.Typer(
    help="Signpost: the social prescribing directory API.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals can hold secrets and personal data
)

OPENAPI_PATH = Path("openapi/openapi.json")


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Default: SIGNPOST_HOST")] = None,
    port: Annotated[int | None, typer.Option(help="Default: SIGNPOST_PORT")] = None,
    workers: Annotated[int | None, typer.Option(help="Default: SIGNPOST_WORKERS")] = None,
    reload: Annotated[bool, typer.Option(help="Restart on code changes (development)")] = False,
) -> None:
    """Serve the API with uvicorn."""
    settings = get_settings()
    uvicorn.run(
        "app.main:app",
        host=host or settings.host,
        port=port or settings.port,
        workers=None if reload else (workers or settings.workers),
        reload=reload,
        access_log=False,  # our request log omits query strings, which can hold postcodes
        log_config=None,
        proxy_headers=False,  # the app trusts only SIGNPOST_TRUSTED_PROXIES (app/main.py)
        # On SIGTERM: stop accepting, let requests in progress finish this long, then cut.
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
    )


@cli.command()
def migrate() -> None:
    """Bring the database schema up to the latest migration, then index any activity the
    referral search does not know yet."""
    from app.core.migrations import upgrade  # here: API workers import this module too
    from app.search.indexing import refresh_missing

    upgrade(get_settings().database_url)
    typer.echo("database is at the latest migration")
    from app.referrals.person import backfill

    with Session(get_engine()) as session:
        indexed = refresh_missing(session)
        hashed = backfill(session)
        session.commit()
    if indexed:
        typer.echo(f"indexed {indexed} activities for search")
    if hashed:
        typer.echo(f"{hashed} referrals can now be found by their person reference")


@cli.command("seed-vocabulary")
def seed_vocabulary_command() -> None:
    """Add the starter vocabulary's missing terms (needs, activity categories, synonyms);
    safe to re-run: synonyms stewards removed stay removed."""
    from app.vocabulary.seed import seed_vocabulary

    with Session(get_engine()) as session:
        terms = seed_vocabulary(session)
        session.commit()
    typer.echo(f"vocabulary holds {len(terms)} starter terms")


@cli.command("seed-demo")
def seed_demo_command() -> None:
    """Load the fictional Bristol demo directory and one demo account per role (all with
    the demo password), if the database has no organisations. Refused in production."""
    from app.demo.seed import seed_demo

    if get_settings().environment == "production":
        typer.echo("seed-demo is refused in production: it creates accounts with a known password")
        raise typer.Exit(1)

    with Session(get_engine()) as session:
        added = seed_demo(session)
        session.commit()
    if added is None:
        typer.echo("organisations already exist: demo data not loaded")
    else:
        typer.echo(f"demo directory loaded: {added[0]} organisations, {added[1]} activities")
        typer.echo("demo accounts (see README): admin@, steward@, commissioner@, linkworker@,")
        typer.echo("orgadmin@ and editor@demo.signpost.example")


@cli.command("seed-areas")
def seed_areas_command(
    country: Annotated[
        str, typer.Option(help="ENG, WLS, SCT or NIR: whose local authorities to add")
    ] = "ENG",
    name: Annotated[
        list[str] | None,
        typer.Option(help="Only this authority (repeatable), e.g. 'City of Bristol'"),
    ] = None,
) -> None:
    """Add local authorities as areas, each holding the postcode districts the shipped
    outcode table places in it (an approximation at district level). Existing ones (by
    name) are left alone; safe to re-run."""
    from app.areas.seed import local_authorities

    with Session(get_engine()) as session:
        created, existing = local_authorities(session, country.upper(), set(name) if name else None)
        session.commit()
    typer.echo(f"{created} local authorities added; {existing} already there")


@cli.command("match-served-areas")
def match_served_areas_command() -> None:
    """Declare, for every organisation, the areas its typed areas_served names (by area
    name, ignoring case and "City of", or official code), and list the names that match
    no area, to define or correct. Safe to re-run."""
    from app.areas.seed import match_served_areas

    with Session(get_engine()) as session:
        outcome = match_served_areas(session)
        session.commit()
    for organisation, areas in outcome.matched.items():
        typer.echo(f"matched  {organisation}: {', '.join(areas)}")
    for organisation, names in outcome.unmatched.items():
        typer.echo(f"no area  {organisation}: {', '.join(names)}")
    typer.echo(
        f"{sum(map(len, outcome.matched.values()))} areas declared; "
        f"{sum(map(len, outcome.unmatched.values()))} names matched no area"
    )


@cli.command("create-admin")
def create_admin(
    email: Annotated[str, typer.Option(prompt=True, help="The admin's sign-in email")],
    display_name: Annotated[str, typer.Option(prompt=True, help="Name shown in the app")],
    password: Annotated[
        str,
        typer.Option(
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            envvar="SIGNPOST_ADMIN_PASSWORD",
            help="At least 12 characters (or set SIGNPOST_ADMIN_PASSWORD)",
        ),
    ],
) -> None:
    """Create an admin account for a real deployment."""
    from pydantic import ValidationError

    from app.accounts.models import GlobalRole
    from app.accounts.schemas import UserCreate
    from app.accounts.service import create_user
    from app.core.errors import Problem

    try:
        data = UserCreate(
            email=email, display_name=display_name, password=password, role=GlobalRole.admin
        )
        with Session(get_engine()) as session:
            create_user(session, data)
            session.commit()
    except ValidationError as exc:
        reasons = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise typer.BadParameter(reasons) from None
    except Problem as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"admin account created: {data.email.lower()}")


@cli.command("import-postcodes")
def import_postcodes_command(
    path: Annotated[
        Path,
        typer.Argument(
            exists=True, dir_okay=False, help="ONS Postcode Directory or NSPL CSV (pcds, lat, long)"
        ),
    ],
) -> None:
    """Load full postcodes for the referral search; replaces any loaded before. Terminated
    postcodes and those without coordinates are skipped. Venues placed at their district's
    centre move to their own postcode's coordinates. When the file has ONSPD's or NSPL's
    local authority, ward, ICB or sub-ICB columns, those official areas are created (named
    by their GSS code until renamed) or redrawn, each holding the postcode sectors most of
    whose postcodes carry its code."""
    from app.areas.seed import official_areas
    from app.geo.service import import_postcodes
    from app.search.indexing import refresh_venues
    from app.venues.service import outcode_placed_with_postcode, place_at_postcode

    sectors: dict = {}
    with Session(get_engine()) as session:
        try:
            with typer.progressbar(
                length=path.stat().st_size, label="reading postcodes", file=sys.stderr
            ) as bar:
                count = import_postcodes(session, path, progress=bar.update, sectors=sectors)
        except ValueError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
        upgrades = outcode_placed_with_postcode(session)
        with typer.progressbar(upgrades, label="placing venues", file=sys.stderr) as bar:
            for venue, postcode in bar:
                place_at_postcode(session, venue, postcode)
        session.flush()
        refresh_venues(session, [venue.id for venue, _ in upgrades])  # in batches
        created, redrawn = official_areas(session, sectors)
        session.commit()
    typer.echo(f"imported {count} postcodes; {len(upgrades)} venues placed at their postcode")
    if created or redrawn:
        typer.echo(f"official areas: {created} created, {redrawn} redrawn")


@cli.command("import-oruk")
def import_oruk_command(
    source: Annotated[
        str,
        typer.Argument(
            help="An Open Referral UK feed's base URL (https://example.org/openreferral), "
            "or a JSON file or folder of them"
        ),
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Report what would change; write nothing")
    ] = False,
) -> None:
    """Create or update listings from an Open Referral UK 3.0 source, matched by the
    source's ids; what the source no longer has is archived. New organisations are drafts
    until published. Exit status 1 when some records were refused (the rest went in), 2
    when the source could not be read."""
    _import(source, dry_run)


@cli.command("import-csv")
def import_csv_command(
    path: Annotated[
        Path,
        typer.Argument(
            exists=True, dir_okay=False, help="A CSV with the columns GET /v1/activities gives"
        ),
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Report what would change; write nothing")
    ] = False,
) -> None:
    """Create or update listings from a spreadsheet: one row per activity, the columns of
    `GET /v1/activities?format=csv`. Rows with our ids update those listings; rows without
    are matched by organisation and activity name on later runs of a file of the same
    name. New organisations are drafts. Nothing is archived for rows a sheet lacks. Exit
    status 1 when some rows were refused (the rest went in), 2 when the file is unreadable."""
    if path.suffix.lower() != ".csv":
        typer.echo(f"error: {path.name}: expected a .csv file", err=True)
        raise typer.Exit(2)
    _import(str(path), dry_run)


def _import(source: str, dry_run: bool) -> None:
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn

    from app.openreferral import importer

    console = Console(stderr=True)
    with (
        Session(get_engine()) as session,
        Progress(
            SpinnerColumn(), TextColumn("{task.description}"), console=console, transient=True
        ) as progress,
    ):
        pages = progress.add_task("pages read: 0")
        records = progress.add_task("records read: 0")
        seen = {"pages": 0, "records": 0}

        def tick(name: str, task) -> None:
            seen[name] += 1
            progress.update(task, description=f"{name} read: {seen[name]}")

        try:
            outcome = importer.run(
                session,
                source,
                dry_run=dry_run,
                on_page=lambda: tick("pages", pages),
                on_record=lambda: tick("records", records),
            )
        except importer.SourceError as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(2) from None
    typer.echo(importer.describe(outcome, dry_run))
    if outcome.refused:
        raise typer.Exit(1)


@cli.command()
def worker(
    once: Annotated[
        bool, typer.Option(help="One round (sweep, fan out, deliver), then exit")
    ] = False,
) -> None:
    """Deliver notifications: fan outbox events out to email and webhooks, retry failures,
    and run the sweeps (expiries, freshness nudges) hourly. Run as many as you like on
    PostgreSQL; SIGTERM finishes the delivery in hand and releases the rest."""
    import signal

    from app.core.logging import configure_logging
    from app.notifications.worker import Worker

    settings = get_settings()
    if settings.environment == "production" and not settings.smtp_host:
        raise typer.BadParameter("set SIGNPOST_SMTP_HOST in production (emails would be lost)")
    configure_logging(settings)
    runner = Worker()
    if once:
        typer.echo(f"did {runner.run_once()} pieces of work")
        return
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: runner.stop.set())
    runner.run()


@cli.command("reindex-search")
def reindex_search() -> None:
    """Rebuild every activity's search document (names, descriptions, terms, synonyms)."""
    from app.search.indexing import refresh_all

    with Session(get_engine()) as session:
        count = refresh_all(session)  # commits batch by batch
    typer.echo(f"reindexed {count} activities")


@cli.command("cluster-search")
def cluster_search(
    wait_ms: Annotated[
        int, typer.Option(min=1, help="Longest wait for a table's lock, each attempt")
    ] = 1000,
    attempts: Annotated[int, typer.Option(min=1, help="Attempts per table")] = 5,
    pause: Annotated[float, typer.Option(min=0, help="Seconds between attempts")] = 10.0,
) -> None:
    """Rewrite the search tables compactly, place rows in place order (PostgreSQL CLUSTER;
    run it nightly). Each table is locked while it is rewritten: seconds at national scale."""
    from app.search.upkeep import Busy, cluster

    try:
        done = cluster(get_engine(), wait_ms, attempts, pause)
    except Busy as busy:
        typer.echo(str(busy), err=True)
        raise typer.Exit(1) from None
    if not done:
        typer.echo("nothing to do on SQLite")
    for table in done:
        typer.echo(
            f"{table.table}: {table.bytes_before / 2**20:.1f} MB -> "
            f"{table.bytes_after / 2**20:.1f} MB in {table.seconds:.1f} s "
            f"(attempt {table.attempts})"
        )


@cli.command("referrals-sweep")
def referrals_sweep() -> None:
    """Expire referrals nobody answered in time and record pauses that have ended (run it
    hourly; statuses read correctly between runs, this makes them stick and be counted)."""
    from app.capacity.service import end_elapsed_pauses
    from app.core.types import utcnow
    from app.referrals.service import expire_unanswered

    now = utcnow()
    with Session(get_engine()) as session:
        expired = expire_unanswered(session, now)
        resumed = end_elapsed_pauses(session, now)
        session.commit()
    typer.echo(f"expired {expired} referrals; {resumed} paused activities reopened")


@cli.command("assurance-sweep")
def assurance_sweep() -> None:
    """Record assurance items that have lapsed, once each, in the audit log (daily).
    Statuses and assured-only searches are right between runs: they compare dates."""
    from app.assurance.service import sweep
    from app.core.types import utcnow

    with Session(get_engine()) as session:
        recorded = sweep(session, utcnow().date())
        session.commit()
    typer.echo(f"recorded {recorded} lapsed assurance items")


@cli.command("purge")
def purge(
    days: Annotated[
        int | None,
        typer.Option(min=1, help="Days after closing; default SIGNPOST_REFERRAL_RETENTION_DAYS"),
    ] = None,
) -> None:
    """Delete referral contact details and notes a retention period after the referral
    closed, keeping the anonymous facts (activity, dates, states, needs) for reports; and
    delete the answers kept for Idempotency-Key retries once their 24 hours are up, and
    notification events once delivered and SIGNPOST_OUTBOX_RETENTION_DAYS old."""
    from app.core.types import utcnow
    from app.idempotency.service import purge_expired
    from app.notifications.sweeps import purge_outbox
    from app.referrals.service import purge_personal_data

    with Session(get_engine()) as session:
        purged = purge_personal_data(
            session, utcnow(), days or get_settings().referral_retention_days
        )
        retries = purge_expired(session)
        events = purge_outbox(session, utcnow())
        session.commit()
    typer.echo(
        f"purged personal data from {purged} referrals, {retries} kept answers "
        f"and {events} delivered notification events"
    )


@cli.command("new-data-key")
def new_data_key() -> None:
    """Print a fresh key for SIGNPOST_DATA_KEYS (put it first to start using it)."""
    from app.core.crypto import new_key

    typer.echo(new_key())


@cli.command("rotate-data-key")
def rotate_data_key() -> None:
    """Re-encrypt all stored personal data under the first key in SIGNPOST_DATA_KEYS; then
    older keys can be removed from the list."""
    from app.referrals.service import rotate_keys

    with Session(get_engine()) as session:
        rotated = rotate_keys(session)
        session.commit()
    typer.echo(f"re-encrypted {rotated} values under the newest key")


@cli.command("export-openapi")
def export_openapi(
    path: Annotated[Path, typer.Option(help="Where to write the document")] = OPENAPI_PATH,
) -> None:
    """Write the OpenAPI document that clients are generated from."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(openapi_json(), encoding="utf-8")
    typer.echo(f"wrote {path}")


def openapi_json() -> str:
    from app.main import app

    return json.dumps(app.openapi(), indent=2, sort_keys=False, ensure_ascii=False) + "\n"


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
