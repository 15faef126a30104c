"""People at the kiosk: staff sign-in/out (badge + PIN), finding pupils by name or card."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from db.models import (
    Pupil,
)
from kiosk.auth import AuthError, Identity, is_signed_in
from kiosk.auth import sign_out as forget_sign_in
from kiosk.permissions import Permission
from kiosk.usecases.base import UseCases
from kiosk.views import PupilView
from wire.vocabulary import EventType


class PeopleUseCases(UseCases):
    """People at the kiosk: staff sign-in/out (badge + PIN), finding pupils by name or card."""

    # ------------------------------------------------------------------ sign-in
    def sign_in(self, badge_uid: str, pin: str) -> Identity:
        """Badge + PIN. Failed attempts are committed (and audited) before the refusal."""
        with self.sessions() as s:
            try:
                identity = self.auth.sign_in(s, badge_uid, pin, now=self._now())
            except AuthError:
                s.commit()
                raise
            s.commit()
            return identity

    def sign_out(self, actor: Identity, why: str = "signed out") -> None:
        """End ``actor``'s sign-in: recorded, then forgotten, so the same identity object is
        refused by :func:`kiosk.auth.authorise` from now on (a screen or a thread that kept a
        reference cannot act with it after the kiosk locked)."""
        try:
            if is_signed_in(actor):
                with self._tx() as s:
                    self._event(s, EventType.AUTH_SIGNED_OUT, actor, None, why=why)
        finally:
            forget_sign_in(actor)

    def find_pupils(self, actor: Identity, text: str, limit: int = 20) -> list[PupilView]:
        """Quick search by name, MIS id or tutor group (case-insensitive, any word)."""
        words = [w for w in text.lower().split() if w]
        with self.sessions() as s:
            self._authorise(s, actor, Permission.VIEW_HOLDINGS)
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
            if self._exam_deposits_only(s, actor):
                return [PupilView.for_exam(p) for p in s.scalars(query)]
            return [PupilView.of(p, with_contacts=True) for p in s.scalars(query)]

    def pupil_by_card(self, actor: Identity | None, card_uid: str) -> PupilView | None:
        """Pupil with this card, or None. ``actor`` None is the exam self-service screen."""
        with self.sessions() as s:
            self._authorise(s, actor, Permission.VIEW_HOLDINGS, unattended=True)
            # The contacts only where they are shown: the exam self-service screen (no
            # actor) and the exams officer see none, and their second SELECT was paid per
            # candidate (issue 15).
            exam_only = self._exam_deposits_only(s, actor)
            shown = actor is not None and not exam_only
            query = select(Pupil).where(Pupil.card_uid == card_uid.upper())
            if shown:
                query = query.options(selectinload(Pupil.contacts))
            pupil = s.scalars(query).one_or_none()
            if pupil is None:
                return None
            if exam_only:
                return PupilView.for_exam(pupil)  # no contacts, adjustments or card
            return PupilView.of(pupil, with_contacts=shown)
