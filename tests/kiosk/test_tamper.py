"""Tampering with the ledger by hand shows in ``kiosk audit verify`` (issue 9, "The chain
carries the facts"): events altered, deleted, inserted or reordered; the newest events deleted
with ``chain_heads`` rewritten to match; and direct UPDATEs to the custody tables, which the
events no longer explain. An honest school day (every writer: deposits, releases, holds,
police, exams, imports, staff admin, locker marks, a retention purge) verifies clean: if a
writer's event lacked the facts, replay would flag its row here.

The CLI runs through click's CliRunner on a copy of the seeded demo (real SQLite files, the
keyed anchor's key in the demo folder)."""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from auth_testing import auth_service, sign_in_as, staff_identities
from click.testing import CliRunner
from kiosk_testing import T0, Clock
from sqlalchemy import select

from db.chain_workers import canonical_stored_time
from db.models import Contact, Holding, Locker, Pupil
from kiosk import audit_anchor
from kiosk.audit_replay import unexplained
from kiosk.cli import main
from kiosk.context import open_context
from kiosk.demo import demo_config
from kiosk.mis_import import run_import
from kiosk.retention import purge
from kiosk.staff_admin import StaffAdmin
from kiosk.usecases.base import Collector
from kiosk.usecases.hardware_log import HardwareLog
from wire.chain import event_digest
from wire.vocabulary import LockerState


@pytest.fixture
def folder(tmp_path: Path, demo_template: Path) -> Path:
    target = tmp_path / "d"
    shutil.copytree(demo_template, target)
    return target


def verify(folder: Path):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(
        main, ["--config", str(folder / "kiosk.toml"), "audit", "verify"], catch_exceptions=False
    )


def sql(folder: Path, *statements: str) -> None:
    con = sqlite3.connect(folder / "kiosk.db")
    try:
        for statement in statements:
            con.execute(statement)
        con.commit()
    finally:
        con.close()


def one(folder: Path, query: str) -> tuple:  # type: ignore[type-arg]
    con = sqlite3.connect(folder / "kiosk.db")
    try:
        row = con.execute(query).fetchone()
    finally:
        con.close()
    assert row is not None, query
    return tuple(row)


def assert_broken(folder: Path, *needles: str) -> str:
    result = verify(folder)
    assert result.exit_code == 1, result.output
    for needle in needles:
        assert needle in result.output, (needle, result.output)
    return result.output


def test_the_seeded_demo_verifies_clean(folder):
    result = verify(folder)
    assert result.exit_code == 0, result.output
    assert "audit chain OK" in result.output
    assert (folder / audit_anchor.ANCHOR_FILE).exists()
    assert (folder / "anchor.key").stat().st_mode & 0o777 == 0o600


# ---------------------------------------------------------------------------- the events
def test_altered_event(folder):
    sql(folder, 'UPDATE events SET payload = \'{"why": "edited"}\' WHERE id = 5')
    assert_broken(folder, "event id 5", "contents altered")


def test_deleted_event(folder):
    sql(folder, "DELETE FROM outbox WHERE event_id = 7", "DELETE FROM events WHERE id = 7")
    assert_broken(folder, "expected seq 7", "missing")


def test_inserted_event(folder):
    """An event slipped into the middle: the later events renumbered to make room."""
    sql(
        folder,
        "UPDATE events SET seq = seq + 1000000 WHERE id > 3",
        "UPDATE events SET seq = seq - 1000000 + 1 WHERE id > 3",
        "INSERT INTO events (station_id, seq, type, occurred_at, actor_id, holding_id, "
        "payload, prev_hash, hash) SELECT station_id, seq + 1, 'holding.released', occurred_at, "
        "actor_id, holding_id, '{}', hash, 'f00d' FROM events WHERE id = 3",
    )
    assert_broken(folder, "BROKEN")


