"""A user's schools as a set (c0006): a DSL covering two schools of a trust sees both
schools' incidents and nothing of a third; a one-school DSL is unchanged; a governor of
two schools still sees anonymised counts only; every change to a user's schools is an
append-only record with who and when."""

from __future__ import annotations

import re

import pytest
from central_helpers import NAMES, PASSWORD, SECRET, add_users, names_in, sign_in, sync_sample
from click.testing import CliRunner
from sqlalchemy import select, text

from central import admin
from central.cli import main
from central.models import Case, Pupil, School, User, UserSchool, UserSchoolChange
from central.sample import SampleStation
from central.store import make_engine, make_sessions, upgrade

HILL_NAME = "Priya Stone"


def case_ids(html: str) -> set[int]:
    return {int(n) for n in re.findall(r'href="/cases/(\d+)"', html)}


@pytest.fixture
def trust(central):
    """Oakfield and Riverside (from ``site``), and Hillside, a third school of the trust."""
    with central.sessions.begin() as s:
        admin.add_school(s, "hillside", "Hillside School")
        central.tokens["hill-1"] = admin.add_station(s, "hill-1", "hillside", central.clock()).token
    add_users(central)
    with central.sessions.begin() as s:
        for username, role, schools in [
            ("trust-dsl", "dsl", ["oakfield", "riverside"]),
            ("two-governor", "governor", ["oakfield", "riverside"]),
        ]:
            admin.add_user(
                s,
                username=username,
                display_name=f"{username} person",
                role=role,
                password=PASSWORD,
                school_slugs=schools,
                now=central.clock(),
                totp_secret=SECRET,
                by_name="test",
            )
    sync_sample(central)
    hill = SampleStation("hill-1")
    hill.pupil(7, "HILL-7", "Priya", "Stone", "8")
    hill.confiscate(1, 7, "filming")
    res = central.client.post(
        "/api/v1/stations/hill-1/events",
        json=hill.batch().model_dump(mode="json"),
        headers={"Authorization": f"Bearer {central.tokens['hill-1']}"},
    )
    assert res.status_code == 200, res.text
    return central


def cases_by_school(central) -> dict[str, set[int]]:
    with central.sessions() as s:
        rows = s.execute(select(School.slug, Case.id).join(School, School.id == Case.school_id))
        out: dict[str, set[int]] = {}
        for slug, case_id in rows:
            out.setdefault(slug, set()).add(case_id)
    return out


def pupils_by_school(central) -> dict[str, set[int]]:
    with central.sessions() as s:
        rows = s.execute(select(School.slug, Pupil.id).join(School, School.id == Pupil.school_id))
        out: dict[str, set[int]] = {}
        for slug, pupil_id in rows:
            out.setdefault(slug, set()).add(pupil_id)
    return out


def test_a_two_school_dsl_sees_both_schools_and_nothing_of_a_third(trust):
    cases = cases_by_school(trust)
    assert cases["oakfield"] and cases["riverside"] and cases["hillside"]
    assert sign_in(trust, "trust-dsl").status_code == 303
    tray = trust.client.get("/tray").text
    assert case_ids(tray) == cases["oakfield"] | cases["riverside"]
    assert "Amara Okafor" in tray and "Zainab Quist" in tray and HILL_NAME not in tray
    # The school filter offers their two schools only, and narrows to one of them.
    assert "Oakfield Academy" in tray and "Riverside Primary" in tray
    assert "Hillside School" not in tray
    assert "<th>School</th>" in tray  # several schools: each row says which
    with trust.sessions() as s:
        ids = {sc.slug: sc.id for sc in s.scalars(select(School))}
    only_river = trust.client.get(f"/tray?school={ids['riverside']}").text
    assert case_ids(only_river) == cases["riverside"]
    # Asking for the third school's filter does not widen the scope.
    assert case_ids(trust.client.get(f"/tray?school={ids['hillside']}").text) == (
        cases["oakfield"] | cases["riverside"]
    )
    assert case_ids(trust.client.get("/tray?q=Priya").text) == set()
    for case_id in cases["oakfield"] | cases["riverside"]:
        assert trust.client.get(f"/cases/{case_id}").status_code == 200
    for case_id in cases["hillside"]:
        page = trust.client.get(f"/cases/{case_id}")
        assert page.status_code == 403 and HILL_NAME not in page.text
    pupils = pupils_by_school(trust)
    for pupil_id in pupils["oakfield"] | pupils["riverside"]:
        assert trust.client.get(f"/pupils/{pupil_id}").status_code == 200
    for pupil_id in pupils["hillside"]:
        assert trust.client.get(f"/pupils/{pupil_id}").status_code == 403
    # Writing to the third school's case is refused too (checked before anything is written).
    (hill_case,) = cases["hillside"]
    page = trust.client.get(f"/cases/{min(cases['riverside'])}").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    refused = trust.client.post(
        f"/cases/{hill_case}/note", data={"csrf_token": csrf, "text": "not mine"}
    )
    assert refused.status_code == 403
    assert (
        trust.client.post(
            f"/cases/{min(cases['riverside'])}/triage",
            data={"csrf_token": csrf},
            follow_redirects=False,
        ).status_code
        == 303
    )


