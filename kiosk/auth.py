"""Staff sign-in: badge + PIN, Argon2id-hashed PINs, escalating lockout, unforgeable identities.

Badge UIDs are not secrets (anyone can clone a MIFARE UID), so a badge alone never signs
anyone in, and the PIN is checked like a bank checks one (:mod:`kiosk.pin_rules`). Individual
audited log-ins only: 000 "Network management", 002 "Network management" ("individual,
audited log-ins for all users"), 001 "Access to school systems".

Why the shapes here:

- **Same answer, same work.** An unknown badge and a wrong PIN get the same message, and both
  paths run exactly one Argon2 verification (an unknown badge is checked against a dummy hash
  made with the same parameters), so neither the screen nor the time taken tells a badge
  cloner which UIDs are real. Unknown UIDs are even counted and locked out like real ones.
- **One credential hash per person.** A member of staff has either a PIN hash or an
  enrolment-code hash (issuing a code clears the PIN), never both, so a sign-in never needs
  a second verification that would make a known badge slower than an unknown one.
- **Escalating lockout.** ``max_failures`` wrong PINs lock for the first stage (15 min),
  the next round for the second (1 h), the round after that until a senior leader or office
  administrator unlocks (:mod:`kiosk.staff_admin`). A successful sign-in starts over.
- **Identities cannot be forged.** :class:`Identity` objects that :func:`authorise` accepts
  are minted only here, at sign-in, and registered by a random token; a hand-built
  ``Identity(1, "x", ("senior",))`` (or a copy of a real one) is refused. :func:`authorise`
  re-reads the staff record at every call, so a deactivated or demoted person stops at once.
- **Refusals are recorded but cannot fill the disk.** Unknown badges and attempts on a locked
  badge write at most one event per badge per ``refusal_event_interval``, carrying the count;
  an unknown UID goes into the (never-purged) chain only as a keyed digest.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.audit import append_event
from db.models import Staff
from kiosk.permissions import Permission, permissions_for, roles_allowed
from kiosk.pin_rules import PinLengths, PinRejected, check_pin

if TYPE_CHECKING:
    from collections.abc import Callable

    from kiosk.config import AuthConfig

__all__ = [
    "Argon2Params",
    "AuthError",
    "AuthService",
    "AuthSettings",
    "Identity",
    "NotPermitted",
    "PinChangeRequired",
    "PinChangeTicket",
    "PinRejected",
    "authorise",
    "sign_out",
    "system_identity",
]

#: The one message for an unknown badge and a wrong PIN (issue 9: "the same message").
WRONG = "Wrong PIN, or this badge is not registered."


class AuthError(Exception):
    """Sign-in refused; the message is safe to show at the hatch."""


class PinChangeRequired(AuthError):
    """The badge and code/PIN were right, but a new PIN must be chosen before signing in.

    ``ticket`` is what :meth:`AuthService.complete_pin_change` takes with the new PIN. Being an
    :class:`AuthError`, a screen that does not know about PIN changes still refuses safely.
    """

    def __init__(self, message: str, ticket: PinChangeTicket) -> None:
        super().__init__(message)
        self.ticket = ticket


class NotPermitted(Exception):
    """The signed-in person may not do this (or is not signed in, or no longer active)."""

    def __init__(
        self, message: str, *, staff_id: int | None = None, permission: str | None = None
    ) -> None:
        super().__init__(message)
        self.staff_id, self.permission = staff_id, permission


# --------------------------------------------------------------------------- hashing
@dataclass(frozen=True)
class Argon2Params:
    """Argon2id cost. Default: 7 MiB, 5 passes, 1 lane.

    OWASP's Password Storage Cheat Sheet lists five Argon2id settings it rates as the same
    defence, memory traded for passes (46 MiB x1 ... 19 MiB x2 ... 7 MiB x5). The station takes
    the 7 MiB one because the hash's memory is the largest single thing a sign-in adds to a
    Pi that also runs the UI, the ledger and the door monitor (issue 15: 19 MiB put the
    station's peak 12 MB higher for the same defence). Measured with
    ``bench/argon2_params.py`` (CPU of one verification here x an assumed Pi 4 factor of 6,
    reasons in docs/auth.md): about 0.08 s on a Pi 4, inside the 0.5 s allowed with room for
    the factor to be wrong by 6x. One lane: the Pi's other cores run the UI and the doors.
    """

    memory_kib: int = 7 * 1024
    time_cost: int = 5
    parallelism: int = 1

    def hasher(self) -> PasswordHasher:
        return PasswordHasher(
            time_cost=self.time_cost,
            memory_cost=self.memory_kib,
            parallelism=self.parallelism,
            hash_len=32,
            salt_len=16,
            type=Type.ID,
        )


class PinHasher(Protocol):
    """What the sign-in needs of a password hasher; tests wrap one to count calls."""

    def hash(self, secret: str) -> str: ...

    def verify(self, hashed: str, secret: str) -> bool: ...

    def needs_rehash(self, hashed: str) -> bool: ...


class Argon2PinHasher:
    """argon2-cffi's :class:`PasswordHasher` with failures as ``False`` rather than raised."""

    def __init__(self, params: Argon2Params = Argon2Params()) -> None:
        self.params = params
        self._ph = params.hasher()

    def hash(self, secret: str) -> str:
        return self._ph.hash(secret)

    def verify(self, hashed: str, secret: str) -> bool:
        try:
            return self._ph.verify(hashed, secret)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, hashed: str) -> bool:
        try:
            return self._ph.check_needs_rehash(hashed)
        except InvalidHashError:
            return True


