"""Staff and badges: enrol a badge, set up or reset a PIN, unlock, lost badges, roles.

Issue 14 ("Staff and badges") asks for these at the kiosk, by a senior leader or an office
administrator, all recorded; issue 9 adds that granting senior or DSL needs a senior and is
its own event. Headless: the staff UI calls these with the signed-in :class:`Identity`.

Rules beyond the permission table, and why:

- **Nobody manages someone more powerful than themselves.** Credentials (badge, enrolment
  code, PIN approval, unlock) and roles of a senior, DSL or office administrator are managed
  by a senior only: otherwise an office administrator could issue the head an enrolment code,
  clone the head's badge UID and sign in as the head.
- **No changes to one's own roles or PIN set-up**, so one person cannot raise themselves.
- **The last senior cannot be removed**: the school would have nobody to manage staff.
- **The last designated safeguarding lead cannot be removed**: the DSL "takes day to day
  responsibility" for safeguarding (004_1339a2f729bda141.txt § c) Designated Safeguarding
  Leads), and only a DSL lifts a safeguarding hold here; grant DSL to someone else first.
- Events name the actor and the member of staff by id, never names, badge UIDs or codes (the
  chain is never purged). The enrolment code is returned once, to the screen of the person
  who issued it, and only its Argon2 hash is stored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Pupil, Staff
from kiosk.auth import (
    AuthService,
    Identity,
    NotPermitted,
    PinChangeTicket,
    authorise,
    normalise_uid,
)
from kiosk.permissions import PRIVILEGED_ROLES, Permission, Role

UID_RE = re.compile(r"^[0-9A-F]{8,20}$")


class StaffAdminError(Exception):
    """The change was refused; the message says why and what to do. Nothing changed."""


@dataclass(frozen=True)
class EnrolmentCode:
    """Shown once to the person who issued it, to hand to the member of staff."""

    staff_id: int
    code: str
    expires_at: datetime


@dataclass(frozen=True)
class StaffView:
    """One line of the staff list for the admin screen (no hashes, no UIDs)."""

    id: int
    staff_code: str
    name: str
    roles: tuple[str, ...]
    active: bool
    has_badge: bool
    has_pin: bool
    enrolment_pending: bool
    must_change_pin: bool
    locked: str | None


def _privileged(roles: list[str] | tuple[str, ...]) -> bool:
    return bool(PRIVILEGED_ROLES & set(roles))


def active_seniors(session: Session) -> list[Staff]:
    return active_with(session, Role.SENIOR)


def active_with(session: Session, role: Role) -> list[Staff]:
    """Active members of staff holding ``role``."""
    return [s for s in session.scalars(select(Staff).where(Staff.active)) if role in s.roles]


def bootstrap_enrolment_codes(session: Session, auth: AuthService) -> list[tuple[Staff, str]]:
    """One-time codes for the first seniors of a new school (``kiosk import staff`` with
    nobody signed in, allowed only while the school had no senior).

    Without them nobody could ever sign in: codes are otherwise issued by a signed-in senior
    or office administrator. Each is returned once (the command prints it for the senior),
    stored only as a hash, and recorded as ``staff.enrolment_code_issued`` with
    ``bootstrap: true`` and no actor. Seniors who already have a PIN or code get none.
    """
    issued = []
    for staff in active_seniors(session):
        if staff.pin_hash is not None or staff.enrolment_code_hash is not None:
            continue
        code, hashed = auth.new_enrolment_code()
        expires = auth.clock() + auth.settings.enrolment_code_ttl
        staff.enrolment_code_hash, staff.enrolment_code_expires_at = hashed, expires
        staff.pin_must_change = False
        auth._event(
            session,
            "staff.enrolment_code_issued",
            auth.clock(),
            actor_id=None,
            staff=staff.id,
            reset=False,
            bootstrap=True,
            expires_at=expires.isoformat(),
        )
        issued.append((staff, code))
    return issued


class StaffAdmin:
    """The staff-and-badge use-cases; every one checks the actor against the staff record."""

    def __init__(self, auth: AuthService) -> None:
        self.auth = auth

    # ------------------------------------------------------------------ plumbing
    def _event(self, session: Session, type: str, admin: Identity, **payload: object) -> None:
        self.auth._event(session, type, self.auth.clock(), actor_id=admin.staff_id, **payload)

    def _target(
        self,
        session: Session,
        admin: Identity,
        staff_id: int,
        *,
        self_allowed: bool = False,
        active: bool = True,
    ) -> Staff:
        """Check the admin may act on ``staff_id`` and return that staff row."""
        authorise(session, admin, Permission.STAFF_ADMIN)
        staff = session.get(Staff, staff_id)
        if staff is None:
            raise StaffAdminError(f"No member of staff with id {staff_id}.")
        if active and not staff.active:
            raise StaffAdminError(
                f"{staff.name} is not active (left the staff list): import them again first."
            )
        if staff.id == admin.staff_id and not self_allowed:
            raise StaffAdminError(
                "You cannot do this for yourself: ask another senior leader or office "
                "administrator."
            )
        if _privileged(staff.roles):
            try:
                authorise(session, admin, Permission.GRANT_PRIVILEGED_ROLE)
            except NotPermitted:
                raise NotPermitted(
                    f"{staff.name} is a senior leader, DSL or office administrator: only a "
                    "senior leader may change their badge, PIN or roles.",
                    staff_id=admin.staff_id,
                    permission=Permission.GRANT_PRIVILEGED_ROLE,
                ) from None
        return staff

    # ------------------------------------------------------------------ reads
    def staff_list(self, session: Session, admin: Identity) -> list[StaffView]:
        authorise(session, admin, Permission.STAFF_ADMIN)
        now = self.auth.clock()
        return [
            StaffView(
                s.id,
                s.staff_code,
                s.name,
                tuple(s.roles),
                s.active,
                s.badge_uid is not None,
                s.pin_hash is not None,
                s.enrolment_code_hash is not None,
                s.pin_must_change,
                self.auth.staff_lock_message(s, now),
            )
            for s in session.scalars(select(Staff).order_by(Staff.name))
        ]

    # ------------------------------------------------------------------ badges
    def enrol_badge(self, session: Session, admin: Identity, staff_id: int, badge_uid: str) -> None:
        """Give ``staff_id`` the badge just tapped on the reader (replacing any old one)."""
        staff = self._target(session, admin, staff_id, self_allowed=True)
        uid = normalise_uid(badge_uid)
        if not UID_RE.match(uid):
            raise StaffAdminError("That is not a badge UID the reader gives: tap the badge again.")
        holder = session.scalars(select(Staff).where(Staff.badge_uid == uid)).one_or_none()
        if holder is not None and holder.id != staff.id:
            if holder.active:
                raise StaffAdminError(
                    f"This badge is enrolled for {holder.name}: report it lost for them first, "
                    "or use another badge."
                )
            holder.badge_uid = None  # a leaver's old badge handed on
            session.flush()
        if session.scalars(select(Pupil.id).where(Pupil.card_uid == uid)).first() is not None:
            raise StaffAdminError("This is a pupil's card, not a staff badge.")
        replaced = staff.badge_uid is not None and staff.badge_uid != uid
        staff.badge_uid = uid
        self._event(session, "staff.badge_enrolled", admin, staff=staff.id, replaced=replaced)

    def report_lost_badge(self, session: Session, admin: Identity, staff_id: int) -> None:
        """Disable the badge at once; the person needs a new badge enrolled to sign in."""
        staff = self._target(session, admin, staff_id, self_allowed=True)
        if staff.badge_uid is None:
            raise StaffAdminError(f"{staff.name} has no badge enrolled.")
        staff.badge_uid = None
        self._event(session, "staff.badge_lost", admin, staff=staff.id)

    def unlock_badge(self, session: Session, admin: Identity, staff_id: int) -> None:
        """Clear a lockout (any stage, including "until a senior unlocks")."""
        staff = self._target(session, admin, staff_id)
        level = staff.lockout_level
        staff.failed_attempts, staff.lockout_level, staff.locked_until = 0, 0, None
        self._event(session, "staff.unlocked", admin, staff=staff.id, level=level)

    # ------------------------------------------------------------------ PINs
    def issue_enrolment_code(
        self, session: Session, admin: Identity, staff_id: int
    ) -> EnrolmentCode:
        """A one-time code for a first sign-in or a PIN reset; any old PIN stops working.

        The member of staff taps their badge and types the code where the PIN goes, then
        chooses their own PIN. The code is returned here once and stored only as a hash.
        """
        staff = self._target(session, admin, staff_id)
        code, hashed = self.auth.new_enrolment_code()
        expires = self.auth.clock() + self.auth.settings.enrolment_code_ttl
        reset = staff.pin_hash is not None
        staff.pin_hash = None
        staff.enrolment_code_hash, staff.enrolment_code_expires_at = hashed, expires
        staff.pin_must_change = False
        staff.failed_attempts, staff.lockout_level, staff.locked_until = 0, 0, None
        self._event(
            session,
            "staff.enrolment_code_issued",
            admin,
            staff=staff.id,
            reset=reset,
            expires_at=expires.isoformat(),
        )
        return EnrolmentCode(staff.id, code, expires)

    def approve_pin_setup(
        self, session: Session, admin: Identity, staff_id: int
    ) -> PinChangeTicket:
        """The senior/admin is with the person: they may choose their PIN now, unseen.

        Returns a ticket for :meth:`AuthService.complete_pin_change`, valid for minutes.
        """
        staff = self._target(session, admin, staff_id)
        self._event(session, "staff.pin_setup_approved", admin, staff=staff.id)
        return self.auth.approval_ticket(staff)

    def require_pin_change(self, session: Session, admin: Identity, staff_id: int) -> None:
        """The current PIN still works once, but a new one must be chosen at next sign-in."""
        staff = self._target(session, admin, staff_id)
        if staff.pin_hash is None:
            raise StaffAdminError(f"{staff.name} has no PIN yet: issue an enrolment code.")
        staff.pin_must_change = True
        self._event(session, "staff.pin_change_required", admin, staff=staff.id)

    # ------------------------------------------------------------------ roles
    def grant_role(self, session: Session, admin: Identity, staff_id: int, role: str) -> None:
        """Add a role. Senior, DSL and office administrator only by a senior, as its own event."""
        wanted = _role(role)
        if wanted in PRIVILEGED_ROLES:
            authorise(session, admin, Permission.GRANT_PRIVILEGED_ROLE)
        staff = self._target(session, admin, staff_id)
        if wanted in staff.roles:
            raise StaffAdminError(f"{staff.name} already has the role {wanted}.")
        staff.roles = [*staff.roles, wanted.value]
        kind = (
            "staff.privileged_role_granted" if wanted in PRIVILEGED_ROLES else "staff.role_granted"
        )
        self._event(session, kind, admin, staff=staff.id, role=wanted.value, roles=staff.roles)

    def revoke_role(self, session: Session, admin: Identity, staff_id: int, role: str) -> None:
        """Remove a role; takes effect at the person's next action (authorise re-reads it)."""
        wanted = _role(role)
        if wanted in PRIVILEGED_ROLES:
            authorise(session, admin, Permission.GRANT_PRIVILEGED_ROLE)
        staff = self._target(session, admin, staff_id)
        if wanted not in staff.roles:
            raise StaffAdminError(f"{staff.name} does not have the role {wanted}.")
        if wanted == Role.SENIOR and [s.id for s in active_seniors(session)] == [staff.id]:
            raise StaffAdminError(
                f"{staff.name} is the only active senior leader: grant senior to someone else "
                "first, or nobody could manage staff."
            )
        if wanted == Role.DSL and [s.id for s in active_with(session, Role.DSL)] == [staff.id]:
            raise StaffAdminError(
                f"{staff.name} is the only active designated safeguarding lead: grant dsl to "
                "someone else first (004_1339a2f729bda141.txt § c) Designated Safeguarding "
                "Leads)."
            )
        staff.roles = [r for r in staff.roles if r != wanted]
        self._event(
            session,
            "staff.role_revoked",
            admin,
            staff=staff.id,
            role=wanted.value,
            roles=staff.roles,
        )


def _role(name: str) -> Role:
    try:
        return Role(name.strip().lower())
    except ValueError:
        raise StaffAdminError(
            f"Unknown role {name!r}: use one of {', '.join(r.value for r in Role)}."
        ) from None