def test_a_one_school_dsl_is_unchanged(trust):
    cases = cases_by_school(trust)
    sign_in(trust, "dsl")
    tray = trust.client.get("/tray").text
    assert case_ids(tray) == cases["oakfield"]
    assert "Zainab Quist" not in tray and HILL_NAME not in tray
    assert 'name="school"' not in tray  # one school: no school filter
    assert "<th>School</th>" not in tray
    for case_id in cases["riverside"] | cases["hillside"]:
        assert trust.client.get(f"/cases/{case_id}").status_code == 403


def test_a_case_is_assigned_to_a_colleague_of_any_school_they_cover(trust):
    cases = cases_by_school(trust)
    sign_in(trust, "river-dsl")
    (river_case,) = cases["riverside"]
    page = trust.client.get(f"/cases/{river_case}").text
    assert "trust-dsl person" in page  # covers Riverside too: a colleague there
    assert "head person" not in page  # Oakfield only
    with trust.sessions() as s:
        trust_dsl = s.scalar(select(User.id).where(User.username == "trust-dsl"))
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    trust.client.post(
        f"/cases/{river_case}/assign", data={"csrf_token": csrf, "assignee": str(trust_dsl)}
    )
    with trust.sessions() as s:
        assert s.get(Case, river_case).assignee_id == trust_dsl  # type: ignore[union-attr]


def test_a_two_school_governor_sees_counts_of_both_and_no_name(trust):
    sign_in(trust, "two-governor")
    assert trust.client.get("/tray").status_code == 403
    for case_ids_ in cases_by_school(trust).values():
        for case_id in case_ids_:
            assert trust.client.get(f"/cases/{case_id}").status_code == 403
    for pupil_ids in pupils_by_school(trust).values():
        for pupil_id in pupil_ids:
            assert trust.client.get(f"/pupils/{pupil_id}").status_code == 403
    report = trust.client.get("/report?from=2026-10-01&to=2026-11-30").text
    assert "Oakfield Academy, Riverside Primary" in report
    csv = trust.client.get("/report.csv?from=2026-10-01&to=2026-11-30").text
    total = next(line for line in csv.splitlines() if ",By category,Total," in line).rsplit(",", 1)[
        1
    ]
    cases = cases_by_school(trust)
    assert total == str(len(cases["oakfield"]) + len(cases["riverside"]))
    for body in (report, csv):
        assert not names_in(body, [*NAMES, "Priya", "Stone"])


def test_schools_added_and_removed_are_recorded_with_who_and_when(trust):
    cases = cases_by_school(trust)
    with trust.sessions.begin() as s:
        admin.add_user_school(s, "dsl", "hillside", trust.clock(), by_name="cli:ops")
    sign_in(trust, "dsl")
    assert case_ids(trust.client.get("/tray").text) == cases["oakfield"] | cases["hillside"]
    trust.clock.advance(minutes=5)
    with trust.sessions.begin() as s:
        boss = s.scalar(select(User).where(User.username == "admin"))
        admin.remove_user_school(s, "dsl", "hillside", trust.clock(), by=boss)
    # Read per request: the open session loses the school at once.
    assert case_ids(trust.client.get("/tray").text) == cases["oakfield"]
    (hill_case,) = cases["hillside"]
    assert trust.client.get(f"/cases/{hill_case}").status_code == 403
    with trust.sessions() as s:
        dsl = s.scalar(select(User).where(User.username == "dsl"))
        assert dsl is not None
        changes = s.execute(
            select(
                School.slug,
                UserSchoolChange.change,
                UserSchoolChange.by_name,
                UserSchoolChange.by_user_id,
                UserSchoolChange.at,
            )
            .join(School, School.id == UserSchoolChange.school_id)
            .where(UserSchoolChange.user_id == dsl.id)
            .order_by(UserSchoolChange.id)
        ).all()
        boss_id = s.scalar(select(User.id).where(User.username == "admin"))
    start = changes[0].at
    assert [tuple(c)[:4] for c in changes] == [
        ("oakfield", "added", "unknown", None),
        ("hillside", "added", "cli:ops", None),
        ("hillside", "removed", "admin", boss_id),
    ]
    assert changes[2].at - start == changes[2].at - changes[1].at
    with trust.sessions.begin() as s, pytest.raises(admin.AdminError, match="only school"):
        admin.remove_user_school(s, "dsl", "oakfield", trust.clock(), by_name="cli:ops")
    with trust.sessions.begin() as s, pytest.raises(admin.AdminError, match="trust-wide"):
        admin.add_user_school(s, "admin", "oakfield", trust.clock(), by_name="cli:ops")
    with trust.sessions.begin() as s, pytest.raises(admin.AdminError, match="already covers"):
        admin.add_user_school(s, "dsl", "oakfield", trust.clock(), by_name="cli:ops")


