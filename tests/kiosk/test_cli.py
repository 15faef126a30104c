"""The ``kiosk`` command end to end on a demo folder (click's CliRunner, real SQLite)."""

from __future__ import annotations

import json
import shutil
import sqlite3

import pytest
from click.testing import CliRunner

from kiosk.cli import main
from kiosk.demo import DEMO_BADGES

OFFICE = DEMO_BADGES["office"]
SENIOR = DEMO_BADGES["senior"]
TEACHER = DEMO_BADGES["teacher"]


@pytest.fixture
def demo_dir(tmp_path, demo_template):
    target = tmp_path / "d"
    shutil.copytree(demo_template, target)
    return target


def run(*args, env=None, pin=None):
    return CliRunner().invoke(
        main,
        [str(a) for a in args],
        env=env,
        catch_exceptions=False,
        input=None if pin is None else f"{pin}\n",
    )


def as_staff(who, *args, env=None):
    """Run a signed-in command: ``--badge`` on the line, the PIN on standard input."""
    badge, pin = who
    return run(*args, "--badge", badge, env=env, pin=pin)


def test_help_everywhere():
    for cmd in (
        [],
        ["db"],
        ["import"],
        ["holdings"],
        ["audit", "verify"],
        ["purge"],
        ["policy", "show"],
        ["policy", "check"],
        ["demo"],
        ["run"],
    ):
        result = run(*cmd, "--help")
        assert result.exit_code == 0, (cmd, result.output)
        assert "Usage:" in result.output


def test_demo_seed_only_then_commands(tmp_path):
    target = tmp_path / "fresh"
    result = run("demo", "--seed-only", "--dir", target)
    assert result.exit_code == 0, result.output
    assert "AB000001/3917" in result.output
    cfg = target / "kiosk.toml"
    assert f"holdings --badge {OFFICE[0]}" in result.output
    listing = as_staff(OFFICE, "--config", cfg, "holdings")
    assert "Ben Hughes" in listing.output and "safeguarding_hold" in listing.output
    out = as_staff(OFFICE, "--config", cfg, "holdings", "--json").output
    data = json.loads(out[out.index("[") :])
    assert {h["state"] for h in data} == {"held", "safeguarding_hold"}
    assert run("--config", cfg, "audit", "verify").exit_code == 0
    again = run("demo", "--seed-only", "--dir", target)
    assert again.exit_code == 2 and "already holds" in again.output


def test_config_from_environment(demo_dir):
    result = as_staff(OFFICE, "holdings", env={"KIOSK_CONFIG": str(demo_dir / "kiosk.toml")})
    assert "Chloe Evans" in result.output


def test_audit_verify_names_the_tampered_event(demo_dir):
    con = sqlite3.connect(demo_dir / "kiosk.db")
    con.execute('UPDATE events SET payload = \'{"why": "edited"}\' WHERE id = 9')
    con.commit()
    con.close()
    result = run("--config", demo_dir / "kiosk.toml", "audit", "verify")
    assert result.exit_code == 1
    assert "event id 9" in result.output


def test_bad_import_exits_2_and_imports_nothing(demo_dir, tmp_path):
    bad = tmp_path / "p.csv"
    bad.write_text("UPN,Forename,Surname,Year\nZ1,Zed,Zee,9\nZ2,,Why,9\n")
    cfg = demo_dir / "kiosk.toml"
    result = as_staff(SENIOR, "--config", cfg, "import", "pupils", bad)
    assert result.exit_code == 2
    assert "line 3, column 'Forename'" in result.output
    con = sqlite3.connect(demo_dir / "kiosk.db")
    assert con.execute("SELECT count(*) FROM pupils WHERE mis_id = 'Z1'").fetchone() == (0,)


def test_good_import(demo_dir, tmp_path):
    good = tmp_path / "p.csv"
    good.write_text("UPN,Forename,Surname,Year\nZ1,Zed,Zee,9\n")
    result = as_staff(SENIOR, "--config", demo_dir / "kiosk.toml", "import", "pupils", good)
    assert result.exit_code == 0 and "1 added" in result.output


def test_policy_check_names_file_line_and_key(tmp_path):
    from policies import PROFILE_DIR

    text = (PROFILE_DIR / "default.toml").read_text()
    broken = text.replace("earliest_time =", "earlist_time =")
    path = tmp_path / "school.toml"
    path.write_text(broken)
    line = (
        broken.splitlines().index(
            next(x for x in broken.splitlines() if x.startswith("earlist_time"))
        )
        + 1
    )
    result = run("policy", "check", path)
    assert result.exit_code == 2
    assert f"line {line}" in result.output and "earlist_time" in result.output
    assert run("policy", "check", "default").exit_code == 0


