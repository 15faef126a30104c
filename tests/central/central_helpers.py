"""Helpers of the central log's tests: a hand-moved clock, signing in through the real
form (CSRF cookie, password, TOTP), a recorded batch.

Named ``central_helpers`` (not ``helpers``): the test folders are not packages, so module
names must be unique across them."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pyotp
from fastapi.testclient import TestClient

from central import admin
from central.sample import SampleStation


class Clock:
    """A clock the test moves by hand (never wall time)."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 9, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
PASSWORD = "a long test passphrase"
NAMES = ["Amara", "Okafor", "Ben", "Hughes", "Zainab", "Quist"]


def names_in(text: str, names: list[str] = NAMES) -> list[str]:
    """The names that appear in ``text`` as words. A bare substring check failed one run in
    about twenty: every page carries the session's random CSRF token (base64url), and one
    token held "Ben". A name inside a run of token characters is not a name shown."""
    token = "A-Za-z0-9_-"
    return [n for n in names if re.search(rf"(?<![{token}]){re.escape(n)}(?![{token}])", text)]


def add_users(central: Any) -> None:
    with central.sessions.begin() as s:
        for username, role, school in [
            ("dsl", "dsl", "oakfield"),
            ("head", "senior_leader", "oakfield"),
            ("river-dsl", "dsl", "riverside"),
            ("admin", "trust_admin", None),
            ("governor", "governor", "oakfield"),
        ]:
            admin.add_user(
                s,
                username=username,
                display_name=f"{username} person",
                role=role,
                password=PASSWORD,
                school_slug=school,
                now=central.clock(),
                totp_secret=SECRET,
            )


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def sign_in(central: Any, username: str, code: str | None = None, password: str = PASSWORD):
    client: TestClient = central.client
    form = client.get("/login")
    if code is None:
        code = pyotp.TOTP(SECRET).at(central.clock())
    return client.post(
        "/login",
        data={
            "username": username,
            "password": password,
            "code": code,
            "csrf_token": csrf_of(form.text),
        },
        follow_redirects=False,
    )


def sync_sample(central: Any) -> SampleStation:
    """A recorded batch from oak-1: two pupils, incidents, a hold and a police hand-over."""
    st = SampleStation("oak-1")
    st.pupil(11, "MIS-0011", "Amara", "Okafor", "9")
    st.pupil(12, "MIS-0012", "Ben", "Hughes", "10")
    st.append("station.started", actor_id=None)
    st.confiscate(100, 11, "filming")
    st.confiscate(101, 12)
    st.confiscate(102, 11, "suspected_indecent_images")
    st.append("holding.safeguarding_hold", holding_id=102, previous="held")
    st.append("holding.handed_to_police", holding_id=102, previous="safeguarding_hold")
    st.append("alarm.forced_open", actor_id=None, locker="A3")
    river = SampleStation("river-1")
    river.pupil(1, "RIV-1", "Zainab", "Quist", "5")
    river.confiscate(1, 1)
    for station in (st, river):
        res = central.client.post(
            f"/api/v1/stations/{station.station_id}/events",
            json=station.batch().model_dump(mode="json"),
            headers={"Authorization": f"Bearer {central.tokens[station.station_id]}"},
        )
        assert res.status_code == 200, res.text
    return st
