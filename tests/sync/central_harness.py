"""The central log under test, behind a misbehaving TCP proxy: fake (contract) or real.

``kind`` is ``fake`` (the contract fake over ASGI), ``sqlite`` (the real central service on
its SQLite default) or ``postgres`` (the real central service on PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from fake_central import FakeCentral
from pg_testing import PG_URL, pg_schema
from servers import FakeCentralASGI, Flaky, ServerThread
from sqlalchemy import Engine
from tcp_proxy import TcpProxy


@dataclass
class CentralUnderTest:
    kind: str
    credential: str
    flaky: Flaky
    server: ServerThread
    proxy: TcpProxy
    _seqs: Callable[[str], list[int]]
    _cleanup: list[Callable[[], None]] = field(default_factory=list)

    @property
    def url(self) -> str:
        """Through the proxy, as the kiosk sees it."""
        return self.proxy.url

    def seqs(self, station: str) -> list[int]:
        """Every seq the central log stores for ``station`` (one row each: duplicates show)."""
        return self._seqs(station)

    def close(self) -> None:
        self.proxy.close()
        self.server.stop()
        for fn in reversed(self._cleanup):
            fn()


def start_fake() -> CentralUnderTest:
    fake = FakeCentral()
    flaky = Flaky(FakeCentralASGI(fake))
    server = ServerThread(flaky)
    return CentralUnderTest(
        "fake",
        fake.credential,
        flaky,
        server,
        TcpProxy(server.port),
        lambda st: sorted(seq for (s, seq) in fake.events if s == st),
    )


def start_central(kind: str, tmp_path: Path, station: str) -> CentralUnderTest:
    if kind == "fake":
        return start_fake()
    return _real(kind, tmp_path, station)


def _real(kind: str, tmp_path: Path, station: str) -> CentralUnderTest:
    """The real central service (``central.app.create_app``) on SQLite or PostgreSQL."""
    from datetime import UTC, datetime

    from sqlalchemy import select

    from central import admin
    from central.app import create_app
    from central.models import Event, Station
    from central.store import make_engine, make_sessions, upgrade

    cleanup: list[Callable[[], None]] = []
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'central.db'}"
        engine = make_engine(url)
    else:
        url, engine, drop = postgres_schema()
        cleanup.append(drop)
    upgrade(engine)
    sessions = make_sessions(engine)
    with sessions.begin() as s:
        admin.add_school(s, "demo", "Demo School")
        token = admin.add_station(s, station, "demo", datetime.now(UTC)).token
    app = create_app(url, engine=engine, secure_cookies=False)
    flaky = Flaky(app)
    server = ServerThread(flaky)

    def seqs(station_id: str) -> list[int]:
        with sessions() as s:
            return sorted(
                s.scalars(
                    select(Event.seq)
                    .join(Station, Station.id == Event.station_pk)
                    .where(Station.station_id == station_id)
                )
            )

    cleanup.insert(0, engine.dispose)
    return CentralUnderTest(kind, token, flaky, server, TcpProxy(server.port), seqs, cleanup)


def postgres_schema() -> tuple[str, Engine, Callable[[], None]]:
    """A fresh schema on the test PostgreSQL for the central log (skips, or fails in CI:
    ``tests/pg_testing.py``); the callable drops it."""
    from contextlib import ExitStack

    from central.store import make_engine

    stack = ExitStack()
    schema = stack.enter_context(pg_schema("sync_central"))
    engine = make_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"})
    drop = stack.close
    return PG_URL, engine, drop
