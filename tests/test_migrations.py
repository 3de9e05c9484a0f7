"""The migrations and the models describe the same schema, and the chain runs both ways."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from app.core.config import get_settings
from app.core.db import get_engine
from app.core.migrations import (
    current_revision,
    downgrade,
    head_revision,
    include_object,
    upgrade,
)
from app.models import metadata


def test_autogenerate_finds_no_difference():
    with get_engine().connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "compare_server_default": True,
                "include_object": include_object,
            },
        )
        assert compare_metadata(context, metadata) == []


def test_upgrade_downgrade_upgrade():
    url = get_settings().database_url
    engine = get_engine()
    expected = {table.name for table in metadata.sorted_tables}

    downgrade(url, "base")
    engine.dispose()
    assert set(inspect(engine).get_table_names()) & expected == set()
    assert current_revision(engine) is None

    upgrade(url)
    engine.dispose()
    assert expected <= set(inspect(engine).get_table_names())
    assert current_revision(engine) == head_revision()
