"""Opening a station's ledger: config -> engine -> (integrity check) -> schema check -> use-cases.

One place does this so the CLI, the UI and the services all start the same way and refuse
the same way (damaged database, database older than the code).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

import policies
from db.engine import (
    IntegrityMode,
    check_integrity,
    make_engine,
    make_read_session_factory,
    make_session_factory,
)
from db.revision import HEAD_REVISION, stored_revision
from kiosk import audit_anchor
from kiosk.auth import AuthService, AuthSettings
from kiosk.config import KioskConfig
from kiosk.custody import Custody, utcnow


class NotReady(RuntimeError):
    """The database is missing or older than this version of the kiosk."""


@dataclass
class KioskContext:
    config: KioskConfig
    engine: Engine
    sessions: sessionmaker[Session]
    profile: policies.Profile
    custody: Custody
    #: Writes the keyed chain-head anchor off the commit path (kiosk.audit_anchor).
    anchor: audit_anchor.AnchorWriter | None = None

    @cached_property
    def reads(self) -> sessionmaker[Session]:
        """Sessions for read-only paths: a deferred snapshot, never the write lock."""
        return make_read_session_factory(self.engine)

    def close(self) -> None:
        if self.anchor is not None:
            self.anchor.close()  # every commit so far anchored before the station stops
        self.engine.dispose()


def prepare_data_dir(config: KioskConfig) -> None:
    if config.database_url.startswith("sqlite:///"):
        config.station.data_dir.mkdir(parents=True, exist_ok=True)


def open_engine(config: KioskConfig, *, integrity: IntegrityMode | None = None) -> Engine:
    """The ledger's engine; ``integrity`` checks it first (station start, ``db upgrade``).

    Not on every command: a full check reads every page (680 ms at 100k events, issue 15).
    """
    prepare_data_dir(config)
    engine = make_engine(config.database_url)
    if integrity is not None:
        try:
            check_integrity(engine, integrity)
        except Exception:
            engine.dispose()
            raise
    return engine


def open_context(
    config: KioskConfig,
    *,
    migrate: bool = False,
    clock: Callable[[], datetime] = utcnow,
    integrity: IntegrityMode | None = None,
) -> KioskContext:
    """Open the station. ``migrate`` upgrades the schema first (demo and tests);
    ``integrity`` checks the database file first (the station passes ``"quick"``)."""
    engine = open_engine(config, integrity=integrity)
    if migrate:
        from db.migrate import upgrade  # Alembic only when migrating (issue 15, start-up)

        upgrade(engine)
    current, head = stored_revision(engine), HEAD_REVISION
    if current != head:
        engine.dispose()
        raise NotReady(
            f"the database at {config.database_url} is at schema {current or 'none'}, "
            f"this kiosk needs {head}: run `kiosk db upgrade`"
        )
    profile = policies.load_profile(config.station.profile)
    sessions = make_session_factory(engine)
    # Every commit that appends events moves the keyed chain-head anchor (kiosk.audit_anchor).
    anchor = audit_anchor.install(sessions, config.station.data_dir, config.anchor_key_path)
    # One AuthService per station process: sign-in, lockout and refusal records all go
    # through it, with the [auth] section of the config (issue 9).
    auth = AuthService(
        AuthSettings.from_config(config.auth), station_id=config.station.id, clock=clock
    )
    custody = Custody(
        sessions,
        profile,
        station_id=config.station.id,
        tz=config.tz,
        clock=clock,
        auth=auth,
    )
    return KioskContext(config, engine, sessions, profile, custody, anchor)
