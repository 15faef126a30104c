"""A station's chain written the way a kiosk writes it: for the demo, tests and benchmark.

Not a kiosk: it builds :class:`wire.WireEvent` values with :func:`wire.event_digest`, the
same hash the kiosk's ledger uses, so what it sends is what a real station would send.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from wire import (
    GENESIS_HASH,
    HoldingRef,
    IngestBatch,
    PupilRef,
    ReferenceData,
    StaffRef,
    WireEvent,
    canonical_time,
    event_digest,
)


class SampleStation:
    """Appends events to an in-memory chain and cuts them into batches."""

    def __init__(self, station_id: str, start: datetime | None = None) -> None:
        self.station_id = station_id
        self.events: list[WireEvent] = []
        self.clock = start or datetime(2026, 11, 2, 8, 30, tzinfo=UTC)
        self.pupils: dict[int, PupilRef] = {}
        self.staff: dict[int, StaffRef] = {}
        self.holdings: dict[int, HoldingRef] = {}

    @property
    def head(self) -> str:
        return self.events[-1].hash if self.events else GENESIS_HASH

    def append(
        self,
        type: str,
        *,
        actor_id: int | None = 1,
        holding_id: int | None = None,
        at: datetime | None = None,
        **payload: Any,
    ) -> WireEvent:
        self.clock = at or self.clock + timedelta(minutes=7)
        seq = len(self.events) + 1
        when = canonical_time(self.clock)
        fields: dict[str, Any] = {
            "seq": seq,
            "type": type,
            "occurred_at": when,
            "actor_id": actor_id,
            "holding_id": holding_id,
            "payload": payload,
            "prev_hash": self.head,
        }
        event = WireEvent(**fields, hash=event_digest(station_id=self.station_id, **fields))
        self.events.append(event)
        return event

    def pupil(self, local_id: int, mis_id: str, given: str, family: str, year: str) -> None:
        self.pupils[local_id] = PupilRef(
            id=local_id, mis_id=mis_id, given_name=given, family_name=family, year_group=year
        )

    def confiscate(
        self, holding_id: int, pupil_id: int, category: str = "unauthorised_use"
    ) -> None:
        """What a kiosk writes for a confiscation with an incident."""
        self.holdings[holding_id] = HoldingRef(
            id=holding_id, pupil_id=pupil_id, kind="confiscation"
        )
        self.append(
            "holding.depositing", holding_id=holding_id, kind="confiscation", category=category
        )
        self.append("holding.held", holding_id=holding_id, previous="depositing")
        self.append(
            "incident.recorded",
            holding_id=holding_id,
            category=category,
            actions=["inform_parents"],
        )

    def batch(self, start: int = 1, end: int | None = None) -> IngestBatch:
        """Events ``start``..``end`` (1-based seqs, inclusive) with the reference data."""
        chosen = self.events[start - 1 : end]
        return IngestBatch(
            station_id=self.station_id,
            events=chosen,
            reference=ReferenceData(
                pupils=list(self.pupils.values()),
                staff=list(self.staff.values()),
                holdings=list(self.holdings.values()),
            ),
        )