# --------------------------------------------------------------------------- settings
@dataclass(frozen=True)
class AuthSettings:
    """Everything sign-in needs from the ``[auth]`` config section."""

    max_failures: int = 5
    #: Lock lengths for the first, second, ... round of ``max_failures`` wrong PINs; the
    #: round after the last stage locks until a senior leader or office administrator unlocks.
    lockout_stages: tuple[timedelta, ...] = (timedelta(minutes=15), timedelta(hours=1))
    pin_lengths: PinLengths = field(default_factory=PinLengths)
    enrolment_code_ttl: timedelta = timedelta(hours=72)
    enrolment_code_digits: int = 8
    pin_change_ttl: timedelta = timedelta(minutes=5)
    refusal_event_interval: timedelta = timedelta(minutes=1)
    argon2: Argon2Params = field(default_factory=Argon2Params)

    @classmethod
    def from_config(cls, auth: AuthConfig) -> AuthSettings:
        return cls(
            max_failures=auth.max_failed_pins,
            lockout_stages=(
                timedelta(minutes=auth.lockout_minutes),
                timedelta(minutes=auth.second_lockout_minutes),
            ),
            pin_lengths=PinLengths(
                auth.pin_min_length, auth.pin_max_length, auth.privileged_pin_length
            ),
            enrolment_code_ttl=timedelta(hours=auth.enrolment_code_hours),
            argon2=Argon2Params(
                auth.argon2_memory_kib, auth.argon2_time_cost, auth.argon2_parallelism
            ),
        )


# --------------------------------------------------------------------------- identities
@dataclass(frozen=True, eq=False)
class Identity:
    """Who is signed in. Only identities minted by :class:`AuthService` pass :func:`authorise`.

    ``roles`` is a snapshot for display; :func:`authorise` decides from the staff record.
    """

    staff_id: int
    name: str
    roles: tuple[str, ...]
    token: str = field(default="", repr=False)

    @property
    def permissions(self) -> frozenset[Permission]:
        return permissions_for(self.roles)

    def can(self, permission: Permission) -> bool:
        """Display hint only (show or hide a button); the check is :func:`authorise`."""
        return permission in self.permissions


