"""SQLAlchemy 2 models of the central log.

Three kinds of table:

* the chain as received (``events``), one row per (station, seq), never updated: it is the
  copy of each kiosk's audit chain that a shell on the Pi cannot reach;
* reference data (``pupils``, ``pupil_links``, ``staff_refs``, ``holding_refs``), mutable,
  upserted beside the chain from each batch so names can be corrected or removed by
  retention without touching a hash;
* the tray (``cases`` and their append-only ``case_entries``), and the people who work it
  (``users``, ``web_sessions``, ``login_failures``, ``access_log``).

``cases`` carries the current status and assignee as a projection of its entries, so the
tray can filter and index them; the entries are the record (who did what, when) and are
only ever inserted.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: BIGINT on PostgreSQL (a national log passes 2**31 events), INTEGER on SQLite so that the
#: primary key stays SQLite's rowid alias and autoincrements.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC without tzinfo and hands back aware UTC datetimes; refuses naive ones."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column; pass an aware one")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    """Base class of every central table (its own metadata: not the kiosk's)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime, dict[str, Any]: JSON}


class School(Base):
    __tablename__ = "schools"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))


class Station(Base):
    """A kiosk. ``token_hash`` is SHA-256 of its credential; the anchor is what it holds."""

    __tablename__ = "stations"
    __table_args__ = (
        # What events' (station_pk, school_id) refer to: see Event.
        UniqueConstraint("id", "school_id", name="uq_stations_id_school"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[str] = mapped_column(String(64), unique=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    anchor_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    anchor_hash: Mapped[str] = mapped_column(String(64))
    last_seen_at: Mapped[datetime | None]


class Event(Base):
    """One event of a station's chain, exactly as the kiosk hashed it."""

    __tablename__ = "events"
    __table_args__ = (
        # One key for both: an event's school is its station's school, always. One check
        # per row instead of two, and on the station's row, which the ingest holds locked
        # anyway; the school's row, shared by every station of the school, is no longer
        # key-share locked by each of their concurrent batches (migration c0004).
        ForeignKeyConstraint(
            ["station_pk", "school_id"],
            ["stations.id", "stations.school_id"],
            name="fk_events_station_school",
        ),
        UniqueConstraint("station_pk", "seq", name="uq_events_station_seq"),
        Index("ix_events_pupil_time", "pupil_pk", "occurred_at"),
        Index("ix_events_school_time", "school_id", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    station_pk: Mapped[int]
    school_id: Mapped[int]
    seq: Mapped[int] = mapped_column(BigInteger)
    type: Mapped[str] = mapped_column(String(60))
    occurred_at: Mapped[datetime]
    occurred_at_text: Mapped[str] = mapped_column(String(40))
    actor_id: Mapped[int | None] = mapped_column(BigInteger)
    holding_id: Mapped[int | None] = mapped_column(BigInteger)
    payload: Mapped[dict[str, Any]]
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime]
    pupil_pk: Mapped[int | None] = mapped_column(ForeignKey("pupils.id"))


class Pupil(Base):
    """A pupil of a school, one row across all its stations (keyed by the MIS id)."""

    __tablename__ = "pupils"
    __table_args__ = (UniqueConstraint("school_id", "mis_id", name="uq_pupils_school_mis"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    mis_id: Mapped[str] = mapped_column(String(200))
    given_name: Mapped[str] = mapped_column(String(200))
    family_name: Mapped[str] = mapped_column(String(200))
    year_group: Mapped[str] = mapped_column(String(20))
    updated_at: Mapped[datetime]


class PupilLink(Base):
    """A station's own pupil id -> the school's pupil row."""

    __tablename__ = "pupil_links"

    station_pk: Mapped[int] = mapped_column(ForeignKey("stations.id"), primary_key=True)
    local_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    pupil_pk: Mapped[int] = mapped_column(ForeignKey("pupils.id"))


class StaffRef(Base):
    __tablename__ = "staff_refs"

    station_pk: Mapped[int] = mapped_column(ForeignKey("stations.id"), primary_key=True)
    local_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    roles: Mapped[list[str]] = mapped_column(JSON)


class HoldingRef(Base):
    """A station's holding id -> its pupil (so events about a holding find their pupil)."""

    __tablename__ = "holding_refs"

    station_pk: Mapped[int] = mapped_column(ForeignKey("stations.id"), primary_key=True)
    local_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    pupil_local_id: Mapped[int] = mapped_column(BigInteger)


class Case(Base):
    """One item in the DSL's tray, raised by an event or by a refused batch (tamper)."""

    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_tray", "school_id", "status", "opened_at"),
        Index("ix_cases_school_time", "school_id", "opened_at"),
        Index("ix_cases_pupil", "pupil_pk", "opened_at"),
        Index("ix_cases_event", "event_pk"),
        UniqueConstraint("dedupe_key", name="uq_cases_dedupe_key"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    station_pk: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    event_pk: Mapped[int | None] = mapped_column(ForeignKey("events.id"))
    pupil_pk: Mapped[int | None] = mapped_column(ForeignKey("pupils.id"))
    category: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(200))
    detail: Mapped[dict[str, Any]]
    opened_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(20), default="untriaged")
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    outcome: Mapped[str | None] = mapped_column(String(40))
    dedupe_key: Mapped[str] = mapped_column(String(200))


class CaseEntry(Base):
    """An append-only record of one change to a case: who, when, what."""

    __tablename__ = "case_entries"
    __table_args__ = (Index("ix_case_entries_case", "case_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    at: Mapped[datetime]
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(20))
    body: Mapped[dict[str, Any]]


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(200))
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    """The 30-second step of the last code accepted: a code is good once (no replay)."""
    created_at: Mapped[datetime]
    disabled_at: Mapped[datetime | None]


class UserSchool(Base):
    """A school a user works for: their scope. A DSL or senior leader covering several
    schools of the trust has one row per school; a trust admin has none (trust-wide, and
    no pupil data). Changed only through :mod:`central.admin`, which writes a
    :class:`UserSchoolChange` beside every row it adds or removes (migration c0006)."""

    __tablename__ = "user_schools"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), primary_key=True)


class UserSchoolChange(Base):
    """Append-only: a school added to or removed from a user's scope, by whom and when.

    ``by_user_id`` is the trust admin signed in to the pages; from the command line it is
    empty and ``by_name`` names the operating-system account that ran ``kiosk-central``.
    """

    __tablename__ = "user_school_changes"
    __table_args__ = (Index("ix_user_school_changes_user", "user_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    change: Mapped[str] = mapped_column(String(10))
    """``added`` or ``removed``."""
    by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    by_name: Mapped[str] = mapped_column(String(200))


class WebSession(Base):
    """A signed-in browser. Only the SHA-256 of the cookie is stored; logout deletes it."""

    __tablename__ = "web_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    last_seen_at: Mapped[datetime | None]
    """The last request made with it: idle longer than the app's ``session_idle`` and it
    is gone (seeds 001, 002: screens locked when unattended). ``None``: created before c0005,
    counted from ``created_at``."""


class LoginFailure(Base):
    """Failed log-ins, kept in the database so throttling holds across web processes."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_user_at", "username", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    username: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime]


class AccessLog(Base):
    """Who looked at what: every view of a pupil's record or a case."""

    __tablename__ = "access_log"
    __table_args__ = (Index("ix_access_log_pupil", "pupil_pk", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    pupil_pk: Mapped[int | None] = mapped_column(ForeignKey("pupils.id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    what: Mapped[str] = mapped_column(String(200))
