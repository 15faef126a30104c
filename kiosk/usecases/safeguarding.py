"""Safeguarding: holds, police hand-over, search authority, parents informed
(seeds 000, 001 §28).
"""

from __future__ import annotations

import policies
from db.models import (
    HoldingState,
)
from kiosk.auth import Identity
from kiosk.permissions import Permission
from kiosk.usecases.base import CustodyError, UseCases, _best_role
from kiosk.views import HoldingView
from wire.vocabulary import EventType

#: How a parent may be told (the words the ``holding.parent_informed`` event may carry).
INFORMED_HOW = ("phone", "email", "letter", "in_person")


class SafeguardingUseCases(UseCases):
    """Safeguarding: holds, police hand-over, search authority, parents informed
    (seeds 000, 001 §28).
    """

    # ------------------------------------------------------------------ safeguarding
    def place_hold(self, actor: Identity, holding_id: int, reason: str) -> HoldingView:
        with self._tx() as s:
            self._authorise(s, actor, Permission.SAFEGUARDING_HOLD)
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
        with self._tx() as s:
            self._authorise(s, actor, Permission.SAFEGUARDING_HOLD)
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
        with self._tx() as s:
            self._authorise(s, actor, Permission.POLICE_HANDOVER)
            h = self._holding(s, holding_id)
            self._ask(policies.HandoverRequest(actor_role=_best_role(actor), reference=reference))
            # The reference stays on the holding (purged with it), never in the event chain.
            self._move(s, h, HoldingState.HANDED_TO_POLICE, actor)
            h.handed_to_police_at, h.police_reference = self._now(), reference
            self._free_locker_if_empty(s, h.locker)
            return HoldingView.of(h)

    def authorise_search(self, actor: Identity, holding_id: int, reason: str) -> policies.Decision:
        """Record the head's authority to search contents. The kiosk never performs a search."""
        with self._tx() as s:
            self._authorise(s, actor, Permission.AUTHORISE_SEARCH)
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
            self._event(s, EventType.HOLDING_SEARCH_AUTHORISED, actor, h)
            return decision

    def record_parent_informed(
        self, actor: Identity, holding_id: int, how: str = "phone"
    ) -> HoldingView:
        """Record that a parent was told; ``how`` is one word of :data:`INFORMED_HOW`.

        Why a closed list: ``how`` goes into the chained event, which is never purged, so it
        must not carry free text that could name someone (DESIGN.md, issue 9).
        """
        if how not in INFORMED_HOW:
            raise CustodyError(
                f"How the parent was told must be one of {', '.join(INFORMED_HOW)}, not {how!r}."
            )
        with self._tx() as s:
            self._authorise(s, actor, Permission.PARENT_INFORMED)
            h = self._holding(s, holding_id)
            h.parent_informed_at, h.parent_informed_by_id = self._now(), actor.staff_id
            self._event(s, EventType.HOLDING_PARENT_INFORMED, actor, h, how=how)
            return HoldingView.of(h)
