"""Reads for screens and the CLI: holdings, one holding, lockers, overdue holds."""

from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.orm import joinedload, selectinload

import policies
from db.models import (
    OPEN_STATES,
    Holding,
    HoldingKind,
    Locker,
    Pupil,
)
from kiosk.auth import Identity
from kiosk.permissions import Permission
from kiosk.usecases.base import UseCases
from kiosk.views import CardTap, HoldingView, LockerView, PupilView

# The tap's reads, built once (building them per tap was ~15 % of card_tapped's CPU).
_PUPIL_BY_CARD = select(Pupil).where(Pupil.card_uid == bindparam("card_uid"))
_PUPIL_BY_CARD_WITH_CONTACTS = _PUPIL_BY_CARD.options(selectinload(Pupil.contacts))
_OPEN_HOLDINGS_OF = (
    select(Holding)
    .options(joinedload(Holding.locker))
    .where(
        Holding.pupil_id == bindparam("pupil_id"),
        Holding.state.in_([x.value for x in OPEN_STATES]),
    )
    .order_by(Holding.id.desc())
)
_OPEN_EXAM_DEPOSITS_OF = _OPEN_HOLDINGS_OF.where(Holding.kind == HoldingKind.EXAM_DEPOSIT)


class QueryUseCases(UseCases):
    """Reads for screens and the CLI: holdings, one holding, lockers, overdue holds."""

    def holdings(
        self, actor: Identity | None, *, open_only: bool = True, pupil_id: int | None = None
    ) -> list[HoldingView]:
        """Holdings, newest first. ``actor`` None is the trusted CLI on the Pi itself.

        ``pupil_id``: only that pupil's (on ``ix_holdings_pupil_id``), what a card tap at the
        hatch needs, instead of listing every open holding of the day (issue 15).
        """
        with self.sessions() as s:
            self._authorise(s, actor, Permission.VIEW_HOLDINGS, unattended=True)
            # Many-to-one: joined in the one query (selectinload would add two more).
            query = select(Holding).options(joinedload(Holding.pupil), joinedload(Holding.locker))
            if open_only:
                query = query.where(Holding.state.in_([x.value for x in OPEN_STATES]))
            if pupil_id is not None:
                query = query.where(Holding.pupil_id == pupil_id)
            if self._exam_deposits_only(s, actor):
                query = query.where(Holding.kind == HoldingKind.EXAM_DEPOSIT)
            return [HoldingView.of(h) for h in s.scalars(query.order_by(Holding.id.desc()))]

    def card_tapped(self, actor: Identity, card_uid: str) -> CardTap:
        """The pupil whose card was tapped and their open holdings, in ONE read transaction.

        What the hatch asks on every tap (issue 15, "The hatch is instant"): one session, one
        ``BEGIN``, one staff re-read (:meth:`_authorise`, issue 9) instead of
        ``pupil_by_card`` + ``holdings(pupil_id=)`` each paying their own. Three SELECTs: the
        pupil, their contacts (only where the role is shown them), their open holdings with
        their lockers; each holding's pupil is the one already in the session, so it costs
        no query. Roles are applied here, not by the screen: an exams-only sign-in sees the
        exam view of the pupil and exam deposits only (DESIGN "Who uses it").
        """
        with self.sessions() as s:
            self._authorise(s, actor, Permission.VIEW_HOLDINGS)
            exam_only = self._exam_deposits_only(s, actor)
            query = _PUPIL_BY_CARD if exam_only else _PUPIL_BY_CARD_WITH_CONTACTS
            pupil = s.scalars(query, {"card_uid": card_uid.upper()}).one_or_none()
            if pupil is None:
                return CardTap(None)
            held = _OPEN_EXAM_DEPOSITS_OF if exam_only else _OPEN_HOLDINGS_OF
            holdings = tuple(HoldingView.of(h) for h in s.scalars(held, {"pupil_id": pupil.id}))
            view = PupilView.for_exam(pupil) if exam_only else PupilView.of(pupil, True)
            return CardTap(view, holdings)

    def holding(self, actor: Identity | None, holding_id: int) -> HoldingView:
        with self.sessions() as s:
            self._authorise(s, actor, Permission.VIEW_HOLDINGS, unattended=True)
            return HoldingView.of(self._visible(s, actor, self._holding(s, holding_id)))

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
