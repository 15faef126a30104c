"""The ``kiosk`` command end to end on a demo folder (click's CliRunner, real SQLite)."""

from __future__ import annotations

import json
import shutil
import sqlite3

import pytest
from click.testing import CliRunner

from kiosk.cli import main


@pytest.fixture
def demo_dir(tmp_path, demo_template):
    target = tmp_path / "d"
    shutil.copytree(demo_template, target)
    return target


def run(*args, env=None):
    return CliRunner().invoke(main, [str(a) for a in args], env=env, catch_exceptions=False)


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
    listing = run("--config", cfg, "holdings")
    assert "Ben Hughes" in listing.output and "safeguarding_hold" in listing.output
    data = json.loads(run("--config", cfg, "holdings", "--json").output)
    assert {h["state"] for h in data} == {"held", "safeguarding_hold"}
    assert run("--config", cfg, "audit", "verify").exit_code == 0
    again = run("demo", "--seed-only", "--dir", target)
    assert again.exit_code == 2 and "already holds" in again.output


def test_config_from_environment(demo_dir):
    result = run("holdings", env={"KIOSK_CONFIG": str(demo_dir / "kiosk.toml")})
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
    result = run("--config", cfg, "import", "pupils", bad)
    assert result.exit_code == 2
    assert "line 3, column 'Forename'" in result.output
    con = sqlite3.connect(demo_dir / "kiosk.db")
    assert con.execute("SELECT count(*) FROM pupils WHERE mis_id = 'Z1'").fetchone() == (0,)


def test_good_import(demo_dir, tmp_path):
    good = tmp_path / "p.csv"
    good.write_text("UPN,Forename,Surname,Year\nZ1,Zed,Zee,9\n")
    result = run("--config", demo_dir / "kiosk.toml", "import", "pupils", good)
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
    result = run("--config", cfg, "purge", "--dry-run")
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
