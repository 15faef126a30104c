"""The relay: drains the outbox to the central log, one batch at a time, in chain order.

Each step is three short phases, so the ledger is never locked while the network is slow:

1. a read transaction takes the next batch of unsent events and their reference data;
2. the batch is sent with *no* transaction open (the client retries with backoff);
3. a write transaction marks the rows sent and stores the central log's anchor.

Delivery is at least once (a crash between 2 and 3 sends the batch again) and the effect
exactly once: the central log stores by (station, seq) and answers an identical event it
already holds as a duplicate.

Phase 1 reads through read-only sessions (a WAL snapshot: never the write lock, so a drain
never makes the hatch wait). :meth:`Relay.drain` pipelines the phases on two helper
threads: while batch N is on the wire, the next one is read and built on one, and batch
N's phase 3 runs on the other, while N+1 is on the wire. Sending stays strictly one batch
at a time, in order (the central log takes a station's events only in order); whenever an
answer is not a plain acceptance the helpers' work is finished first and the next batch
is read afresh. Within a drain, reference rows the central log already acknowledged
unchanged are not sent again (:class:`_HeldReferences`).

What a refusal does (``IngestRefused.error``), and why:

- ``chain_break``, ``rewritten``, ``invalid`` naming an event: the batch from that event on
  is quarantined with the reason, a ``sync.refused`` event is recorded in the ledger (the
  staff screen's alarm), and **every later event waits behind it**. The central log accepts
  a station's events only in order with no gaps (each one's ``prev_hash`` must be the hash
  it holds for the seq before), so nothing after a refused event could ever be accepted;
  sending it would only turn one refusal into thousands. Events *before* the refused one in
  the same batch are still sent.
- ``invalid`` naming a ``reference`` field: the events are not at fault, only the reference
  data beside them; the batch is sent again without reference data and nothing blocks.
- ``gap``: the central log lacks events the kiosk counted as delivered (it was restored
  from a backup). The kiosk resends from the central log's anchor; only if the kiosk no
  longer has those events is the batch quarantined (and that is an alarm).
- ``unauthorised``, ``revoked``, ``wrong_station``, ``unsupported_version``: not the batch's
  fault; nothing is quarantined, the relay stops (:class:`SyncStopped`) and says what to fix.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from tenacity import Retrying, retry_if_exception_type, stop_never

from db.audit import append_event
from db.engine import read_only
from db.models import Event, OutboxRow
from kiosk.sync import outbox
from kiosk.sync.anchor import save_anchor, touch_success
from kiosk.sync.batch import build_batch, wire_event
from kiosk.sync.client import (
    CentralClient,
    CentralUnavailable,
    Refusal,
    RetryPolicy,
    backoff_wait,
)
from wire import (
    MAX_BATCH,
    HoldingRef,
    IngestAccepted,
    IngestBatch,
    LockerRef,
    PupilRef,
    ReferenceData,
    StaffRef,
)

log = logging.getLogger(__name__)

#: Refusals that say the events themselves cannot be accepted, so order blocks the rest.
CHAIN_REFUSALS = frozenset({"chain_break", "rewritten", "invalid"})
#: Refusals about the station's standing, not the batch: stop and tell a person.
STOP_REFUSALS = frozenset({"unauthorised", "revoked", "wrong_station", "unsupported_version"})
REFUSED_EVENT = "sync.refused"


class SyncStopped(Exception):
    """The central log will not take anything from this station until a person acts."""


class Step(Enum):
    SENT = "sent"
    IDLE = "idle"
    BLOCKED = "blocked"
    QUARANTINED = "quarantined"
    RETRY = "retry"


@dataclass
class DrainResult:
    batches: int = 0
    stored: int = 0
    duplicates: int = 0
    quarantined: int = 0
    blocked: bool = False

    @property
    def delivered(self) -> int:
        return self.stored + self.duplicates


def utcnow() -> datetime:
    return datetime.now(UTC)


class Relay:
    """Drains one station's outbox through a :class:`CentralClient`."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        client: CentralClient,
        *,
        station_id: str,
        data_dir: Path,
        batch_size: int = MAX_BATCH,
        clock: Callable[[], datetime] = utcnow,
        reads: sessionmaker[Session] | None = None,
    ) -> None:
        self.sessions = sessions
        #: Phase 1's sessions: read-only snapshots of the same ledger (``KioskContext.reads``).
        bind = sessions.kw.get("bind")
        self.reads = reads or (
            sessionmaker(read_only(bind), expire_on_commit=False) if bind is not None else sessions
        )
        self.client = client
        self.station_id = station_id
        self.data_dir = Path(data_dir)
        self.batch_size = min(batch_size, MAX_BATCH)
        self.clock = clock
        self.result = DrainResult()
        self._pipe: _Pipeline | None = None
        #: During :meth:`drain`: the reference rows the central log acknowledged in it.
        self._held: _HeldReferences | None = None

    # ------------------------------------------------------------------ one batch
    def _blocked_from(self, s: Session) -> int | None:
        """The seq of the oldest quarantined event: nothing from there on may be sent."""
        return s.scalar(
            select(func.min(Event.seq))
            .join(OutboxRow, OutboxRow.event_id == Event.id)
            .where(Event.station_id == self.station_id, OutboxRow.quarantined_at.is_not(None))
        )

    def _read(self, after_seq: int = 0, blocked: tuple[int | None] | None = None) -> _Read:
        """Phase 1 (read-only snapshot): the next events after ``after_seq`` and their batch.

        Writes nothing, so it can run on the pipeline's thread; an event that cannot go on
        the wire is reported in :attr:`_Read.bad` for :meth:`_ready` to quarantine.
        ``blocked``: the oldest quarantined seq as a fresh read found it (in a 1-tuple),
        for a read ahead: :meth:`_blocked_from` walks every event of the station (there is
        no index on ``quarantined_at``): 10 ms a batch with 50,000 events in the ledger,
        and only this relay quarantines, after which it settles and reads afresh.
        """
        with self.reads() as s:
            blocked_from = self._blocked_from(s) if blocked is None else blocked[0]
            events = outbox.pending(s, self.station_id, self.batch_size, after_seq)
            if blocked_from is not None:
                events = [ev for ev in events if ev.seq < blocked_from]
            if not events:
                return _Read([], None, blocked_from)
            try:
                return _Read(events, build_batch(s, self.station_id, events), blocked_from)
            except ValidationError:
                pass
            # Some event cannot be put on the wire at all: send those before it, then stop.
            for i, ev in enumerate(events):
                try:
                    wire_event(ev)
                except ValidationError as exc:
                    if i:
                        events = events[:i]
                        return _Read(events, build_batch(s, self.station_id, events), blocked_from)
                    return _Read(events[:1], None, blocked_from, bad=exc)
            # The events are fine: their reference data is not; send without it.
            return _Read(
                events,
                IngestBatch(
                    station_id=self.station_id,
                    events=[wire_event(e) for e in events],
                    reference=ReferenceData(),
                ),
                blocked_from,
            )

    def _ready(self, read: _Read) -> tuple[list[outbox.PendingEvent], IngestBatch] | Step:
        """The batch to send, or why there is none (quarantining an unsendable event)."""
        if read.bad is not None:
            self._quarantine(
                read.events,
                f"seq {read.events[0].seq} cannot be sent: {_first_error(read.bad)}",
                error="invalid_local",
                seq=read.events[0].seq,
                status=None,
            )
            return Step.BLOCKED
        if read.batch is None:
            return Step.BLOCKED if read.blocked_from is not None else Step.IDLE
        return read.events, read.batch

    def step(self) -> Step:
        """Send the next batch. Raises CentralUnavailable when every attempt failed."""
        ready = self._ready(self._read())
        if isinstance(ready, Step):
            return ready
        return self._deliver(*ready)

    def _deliver(self, events: list[outbox.PendingEvent], batch: IngestBatch) -> Step:
        """Phase 2 and the answer: accepted, refused, or unreachable (raised)."""
        ids = [ev.outbox_id for ev in events]
        held = self._held
        if held is not None:
            batch = held.trim(batch)
        try:
            answer = self.client.send(batch)  # phase 2: no transaction open
        except CentralUnavailable as exc:
            self._settle()
            with self.sessions.begin() as s:
                outbox.record_failure(s, ids, str(exc))
            raise
        if isinstance(answer, IngestAccepted):
            step = self._accepted(events, answer)
            if held is not None:
                if step is Step.SENT:
                    held.add(batch.reference)
                else:
                    held.clear()
            return step
        if held is not None:
            held.clear()
        self._settle()
        return self._refused(events, batch, answer)

    def _settle(self) -> None:
        """Finish the pipeline's pending work (before acting on anything but an acceptance:
        a resend after ``gap`` must not race a late "mark sent")."""
        if self._pipe is not None:
            self._pipe.settle()

    def _accepted(self, events: list[outbox.PendingEvent], answer: IngestAccepted) -> Step:
        now = self.clock()
        anchor = answer.anchor
        by_seq = {ev.seq: ev for ev in events}
        if anchor.seq in by_seq and by_seq[anchor.seq].hash != anchor.hash:
            self._settle()
            self._quarantine(
                events,
                f"the central log acknowledged seq {anchor.seq} with hash {anchor.hash}, "
                f"not this kiosk's {by_seq[anchor.seq].hash}: the two chains differ",
                error="anchor_mismatch",
                seq=anchor.seq,
                status=200,
            )
            return Step.QUARANTINED
        if anchor.seq not in by_seq and not self._holds(anchor.seq, anchor.hash):
            self._settle()
            self._quarantine(
                events,
                f"the central log's newest event is seq {anchor.seq} with hash {anchor.hash}, "
                "which this kiosk's chain does not hold: the two chains differ",
                error="anchor_mismatch",
                seq=anchor.seq,
                status=200,
            )
            return Step.QUARANTINED
        delivered = [ev for ev in events if ev.seq <= anchor.seq]
        if not delivered:
            self._settle()
            raise CentralUnavailable(
                f"the central log answered 200 but holds only up to seq {anchor.seq} "
                f"(sent {events[0].seq}-{events[-1].seq})"
            )

        def record() -> None:  # phase 3: short write transaction
            with self.sessions.begin() as s:
                outbox.mark_sent(s, self.station_id, events[0].seq, delivered[-1].seq, now)
                save_anchor(s, self.data_dir, self.station_id, anchor, now)
                touch_success(s, self.station_id, now)

        if self._pipe is not None:
            self._pipe.later(record)  # after the read already queued, in order
        else:
            record()
        self.result.batches += 1
        self.result.stored += answer.stored
        self.result.duplicates += answer.duplicates
        log.info(
            "sent seq %d-%d: %d new, %d already held; anchor seq %d",
            events[0].seq,
            events[-1].seq,
            answer.stored,
            answer.duplicates,
            anchor.seq,
        )
        if len(delivered) < len(events):
            # The rest was not taken: whatever was read ahead would leave a gap.
            return Step.RETRY
        return Step.SENT

    def _holds(self, seq: int, digest: str) -> bool:
        """Is (seq, digest) in the local chain? A seq past its end is taken as held: the
        anchor check (``kiosk audit verify``) is what flags a kiosk behind its central log."""
        with self.reads() as s:
            local = s.scalar(
                select(Event.hash).where(Event.station_id == self.station_id, Event.seq == seq)
            )
        return local is None or local == digest

    def _refused(
        self, events: list[outbox.PendingEvent], batch: IngestBatch, refusal: Refusal
    ) -> Step:
        r = refusal.refused
        log.warning("central log refused seq %d-%d: %s", events[0].seq, events[-1].seq, refusal)
        if r.error in STOP_REFUSALS:
            hint = {
                "unauthorised": "check the credential file holds the credential printed by "
                "`kiosk-central station add`",
                "revoked": "the station's credential was revoked: ask for a new one",
                "wrong_station": "the credential belongs to another station: check "
                "[station] id and the credential file",
                "unsupported_version": "the central log does not speak this kiosk's wire "
                "version: upgrade the kiosk or the central log",
            }[r.error]
            raise SyncStopped(f"{refusal}. {hint}")
        if r.error == "invalid" and (r.field or "").startswith("reference"):
            if batch.reference == ReferenceData():
                raise SyncStopped(f"{refusal} (even without reference data)")
            bare = batch.model_copy(update={"reference": ReferenceData()})
            answer = self.client.send(bare)
            if isinstance(answer, IngestAccepted):
                return self._accepted(events, answer)
            return self._refused(events, bare, answer)
        if r.error == "gap":
            return self._gap(events, refusal)
        # chain_break, rewritten, invalid (an event), or anything new: order blocks the rest.
        first = r.seq if r.seq is not None and r.seq in {ev.seq for ev in events} else None
        refused = [ev for ev in events if first is None or ev.seq >= first]
        self._quarantine(refused, str(refusal), error=r.error, seq=r.seq, status=refusal.status)
        return Step.QUARANTINED

    def _gap(self, events: list[outbox.PendingEvent], refusal: Refusal) -> Step:
        held = refusal.refused.anchor.seq if refusal.refused.anchor else 0
        if held >= events[0].seq - 1:
            # Not a gap we can fill by resending; treat as any other refusal of the chain.
            self._quarantine(
                events, str(refusal), error="gap", seq=refusal.refused.seq, status=refusal.status
            )
            return Step.QUARANTINED
        with self.sessions.begin() as s:
            resent = outbox.rewind_after(s, self.station_id, held)
            oldest = s.scalar(
                select(func.min(Event.seq))
                .join(OutboxRow, OutboxRow.event_id == Event.id)
                .where(
                    Event.station_id == self.station_id,
                    OutboxRow.sent_at.is_(None),
                    OutboxRow.quarantined_at.is_(None),
                )
            )
        if oldest == held + 1:
            log.warning("central log holds only up to seq %d: resending %d", held, resent)
            return Step.RETRY
        self._quarantine(
            events,
            f"{refusal}; the central log needs seq {held + 1} onwards but this kiosk's "
            f"oldest unsent event is seq {oldest}: events were deleted here",
            error="gap",
            seq=held + 1,
            status=refusal.status,
        )
        return Step.QUARANTINED

    def _quarantine(
        self,
        events: list[outbox.PendingEvent],
        reason: str,
        *,
        error: str,
        seq: int | None,
        status: int | None,
    ) -> None:
        """Stop sending ``events``, keep why, and raise the alarm in the ledger itself."""
        now = self.clock()
        with self.sessions.begin() as s:
            outbox.quarantine(s, [ev.outbox_id for ev in events], reason, now)
            append_event(
                s,
                station_id=self.station_id,
                type=REFUSED_EVENT,
                occurred_at=now,
                payload={
                    "error": error,
                    "seq": seq,
                    "first_seq": events[0].seq,
                    "last_seq": events[-1].seq,
                    "http_status": status,
                },
            )
        self.result.quarantined += len(events)
        log.error("quarantined seq %d-%d: %s", events[0].seq, events[-1].seq, reason)

    # ------------------------------------------------------------------ loops
    def drain(self) -> DrainResult:
        """Send until nothing is left or the rest waits behind a quarantine.

        Raises :class:`CentralUnavailable` (network, 5xx) and :class:`SyncStopped`;
        :attr:`result` counts this drain's work either way.
        """
        self.result = DrainResult()
        self._held = _HeldReferences()
        with _Pipeline() as pipe:
            self._pipe = pipe
            try:
                read, fresh = self._read(), True
                while True:
                    if not fresh and read.batch is None and read.bad is None:
                        # The read ahead saw the ledger before the last answer: events
                        # written since (a tap meanwhile) are looked for before stopping.
                        pipe.settle()
                        read, fresh = self._read(), True
                    ready = self._ready(read)
                    if isinstance(ready, Step):
                        pipe.settle()
                        self.result.blocked = ready is Step.BLOCKED
                        return self.result
                    events, batch = ready
                    # Read and build the next batch while this one is on the wire.
                    ahead = pipe.submit(self._read, events[-1].seq, (read.blocked_from,))
                    if self._deliver(events, batch) is Step.SENT:
                        read, fresh = ahead.result(), False
                    else:  # quarantined, or resend after a gap: start from the ledger again
                        pipe.settle()
                        read, fresh = self._read(), True
            finally:
                self._pipe = None
                self._held = None

    def run(
        self,
        stop: threading.Event,
        *,
        poll_seconds: float = 5.0,
        backoff: RetryPolicy | None = None,
    ) -> None:
        """The daemon: drain, wait ``poll_seconds`` (or back off while the central log is
        unreachable), again, until ``stop`` is set. Raises :class:`SyncStopped`."""
        policy = backoff or RetryPolicy(attempts=None, initial=5.0, max_wait=300.0)
        interruptible = sleeper(stop)
        retrying = Retrying(
            retry=retry_if_exception_type(CentralUnavailable),
            wait=backoff_wait(policy),
            stop=stop_never,
            sleep=interruptible,
            before_sleep=lambda st: log.warning(
                "central log unreachable (%s); trying again later",
                st.outcome.exception() if st.outcome else "?",
            ),
            reraise=True,
        )
        while not stop.is_set():
            try:
                retrying(self.drain)
            except Stopping:
                return
            if stop.wait(poll_seconds):
                return


