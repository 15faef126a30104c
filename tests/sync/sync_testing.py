"""Shared sync-test helpers: the station, a fixed clock, events, counts, the rig."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fake_central import FakeCentral
from sqlalchemy import func, select

from db.audit import append_event
from db.models import Event, Locker, OutboxRow, Pupil, Staff
from kiosk.context import KioskContext
from kiosk.sync.client import CentralClient
from kiosk.sync.relay import Relay

T0 = datetime(2026, 11, 17, 12, 0, tzinfo=UTC)
STATION = "demo-office"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def add_events(ctx: KioskContext, n: int, when: datetime = T0) -> None:
    """``n`` more events of the demo station, referring to real pupils, staff and lockers."""
    with ctx.sessions.begin() as s:
        pupil = s.scalars(select(Pupil.id)).first()
        staff = s.scalars(select(Staff.id)).first()
        locker = s.scalars(select(Locker.id)).first()
        for i in range(n):
            append_event(
                s,
                station_id=STATION,
                type="test.event",
                occurred_at=when + timedelta(seconds=i),
                actor_id=staff,
                payload={"i": i, "pupil_id": pupil, "locker_id": locker},
            )


def ledger_head(ctx: KioskContext) -> int:
    """The newest seq in the kiosk's ledger, which is also its number of events.

    The demo seed's event count changes whenever the seed does (PINs set as events, imports,
    lockers), so tests measure it here instead of typing it in; the seqs must run 1..head
    without a gap for "count" and "newest seq" to be the same figure.
    """
    with ctx.sessions() as s:
        head = s.scalar(select(func.max(Event.seq))) or 0
        count = s.scalar(select(func.count()).select_from(Event)) or 0
    assert head == count, f"ledger seqs have gaps: newest {head}, {count} events"
    return head


def kiosk_counts(ctx: KioskContext) -> tuple[int, int]:
    """(events on the kiosk, outbox rows marked sent)."""
    with ctx.sessions() as s:
        events = s.scalar(select(func.count()).select_from(Event)) or 0
        sent = s.scalar(
            select(func.count()).select_from(OutboxRow).where(OutboxRow.sent_at.is_not(None))
        )
        return events, sent or 0


@dataclass
class Rig:
    kiosk: KioskContext
    central: FakeCentral
    client: CentralClient
    relay: Relay
    waits: list[float]
    clock: Clock


def write_config(data_dir: Path, central_url: str, *, mode: int = 0o600, **sync: object) -> Path:
    """A kiosk TOML for the demo ledger in ``data_dir`` with a ``[sync]`` table, and its
    credential file (``mode``)."""
    credential = data_dir / "central.credential"
    credential.write_text(str(sync.pop("credential", "s3cret-credential")) + "\n")
    credential.chmod(mode)
    lines = [
        "[station]",
        f'id = "{STATION}"',
        'data_dir = "."',
        "[sync]",
        f'central_url = "{central_url}"',
        'credential_file = "central.credential"',
    ]
    lines += [f"{k} = {v!r}" if isinstance(v, str) else f"{k} = {v}" for k, v in sync.items()]
    path = data_dir / "kiosk.toml"
    path.write_text("\n".join(lines) + "\n")
    return path
