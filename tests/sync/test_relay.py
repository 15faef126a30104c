"""The relay against a fake central log that follows the ingest contract (httpx.MockTransport).

Every test ends with the same invariant: the central log holds exactly the kiosk's events,
no (station, seq) twice, and the anchor the kiosk keeps is the central log's newest.
"""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import httpx
import pytest
from fake_central import refuse
from sqlalchemy import delete, func, select, update
from sync_testing import STATION, Rig, add_events, kiosk_counts, ledger_head

from db.audit import append_event, verify_chain
from db.models import ChainHead, Event, OutboxRow, Pupil, SyncAnchor
from kiosk.sync.anchor import anchor_path, check_anchor, read_anchor_file
from kiosk.sync.client import CentralUnavailable, RetryPolicy
from kiosk.sync.relay import REFUSED_EVENT, SyncStopped
from kiosk.sync.status import staff_banner, sync_state, sync_status
from wire import IngestBatch


def assert_in_step(rig: Rig) -> None:
    events, sent = kiosk_counts(rig.kiosk)
    assert rig.central.count(STATION) == events == sent
    seqs = [seq for (_, seq) in rig.central.events]
    assert len(seqs) == len(set(seqs))
    anchor = read_anchor_file(rig.kiosk.config.station.data_dir)
    assert anchor is not None and anchor.seq == rig.central.head(STATION).seq


