"""The wire format between a kiosk and the central incident log, and the event hash.

One definition, imported by both ends (``kiosk`` sends, ``central`` receives), so the two
cannot drift. Depends on the standard library and pydantic only; nothing of ours.
"""

from wire.chain import GENESIS_HASH, canonical_time, event_digest
from wire.schema import (
    MAX_BATCH,
    WIRE_VERSION,
    Anchor,
    HoldingRef,
    IngestAccepted,
    IngestBatch,
    IngestRefused,
    LockerRef,
    PupilRef,
    ReferenceData,
    StaffRef,
    WireEvent,
)

__all__ = [
    "GENESIS_HASH",
    "MAX_BATCH",
    "WIRE_VERSION",
    "Anchor",
    "HoldingRef",
    "IngestAccepted",
    "IngestBatch",
    "IngestRefused",
    "LockerRef",
    "PupilRef",
    "ReferenceData",
    "StaffRef",
    "WireEvent",
    "canonical_time",
    "event_digest",
]
