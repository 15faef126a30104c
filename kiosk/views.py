"""Plain read-only views of holdings and people, handed to the CLI and the UI.

The UI must not import ``db`` (layer rule), so use-cases return these dataclasses rather
than ORM objects that would also drag a live session along with them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from db.models import Contact, ExamSession, Holding, Locker, Pupil
from policies import Category, Decision
from wire.vocabulary import (
    HALF_WAY_STATES,
    ExamSessionState,
    HoldingKind,
    HoldingState,
    LockerState,
)

#: The words screens compare against (re-exported: the UI imports only ``kiosk``).
__all__ = [
    "HALF_WAY_STATES",
    "Category",
    "ContactView",
    "Decision",
    "ExamDepositView",
    "ExamSessionState",
    "ExamSessionView",
    "HoldingKind",
    "HoldingState",
    "HoldingView",
    "LockerState",
    "LockerView",
    "PupilView",
]


@dataclass(frozen=True)
class ContactView:
    id: int
    name: str
    relationship: str
    parental_responsibility: bool
    may_collect: bool
    priority: int

    @classmethod
    def of(cls, c: Contact) -> ContactView:
        return cls(
            c.id,
            c.name,
            c.relationship_to_pupil,
            c.parental_responsibility,
            c.may_collect,
            c.priority,
        )


@dataclass(frozen=True)
class PupilView:
    id: int
    mis_id: str
    name: str
    year_group: str
    tutor_group: str
    card_uid: str | None
    exemptions: tuple[str, ...]
    contacts: tuple[ContactView, ...] = field(default=())

    @classmethod
    def of(cls, p: Pupil, with_contacts: bool = False) -> PupilView:
        contacts = tuple(ContactView.of(c) for c in p.contacts) if with_contacts else ()
        return cls(
            p.id,
            p.mis_id,
            p.display_name,
            p.year_group,
            p.tutor_group,
            p.card_uid,
            tuple(p.exemptions or ()),
            contacts,
        )

    @classmethod
    def for_exam(cls, p: Pupil) -> PupilView:
        """What an exam needs of a candidate: who they are (name, MIS id, year and tutor
        group), nothing else. Why: the exams officer's role sees exam deposits only (DESIGN
        "Who uses it"); a pupil's contacts, recorded adjustments (often medical) and card UID
        are none of their business, so an exams-only sign-in gets this view."""
        return cls(p.id, p.mis_id, p.display_name, p.year_group, p.tutor_group, None, ())


@dataclass(frozen=True)
class LockerView:
    id: int
    bank: str
    number: int
    capacity: int
    state: LockerState

    @property
    def label(self) -> str:
        return f"{self.bank}{self.number}"

    @classmethod
    def of(cls, locker: Locker) -> LockerView:
        return cls(locker.id, locker.bank, locker.number, locker.capacity, locker.state)


@dataclass(frozen=True)
class ExamSessionView:
    """An exam session's name, room, times and state, with no pupil data: what the public
    signage and the exams screen list (candidates and deposits come from ``exam_register``)."""

    id: int
    name: str
    room: str
    starts_at: datetime
    ends_at: datetime
    state: ExamSessionState = ExamSessionState.OPEN
    #: For the exams officer's edit form (issue 14): the cabinet, still no pupil data.
    locker_id: int | None = None
    cabinet: str = ""
    candidates: int = 0

    @classmethod
    def of(cls, e: ExamSession, cabinet: str = "") -> ExamSessionView:
        return cls(
            e.id,
            e.name,
            e.room,
            e.starts_at,
            e.ends_at,
            ExamSessionState(e.state),
            locker_id=e.locker_id,
            cabinet=cabinet,
            candidates=len(e.candidates),
        )


@dataclass(frozen=True)
class HoldingView:
    id: int
    kind: HoldingKind
    state: HoldingState
    pupil_id: int | None
    pupil_name: str
    tutor_group: str
    device_description: str
    category: str | None
    locker: str | None
    locker_bank: str | None
    locker_number: int | None
    pouch_number: int | None
    offence_number: int
    created_at: datetime
    held_at: datetime | None
    released_at: datetime | None
    collector_name: str | None
    id_type_seen: str | None
    follow_ups: tuple[str, ...]
    requires_parent_collection: bool
    forbids_viewing: bool
    parent_informed: bool
    exam_session_id: int | None

    @classmethod
    def of(cls, h: Holding) -> HoldingView:
        return cls(
            id=h.id,
            kind=h.kind,
            state=h.state,
            pupil_id=h.pupil_id,
            pupil_name=h.pupil.display_name if h.pupil else "(removed)",
            tutor_group=h.pupil.tutor_group if h.pupil else "",
            device_description=h.device_description,
            category=h.category,
            locker=h.locker.label if h.locker else None,
            locker_bank=h.locker.bank if h.locker else None,
            locker_number=h.locker.number if h.locker else None,
            pouch_number=h.pouch_number,
            offence_number=h.offence_number,
            created_at=h.created_at,
            held_at=h.held_at,
            released_at=h.released_at,
            collector_name=h.collector_name,
            id_type_seen=h.id_type_seen,
            follow_ups=tuple(h.follow_ups or ()),
            requires_parent_collection=h.requires_parent_collection,
            forbids_viewing=h.forbids_viewing,
            parent_informed=h.parent_informed_at is not None,
            exam_session_id=h.exam_session_id,
        )

    @classmethod
    def of_row(cls, r: Any) -> HoldingView:
        """The view of a holding row with its pupil's ``given_name``, ``family_name``,
        ``tutor_group`` and its locker's ``bank``, ``number`` (outer-joined: None when
        gone), read without ORM objects (issue 15, exam rush)."""
        return cls(
            id=r.id,
            kind=HoldingKind(r.kind),
            state=HoldingState(r.state),
            pupil_id=r.pupil_id,
            pupil_name=(
                f"{r.given_name} {r.family_name}" if r.given_name is not None else "(removed)"
            ),
            tutor_group=r.tutor_group or "",
            device_description=r.device_description,
            category=r.category,
            locker=f"{r.bank}{r.number}" if r.bank is not None else None,
            locker_bank=r.bank,
            locker_number=r.number,
            pouch_number=r.pouch_number,
            offence_number=r.offence_number,
            created_at=r.created_at,
            held_at=r.held_at,
            released_at=r.released_at,
            collector_name=r.collector_name,
            id_type_seen=r.id_type_seen,
            follow_ups=tuple(r.follow_ups or ()),
            requires_parent_collection=r.requires_parent_collection,
            forbids_viewing=r.forbids_viewing,
            parent_informed=r.parent_informed_at is not None,
            exam_session_id=r.exam_session_id,
        )

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key, value in data.items():
            if isinstance(value, datetime):
                data[key] = value.isoformat()
            elif isinstance(value, tuple):
                data[key] = list(value)
        return data


@dataclass(frozen=True)
class ExamDepositView:
    """A self-service exam deposit as the hatch shows it: the candidate (exam view, no card
    or contacts), their ``depositing`` pouch and their candidate number (None if the exam
    import gave none)."""

    pupil: PupilView
    holding: HoldingView
    candidate_number: str | None
