"""Staff and badges at the kiosk, and a person's own PIN (issues 9 and 14).

:class:`kiosk.staff_admin.StaffAdmin` holds the rules (who may manage whom, badge checks,
enrolment codes) and works in a caller's session; this module gives the staff UI the same
use-cases as the rest of :class:`kiosk.custody.Custody`: one transaction each, the permission
checked inside it (``kiosk.permissions.USE_CASES``), the event written with the change.

PIN changes are the person's own credential, like signing in, so they need no permission
from the table: a forced change finishes a sign-in (:class:`kiosk.auth.PinChangeTicket`),
and a signed-in person changing their own PIN must type the current one (a wrong one counts
towards the lockout, so this is no way round it). Failures are committed before the refusal
is raised, as :meth:`PeopleUseCases.sign_in` does, so the lockout keeps count.
"""

from __future__ import annotations

from sqlalchemy import select

from db.models import Pupil
from kiosk.auth import AuthError, Identity, NotPermitted, PinChangeTicket, is_signed_in
from kiosk.auth import normalise_uid as _normalise_uid
from kiosk.staff_admin import EnrolmentCode, StaffAdmin, StaffView
from kiosk.usecases.base import UseCases

__all__ = ["EnrolmentCode", "StaffUseCases", "StaffView"]


class StaffUseCases(UseCases):
    """Badges, PIN set-up and unlocks by a senior or office administrator; own PIN changes."""

    @property
    def _staff_admin(self) -> StaffAdmin:
        return StaffAdmin(self.auth)

    # ------------------------------------------------------------------ staff and badges
    def staff_list(self, actor: Identity) -> list[StaffView]:
        """Everyone on the staff list with badge/PIN/lock state (no hashes, no UIDs)."""
        with self.sessions() as s:
            return self._staff_admin.staff_list(s, actor)

    def enrol_badge(self, actor: Identity, staff_id: int, badge_uid: str) -> None:
        """The badge just tapped on the reader becomes ``staff_id``'s (any old one stops)."""
        with self._tx() as s:
            self._staff_admin.enrol_badge(s, actor, staff_id, badge_uid)

    def report_lost_badge(self, actor: Identity, staff_id: int) -> None:
        """The badge stops working at once; a new one must be enrolled."""
        with self._tx() as s:
            self._staff_admin.report_lost_badge(s, actor, staff_id)

    def unlock_badge(self, actor: Identity, staff_id: int) -> None:
        """Clear a lockout after too many wrong PINs (any stage)."""
        with self._tx() as s:
            self._staff_admin.unlock_badge(s, actor, staff_id)

    def issue_enrolment_code(self, actor: Identity, staff_id: int) -> EnrolmentCode:
        """A one-time code for a first PIN or a reset; the old PIN stops working."""
        with self._tx() as s:
            return self._staff_admin.issue_enrolment_code(s, actor, staff_id)

    def approve_pin_setup(self, actor: Identity, staff_id: int) -> PinChangeTicket:
        """The person is at the kiosk with the administrator: they type a new PIN now."""
        with self._tx() as s:
            return self._staff_admin.approve_pin_setup(s, actor, staff_id)

    def require_pin_change(self, actor: Identity, staff_id: int) -> None:
        """The current PIN works once more; a new one must be chosen at next sign-in."""
        with self._tx() as s:
            self._staff_admin.require_pin_change(s, actor, staff_id)

    def grant_role(self, actor: Identity, staff_id: int, role: str) -> None:
        """Add a role (senior, DSL, office administrator: a senior only, its own event)."""
        with self._tx() as s:
            self._staff_admin.grant_role(s, actor, staff_id, role)

    def revoke_role(self, actor: Identity, staff_id: int, role: str) -> None:
        """Remove a role; never the last senior's senior or the last DSL's DSL."""
        with self._tx() as s:
            self._staff_admin.revoke_role(s, actor, staff_id, role)

    # ------------------------------------------------------------------ own PIN
    def complete_pin_change(
        self, ticket: PinChangeTicket, new_pin: str, *, keep_signed_in: bool = True
    ) -> Identity:
        """Set the PIN a ticket allows (``PinChangeRequired`` at sign-in, or an approval) and
        sign that person in. :class:`kiosk.pin_rules.PinRejected` leaves the ticket valid.

        ``keep_signed_in=False`` (a PIN set up with an administrator at the kiosk, who stays
        signed in) closes the new sign-in in the same transaction.
        """
        with self.sessions() as s:
            try:
                identity = self.auth.complete_pin_change(s, ticket, new_pin, now=self._now())
            except AuthError:
                s.commit()
                raise
            if not keep_signed_in:
                self.auth.sign_out(s, identity, why="PIN set with an administrator")
            s.commit()
            return identity

    def change_pin(self, actor: Identity, current_pin: str, new_pin: str) -> None:
        """A signed-in person changes their own PIN (the current one is asked for)."""
        with self.sessions() as s:
            try:
                self.auth.change_pin(s, actor, current_pin, new_pin, now=self._now())
            except AuthError:
                s.commit()  # the wrong current PIN is counted towards the lockout
                raise
            s.commit()

    # ------------------------------------------------------------------ cards
    def is_pupil_card(self, actor: Identity, card_uid: str) -> bool:
        """Whether a tapped card is a pupil's, and nothing more (no name, no holdings).

        For a signed-in person whose role sees no pupil data (a technician): the screen can
        say "that was a pupil's card, nothing was done" instead of treating the tap as
        another member of staff's badge and signing them out.
        """
        if not is_signed_in(actor):
            raise NotPermitted("Not signed in: tap your badge and type your PIN.")
        with self.sessions() as s:
            uid = _normalise_uid(card_uid)
            return s.scalars(select(Pupil.id).where(Pupil.card_uid == uid)).first() is not None