@dataclass
class _Read:
    """What phase 1 found: the events and their batch, or why there is nothing to send."""

    events: list[outbox.PendingEvent]
    batch: IngestBatch | None
    #: The oldest quarantined seq: nothing from there on may be sent.
    blocked_from: int | None = None
    bad: ValidationError | None = None


@dataclass
class _HeldReferences:
    """The reference rows the central log stored, as sent, earlier in this drain.

    Each batch carries the pupils, staff, lockers and holdings its events refer to, and in a
    long drain most are the same rows batch after batch (a week offline: 100 batches naming
    the same few hundred pupils). A row the central log acknowledged unchanged earlier in
    the same drain is left out of the next batches: the central log already holds it
    exactly (it stored the batch that carried it, in the same transaction as its events),
    and links events to it by id. A row whose name, roles or pupil changed on the kiosk
    since is sent again. Kept only for one drain, on the sending thread, and forgotten on
    any answer that is not a plain acceptance, so a central log restored from a backup, or
    a refused batch, gets every row again.
    """

    pupils: dict[int, PupilRef] = field(default_factory=dict)
    staff: dict[int, StaffRef] = field(default_factory=dict)
    lockers: dict[int, LockerRef] = field(default_factory=dict)
    holdings: dict[int, HoldingRef] = field(default_factory=dict)

    def trim(self, batch: IngestBatch) -> IngestBatch:
        """``batch`` without the rows already held unchanged (itself if none are)."""
        ref = batch.reference
        trimmed = ReferenceData(
            pupils=[p for p in ref.pupils if self.pupils.get(p.id) != p],
            staff=[m for m in ref.staff if self.staff.get(m.id) != m],
            lockers=[lk for lk in ref.lockers if self.lockers.get(lk.id) != lk],
            holdings=[h for h in ref.holdings if self.holdings.get(h.id) != h],
        )
        if trimmed == ref:
            return batch
        return batch.model_copy(update={"reference": trimmed})

    def add(self, ref: ReferenceData) -> None:
        """``ref`` was stored with an accepted batch."""
        self.pupils.update((p.id, p) for p in ref.pupils)
        self.staff.update((m.id, m) for m in ref.staff)
        self.lockers.update((lk.id, lk) for lk in ref.lockers)
        self.holdings.update((h.id, h) for h in ref.holdings)

    def clear(self) -> None:
        self.pupils.clear()
        self.staff.clear()
        self.lockers.clear()
        self.holdings.clear()


