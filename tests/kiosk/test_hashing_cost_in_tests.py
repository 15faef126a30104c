"""The suite's test-cost Argon2 (tests/conftest.py) changes the tests, never the station.

A station's :class:`AuthService` built from a config with no ``[auth]`` costs hashes at
OWASP's 7 MiB, 5 passes (docs/auth.md): checked here with the ``production_argon2`` fixture,
which undoes the test cost. Without it the same station hashes at the test cost, which is
what keeps the suite's sign-ins cheap.
"""

from __future__ import annotations

from kiosk.auth import AuthService, AuthSettings
from kiosk.config import parse_config


def _station_hash() -> str:
    settings = AuthSettings.from_config(parse_config({}).auth)
    return AuthService(settings, station_id="t").hasher.hash("482915")


def test_a_station_hashes_pins_at_the_production_cost(production_argon2: None) -> None:
    assert _station_hash().startswith("$argon2id$v=19$m=7168,t=5,p=1$")


def test_in_the_suite_the_same_station_hashes_at_the_test_cost() -> None:
    assert _station_hash().startswith("$argon2id$v=19$m=8,t=1,p=1$")
