"""The product's closed vocabularies, defined once (DESIGN.md, Words).

Why in ``wire``: it is the one package every layer may import (``policies``, ``db`` and
``kiosk`` may all import ``wire``, and ``wire`` imports nothing of ours), and these words are
what travels in events to the central log, so the wire format and the kiosk agree on spelling.
They are ``StrEnum``s: a member *is* its string, so events, JSON and database rows hold the
plain word, and a typo is an ``AttributeError`` at import time rather than a rule that
silently never matches.
"""

from __future__ import annotations

from enum import StrEnum


class HoldingKind(StrEnum):
    """One device in the school's custody, by why it is held."""

    CONFISCATION = "confiscation"
    EXAM_DEPOSIT = "exam_deposit"
    SAFEKEEPING = "safekeeping"


class HoldingState(StrEnum):
    """``depositing -> held -> releasing -> released``; ``held <-> safeguarding_hold``;
    ``safeguarding_hold -> handed_to_police``; ``depositing -> aborted``."""

    DEPOSITING = "depositing"
    HELD = "held"
    RELEASING = "releasing"
    RELEASED = "released"
    SAFEGUARDING_HOLD = "safeguarding_hold"
    HANDED_TO_POLICE = "handed_to_police"
    ABORTED = "aborted"


#: Half-way states a door step (or a crash) can leave; staff settle them.
HALF_WAY_STATES = frozenset({HoldingState.DEPOSITING, HoldingState.RELEASING})


class LockerState(StrEnum):
    FREE = "free"
    OCCUPIED = "occupied"
    FAULT = "fault"
    OUT_OF_SERVICE = "out_of_service"
    #: Reserved for a technician's test pulse (``kiosk hw test``): no deposit may take it
    #: until the test ends and its previous state is put back (issue 9).
    TESTING = "testing"


class ExamSessionState(StrEnum):
    """``open -> ended -> released``; ``open`` means deposits are being taken."""

    OPEN = "open"
    ENDED = "ended"
    RELEASED = "released"
    CANCELLED = "cancelled"


class Role(StrEnum):
    """Staff roles (badge holders). Parents and pupils carry no badge."""

    OFFICE = "office"
    TEACHER = "teacher"
    DSL = "dsl"
    SENIOR = "senior"
    EXAMS = "exams"
    TECHNICIAN = "technician"


class CollectorKind(StrEnum):
    """Who may stand at the counter to collect a device."""

    CONTACT = "contact"
    PUPIL = "pupil"
    STAFF = "staff"
    POLICE = "police"


class EventType(StrEnum):
    """Every event type the kiosk writes to its hash chain."""

    HOLDING_DEPOSITING = "holding.depositing"
    HOLDING_HELD = "holding.held"
    HOLDING_RELEASING = "holding.releasing"
    HOLDING_RELEASED = "holding.released"
    HOLDING_SAFEGUARDING_HOLD = "holding.safeguarding_hold"
    HOLDING_HANDED_TO_POLICE = "holding.handed_to_police"
    HOLDING_ABORTED = "holding.aborted"
    HOLDING_SEARCH_AUTHORISED = "holding.search_authorised"
    HOLDING_PHOTO_TAKEN = "holding.photo_taken"
    HOLDING_PARENT_INFORMED = "holding.parent_informed"
    POLICY_OVERRIDE = "policy.override"
    INCIDENT_RECORDED = "incident.recorded"
    EXAM_OPENED = "exam.opened"
    EXAM_ENDED = "exam.ended"
    EXAM_RELEASED = "exam.released"
    EXAM_EDITED = "exam.edited"
    EXAM_CANCELLED = "exam.cancelled"
    RELEASE_REFUSED = "release.refused"
    #: The policy said no to a release (who asked: the actor; for whom: pupil and collector
    #: by id; which rule: reason codes, profile clauses and seed citations). Issue 9.
    RELEASE_POLICY_REFUSED = "release.policy_refused"
    HOLDING_CHECK_REQUIRED = "holding.check_required"
    HOLDING_CHECKED = "holding.checked"
    AUTH_SIGNED_IN = "auth.signed_in"
    AUTH_SIGNED_OUT = "auth.signed_out"
    AUTH_FAILED = "auth.failed"
    AUTH_LOCKED_OUT = "auth.locked_out"
    AUTH_UNKNOWN_BADGE = "auth.unknown_badge"
    ALARM_FORCED_OPEN = "alarm.forced_open"
    ALARM_LEFT_OPEN = "alarm.left_open"
    #: A person acknowledged the forced/left-open alarms on screen (the actor; which alarms).
    ALARM_ACKNOWLEDGED = "alarm.acknowledged"
    FAULT_DOOR_SENSOR = "fault.door_sensor"
    FAULT_READER = "fault.reader"
    FAULT_READER_RECOVERED = "fault.reader_recovered"
    LOCKER_STATE = "locker.state"
    HARDWARE_TEST_UNLOCK = "hardware.test_unlock"
    HARDWARE_TEST_UNLOCK_RESULT = "hardware.test_unlock_result"
    STATION_STARTED = "station.started"
    RETENTION_PURGED = "retention.purged"
    #: ``kiosk restore`` replaced the ledger with a backup: the senior who did it, which file.
    LEDGER_RESTORED = "ledger.restored"

    @classmethod
    def holding(cls, state: HoldingState) -> EventType:
        """The event that records a holding entering ``state``."""
        return cls(f"holding.{state.value}")