def test_normal_drain_sends_everything_in_order_with_reference_data(rig: Rig) -> None:
    seeded = ledger_head(rig.kiosk)
    add_events(rig.kiosk, 25)
    result = rig.relay.drain()
    assert result.stored == seeded + 25 and result.duplicates == 0
    assert result.batches == -(-(seeded + 25) // 10)  # batches of 10
    assert all(len(b.events) <= 10 for b in rig.central.requests)
    assert_in_step(rig)
    with rig.kiosk.sessions() as s:
        assert check_anchor(s, rig.kiosk.config.station.data_dir) is None
        status = sync_status(s, STATION, rig.kiosk.config.station.data_dir)
    assert status.backlog == 0 and status.quarantined == 0
    assert status.last_success is not None and status.anchor is not None
    refs = rig.central.references
    assert any(r.pupils for r in refs) and any(r.staff for r in refs)
    assert any(r.lockers for r in refs)


def test_reference_data_never_carries_secrets_or_health_details(rig: Rig) -> None:
    rig.relay.drain()
    wire = json.dumps([r.model_dump() for r in rig.central.references])
    for secret in ("pin", "argon2", "badge", "exemption", "medical", "photo", "card_uid"):
        assert secret not in wire.lower()
    # Which batch first names a pupil depends on the seed's order; every pupil sent, in any
    # batch, carries exactly these fields.
    pupils = [p for r in rig.central.references for p in r.pupils]
    assert pupils
    for pupil in pupils:
        assert set(pupil.model_dump()) == {
            "id",
            "mis_id",
            "given_name",
            "family_name",
            "year_group",
        }


def test_reference_data_names_whom_each_event_is_about_and_nobody_else(rig: Rig) -> None:
    """A ``staff.*`` event's subject (payload "staff") goes with it, or with an earlier
    batch of the same drain; an exam's candidate count (payload "candidates") is a number,
    not a pupil id."""
    rig.relay.drain()
    about_staff = 0
    staff_ids: set[int] = set()  # one drain: rows acknowledged earlier in it are not resent
    for batch in rig.central.requests:
        staff_ids |= {s.id for s in batch.reference.staff}
        for event in batch.events:
            if isinstance(event.payload.get("staff"), int):
                about_staff += 1
                assert event.payload["staff"] in staff_ids, (event.seq, event.type)
    assert about_staff
    with rig.kiosk.sessions.begin() as s:  # as custody.open_exam_session records it
        pupil = s.scalars(select(Pupil.id)).first()
        append_event(
            s,
            station_id=STATION,
            type="exam.opened",
            occurred_at=rig.clock.now,
            payload={"session_id": 99, "candidates": pupil},
        )
    rig.relay.drain()
    assert rig.central.requests[-1].reference.pupils == []


def _pupils_sent(batches: list[IngestBatch]) -> list[int]:
    return [p.id for b in batches for p in b.reference.pupils]


def test_a_drain_sends_each_unchanged_reference_row_once(rig: Rig) -> None:
    """A row the central log acknowledged earlier in the drain is not sent again; one that
    changed on the kiosk since is; the next drain starts afresh."""
    with rig.kiosk.sessions.begin() as s:
        pupil = s.scalars(select(Pupil).order_by(Pupil.id)).first()
        assert pupil is not None
        pid = pupil.id

    def about_pupil(n: int) -> None:
        with rig.kiosk.sessions.begin() as s:
            for _ in range(n):
                append_event(
                    s,
                    station_id=STATION,
                    type="pupil.noted",
                    occurred_at=rig.clock.now,
                    payload={"pupil_id": pid},
                )

    about_pupil(35)  # four batches of 10, all about one pupil
    seeded = ledger_head(rig.kiosk)
    rig.relay.drain()
    sent = _pupils_sent(rig.central.requests)
    assert len(sent) == len(set(sent))  # each pupil once in the drain
    assert pid in sent

    # Renamed while a drain is going on: the batch after the rename carries the new name.
    renamed: list[int] = []

    def rename_after_first(request: httpx.Request) -> None:
        batch = IngestBatch.model_validate_json(request.content)
        if batch.events[0].seq == seeded + 1 and not renamed:
            pipe = rig.relay._pipe
            assert pipe is not None and pipe.ahead is not None
            pipe.ahead.result()  # the second batch was read before the rename
            with rig.kiosk.sessions.begin() as s:
                s.execute(update(Pupil).where(Pupil.id == pid).values(given_name="Renamed"))
            renamed.append(pid)

    about_pupil(25)
    before = len(rig.central.requests)
    rig.central.hook = rename_after_first
    rig.relay.drain()
    later = rig.central.requests[before:]
    assert renamed and len(later) == 3
    # The new drain names the pupil again in its first batch; the second, read before the
    # rename, not (the central log holds that row); the third, read after, with the new name.
    names = [[p.given_name for p in b.reference.pupils if p.id == pid] for b in later]
    assert names[0] != ["Renamed"] and len(names[0]) == 1
    assert names[1:] == [[], ["Renamed"]]
    assert_in_step(rig)


def test_after_a_refusal_reference_rows_are_sent_again(rig: Rig) -> None:
    """After an answer that is not a plain acceptance the relay no longer counts on what the
    central log holds: the next batch carries all its rows again."""
    rig.relay.drain()  # the seeded events are out of the way
    start = ledger_head(rig.kiosk)
    rig.relay.batch_size = 5
    with rig.kiosk.sessions.begin() as s:
        pid, other = s.scalars(select(Pupil.id).order_by(Pupil.id).limit(2)).all()
        for about in [pid] * 5 + [other] * 5 + [pid] * 5:
            append_event(
                s,
                station_id=STATION,
                type="pupil.noted",
                occurred_at=rig.clock.now,
                payload={"pupil_id": about},
            )
    refused: list[int] = []

    def refuse_second_batch_once(request: httpx.Request) -> httpx.Response | None:
        batch = IngestBatch.model_validate_json(request.content)
        if batch.events[0].seq == start + 6 and not refused:
            refused.append(batch.events[0].seq)
            return refuse(422, error="invalid", field="reference.pupils", detail="test")
        return None

    before = len(rig.central.requests)
    rig.central.hook = refuse_second_batch_once
    rig.relay.drain()
    sent = rig.central.requests[before:]  # the refused request is not recorded
    assert refused
    assert [b.events[0].seq - start for b in sent] == [1, 6, 11]
    # The second batch's rows were refused, so it was sent again without them; the third
    # names the first batch's pupil again, though the central log stored it with the first.
    assert [[p.id for p in b.reference.pupils] for b in sent] == [[pid], [], [pid]]
    assert_in_step(rig)


def test_central_down_then_up_backs_off_then_drains(rig: Rig) -> None:
    def down(request: httpx.Request) -> None:
        raise httpx.ConnectError("connection refused", request=request)

    seeded = ledger_head(rig.kiosk)
    rig.central.script = [down] * 4
    with pytest.raises(CentralUnavailable):
        rig.relay.drain()
    assert rig.central.count(STATION) == 0
    # Exponential backoff with jitter: each wait at least the one before's base.
    assert len(rig.waits) == 3
    assert rig.waits[0] >= 1 and rig.waits[1] >= 2 and rig.waits[2] >= 4
    with rig.kiosk.sessions() as s:
        status = sync_status(s, STATION, rig.kiosk.config.station.data_dir)
    assert status.backlog == seeded and "ConnectError" in (status.last_error or "")
    rig.relay.drain()
    assert_in_step(rig)


def test_500s_and_timeouts_are_retried(rig: Rig) -> None:
    def error(_: httpx.Request) -> httpx.Response:
        return httpx.Response(500, text="Internal Server Error")

    def slow(request: httpx.Request) -> None:
        raise httpx.ReadTimeout("timed out", request=request)

    def portal(_: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="<html>Sign in to school wifi</html>")

    rig.central.script = [error, slow, portal]
    rig.relay.drain()
    assert len(rig.waits) == 3
    assert_in_step(rig)


def test_same_batch_twice_is_stored_once(rig: Rig) -> None:
    seeded = ledger_head(rig.kiosk)
    rig.relay.drain()
    with rig.kiosk.sessions.begin() as s:  # as if the kiosk crashed before marking sent
        s.execute(update(OutboxRow).values(sent_at=None))
    result = rig.relay.drain()
    assert result.duplicates == seeded and result.stored == 0
    assert_in_step(rig)


def test_tampered_local_event_is_quarantined_raised_and_blocks_what_follows(rig: Rig) -> None:
    seeded = ledger_head(rig.kiosk)
    assert seeded >= 20, "the forged seq 15 must sit in a full batch 11-20 of the seed"
    add_events(rig.kiosk, 5)
    with rig.kiosk.sessions.begin() as s:
        s.execute(update(Event).where(Event.seq == 15).values(payload={"previous": "forged"}))
    result = rig.relay.drain()
    assert result.blocked and result.quarantined == 6  # seq 15-20 of the batch 11-20
    assert rig.central.count(STATION) == 14  # everything before the forged event
    with rig.kiosk.sessions() as s:
        raised = s.scalars(select(Event).where(Event.type == REFUSED_EVENT)).one()
        assert raised.payload["error"] == "chain_break" and raised.payload["seq"] == 15
        status = sync_status(s, STATION, rig.kiosk.config.station.data_dir)
        banner = sync_state(s, rig.clock.now, timedelta(hours=4))
    assert status.quarantined == 6 and status.blocked_from == 15
    assert "chain_break" in (status.quarantine_reason or "")
    # Everything behind the quarantined six is backlog, including the alarm event.
    assert status.backlog == (seeded + 5 + 1) - 14 - 6
    assert banner is not None and banner.alarm
    # Not retried forever: a second drain sends nothing and stays blocked.
    sent_before = len(rig.central.requests)
    assert rig.relay.drain().blocked
    assert len(rig.central.requests) == sent_before


def test_tail_deleted_after_sync_fails_the_anchor_check(rig: Rig) -> None:
    seeded = ledger_head(rig.kiosk)
    add_events(rig.kiosk, 3)
    rig.relay.drain()
    data_dir = rig.kiosk.config.station.data_dir
    with rig.kiosk.sessions.begin() as s:
        newest = s.scalars(select(Event).order_by(Event.seq.desc()).limit(4)).all()
        keep = newest[-1]
        ids = [e.id for e in newest[:3]]
        s.execute(delete(OutboxRow).where(OutboxRow.event_id.in_(ids)))
        s.execute(delete(Event).where(Event.id.in_(ids)))
        # A careful tamperer rewrites the chain head and the DB copy of the anchor too.
        s.execute(update(ChainHead).values(seq=keep.seq, hash=keep.hash))
        s.execute(update(SyncAnchor).values(seq=keep.seq, hash=keep.hash))
    with rig.kiosk.sessions() as s:
        assert verify_chain(s).ok  # the local chain alone cannot tell
        problem = check_anchor(s, data_dir)
    # The file still says what the central log holds.
    assert problem is not None and f"acknowledged seq {seeded + 3} (anchor file)" in str(problem)
    assert "deleted here" in str(problem)
    # Deleting the file as well shows too: the ledger remembers an anchor was given.
    anchor_path(data_dir).unlink()
    with rig.kiosk.sessions() as s:
        problem = check_anchor(s, data_dir)
    assert problem is not None and "missing" in str(problem)


def test_central_restored_from_backup_gets_what_it_lost(rig: Rig) -> None:
    seeded = ledger_head(rig.kiosk)
    rig.relay.drain()
    for seq in range(seeded - 6, seeded + 1):  # the central log lost its newest 7 events
        del rig.central.events[(STATION, seq)]
    add_events(rig.kiosk, 4)
    result = rig.relay.drain()
    assert result.stored == 7 + 4
    assert_in_step(rig)


def test_credential_refused_stops_without_quarantining(rig: Rig) -> None:
    rig.central.credential = "rotated"
    with pytest.raises(SyncStopped, match="credential"):
        rig.relay.drain()
    with rig.kiosk.sessions() as s:
        assert sync_status(s, STATION, rig.kiosk.config.station.data_dir).quarantined == 0


def test_refused_reference_data_does_not_block_the_events(rig: Rig) -> None:
    def refuse_reference(request: httpx.Request) -> httpx.Response | None:
        if b'"pupils":[]' in request.content:
            return None
        return httpx.Response(
            422,
            content=json.dumps(
                {"error": "invalid", "detail": "too long", "field": "reference.pupils.0.mis_id"}
            ),
        )

    rig.central.script = [refuse_reference, refuse_reference]
    rig.relay.drain()
    assert_in_step(rig)


def test_event_that_cannot_go_on_the_wire_is_quarantined_locally(rig: Rig) -> None:
    with rig.kiosk.sessions.begin() as s:
        s.execute(update(Event).where(Event.seq == 5).values(type="Not A Valid Type"))
    result = rig.relay.drain()
    assert result.blocked and rig.central.count(STATION) == 4
    with rig.kiosk.sessions() as s:
        reasons = s.scalars(
            select(OutboxRow.quarantine_reason).where(OutboxRow.quarantined_at.is_not(None))
        ).all()
        n_alarms = s.scalar(
            select(func.count()).select_from(Event).where(Event.type == REFUSED_EVENT)
        )
    assert len(reasons) == 1 and "seq 5 cannot be sent" in reasons[0] and n_alarms == 1


def test_backlog_older_than_the_limit_shows_a_banner(rig: Rig) -> None:
    with rig.kiosk.sessions() as s:
        oldest = s.scalar(select(func.min(OutboxRow.created_at)))
        assert oldest is not None
        assert sync_state(s, oldest + timedelta(hours=3), timedelta(hours=4)) is None
        banner = sync_state(s, oldest + timedelta(hours=5), timedelta(hours=4))
    assert banner is not None and not banner.alarm and "5 h" in banner.text
    rig.relay.drain()
    with rig.kiosk.sessions() as s:
        assert sync_state(s, oldest + timedelta(days=9), timedelta(hours=4)) is None
    assert staff_banner(rig.kiosk.sessions, STATION, oldest + timedelta(days=9), 240) is None


def test_daemon_sends_new_events_as_they_come_and_stops_on_request(rig: Rig) -> None:
    """``Relay.run`` (what ``kiosk sync`` runs): backs off while the central log is down
    without giving up, drains, picks up new events, stops when told."""

    def down(request: httpx.Request) -> None:
        raise httpx.ConnectError("refused", request=request)

    seeded = ledger_head(rig.kiosk)
    reached = {seeded: threading.Event(), seeded + 3: threading.Event()}
    ingest = rig.central._ingest

    def ingest_and_signal(batch: IngestBatch) -> httpx.Response:
        answer = ingest(batch)
        for n, event in reached.items():
            if rig.central.count(STATION) >= n:
                event.set()
        return answer

    rig.central._ingest = ingest_and_signal  # type: ignore[method-assign]
    # Eight refused connections: two whole client calls fail, the daemon carries on.
    rig.central.script = [down] * 8
    stop = threading.Event()
    thread = threading.Thread(
        target=rig.relay.run,
        args=(stop,),
        kwargs={
            "poll_seconds": 0.01,
            "backoff": RetryPolicy(attempts=None, initial=0.0, max_wait=0.0, jitter=0.0),
        },
        daemon=True,
    )
    thread.start()
    assert reached[seeded].wait(timeout=60), "the daemon never delivered the backlog"
    add_events(rig.kiosk, 3)
    assert reached[seeded + 3].wait(timeout=60), "the daemon never sent the new events"
    stop.set()
    thread.join(timeout=60)
    assert not thread.is_alive()
    assert len(rig.waits) == 6  # the client's own backoff inside the two failed calls
    assert_in_step(rig)


def test_anchor_copies_may_differ_after_a_power_cut_but_both_must_be_reached(rig: Rig) -> None:
    rig.relay.drain()
    data_dir = rig.kiosk.config.station.data_dir
    with rig.kiosk.sessions.begin() as s:  # the file was replaced, the row not committed
        earlier = s.scalars(select(Event).where(Event.seq == 20)).one()
        s.execute(update(SyncAnchor).values(seq=earlier.seq, hash=earlier.hash))
    with rig.kiosk.sessions() as s:
        assert check_anchor(s, data_dir) is None
    with rig.kiosk.sessions.begin() as s:  # a wrong hash in either copy is not explained
        s.execute(update(SyncAnchor).values(hash="f" * 64))
    with rig.kiosk.sessions() as s:
        problem = check_anchor(s, data_dir)
    assert problem is not None and "ledger's anchor copy" in str(problem)


def test_batches_are_read_without_the_ledger_write_lock(rig: Rig) -> None:
    """Phase 1 reads a WAL snapshot: a writer holding the lock (a tap mid-transaction)
    neither waits for the relay's read nor makes it wait. Were the read a write session,
    it would wait out SQLite's busy timeout and fail with "database is locked"."""
    writer = rig.kiosk.sessions()
    try:
        writer.execute(select(func.count()).select_from(Event))  # BEGIN IMMEDIATE: locked
        read = rig.relay._read()
        assert read.batch is not None and read.events[0].seq == 1
    finally:
        writer.close()


def test_events_written_while_the_last_batch_is_on_the_wire_are_sent_too(rig: Rig) -> None:
    """The drain reads the next batch while one is on the wire; a read ahead that found
    nothing saw the ledger before the answer, so the drain looks again before it stops."""
    seeded = ledger_head(rig.kiosk)
    added: list[int] = []

    def during_last_batch(request: httpx.Request) -> None:
        batch = IngestBatch.model_validate_json(request.content)
        if batch.events[-1].seq == seeded and not added:
            pipe = rig.relay._pipe
            assert pipe is not None and pipe.ahead is not None
            assert pipe.ahead.result().batch is None  # read ahead: nothing after this batch
            add_events(rig.kiosk, 3)  # a tap while the answer is awaited
            added.append(3)

    rig.central.hook = during_last_batch
    result = rig.relay.drain()
    assert added and result.stored == seeded + 3
    assert_in_step(rig)