def test_policy_show_cites_seeds():
    out = run("policy", "show", "ken-stimpson").output
    assert "003_6ace46d4db1ee7ea.txt §7.2" in out


def test_bad_config_names_key(tmp_path):
    cfg = tmp_path / "k.toml"
    cfg.write_text('[station]\nid = "x"\ntimezone = "Mars/Olympus"\n[auth]\nmax_pins = 3\n')
    result = run("--config", cfg, "holdings")
    assert result.exit_code == 2
    assert "station.timezone" in result.output and "auth.max_pins" in result.output


def test_db_upgrade_from_empty_and_status(tmp_path):
    cfg = tmp_path / "k.toml"
    cfg.write_text('[station]\ndata_dir = "data"\n')
    assert run("--config", cfg, "db", "status").exit_code == 1
    up = run("--config", cfg, "db", "upgrade")
    assert up.exit_code == 0 and "empty ->" in up.output
    assert "lockers: 12 added" in up.output
    assert run("--config", cfg, "db", "status").exit_code == 0
    assert (tmp_path / "data" / "kiosk.db").exists()


def test_commands_refuse_an_unmigrated_database(tmp_path):
    cfg = tmp_path / "k.toml"
    cfg.write_text('[station]\ndata_dir = "data"\n')
    result = run("--config", cfg, "holdings")
    assert result.exit_code == 2 and "kiosk db upgrade" in result.output


def test_purge_dry_run_changes_nothing(demo_dir):
    cfg = demo_dir / "kiosk.toml"
    result = as_staff(SENIOR, "--config", cfg, "purge", "--dry-run")
    assert result.exit_code == 0 and "would delete" in result.output


def test_exam_cabinet_must_be_a_configured_door(tmp_path):
    cfg = tmp_path / "k.toml"
    cfg.write_text("[lockers]\nexam_cabinets = { Z9 = 30 }\n")
    result = run("--config", cfg, "holdings")
    assert result.exit_code == 2 and "'Z9' is not a configured door" in result.output


def test_removed_doors_go_out_of_service_on_upgrade(tmp_path):
    cfg = tmp_path / "k.toml"
    cfg.write_text('[station]\ndata_dir = "d"\n')
    run("--config", cfg, "db", "upgrade")
    small = (
        '[station]\ndata_dir = "d"\n[lockers]\nexam_cabinets = {}\n'
        '[[hardware.banks]]\nkind = "gpio"\nname = "A"\n'
        "locks = [{ number = 1, lock_pin = 5, door_pin = 17 }]\n"
    )
    cfg.write_text(small)
    out = run("--config", cfg, "db", "upgrade").output
    assert "0 added, 11 out of service, 0 capacity changed" in out


def test_example_config_in_docs_is_valid():
    from pathlib import Path

    from kiosk.config import load_config

    cfg = load_config(Path(__file__).parents[2] / "docs" / "kiosk.example.toml")
    assert cfg.station.id == "office-1"
    assert [b.name for b in cfg.hardware.banks] == ["A", "B"]
    assert cfg.lockers.exam_cabinets == {"B4": 30}


# ----------------------------------------------------------------------------- sign-in
def _events(demo_dir, type_):
    con = sqlite3.connect(demo_dir / "kiosk.db")
    try:
        return con.execute(
            "SELECT actor_id, payload FROM events WHERE type = ? ORDER BY id", (type_,)
        ).fetchall()
    finally:
        con.close()


def _staff_id(demo_dir, badge):
    con = sqlite3.connect(demo_dir / "kiosk.db")
    try:
        return con.execute("SELECT id FROM staff WHERE badge_uid = ?", (badge,)).fetchone()[0]
    finally:
        con.close()


@pytest.mark.parametrize(
    "command",
    [
        ["holdings"],
        ["holdings", "--all", "--json"],
        ["purge", "--dry-run"],
        ["purge"],
        ["audit", "baseline"],
        ["import", "pupils", "{csv}"],
        ["import", "contacts", "{csv}"],
        ["import", "staff", "{csv}"],
        ["import", "exams", "{csv}"],
        ["subject", "export", "--pupil", "X1"],
        ["subject", "erase", "--pupil", "X1", "--reason", "Art. 17"],
        ["hw", "test", "--simulate"],
    ],
    ids=lambda c: " ".join(c[:2]),
)
def test_commands_with_pupil_data_or_changes_need_a_badge(demo_dir, tmp_path, command):
    csv = tmp_path / "x.csv"
    csv.write_text("a,b\n1,2\n")
    argv = [str(csv) if a == "{csv}" else a for a in command]
    events_before = len(_events(demo_dir, "retention.purged"))
    result = run("--config", demo_dir / "kiosk.toml", *argv)
    assert result.exit_code == 2, result.output
    assert "needs a member of staff's sign-in: add --badge UID" in result.output
    assert "Ben Hughes" not in result.output
    assert len(_events(demo_dir, "retention.purged")) == events_before


