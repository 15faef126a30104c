"""Pydantic models of the ingest API (``POST /api/v1/stations/{station_id}/events``).

A kiosk sends one :class:`IngestBatch`: a run of consecutive events of its own hash chain,
plus the reference data (pupils, staff, lockers) a person at the central log needs to read
them. Reference data is mutable and travels *beside* the chain, never inside it, so a
school can correct a name without breaking a hash, and retention can remove it.

What never travels: PIN hashes, photos, ID details beyond their type, health details
beyond an exemption category. The models forbid extra fields so a kiosk cannot leak a
field the central log did not ask for.

The central log answers :class:`IngestAccepted` (200) with the newest (seq, hash) it holds
for the station, the kiosk's anchor; or :class:`IngestRefused` (4xx) naming the event and
field it refused, with the anchor as it stands so the kiosk knows where central is.
"""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from wire.limits import MAX_BATCH as MAX_BATCH  # defined apart: no pydantic (issue 15)
from wire.limits import WIRE_VERSION as WIRE_VERSION

Hash = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="hex SHA-256")]
StationId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
EventType = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_.]{0,59}$")]
ShortText = Annotated[str, Field(max_length=200)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WireEvent(_Strict):
    """One event exactly as hashed on the kiosk (see :func:`wire.chain.event_digest`)."""

    seq: int = Field(ge=1)
    type: EventType
    occurred_at: str = Field(description="UTC ISO-8601, the exact string the hash covers")
    actor_id: int | None = None
    holding_id: int | None = None
    payload: dict[str, Any] = Field(default_factory=dict)
    prev_hash: Hash
    hash: Hash

    @field_validator("occurred_at")
    @classmethod
    def _aware_iso(cls, value: str) -> str:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError as exc:
            raise ValueError("must be an ISO-8601 time") from exc
        offset = moment.utcoffset()
        if offset is None or offset.total_seconds() != 0:
            raise ValueError("must be in UTC with its offset (+00:00)")
        return value


class PupilRef(_Strict):
    id: int
    mis_id: ShortText
    given_name: ShortText
    family_name: ShortText
    year_group: Annotated[str, Field(max_length=20)]


class StaffRef(_Strict):
    id: int
    name: ShortText
    roles: list[Annotated[str, Field(max_length=40)]] = Field(default_factory=list)


class LockerRef(_Strict):
    id: int
    bank: Annotated[str, Field(max_length=20)]
    number: int


class HoldingRef(_Strict):
    """Whose phone a holding is: events about a holding carry only its id.

    Added after wire version 1 shipped, as an optional list (empty by default), so a kiosk
    that does not send it is still valid; the central log then finds a pupil only from
    events whose payload names ``pupil_id``.
    """

    id: int
    pupil_id: int
    kind: Annotated[str, Field(max_length=20)] = ""


class ReferenceData(_Strict):
    """Who and what the events' ids refer to, as the kiosk knows them now."""

    pupils: list[PupilRef] = Field(default_factory=list)
    staff: list[StaffRef] = Field(default_factory=list)
    lockers: list[LockerRef] = Field(default_factory=list)
    holdings: list[HoldingRef] = Field(default_factory=list)


class IngestBatch(_Strict):
    wire_version: Literal[1] = 1  # WIRE_VERSION, spelled as the literal type wants
    station_id: StationId
    events: list[WireEvent] = Field(min_length=1, max_length=MAX_BATCH)
    reference: ReferenceData = Field(default_factory=ReferenceData)

    @field_validator("events")
    @classmethod
    def _consecutive(cls, events: list[WireEvent]) -> list[WireEvent]:
        for before, after in itertools.pairwise(events):
            if after.seq != before.seq + 1:
                raise ValueError(
                    f"events must be consecutive: seq {after.seq} follows seq {before.seq}"
                )
        return events


class Anchor(_Strict):
    """The newest event the central log holds for a station."""

    seq: int = Field(ge=0)
    hash: Hash


class IngestAccepted(_Strict):
    station_id: StationId
    stored: int = Field(ge=0, description="events new to the central log")
    duplicates: int = Field(ge=0, description="events it already held, identical")
    anchor: Anchor


class IngestRefused(_Strict):
    """A 4xx answer: what was refused and where, so the kiosk can quarantine it."""

    error: Literal[
        "invalid",
        "gap",
        "chain_break",
        "rewritten",
        "unauthorised",
        "revoked",
        "wrong_station",
        "unsupported_version",
    ]
    detail: str
    seq: int | None = None
    field: str | None = None
    anchor: Anchor | None = None
