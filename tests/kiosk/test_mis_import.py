"""MIS CSV import: header variants accepted, all-or-nothing with every problem listed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from auth_testing import auth_service, sign_in_as
from sqlalchemy import func, select

from db.engine import make_engine, make_session_factory
from db.migrate import upgrade
from db.models import Contact, Event, Pupil, Staff
from kiosk.demo import DEMO_DATA
from kiosk.mis_import import ImportRejected, run_import

NOW = datetime(2026, 11, 3, 9, tzinfo=UTC)


@pytest.fixture
def sessions(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'k.db'}")
    upgrade(engine)
    yield make_session_factory(engine)
    engine.dispose()


def _import(sessions, kind, path):
    with sessions.begin() as s:
        return run_import(s, kind, path, station_id="t", now=NOW)


def _count(sessions, model):
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(model))


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_demo_exports_import_with_sims_headers(sessions):
    assert _import(sessions, "pupils", DEMO_DATA / "pupils.csv").added == 10
    assert _import(sessions, "contacts", DEMO_DATA / "contacts.csv").added == 13
    assert _import(sessions, "staff", DEMO_DATA / "staff.csv").added == 6
    with sessions() as s:
        ella = s.scalars(select(Pupil).where(Pupil.given_name == "Ella")).one()
        assert ella.exemptions == ["medical"]
        ben = s.scalars(select(Pupil).where(Pupil.given_name == "Ben")).one()
        assert [(c.name, c.may_collect) for c in ben.contacts] == [
            ("Sarah Hughes", True),
            ("Tom Hughes", False),
        ]
        office = s.scalars(select(Staff).where(Staff.staff_code == "OFF1")).one()
        assert office.roles == ["office"] and office.badge_uid == "AB000001"
        assert office.pin_hash is None  # the staff file carries no PINs (issue 9)
        imports = select(func.count()).select_from(Event).where(Event.type.like("import.%"))
        assert s.scalar(imports) == 3


@pytest.mark.parametrize(
    "header",
    [
        "Adno,Forename,Surname,NC Year,Form",
        "MIS ID,First Name,Last Name,Year Group,Tutor Group",
        "upn,preferred forename,preferred surname,year,registration group",
    ],
)
def test_header_variants(sessions, tmp_path, header):
    path = _write(tmp_path, "p.csv", f"{header}\nX1,Ann,Lee,9,9B\n")
    _import(sessions, "pupils", path)
    with sessions() as s:
        pupil = s.scalars(select(Pupil)).one()
    assert (pupil.mis_id, pupil.given_name, pupil.tutor_group) == ("X1", "Ann", "9B")


def test_reimport_updates_instead_of_duplicating(sessions, tmp_path):
    _import(
        sessions, "pupils", _write(tmp_path, "a.csv", "UPN,Forename,Surname,Year\nX1,Ann,Lee,9\n")
    )
    result = _import(
        sessions, "pupils", _write(tmp_path, "b.csv", "UPN,Forename,Surname,Year\nX1,Anne,Lee,10\n")
    )
    assert (result.added, result.updated) == (0, 1)
    with sessions() as s:
        assert s.scalars(select(Pupil.given_name)).all() == ["Anne"]


def test_every_problem_listed_by_line_and_column_and_nothing_imported(sessions, tmp_path):
    path = _write(
        tmp_path,
        "bad.csv",
        "UPN,Forename,Surname,Year,Card UID,Exemptions\n"
        "X1,Ann,Lee,9,04AABBCC,\n"  # fine
        "X2,,Kay,9,,\n"  # line 3: empty forename
        "X3,Bo,Ray,9,not-a-uid,\n"  # line 4: bad uid
        "X1,Cy,Dee,9,,medical;flying\n"  # line 5: duplicate id + unknown exemption
        "X5,Di,Eve,9\n",  # line 6: short row
    )
    with pytest.raises(ImportRejected) as err:
        _import(sessions, "pupils", path)
    text = str(err.value)
    assert "nothing imported" in text
    lines = {(p.line, p.column) for p in err.value.problems}
    assert {(3, "Forename"), (4, "Card UID"), (5, "Exemptions"), (5, "UPN"), (6, "")} <= lines
    assert _count(sessions, Pupil) == 0
    assert _count(sessions, Event) == 0


def test_missing_required_column_is_named(sessions, tmp_path):
    path = _write(tmp_path, "p.csv", "UPN,Forename,Year\nX1,Ann,9\n")
    with pytest.raises(ImportRejected, match="no column for family_name"):
        _import(sessions, "pupils", path)


def test_contacts_for_unknown_pupil_reject_whole_file(sessions, tmp_path):
    _import(sessions, "pupils", DEMO_DATA / "pupils.csv")
    path = _write(
        tmp_path,
        "c.csv",
        "Adno,Contact Name,Relationship,PR,May Collect\n"
        "A100000000001,Ngozi Okafor,Mother,Yes,Yes\n"
        "NOPE,Someone,Uncle,No,maybe\n",
    )
    with pytest.raises(ImportRejected) as err:
        _import(sessions, "contacts", path)
    got = {(p.line, p.column) for p in err.value.problems}
    assert got == {(3, "Adno"), (3, "May Collect")}
    assert _count(sessions, Contact) == 0


def test_staff_unknown_role_and_pin_column_refused(sessions, tmp_path):
    path = _write(
        tmp_path,
        "s.csv",
        "Staff Code,Name,Role,Badge,PIN\nA,Al,office,AB01AB01,12\nB,Bo,janitor,,1234\n",
    )
    with pytest.raises(ImportRejected) as err:
        _import(sessions, "staff", path)
    assert {(p.line, p.column) for p in err.value.problems} == {(1, "PIN"), (3, "Role")}
    assert _count(sessions, Staff) == 0


def test_empty_file(sessions, tmp_path):
    with pytest.raises(ImportRejected, match="empty"):
        _import(sessions, "staff", _write(tmp_path, "e.csv", ""))


def test_export_without_optional_columns_keeps_cards_exemptions_and_badges(sessions, tmp_path):
    _import(sessions, "pupils", DEMO_DATA / "pupils.csv")
    _import(sessions, "staff", DEMO_DATA / "staff.csv")
    _import(
        sessions,
        "pupils",
        _write(tmp_path, "p.csv", "UPN,Forename,Surname,Year\nA100000000005,Ella,Nowak,11\n"),
    )
    senior = sign_in_as(sessions, auth_service(lambda: NOW), "HT1")
    with sessions.begin() as s:
        run_import(
            s,
            "staff",
            _write(tmp_path, "s.csv", "Staff Code,Name,Roles\nOFF1,Pat Morgan,office\n"),
            station_id="t",
            now=NOW,
            actor=senior,
        )
    with sessions() as s:
        ella = s.scalars(select(Pupil).where(Pupil.mis_id == "A100000000005")).one()
        assert (ella.card_uid, ella.exemptions, ella.tutor_group) == (
            "04A1B2C7",
            ["medical"],
            "11A",
        )
        office = s.scalars(select(Staff).where(Staff.staff_code == "OFF1")).one()
        assert office.badge_uid == "AB000001"


def test_full_staff_list_deactivates_leavers_who_then_cannot_sign_in(sessions, tmp_path):
    from kiosk.auth import AuthError, sign_in

    _import(sessions, "staff", DEMO_DATA / "staff.csv")
    senior = sign_in_as(sessions, auth_service(lambda: NOW), "HT1")
    short = _write(
        tmp_path, "s.csv", "Staff Code,Name,Roles\nOFF1,Pat Morgan,office\nHT1,Jo,senior\n"
    )
    with sessions.begin() as s:
        result = run_import(
            s, "staff", short, station_id="t", now=NOW, deactivate_missing=True, actor=senior
        )
    assert result.deactivated == 4
    with sessions() as s, pytest.raises(AuthError, match="not registered"):
        sign_in(s, badge_uid="AB000002", pin="472915", now=NOW, station_id="t")
    with sessions() as s:
        assert s.scalars(select(Staff).where(Staff.staff_code == "OFF1")).one().active
