"""Alembic environment of the central log: batch mode (SQLite) and the naming convention."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, engine_from_config, pool

from central.models import Base
from central.store import VERSION_TABLE

config = context.config
target_metadata = Base.metadata


def _migrate(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
        version_table=VERSION_TABLE,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Use the caller's connection (``central.store.upgrade``) or open one from the URL."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
        return
    connectable = engine_from_config(
        config.get_section(config.config_ini_section, {}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with connectable.connect() as conn:
        _migrate(conn)


run_migrations_online()
