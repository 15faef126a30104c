"""``kiosk-central``: the admin commands, their one-time secrets and their error messages."""

from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import select

from central.cli import main
from central.credentials import token_hash
from central.models import Station, User
from central.store import make_engine, make_sessions


def run(db: str, *args: str, **env: str):
    return CliRunner().invoke(main, ["--database", db, *args], env=env or None)


def test_admin_commands(tmp_path):
    db = f"sqlite:///{tmp_path / 'central.db'}"
    refused = run(db, "school", "add", "oakfield")
    assert refused.exit_code != 0 and "kiosk-central db upgrade" in refused.output
    assert run(db, "db", "upgrade").exit_code == 0
    assert run(db, "school", "add", "oakfield", "--name", "Oakfield Academy").exit_code == 0

    added = run(db, "station", "add", "oak-1", "--school", "oakfield")
    assert added.exit_code == 0, added.output
    token = added.output.strip().splitlines()[-1]
    assert token.startswith("kcs_") and len(token) > 40
    engine = make_engine(db)
    with make_sessions(engine)() as s:
        station = s.scalars(select(Station)).one()
    # Stored hashed only: the credential itself is nowhere in the database.
    assert station.token_hash == token_hash(token)
    assert token.encode() not in (tmp_path / "central.db").read_bytes()

    unknown = run(db, "station", "add", "oak-2", "--school", "nowhere")
    assert unknown.exit_code != 0 and "no school 'nowhere' (known: oakfield)" in unknown.output
    assert run(db, "station", "revoke", "oak-1").exit_code == 0

    dsl = run(
        db,
        "user",
        "add",
        "dana",
        "--role",
        "dsl",
        "--school",
        "oakfield",
        KIOSK_CENTRAL_PASSWORD="a long passphrase here",
    )
    assert dsl.exit_code == 0, dsl.output
    assert "otpauth://totp/" in dsl.output
    governor = run(
        db,
        "user",
        "add",
        "gov",
        "--role",
        "governor",
        "--school",
        "oakfield",
        KIOSK_CENTRAL_PASSWORD="a long passphrase here",
    )
    assert governor.exit_code == 0 and "otpauth" not in governor.output
    short = run(db, "user", "add", "x", "--role", "trust_admin", KIOSK_CENTRAL_PASSWORD="short")
    assert short.exit_code != 0 and "at least 12 characters" in short.output
    with make_sessions(engine)() as s:
        users = {u.username: u for u in s.scalars(select(User))}
    assert users["dana"].password_hash.startswith("$argon2")
    assert users["dana"].totp_secret and users["gov"].totp_secret is None
    engine.dispose()


def test_demo_loads_records_for_the_pages(tmp_path):
    db = f"sqlite:///{tmp_path / 'demo.db'}"
    res = run(db, "demo", "--no-serve")
    assert res.exit_code == 0, res.output
    assert "station oak-office" in res.output
    again = run(db, "demo", "--no-serve")
    assert "already loaded" in again.output
