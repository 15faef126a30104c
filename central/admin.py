"""What the trust admin does from the command line: schools, stations, users.

Kept apart from the CLI so tests and the demo call the same code as ``kiosk-central``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import pyotp
from argon2 import PasswordHasher
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from central.credentials import new_token, token_hash
from central.models import School, Station, User, UserSchool, UserSchoolChange
from wire import GENESIS_HASH

ROLES = ("dsl", "senior_leader", "trust_admin", "governor")
"""DSL (their school, names), senior leader (their school, names), trust admin (stations
and users, no pupil data), governor (anonymised reports only)."""

NAME_ROLES = frozenset({"dsl", "senior_leader"})
"""Roles that see pupils' names: these need a second factor (TOTP) to sign in."""

SCHOOL_ROLES = frozenset({"dsl", "senior_leader", "governor"})
"""Roles scoped to a set of schools (at least one); the trust admin is trust-wide."""

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
STATION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

passwords = PasswordHasher()


class AdminError(ValueError):
    """A request the trust admin can correct; the message says how."""


def add_school(s: Session, slug: str, name: str) -> School:
    if not SLUG.match(slug):
        raise AdminError(
            f"school id {slug!r}: use lower-case letters, digits and hyphens (e.g. 'oakfield')"
        )
    if s.scalar(select(School).where(School.slug == slug)):
        raise AdminError(f"school {slug!r} already exists")
    school = School(slug=slug, name=name.strip() or slug)
    s.add(school)
    s.flush()
    return school


def school_by_slug(s: Session, slug: str) -> School:
    school = s.scalar(select(School).where(School.slug == slug))
    if school is None:
        known = ", ".join(s.scalars(select(School.slug))) or "none yet"
        raise AdminError(
            f"no school {slug!r} (known: {known}); add it with `kiosk-central school add`"
        )
    return school


@dataclass(frozen=True)
class IssuedStation:
    station: Station
    token: str
    """The credential in clear: shown once, never stored."""


def add_station(s: Session, station_id: str, school_slug: str, now: datetime) -> IssuedStation:
    if not STATION.match(station_id):
        raise AdminError(
            f"station name {station_id!r}: letters, digits, '.', '_' and '-' only, "
            "64 characters at most, as in the kiosk's kiosk.toml station_id"
        )
    if s.scalar(select(Station).where(Station.station_id == station_id)):
        raise AdminError(
            f"station {station_id!r} already exists; revoke it and add a new name to re-issue"
        )
    school = school_by_slug(s, school_slug)
    token = new_token()
    station = Station(
        station_id=station_id,
        school_id=school.id,
        token_hash=token_hash(token),
        created_at=now,
        anchor_seq=0,
        anchor_hash=GENESIS_HASH,
    )
    s.add(station)
    s.flush()
    return IssuedStation(station, token)


def revoke_station(s: Session, station_id: str, now: datetime) -> Station:
    station = s.scalar(select(Station).where(Station.station_id == station_id))
    if station is None:
        raise AdminError(f"no station {station_id!r}")
    if station.revoked_at is None:
        station.revoked_at = now
    return station


@dataclass(frozen=True)
class NewUser:
    user: User
    totp_uri: str | None
    """The otpauth:// URI to scan into an authenticator app (roles that see names)."""


def add_user(
    s: Session,
    *,
    username: str,
    display_name: str,
    role: str,
    password: str,
    now: datetime,
    school_slug: str | None = None,
    school_slugs: Sequence[str] = (),
    totp_secret: str | None = None,
    by: User | None = None,
    by_name: str = "",
) -> NewUser:
    """Add a user scoped to ``school_slugs`` (and ``school_slug``, the one-school form).

    Each school given is recorded as an ``added`` change by ``by`` (signed in to the
    pages) or ``by_name`` (the command line's operating-system account).
    """
    if role not in ROLES:
        raise AdminError(f"role {role!r}: choose one of {', '.join(ROLES)}")
    if len(password) < 12:
        raise AdminError("password: at least 12 characters (a passphrase is easiest)")
    if s.scalar(select(User).where(User.username == username)):
        raise AdminError(f"user {username!r} already exists")
    slugs = list(dict.fromkeys([*([school_slug] if school_slug else []), *school_slugs]))
    schools = [school_by_slug(s, slug) for slug in slugs]
    if role in SCHOOL_ROLES and not schools:
        raise AdminError(f"a {role.replace('_', ' ')} belongs to a school: give --school")
    if role not in SCHOOL_ROLES and schools:
        raise AdminError("a trust admin is trust-wide (and sees no pupil data): drop --school")
    secret = None
    if role in NAME_ROLES:
        secret = totp_secret or pyotp.random_base32()
    user = User(
        username=username,
        display_name=display_name.strip() or username,
        role=role,
        password_hash=passwords.hash(password),
        totp_secret=secret,
        created_at=now,
    )
    s.add(user)
    s.flush()
    for school in schools:
        _scope_change(s, user, school, "added", now, by, by_name)
    uri = (
        pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name="Kiosk central log")
        if secret
        else None
    )
    return NewUser(user, uri)


def user_by_name(s: Session, username: str) -> User:
    user = s.scalar(select(User).where(User.username == username))
    if user is None:
        raise AdminError(f"no user {username!r}; add them with `kiosk-central user add`")
    return user


def school_ids(s: Session, user: User) -> frozenset[int]:
    """The schools ``user`` works for (empty for the trust admin, who is trust-wide)."""
    return frozenset(s.scalars(select(UserSchool.school_id).where(UserSchool.user_id == user.id)))


def add_user_school(
    s: Session,
    username: str,
    school_slug: str,
    now: datetime,
    *,
    by: User | None = None,
    by_name: str = "",
) -> School:
    """Widen a DSL's, senior leader's or governor's scope by one school (recorded)."""
    user = user_by_name(s, username)
    school = school_by_slug(s, school_slug)
    if user.role not in SCHOOL_ROLES:
        raise AdminError(f"{username} is a trust admin: trust-wide already, no schools to add")
    if school.id in school_ids(s, user):
        raise AdminError(f"{username} already covers {school.slug}")
    _scope_change(s, user, school, "added", now, by, by_name)
    return school


def remove_user_school(
    s: Session,
    username: str,
    school_slug: str,
    now: datetime,
    *,
    by: User | None = None,
    by_name: str = "",
) -> School:
    """Narrow a user's scope by one school (recorded); never to no school at all."""
    user = user_by_name(s, username)
    school = school_by_slug(s, school_slug)
    held = school_ids(s, user)
    if school.id not in held:
        raise AdminError(f"{username} does not cover {school.slug}")
    if held == {school.id}:
        raise AdminError(
            f"{school.slug} is {username}'s only school: add their new school first, "
            "or disable the account"
        )
    _scope_change(s, user, school, "removed", now, by, by_name)
    return school


def _scope_change(
    s: Session,
    user: User,
    school: School,
    change: str,
    now: datetime,
    by: User | None,
    by_name: str,
) -> None:
    """The one writer of ``user_schools``: the row and its append-only record, together."""
    if change == "added":
        s.add(UserSchool(user_id=user.id, school_id=school.id))
    else:
        s.execute(
            delete(UserSchool).where(
                UserSchool.user_id == user.id, UserSchool.school_id == school.id
            )
        )
    s.add(
        UserSchoolChange(
            at=now,
            user_id=user.id,
            school_id=school.id,
            change=change,
            by_user_id=by.id if by else None,
            by_name=by.username if by else (by_name or "unknown"),
        )
    )
    s.flush()
