"""Exam deposits: sessions, the register, candidate self-service deposits, the
cabinet hand-back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

import policies
from db.audit import append_event
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
from kiosk.views import ExamDepositView, ExamSessionView, HoldingView, PupilView
from wire.vocabulary import EventType, ExamSessionState

# The tables behind the models, for the deposit's plain statements (no ORM objects per pouch).
_HOLDINGS = cast(Table, Holding.__table__)
_LOCKERS = cast(Table, Locker.__table__)
_PUPILS = cast(Table, Pupil.__table__)
_SESSIONS = cast(Table, ExamSession.__table__)
#: What a deposit reads of a candidate: who they are and their candidate number, no more.
_CANDIDATE = select(
    _PUPILS.c.id,
    _PUPILS.c.mis_id,
    _PUPILS.c.given_name,
    _PUPILS.c.family_name,
    _PUPILS.c.year_group,
    _PUPILS.c.tutor_group,
    _PUPILS.c.candidate_number,
    _PUPILS.c.left_at,
)
_SESSION = select(
    _SESSIONS.c.id,
    _SESSIONS.c.name,
    _SESSIONS.c.state,
    _SESSIONS.c.locker_id,
    _SESSIONS.c.candidates,
)
_POUCH_DEVICE = "phone (exam pouch)"
#: Cabinet states no exam session is opened on or moved to (a technician clears them).
NOT_WORKING_CABINET = (LockerState.FAULT, LockerState.OUT_OF_SERVICE)
_OPEN = [x.value for x in OPEN_STATES]
# Built once: a statement built per candidate cost more CPU than running it (issue 15).
_SESSION_BY_ID = _SESSION.where(_SESSIONS.c.id == bindparam("id"))
_CANDIDATE_BY_ID = _CANDIDATE.where(_PUPILS.c.id == bindparam("id"))
_CANDIDATE_BY_CARD = _CANDIDATE.where(_PUPILS.c.card_uid == bindparam("card"))
_DEPOSITED = (
    select(_HOLDINGS.c.pouch_number)
    .where(
        _HOLDINGS.c.exam_session_id == bindparam("session"),
        _HOLDINGS.c.pupil_id == bindparam("pupil"),
        _HOLDINGS.c.state.in_(_OPEN),
    )
    .limit(1)
)
_CABINET_FOR_UPDATE = (
    select(_LOCKERS.c.id, _LOCKERS.c.bank, _LOCKERS.c.number, _LOCKERS.c.capacity, _LOCKERS.c.state)
    .where(_LOCKERS.c.id == bindparam("id"))
    .with_for_update()
)
_OCCUPY = (
    update(_LOCKERS).where(_LOCKERS.c.id == bindparam("cabinet")).values(state=LockerState.OCCUPIED)
)
_IN_CABINET = (_HOLDINGS.c.locker_id == bindparam("cabinet")) & _HOLDINGS.c.state.in_(_OPEN)
# Numbered pouches only: a phone put in the cabinet by locker id has none, and counting it
# would hide a gap from :meth:`ExamUseCases._free_pouch`'s count == max shortcut.
_POUCHES_TOP = select(
    func.count(_HOLDINGS.c.pouch_number), func.max(_HOLDINGS.c.pouch_number)
).where(_IN_CABINET)
_POUCHES = select(_HOLDINGS.c.pouch_number).where(_IN_CABINET)
_INSERT_HOLDING = insert(_HOLDINGS)


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
            # A cabinet marked fault or out of service stays so until a technician clears it
            # (DESIGN.md "Physical truth vs. database truth"); its deposits would be refused,
            # so a session is never opened on it (nor moved to it: exam_admin).
            working = [c for c in cabinets if c.state not in NOT_WORKING_CABINET]
            if not working:
                marked = ", ".join(f"{c.label} is marked {c.state.value}" for c in cabinets)
                raise CustodyError(
                    f"No working exam cabinet: {marked}. Ask a technician to check it and mark it "
                    "in service again, or configure another cabinet."
                )
            cabinets = working
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
            self._check_switched_off(switched_off_confirmed_by)
            conn = s.connection()
            session = self._deposit_session(conn, session_id)
            pupil = conn.execute(_CANDIDATE_BY_ID, {"id": pupil_id}).first()
            if pupil is None:
                raise CustodyError(f"No pupil with id {pupil_id}.")
            return self._pouch_deposit(s, conn, actor, session, pupil, switched_off_confirmed_by)

    def _check_switched_off(self, confirmed_by: int | None) -> None:
        """``phones.switched_off_not_silent`` for an exam deposit (see :meth:`exam_deposit`);
        no statement, so the rush pays nothing for it."""
        rule = self.profile.phones.switched_off_not_silent
        if rule.value and confirmed_by is None:
            raise CustodyError(
                "The exams officer must confirm the phones go in switched off (off, not "
                f"silent) [phones.switched_off_not_silent: {rule.source}]."
            )

    def exam_deposit_by_card(
        self,
        actor: Identity | None,
        *,
        session_id: int,
        card_uid: str,
        switched_off_confirmed_by: int | None = None,
    ) -> ExamDepositView | None:
        """The self-service hatch's one step per candidate: the card read, the deposit and
        the candidate number in one transaction (None: not a pupil's card, e.g. staff).

        Why one: the screen asked three (``pupil_by_card``, :meth:`exam_deposit`,
        ``candidate_number``), each a transaction of its own, for a 300-candidate rush
        (issue 15). What a deposit checks is unchanged; the door step stays separate (the
        depositing state is committed before the cabinet is pulsed, DESIGN.md "Commit
        first, then pulse"). ``switched_off_confirmed_by`` as for :meth:`exam_deposit`.
        """
        with self._tx() as s:
            self._authorise(s, actor, Permission.EXAM_DEPOSIT, unattended=True)
            conn = s.connection()
            # The card first: a staff badge leaves self-service (the screen asks for a PIN)
            # even when the session can take no more deposits.
            pupil = conn.execute(_CANDIDATE_BY_CARD, {"card": card_uid.upper()}).first()
            if pupil is None:
                return None
            self._check_switched_off(switched_off_confirmed_by)
            session = self._deposit_session(conn, session_id)
            holding = self._pouch_deposit(s, conn, actor, session, pupil, switched_off_confirmed_by)
            # What an exam shows of a candidate (PupilView.for_exam): no card, contacts or
            # adjustments (DESIGN "Who uses it").
            view = PupilView(
                pupil.id,
                pupil.mis_id,
                holding.pupil_name,
                pupil.year_group,
                pupil.tutor_group,
                None,
                (),
            )
            return ExamDepositView(view, holding, pupil.candidate_number)

    def _deposit_session(self, conn: Connection, session_id: int) -> Any:
        """The session a deposit goes into, as columns; the policy asked if it takes one."""
        session = conn.execute(_SESSION_BY_ID, {"id": session_id}).first()
        if session is None:
            raise CustodyError(f"No exam session {session_id}.")
        self._ask(
            policies.ExamDepositRequest(
                now=self._local(self._now()),
                session_open=session.state == ExamSessionState.OPEN,
            )
        )
        return session

    def _pouch_deposit(
        self,
        s: Session,
        conn: Connection,
        actor: Identity | None,
        session: Any,
        pupil: Any,
        switched_off_confirmed_by: int | None,
    ) -> HoldingView:
        """The next free pouch of the session's cabinet becomes ``depositing`` for ``pupil``.

        Plain SQL on the session's connection, no ORM objects (issue 15, exam rush: the
        unit of work cost more than the statements). The statements and checks are those
        of the ORM version: refuse a stranger and a second deposit, lock the cabinet row,
        refuse a cabinet under test, take the lowest free pouch, write the holding and its
        chained event in this transaction (the pulse follows the commit).
        """
        name = f"{pupil.given_name} {pupil.family_name}"
        if session.candidates and pupil.id not in session.candidates:
            raise CustodyError(f"{name} is not a candidate in {session.name}.")
        self._on_roll(name, pupil.left_at, "an exam deposit")
        if session.locker_id is None:  # ``kiosk import exams`` leaves the cabinet to choose
            raise CustodyError(
                f"{session.name} has no cabinet yet: the exams officer chooses one (edit the "
                "session), then tap again."
            )
        # Locked (PostgreSQL FOR UPDATE) like every locker a deposit takes, so a
        # technician's test reservation and this deposit cannot both win.
        cabinet = conn.execute(_CABINET_FOR_UPDATE, {"id": session.locker_id}).one()
        # Asked only under the cabinet's lock: on PostgreSQL two taps of one card at once
        # (two stations, or a retry) would otherwise both find no deposit and both take a
        # pouch. The second now waits for the first's commit and sees its pouch.
        existing = conn.execute(_DEPOSITED, {"session": session.id, "pupil": pupil.id}).first()
        if existing is not None:
            raise CustodyError(f"{name} has already deposited (pouch {existing.pouch_number}).")
        label = f"{cabinet.bank}{cabinet.number}"
        if cabinet.state == LockerState.TESTING:
            raise CustodyError(
                f"Cabinet {label} is being tested by a technician: wait until the test ends, "
                "then tap again."
            )
        if cabinet.state in NOT_WORKING_CABINET:
            # Physical truth first (DESIGN.md "Physical truth vs. database truth"): a cabinet
            # marked fault (e.g. its door did not open on the last deposit) or out of service
            # stays so until a technician clears it, as a confiscation never takes a locker
            # that is not free (``_free_locker``); a deposit must not turn it ``occupied``.
            what = "fault" if cabinet.state == LockerState.FAULT else "out of service"
            raise CustodyError(
                f"Cabinet {label} is marked {what}: the exams officer puts the remaining "
                "phones in another cabinet (moves this session while it has no pouches, or "
                "opens a session on another cabinet) and asks a technician to check this one."
            )
        pouch = self._free_pouch(conn, cabinet.id, cabinet.capacity)
        if pouch is None:
            raise CustodyError(f"Cabinet {label} is full: open another cabinet.")
        if cabinet.state != LockerState.OCCUPIED:
            conn.execute(_OCCUPY, {"cabinet": cabinet.id})
        now = self._now()
        key = conn.execute(
            _INSERT_HOLDING,
            {
                "kind": HoldingKind.EXAM_DEPOSIT,
                "state": HoldingState.DEPOSITING,
                "pupil_id": pupil.id,
                "device_description": _POUCH_DEVICE,
                "locker_id": cabinet.id,
                "pouch_number": pouch,
                "exam_session_id": session.id,
                "switched_off_confirmed": switched_off_confirmed_by is not None,
                "created_at": now,
                "created_by_id": actor.staff_id if actor else None,
            },
        ).inserted_primary_key
        assert key is not None  # a single-row INSERT always has one
        holding_id = key[0]
        append_event(
            s,
            station_id=self.station_id,
            type=EventType.HOLDING_DEPOSITING,
            occurred_at=now,
            actor_id=actor.staff_id if actor else None,
            holding_id=holding_id,
            payload={
                "kind": HoldingKind.EXAM_DEPOSIT,
                "session_id": session.id,
                "pouch": pouch,
                "pupil_id": pupil.id,
                "locker_id": cabinet.id,
                "switched_off_confirmed_by": switched_off_confirmed_by,
            },
        )
        return HoldingView(
            id=holding_id,
            kind=HoldingKind.EXAM_DEPOSIT,
            state=HoldingState.DEPOSITING,
            pupil_id=pupil.id,
            pupil_name=name,
            tutor_group=pupil.tutor_group,
            device_description=_POUCH_DEVICE,
            category=None,
            locker=label,
            locker_bank=cabinet.bank,
            locker_number=cabinet.number,
            pouch_number=pouch,
            offence_number=0,
            created_at=now,
            held_at=None,
            released_at=None,
            collector_name=None,
            id_type_seen=None,
            follow_ups=(),
            requires_parent_collection=False,
            forbids_viewing=False,
            parent_informed=False,
            exam_session_id=session.id,
        )

    @staticmethod
    def _free_pouch(conn: Connection, cabinet_id: int, capacity: int) -> int | None:
        """The lowest free pouch number of the cabinet, or None if it is full.

        One aggregate first: pouches are handed out lowest first, so in a rush the ones in
        use are 1..k and the next is k + 1 (count == max), found without reading k rows into
        Python for every candidate (issue 15). Only when there is a gap (a deposit aborted,
        a pouch released early) are the numbers read to find the lowest free one. Nothing is
        cached between deposits, so an edited cabinet or session cannot leave a stale answer;
        and max + 1 is above every number in use, so it is never a pouch already taken.
        """
        count, top = conn.execute(_POUCHES_TOP, {"cabinet": cabinet_id}).one()
        top = top or 0
        if count == top:
            return top + 1 if top < capacity else None
        used = set(conn.scalars(_POUCHES, {"cabinet": cabinet_id}))
        return next((n for n in range(1, capacity + 1) if n not in used), None)

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
