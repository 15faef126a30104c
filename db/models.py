"""The kiosk's tables: people, lockers, holdings, exam sessions, incidents, events, outbox.

Holdings carry who did what and when at every step so a paper-free audit is possible; the
event table is the append-only, hash-chained history (see :mod:`db.audit`). Events hold ids,
never names, so a retention purge can remove personal data without breaking the chain.
"""

from __future__ import annotations

import enum
import re
from datetime import date, datetime
from typing import Any, Final

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy import Enum as SAEnum
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from db.base import Base
from wire.vocabulary import ExamSessionState, HoldingKind, HoldingState, LockerState

#: Allowed state changes. ``releasing -> held`` exists because a door that did not open
#: must not leave a phone recorded as gone (physical truth beats database truth).
TRANSITIONS: dict[HoldingState, frozenset[HoldingState]] = {
    HoldingState.DEPOSITING: frozenset({HoldingState.HELD, HoldingState.ABORTED}),
    HoldingState.HELD: frozenset({HoldingState.RELEASING, HoldingState.SAFEGUARDING_HOLD}),
    HoldingState.RELEASING: frozenset({HoldingState.RELEASED, HoldingState.HELD}),
    HoldingState.SAFEGUARDING_HOLD: frozenset({HoldingState.HELD, HoldingState.HANDED_TO_POLICE}),
    HoldingState.RELEASED: frozenset(),
    HoldingState.HANDED_TO_POLICE: frozenset(),
    HoldingState.ABORTED: frozenset(),
}

OPEN_STATES = frozenset(
    {
        HoldingState.DEPOSITING,
        HoldingState.HELD,
        HoldingState.RELEASING,
        HoldingState.SAFEGUARDING_HOLD,
    }
)


#: Ids of rows that events refer to are never reused (SQLite AUTOINCREMENT): after a purge, an
#: old event naming holding 7 must not come to point at a new pupil's holding 7.
NEVER_REUSE_IDS: Final = {"sqlite_autoincrement": True}

#: The only health information the kiosk keeps about a pupil: the category of a reasonable
#: adjustment, never a diagnosis (minimum data, UK GDPR Art. 5(1)(c)).
EXEMPTION_CATEGORIES: Final = frozenset({"medical", "young_carer"})

#: An ID type is a word code ("driving_licence"); digits are refused so that a document
#: number can never be stored in its place.
_ID_TYPE_RE: Final = re.compile(r"^[a-z]+(_[a-z]+)*$")


class MinimumDataError(ValueError):
    """A value would store more personal data than the kiosk is allowed to keep."""


