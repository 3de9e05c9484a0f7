"""Which migration a database is at, and which is the latest, without Alembic.

``/readyz`` asks on every probe. Alembic would answer by importing itself (about 12 MB in
every API worker, which otherwise never loads it) and parsing every migration file each time.
Migration files are named ``DATE_REVISION_slug.py`` with revisions numbered in order
(``alembic.ini``'s ``file_template``; ``alembic revision --rev-id 00NN_name``), so the
latest is the highest; ``tests/test_migrations.py`` proves this agrees with Alembic."""

import functools
from pathlib import Path

from sqlalchemy import Connection, inspect, text

VERSIONS = Path(__file__).resolve().parents[2] / "migrations" / "versions"


@functools.cache
def latest() -> str | None:
    revisions = sorted(path.stem.split("_", 1)[1] for path in VERSIONS.glob("*_*.py"))
    return revisions[-1] if revisions else None


def current(connection: Connection) -> str | None:
    """The database's revision; None before its first migration."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