def test_forged_event_appended_with_a_recomputed_hash(folder):
    """The chain's hash is unkeyed, so a forger can append a well-formed event and move
    chain_heads; only the keyed anchor tells the kiosk's events from theirs."""
    hid = _holding(folder, "safeguarding_hold")
    station, seq, digest, when = one(
        folder, "SELECT station_id, seq, hash, occurred_at FROM events ORDER BY id DESC LIMIT 1"
    )
    payload = {"previous": "safeguarding_hold", "state": "held"}
    forged = event_digest(
        station_id=station,
        seq=seq + 1,
        type="holding.held",
        occurred_at=canonical_stored_time(when),
        actor_id=None,
        holding_id=hid,
        payload=payload,
        prev_hash=digest,
    )
    con = sqlite3.connect(folder / "kiosk.db")
    con.execute(
        "INSERT INTO events (station_id, seq, type, occurred_at, actor_id, holding_id, payload, "
        "prev_hash, hash) VALUES (?, ?, 'holding.held', ?, NULL, ?, ?, ?, ?)",
        (station, seq + 1, when, hid, json.dumps(payload), digest, forged),
    )
    con.execute("UPDATE chain_heads SET seq = ?, hash = ?", (seq + 1, forged))
    con.execute(f"UPDATE holdings SET state = 'held' WHERE id = {hid}")
    con.commit()
    con.close()
    assert_broken(folder, f"events seq {seq + 1}..{seq + 1} come after the keyed anchor")


def test_reordered_events(folder):
    a, b = one(folder, "SELECT seq FROM events WHERE id = 4")[0], 1_000_000
    sql(
        folder,
        f"UPDATE events SET seq = {b} WHERE id = 4",
        f"UPDATE events SET seq = {a} WHERE id = 5",
        f"UPDATE events SET seq = {a + 1} WHERE id = 4",
    )
    assert_broken(folder, "event id 4", "deleted or reordered")


def test_tail_deleted_with_chain_heads_rewritten(folder):
    """The chain alone cannot see this; the keyed anchor outside the database does."""
    last_id, last_seq = one(folder, "SELECT id, seq FROM events ORDER BY id DESC LIMIT 1")
    prev_hash = one(folder, f"SELECT hash FROM events WHERE seq = {last_seq - 1}")[0]
    sql(
        folder,
        f"DELETE FROM outbox WHERE event_id = {last_id}",
        f"DELETE FROM events WHERE id = {last_id}",
        f"UPDATE chain_heads SET seq = {last_seq - 1}, hash = '{prev_hash}'",
    )
    assert_broken(folder, f"reached seq {last_seq}", "newest events were deleted")


def test_anchor_file_edited_or_deleted(folder):
    path = folder / audit_anchor.ANCHOR_FILE
    data = json.loads(path.read_text())
    station = next(iter(data["stations"]))
    data["stations"][station]["seq"] -= 1
    path.write_text(json.dumps(data))
    assert_broken(folder, "HMAC does not match")
    path.unlink()
    assert_broken(folder, "anchor", "missing")


# ---------------------------------------------------------------------------- the tables
def _holding(folder: Path, state: str) -> int:
    return int(one(folder, f"SELECT id FROM holdings WHERE state = '{state}' LIMIT 1")[0])


def test_safeguarding_hold_released_by_update(folder):
    hid = _holding(folder, "safeguarding_hold")
    sql(folder, f"UPDATE holdings SET state = 'released' WHERE id = {hid}")
    assert_broken(folder, f"holdings id {hid}: state is 'released'", "safeguarding_hold")


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("pupil_id", "(SELECT max(id) FROM pupils)"),
        ("locker_id", "(SELECT max(id) FROM lockers)"),
        ("collector_kind", "'police'"),
        ("collector_contact_id", "(SELECT max(id) FROM contacts)"),
    ],
)
def test_holding_columns_updated(folder, column, value):
    hid = int(one(folder, "SELECT id FROM holdings WHERE state = 'released' LIMIT 1")[0])
    sql(folder, f"UPDATE holdings SET {column} = {value} WHERE id = {hid}")
    assert_broken(folder, f"holdings id {hid}: {column}")


def test_holding_row_deleted_while_in_custody(folder):
    hid = _holding(folder, "safeguarding_hold")
    sql(
        folder,
        f"DELETE FROM incidents WHERE holding_id = {hid}",
        f"DELETE FROM holdings WHERE id = {hid}",
    )
    assert_broken(folder, f"holdings id {hid}: (row) is 'missing'")


