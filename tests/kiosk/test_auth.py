"""Badge + PIN sign-in, lockout, and the permission matrix."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from db.engine import make_engine, make_session_factory
from db.migrate import upgrade
from db.models import Event, Staff
from kiosk.auth import AuthError, Identity, LockoutPolicy, NotPermitted, hash_pin, sign_in
from kiosk.permissions import MATRIX, Permission, Role, permissions_for

NOW = datetime(2026, 11, 3, 9, tzinfo=UTC)


@pytest.fixture
def sessions(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'k.db'}")
    upgrade(engine)
    factory = make_session_factory(engine)
    with factory.begin() as s:
        s.add(
            Staff(
                staff_code="A",
                name="Ann",
                roles=["office"],
                badge_uid="AB000001",
                pin_hash=hash_pin("1234"),
            )
        )
    yield factory
    engine.dispose()


def _try(sessions, pin, now=NOW, badge="ab000001"):
    with sessions.begin() as s:
        try:
            return sign_in(
                s,
                badge_uid=badge,
                pin=pin,
                now=now,
                station_id="t",
                policy=LockoutPolicy(max_failures=3, lockout=timedelta(minutes=10)),
            )
        except AuthError as exc:
            return exc


def test_right_pin_signs_in_with_roles(sessions):
    who = _try(sessions, "1234")
    assert isinstance(who, Identity) and who.roles == ("office",)


def test_pin_is_stored_as_argon2id_not_plain(sessions):
    with sessions() as s:
        h = s.scalars(select(Staff.pin_hash)).one()
    assert h.startswith("$argon2id$") and "1234" not in h


def test_unknown_badge_refused(sessions):
    assert "not registered" in str(_try(sessions, "1234", badge="FFFFFFFF"))


def test_lockout_after_repeated_failures_even_with_right_pin(sessions):
    assert "2 attempt" in str(_try(sessions, "0000"))
    assert "1 attempt" in str(_try(sessions, "0000"))
    assert "Locked" in str(_try(sessions, "0000"))
    assert "Locked" in str(_try(sessions, "1234", now=NOW + timedelta(minutes=5)))
    assert isinstance(_try(sessions, "1234", now=NOW + timedelta(minutes=11)), Identity)
    with sessions() as s:
        types = [e.type for e in s.scalars(select(Event).order_by(Event.id))]
    assert types.count("auth.failed") == 2 and "auth.locked_out" in types
    assert types[-1] == "auth.signed_in"


def test_success_resets_the_failure_count(sessions):
    _try(sessions, "0000")
    _try(sessions, "0000")
    assert isinstance(_try(sessions, "1234"), Identity)
    assert "2 attempt" in str(_try(sessions, "0000"))


@pytest.mark.parametrize("bad", ["12", "abcd", "123456789"])
def test_pin_format(bad):
    with pytest.raises(ValueError):
        hash_pin(bad)


EXPECTED = {
    # permission: roles that have it
    Permission.VIEW_HOLDINGS: {"office", "teacher", "dsl", "senior", "exams"},
    Permission.CONFISCATE: {"office", "teacher", "dsl", "senior"},
    Permission.RELEASE: {"office", "dsl", "senior"},
    Permission.SAFEGUARDING_HOLD: {"dsl", "senior"},
    Permission.POLICE_HANDOVER: {"dsl", "senior"},
    Permission.AUTHORISE_SEARCH: {"senior"},
    Permission.OVERRIDE: {"senior"},
    Permission.EXAM_SESSION: {"exams", "senior"},
    Permission.EXAM_DEPOSIT: {"exams"},
    Permission.HARDWARE: {"technician"},
}


@pytest.mark.parametrize("permission", list(EXPECTED))
def test_permission_matrix(permission):
    holders = {r.value for r, perms in MATRIX.items() if permission in perms}
    assert holders == EXPECTED[permission]


def test_technician_sees_no_pupil_data():
    assert permissions_for(["technician"]) == {Permission.HARDWARE}
    tech = Identity(1, "Tech", ("technician",))
    with pytest.raises(NotPermitted):
        tech.require(Permission.VIEW_HOLDINGS)


def test_roles_union_and_unknown_roles_grant_nothing():
    assert permissions_for(["teacher", "exams"]) == MATRIX[Role.TEACHER] | MATRIX[Role.EXAMS]
    assert permissions_for(["janitor"]) == frozenset()
