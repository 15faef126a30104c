"""MIS CSV import: header variants accepted, all-or-nothing with every problem listed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from auth_testing import auth_service, sign_in_as
from sqlalchemy import func, select

from db.engine import make_engine, make_session_factory
from db.models import Contact, Event, Pupil, Staff
from kiosk.demo import DEMO_DATA
from kiosk.mis_import import ImportRejected, run_import, shown

NOW = datetime(2026, 11, 3, 9, tzinfo=UTC)


@pytest.fixture
def sessions(migrated_sqlite):
    engine = make_engine(f"sqlite:///{migrated_sqlite}")
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
    from kiosk.auth import AuthError

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
        auth_service(lambda: NOW).sign_in(s, "AB000002", "472915")
    with sessions() as s:
        assert s.scalars(select(Staff).where(Staff.staff_code == "OFF1")).one().active


# ----------------------------------------------------------------------------- reading


def _dump(sessions) -> list[tuple]:
    """Every row of every table: what "nothing changed" is compared on."""
    from sqlalchemy import MetaData

    with sessions() as s:
        meta = MetaData()
        meta.reflect(bind=s.get_bind())
        return [
            (name, tuple(sorted(map(repr, s.execute(select(table)).all()))))
            for name, table in sorted(meta.tables.items())
        ]


PUPILS = "UPN,Forename,Surname,Year,Card UID\nX1,Zoë,Lee,9,04AA0001\nX2,Ann,Kay,9,04AA0002\n"


@pytest.mark.parametrize(
    "encoding,bom,newline",
    [
        ("utf-8", b"", "\n"),
        ("utf-8", b"\xef\xbb\xbf", "\r\n"),
        ("utf-8", b"", "\r"),  # old Excel for Mac
        ("utf-16-le", b"\xff\xfe", "\r\n"),
        ("utf-16-be", b"\xfe\xff", "\n"),
    ],
)
def test_encodings_and_line_endings_read_properly(sessions, tmp_path, encoding, bom, newline):
    path = tmp_path / "p.csv"
    path.write_bytes(bom + PUPILS.replace("\n", newline).encode(encoding))
    assert _import(sessions, "pupils", path).added == 2
    with sessions() as s:
        assert s.scalars(select(Pupil.given_name).order_by(Pupil.mis_id)).all() == ["Zoë", "Ann"]


def _rejected(sessions, path, kind="pupils") -> ImportRejected:
    before = _dump(sessions)
    with pytest.raises(ImportRejected) as err:
        _import(sessions, kind, path)
    assert _dump(sessions) == before
    assert shown(str(path)) in str(err.value)
    return err.value


@pytest.mark.parametrize(
    "data,line,needle",
    [
        # Windows-1252 ë on line 3: refused, never decoded into the wrong letters
        (b"UPN,Forename,Surname,Year\nX1,Ann,Lee,9\nX2,Zo\xeb,Lee,9\n", 3, "offset 44 (eb"),
        (PUPILS.encode("utf-16-le"), 1, "NUL byte"),  # UTF-16 without its BOM
        (PUPILS.encode("utf-16-be"), 1, "NUL byte"),
        (b"\xff\xfe\x00\x00" + PUPILS.encode("utf-32-le"), 1, "UTF-32"),
        (b"UPN,Forename,Surname,Year\nX1,A\x00n,Lee,9\n", 2, "NUL byte"),
    ],
)
def test_bytes_that_are_not_our_encodings_are_refused_with_what_to_do(
    sessions, tmp_path, data, line, needle
):
    path = tmp_path / "p.csv"
    path.write_bytes(data)
    err = _rejected(sessions, path)
    (problem,) = err.problems
    assert problem.line == line and needle in problem.message
    assert "CSV UTF-8" in problem.message


def test_utf16_with_odd_bytes_names_the_line(sessions, tmp_path):
    path = tmp_path / "p.csv"
    path.write_bytes(b"\xff\xfe" + "UPN,Forename\nX1,".encode("utf-16-le") + b"\x00\xdc")
    (problem,) = _rejected(sessions, path).problems
    assert problem.line == 2 and "are not UTF-16 LE" in problem.message


def test_a_huge_cell_is_refused_by_line_not_a_csv_traceback(sessions, tmp_path):
    path = _write(
        tmp_path,
        "p.csv",
        "UPN,Forename,Surname,Year\nX1,Ann,Lee,9\nX2," + "A" * 200_000 + ",Lee,9\n",
    )
    (problem,) = _rejected(sessions, path).problems
    assert problem.line == 3 and "too long" in problem.message
    path = _write(tmp_path, "q.csv", "UPN,Forename,Surname,Year\nX1,Ann," + "B" * 2000 + ",9\n")
    (problem,) = _rejected(sessions, path).problems
    assert (problem.line, problem.column) == (2, "Surname")
    assert "2000 characters" in problem.message


def test_an_unclosed_quote_is_named_at_the_line_it_opens(sessions, tmp_path):
    path = _write(tmp_path, "p.csv", 'UPN,Forename,Surname,Year\nX1,Ann,Lee,9\nX2,"Bo,Ray,9\n')
    (problem,) = _rejected(sessions, path).problems
    assert problem.line == 3 and "quotes" in problem.message


def test_values_longer_than_the_database_allows_are_refused(sessions, tmp_path):
    path = _write(tmp_path, "p.csv", "UPN,Forename,Surname,Year\n" + "X" * 65 + ",Ann,Lee,9\n")
    (problem,) = _rejected(sessions, path).problems
    assert (problem.line, problem.column) == (2, "UPN") and "64" in problem.message


@pytest.mark.parametrize(
    "name,code",
    [
        ("Ann\x1b[2J", "U+001B (ESC)"),  # clears the staff screen
        ("Ann\x9b31m", "U+009B"),  # C1 CSI
        ("Ann\tLee", "U+0009 (tab)"),
        ("Ann\x7f", "U+007F"),
        ("Ann\u202eeeL", "U+202E"),  # right-to-left override
        ("Ann\u2028Lee", "U+2028"),
    ],
)
def test_control_characters_refused_naming_line_and_column(sessions, tmp_path, name, code):
    path = _write(tmp_path, "p.csv", f"UPN,Forename,Surname,Year\nX1,Ann,Lee,9\nX2,{name},Kay,9\n")
    err = _rejected(sessions, path)
    (problem,) = err.problems
    assert (problem.line, problem.column) == (3, "Forename") and code in problem.message
    # the message itself is safe to print on a terminal
    assert not any((ord(c) < 32 and c != "\n") or 0x7F <= ord(c) < 0xA0 for c in str(err))
    assert "\u202e" not in str(err) and "\u2028" not in str(err)


def test_control_characters_in_headers_and_file_names_are_not_echoed(sessions, tmp_path):
    path = tmp_path / "p\x1b[31m.csv"
    path.write_text("UPN,Fore\x1bname,Surname,Year\nX1,Ann,Lee,9\n", encoding="utf-8")
    err = _rejected(sessions, path)
    assert "\x1b" not in str(err)
    assert (1, "header 2") in {(p.line, p.column) for p in err.problems}


def test_multiline_quoted_cell_reports_the_row_start_and_later_lines_stay_right(sessions, tmp_path):
    path = _write(
        tmp_path,
        "c.csv",
        'UPN,Forename,Surname,Year\nX1,"Ann\nMarie",Lee,9\nX2,Bo,Ray,nine\nX3,,Dee,9\n',
    )
    err = _rejected(sessions, path)
    assert {(p.line, p.column) for p in err.problems} == {(2, "Forename"), (5, "Forename")}


def test_duplicate_cards_named_row_by_row(sessions, tmp_path):
    path = _write(
        tmp_path,
        "p.csv",
        "UPN,Forename,Surname,Year,Card UID\n"
        "X1,Ann,Lee,9,04AA0001\nX2,Bo,Ray,9,04:aa:00:01\nX3,Cy,Dee,9,04AA0001\n",
    )
    err = _rejected(sessions, path)
    got = sorted((p.line, p.column, p.message) for p in err.problems)
    assert got == [
        (3, "Card UID", "card UID '04AA0001' also on line 2"),
        (4, "Card UID", "card UID '04AA0001' also on line 2"),
    ]


def test_two_pupils_swapping_cards_is_applied(sessions, tmp_path):
    _import(sessions, "pupils", _write(tmp_path, "a.csv", PUPILS))
    swapped = PUPILS.replace("04AA0001", "TMP").replace("04AA0002", "04AA0001")
    _import(sessions, "pupils", _write(tmp_path, "b.csv", swapped.replace("TMP", "04AA0002")))
    with sessions() as s:
        got = s.execute(select(Pupil.mis_id, Pupil.card_uid).order_by(Pupil.mis_id)).all()
    assert [tuple(r) for r in got] == [("X1", "04AA0002"), ("X2", "04AA0001")]


def test_card_taken_from_a_pupil_not_in_the_file_is_refused_by_name(sessions, tmp_path):
    _import(sessions, "pupils", _write(tmp_path, "a.csv", PUPILS))
    path = _write(tmp_path, "b.csv", "UPN,Forename,Surname,Year,Card UID\nX3,Cy,Dee,9,04AA0002\n")
    (problem,) = _rejected(sessions, path).problems
    assert (problem.line, problem.column) == (2, "Card UID")
    assert "belongs to 'X2' ('Ann Kay')" in problem.message


def test_staff_swapping_badges_is_applied(sessions, tmp_path):
    _import(sessions, "staff", DEMO_DATA / "staff.csv")  # a new school's first import: a senior
    senior = sign_in_as(sessions, auth_service(lambda: NOW), "HT1")
    text = "Staff Code,Name,Roles,Badge\nA,Al,office,CD000001\nB,Bo,office,CD000002\n"
    swapped = text.replace("CD000001", "X").replace("CD000002", "CD000001").replace("X", "CD000002")
    for name, body in (("a.csv", text), ("b.csv", swapped)):
        with sessions.begin() as s:
            run_import(
                s, "staff", _write(tmp_path, name, body), station_id="t", now=NOW, actor=senior
            )
    with sessions() as s:
        got = s.execute(select(Staff.staff_code, Staff.badge_uid).order_by(Staff.staff_code))
        assert [tuple(r) for r in got if r[0] in "AB"] == [("A", "CD000002"), ("B", "CD000001")]


def test_contact_priority_must_be_a_plain_number(sessions, tmp_path):
    _import(sessions, "pupils", _write(tmp_path, "a.csv", PUPILS))
    path = _write(
        tmp_path,
        "c.csv",
        "UPN,Contact Name,Relationship,Priority\nX1,Mo,Mother,²\nX1,Da,Father,99999999999\n",
    )
    err = _rejected(sessions, path, "contacts")
    assert {(p.line, p.column) for p in err.problems} == {(2, "Priority"), (3, "Priority")}