def test_cli_adds_a_user_of_two_schools_and_changes_their_schools(tmp_path):
    db = f"sqlite:///{tmp_path / 'central.db'}"

    def run(*args: str, **env: str):
        return CliRunner().invoke(main, ["--database", db, *args], env=env or None)

    assert run("db", "upgrade").exit_code == 0
    for slug in ("oakfield", "riverside", "hillside"):
        assert run("school", "add", slug).exit_code == 0
    added = run(
        "user",
        "add",
        "dana",
        "--role",
        "dsl",
        "--school",
        "oakfield",
        "--school",
        "riverside",
        KIOSK_CENTRAL_PASSWORD="a long passphrase here",
    )
    assert added.exit_code == 0, added.output
    assert "for oakfield, riverside" in added.output
    assert run("user", "add-school", "dana", "hillside").exit_code == 0
    assert run("user", "remove-school", "dana", "oakfield").exit_code == 0
    again = run("user", "remove-school", "dana", "oakfield")
    assert again.exit_code != 0 and "does not cover oakfield" in again.output
    nobody = run("user", "add-school", "nobody", "oakfield")
    assert nobody.exit_code != 0 and "no user 'nobody'" in nobody.output
    admin_with_school = run(
        "user",
        "add",
        "ops",
        "--role",
        "trust_admin",
        "--school",
        "oakfield",
        KIOSK_CENTRAL_PASSWORD="a long passphrase here",
    )
    assert admin_with_school.exit_code != 0 and "trust-wide" in admin_with_school.output
    engine = make_engine(db)
    with make_sessions(engine)() as s:
        held = set(
            s.scalars(select(School.slug).join(UserSchool, UserSchool.school_id == School.id))
        )
        record = s.execute(
            select(School.slug, UserSchoolChange.change, UserSchoolChange.by_name)
            .join(School, School.id == UserSchoolChange.school_id)
            .order_by(UserSchoolChange.id)
        ).all()
    engine.dispose()
    assert held == {"riverside", "hillside"}
    assert [(slug, change) for slug, change, _ in record] == [
        ("oakfield", "added"),
        ("riverside", "added"),
        ("hillside", "added"),
        ("oakfield", "removed"),
    ]
    assert all(by.startswith("cli:") for _, _, by in record)


def test_migration_moves_each_users_school_into_the_set(engine):
    """A database at c0005 with one-school users (and rows referring to them) reaches
    c0006 with the same scope, on SQLite (a table rebuild) and PostgreSQL (a column drop)."""
    from central.store import current_revision

    assert current_revision(engine) == "c0006"
    if engine.dialect.name == "sqlite":
        path = engine.url.database
        assert path
        old = make_engine(f"sqlite:///{path}.c0005")
    else:
        # The fixture's schema is at head: empty it and build it again up to c0005.
        with engine.begin() as conn:
            schema = conn.exec_driver_sql("SHOW search_path").scalar()
            assert schema and schema.startswith("central_test_")
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        old = engine
    try:
        upgrade(old, "c0005")
        with old.begin() as conn:
            conn.execute(text("INSERT INTO schools (slug, name) VALUES ('oak', 'Oak')"))
            school = conn.execute(text("SELECT id FROM schools")).scalar_one()
            conn.execute(
                text(
                    "INSERT INTO users (username, display_name, role, school_id, password_hash,"
                    " created_at) VALUES ('d', 'D', 'dsl', :school, 'x', :at),"
                    " ('a', 'A', 'trust_admin', NULL, 'x', :at)"
                ),
                {"school": school, "at": "2026-11-01 00:00:00"},
            )
            dsl = conn.execute(text("SELECT id FROM users WHERE username = 'd'")).scalar_one()
            conn.execute(
                text(
                    "INSERT INTO web_sessions (token_hash, user_id, csrf_token, created_at,"
                    " expires_at) VALUES ('t', :dsl, 'c', :at, :until)"
                ),
                {"dsl": dsl, "at": "2026-11-01 00:00:00", "until": "2026-11-01 08:00:00"},
            )
        upgrade(old)
        assert current_revision(old) == "c0006"
        with make_sessions(old)() as s:
            rows = [(r.user_id, r.school_id) for r in s.scalars(select(UserSchool))]
            assert rows == [(dsl, school)]
            (change,) = s.scalars(select(UserSchoolChange))
            assert (change.user_id, change.change, change.by_name) == (
                dsl,
                "added",
                "migration c0006",
            )
            assert s.scalar(text("SELECT count(*) FROM web_sessions")) == 1
    finally:
        if old is not engine:
            old.dispose()