def test_help_config_policy_and_signage_need_no_sign_in(demo_dir, tmp_path):
    cfg = demo_dir / "kiosk.toml"
    for argv in (["--help"], ["policy", "show"], ["policy", "roles"], ["hw", "list"]):
        assert run("--config", cfg, *argv).exit_code == 0, argv
    assert run("--config", cfg, "audit", "verify").exit_code == 0  # no names, changes nothing


def test_unknown_badge_and_wrong_pin_get_the_same_words_and_count(demo_dir):
    cfg = demo_dir / "kiosk.toml"
    wrong = run("--config", cfg, "holdings", "--badge", OFFICE[0], pin="000000")
    unknown = run("--config", cfg, "holdings", "--badge", "FFFF0001", pin=OFFICE[1])
    assert wrong.exit_code == unknown.exit_code == 2
    words = "Wrong PIN, or this badge is not registered."
    assert words in wrong.output and words in unknown.output
    assert "Ben Hughes" not in wrong.output + unknown.output
    office = _staff_id(demo_dir, OFFICE[0])
    assert [a for a, _p in _events(demo_dir, "auth.failed")] == [office]
    assert len(_events(demo_dir, "auth.unknown_badge")) == 1
    # The same lockout as at the kiosk: the fifth wrong PIN locks the badge.
    for _ in range(4):
        last = run("--config", cfg, "holdings", "--badge", OFFICE[0], pin="000000")
    assert "Locked" in last.output
    locked = as_staff(OFFICE, "--config", cfg, "holdings")  # even the right PIN now
    assert locked.exit_code == 2 and "Locked" in locked.output


def test_a_role_without_the_permission_is_refused_and_recorded(demo_dir):
    cfg = demo_dir / "kiosk.toml"
    tech = DEMO_BADGES["technician"]
    result = as_staff(tech, "--config", cfg, "holdings")
    assert result.exit_code == 2 and "may not view holdings" in result.output
    assert "Ben Hughes" not in result.output
    tech_id = _staff_id(demo_dir, tech[0])
    refused = _events(demo_dir, "auth.not_permitted")
    assert [(a, json.loads(p)["permission"]) for a, p in refused] == [(tech_id, "view_holdings")]
    # Signed in, then signed out again at once.
    assert any(a == tech_id for a, _p in _events(demo_dir, "auth.signed_out"))
    office = as_staff(OFFICE, "--config", cfg, "purge", "--dry-run")
    assert office.exit_code == 2 and "may not purge" in office.output


def test_import_records_the_signed_in_person_and_checks_the_kind(demo_dir, tmp_path):
    cfg = demo_dir / "kiosk.toml"
    good = tmp_path / "p.csv"
    good.write_text("UPN,Forename,Surname,Year\nZ1,Zed,Zee,9\n")
    teacher = as_staff(TEACHER, "--config", cfg, "import", "pupils", good)
    assert teacher.exit_code == 2 and "may not import data" in teacher.output
    ok = as_staff(SENIOR, "--config", cfg, "import", "pupils", good)
    assert ok.exit_code == 0, ok.output
    (actor, _payload), *_ = _events(demo_dir, "import.pupils")[-1:]
    assert actor == _staff_id(demo_dir, SENIOR[0])
    staff_csv = tmp_path / "s.csv"
    staff_csv.write_text("Staff Code,Name,Roles,Badge UID\nZZ9,Eve Intruder,senior;dsl,CAFE0001\n")
    office = as_staff(OFFICE, "--config", cfg, "import", "staff", staff_csv)
    assert office.exit_code == 2 and "may not import staff" in office.output
    con = sqlite3.connect(demo_dir / "kiosk.db")
    assert con.execute("SELECT count(*) FROM staff WHERE staff_code = 'ZZ9'").fetchone() == (0,)
    con.close()


def test_audit_baseline_names_the_senior(demo_dir):
    cfg = demo_dir / "kiosk.toml"
    assert as_staff(OFFICE, "--config", cfg, "audit", "baseline").exit_code == 2
    result = as_staff(SENIOR, "--config", cfg, "audit", "baseline")
    assert result.exit_code == 0, result.output
    ((actor, _p),) = _events(demo_dir, "audit.baseline")
    assert actor == _staff_id(demo_dir, SENIOR[0])


