"""Releases: who may collect a phone (the policy decision with every reason),
begin, complete, cancel.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

import policies
from db.models import (
    Contact,
    ExamSession,
    Holding,
    HoldingKind,
    HoldingState,
)
from kiosk.auth import Identity
from kiosk.permissions import Permission
from kiosk.usecases.base import Collector, CustodyError, PolicyRefused, UseCases, _best_role
from kiosk.views import HoldingView
from wire.vocabulary import EventType, ExamSessionState


class ReleaseUseCases(UseCases):
    """Releases: who may collect a phone (the policy decision with every reason),
    begin, complete, cancel.
    """

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
            session_ended = es is not None and (
                es.state != ExamSessionState.OPEN or es.ends_at <= self._now()
            )
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
        """The decision, shown to staff *before* any door opens; a refusal is recorded."""
        decision = self._decide_release(actor, holding_id, collector, id_type_seen)
        if not decision.allowed:
            # What staff are shown is what is recorded: the refusal the screen shows.
            self._record_refused_release(actor, holding_id, collector, id_type_seen, decision)
        return decision

    def _decide_release(
        self, actor: Identity, holding_id: int, collector: Collector, id_type_seen: str | None
    ) -> policies.Decision:
        """The policy's decision, authorised and read-only (callers record a refusal)."""
        with self.sessions() as s:
            h = self._holding(s, holding_id)
            self._authorise(s, actor, _release_permission(actor, h))
            facts, _ = self._collector_facts(s, h, collector, id_type_seen)
            return self._release_decision(s, h, facts)

    def _record_refused_release(
        self,
        actor: Identity,
        holding_id: int,
        collector: Collector,
        id_type_seen: str | None,
        decision: policies.Decision,
    ) -> None:
        """A ``release.policy_refused`` event in its OWN transaction (issue 9: what is refused
        is recorded), so the refusal is kept although the release itself never happens.

        Facts by id only (pupil, contact), never the name a collector gave: the chain is never
        purged. ``barred`` marks a listed contact with neither collection rights nor parental
        responsibility (as :mod:`kiosk.usecases.hatch` does), which the central log puts in
        the DSL's tray (seed 001 appendix §28).
        """
        with self._tx() as s:
            h = self._holding(s, holding_id)
            # A write of its own: authorised in ITS transaction (a demotion between the
            # decision and this write stops it, as for every use-case).
            self._authorise(s, actor, _release_permission(actor, h))
            contact = (
                s.get(Contact, collector.contact_id)
                if collector.kind == "contact" and collector.contact_id is not None
                else None
            )
            on_list = contact is not None and contact.pupil_id == h.pupil_id
            barred = bool(
                on_list
                and contact is not None
                and not (contact.may_collect or contact.parental_responsibility)
            )
            self._event(
                s,
                EventType.RELEASE_POLICY_REFUSED,
                actor,
                h,
                pupil_id=h.pupil_id,
                collector_kind=collector.kind,
                collector_contact_id=contact.id if on_list and contact is not None else None,
                id_type_seen=id_type_seen or None,
                barred=barred,
                rules=[r.code for r in decision.reasons],
                clauses=[r.clause for r in decision.reasons],
                citations=[r.source for r in decision.reasons],
            )

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

        A policy refusal (or a refused override) is recorded in its own transaction before
        :class:`PolicyRefused` reaches the caller.
        """
        try:
            return self._begin_release(
                actor, holding_id, collector, id_type_seen, override_reason=override_reason
            )
        except PolicyRefused as refusal:
            self._record_refused_release(
                actor, holding_id, collector, id_type_seen, refusal.decision
            )
            raise

    def _begin_release(
        self,
        actor: Identity,
        holding_id: int,
        collector: Collector,
        id_type_seen: str | None,
        *,
        override_reason: str | None,
    ) -> tuple[HoldingView, policies.Decision]:
        with self._tx() as s:
            h = self._holding(s, holding_id)
            self._authorise(s, actor, _release_permission(actor, h))
            facts, contact = self._collector_facts(s, h, collector, id_type_seen)
            decision = self._release_decision(s, h, facts)
            if not decision.allowed:
                if override_reason is None:
                    raise PolicyRefused(decision)
                self._authorise(s, actor, Permission.OVERRIDE)
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
                    EventType.POLICY_OVERRIDE,
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
                collector_contact_id=h.collector_contact_id,
                id_type_seen=id_type_seen,
                reasons=[r.code for r in decision.reasons],
            )
            return HoldingView.of(h), decision

    def complete_release(self, actor: Identity | None, holding_id: int) -> HoldingView:
        with self._tx() as s:
            h = self._holding(s, holding_id)
            self._authorise(s, actor, _release_permission(actor, h))
            # Before the move: one UPDATE of the holding with its state (issue 15).
            h.released_at = self._now()
            h.released_by_id = actor.staff_id if actor else h.released_by_id
            self._move(s, h, HoldingState.RELEASED, actor)
            self._free_locker_if_empty(s, h.locker)
            return HoldingView.of(h)

    def cancel_release(self, actor: Identity | None, holding_id: int, why: str) -> HoldingView:
        """The door did not open or the collector left: the phone is still held.

        ``actor`` None is the station rolling back a door that never opened after the screen
        locked: the phone stays in custody, so no person is needed for that direction.
        """
        with self._tx() as s:
            h = self._holding(s, holding_id)
            self._authorise(s, actor, _release_permission(actor, h), unattended=True)
            self._move(s, h, HoldingState.HELD, actor, why=why)
            return HoldingView.of(h)


def _release_permission(actor: Identity | None, holding: Holding) -> Permission:
    """Releasing needs RELEASE; an exam pouch is handed back under EXAM_HAND_BACK.

    The role *hint* on the identity only picks which row of the table applies; the check
    itself (:func:`kiosk.auth.authorise`) reads the staff record.
    """
    if (
        holding.kind == HoldingKind.EXAM_DEPOSIT
        and actor is not None
        and not actor.can(Permission.RELEASE)
    ):
        return Permission.EXAM_HAND_BACK
    return Permission.RELEASE