#: Live sign-ins by token. Weak: an identity the UI has dropped is signed out by itself.
_LIVE: weakref.WeakValueDictionary[str, Identity] = weakref.WeakValueDictionary()
#: Staff id 0 is the system actor (the nightly purge timer), never a row in ``staff``.
SYSTEM_STAFF_ID = 0
#: What the system actor may do, and nothing else (issue 9: "can do only that").
SYSTEM_PERMISSIONS = frozenset({Permission.PURGE})


def _mint(staff_id: int, name: str, roles: tuple[str, ...]) -> Identity:
    identity = Identity(staff_id, name, roles, secrets.token_urlsafe(32))
    _LIVE[identity.token] = identity
    return identity


def system_identity() -> Identity:
    """The system actor for root-only maintenance with no person (the purge timer).

    It passes :func:`authorise` only for :data:`SYSTEM_PERMISSIONS`. The caller (the CLI run
    by the systemd timer as root) is what decides that no person is needed.
    """
    return _mint(SYSTEM_STAFF_ID, "system", ("system",))


def sign_out(identity: Identity) -> None:
    """Forget a sign-in: the identity no longer passes :func:`authorise`."""
    if _LIVE.get(identity.token) is identity:
        del _LIVE[identity.token]


def is_signed_in(identity: object) -> bool:
    return (
        isinstance(identity, Identity)
        and bool(identity.token)
        and _LIVE.get(identity.token) is identity
    )


def authorise(session: Session, identity: Identity, permission: Permission) -> Staff | None:
    """Refuse unless ``identity`` is a live sign-in whose staff record allows ``permission``.

    Re-reads the staff row every call: deactivated or demoted staff stop at once. Returns the
    staff row (``None`` for the system actor). Raises :class:`NotPermitted` with a message for
    the screen; ``.staff_id`` and ``.permission`` let the caller record the refusal.
    """
    if not is_signed_in(identity):
        raise NotPermitted(
            "Not signed in: tap your badge and type your PIN.", permission=permission
        )
    if identity.staff_id == SYSTEM_STAFF_ID:
        if permission in SYSTEM_PERMISSIONS:
            return None
        raise NotPermitted(
            f"The system actor may not {permission}.",
            staff_id=SYSTEM_STAFF_ID,
            permission=permission,
        )
    staff = session.get(Staff, identity.staff_id, populate_existing=True)
    if staff is None or not staff.active:
        sign_out(identity)
        raise NotPermitted(
            "This sign-in is no longer valid: the staff record is not active.",
            staff_id=identity.staff_id,
            permission=permission,
        )
    if permission not in permissions_for(staff.roles):
        who = ", ".join(sorted(roles_allowed(permission))) or "nobody"
        raise NotPermitted(
            f"{staff.name} ({', '.join(staff.roles) or 'no role'}) may not {permission.label}: "
            f"ask a colleague who is {who}.",
            staff_id=staff.id,
            permission=permission,
        )
    return staff


# --------------------------------------------------------------------------- PIN changes
@dataclass(frozen=True, eq=False)
class PinChangeTicket:
    """Permission to set a new PIN for one person, for a few minutes. Minted by the service."""

    staff_id: int
    reason: str  # "enrolment" | "reset" | "approved" | "forced"
    expires_at: datetime
    token: str = field(default="", repr=False)


class _RateLimiter:
    """At most one recorded refusal per key per interval; the rest are counted, not written.

    Bounded in size so a stream of random UIDs cannot grow memory either.
    """

    def __init__(self, interval: timedelta, max_keys: int = 1024, budget: int = 20) -> None:
        self.interval, self.max_keys, self.budget = interval, max_keys, budget
        self._last: OrderedDict[str, tuple[datetime, int]] = OrderedDict()
        self._window: tuple[datetime, int] | None = None  # (start, events written in it)
        #: Refusals not written because the overall budget was spent (many different keys,
        #: e.g. a card emulator cycling UIDs); reported with the next event written.
        self.held_back = 0

    def _within_budget(self, now: datetime) -> bool:
        if self._window is None or now - self._window[0] >= self.interval:
            self._window = (now, 0)
        if self._window[1] >= self.budget:
            return False
        self._window = (self._window[0], self._window[1] + 1)
        return True

    def hit(self, key: str, now: datetime) -> int | None:
        """Count one refusal; return how many to record now (this one and those held back).

        At most one event per key per interval, and at most ``budget`` events per interval
        over all keys together.
        """
        last = self._last.get(key)
        if last is not None and now - last[0] < self.interval:
            self._last[key] = (last[0], last[1] + 1)
            self._last.move_to_end(key)
            return None
        if not self._within_budget(now):
            self.held_back += 1
            return None
        count = 1 + (last[1] if last else 0)
        self._last[key] = (now, 0)
        self._last.move_to_end(key)
        while len(self._last) > self.max_keys:
            self._last.popitem(last=False)
        return count


