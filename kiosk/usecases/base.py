"""The shared part of the custody use-cases: errors, the unit of work and the event helper.

Each use-case module (deposits, releases, exams, safeguarding, people, queries) adds methods
to :class:`UseCases`; :class:`kiosk.custody.Custody` joins them into the one object the
station and the UI hold. Lock pulses are *not* sent here: the station commits a
``depositing``/``releasing`` state first, then pulses, then confirms with the door sensor
(DESIGN.md, "Commit first, then pulse")."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session, joinedload, sessionmaker

import policies
from db.audit import append_event
from db.models import (
    OPEN_STATES,
    TRANSITIONS,
    Holding,
    HoldingKind,
    HoldingState,
    Locker,
    LockerState,
    Pupil,
    Staff,
)
from kiosk.auth import AuthService, AuthSettings, Identity, NotPermitted, authorise
from kiosk.crashpoints import crashpoint
from kiosk.permissions import Permission, Role
from wire.vocabulary import EventType


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


#: One holding by id with its pupil and locker (many-to-one: joined), see ``_holding``.
_HOLDING_BY_ID = (
    select(Holding)
    .options(joinedload(Holding.pupil), joinedload(Holding.locker))
    .where(Holding.id == bindparam("holding_id"))
)

#: The pupil's confiscations this term (the policy's offence count), see ``_pupil_facts``;
#: built once, like ``_HOLDING_BY_ID`` (every release and confiscation asks it).
_PRIOR_OFFENCES = select(func.count(Holding.id)).where(
    Holding.pupil_id == bindparam("pupil_id"),
    Holding.kind == HoldingKind.CONFISCATION,
    Holding.state != HoldingState.ABORTED,
    Holding.created_at >= bindparam("start_at"),
    Holding.created_at <= bindparam("end_at"),
)
_PRIOR_OFFENCES_BUT = _PRIOR_OFFENCES.where(Holding.id != bindparam("exclude"))


def utcnow() -> datetime:
    return datetime.now(UTC)


# Most senior role first: a policy check acts with the strongest role the person holds.
_ROLE_ORDER = ("senior", "dsl", "exams", "office", "teacher", "technician")


def _best_role(actor: Identity) -> str:
    for role in _ROLE_ORDER:
        if role in actor.roles:
            return role
    return actor.roles[0] if actor.roles else ""


class UseCases:
    """What every use-case shares: the unit of work (:meth:`_tx`), the clock, the policy
    question (:meth:`_ask`) and the event writer (:meth:`_event`), so every state change
    writes its event and outbox row in the same transaction as the change itself."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        profile: policies.Profile,
        *,
        station_id: str,
        tz: ZoneInfo,
        clock: Callable[[], datetime] = utcnow,
        auth: AuthService | None = None,
    ) -> None:
        self.sessions = sessions
        #: Sign-in for this station; the context builds it from ``[auth]`` in the config.
        self.auth = auth or AuthService(AuthSettings(), station_id=station_id, clock=clock)
        self.profile = profile
        self.station_id = station_id
        self.tz = tz
        self.clock = clock

    # ------------------------------------------------------------------ plumbing
    @contextmanager
    def _tx(self) -> Iterator[Session]:
        with self.sessions.begin() as session:
            yield session
            crashpoint("commit.before")
        crashpoint("commit.after")

    def _now(self) -> datetime:
        return self.clock()

    def _authorise(
        self,
        s: Session,
        actor: Identity | None,
        permission: Permission,
        *,
        unattended: bool = False,
    ) -> None:
        """The one permission check of every use-case, inside its transaction (issue 9).

        :func:`kiosk.auth.authorise` re-reads the staff row, so a member of staff demoted or
        deactivated mid-session stops at once, and a hand-built ``Identity`` is refused.
        The permission comes from ``kiosk.permissions.USE_CASES`` / ``PERMISSIONS``.

        ``actor`` is ``None`` only where no person is at the screen and the step cannot take
        anything out of custody: the exam self-service hatch (its own deposit), the station
        rolling back a door that never opened, and station-internal reads that are never
        shown. The caller says so with ``unattended=True``; otherwise ``None`` is refused.
        """
        if actor is None:
            if unattended:
                return
            raise NotPermitted(
                "Not signed in: tap your badge and type your PIN.", permission=permission
            )
        # Held for the session's life: the identity map is weak, so without a reference the
        # row just re-read was dropped and the next look at it in this transaction (e.g.
        # :meth:`_exam_deposits_only`) read it again: one SELECT per listing (issue 15).
        s.info["authorised_staff"] = authorise(s, actor, permission)

    @staticmethod
    def _exam_deposits_only(s: Session, actor: Identity | None) -> bool:
        """Whether ``actor`` sees only exam deposits: an exams officer with no other role that
        sees holdings (DESIGN "Who uses it": the exams officer watches the register of their
        sessions; a confiscation or a safeguarding hold is none of their business). Read from
        the staff record, like every permission (a role granted or removed counts at once).
        """
        if actor is None:
            return False  # the station's own reads (unattended) and the trusted CLI
        staff = s.get(Staff, actor.staff_id)
        roles = set(staff.roles) if staff is not None else set()
        others = {Role.OFFICE, Role.TEACHER, Role.DSL, Role.SENIOR}
        return Role.EXAMS in roles and not roles & others

    def _visible(self, s: Session, actor: Identity | None, h: Holding) -> Holding:
        """``h``, or :class:`NotPermitted` for an exams officer and a holding not an exam
        deposit."""
        if h.kind != HoldingKind.EXAM_DEPOSIT and self._exam_deposits_only(s, actor):
            raise NotPermitted(
                f"Holding {h.id} is not an exam deposit: the exams officer's role sees exam "
                "deposits only.",
                permission=Permission.VIEW_HOLDINGS,
            )
        return h

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
        type: EventType | str,
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
        # Pupil and locker in the same query: nearly every use-case reads them (the policy
        # facts, HoldingView.of), and two lazy loads cost more than the join (issue 15). The
        # statement is built once (``s.get`` with options built the options and their cache
        # key per call: ~0.28 against ~0.17 ms here); no flush before it, as with ``s.get``.
        with s.no_autoflush:
            holding = s.execute(_HOLDING_BY_ID, {"holding_id": holding_id}).scalar_one_or_none()
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
        self._event(
            s,
            EventType.holding(new),
            actor,
            h,
            previous=old.value,
            state=new.value,
            pupil_id=h.pupil_id,
            locker_id=h.locker_id,
            **payload,
        )

    def _pupil_facts(self, s: Session, pupil: Pupil, *, exclude: int | None = None) -> Any:
        start, end = policies.term_bounds(self._local(self._now()), self.profile)
        start_at = datetime.combine(start, datetime.min.time(), self.tz)
        end_at = datetime.combine(end, datetime.max.time(), self.tz)
        params = {"pupil_id": pupil.id, "start_at": start_at, "end_at": end_at}
        if exclude is None:
            prior = s.scalar(_PRIOR_OFFENCES, params) or 0
        else:
            prior = s.scalar(_PRIOR_OFFENCES_BUT, {**params, "exclude": exclude}) or 0
        return policies.PupilFacts(
            exemptions=frozenset(pupil.exemptions or ()), prior_offences_this_term=prior
        )

    def _start_deposit(
        self, s: Session, holding: Holding, actor: Identity | None, **payload: Any
    ) -> None:
        """Add a new ``depositing`` holding and its event (the door is pulsed after commit)."""
        s.add(holding)
        s.flush()
        self._event(s, EventType.HOLDING_DEPOSITING, actor, holding, **payload)

    def _free_locker(self, s: Session, locker_id: int | None) -> Locker:
        """A ``free`` locker, locked for this transaction (PostgreSQL ``FOR UPDATE``).

        Why the lock: a technician's test pulse reserves a locker (``testing``) in its own
        transaction; with the row locked, a deposit racing it either waits and sees the
        reservation, or takes the locker first and the test then sees the phone.
        """
        if locker_id is not None:
            locker = s.get(Locker, locker_id, with_for_update=True, populate_existing=True)
            if locker is None or locker.state != LockerState.FREE:
                raise CustodyError("That locker is not free. Choose another.")
            if locker.capacity > 1:
                # DESIGN.md "Words": a locker with capacity > 1 is an exam cabinet for
                # numbered pouches; one phone in it would be handed over with the pouches.
                raise CustodyError(
                    f"{locker.label} is an exam cabinet, not a single locker: choose a single "
                    "locker."
                )
            return locker
        locker = s.scalars(
            select(Locker)
            .where(Locker.state == LockerState.FREE, Locker.capacity == 1)
            .order_by(Locker.bank, Locker.number)
            .limit(1)
            .with_for_update()
        ).first()
        if locker is None:
            raise CustodyError(
                "No free locker. Release a phone or mark a repaired locker as in service."
            )
        return locker

    @staticmethod
    def _on_roll(name: str, left_at: datetime | None, doing: str) -> None:
        """Refuse a voluntary deposit (exam pouch, safekeeping) from a pupil who has left.

        Seed 001 §2 "Additional Responsibilities of Technical Staff": leavers are removed
        from the school's systems; the kiosk takes no new voluntary custody for one (a full
        MIS import marks them, ``kiosk.mis_import``). A confiscation is not refused: the phone
        is already in the office's hands and must be held securely (seed 000 "Mobile phones").
        """
        if left_at is not None:
            raise CustodyError(
                f"{name} has left the school (missing from the MIS import on "
                f"{left_at:%d %b %Y}): {doing} is refused. If they are still on roll, "
                "re-import the MIS file that lists them, then try again."
            )

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