@dataclass
class _Pipeline:
    """Two helper threads: one reads ahead, one writes the phase 3 marks and anchors.

    The writes have a thread of their own, so a batch's commit and anchor file (three
    fsyncs, mostly waiting on the disk) no longer queue in front of the next read, which
    is all CPU: the next batch is ready sooner. Still one writer, so the writes never run
    at once and a batch's "mark sent" is always written before the next batch's. A read
    ahead runs while earlier marks are being written, which is safe: it reads only events
    after the last one sent or in flight (``after_seq``), whatever their marks say. A failed
    write is raised by :meth:`later` or :meth:`settle` (and at exit); a failed read ahead
    by its own future, where the drain waits for it.
    """

    reader: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="sync-read-ahead")
    )
    writer: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="sync-mark-sent")
    )
    ahead: Future[Any] | None = None
    writes: list[Future[None]] = field(default_factory=list)

    def submit(self, fn: Callable[..., _T], *args: object) -> Future[_T]:
        """Queue the read ahead (the previous one has been taken or dropped)."""
        future = self.reader.submit(fn, *args)
        self.ahead = future
        return future

    def later(self, fn: Callable[[], None]) -> None:
        """Queue a write, after every write already queued (raising an earlier failed one)."""
        for done in [f for f in self.writes if f.done()]:
            self.writes.remove(done)
            done.result()
        self.writes.append(self.writer.submit(fn))

    def settle(self) -> None:
        """Wait for everything queued; raise the first failed write (the read ahead is
        dropped: whoever settles reads the ledger again)."""
        ahead, self.ahead = self.ahead, None
        writes, self.writes = self.writes, []
        if ahead is not None:
            ahead.exception()  # waits
        for future in writes:
            future.result()  # waits, raises

    def __enter__(self) -> _Pipeline:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        try:
            if exc_type is None:
                self.settle()
            else:  # wait for the threads; the exception in flight is the one to raise
                for future in [*([self.ahead] if self.ahead else []), *self.writes]:
                    future.exception()
        finally:
            self.reader.shutdown(wait=True)
            self.writer.shutdown(wait=True)


_T = TypeVar("_T")


class Stopping(Exception):
    """The stop event was set while waiting: leave the loop (raised by :func:`sleeper`)."""


def sleeper(stop: threading.Event) -> Callable[[float], None]:
    """A retry wait that returns early, raising :class:`Stopping`, once ``stop`` is set:
    give it to the client's :class:`RetryPolicy` too so SIGTERM is not held up by backoff."""

    def sleep(seconds: float) -> None:
        if stop.wait(seconds):
            raise Stopping

    return sleep


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"])
    return f"{where}: {err['msg']}"
