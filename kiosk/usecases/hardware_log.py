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

    def record(self, type: str, *, as_actor: Identity | None = None, **payload: Any) -> None:
        """Write what the hardware reported; ``as_actor`` names the person whose action it
        answers (a technician's test pulse), None for what happens by itself (a forced door)."""
        with self._custody._tx() as s:
            self._custody._event(s, type, as_actor, None, **payload)

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
        """Record a technician's test pulse *before* it is sent, with them as the actor.

        Refuses a locker that holds anything on record (issue 9: a test never opens a locker
        with a phone or safeguarding evidence in it) and one taken out of service (someone
        decided it must stay shut; a ``fault`` locker may be tested, that is how it is fixed).
        The same check for the technician screen and ``kiosk hw test``.
        """
        with self._custody._tx() as s:
            self._custody._authorise(s, actor, Permission.HARDWARE_TEST)
            locker = self._empty_locker(s, bank, number, "opened for a test")
            if locker.state == LockerState.OUT_OF_SERVICE:
                raise CustodyError(
                    f"Locker {bank}{number} is out of service: it is not opened for a test. "
                    "Put it back in service first if it should be tested."
                )
            self._custody._event(
                s,
                EventType.HARDWARE_TEST_UNLOCK,
                actor,
                None,
                locker=f"{bank}{number}",
                technician=actor.staff_id,
            )