def test_locker_state_updated(folder):
    lid = int(one(folder, "SELECT id FROM lockers WHERE state = 'occupied' LIMIT 1")[0])
    sql(folder, f"UPDATE lockers SET state = 'free' WHERE id = {lid}")
    assert_broken(folder, f"lockers id {lid}: state is 'free'")


def test_staff_roles_and_active_updated(folder):
    sid = int(one(folder, "SELECT id FROM staff WHERE staff_code = 'TCH1'")[0])
    sql(folder, f'UPDATE staff SET roles = \'["senior", "teacher"]\' WHERE id = {sid}')
    assert_broken(folder, f"staff id {sid}: roles")
    sql(folder, f"UPDATE staff SET roles = '[\"teacher\"]', active = 0 WHERE id = {sid}")
    out = assert_broken(folder, f"staff id {sid}: active is False")
    assert f"staff id {sid}: roles" not in out


def test_contact_may_collect_updated(folder):
    cid = int(one(folder, "SELECT id FROM contacts WHERE may_collect = 0 LIMIT 1")[0])
    sql(folder, f"UPDATE contacts SET may_collect = 1 WHERE id = {cid}")
    assert_broken(folder, f"contacts id {cid}: may_collect is True")


def test_row_inserted_without_an_event(folder):
    sql(folder, "INSERT INTO lockers (bank, number, capacity, state) VALUES ('Z', 9, 1, 'free')")
    assert_broken(folder, "lockers id", "no such row")


# ---------------------------------------------------------------------------- honest day
CONTACTS = (
    "Admission Number,Contact Name,Relationship,Parental Responsibility,Collection Rights,"
    "Priority\n"
    """A100000000001,Ngozi Okafor,Mother,Yes,No,1
A100000000002,Kim Hughes,Aunt,No,Yes,1
"""
)
STAFF = """Staff Code,Name,Roles,Badge UID
OFF1,Pat Morgan (office),office,AB000001
DSL1,Sam Rahman (DSL),dsl,AB000002
HT1,Dr Jo Fielding (head),senior,AB000003
EXM1,Lee Carter (exams),exams;teacher,AB000004
TEC1,Robin Shaw (technician),technician,AB000006
NEW1,Kit Doe (teacher),teacher,
"""