def _words(enum_type: type[enum.StrEnum], length: int = 20) -> SAEnum:
    """A column holding one word of ``enum_type``: stored as the plain word (VARCHAR, no
    database enum type, so the schema is unchanged), read back as the enum member."""
    return SAEnum(
        enum_type,
        native_enum=False,
        create_constraint=False,
        length=length,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class Pupil(Base):
    __tablename__ = "pupils"
    __table_args__ = NEVER_REUSE_IDS

    id: Mapped[int] = mapped_column(primary_key=True)
    mis_id: Mapped[str] = mapped_column(String(64), unique=True)
    given_name: Mapped[str] = mapped_column(String(100))
    family_name: Mapped[str] = mapped_column(String(100))
    year_group: Mapped[str] = mapped_column(String(20))
    tutor_group: Mapped[str] = mapped_column(String(20), default="")
    card_uid: Mapped[str | None] = mapped_column(String(32), unique=True)
    #: The exam board candidate number (from ``kiosk import exams``), shown with the pouch.
    candidate_number: Mapped[str | None] = mapped_column(String(20))
    #: Reasonable-adjustment exemptions, e.g. ["medical"], ["young_carer"].
    exemptions: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: Optional (MIS import): child-protection records are kept until the 25th birthday.
    date_of_birth: Mapped[date | None]
    #: When the pupil was last missing from a full MIS import (they left the school).
    left_at: Mapped[datetime | None]

    contacts: Mapped[list[Contact]] = relationship(
        back_populates="pupil", cascade="all, delete-orphan", order_by="Contact.priority"
    )

    @property
    def display_name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    @validates("exemptions")
    def _category_only(self, _key: str, value: list[str] | None) -> list[str]:
        for item in value or []:
            if item not in EXEMPTION_CATEGORIES:
                raise MinimumDataError(
                    f"exemption {item!r} refused: record the category only "
                    f"({', '.join(sorted(EXEMPTION_CATEGORIES))}), never a diagnosis"
                )
        return list(value or [])


class Contact(Base):
    __tablename__ = "contacts"
    __table_args__ = NEVER_REUSE_IDS

    id: Mapped[int] = mapped_column(primary_key=True)
    pupil_id: Mapped[int] = mapped_column(ForeignKey("pupils.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    relationship_to_pupil: Mapped[str] = mapped_column("relationship", String(60))
    parental_responsibility: Mapped[bool] = mapped_column(default=False)
    may_collect: Mapped[bool] = mapped_column(default=False)
    priority: Mapped[int] = mapped_column(default=1)

    pupil: Mapped[Pupil] = relationship(back_populates="contacts")


class Staff(Base):
    __tablename__ = "staff"
    __table_args__ = NEVER_REUSE_IDS

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    badge_uid: Mapped[str | None] = mapped_column(String(32), unique=True)
    pin_hash: Mapped[str | None] = mapped_column(String(255))
    failed_attempts: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    active: Mapped[bool] = mapped_column(default=True)
    #: Rounds of too many wrong PINs since the last good sign-in; each locks for longer, and
    #: the round after the last configured stage locks until a senior unlocks (issue 9).
    lockout_level: Mapped[int] = mapped_column(default=0, server_default="0")
    #: A senior reset or forced a change: the next sign-in must choose a new PIN first.
    pin_must_change: Mapped[bool] = mapped_column(default=False, server_default=sa_false())
    #: One-time enrolment code (Argon2 hash, never the code) and when it stops working.
    #: Set only while ``pin_hash`` is empty: a person has one credential hash at a time.
    enrolment_code_hash: Mapped[str | None] = mapped_column(String(255))
    enrolment_code_expires_at: Mapped[datetime | None]
    #: When a full staff import first found them missing (a leaver); None while active.
    left_at: Mapped[datetime | None]


class Locker(Base):
    __tablename__ = "lockers"
    __table_args__ = (UniqueConstraint("bank", "number"), NEVER_REUSE_IDS)

    id: Mapped[int] = mapped_column(primary_key=True)
    bank: Mapped[str] = mapped_column(String(20))
    number: Mapped[int]
    capacity: Mapped[int] = mapped_column(default=1)
    state: Mapped[LockerState] = mapped_column(_words(LockerState), default=LockerState.FREE)

    @property
    def label(self) -> str:
        return f"{self.bank}{self.number}"


class ExamSession(Base):
    __tablename__ = "exam_sessions"
    __table_args__ = NEVER_REUSE_IDS

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    room: Mapped[str] = mapped_column(String(100), default="")
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    locker_id: Mapped[int | None] = mapped_column(ForeignKey("lockers.id"))
    #: open -> ended -> released; "open" means deposits are being taken.
    state: Mapped[ExamSessionState] = mapped_column(
        _words(ExamSessionState), default=ExamSessionState.OPEN
    )
    opened_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    candidates: Mapped[list[int]] = mapped_column(JSON, default=list)
    #: Why it was cancelled, as typed. Kept here, beside the chain and not in the
    #: ``exam.cancelled`` event, because free text may name a pupil and the chain is never
    #: purged (DESIGN.md, issue 9); the retention purge deletes it with the session.
    cancel_reason: Mapped[str | None] = mapped_column(Text, default=None)


class Holding(Base):
    __tablename__ = "holdings"
    __table_args__ = NEVER_REUSE_IDS

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[HoldingKind] = mapped_column(_words(HoldingKind))
    state: Mapped[HoldingState] = mapped_column(_words(HoldingState), index=True)
    #: Indexed: the offence count reads a pupil's holdings on every confiscation, release
    #: decision and pouch (issue 15: a full scan of every holding before).
    pupil_id: Mapped[int | None] = mapped_column(
        ForeignKey("pupils.id", ondelete="SET NULL"), index=True
    )
    device_description: Mapped[str] = mapped_column(String(200), default="")
    category: Mapped[str | None] = mapped_column(String(60))
    reason: Mapped[str] = mapped_column(Text, default="")
    switched_off_confirmed: Mapped[bool] = mapped_column(default=False)
    offence_number: Mapped[int] = mapped_column(default=0)
    follow_ups: Mapped[list[str]] = mapped_column(JSON, default=list)
    requires_parent_collection: Mapped[bool] = mapped_column(default=False)
    forbids_viewing: Mapped[bool] = mapped_column(default=False)
    #: Indexed: "is this locker empty now" after every release and locker state change.
    locker_id: Mapped[int | None] = mapped_column(ForeignKey("lockers.id"), index=True)
    pouch_number: Mapped[int | None]
    #: Indexed: the exam register, every pouch deposit and the bulk hand-back.
    exam_session_id: Mapped[int | None] = mapped_column(ForeignKey("exam_sessions.id"), index=True)
    photo_path: Mapped[str | None] = mapped_column(String(400))

    created_at: Mapped[datetime]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    held_at: Mapped[datetime | None]
    releasing_at: Mapped[datetime | None]
    released_at: Mapped[datetime | None]
    released_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    collector_kind: Mapped[str | None] = mapped_column(String(20))
    collector_contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL")
    )
    collector_name: Mapped[str | None] = mapped_column(String(200))
    #: The type of ID seen (e.g. "driving_licence"); never a copy or number of it.
    id_type_seen: Mapped[str | None] = mapped_column(String(40))
    id_checked_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    parent_informed_at: Mapped[datetime | None]
    parent_informed_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    hold_placed_at: Mapped[datetime | None]
    hold_placed_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    hold_reason: Mapped[str | None] = mapped_column(Text)
    hold_lift_reason: Mapped[str | None] = mapped_column(Text)
    #: A senior leader's written reason for overriding a refusal (kept here, not in the
    #: event chain: free text may name people, and events are never purged).
    override_reason: Mapped[str | None] = mapped_column(Text)
    override_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    search_authorised_at: Mapped[datetime | None]
    search_authorised_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    search_reason: Mapped[str | None] = mapped_column(Text)
    handed_to_police_at: Mapped[datetime | None]
    police_reference: Mapped[str | None] = mapped_column(String(100))
    closed_at: Mapped[datetime | None] = mapped_column(index=True)
    #: Set when the locker holding this phone was forced open: the next staff sign-in must
    #: confirm the phone is still there or record it missing (issue 14).
    check_required_since: Mapped[datetime | None]

    pupil: Mapped[Pupil | None] = relationship(foreign_keys=[pupil_id])
    locker: Mapped[Locker | None] = relationship(foreign_keys=[locker_id])
    exam_session: Mapped[ExamSession | None] = relationship(foreign_keys=[exam_session_id])

    @validates("id_type_seen")
    def _type_only(self, _key: str, value: str | None) -> str | None:
        if value is not None and not (len(value) <= 40 and _ID_TYPE_RE.match(value)):
            raise MinimumDataError(
                f"ID seen {value!r} refused: record its type only (e.g. 'passport'), "
                "never a number or a copy"
            )
        return value


class Incident(Base):
    """An e-safety record for the central incident log."""

    __tablename__ = "incidents"
    __table_args__ = NEVER_REUSE_IDS

    id: Mapped[int] = mapped_column(primary_key=True)
    holding_id: Mapped[int | None] = mapped_column(ForeignKey("holdings.id", ondelete="SET NULL"))
    pupil_id: Mapped[int | None] = mapped_column(ForeignKey("pupils.id", ondelete="SET NULL"))
    category: Mapped[str] = mapped_column(String(60))
    actions: Mapped[list[str]] = mapped_column(JSON, default=list)
    summary: Mapped[str] = mapped_column(Text, default="")
    anonymous: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))


