"""Holdings to check after a locker was forced open with a phone inside (issue 14).

The station flags every open holding in a forced-open locker (``check_required_since``
plus a ``holding.check_required`` event); the next staff sign-in is shown
:meth:`CheckUseCases.holdings_to_check` and must either confirm the phone is still there
or record it missing, which is an incident (seed 003 §9.1: all incidents MUST be recorded).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import OPEN_STATES, Holding, HoldingKind, Incident, Locker
from kiosk.auth import Identity
from kiosk.permissions import Permission
from kiosk.usecases.base import CustodyError, UseCases
from kiosk.views import HoldingView
from wire.vocabulary import EventType

MISSING_CATEGORY = "missing_after_forced_open"


class CheckUseCases(UseCases):
    def acknowledge_alarm(self, actor: Identity, alarms: list[str]) -> None:
        """Record who acknowledged which door alarms (issue 9: alarm acknowledgements name the
        person). ``alarms`` are the station's alarm keys (``forced:A7``: lockers, no pupils)."""
        with self._tx() as s:
            self._authorise(s, actor, Permission.ACKNOWLEDGE_ALARM)
            self._event(s, EventType.ALARM_ACKNOWLEDGED, actor, None, alarms=sorted(alarms))

    def flag_forced_open(self, bank: str, number: int) -> list[int]:
        """Flag every open holding in locker ``bank``/``number``; returns their ids.

        Written by the station's event thread with no actor (nobody is signed in at night).
        """
        with self._tx() as s:
            locker = s.scalars(
                select(Locker).where(Locker.bank == bank, Locker.number == number)
            ).one_or_none()
            if locker is None:
                return []
            flagged = []
            for h in s.scalars(
                select(Holding).where(
                    Holding.locker_id == locker.id,
                    Holding.state.in_([x.value for x in OPEN_STATES]),
                    Holding.check_required_since.is_(None),
                )
            ):
                h.check_required_since = self._now()
                self._event(s, EventType.HOLDING_CHECK_REQUIRED, None, h, reason="forced_open")
                flagged.append(h.id)
            return flagged

    def holdings_to_check(self, actor: Identity) -> list[HoldingView]:
        """Holdings whose locker was forced open and nobody has checked since (oldest first).

        The list names pupils, so it is pupil data: only a role allowed to see holdings
        (``VIEW_HOLDINGS``) gets it, decided here and not by the screen (a technician who
        signs in next is not shown it; DESIGN "Technicians see no pupil data").
        """
        with self.sessions() as s:
            self._authorise(s, actor, Permission.VIEW_HOLDINGS)
            query = select(Holding).where(Holding.check_required_since.is_not(None))
            if self._exam_deposits_only(s, actor):
                query = query.where(Holding.kind == HoldingKind.EXAM_DEPOSIT)
            return [
                HoldingView.of(h)
                for h in s.scalars(query.order_by(Holding.check_required_since, Holding.id))
            ]

    def _flagged(self, actor: Identity, s: Session, holding_id: int) -> Holding:
        self._authorise(s, actor, Permission.VIEW_HOLDINGS)
        h = self._visible(s, actor, self._holding(s, holding_id))
        if h.check_required_since is None:
            raise CustodyError(f"Holding {holding_id} has no check pending.")
        return h

    def confirm_still_there(self, actor: Identity, holding_id: int) -> None:
        """Staff opened/looked and the phone is there: the flag is cleared, recorded."""
        with self._tx() as s:
            h = self._flagged(actor, s, holding_id)
            h.check_required_since = None
            self._event(s, EventType.HOLDING_CHECKED, actor, h, found=True)

    def record_missing(self, actor: Identity, holding_id: int, note: str = "") -> int:
        """The phone is gone: an incident is recorded (returns its id) and the flag cleared."""
        with self._tx() as s:
            h = self._flagged(actor, s, holding_id)
            h.check_required_since = None
            incident = Incident(
                holding_id=h.id,
                pupil_id=h.pupil_id,
                category=MISSING_CATEGORY,
                actions=["inform_dsl", "inform_parents"],
                summary=note.strip(),
                created_at=self._now(),
                created_by_id=actor.staff_id,
            )
            s.add(incident)
            s.flush()
            self._event(s, EventType.HOLDING_CHECKED, actor, h, found=False)
            self._event(
                s,
                EventType.INCIDENT_RECORDED,
                actor,
                h,
                incident_id=incident.id,
                category=MISSING_CATEGORY,
            )
            return incident.id