def test_purge_by_a_senior_and_by_the_timer_records_who(demo_dir, monkeypatch):
    cfg = demo_dir / "kiosk.toml"
    result = as_staff(SENIOR, "--config", cfg, "purge")
    assert result.exit_code == 0, result.output
    senior = _staff_id(demo_dir, SENIOR[0])
    assert [a for a, _p in _events(demo_dir, "retention.purged")] == [senior]
    cfg.chmod(0o444)  # as installed: the timer's user cannot change the config
    timer = run("--config", cfg, "purge", "--system")
    assert timer.exit_code == 0, timer.output
    assert [a for a, _p in _events(demo_dir, "retention.purged")] == [senior, 0]  # 0: system
    both = as_staff(SENIOR, "--config", cfg, "purge", "--system")
    assert both.exit_code == 2 and "not both" in both.output
    # A person at a terminal cannot pass for the timer.
    monkeypatch.setattr("kiosk.cli.interactive", lambda: True)
    person = run("--config", cfg, "purge", "--system")
    assert person.exit_code == 2 and "sign in with --badge" in person.output
    assert len(_events(demo_dir, "retention.purged")) == 2


def test_the_system_actor_can_do_nothing_but_purge():
    from kiosk.auth import NotPermitted, authorise, system_identity
    from kiosk.permissions import Permission

    system = system_identity()
    for permission in Permission:
        if permission is Permission.PURGE:
            assert authorise(None, system, permission) is None  # type: ignore[arg-type]
            continue
        with pytest.raises(NotPermitted):
            authorise(None, system, permission)  # type: ignore[arg-type]


def test_first_staff_import_of_a_new_school_needs_nobody_then_a_senior(tmp_path):
    cfg = tmp_path / "k.toml"
    cfg.write_text('[station]\ndata_dir = "data"\n')
    assert run("--config", cfg, "db", "upgrade").exit_code == 0
    staff_csv = tmp_path / "s.csv"
    staff_csv.write_text("Staff Code,Name,Roles,Badge UID\nH1,Head Teacher,senior,CAFE0002\n")
    first = run("--config", cfg, "import", "staff", staff_csv)
    assert first.exit_code == 0, first.output
    line = next(ln for ln in first.output.splitlines() if "first sign-in code" in ln)
    assert "Head Teacher" in line and "CAFE0002" in line
    code = line.rsplit(": ", 1)[1]
    again = run("--config", cfg, "import", "staff", staff_csv)
    assert again.exit_code == 2 and "needs a member of staff's sign-in" in again.output
    # The code signs the head in once, to choose a PIN: not a way round the PIN.
    with_code = run("--config", cfg, "import", "staff", staff_csv, "--badge", "CAFE0002", pin=code)
    assert with_code.exit_code == 2 and "PIN must be chosen" in with_code.output


def test_purge_system_refuses_a_config_or_profile_the_caller_could_have_written(demo_dir, tmp_path):
    from policies import PROFILE_DIR

    cfg = demo_dir / "kiosk.toml"
    cfg.chmod(0o666)
    writable = run("--config", cfg, "purge", "--system")
    assert writable.exit_code == 2 and "refuses the config file" in writable.output
    # A home-made profile with short retention periods (issue 9): refused for the timer.
    own = tmp_path / "quick.toml"
    own.write_text((PROFILE_DIR / "default.toml").read_text())
    own.chmod(0o666)
    cfg.write_text(cfg.read_text().replace('profile = "default"', f'profile = "{own}"'))
    cfg.chmod(0o444)
    homemade = run("--config", cfg, "purge", "--system")
    assert homemade.exit_code == 2 and "refuses the profile file" in homemade.output
    assert _events(demo_dir, "retention.purged") == []


def test_the_unknown_badge_dummy_hash_is_made_before_the_pin_is_read(demo_dir, monkeypatch):
    """Each command is a new process: without this an unknown badge answers one Argon2 hash
    slower than a wrong PIN (bench/cli_sign_in.py measured 1.21x before, 0.97x after)."""
    import kiosk.cli_auth
    from kiosk.auth import AuthService

    order: list[str] = []
    real_dummy, real_read = AuthService.dummy_hash, kiosk.cli_auth.read_pin

    def dummy(self):
        order.append("dummy hash")
        return real_dummy(self)

    def read():
        order.append("PIN read")
        return real_read()

    monkeypatch.setattr(AuthService, "dummy_hash", dummy)
    monkeypatch.setattr(kiosk.cli_auth, "read_pin", read)
    result = run("--config", demo_dir / "kiosk.toml", "holdings", "--badge", "FFFF0002", pin="1")
    assert result.exit_code == 2
    assert order[:2] == ["dummy hash", "PIN read"]