class RefusedCollection(Base):
    """An adult refused at the hatch (not on the contact list, or barred).

    Kept outside the hash chain because it names someone who is not a pupil's contact: the
    retention purge deletes these rows, while the chain keeps only an anonymous event."""

    __tablename__ = "refused_collections"

    id: Mapped[int] = mapped_column(primary_key=True)
    holding_id: Mapped[int | None] = mapped_column(ForeignKey("holdings.id", ondelete="SET NULL"))
    pupil_id: Mapped[int | None] = mapped_column(ForeignKey("pupils.id", ondelete="SET NULL"))
    name_given: Mapped[str] = mapped_column(String(200))
    id_type_seen: Mapped[str | None] = mapped_column(String(40))
    barred: Mapped[bool] = mapped_column(default=False)
    rules: Mapped[list[str]] = mapped_column(JSON, default=list)
    refused_at: Mapped[datetime] = mapped_column(index=True)
    refused_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))


class Event(Base):
    """One append-only, hash-chained record. Never updated or deleted by the application."""

    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("station_id", "seq"),
        Index("ix_events_holding_id", "holding_id"),
        NEVER_REUSE_IDS,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int]
    type: Mapped[str] = mapped_column(String(60))
    occurred_at: Mapped[datetime]
    #: Plain ids, not foreign keys: the chain must outlive purged rows.
    actor_id: Mapped[int | None]
    holding_id: Mapped[int | None]
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class ChainHead(Base):
    """The newest (seq, hash) per station, written with each event.

    Without it, deleting the last few events would leave a shorter chain that still verifies.
    """

    __tablename__ = "chain_heads"

    station_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int]
    hash: Mapped[str] = mapped_column(String(64))


