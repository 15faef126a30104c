"""Staff and badges (issue 14) and the staff import (issue 9): enrolment codes, badges,
unlocks, lost badges, roles, and an import that carries no PINs and cannot lock everyone out.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from auth_testing import GOOD_PIN, auth_service, sign_in_as
from kiosk_testing import Clock
from permission_cases import mismatches
from sqlalchemy import func, select

from db.engine import make_engine, make_session_factory
from db.migrate import upgrade
from db.models import Event, Pupil, Staff
from kiosk.auth import AuthError, Identity, NotPermitted, PinChangeRequired, authorise
from kiosk.demo import DEMO_DATA
from kiosk.mis_import import ImportRejected, run_import
from kiosk.permissions import Permission, Role
from kiosk.pin_rules import PinRejected
from kiosk.staff_admin import StaffAdmin, StaffAdminError


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sessions(migrated_sqlite, clock):
    """The demo staff list imported as a new school's first import (no senior exists yet)."""
    engine = make_engine(f"sqlite:///{migrated_sqlite}")
    factory = make_session_factory(engine)
    with factory.begin() as s:
        run_import(s, "staff", DEMO_DATA / "staff.csv", station_id="t", now=clock.now)
        s.add(Staff(staff_code="ADM1", name="Val Okafor (admin)", roles=["office_admin"]))
        s.add(
            Pupil(
                mis_id="P1", given_name="Ben", family_name="H", year_group="9", card_uid="04A1B2C9"
            )
        )
    yield factory
    engine.dispose()


@pytest.fixture
def auth(clock):
    return auth_service(clock)


@pytest.fixture
def admin(auth):
    return StaffAdmin(auth)


def staff_id(sessions, code):
    with sessions() as s:
        return s.scalars(select(Staff.id).where(Staff.staff_code == code)).one()


def row(sessions, code) -> Staff:
    with sessions() as s:
        return s.scalars(select(Staff).where(Staff.staff_code == code)).one()


def attempt(sessions, auth, badge, pin):
    with sessions() as s:
        try:
            result: Identity | AuthError = auth.sign_in(s, badge, pin)
        except AuthError as exc:
            result = exc
        s.commit()
        return result


def last_event(sessions, type_):
    with sessions() as s:
        e = s.scalars(select(Event).where(Event.type == type_).order_by(Event.id.desc())).first()
        assert e is not None, f"no {type_} event"
        return e.actor_id, e.payload


@pytest.fixture
def head(sessions, auth):
    return sign_in_as(sessions, auth, "HT1")


@pytest.fixture
def office_admin(sessions, auth):
    return sign_in_as(sessions, auth, "ADM1")


# ---------------------------------------------------------------------------- import
def test_first_import_gives_no_pins_and_records_privileged_grants(sessions):
    with sessions() as s:
        assert all(st.pin_hash is None for st in s.scalars(select(Staff)))
        granted = s.scalars(select(Event).where(Event.type == "staff.privileged_role_granted"))
        assert sorted(e.payload["role"] for e in granted) == ["dsl", "senior"]


