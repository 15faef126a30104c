"""Alembic environment: batch mode (SQLite cannot ALTER most things) and the naming convention."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, engine_from_config, pool

import db.models  # noqa: F401  (registers the tables)
from db.base import Base

config = context.config
target_metadata = Base.metadata


def _migrate(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Use the caller's connection (``db.migrate.upgrade``) or open one from the URL."""
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


if context.is_offline_mode():
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        render_as_batch=True,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
