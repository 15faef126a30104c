"""Exam deposits: sessions, the register, candidate self-service deposits, the
cabinet hand-back.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

import policies
from db.models import (
    OPEN_STATES,
    ExamSession,
    Holding,
    HoldingKind,
    HoldingState,
    Locker,
    LockerState,
    Pupil,
)
from kiosk.auth import Identity
from kiosk.permissions import Permission
from kiosk.usecases.base import CustodyError
from kiosk.usecases.releases import ReleaseUseCases
from kiosk.views import ExamSessionView, HoldingView, PupilView
from wire.vocabulary import EventType, ExamSessionState


class ExamUseCases(ReleaseUseCases):
    """Exam deposits: sessions, the register, candidate self-service deposits, the
    cabinet hand-back.
    """

    # ------------------------------------------------------------------ exams
    def open_exam_session(
        self,
        actor: Identity,
        *,
        name: str,
        starts_at: datetime,
        ends_at: datetime,
        room: str = "",
        locker_id: int | None = None,
        candidate_ids: list[int] | None = None,
    ) -> int:
        """Open a deposit session on an exam cabinet (a locker with capacity > 1)."""
        if ends_at <= starts_at:
            raise CustodyError("The exam must end after it starts.")
        with self._tx() as s:
            self._authorise(s, actor, Permission.EXAM_SESSION)
            cabinets = (
                [s.get(Locker, locker_id)]
                if locker_id
                else list(s.scalars(select(Locker).where(Locker.capacity > 1).order_by(Locker.id)))
            )
            cabinets = [c for c in cabinets if c is not None and c.capacity > 1]
            if not cabinets:
                raise CustodyError("No exam cabinet (a locker with capacity > 1) is configured.")
            # One session per cabinet: handing back one session's pouches opens the door on
            # every pouch inside, so a cabinet still holding another session's is not used.
            free = [c for c in cabinets if not self._cabinet_in_use(s, c)]
            if not free:
                raise CustodyError(
                    f"Cabinet {cabinets[0].label} is still in use by another exam session: hand "
                    "its pouches back first, or configure another cabinet."
                )
            cabinet = free[0]
            session = ExamSession(
                name=name,
                room=room,
                starts_at=starts_at,
                ends_at=ends_at,
                locker_id=cabinet.id,
                state=ExamSessionState.OPEN,
                opened_by_id=actor.staff_id,
                candidates=list(candidate_ids or []),
            )
            s.add(session)
            s.flush()
            self._event(
                s,
                EventType.EXAM_OPENED,
                actor,
                None,
                session_id=session.id,
                candidates=len(session.candidates),
            )
            return session.id

    def _cabinet_in_use(self, s: Session, cabinet: Locker) -> bool:
        open_session = s.scalar(
            select(func.count(ExamSession.id)).where(
                ExamSession.locker_id == cabinet.id, ExamSession.state == ExamSessionState.OPEN
            )
        )
        return bool(open_session) or bool(self._open_in_locker(s, cabinet.id))

    def _open_in_locker(self, s: Session, locker_id: int) -> list[Holding]:
        return list(
            s.scalars(
                select(Holding).where(
                    Holding.locker_id == locker_id,
                    Holding.state.in_([x.value for x in OPEN_STATES]),
                )
            )
        )

    def exam_sessions(self) -> list[ExamSessionView]:
        """Sessions with their times (no pupil data), for the signage and the exams screen."""
        with self.sessions() as s:
            cabinets = {c.id: c.label for c in s.scalars(select(Locker).where(Locker.capacity > 1))}
            return [
                ExamSessionView.of(e, cabinets.get(e.locker_id or 0, ""))
                for e in s.scalars(select(ExamSession).order_by(ExamSession.starts_at))
            ]

    def exam_register(
        self, actor: Identity, session_id: int
    ) -> list[tuple[PupilView, HoldingView | None]]:
        """Each candidate with their deposit, or None if they have not deposited yet."""
        with self.sessions() as s:
            self._authorise(s, actor, Permission.VIEW_HOLDINGS)
            session = s.get(ExamSession, session_id)
            if session is None:
                raise CustodyError(f"No exam session {session_id}.")
            deposits = {
                h.pupil_id: h
                for h in s.scalars(
                    select(Holding).where(
                        Holding.exam_session_id == session_id,
                        Holding.state != HoldingState.ABORTED,
                    )
                )
            }
            # One IN query for the candidates, not one per candidate (issue 15, exam rush).
            pupils = {
                p.id: p
                for p in s.scalars(select(Pupil).where(Pupil.id.in_(list(session.candidates))))
            }
            rows = []
            for pid in session.candidates:
                pupil = pupils.get(pid)
                if pupil is not None:
                    h = deposits.get(pid)
                    rows.append((PupilView.of(pupil), HoldingView.of(h) if h else None))
            return rows

    def exam_deposit(
        self,
        actor: Identity | None,
        *,
        session_id: int,
        pupil_id: int,
        switched_off_confirmed_by: int | None = None,
    ) -> HoldingView:
        """A candidate deposits their phone into the session's cabinet; a pouch number is given.

        ``actor`` None is the self-service screen the exams officer opened.

        ``switched_off_confirmed_by``: the member of staff (staff id) who confirmed that the
        phones go into the pouches switched off. Where the profile wants phones off, not
        silent (``phones.switched_off_not_silent``), a deposit without it is refused, as for
        safekeeping (issue 14). The exams officer confirms once for the session when opening
        self-service (so a candidate still has one tap): the rule is about the phone's state
        ("must be turned off (not placed on silent)", 002_2c79a8926c881883.txt § Mobile
        Devices), not about one check per phone, and candidates deposit under the
        invigilator's eye ("Phones and devices must not be taken into examinations",
        000_65bd33aa88e9eb3e.txt § Pupils' use of personal devices). Recorded on the holding
        and in its ``holding.depositing`` event.
        """
        with self._tx() as s:
            self._authorise(s, actor, Permission.EXAM_DEPOSIT, unattended=True)
            rule = self.profile.phones.switched_off_not_silent
            if rule.value and switched_off_confirmed_by is None:
                raise CustodyError(
                    "The exams officer must confirm the phones go in switched off (off, not "
                    f"silent) [phones.switched_off_not_silent: {rule.source}]."
                )
            session = s.get(ExamSession, session_id)
            if session is None:
                raise CustodyError(f"No exam session {session_id}.")
            self._ask(
                policies.ExamDepositRequest(
                    now=self._local(self._now()),
                    session_open=session.state == ExamSessionState.OPEN,
                )
            )
            pupil = self._pupil(s, pupil_id)
            if session.candidates and pupil.id not in session.candidates:
                raise CustodyError(f"{pupil.display_name} is not a candidate in {session.name}.")
            # The pouch number only (a column, not a Holding object to build per candidate).
            existing = s.execute(
                select(Holding.pouch_number)
                .where(
                    Holding.exam_session_id == session.id,
                    Holding.pupil_id == pupil.id,
                    Holding.state.in_([x.value for x in OPEN_STATES]),
                )
                .limit(1)
            ).first()
            if existing is not None:
                raise CustodyError(
                    f"{pupil.display_name} has already deposited (pouch {existing.pouch_number})."
                )
            # Locked (PostgreSQL FOR UPDATE) like every locker a deposit takes, so a
            # technician's test reservation and this deposit cannot both win.
            cabinet = s.get(Locker, session.locker_id, with_for_update=True, populate_existing=True)
            assert cabinet is not None
            if cabinet.state == LockerState.TESTING:
                raise CustodyError(
                    f"Cabinet {cabinet.label} is being tested by a technician: wait until the "
                    "test ends, then tap again."
                )
            used = set(
                s.scalars(
                    select(Holding.pouch_number).where(
                        Holding.locker_id == cabinet.id,
                        Holding.state.in_([x.value for x in OPEN_STATES]),
                    )
                )
            )
            free = [n for n in range(1, cabinet.capacity + 1) if n not in used]
            if not free:
                raise CustodyError(f"Cabinet {cabinet.label} is full: open another cabinet.")
            cabinet.state = LockerState.OCCUPIED
            holding = Holding(
                kind=HoldingKind.EXAM_DEPOSIT,
                state=HoldingState.DEPOSITING,
                pupil=pupil,
                device_description="phone (exam pouch)",
                locker=cabinet,
                pouch_number=free[0],
                exam_session_id=session.id,
                switched_off_confirmed=switched_off_confirmed_by is not None,
                created_at=self._now(),
                created_by_id=actor.staff_id if actor else None,
            )
            self._start_deposit(
                s,
                holding,
                actor,
                kind=holding.kind,
                session_id=session.id,
                pouch=holding.pouch_number,
                pupil_id=pupil.id,
                locker_id=cabinet.id,
                switched_off_confirmed_by=switched_off_confirmed_by,
            )
            return HoldingView.of(holding)

    def end_exam_session(self, actor: Identity, session_id: int) -> None:
        with self._tx() as s:
            self._authorise(s, actor, Permission.EXAM_SESSION)
            session = s.get(ExamSession, session_id)
            if session is None:
                raise CustodyError(f"No exam session {session_id}.")
            if session.state != ExamSessionState.OPEN:
                raise CustodyError(f"{session.name} has already ended.")
            session.state = ExamSessionState.ENDED
            self._event(s, EventType.EXAM_ENDED, actor, None, session_id=session.id)

    def _session_holdings(self, s: Session, session_id: int, state: HoldingState) -> list[Holding]:
        if s.get(ExamSession, session_id) is None:
            raise CustodyError(f"No exam session {session_id}.")
        query = select(Holding).where(Holding.exam_session_id == session_id, Holding.state == state)
        return list(s.scalars(query.order_by(Holding.pouch_number)))

    def begin_exam_session_release(self, actor: Identity, session_id: int) -> list[HoldingView]:
        """Every held pouch of an ended session -> ``releasing`` to its candidate, in one go.

        All or nothing: if policy refuses one (e.g. the session has not ended), none moves.
        The station then opens the cabinet; :meth:`complete_exam_session_release` follows
        when its door closes, or :meth:`cancel_release` per pouch if it did not open.
        """
        with self._tx() as s:
            self._authorise(s, actor, Permission.EXAM_SESSION)
            pouches = self._session_holdings(s, session_id, HoldingState.HELD)
            # A hand-back whose door was not closed in time is picked up again.
            resumed = self._session_holdings(s, session_id, HoldingState.RELEASING)
            batch = {h.id for h in pouches + resumed}
            # Once per cabinet, not once per pouch: each look lists the whole cabinet, so per
            # pouch it was O(n^2) for a 300-pouch hand-back (issue 15, bulk hand-back O(n)).
            by_locker = {h.locker_id or 0: h for h in pouches + resumed}
            for locker_id, h in by_locker.items():
                others = [x for x in self._open_in_locker(s, locker_id) if x.id not in batch]
                if others:
                    raise CustodyError(
                        f"Cabinet {h.locker.label if h.locker else '?'} also holds "
                        f"{len(others)} pouch(es) not being handed back (another session, a "
                        "safeguarding hold or an unfinished deposit): opening it would hand "
                        "those over too. Release or settle them first."
                    )
            for h in pouches:
                self._release_decision(s, h, policies.CollectorFacts(kind="pupil"), strict=True)
                self._move(
                    s,
                    h,
                    HoldingState.RELEASING,
                    actor,
                    collector_kind="pupil",
                    collector_contact_id=None,
                    bulk=True,
                )
                h.releasing_at, h.collector_kind = self._now(), "pupil"
            return [HoldingView.of(h) for h in pouches + resumed]

    def complete_exam_session_release(self, actor: Identity, session_id: int) -> list[HoldingView]:
        """The cabinet was opened and closed again: the pouches went back to the candidates."""
        with self._tx() as s:
            self._authorise(s, actor, Permission.EXAM_SESSION)
            pouches = self._session_holdings(s, session_id, HoldingState.RELEASING)
            for h in pouches:
                self._move(s, h, HoldingState.RELEASED, actor, bulk=True)
                h.released_at = self._now()
                h.released_by_id = actor.staff_id if actor else None
            for locker in {h.locker_id: h.locker for h in pouches}.values():
                self._free_locker_if_empty(s, locker)
            session = s.get(ExamSession, session_id)
            assert session is not None
            session.state = ExamSessionState.RELEASED
            self._event(
                s, EventType.EXAM_RELEASED, actor, None, session_id=session_id, count=len(pouches)
            )
            return [HoldingView.of(h) for h in pouches]