@dataclass
class _Tries:
    """Failure count and lock for a UID nobody holds (kept in memory only)."""

    failures: int = 0
    level: int = 0
    locked_until: datetime | None = None


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _aware(when: datetime | None) -> datetime | None:
    """SQLite hands datetimes back naive; they were written as UTC."""
    if when is not None and when.tzinfo is None:
        return when.replace(tzinfo=UTC)
    return when


def normalise_uid(badge_uid: str) -> str:
    return badge_uid.replace(":", "").replace(" ", "").strip().upper()


class AuthService:
    """Sign-in, PIN changes and refusal records for one station.

    One per station process (the in-memory rate limits and unknown-UID counters live here).
    Every method works in the caller's SQLAlchemy session; the caller commits, and must commit
    on :class:`AuthError` too, so failures and lockouts are kept.
    """

    def __init__(
        self,
        settings: AuthSettings = AuthSettings(),
        *,
        station_id: str,
        clock: Callable[[], datetime] = _utcnow,
        hasher: PinHasher | None = None,
        badge_digest_key: bytes | None = None,
    ) -> None:
        self.settings = settings
        self.station_id = station_id
        self.clock = clock
        self.hasher: PinHasher = hasher or Argon2PinHasher(settings.argon2)
        # A per-process key by default: an unknown UID's digest links taps within one run of
        # the kiosk (enough to see a stuck or probing card) but cannot be reversed later by
        # trying all 2^32 UIDs, because the key is never stored.
        self._digest_key = badge_digest_key or secrets.token_bytes(32)
        self._dummy: str | None = None
        self._refusals = _RateLimiter(settings.refusal_event_interval)
        self._unknown: OrderedDict[str, _Tries] = OrderedDict()
        self._tickets: dict[str, PinChangeTicket] = {}

    # ------------------------------------------------------------------ helpers
    def _now(self, now: datetime | None) -> datetime:
        return now or self.clock()

    def _event(
        self,
        session: Session,
        type: str,
        now: datetime,
        actor_id: int | None = None,
        **payload: object,
    ) -> None:
        append_event(
            session,
            station_id=self.station_id,
            type=type,
            occurred_at=now,
            actor_id=actor_id,
            payload=dict(payload),
        )

    def dummy_hash(self) -> str:
        """A hash of a random secret with the live parameters, verified for unknown badges."""
        if self._dummy is None:
            self._dummy = self.hasher.hash(secrets.token_hex(16))
        return self._dummy

    def badge_digest(self, badge_uid: str) -> str:
        """Keyed digest of a UID for events: links repeats, reveals nothing stored."""
        mac = hmac.new(self._digest_key, normalise_uid(badge_uid).encode(), hashlib.sha256)
        return mac.hexdigest()[:16]

    def _lock_for(self, level: int) -> timedelta | None:
        """Lock length after round ``level`` (1-based) of failures; None = until unlocked."""
        stages = self.settings.lockout_stages
        return stages[level - 1] if level <= len(stages) else None

    def _locked_message(self, level: int, until: datetime | None, now: datetime) -> str | None:
        if level > len(self.settings.lockout_stages):
            return (
                "Locked after too many wrong PINs: a senior leader or office administrator "
                "must unlock this badge."
            )
        if until is not None and until > now:
            minutes = int((until - now).total_seconds() // 60) + 1
            return f"Locked after too many wrong PINs. Try again in {minutes} min."
        return None

    def _failure_message(self, level: int, just_locked: bool) -> str:
        if not just_locked:
            return f"{WRONG} Try again, or ask the office."
        lock = self._lock_for(level)
        if lock is None:
            return (
                f"{WRONG} Locked after too many attempts until a senior leader or office "
                "administrator unlocks it."
            )
        return f"{WRONG} Locked for {_duration(lock)} after too many attempts."

    def _record_refusal(
        self, session: Session, key: str, type: str, now: datetime, **payload: object
    ) -> None:
        count = self._refusals.hit(f"{type}:{key}", now)
        if count is not None:
            extra: dict[str, object] = {}
            if self._refusals.held_back:
                extra["others_held_back"] = self._refusals.held_back
                self._refusals.held_back = 0
            append_event(
                session,
                station_id=self.station_id,
                type=type,
                occurred_at=now,
                payload={"attempts": count, **payload, **extra},
            )

    def staff_lock_message(self, staff: Staff, now: datetime | None = None) -> str | None:
        """Why ``staff`` cannot sign in right now, or None if they are not locked out."""
        return self._locked_message(staff.lockout_level, _aware(staff.locked_until), self._now(now))

    def _count_failure(self, session: Session, staff: Staff, now: datetime) -> str:
        """One more wrong PIN for a real badge; returns the message to show."""
        staff.failed_attempts += 1
        if staff.failed_attempts < self.settings.max_failures:
            self._event(
                session,
                "auth.failed",
                now,
                actor_id=staff.id,
                failed_attempts=staff.failed_attempts,
            )
            return self._failure_message(staff.lockout_level, just_locked=False)
        staff.failed_attempts = 0
        staff.lockout_level += 1
        lock = self._lock_for(staff.lockout_level)
        staff.locked_until = now + lock if lock is not None else None
        self._event(
            session,
            "auth.locked_out",
            now,
            actor_id=staff.id,
            level=staff.lockout_level,
            minutes=int(lock.total_seconds() // 60) if lock is not None else None,
        )
        return self._failure_message(staff.lockout_level, just_locked=True)

    def _unknown_badge(self, session: Session, uid: str, pin: str, now: datetime) -> AuthError:
        """Same work, same words as a wrong PIN on a real badge; recorded, rate-limited."""
        self.hasher.verify(self.dummy_hash(), pin)
        tries = self._unknown.pop(uid, None) or _Tries()
        self._unknown[uid] = tries  # most recent last; oldest forgotten first
        while len(self._unknown) > 1024:
            self._unknown.popitem(last=False)
        self._record_refusal(session, uid, "auth.unknown_badge", now, badge=self.badge_digest(uid))
        locked = self._locked_message(tries.level, tries.locked_until, now)
        if locked:
            return AuthError(locked)
        tries.failures += 1
        if tries.failures < self.settings.max_failures:
            return AuthError(self._failure_message(tries.level, just_locked=False))
        tries.failures, tries.level = 0, tries.level + 1
        lock = self._lock_for(tries.level)
        tries.locked_until = now + lock if lock is not None else None
        return AuthError(self._failure_message(tries.level, just_locked=True))

    def note_unknown_badge(
        self, session: Session, badge_uid: str, *, now: datetime | None = None
    ) -> None:
        """Record a tap of a badge nobody holds (for a reader path that asks no PIN)."""
        uid = normalise_uid(badge_uid)
        self._record_refusal(
            session, uid, "auth.unknown_badge", self._now(now), badge=self.badge_digest(uid)
        )

    def _find(self, session: Session, uid: str) -> Staff | None:
        return session.scalars(
            select(Staff).where(Staff.badge_uid == uid, Staff.active)
        ).one_or_none()

    def _ticket(self, staff: Staff, reason: str, now: datetime) -> PinChangeTicket:
        ticket = PinChangeTicket(
            staff.id, reason, now + self.settings.pin_change_ttl, secrets.token_urlsafe(32)
        )
        self._tickets[ticket.token] = ticket
        for token, old in list(self._tickets.items()):
            if old.expires_at <= now:
                del self._tickets[token]
        return ticket

    def _signed_in(self, session: Session, staff: Staff, now: datetime) -> Identity:
        staff.failed_attempts, staff.lockout_level, staff.locked_until = 0, 0, None
        self._event(session, "auth.signed_in", now, actor_id=staff.id)
        return _mint(staff.id, staff.name, tuple(staff.roles))

    # ------------------------------------------------------------------ sign-in
    def sign_in(
        self, session: Session, badge_uid: str, pin: str, *, now: datetime | None = None
    ) -> Identity:
        """Badge + PIN (or a one-time enrolment code). Exactly one hash verification per call.

        Raises :class:`AuthError` (same words for unknown badge and wrong PIN) or
        :class:`PinChangeRequired` when the person must choose a new PIN first.
        """
        now = self._now(now)
        uid = normalise_uid(badge_uid)
        staff = self._find(session, uid)
        if staff is None:
            raise self._unknown_badge(session, uid, pin, now)
        locked = self.staff_lock_message(staff, now)
        if locked:
            self.hasher.verify(self.dummy_hash(), pin)  # same time as any other answer
            self._record_refusal(session, str(staff.id), "auth.refused_locked", now, staff=staff.id)
            raise AuthError(locked)
        is_code = staff.pin_hash is None and staff.enrolment_code_hash is not None
        credential = staff.pin_hash or staff.enrolment_code_hash
        ok = self.hasher.verify(credential or self.dummy_hash(), pin)
        if not (ok and credential):
            raise AuthError(self._count_failure(session, staff, now))
        if is_code:
            expires = _aware(staff.enrolment_code_expires_at)
            if expires is None or expires <= now:
                self._event(session, "auth.enrolment_code_expired", now, actor_id=staff.id)
                raise AuthError(
                    "This enrolment code has expired: ask a senior leader or office "
                    "administrator for a new one."
                )
        staff.failed_attempts, staff.lockout_level, staff.locked_until = 0, 0, None
        if is_code or staff.pin_must_change:
            reason = "enrolment" if is_code else "forced"
            self._event(session, "auth.pin_change_required", now, actor_id=staff.id, reason=reason)
            raise PinChangeRequired(
                "Choose a new PIN to finish signing in."
                if is_code
                else "Your PIN must be changed: choose a new one.",
                self._ticket(staff, reason, now),
            )
        assert staff.pin_hash is not None
        if self.hasher.needs_rehash(staff.pin_hash):
            staff.pin_hash = self.hasher.hash(pin)
        return self._signed_in(session, staff, now)

    def sign_out(self, session: Session, identity: Identity, *, why: str = "signed out") -> None:
        if is_signed_in(identity):
            self._event(
                session, "auth.signed_out", self._now(None), actor_id=identity.staff_id, why=why
            )
        sign_out(identity)

    def record_not_permitted(
        self, session: Session, refusal: NotPermitted, *, now: datetime | None = None
    ) -> None:
        """Record a refused use-case (who, which permission), at most once a minute each.

        Call it in its own transaction after :func:`authorise` raised: the use-case's own
        transaction is rolled back with the refusal.
        """
        now = self._now(now)
        key = f"{refusal.staff_id}:{refusal.permission}"
        count = self._refusals.hit(f"auth.not_permitted:{key}", now)
        if count is not None:
            append_event(
                session,
                station_id=self.station_id,
                type="auth.not_permitted",
                occurred_at=now,
                actor_id=refusal.staff_id,
                payload={"permission": str(refusal.permission), "attempts": count},
            )

    # ------------------------------------------------------------------ PINs
    def check_new_pin(self, staff: Staff, pin: str) -> None:
        """Raise :class:`PinRejected` if ``pin`` breaks the rules for this person."""
        check_pin(
            pin, roles=staff.roles, lengths=self.settings.pin_lengths, badge_uid=staff.badge_uid
        )

    def hash_checked_pin(self, staff: Staff, pin: str) -> str:
        """The hash to store for ``pin`` after checking the rules (used by the demo seed)."""
        self.check_new_pin(staff, pin)
        return self.hasher.hash(pin)

    def approval_ticket(self, staff: Staff, *, now: datetime | None = None) -> PinChangeTicket:
        """A senior's approval: the person standing there may set a PIN now (staff_admin)."""
        return self._ticket(staff, "approved", self._now(now))

    def complete_pin_change(
        self,
        session: Session,
        ticket: PinChangeTicket,
        new_pin: str,
        *,
        now: datetime | None = None,
    ) -> Identity:
        """Set the new PIN a ticket allows and sign the person in.

        A rejected PIN (:class:`PinRejected`) leaves the ticket valid so they can try another.
        """
        now = self._now(now)
        live = self._tickets.get(ticket.token)
        if live is not ticket or ticket.expires_at <= now:
            self._tickets.pop(ticket.token, None)
            raise AuthError("This PIN change has timed out: tap your badge again.")
        staff = session.get(Staff, ticket.staff_id)
        if staff is None or not staff.active:
            self._tickets.pop(ticket.token, None)
            raise AuthError(WRONG)
        self.check_new_pin(staff, new_pin)
        if staff.pin_hash and self.hasher.verify(staff.pin_hash, new_pin):
            raise PinRejected("Choose a PIN different from the old one.")
        del self._tickets[ticket.token]
        staff.pin_hash = self.hasher.hash(new_pin)
        staff.enrolment_code_hash, staff.enrolment_code_expires_at = None, None
        staff.pin_must_change = False
        self._event(
            session, "staff.pin_set", now, actor_id=staff.id, staff=staff.id, reason=ticket.reason
        )
        return self._signed_in(session, staff, now)

    def change_pin(
        self,
        session: Session,
        identity: Identity,
        current_pin: str,
        new_pin: str,
        *,
        now: datetime | None = None,
    ) -> None:
        """A signed-in person changes their own PIN; needs the current one.

        A wrong current PIN counts towards the lockout (else this would be a way round it),
        and locking out ends the sign-in.
        """
        now = self._now(now)
        if not is_signed_in(identity) or identity.staff_id == SYSTEM_STAFF_ID:
            raise NotPermitted("Not signed in: tap your badge and type your PIN.")
        staff = session.get(Staff, identity.staff_id)
        if staff is None or not staff.active:
            sign_out(identity)
            raise NotPermitted("This sign-in is no longer valid: the staff record is not active.")
        ok = self.hasher.verify(staff.pin_hash or self.dummy_hash(), current_pin)
        if not (ok and staff.pin_hash):
            message = self._count_failure(session, staff, now)
            if self.staff_lock_message(staff, now):
                sign_out(identity)
                raise AuthError(message.replace(WRONG, "Wrong current PIN."))
            raise AuthError("Wrong current PIN: your PIN is unchanged.")
        self.check_new_pin(staff, new_pin)
        if new_pin == current_pin:
            raise PinRejected("Choose a PIN different from the old one.")
        staff.failed_attempts = 0
        staff.pin_hash = self.hasher.hash(new_pin)
        staff.pin_must_change = False
        self._event(session, "staff.pin_changed", now, actor_id=staff.id, staff=staff.id)

    def new_enrolment_code(self) -> tuple[str, str]:
        """A random one-time code (digits, typed where the PIN goes) and its hash."""
        digits = self.settings.enrolment_code_digits
        code = "".join(secrets.choice("0123456789") for _ in range(digits))
        return code, self.hasher.hash(code)


def _duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes % 60 == 0 and minutes >= 60:
        hours = minutes // 60
        return f"{hours} hour" + ("s" if hours > 1 else "")
    return f"{minutes} min"
