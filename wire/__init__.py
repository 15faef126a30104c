"""The wire format between a kiosk and the central incident log, and the event hash.

One definition, imported by both ends (``kiosk`` sends, ``central`` receives), so the two
cannot drift. Depends on the standard library and pydantic only; nothing of ours.
"""

from typing import TYPE_CHECKING, Any

from wire.chain import GENESIS_HASH, canonical_time, event_digest
from wire.limits import MAX_BATCH, WIRE_VERSION

if TYPE_CHECKING:
    from wire.schema import (
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


def __getattr__(name: str) -> Any:
    """The pydantic models load on first use (PEP 562): ``wire.vocabulary`` and
    ``wire.chain``, which every kiosk command imports, need no pydantic (issue 15)."""
    if name in _SCHEMA:
        from wire import schema

        return getattr(schema, name)
    raise AttributeError(f"module 'wire' has no attribute {name!r}")


_SCHEMA = frozenset(
    {
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
    }
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
