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
        # FOR UPDATE (PostgreSQL): a deposit choosing this locker waits for us and then sees
        # the state we leave it in; SQLite serialises writers anyway.
        locker = s.scalars(
            select(Locker).where(Locker.bank == bank, Locker.number == number).with_for_update()
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

    def begin_test_unlock(self, actor: Identity, bank: str, number: int) -> LockerState:
        """Check and reserve a locker for a technician's test pulse, in one transaction, and
        record the pulse *before* it is sent, with them as the actor. Returns the state to put
        back with :meth:`end_test_unlock`.

        Refuses a locker that holds anything on record (issue 9: a test never opens a locker
        with a phone or safeguarding evidence in it), one taken out of service (someone
        decided it must stay shut; a ``fault`` locker may be tested, that is how it is fixed)
        and one already under test. Why reserve: the check and the pulse are separate steps;
        a deposit starting between them would put a phone in the locker the pulse then opens.
        The locker is ``testing`` from this commit until :meth:`end_test_unlock`, and a
        deposit only ever takes a ``free`` locker. The same check for the technician screen
        and ``kiosk hw test``.
        """
        with self._custody._tx() as s:
            self._custody._authorise(s, actor, Permission.HARDWARE_TEST)
            locker = self._empty_locker(s, bank, number, "opened for a test")
            if locker.state == LockerState.OUT_OF_SERVICE:
                raise CustodyError(
                    f"Locker {bank}{number} is out of service: it is not opened for a test. "
                    "Put it back in service first if it should be tested."
                )
            if locker.state == LockerState.TESTING:
                raise CustodyError(f"Locker {bank}{number} is already being tested.")
            previous = LockerState(locker.state)
            locker.state = LockerState.TESTING
            self._custody._event(
                s,
                EventType.HARDWARE_TEST_UNLOCK,
                actor,
                None,
                locker=f"{bank}{number}",
                locker_id=locker.id,
                previous=previous.value,
                state=LockerState.TESTING.value,
                technician=actor.staff_id,
            )
            return previous

    def end_test_unlock(
        self, actor: Identity, bank: str, number: int, previous: LockerState, outcome: str
    ) -> None:
        """Record the pulse's outcome and give the locker back the state it had before the
        test (it was reserved by :meth:`begin_test_unlock`), in one transaction."""
        with self._custody._tx() as s:
            locker = s.scalars(
                select(Locker).where(Locker.bank == bank, Locker.number == number).with_for_update()
            ).one()
            if locker.state == LockerState.TESTING:
                locker.state = previous
            self._custody._event(
                s,
                EventType.HARDWARE_TEST_UNLOCK_RESULT,
                actor,
                None,
                locker=f"{bank}{number}",
                locker_id=locker.id,
                state=LockerState(locker.state).value,
                outcome=outcome,
            )
