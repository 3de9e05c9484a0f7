"""Run Alembic from code: the CLI, readiness checks and tests share these."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def alembic_config(database_url: str | None = None) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    if database_url:
        config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str | None = None, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str | None = None, revision: str = "base") -> None:
    command.downgrade(alembic_config(database_url), revision)


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


# Search structures each database builds its own way (see migration 0003); the models
# do not describe them, so comparisons between models and database leave them out.
DATABASE_ONLY = frozenset(
    {"tsv", "ix_activity_search_tsv", "ix_activity_facet_term_ids", "ix_venue_sector"}
)


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    database_only = name in DATABASE_ONLY or (type_ == "table" and name.startswith("activity_fts"))
    return not (reflected and compare_to is None and database_only)
