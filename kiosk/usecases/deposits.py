"""Deposits: confiscation and safekeeping, confirmed or aborted by the door step;
tray photos.
"""

from __future__ import annotations

from dataclasses import replace
from typing import cast

from sqlalchemy import Table, bindparam, select, update

import policies
from db.audit import append_event
from db.models import (
    TRANSITIONS,
    Holding,
    HoldingKind,
    HoldingState,
    Incident,
    Locker,
    LockerState,
    Pupil,
)
from kiosk.auth import Identity
from kiosk.permissions import Permission
from kiosk.usecases.base import CustodyError, UseCases
from kiosk.views import HoldingView
from wire.vocabulary import EventType

_HOLDINGS = cast(Table, Holding.__table__)
_PUPILS = cast(Table, Pupil.__table__)
_LOCKERS = cast(Table, Locker.__table__)
#: A holding with what its view shows of its pupil and locker, in one statement built once
#: (:meth:`kiosk.views.HoldingView.of_row`).
_HOLDING_ROW = (
    select(
        _HOLDINGS,
        _PUPILS.c.given_name,
        _PUPILS.c.family_name,
        _PUPILS.c.tutor_group,
        _LOCKERS.c.bank,
        _LOCKERS.c.number,
    )
    .select_from(
        _HOLDINGS.outerjoin(_PUPILS, _HOLDINGS.c.pupil_id == _PUPILS.c.id).outerjoin(
            _LOCKERS, _HOLDINGS.c.locker_id == _LOCKERS.c.id
        )
    )
    .where(_HOLDINGS.c.id == bindparam("id"))
)
_HOLD = (
    update(_HOLDINGS)
    .where(_HOLDINGS.c.id == bindparam("holding"))
    .values(state=HoldingState.HELD, held_at=bindparam("held"))
)


class DepositUseCases(UseCases):
    """Deposits: confiscation and safekeeping, confirmed or aborted by the door step;
    tray photos.
    """

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
        if not device_description.strip():
            raise CustodyError("Describe the device (e.g. 'black iPhone, cracked case').")
        with self._tx() as s:
            self._authorise(s, actor, Permission.CONFISCATE)
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
                pupil_id=pupil.id,
                locker_id=locker.id,
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
                EventType.INCIDENT_RECORDED,
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
        switched_off_confirmed: bool = False,
    ) -> HoldingView:
        """A voluntary hand-in (e.g. a medical-exemption pupil at PE): no sanction, no incident.

        Where the profile wants phones switched off, not silent
        (``phones.switched_off_not_silent``), staff must confirm it is off, as for a
        confiscation (issue 14: "``safekeeping`` and exam deposits ask for 'switched off' where
        the profile requires it"): the rule is checked here, not only asked by the screen.
        """
        with self._tx() as s:
            self._authorise(s, actor, Permission.SAFEKEEPING)
            pupil = self._pupil(s, pupil_id)
            rule = self.profile.phones.switched_off_not_silent
            if rule.value and not switched_off_confirmed:
                raise CustodyError(
                    "Switch the phone off first (off, not silent), then confirm it is off "
                    f"[phones.switched_off_not_silent: {rule.source}]."
                )
            locker = self._free_locker(s, locker_id)
            locker.state = LockerState.OCCUPIED
            holding = Holding(
                kind=HoldingKind.SAFEKEEPING,
                state=HoldingState.DEPOSITING,
                pupil=pupil,
                device_description=device_description.strip() or "phone",
                reason=reason,
                switched_off_confirmed=switched_off_confirmed,
                locker=locker,
                created_at=self._now(),
                created_by_id=actor.staff_id,
            )
            self._start_deposit(
                s,
                holding,
                actor,
                kind=holding.kind,
                locker=locker.label,
                pupil_id=pupil.id,
                locker_id=locker.id,
            )
            return HoldingView.of(holding)

    def confirm_deposit(self, actor: Identity | None, holding_id: int) -> HoldingView:
        """The door closed on the phone: ``depositing -> held``."""
        with self._tx() as s:
            conn = s.connection()
            row = conn.execute(_HOLDING_ROW, {"id": holding_id}).first()
            if row is None:
                raise CustodyError(f"No holding with number {holding_id}.")
            # None: the exam self-service hatch confirming its own pouch (no one signed in).
            self._authorise(
                s,
                actor,
                Permission.CONFIRM_DEPOSIT,
                unattended=row.kind == HoldingKind.EXAM_DEPOSIT,
            )
            if row.category and self.profile.category(row.category).forces_safeguarding_hold:
                # Suspected indecent images: straight into a hold, nobody signs it out.
                h = self._holding(s, holding_id)
                h.held_at = self._now()
                self._move(s, h, HoldingState.HELD, actor)
                self._move(s, h, HoldingState.SAFEGUARDING_HOLD, actor, forced_by=h.category)
                h.hold_placed_at, h.hold_reason = self._now(), f"category {h.category}"
                return HoldingView.of(h)
            # The common case (every exam pouch, most confiscations) as plain statements on
            # the row read above: one UPDATE and the chained event, no ORM objects (issue 15,
            # exam rush). The same transition rule and event as :meth:`_move`.
            old = HoldingState(row.state)
            if HoldingState.HELD not in TRANSITIONS[old]:
                raise CustodyError(
                    f"Holding {holding_id} is {old.value.replace('_', ' ')}; it cannot become held."
                )
            now = self._now()
            conn.execute(_HOLD, {"holding": holding_id, "held": now})
            append_event(
                s,
                station_id=self.station_id,
                type=EventType.holding(HoldingState.HELD),
                occurred_at=now,
                actor_id=actor.staff_id if actor else None,
                holding_id=holding_id,
                payload={
                    "previous": old.value,
                    "state": HoldingState.HELD.value,
                    "pupil_id": row.pupil_id,
                    "locker_id": row.locker_id,
                },
            )
            return replace(HoldingView.of_row(row), state=HoldingState.HELD, held_at=now)

    def abort_deposit(
        self, actor: Identity | None, holding_id: int, why: str, *, locker_fault: str | None = None
    ) -> HoldingView:
        """The phone did not go in (door did not open, person walked away): free the locker.

        ``locker_fault`` (the door did not open): the locker is marked as a fault instead, in
        the same transaction as the abort. Committed apart, a crash between the two left the
        locker free with no fault mark, and it was handed out again (issue 16).
        """
        with self._tx() as s:
            h = self._holding(s, holding_id)
            # None: the station or the self-service hatch abandoning a door that never
            # opened; nothing enters or leaves custody, so no person is needed.
            self._authorise(s, actor, Permission.ABORT_DEPOSIT, unattended=True)
            self._move(s, h, HoldingState.ABORTED, actor, why=why)
            if locker_fault is not None and h.locker is not None:
                previous, h.locker.state = h.locker.state, LockerState.FAULT
                self._event(
                    s,
                    EventType.LOCKER_STATE,
                    None,
                    None,
                    locker=h.locker.label,
                    locker_id=h.locker.id,
                    previous=previous,
                    state=LockerState.FAULT.value,
                    why=locker_fault,
                )
            else:
                self._free_locker_if_empty(s, h.locker)
            return HoldingView.of(h)

    def attach_photo(self, actor: Identity | None, holding_id: int, path: str) -> HoldingView:
        """Record the tray photo so the retention purge can delete it on schedule."""
        with self._tx() as s:
            self._authorise(s, actor, Permission.ATTACH_PHOTO)
            h = self._holding(s, holding_id)
            h.photo_path = path
            self._event(s, EventType.HOLDING_PHOTO_TAKEN, actor, h)
            return HoldingView.of(h)
