"""Ledger writes for what the hardware reports: alarms, faults, locker service states."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import (
    OPEN_STATES,
    Holding,
    Locker,
    LockerState,
)
from kiosk.auth import Identity
from kiosk.permissions import Permission
from kiosk.usecases.base import CustodyError, UseCases
from wire.vocabulary import EventType


class HardwareLog:
    """Ledger writes for what the hardware reports: alarms, faults, locker service states.

    Kept apart from :class:`Custody` because nobody is signed in when a door is forced at
    night; these are written by the station's event thread with no actor.
    """

    def __init__(self, custody: UseCases) -> None:
        self._custody = custody

    def record(self, type: str, **payload: Any) -> None:
        with self._custody._tx() as s:
            self._custody._event(s, type, None, None, **payload)

    def _empty_locker(self, s: Session, bank: str, number: int, doing: str) -> Locker:
        """The locker, refusing if any phone is recorded in it (whatever its state says)."""
        locker = s.scalars(
            select(Locker).where(Locker.bank == bank, Locker.number == number)
        ).one_or_none()
        if locker is None:
            raise CustodyError(f"No locker {bank}{number}.")
        inside = s.scalar(
            select(func.count(Holding.id)).where(
                Holding.locker_id == locker.id,
                Holding.state.in_([x.value for x in OPEN_STATES]),
            )
        )
        if inside:
            raise CustodyError(
                f"Locker {bank}{number} holds {inside} phone(s) on record: it cannot be "
                f"{doing}. Release or settle them first."
            )
        return locker

    def set_locker_state(
        self, actor: Identity, bank: str, number: int, state: LockerState, why: str
    ) -> None:
        """Mark an empty locker fault / out of service / free again, with an event."""
        with self._custody._tx() as s:
            self._custody._authorise(s, actor, Permission.LOCKER_SERVICE)
            locker = self._empty_locker(s, bank, number, f"marked {state.value}")
            previous, locker.state = locker.state, state
            self._custody._event(
                s,
                EventType.LOCKER_STATE,
                None,
                None,
                locker=locker.label,
                locker_id=locker.id,
                previous=previous,
                state=state.value,
                why=why,
                by=actor.staff_id,
            )

    def begin_test_unlock(self, actor: Identity, bank: str, number: int) -> None:
        """Record a technician's test pulse *before* it is sent; refuses a locker in use."""
        with self._custody._tx() as s:
            self._custody._authorise(s, actor, Permission.HARDWARE_TEST)
            self._empty_locker(s, bank, number, "opened for a test")
            self._custody._event(
                s,
                EventType.HARDWARE_TEST_UNLOCK,
                None,
                None,
                locker=f"{bank}{number}",
                technician=actor.staff_id,
            )
