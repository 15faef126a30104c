"""Alembic, driven from code so ``kiosk db upgrade`` needs no alembic.ini on the Pi."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from db.base import Base

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database at ``engine`` to ``revision`` (default: the newest)."""
    _run(engine, lambda cfg: command.upgrade(cfg, revision))


def downgrade(engine: Engine, revision: str) -> None:
    """Take the database at ``engine`` back to ``revision`` (tests of migrations)."""
    _run(engine, lambda cfg: command.downgrade(cfg, revision))


def _run(engine: Engine, step: Callable[[Config], None]) -> None:
    """Run a migration step in one transaction; on SQLite with foreign keys off meanwhile.

    A batch migration rebuilds a table by copy, drop and rename; with foreign keys on,
    dropping ``pupils`` would cascade-delete every contact. SQLite ignores the pragma inside
    a transaction, so it is set on the raw connection before the transaction starts, and the
    keys are checked (``PRAGMA foreign_key_check``) before the transaction commits.
    """
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as conn:
        if sqlite:
            conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
        try:
            with conn.begin():
                cfg.attributes["connection"] = conn
                step(cfg)
                if sqlite:
                    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise RuntimeError(
                            f"migration left {len(broken)} broken foreign key(s), first "
                            f"{tuple(broken[0])}: nothing was changed; report this as a bug"
                        )
        finally:
            if sqlite:
                conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def schema_drift(engine: Engine) -> list[object]:
    """Differences between the models and a database migrated to head (empty = in step)."""
    import db.models  # noqa: F401  (registers the tables on Base.metadata)

    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "render_as_batch": True})
        return list(compare_metadata(ctx, Base.metadata))


def new_revision(message: str, rev_id: str | None = None) -> None:
    """Autogenerate a migration against a scratch database built to head (for contributors)."""
    import tempfile

    from db.engine import make_engine

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/scratch.db"
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        command.revision(alembic_config(url), message=message, autogenerate=True, rev_id=rev_id)


if __name__ == "__main__":
    import sys

    if len(sys.argv) not in (3, 4) or sys.argv[1] != "revision":
        sys.exit('usage: python -m db.migrate revision "what changed" [REV_ID]')
    new_revision(sys.argv[2], sys.argv[3] if len(sys.argv) == 4 else None)
