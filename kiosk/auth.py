"""Staff sign-in: badge + PIN, Argon2id-hashed PINs, lockout after repeated failures.

Badge UIDs are not secrets (anyone can clone a MIFARE UID), so a badge alone never signs
anyone in. PINs are short, so the hash is memory-hard (Argon2id via argon2-cffi) and the
account locks after ``max_failures`` wrong PINs for ``lockout`` (DESIGN.md, 001/002:
individual audited log-ins).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.audit import append_event
from db.models import Staff
from kiosk.permissions import Permission, permissions_for

_hasher = PasswordHasher()


class AuthError(Exception):
    """Sign-in refused; the message is safe to show at the hatch."""


class NotPermitted(Exception):
    """The signed-in person's roles do not include what they tried to do."""


@dataclass(frozen=True)
class Identity:
    """Who is signed in. Passed into every use-case; never a shared account."""

    staff_id: int
    name: str
    roles: tuple[str, ...]

    @property
    def permissions(self) -> frozenset[Permission]:
        return permissions_for(self.roles)

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions

    def require(self, permission: Permission) -> None:
        if not self.can(permission):
            raise NotPermitted(
                f"{self.name} ({', '.join(self.roles) or 'no role'}) may not {permission}: "
                "ask a colleague with that role"
            )


def hash_pin(pin: str) -> str:
    if not (pin.isdigit() and 4 <= len(pin) <= 8):
        raise ValueError("a PIN is 4 to 8 digits")
    return _hasher.hash(pin)


def pin_matches(pin_hash: str | None, pin: str) -> bool:
    if not pin_hash:
        return False
    try:
        return _hasher.verify(pin_hash, pin)
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True)
class LockoutPolicy:
    max_failures: int = 5
    lockout: timedelta = timedelta(minutes=15)


def sign_in(
    session: Session,
    *,
    badge_uid: str,
    pin: str,
    now: datetime,
    station_id: str,
    policy: LockoutPolicy = LockoutPolicy(),
) -> Identity:
    """Check badge + PIN; record the attempt as an event either way. Caller commits."""
    staff = session.scalars(
        select(Staff).where(Staff.badge_uid == badge_uid.upper(), Staff.active)
    ).one_or_none()
    if staff is None:
        append_event(
            session,
            station_id=station_id,
            type="auth.unknown_badge",
            occurred_at=now,
            payload={"badge_uid": badge_uid.upper()},
        )
        raise AuthError("This badge is not registered to anyone. Ask the office manager.")
    if staff.locked_until is not None and staff.locked_until > now:
        minutes = int((staff.locked_until - now).total_seconds() // 60) + 1
        raise AuthError(f"Locked after too many wrong PINs. Try again in {minutes} min.")
    if not pin_matches(staff.pin_hash, pin):
        staff.failed_attempts += 1
        payload = {"failed_attempts": staff.failed_attempts}
        if staff.failed_attempts >= policy.max_failures:
            staff.locked_until = now + policy.lockout
            staff.failed_attempts = 0
            append_event(
                session,
                station_id=station_id,
                type="auth.locked_out",
                occurred_at=now,
                actor_id=staff.id,
                payload=payload,
            )
            raise AuthError(
                f"Wrong PIN. Locked for {int(policy.lockout.total_seconds() // 60)} min "
                "after too many attempts."
            )
        append_event(
            session,
            station_id=station_id,
            type="auth.failed",
            occurred_at=now,
            actor_id=staff.id,
            payload=payload,
        )
        left = policy.max_failures - staff.failed_attempts
        raise AuthError(f"Wrong PIN. {left} attempt(s) left before lockout.")
    staff.failed_attempts = 0
    staff.locked_until = None
    append_event(
        session, station_id=station_id, type="auth.signed_in", occurred_at=now, actor_id=staff.id
    )
    return Identity(staff.id, staff.name, tuple(staff.roles))