def _school_day(folder: Path, clock: Clock) -> None:
    ctx = open_context(demo_config(folder), clock=clock)
    try:
        c = ctx.custody
        station = ctx.config.station.id
        staff = staff_identities(ctx)  # real, minted sign-ins (issue 9: no hand-built ones)
        with ctx.sessions() as s:
            pupils = {p.given_name: p.id for p in s.scalars(select(Pupil))}
            held = {
                h.pupil_id: h.id for h in s.scalars(select(Holding).where(Holding.state == "held"))
            }
            contact = {
                ct.pupil_id: ct.id
                for ct in s.scalars(select(Contact))
                if ct.may_collect and ct.parental_responsibility
            }
        office, dsl, senior = staff["office"], staff["dsl"], staff["senior"]
        clock.now = T0 + timedelta(hours=3, minutes=30)  # 15:30, after the bell
        # A release to a contact, a hold placed and lifted, a police hand-over.
        ben = held[pupils["Ben"]]
        c.begin_release(office, ben, Collector("contact", contact[pupils["Ben"]]), "passport")
        c.complete_release(office, ben)
        chloe = held[pupils["Chloe"]]
        c.place_hold(dsl, chloe, "Concern raised by a teacher")
        c.lift_hold(dsl, chloe, "Reviewed: no concern")
        c.place_hold(dsl, chloe, "New concern")
        c.police_handover(dsl, chloe, "REF-1")
        # A deposit aborted with a jammed door (locker fault), another confirmed.
        h, _ = c.confiscate(
            office,
            pupil_id=pupils["Isla"],
            category="unauthorised_use",
            device_description="phone",
            switched_off_confirmed=True,
        )
        c.abort_deposit(office, h.id, "door did not open", locker_fault="jammed")
        h, _ = c.confiscate(
            office,
            pupil_id=pupils["Harry"],
            category="unauthorised_use",
            device_description="phone",
            switched_off_confirmed=True,
        )
        c.confirm_deposit(office, h.id)
        # The exam session ends and its pouches go back.
        with ctx.sessions() as s:
            session_id = s.scalars(
                select(Holding.exam_session_id).where(Holding.exam_session_id.is_not(None))
            ).first()
        clock.now = T0 + timedelta(hours=6)
        c.end_exam_session(staff["exams"], session_id)
        c.begin_exam_session_release(staff["exams"], session_id)
        c.complete_exam_session_release(staff["exams"], session_id)
        # Staff admin and imports (contacts replaced, a teacher leaves, roles change).
        auth = auth_service(clock, station_id=station)
        admin = StaffAdmin(auth)
        senior = sign_in_as(ctx.sessions, auth, "HT1")
        with ctx.sessions.begin() as s:
            admin.grant_role(s, senior, staff["office"].staff_id, "teacher")
        with ctx.sessions.begin() as s:
            admin.revoke_role(s, senior, staff["office"].staff_id, "teacher")
        contacts_csv, staff_csv = folder / "c.csv", folder / "s.csv"
        contacts_csv.write_text(CONTACTS)
        staff_csv.write_text(STAFF)
        with ctx.sessions.begin() as s:
            run_import(s, "contacts", contacts_csv, station_id=station, now=clock.now)
        with ctx.sessions.begin() as s:
            run_import(
                s,
                "staff",
                staff_csv,
                station_id=station,
                now=clock.now,
                deactivate_missing=True,
                actor=senior,
            )
        with ctx.sessions() as s:
            free = s.scalars(
                select(Locker).where(Locker.state == "free", Locker.capacity == 1)
            ).first()
            assert free is not None
            bank, number = free.bank, free.number
        HardwareLog(c).set_locker_state(
            staff["technician"], bank, number, LockerState.OUT_OF_SERVICE, "broken hinge"
        )
    finally:
        ctx.close()


def _purge(folder: Path, clock: Clock, years: int) -> None:
    ctx = open_context(demo_config(folder), clock=clock)
    try:
        clock.now = T0 + timedelta(days=365 * years)
        with ctx.sessions.begin() as s:
            report = purge(s, ctx.profile, now=clock.now, station_id=ctx.config.station.id)
        assert report.events_through, "the purge removed no events: the test proves nothing"
    finally:
        ctx.close()


def test_an_honest_school_day_verifies_clean(folder):
    clock = Clock()
    _school_day(folder, clock)
    result = verify(folder)
    assert result.exit_code == 0, result.output


def test_after_a_purge_the_snapshot_explains_old_rows_and_tampering_still_shows(folder):
    clock = Clock()
    _school_day(folder, clock)
    _purge(folder, clock, years=8)
    result = verify(folder)
    assert result.exit_code == 0, result.output
    # The rows the purged events created are now explained by the purge's snapshot only...
    first_type = one(folder, "SELECT type FROM events ORDER BY id LIMIT 1")[0]
    assert not first_type.startswith("import."), "the imports' events should have gone"
    # ... which still catches an edit to them.
    cid = int(one(folder, "SELECT id FROM contacts WHERE may_collect = 0 LIMIT 1")[0])
    sql(folder, f"UPDATE contacts SET may_collect = 1 WHERE id = {cid}")
    assert_broken(folder, f"contacts id {cid}: may_collect is True")


def test_the_purge_snapshot_does_not_launder_an_earlier_edit(folder):
    """The snapshot is the *replayed* state, not the tables': an edit made before the purge
    is still reported after it."""
    clock = Clock()
    _school_day(folder, clock)
    hid = _holding(folder, "safeguarding_hold")
    sql(folder, f"UPDATE holdings SET state = 'held' WHERE id = {hid}")
    _purge(folder, clock, years=8)
    assert_broken(folder, f"holdings id {hid}: state is 'held'")


def test_unexplained_is_empty_without_events_and_rows(tmp_path):
    """An empty ledger explains an empty table set."""
    ctx = open_context(demo_config(tmp_path / "e"), migrate=True)
    try:
        with ctx.sessions() as s:
            assert unexplained(s) == []
    finally:
        ctx.close()
