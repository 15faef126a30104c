"""Custody use-cases: every way a phone comes into and leaves the school's hands.

Each use-case checks the signed-in person's permission, asks the policy engine, and on
refusal raises :class:`PolicyRefused` carrying the decision (reasons with profile clause and
seed citation) for the UI to show. Every state change writes its event and outbox row in the
same transaction as the change itself. Lock pulses are *not* sent here: the station commits a
``depositing``/``releasing`` state first, then pulses, then confirms with the door sensor
(DESIGN.md, "Commit first, then pulse").
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload, sessionmaker

import policies
from db.audit import append_event
from db.models import (
    OPEN_STATES,
    TRANSITIONS,
    Contact,
    ExamSession,
    Holding,
    HoldingKind,
    HoldingState,
    Incident,
    Locker,
    LockerState,
    Pupil,
)
from kiosk.auth import AuthError, Identity, LockoutPolicy, sign_in
from kiosk.permissions import Permission
from kiosk.views import HoldingView, LockerView, PupilView


class CustodyError(Exception):
    """A use-case cannot go ahead; the message says why in words staff can act on."""


class PolicyRefused(CustodyError):
    """The school's policy says no. ``decision.reasons`` lists every reason and citation."""

    def __init__(self, decision: policies.Decision) -> None:
        super().__init__(decision.summary())
        self.decision = decision


@dataclass(frozen=True)
class Collector:
    """Who is collecting. ``contact_id`` picks a contact from the pupil's list."""

    kind: str  # "contact" | "pupil" | "police" | "staff"
    contact_id: int | None = None
    name: str | None = None


def utcnow() -> datetime:
    return datetime.now(UTC)