def test_pin_column_refused_with_what_to_do(sessions, head, tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("Staff Code,Name,Roles,Initial PIN\nX1,Xi,teacher,4821\n", encoding="utf-8")
    with sessions.begin() as s, pytest.raises(ImportRejected) as err:
        run_import(s, "staff", path, station_id="t", now=Clock().now, actor=head)
    (problem,) = err.value.problems
    assert (problem.line, problem.column) == (1, "Initial PIN")
    assert "must not carry PINs" in problem.message and "enrolment code" in problem.message
    assert "nothing imported" in str(err.value)
    with sessions() as s:
        assert (
            s.scalar(select(func.count()).select_from(Staff).where(Staff.staff_code == "X1")) == 0
        )


def test_import_needs_a_signed_in_senior_once_one_exists(sessions, auth, tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("Staff Code,Name,Roles\nEVIL,Mallory,senior;dsl\n", encoding="utf-8")
    for actor in (None, sign_in_as(sessions, auth, "ADM1"), Identity(3, "forged", ("senior",))):
        with sessions.begin() as s, pytest.raises(NotPermitted):
            run_import(s, "staff", path, station_id="t", now=Clock().now, actor=actor)
    assert row(sessions, "DSL1").roles == ["dsl"]
    with sessions() as s:
        assert s.scalars(select(Staff).where(Staff.staff_code == "EVIL")).first() is None


def test_roles_granted_by_import_name_the_senior(sessions, head, tmp_path, clock):
    path = tmp_path / "s.csv"
    path.write_text("Staff Code,Name,Roles\nTCH1,Alex Byrne,teacher;dsl\nNEW1,Nia,teacher\n")
    with sessions.begin() as s:
        result = run_import(s, "staff", path, station_id="t", now=clock.now, actor=head)
    assert (result.added, result.updated) == (1, 1)
    actor, payload = last_event(sessions, "staff.privileged_role_granted")
    assert actor == head.staff_id and payload["role"] == "dsl"
    assert payload["staff"] == staff_id(sessions, "TCH1")
    actor, payload = last_event(sessions, "staff.roles_changed")
    assert actor == head.staff_id and payload["staff"] == staff_id(sessions, "NEW1")
    assert last_event(sessions, "import.staff")[0] == head.staff_id
    assert row(sessions, "NEW1").pin_hash is None


def test_deactivate_missing_cannot_remove_the_importing_senior(sessions, head, tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("Staff Code,Name,Roles\nOFF1,Pat Morgan,office\nDSL1,Sam,senior\n")
    with sessions.begin() as s, pytest.raises(ImportRejected, match=r"deactivate you \(Dr Jo"):
        run_import(
            s, "staff", path, station_id="t", now=Clock().now, actor=head, deactivate_missing=True
        )
    assert row(sessions, "HT1").active and row(sessions, "EXM1").active


def test_import_cannot_leave_the_school_without_a_senior(sessions, head, tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("Staff Code,Name,Roles\nHT1,Dr Jo Fielding,office\n")
    with sessions.begin() as s, pytest.raises(ImportRejected) as err:
        run_import(s, "staff", path, station_id="t", now=Clock().now, actor=head)
    text = str(err.value)
    assert "remove the senior role from you" in text
    assert "no active member of staff would be senior (Dr Jo Fielding (head))" in text
    assert row(sessions, "HT1").roles == ["senior"]


# ---------------------------------------------------------------------------- enrolment
def test_enrolment_code_first_sign_in_sets_own_pin(sessions, auth, admin, office_admin, clock):
    tch = staff_id(sessions, "TCH1")
    with sessions.begin() as s:
        issued = admin.issue_enrolment_code(s, office_admin, tch)
    assert issued.code.isdigit() and len(issued.code) == 8
    assert issued.expires_at == clock.now + timedelta(hours=72)
    stored = row(sessions, "TCH1")
    assert stored.enrolment_code_hash.startswith("$argon2id$") and issued.code not in json.dumps(
        [p for _a, p in [last_event(sessions, "staff.enrolment_code_issued")]]
    )
    actor, payload = last_event(sessions, "staff.enrolment_code_issued")
    assert actor == office_admin.staff_id and payload["staff"] == tch
    got = attempt(sessions, auth, "AB000005", issued.code)
    assert isinstance(got, PinChangeRequired)
    with sessions() as s, pytest.raises(PinRejected):
        auth.complete_pin_change(s, got.ticket, "1234")
    with sessions.begin() as s:  # the ticket survives a refused PIN
        who = auth.complete_pin_change(s, got.ticket, "6294")
    with sessions() as s:
        authorise(s, who, Permission.CONFISCATE)
    assert isinstance(attempt(sessions, auth, "AB000005", "6294"), Identity)
    assert isinstance(attempt(sessions, auth, "AB000005", issued.code), AuthError)  # one-time
    assert row(sessions, "TCH1").enrolment_code_hash is None


def test_reset_stops_the_old_pin_and_forces_a_new_one(sessions, auth, admin, office_admin):
    tch = sign_in_as(sessions, auth, "TCH1")
    with sessions.begin() as s:
        issued = admin.issue_enrolment_code(s, office_admin, tch.staff_id)
    assert last_event(sessions, "staff.enrolment_code_issued")[1]["reset"] is True
    assert isinstance(attempt(sessions, auth, "AB000005", GOOD_PIN), AuthError)
    assert isinstance(attempt(sessions, auth, "AB000005", issued.code), PinChangeRequired)


def test_enrolment_code_expires(sessions, auth, admin, office_admin, clock):
    with sessions.begin() as s:
        issued = admin.issue_enrolment_code(s, office_admin, staff_id(sessions, "TCH1"))
    clock.now += timedelta(hours=73)
    assert "expired" in str(attempt(sessions, auth, "AB000005", issued.code))


def test_senior_approval_instead_of_a_code(sessions, auth, admin, head):
    with sessions.begin() as s:
        ticket = admin.approve_pin_setup(s, head, staff_id(sessions, "EXM1"))
    with sessions.begin() as s:
        auth.complete_pin_change(s, ticket, "5082")
    assert isinstance(attempt(sessions, auth, "AB000004", "5082"), Identity)
    assert last_event(sessions, "staff.pin_setup_approved")[0] == head.staff_id


def test_forced_change_by_a_senior(sessions, auth, admin, head):
    sign_in_as(sessions, auth, "TCH1")
    with sessions.begin() as s:
        admin.require_pin_change(s, head, staff_id(sessions, "TCH1"))
    assert isinstance(attempt(sessions, auth, "AB000005", GOOD_PIN), PinChangeRequired)


def test_office_admin_cannot_take_over_a_senior_or_dsl(sessions, admin, office_admin):
    for code in ("HT1", "DSL1"):
        with sessions() as s, pytest.raises(NotPermitted, match="only a senior leader"):
            admin.issue_enrolment_code(s, office_admin, staff_id(sessions, code))
        with sessions() as s, pytest.raises(NotPermitted):
            admin.enrol_badge(s, office_admin, staff_id(sessions, code), "0A0B0C0D")


def test_nobody_sets_up_their_own_pin(sessions, admin, head):
    with sessions() as s, pytest.raises(StaffAdminError, match="for yourself"):
        admin.issue_enrolment_code(s, head, head.staff_id)


# ---------------------------------------------------------------------------- badges
def test_enrol_badge_from_the_reader(sessions, auth, admin, office_admin):
    tch = staff_id(sessions, "TCH1")
    with sessions.begin() as s:
        admin.enrol_badge(s, office_admin, tch, "0a:0b:0c:0d")
    assert row(sessions, "TCH1").badge_uid == "0A0B0C0D"
    actor, payload = last_event(sessions, "staff.badge_enrolled")
    assert actor == office_admin.staff_id and payload == {"staff": tch, "replaced": True}
    for uid, why in (
        ("AB000001", "enrolled for Pat Morgan"),
        ("04A1B2C9", "pupil's card"),
        ("hello", "not a badge UID"),
    ):
        with sessions() as s, pytest.raises(StaffAdminError, match=why):
            admin.enrol_badge(s, office_admin, tch, uid)


def test_lost_badge_is_disabled_at_once(sessions, auth, admin, office_admin):
    sign_in_as(sessions, auth, "TCH1")
    assert isinstance(attempt(sessions, auth, "AB000005", GOOD_PIN), Identity)
    with sessions.begin() as s:
        admin.report_lost_badge(s, office_admin, staff_id(sessions, "TCH1"))
    got = attempt(sessions, auth, "AB000005", GOOD_PIN)
    assert isinstance(got, AuthError) and "not registered" in str(got)
    assert last_event(sessions, "staff.badge_lost")[0] == office_admin.staff_id
    assert "AB000005" not in json.dumps(last_event(sessions, "staff.badge_lost")[1])


def test_unlock_after_lockout_until_a_senior_unlocks(sessions, auth, admin, head, clock):
    tch = sign_in_as(sessions, auth, "TCH1").staff_id
    for _ in range(3):
        for _ in range(5):
            attempt(sessions, auth, "AB000005", "5082")
        clock.now += timedelta(hours=2)
    assert "must unlock" in str(attempt(sessions, auth, "AB000005", GOOD_PIN))
    with sessions.begin() as s:
        views = {v.staff_code: v for v in admin.staff_list(s, head)}
        assert "must unlock" in (views["TCH1"].locked or "")
        admin.unlock_badge(s, head, tch)
    assert isinstance(attempt(sessions, auth, "AB000005", GOOD_PIN), Identity)
    assert last_event(sessions, "staff.unlocked") == (head.staff_id, {"staff": tch, "level": 3})


# ---------------------------------------------------------------------------- roles
def test_ordinary_role_by_office_admin_privileged_only_by_senior(
    sessions, admin, office_admin, head
):
    tch = staff_id(sessions, "TCH1")
    with sessions.begin() as s:
        admin.grant_role(s, office_admin, tch, "exams")
    assert last_event(sessions, "staff.role_granted") == (
        office_admin.staff_id,
        {"staff": tch, "role": "exams", "roles": ["teacher", "exams"]},
    )
    for role in ("dsl", "senior", "office_admin"):
        with sessions() as s, pytest.raises(NotPermitted):
            admin.grant_role(s, office_admin, tch, role)
    with sessions.begin() as s:
        admin.grant_role(s, head, tch, "dsl")
    actor, payload = last_event(sessions, "staff.privileged_role_granted")
    assert actor == head.staff_id and payload["role"] == "dsl"
    with sessions() as s, pytest.raises(StaffAdminError, match="Unknown role"):
        admin.grant_role(s, head, tch, "janitor")


def test_no_self_grants(sessions, admin, head, office_admin):
    with sessions() as s, pytest.raises(StaffAdminError, match="for yourself"):
        admin.grant_role(s, office_admin, office_admin.staff_id, "teacher")
    with sessions() as s, pytest.raises(StaffAdminError, match="for yourself"):
        admin.grant_role(s, head, head.staff_id, "dsl")


def test_a_senior_demotes_another_senior_who_stops_at_once(sessions, auth, admin, head):
    with sessions.begin() as s:
        admin.grant_role(s, head, staff_id(sessions, "DSL1"), "senior")
    dsl = sign_in_as(sessions, auth, "DSL1")
    with sessions.begin() as s:
        admin.revoke_role(s, dsl, head.staff_id, "senior")
    assert last_event(sessions, "staff.role_revoked") == (
        dsl.staff_id,
        {"staff": head.staff_id, "role": "senior", "roles": []},
    )
    with sessions() as s, pytest.raises(NotPermitted):
        admin.revoke_role(s, head, dsl.staff_id, "senior")


def test_demoted_dsl_stops_at_once(sessions, auth, admin, head):
    dsl = sign_in_as(sessions, auth, "DSL1")
    with sessions() as s:
        authorise(s, dsl, Permission.SAFEGUARDING_HOLD)
    with sessions() as s, pytest.raises(StaffAdminError, match="only active designated"):
        admin.revoke_role(s, head, dsl.staff_id, "dsl")  # the school's last DSL
    with sessions.begin() as s:
        admin.grant_role(s, head, staff_id(sessions, "TCH1"), "dsl")
    with sessions.begin() as s:
        admin.revoke_role(s, head, dsl.staff_id, "dsl")
    with sessions() as s, pytest.raises(NotPermitted):
        authorise(s, dsl, Permission.SAFEGUARDING_HOLD)


# ---------------------------------------------------------------------------- the matrix
def test_staff_admin_use_cases_match_the_table_for_every_role(sessions, auth, admin):
    """Every staff-admin use-case x every role, from the permission table."""
    people: dict[Role, Identity] = {}
    with sessions.begin() as s:
        for i, role in enumerate(Role):
            s.add(Staff(staff_code=f"R{i}", name=f"R {role}", roles=[role.value]))
    for i, role in enumerate(Role):
        people[role] = sign_in_as(sessions, auth, f"R{i}")
    target = staff_id(sessions, "TCH1")

    def run(method, *args):
        def call(who):
            with sessions() as s:  # never committed: an allowed call changes nothing
                return getattr(admin, method)(s, who, *args)

        return call

    cases = {
        "staff_list": (run("staff_list"), Permission.STAFF_ADMIN),
        "enrol_badge": (run("enrol_badge", target, "0A0B0C0D"), Permission.STAFF_ADMIN),
        "issue_enrolment_code": (run("issue_enrolment_code", target), Permission.STAFF_ADMIN),
        "approve_pin_setup": (run("approve_pin_setup", target), Permission.STAFF_ADMIN),
        "require_pin_change": (run("require_pin_change", target), Permission.STAFF_ADMIN),
        "unlock_badge": (run("unlock_badge", target), Permission.STAFF_ADMIN),
        "report_lost_badge": (run("report_lost_badge", target), Permission.STAFF_ADMIN),
        "grant_role": (run("grant_role", target, "exams"), Permission.STAFF_ADMIN),
        "grant_privileged_role": (
            run("grant_role", target, "dsl"),
            Permission.GRANT_PRIVILEGED_ROLE,
        ),
        "revoke_role": (run("revoke_role", target, "teacher"), Permission.STAFF_ADMIN),
    }
    assert mismatches(cases, people.__getitem__) == []
    from permission_cases import unmapped

    assert unmapped(admin, cases) == []


# ---------------------------------------------------------------------------- PostgreSQL
@pytest.fixture
def pg_sessions(clock):
    """The same school on PostgreSQL (the lockout columns and booleans of migration 0003)."""
    from pg_testing import PG_URL, pg_schema
    from sqlalchemy import create_engine

    with pg_schema("kiosk_auth") as schema:
        engine = create_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"})
        upgrade(engine)
        factory = make_session_factory(engine)
        with factory.begin() as s:
            run_import(s, "staff", DEMO_DATA / "staff.csv", station_id="pg", now=clock.now)
        yield factory
        engine.dispose()


@pytest.mark.postgres
def test_enrolment_lockout_and_unlock_on_postgres(pg_sessions, auth, admin, clock):
    head = sign_in_as(pg_sessions, auth, "HT1")
    tch = staff_id(pg_sessions, "TCH1")
    with pg_sessions.begin() as s:
        issued = admin.issue_enrolment_code(s, head, tch)
    got = attempt(pg_sessions, auth, "AB000005", issued.code)
    assert isinstance(got, PinChangeRequired)
    with pg_sessions.begin() as s:
        auth.complete_pin_change(s, got.ticket, "6294")
    for _ in range(3):
        for _ in range(5):
            attempt(pg_sessions, auth, "AB000005", "5082")
        clock.now += timedelta(hours=2)
    assert "must unlock" in str(attempt(pg_sessions, auth, "AB000005", "6294"))
    with pg_sessions.begin() as s:
        admin.unlock_badge(s, head, tch)
    assert isinstance(attempt(pg_sessions, auth, "AB000005", "6294"), Identity)
