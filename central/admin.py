"""What the trust admin does from the command line: schools, stations, users.

Kept apart from the CLI so tests and the demo call the same code as ``kiosk-central``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import pyotp
from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.orm import Session

from central.credentials import new_token, token_hash
from central.models import School, Station, User
from wire import GENESIS_HASH

ROLES = ("dsl", "senior_leader", "trust_admin", "governor")
"""DSL (their school, names), senior leader (their school, names), trust admin (stations
and users, no pupil data), governor (anonymised reports only)."""

NAME_ROLES = frozenset({"dsl", "senior_leader"})
"""Roles that see pupils' names: these need a second factor (TOTP) to sign in."""

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
    school_slug: str | None,
    now: datetime,
    totp_secret: str | None = None,
) -> NewUser:
    if role not in ROLES:
        raise AdminError(f"role {role!r}: choose one of {', '.join(ROLES)}")
    if len(password) < 12:
        raise AdminError("password: at least 12 characters (a passphrase is easiest)")
    if s.scalar(select(User).where(User.username == username)):
        raise AdminError(f"user {username!r} already exists")
    school_id = school_by_slug(s, school_slug).id if school_slug else None
    if role in {"dsl", "senior_leader", "governor"} and school_id is None:
        raise AdminError(f"a {role.replace('_', ' ')} belongs to a school: give --school")
    secret = None
    if role in NAME_ROLES:
        secret = totp_secret or pyotp.random_base32()
    user = User(
        username=username,
        display_name=display_name.strip() or username,
        role=role,
        school_id=school_id,
        password_hash=passwords.hash(password),
        totp_secret=secret,
        created_at=now,
    )
    s.add(user)
    s.flush()
    uri = (
        pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name="Kiosk central log")
        if secret
        else None
    )
    return NewUser(user, uri)