class Custody:
    """The custody use-cases for one station, over one database and one policy profile."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        profile: policies.Profile,
        *,
        station_id: str,
        tz: ZoneInfo,
        clock: Callable[[], datetime] = utcnow,
        lockout: LockoutPolicy | None = None,
    ) -> None:
        self.sessions = sessions
        self.lockout = lockout or LockoutPolicy()
        self.profile = profile
        self.station_id = station_id
        self.tz = tz
        self.clock = clock

    # ------------------------------------------------------------------ plumbing
    @contextmanager
    def _tx(self) -> Iterator[Session]:
        with self.sessions.begin() as session:
            yield session

    def _now(self) -> datetime:
        return self.clock()

    def _ask(self, request: object) -> policies.Decision:
        """The policy decision for ``request``; a refusal raises with every reason."""
        decision = policies.decide(request, self.profile)
        if not decision.allowed:
            raise PolicyRefused(decision)
        return decision

    def _local(self, when: datetime) -> datetime:
        return when.astimezone(self.tz)

    def _event(
        self,
        s: Session,
        type: str,
        actor: Identity | None,
        holding: Holding | None = None,
        **payload: Any,
    ) -> None:
        append_event(
            s,
            station_id=self.station_id,
            type=type,
            occurred_at=self._now(),
            actor_id=actor.staff_id if actor else None,
            holding_id=holding.id if holding else None,
            payload=payload,
        )

    def _holding(self, s: Session, holding_id: int) -> Holding:
        holding = s.get(Holding, holding_id)
        if holding is None:
            raise CustodyError(f"No holding with number {holding_id}.")
        return holding

    def _pupil(self, s: Session, pupil_id: int) -> Pupil:
        pupil = s.get(Pupil, pupil_id)
        if pupil is None:
            raise CustodyError(f"No pupil with id {pupil_id}.")
        return pupil

    def _move(
        self, s: Session, h: Holding, new: HoldingState, actor: Identity | None, **payload: Any
    ) -> None:
        old = HoldingState(h.state)
        if new not in TRANSITIONS[old]:
            raise CustodyError(
                f"Holding {h.id} is {old.value.replace('_', ' ')}; it cannot become "
                f"{new.value.replace('_', ' ')}."
            )
        h.state = new
        now = self._now()
        if new in (HoldingState.RELEASED, HoldingState.HANDED_TO_POLICE, HoldingState.ABORTED):
            h.closed_at = now
        self._event(s, f"holding.{new.value}", actor, h, previous=old.value, **payload)

    def _pupil_facts(self, s: Session, pupil: Pupil, *, exclude: int | None = None) -> Any:
        start, end = policies.term_bounds(self._local(self._now()), self.profile)
        start_at = datetime.combine(start, datetime.min.time(), self.tz)
        end_at = datetime.combine(end, datetime.max.time(), self.tz)
        query = select(func.count(Holding.id)).where(
            Holding.pupil_id == pupil.id,
            Holding.kind == HoldingKind.CONFISCATION,
            Holding.state != HoldingState.ABORTED,
            Holding.created_at >= start_at,
            Holding.created_at <= end_at,
        )
        if exclude is not None:
            query = query.where(Holding.id != exclude)
        prior = s.scalar(query) or 0
        return policies.PupilFacts(
            exemptions=frozenset(pupil.exemptions or ()), prior_offences_this_term=prior
        )

    def _start_deposit(
        self, s: Session, holding: Holding, actor: Identity | None, **payload: Any
    ) -> None:
        """Add a new ``depositing`` holding and its event (the door is pulsed after commit)."""
        s.add(holding)
        s.flush()
        self._event(s, "holding.depositing", actor, holding, **payload)

    def _free_locker(self, s: Session, locker_id: int | None) -> Locker:
        if locker_id is not None:
            locker = s.get(Locker, locker_id)
            if locker is None or locker.state != LockerState.FREE:
                raise CustodyError("That locker is not free. Choose another.")
            return locker
        locker = s.scalars(
            select(Locker)
            .where(Locker.state == LockerState.FREE, Locker.capacity == 1)
            .order_by(Locker.bank, Locker.number)
            .limit(1)
        ).first()
        if locker is None:
            raise CustodyError(
                "No free locker. Release a phone or mark a repaired locker as in service."
            )
        return locker

    def _free_locker_if_empty(self, s: Session, locker: Locker | None) -> None:
        if locker is None or locker.state != LockerState.OCCUPIED:
            return
        s.flush()
        left = s.scalar(
            select(func.count(Holding.id)).where(
                Holding.locker_id == locker.id, Holding.state.in_([x.value for x in OPEN_STATES])
            )
        )
        if not left:
            locker.state = LockerState.FREE

    # ------------------------------------------------------------------ sign-in
    def sign_in(self, badge_uid: str, pin: str) -> Identity:
        """Badge + PIN. Failed attempts are committed (and audited) before the refusal."""
        with self.sessions() as s:
            try:
                identity = sign_in(
                    s,
                    badge_uid=badge_uid,
                    pin=pin,
                    now=self._now(),
                    station_id=self.station_id,
                    policy=self.lockout,
                )
            except AuthError:
                s.commit()
                raise
            s.commit()
            return identity

    def sign_out(self, actor: Identity, why: str = "signed out") -> None:
        with self._tx() as s:
            self._event(s, "auth.signed_out", actor, None, why=why)

    # ------------------------------------------------------------------ reads
    def find_pupils(self, actor: Identity, text: str, limit: int = 20) -> list[PupilView]:
        """Quick search by name, MIS id or tutor group (case-insensitive, any word)."""
        actor.require(Permission.VIEW_HOLDINGS)
        words = [w for w in text.lower().split() if w]
        with self.sessions() as s:
            query = select(Pupil).options(selectinload(Pupil.contacts))
            for w in words:
                like = f"%{w}%"
                query = query.where(
                    func.lower(Pupil.given_name).like(like)
                    | func.lower(Pupil.family_name).like(like)
                    | func.lower(Pupil.mis_id).like(like)
                    | func.lower(Pupil.tutor_group).like(like)
                )
            query = query.order_by(Pupil.family_name, Pupil.given_name).limit(limit)
            return [PupilView.of(p, with_contacts=True) for p in s.scalars(query)]

    def pupil_by_card(self, actor: Identity | None, card_uid: str) -> PupilView | None:
        """Pupil with this card, or None. ``actor`` None is the exam self-service screen."""
        if actor is not None:
            actor.require(Permission.VIEW_HOLDINGS)
        with self.sessions() as s:
            pupil = s.scalars(
                select(Pupil)
                .options(selectinload(Pupil.contacts))
                .where(Pupil.card_uid == card_uid.upper())
            ).one_or_none()
            return PupilView.of(pupil, with_contacts=actor is not None) if pupil else None

    def holdings(self, actor: Identity | None, *, open_only: bool = True) -> list[HoldingView]:
        """Holdings, newest first. ``actor`` None is the trusted CLI on the Pi itself."""
        if actor is not None:
            actor.require(Permission.VIEW_HOLDINGS)
        with self.sessions() as s:
            query = select(Holding).options(
                selectinload(Holding.pupil), selectinload(Holding.locker)
            )
            if open_only:
                query = query.where(Holding.state.in_([x.value for x in OPEN_STATES]))
            return [HoldingView.of(h) for h in s.scalars(query.order_by(Holding.id.desc()))]

    def holding(self, actor: Identity | None, holding_id: int) -> HoldingView:
        if actor is not None:
            actor.require(Permission.VIEW_HOLDINGS)
        with self.sessions() as s:
            return HoldingView.of(self._holding(s, holding_id))

    def lockers(self) -> list[LockerView]:
        """Locker states only (no pupil data), so the technician screen may show them."""
        with self.sessions() as s:
            return [
                LockerView.of(x)
                for x in s.scalars(select(Locker).order_by(Locker.bank, Locker.number))
            ]

    def overdue(self, actor: Identity | None) -> list[tuple[HoldingView, policies.Reason]]:
        """Open holdings the profile says have been held too long, with the reason."""
        now = self._local(self._now())
        flagged = []
        for h in self.holdings(actor, open_only=True):
            since = h.held_at or h.created_at
            reason = policies.is_overdue(h.kind, self._local(since), now, self.profile)
            if reason is not None:
                flagged.append((h, reason))
        return flagged

    # ------------------------------------------------------------------ deposits
    def confiscate(
        self,
        actor: Identity,
        *,
        pupil_id: int,
        category: str,
        device_description: str,
        switched_off_confirmed: bool,
        reason: str = "",
        locker_id: int | None = None,
    ) -> tuple[HoldingView, policies.Decision]:
        """Start a confiscation: the holding is ``depositing`` in a reserved locker.

        The station then opens the locker and calls :meth:`confirm_deposit` once the door
        sensor says the door closed again (or :meth:`abort_deposit`).
        """
        actor.require(Permission.CONFISCATE)
        if not device_description.strip():
            raise CustodyError("Describe the device (e.g. 'black iPhone, cracked case').")
        with self._tx() as s:
            pupil = self._pupil(s, pupil_id)
            facts = self._pupil_facts(s, pupil)
            decision = self._ask(
                policies.ConfiscateRequest(
                    category=category,
                    now=self._local(self._now()),
                    pupil=facts,
                    switched_off_confirmed=switched_off_confirmed,
                )
            )
            # A reasonable-adjustment exemption can turn this into safekeeping (no sanction).
            kind = HoldingKind(decision.holding_kind or HoldingKind.CONFISCATION)
            offence = 0 if kind == HoldingKind.SAFEKEEPING else facts.prior_offences_this_term + 1
            locker = self._free_locker(s, locker_id)
            locker.state = LockerState.OCCUPIED
            holding = Holding(
                kind=kind,
                state=HoldingState.DEPOSITING,
                pupil=pupil,
                device_description=device_description.strip(),
                category=category,
                reason=reason.strip(),
                switched_off_confirmed=switched_off_confirmed,
                offence_number=offence,
                follow_ups=[f.action for f in decision.follow_ups],
                requires_parent_collection=decision.requires_parent_collection,
                forbids_viewing=decision.forbids_viewing,
                locker=locker,
                created_at=self._now(),
                created_by_id=actor.staff_id,
            )
            self._start_deposit(
                s,
                holding,
                actor,
                kind=holding.kind,
                category=category,
                locker=locker.label,
                offence_number=holding.offence_number,
                follow_ups=holding.follow_ups,
            )
            if kind == HoldingKind.SAFEKEEPING:
                return HoldingView.of(holding), decision
            s.add(
                Incident(
                    holding_id=holding.id,
                    pupil_id=pupil.id,
                    category=category,
                    actions=holding.follow_ups,
                    summary=reason.strip(),
                    created_at=self._now(),
                    created_by_id=actor.staff_id,
                )
            )
            self._event(
                s,
                "incident.recorded",
                actor,
                holding,
                category=category,
                actions=holding.follow_ups,
            )
            return HoldingView.of(holding), decision

    def safekeeping(
        self,
        actor: Identity,
        *,
        pupil_id: int,
        device_description: str,
        reason: str = "",
        locker_id: int | None = None,
    ) -> HoldingView:
        """A voluntary hand-in (e.g. a medical-exemption pupil at PE): no sanction, no incident."""
        actor.require(Permission.SAFEKEEPING)
        with self._tx() as s:
            pupil = self._pupil(s, pupil_id)
            locker = self._free_locker(s, locker_id)
            locker.state = LockerState.OCCUPIED
            holding = Holding(
                kind=HoldingKind.SAFEKEEPING,
                state=HoldingState.DEPOSITING,
                pupil=pupil,
                device_description=device_description.strip() or "phone",
                reason=reason,
                locker=locker,
                created_at=self._now(),
                created_by_id=actor.staff_id,
            )
            self._start_deposit(s, holding, actor, kind=holding.kind, locker=locker.label)
            return HoldingView.of(holding)

    def confirm_deposit(self, actor: Identity | None, holding_id: int) -> HoldingView:
        """The door closed on the phone: ``depositing -> held``."""
        with self._tx() as s:
            h = self._holding(s, holding_id)
            self._move(s, h, HoldingState.HELD, actor)
            h.held_at = self._now()
            if h.category and self.profile.category(h.category).forces_safeguarding_hold:
                # Suspected indecent images: straight into a hold, nobody signs it out.
                self._move(s, h, HoldingState.SAFEGUARDING_HOLD, actor, forced_by=h.category)
                h.hold_placed_at, h.hold_reason = self._now(), f"category {h.category}"
            return HoldingView.of(h)

    def abort_deposit(self, actor: Identity | None, holding_id: int, why: str) -> HoldingView:
        """The phone did not go in (door did not open, person walked away): free the locker."""
        with self._tx() as s:
            h = self._holding(s, holding_id)
            self._move(s, h, HoldingState.ABORTED, actor, why=why)
            self._free_locker_if_empty(s, h.locker)
            return HoldingView.of(h)

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
        actor.require(Permission.EXAM_SESSION)
        if ends_at <= starts_at:
            raise CustodyError("The exam must end after it starts.")
        with self._tx() as s:
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
                state="open",
                opened_by_id=actor.staff_id,
                candidates=list(candidate_ids or []),
            )
            s.add(session)
            s.flush()
            self._event(
                s,
                "exam.opened",
                actor,
                None,
                session_id=session.id,
                candidates=len(session.candidates),
            )
            return session.id

    def _cabinet_in_use(self, s: Session, cabinet: Locker) -> bool:
        open_session = s.scalar(
            select(func.count(ExamSession.id)).where(
                ExamSession.locker_id == cabinet.id, ExamSession.state == "open"
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

    def exam_sessions(self) -> list[dict[str, Any]]:
        """Sessions with their times (no pupil data), for the signage and the exams screen."""
        with self.sessions() as s:
            return [
                {
                    "id": e.id,
                    "name": e.name,
                    "room": e.room,
                    "starts_at": e.starts_at,
                    "ends_at": e.ends_at,
                    "state": e.state,
                }
                for e in s.scalars(select(ExamSession).order_by(ExamSession.starts_at))
            ]

    def exam_register(
        self, actor: Identity, session_id: int
    ) -> list[tuple[PupilView, HoldingView | None]]:
        """Each candidate with their deposit, or None if they have not deposited yet."""
        actor.require(Permission.VIEW_HOLDINGS)
        with self.sessions() as s:
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
            rows = []
            for pid in session.candidates:
                pupil = s.get(Pupil, pid)
                if pupil is not None:
                    h = deposits.get(pid)
                    rows.append((PupilView.of(pupil), HoldingView.of(h) if h else None))
            return rows

    def exam_deposit(
        self, actor: Identity | None, *, session_id: int, pupil_id: int
    ) -> HoldingView:
        """A candidate deposits their phone into the session's cabinet; a pouch number is given.

        ``actor`` None is the self-service screen the exams officer opened.
        """
        if actor is not None:
            actor.require(Permission.EXAM_DEPOSIT)
        with self._tx() as s:
            session = s.get(ExamSession, session_id)
            if session is None:
                raise CustodyError(f"No exam session {session_id}.")
            self._ask(
                policies.ExamDepositRequest(
                    now=self._local(self._now()), session_open=session.state == "open"
                )
            )
            pupil = self._pupil(s, pupil_id)
            if session.candidates and pupil.id not in session.candidates:
                raise CustodyError(f"{pupil.display_name} is not a candidate in {session.name}.")
            existing = s.scalars(
                select(Holding).where(
                    Holding.exam_session_id == session.id,
                    Holding.pupil_id == pupil.id,
                    Holding.state.in_([x.value for x in OPEN_STATES]),
                )
            ).first()
            if existing is not None:
                raise CustodyError(
                    f"{pupil.display_name} has already deposited (pouch {existing.pouch_number})."
                )
            cabinet = s.get(Locker, session.locker_id)
            assert cabinet is not None
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
            )
            return HoldingView.of(holding)

    def end_exam_session(self, actor: Identity, session_id: int) -> None:
        actor.require(Permission.EXAM_SESSION)
        with self._tx() as s:
            session = s.get(ExamSession, session_id)
            if session is None:
                raise CustodyError(f"No exam session {session_id}.")
            if session.state != "open":
                raise CustodyError(f"{session.name} has already ended.")
            session.state = "ended"
            self._event(s, "exam.ended", actor, None, session_id=session.id)

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
        actor.require(Permission.EXAM_SESSION)
        with self._tx() as s:
            pouches = self._session_holdings(s, session_id, HoldingState.HELD)
            # A hand-back whose door was not closed in time is picked up again.
            resumed = self._session_holdings(s, session_id, HoldingState.RELEASING)
            batch = {h.id for h in pouches + resumed}
            for h in pouches + resumed:
                others = [x for x in self._open_in_locker(s, h.locker_id or 0) if x.id not in batch]
                if others:
                    raise CustodyError(
                        f"Cabinet {h.locker.label if h.locker else '?'} also holds "
                        f"{len(others)} pouch(es) not being handed back (another session, a "
                        "safeguarding hold or an unfinished deposit): opening it would hand "
                        "those over too. Release or settle them first."
                    )
            for h in pouches:
                self._release_decision(s, h, policies.CollectorFacts(kind="pupil"), strict=True)
                self._move(s, h, HoldingState.RELEASING, actor, collector_kind="pupil", bulk=True)
                h.releasing_at, h.collector_kind = self._now(), "pupil"
            return [HoldingView.of(h) for h in pouches + resumed]

    def complete_exam_session_release(
        self, actor: Identity | None, session_id: int
    ) -> list[HoldingView]:
        """The cabinet was opened and closed again: the pouches went back to the candidates."""
        with self._tx() as s:
            pouches = self._session_holdings(s, session_id, HoldingState.RELEASING)
            for h in pouches:
                self._move(s, h, HoldingState.RELEASED, actor, bulk=True)
                h.released_at = self._now()
                h.released_by_id = actor.staff_id if actor else None
            for h in pouches:
                self._free_locker_if_empty(s, h.locker)
            session = s.get(ExamSession, session_id)
            assert session is not None
            session.state = "released"
            self._event(s, "exam.released", actor, None, session_id=session_id, count=len(pouches))
            return [HoldingView.of(h) for h in pouches]

    # ------------------------------------------------------------------ release
    def _collector_facts(
        self, s: Session, h: Holding, collector: Collector, id_type_seen: str | None
    ) -> tuple[Any, Contact | None]:
        contact = None
        if collector.kind == "contact":
            if collector.contact_id is None:
                raise CustodyError("Choose the collector from the pupil's contacts.")
            contact = s.get(Contact, collector.contact_id)
        on_list = contact is not None and contact.pupil_id == h.pupil_id
        facts = policies.CollectorFacts(
            kind=collector.kind,
            on_contact_list=on_list,
            may_collect=bool(on_list and contact and contact.may_collect),
            parental_responsibility=bool(on_list and contact and contact.parental_responsibility),
            id_type_seen=id_type_seen or None,
        )
        return facts, contact if on_list else None

    def _release_decision(
        self, s: Session, h: Holding, facts: Any, *, strict: bool = False
    ) -> policies.Decision:
        """The policy's answer on releasing ``h`` to ``facts``; ``strict`` raises a refusal."""
        session_ended = None
        if h.exam_session_id is not None:
            es = s.get(ExamSession, h.exam_session_id)
            session_ended = es is not None and (es.state != "open" or es.ends_at <= self._now())
        pupil_facts = (
            self._pupil_facts(s, h.pupil, exclude=h.id) if h.pupil else policies.PupilFacts()
        )
        request = policies.ReleaseRequest(
            holding_kind=h.kind,
            holding_state=h.state,
            category=h.category,
            held_since=self._local(h.held_at or h.created_at),
            now=self._local(self._now()),
            collector=facts,
            offence_number=h.offence_number,
            exam_session_ended=session_ended,
            pupil=pupil_facts,
        )
        return self._ask(request) if strict else policies.decide(request, self.profile)

    def check_release(
        self, actor: Identity, holding_id: int, collector: Collector, id_type_seen: str | None
    ) -> policies.Decision:
        """The decision, shown to staff *before* any door opens. Changes nothing."""
        with self.sessions() as s:
            h = self._holding(s, holding_id)
            _require_release(actor, h)
            facts, _ = self._collector_facts(s, h, collector, id_type_seen)
            return self._release_decision(s, h, facts)

    def begin_release(
        self,
        actor: Identity,
        holding_id: int,
        collector: Collector,
        id_type_seen: str | None,
        *,
        override_reason: str | None = None,
    ) -> tuple[HoldingView, policies.Decision]:
        """``held -> releasing`` if policy allows (or a senior overrides with a written reason).

        The station then opens the locker and calls :meth:`complete_release`, or
        :meth:`cancel_release` if the door did not open.
        """
        with self._tx() as s:
            h = self._holding(s, holding_id)
            _require_release(actor, h)
            facts, contact = self._collector_facts(s, h, collector, id_type_seen)
            decision = self._release_decision(s, h, facts)
            if not decision.allowed:
                if override_reason is None:
                    raise PolicyRefused(decision)
                actor.require(Permission.OVERRIDE)
                # The engine refuses overrides of a safeguarding hold or a category that
                # forces one; custody adds the state machine's own guard on top.
                self._ask(
                    policies.OverrideRequest(
                        actor_role=_best_role(actor),
                        reason=override_reason,
                        holding_state=h.state,
                        category=h.category,
                    )
                )
                if h.state != HoldingState.HELD or h.forbids_viewing:
                    raise PolicyRefused(decision)
                h.override_reason, h.override_by_id = override_reason, actor.staff_id
                self._event(
                    s,
                    "policy.override",
                    actor,
                    h,
                    overridden=[r.code for r in decision.reasons],
                )
            if (
                h.kind == HoldingKind.CONFISCATION
                and not facts.id_type_seen
                and (collector.kind == "contact")
            ):
                raise CustodyError("Record the type of ID you checked before releasing.")
            h.collector_kind = collector.kind
            h.collector_contact_id = contact.id if contact else None
            h.collector_name = contact.name if contact else collector.name
            h.id_type_seen = id_type_seen or None
            h.id_checked_by_id = actor.staff_id if id_type_seen else None
            h.releasing_at = self._now()
            self._move(
                s,
                h,
                HoldingState.RELEASING,
                actor,
                collector_kind=collector.kind,
                id_type_seen=id_type_seen,
                reasons=[r.code for r in decision.reasons],
            )
            return HoldingView.of(h), decision

    def complete_release(self, actor: Identity | None, holding_id: int) -> HoldingView:
        with self._tx() as s:
            h = self._holding(s, holding_id)
            self._move(s, h, HoldingState.RELEASED, actor)
            h.released_at = self._now()
            h.released_by_id = actor.staff_id if actor else h.released_by_id
            self._free_locker_if_empty(s, h.locker)
            return HoldingView.of(h)

    def cancel_release(self, actor: Identity | None, holding_id: int, why: str) -> HoldingView:
        """The door did not open or the collector left: the phone is still held."""
        with self._tx() as s:
            h = self._holding(s, holding_id)
            self._move(s, h, HoldingState.HELD, actor, why=why)
            return HoldingView.of(h)

    # ------------------------------------------------------------------ safeguarding
    def place_hold(self, actor: Identity, holding_id: int, reason: str) -> HoldingView:
        actor.require(Permission.SAFEGUARDING_HOLD)
        with self._tx() as s:
            h = self._holding(s, holding_id)
            self._ask(policies.HoldRequest(actor_role=_best_role(actor), reason=reason))
            self._move(s, h, HoldingState.SAFEGUARDING_HOLD, actor)
            h.hold_placed_at, h.hold_placed_by_id, h.hold_reason = (
                self._now(),
                actor.staff_id,
                reason,
            )
            return HoldingView.of(h)

    def lift_hold(self, actor: Identity, holding_id: int, reason: str) -> HoldingView:
        actor.require(Permission.SAFEGUARDING_HOLD)
        with self._tx() as s:
            h = self._holding(s, holding_id)
            self._ask(
                policies.LiftHoldRequest(
                    actor_role=_best_role(actor), reason=reason, category=h.category
                )
            )
            self._move(s, h, HoldingState.HELD, actor)
            h.hold_lift_reason = reason
            return HoldingView.of(h)

    def police_handover(self, actor: Identity, holding_id: int, reference: str) -> HoldingView:
        """Record the hand-over to police; the locker is emptied and freed."""
        actor.require(Permission.POLICE_HANDOVER)
        with self._tx() as s:
            h = self._holding(s, holding_id)
            self._ask(policies.HandoverRequest(actor_role=_best_role(actor), reference=reference))
            # The reference stays on the holding (purged with it), never in the event chain.
            self._move(s, h, HoldingState.HANDED_TO_POLICE, actor)
            h.handed_to_police_at, h.police_reference = self._now(), reference
            self._free_locker_if_empty(s, h.locker)
            return HoldingView.of(h)

    def authorise_search(self, actor: Identity, holding_id: int, reason: str) -> policies.Decision:
        """Record the head's authority to search contents. The kiosk never performs a search."""
        actor.require(Permission.AUTHORISE_SEARCH)
        with self._tx() as s:
            h = self._holding(s, holding_id)
            decision = self._ask(
                policies.SearchRequest(
                    authoriser_role=_best_role(actor), reason=reason, category=h.category
                )
            )
            h.search_authorised_at, h.search_authorised_by_id, h.search_reason = (
                self._now(),
                actor.staff_id,
                reason,
            )
            self._event(s, "holding.search_authorised", actor, h)
            return decision

    def attach_photo(self, actor: Identity | None, holding_id: int, path: str) -> HoldingView:
        """Record the tray photo so the retention purge can delete it on schedule."""
        with self._tx() as s:
            h = self._holding(s, holding_id)
            h.photo_path = path
            self._event(s, "holding.photo_taken", actor, h)
            return HoldingView.of(h)

    def record_parent_informed(
        self, actor: Identity, holding_id: int, how: str = "phone"
    ) -> HoldingView:
        actor.require(Permission.PARENT_INFORMED)
        with self._tx() as s:
            h = self._holding(s, holding_id)
            h.parent_informed_at, h.parent_informed_by_id = self._now(), actor.staff_id
            self._event(s, "holding.parent_informed", actor, h, how=how)
            return HoldingView.of(h)


