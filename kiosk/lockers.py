"""Keep the ledger's lockers in step with the lock banks in the config.

The ``[hardware]`` table says which doors exist; ``[lockers] exam_cabinets`` says which of them
are exam cabinets taking numbered pouches. ``kiosk db upgrade`` (and the demo) call
:func:`sync_lockers`: new doors are added, doors no longer configured are taken out of service
(never deleted: old holdings point at them), and cabinet capacities follow the config.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.audit import append_event
from db.models import Locker, LockerState
from hardware.bundle import HardwareSpec
from kiosk.hardware_config import configured_lockers


@dataclass
class SyncReport:
    added: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)
    resized: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        parts = [
            f"{len(self.added)} added",
            f"{len(self.retired)} out of service",
            f"{len(self.resized)} capacity changed",
        ]
        return "lockers: " + ", ".join(parts)


def sync_lockers(
    session: Session,
    hardware: HardwareSpec,
    exam_cabinets: dict[str, int],
    *,
    station_id: str,
    now: datetime,
) -> SyncReport:
    """Make the locker table match the config. The caller commits."""
    report = SyncReport()
    wanted = {f"{bank}{number}": (bank, number) for bank, number in configured_lockers(hardware)}
    existing = {x.label: x for x in session.scalars(select(Locker))}
    before = {label: x.state for label, x in existing.items()}
    for label, (bank, number) in wanted.items():
        capacity = exam_cabinets.get(label, 1)
        locker = existing.get(label)
        if locker is None:
            session.add(Locker(bank=bank, number=number, capacity=capacity))
            report.added.append(label)
            continue
        if locker.capacity != capacity:
            locker.capacity = capacity
            report.resized.append(label)
        if locker.state == LockerState.OUT_OF_SERVICE:
            locker.state = LockerState.FREE
    for label, locker in existing.items():
        if label not in wanted and locker.state != LockerState.OUT_OF_SERVICE:
            locker.state = LockerState.OUT_OF_SERVICE
            report.retired.append(label)
    session.flush()
    states = {str(x.id): x.state.value for x in session.scalars(select(Locker).order_by(Locker.id))}
    changed = any(existing[k].state != v for k, v in before.items() if k in existing)
    if report.added or report.retired or report.resized or changed:
        append_event(
            session,
            station_id=station_id,
            type="lockers.synced",
            occurred_at=now,
            payload={
                "added": report.added,
                "retired": report.retired,
                "resized": report.resized,
                "lockers": states,  # every locker id -> state, for kiosk.audit_replay
            },
        )
    return report
