"""The trust admin's forms (``/admin``): stations added and revoked, users added with a
role and schools, schools added and removed; CSRF-protected, no pupil data, the same
functions as ``kiosk-central``, and each secret shown once."""

from __future__ import annotations

import re

import pyotp
import pytest
from central_helpers import add_users, csrf_of, names_in, sign_in, sync_sample
from sqlalchemy import select

from central.credentials import token_hash
from central.models import School, Station, User, UserSchool, UserSchoolChange

PASSWORD = "another long passphrase"


@pytest.fixture
def admin_site(central):
    add_users(central)
    sync_sample(central)
    assert sign_in(central, "admin").status_code == 303
    return central


def post(site, url: str, **data):
    csrf = csrf_of(site.client.get("/admin").text)
    return site.client.post(url, data={"csrf_token": csrf, **data}, follow_redirects=False)


def test_station_added_with_its_credential_shown_once_then_revoked(admin_site):
    site = admin_site
    added = post(site, "/admin/stations", station_id="oak-3", school="oakfield")
    assert added.status_code == 200
    token = re.search(r"kcs_[A-Za-z0-9_-]+", added.text).group(0)  # type: ignore[union-attr]
    assert added.headers["cache-control"] == "no-store"
    with site.sessions() as s:
        station = s.scalar(select(Station).where(Station.station_id == "oak-3"))
        assert station is not None and station.token_hash == token_hash(token)
    assert token not in site.client.get("/admin").text  # once: not on the next page
    # The credential works at once: the station can send.
    res = site.client.post(
        "/api/v1/stations/oak-3/events",
        json={"version": 1, "station_id": "oak-3", "events": []},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert res.status_code != 401
    assert post(site, "/admin/stations/oak-3/revoke").status_code == 303
    with site.sessions() as s:
        assert s.scalar(select(Station.revoked_at).where(Station.station_id == "oak-3"))
    refused = post(site, "/admin/stations", station_id="oak-3", school="oakfield")
    assert refused.status_code == 400 and "already exists" in refused.text


def test_user_added_with_two_schools_then_a_school_removed(admin_site):
    site = admin_site
    added = site.client.post(
        "/admin/users",
        data={
            "csrf_token": csrf_of(site.client.get("/admin").text),
            "username": "dsl2",
            "display_name": "Two Schools",
            "role": "dsl",
            "password": PASSWORD,
            "schools": ["oakfield", "riverside"],
        },
    )
    assert added.status_code == 200, added.text
    assert "otpauth://totp/" in added.text
    with site.sessions() as s:
        user = s.scalar(select(User).where(User.username == "dsl2"))
        assert user is not None
        held = set(
            s.scalars(
                select(School.slug)
                .join(UserSchool, UserSchool.school_id == School.id)
                .where(UserSchool.user_id == user.id)
            )
        )
        boss = s.scalar(select(User.id).where(User.username == "admin"))
    assert held == {"oakfield", "riverside"}
    assert (
        post(site, "/admin/users/dsl2/schools", school="oakfield", change="remove").status_code
        == 303
    )
    last = post(site, "/admin/users/dsl2/schools", school="riverside", change="remove")
    assert last.status_code == 400 and "only school" in last.text
    with site.sessions() as s:
        changes = s.execute(
            select(UserSchoolChange.change, UserSchoolChange.by_user_id, UserSchoolChange.by_name)
            .where(UserSchoolChange.user_id == user.id)
            .order_by(UserSchoolChange.id)
        ).all()
    assert [tuple(c) for c in changes] == [
        ("added", boss, "admin"),
        ("added", boss, "admin"),
        ("removed", boss, "admin"),
    ]
    # The new DSL signs in with the shown secret and sees Riverside only.
    secret = re.search(r"secret=([A-Z2-7]+)", added.text).group(1)  # type: ignore[union-attr]
    site.client.cookies.clear()
    form = site.client.get("/login")
    signed = site.client.post(
        "/login",
        data={
            "username": "dsl2",
            "password": PASSWORD,
            "code": pyotp.TOTP(secret).at(site.clock()),
            "csrf_token": csrf_of(form.text),
        },
        follow_redirects=False,
    )
    assert signed.status_code == 303
    tray = site.client.get("/tray").text
    assert "Zainab Quist" in tray and "Amara Okafor" not in tray


def test_bad_requests_say_what_to_do_and_change_nothing(admin_site):
    site = admin_site
    short = post(
        site, "/admin/users", username="x", role="dsl", password="short", schools="oakfield"
    )
    assert short.status_code == 400 and "at least 12 characters" in short.text
    no_school = post(site, "/admin/users", username="x", role="dsl", password=PASSWORD)
    assert no_school.status_code == 400 and "belongs to a school" in no_school.text
    with site.sessions() as s:
        assert s.scalar(select(User).where(User.username == "x")) is None


def test_admin_forms_need_the_csrf_token_and_the_role(admin_site):
    site = admin_site
    for url, data in [
        ("/admin/stations", {"station_id": "oak-9", "school": "oakfield"}),
        ("/admin/stations/oak-1/revoke", {}),
        ("/admin/users", {"username": "y", "role": "governor", "password": PASSWORD}),
        ("/admin/users/dsl/schools", {"school": "riverside", "change": "add"}),
    ]:
        assert site.client.post(url, data={"csrf_token": "wrong", **data}).status_code == 403
    with site.sessions() as s:
        assert s.scalar(select(Station).where(Station.station_id == "oak-9")) is None
        assert s.scalar(select(Station.revoked_at).where(Station.station_id == "oak-1")) is None
    site.client.cookies.clear()
    sign_in(site, "dsl")
    csrf = csrf_of(site.client.get("/tray").text)
    refused = site.client.post(
        "/admin/stations", data={"csrf_token": csrf, "station_id": "oak-9", "school": "oakfield"}
    )
    assert refused.status_code == 403


def test_admin_pages_carry_no_pupil_data(admin_site):
    site = admin_site
    pages = [
        site.client.get("/admin").text,
        post(site, "/admin/stations", station_id="oak-4", school="oakfield").text,
        post(
            site,
            "/admin/users",
            username="g2",
            role="governor",
            password=PASSWORD,
            schools="riverside",
        ).text,
    ]
    for page in pages:
        assert not names_in(page)