def _require_release(actor: Identity, holding: Holding) -> None:
    """Releasing needs RELEASE; the exams officer may also hand back exam pouches."""
    if holding.kind == HoldingKind.EXAM_DEPOSIT and actor.can(Permission.EXAM_SESSION):
        return
    actor.require(Permission.RELEASE)


# Most senior role first: a policy check acts with the strongest role the person holds.
_ROLE_ORDER = ("senior", "dsl", "exams", "office", "teacher", "technician")


def _best_role(actor: Identity) -> str:
    for role in _ROLE_ORDER:
        if role in actor.roles:
            return role
    return actor.roles[0] if actor.roles else ""


class HardwareLog:
    """Ledger writes for what the hardware reports: alarms, faults, locker service states.

    Kept apart from :class:`Custody` because nobody is signed in when a door is forced at
    night; these are written by the station's event thread with no actor.
    """

    def __init__(self, custody: Custody) -> None:
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

    def set_locker_state(self, bank: str, number: int, state: LockerState, why: str) -> None:
        """Mark an empty locker fault / out of service / free again, with an event."""
        with self._custody._tx() as s:
            locker = self._empty_locker(s, bank, number, f"marked {state.value}")
            previous, locker.state = locker.state, state
            self._custody._event(
                s,
                "locker.state",
                None,
                None,
                locker=locker.label,
                previous=previous,
                state=state.value,
                why=why,
            )

    def begin_test_unlock(self, bank: str, number: int, technician_id: int) -> None:
        """Record a technician's test pulse *before* it is sent; refuses a locker in use."""
        with self._custody._tx() as s:
            self._empty_locker(s, bank, number, "opened for a test")
            self._custody._event(
                s,
                "hardware.test_unlock",
                None,
                None,
                locker=f"{bank}{number}",
                technician=technician_id,
            )
