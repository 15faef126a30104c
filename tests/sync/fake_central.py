"""A fake central log behind :class:`httpx.MockTransport`, following the ingest contract.

Used until the real service (``central.app``) exists and for the unit tests that need to
script failures precisely. It checks what the real one checks: credential, station, the
event hash, seq order with no gaps, ``prev_hash`` links, and identical duplicates.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from pydantic import ValidationError

from wire import (
    GENESIS_HASH,
    Anchor,
    IngestAccepted,
    IngestBatch,
    IngestRefused,
    ReferenceData,
    event_digest,
)

Behaviour = Callable[[httpx.Request], httpx.Response | None]


def refuse(status: int, **fields: Any) -> httpx.Response:
    return httpx.Response(status, content=IngestRefused(**fields).model_dump_json())


@dataclass
class FakeCentral:
    credential: str = "s3cret-credential"
    #: (station, seq) -> wire event dict, as stored.
    events: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    references: list[ReferenceData] = field(default_factory=list)
    requests: list[IngestBatch] = field(default_factory=list)
    #: Behaviours consumed one per request before the contract runs: return a response
    #: (e.g. a 500) or raise (e.g. httpx.ConnectError) to take over that request.
    script: list[Behaviour] = field(default_factory=list)
    #: Run on every request after the script (e.g. block until the test releases).
    hook: Behaviour | None = None

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def head(self, station: str) -> Anchor:
        seqs = [seq for (st, seq) in self.events if st == station]
        if not seqs:
            return Anchor(seq=0, hash=GENESIS_HASH)
        return Anchor(seq=max(seqs), hash=self.events[(station, max(seqs))]["hash"])

    def count(self, station: str) -> int:
        return sum(1 for (st, _) in self.events if st == station)

    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.script:
            answer = self.script.pop(0)(request)
            if answer is not None:
                return answer
        if self.hook is not None:
            answer = self.hook(request)
            if answer is not None:
                return answer
        if request.headers.get("authorization") != f"Bearer {self.credential}":
            return refuse(401, error="unauthorised", detail="unknown credential")
        station = request.url.path.split("/")[4]
        try:
            batch = IngestBatch.model_validate_json(request.content)
        except ValidationError as exc:
            err = exc.errors()[0]
            return refuse(
                422,
                error="invalid",
                detail=err["msg"],
                field=".".join(str(p) for p in err["loc"]),
            )
        if batch.station_id != station:
            return refuse(403, error="wrong_station", detail="credential is for another station")
        self.requests.append(batch)
        return self._ingest(batch)

    def _ingest(self, batch: IngestBatch) -> httpx.Response:
        st = batch.station_id
        head = self.head(st)
        new: dict[tuple[str, int], dict[str, Any]] = {}
        duplicates = 0
        for ev in batch.events:
            digest = event_digest(
                station_id=st,
                seq=ev.seq,
                type=ev.type,
                occurred_at=ev.occurred_at,
                actor_id=ev.actor_id,
                holding_id=ev.holding_id,
                payload=ev.payload,
                prev_hash=ev.prev_hash,
            )
            if digest != ev.hash:
                return refuse(
                    409,
                    error="chain_break",
                    detail="hash does not match the event's contents",
                    seq=ev.seq,
                    field="hash",
                    anchor=head,
                )
            held = self.events.get((st, ev.seq))
            if held is not None:
                if held["hash"] != ev.hash:
                    return refuse(
                        409,
                        error="rewritten",
                        detail="differs from the event held",
                        seq=ev.seq,
                        anchor=head,
                    )
                duplicates += 1
                continue
            expected = head.seq + 1
            if ev.seq != expected:
                return refuse(
                    409,
                    error="gap",
                    detail=f"expected seq {expected}",
                    seq=ev.seq,
                    anchor=head,
                )
            if ev.prev_hash != head.hash:
                return refuse(
                    409,
                    error="chain_break",
                    detail="prev_hash does not link",
                    seq=ev.seq,
                    anchor=head,
                )
            new[(st, ev.seq)] = json.loads(ev.model_dump_json())
            head = Anchor(seq=ev.seq, hash=ev.hash)
        self.events.update(new)
        self.references.append(batch.reference)
        return httpx.Response(
            200,
            content=IngestAccepted(
                station_id=st, stored=len(new), duplicates=duplicates, anchor=self.head(st)
            ).model_dump_json(),
        )