class ChainCheckpoint(Base):
    """The (seq, hash) of the newest event a retention purge deleted, per station.

    Verification starts from it instead of the genesis hash, so the chain survives losing its
    oldest events; the ``retention.purged`` event written by that purge repeats it in its
    (hashed) payload, so a checkpoint nobody's purge wrote does not verify.
    """

    __tablename__ = "chain_checkpoints"

    station_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int]
    hash: Mapped[str] = mapped_column(String(64))
    purged_at: Mapped[datetime]


class ErasureRequest(Base):
    """A subject's erasure request: when, by whom, why, and what was kept and on what ground.

    Kept outside the event chain because ``reason`` is free text; purged with the events.
    """

    __tablename__ = "erasure_requests"
    __table_args__ = NEVER_REUSE_IDS

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Plain id, not a foreign key: the pupil row may be gone.
    pupil_id: Mapped[int]
    requested_at: Mapped[datetime] = mapped_column(index=True)
    actor_id: Mapped[int | None]
    reason: Mapped[str] = mapped_column(Text)
    removed: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    kept: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class OutboxRow(Base):
    """Transactional outbox: one row per event, pushed to the central log by the sync relay."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"), unique=True)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None] = mapped_column(index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    #: Set when the central log refused this row's batch (4xx); the relay stops retrying it.
    quarantined_at: Mapped[datetime | None]
    quarantine_reason: Mapped[str | None] = mapped_column(Text)


class SyncAnchor(Base):
    """The central log's acknowledged (seq, hash) per station, and when sync last succeeded.

    A copy: the sync relay also writes it to a file in the data folder, so editing the
    database alone cannot move the anchor back to hide deleted events.
    """

    __tablename__ = "sync_anchors"

    station_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int]
    hash: Mapped[str] = mapped_column(String(64))
    acknowledged_at: Mapped[datetime]
