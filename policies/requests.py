"""Requests the kiosk asks the policy engine about: plain frozen facts, no behaviour.

The kiosk gathers the facts (from the database, the badge, what staff typed) and the engine
judges them against a profile. Keeping requests as data keeps ``policies`` pure and lets
tests state a case in one line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class PupilFacts:
    """What is known about the pupil: exemptions (e.g. ``"medical"``, ``"young_carer"``) and
    how many offences they already have this term (see ``term_bounds``)."""

    exemptions: frozenset[str] = field(default_factory=frozenset)
    prior_offences_this_term: int = 0


@dataclass(frozen=True)
class CollectorFacts:
    """Who is at the counter. ``kind`` is one of contact, pupil, staff, police.

    ``id_type_seen`` records the *type* of ID staff saw ("passport"), never a copy.
    """

    kind: str
    on_contact_list: bool = False
    may_collect: bool = False
    parental_responsibility: bool = False
    id_type_seen: str | None = None


@dataclass(frozen=True)
class ConfiscateRequest:
    """Staff want to confiscate a phone under ``category``."""

    category: str
    now: datetime
    pupil: PupilFacts
    switched_off_confirmed: bool


@dataclass(frozen=True)
class ReleaseRequest:
    """Someone wants a held phone back. ``offence_number`` is this holding's offence number
    this term (1 = first); ``exam_session_ended`` is None when not an exam deposit."""

    holding_kind: str
    holding_state: str
    category: str | None
    held_since: datetime
    now: datetime
    collector: CollectorFacts
    offence_number: int
    exam_session_ended: bool | None
    pupil: PupilFacts


@dataclass(frozen=True)
class SearchRequest:
    """Record authorisation to search a device's contents (the kiosk never searches)."""

    authoriser_role: str
    reason: str
    category: str | None


@dataclass(frozen=True)
class HoldRequest:
    """Place a safeguarding hold on a held phone."""

    actor_role: str
    reason: str


@dataclass(frozen=True)
class LiftHoldRequest:
    """Lift a safeguarding hold (back to ``held``)."""

    actor_role: str
    reason: str
    category: str | None


@dataclass(frozen=True)
class HandoverRequest:
    """Record that a phone on hold was handed to the police."""

    actor_role: str
    reference: str


@dataclass(frozen=True)
class OverrideRequest:
    """A senior leader overrides a refusal. ``holding_state`` and ``category`` (optional)
    let the engine refuse overrides that would defeat a safeguarding hold."""

    actor_role: str
    reason: str
    holding_state: str | None = None
    category: str | None = None


@dataclass(frozen=True)
class ExamDepositRequest:
    """A candidate deposits a phone for an exam."""

    now: datetime
    session_open: bool
