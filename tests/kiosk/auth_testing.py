"""Test helpers for sign-in: cheap Argon2 parameters and a real, minted sign-in.

Cheap parameters keep tests fast; they go through the same :class:`AuthSettings` a station
builds from its ``[auth]`` config, so nothing but the cost differs from production.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import select

from db.models import Staff
from kiosk.auth import Argon2Params, AuthService, AuthSettings, Identity

CHEAP = Argon2Params(memory_kib=8, time_cost=1, parallelism=1)
SETTINGS = AuthSettings(argon2=CHEAP)
#: A PIN that passes the rules for every role and every demo badge.
GOOD_PIN = "482915"


def auth_service(
    clock: Callable[[], datetime], station_id: str = "t", **settings: Any
) -> AuthService:
    return AuthService(replace(SETTINGS, **settings), station_id=station_id, clock=clock)


def sign_in_as(sessions: Any, auth: AuthService, staff_code: str, pin: str = GOOD_PIN) -> Identity:
    """Give ``staff_code`` a PIN (and a badge if none) and sign them in for real."""
    with sessions.begin() as s:
        staff = s.scalars(select(Staff).where(Staff.staff_code == staff_code)).one()
        if staff.badge_uid is None:
            staff.badge_uid = f"C0DE{staff.id:06X}"
        staff.pin_hash = auth.hasher.hash(pin)
        staff.pin_must_change = False
        badge = staff.badge_uid
    with sessions.begin() as s:
        return auth.sign_in(s, badge, pin)


def staff_identities(ctx: Any, key: Callable[[Staff], str] = lambda st: st.roles[0]) -> dict:
    """A real, minted sign-in for every active member of staff of an open context.

    Each signs in through the station's own :class:`AuthService` (``ctx.custody.auth``, built
    from the config) after :func:`sign_in_as` sets a known PIN. Keep the returned identities
    referenced: a dropped one is signed out.
    """
    with ctx.sessions() as s:
        rows = [
            (key(st), st.staff_code)
            for st in s.scalars(select(Staff).where(Staff.active).order_by(Staff.id))
        ]
    return {name: sign_in_as(ctx.sessions, ctx.custody.auth, code) for name, code in rows}
