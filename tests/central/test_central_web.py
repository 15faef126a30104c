"""The tray and the report through their pages: sign-in, casework, roles, suppression."""

from __future__ import annotations

import re

import pytest
from central_helpers import NAMES, add_users, csrf_of, names_in, sign_in, sync_sample
from sqlalchemy import func, select

from central.models import AccessLog, Case, CaseEntry, WebSession


@pytest.fixture
def site(central):
    add_users(central)
    sync_sample(central)
    return central


def get_routes(routes, prefix=""):
    """(path, methods) of every route, inside included routers too."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:  # FastAPI's included router
            yield from get_routes(inner.routes, prefix + route.include_context.prefix)
        elif hasattr(route, "methods") and route.methods:
            yield prefix + route.path, route.methods


def case_ids(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'href="/cases/(\d+)"', html)]


def test_dsl_needs_the_totp_code(site):
    assert sign_in(site, "dsl", code="000000").status_code == 401
    assert sign_in(site, "dsl", password="wrong password!").status_code == 401
    ok = sign_in(site, "dsl")
    assert ok.status_code == 303 and ok.headers["location"] == "/"
    assert "__Host-kc_session" in ok.headers["set-cookie"]
    assert "Secure" in ok.headers["set-cookie"] and "HttpOnly" in ok.headers["set-cookie"]
    tray = site.client.get("/tray")
    assert tray.status_code == 200
    assert "Amara Okafor" in tray.text and "Ben Hughes" in tray.text
    assert "Zainab" not in tray.text  # another school's pupil


def test_log_in_is_throttled_per_account(site):
    for _ in range(5):
        assert sign_in(site, "dsl", password="not the password").status_code == 401
    blocked = sign_in(site, "dsl")  # right details, but the account is throttled
    assert blocked.status_code == 429
    site.clock.advance(minutes=16)
    assert sign_in(site, "dsl").status_code == 303


def test_pages_need_a_session_and_posts_need_the_csrf_token(site):
    assert site.client.get("/tray", follow_redirects=False).headers["location"] == "/login"
    sign_in(site, "dsl")
    case = case_ids(site.client.get("/tray").text)[0]
    refused = site.client.post(f"/cases/{case}/note", data={"text": "x", "csrf_token": "nope"})
    assert refused.status_code == 403
    with site.sessions() as s:
        assert s.scalar(select(func.count()).select_from(CaseEntry)) == 0


def test_dsl_triages_a_case_and_every_change_is_an_entry(site):
    sign_in(site, "dsl")
    tray = site.client.get("/tray?category=police_handover")
    (case,) = case_ids(tray.text)
    page = site.client.get(f"/cases/{case}")
    assert page.status_code == 200
    # The chronology: everything about Amara across the station, in time order.
    assert "Chronology: Amara Okafor" in page.text
    chron = page.text.split('id="chronology"')[1]
    assert chron.index("Incident recorded: filming") < chron.index("Phone handed to police")
    csrf = csrf_of(page.text)
    head_id = re.search(r'<option value="(\d+)"[^>]*>head person', page.text)
    assert head_id
    for path, data in [
        ("triage", {}),
        ("note", {"text": "Spoke to <b>Amara</b>; police reference 123."}),
        ("action", {"action": "parents_informed"}),
        ("action", {"action": "police"}),
        ("assign", {"assignee": head_id.group(1)}),
        ("close", {"outcome": "referred_external"}),
    ]:
        site.clock.advance(minutes=1)
        res = site.client.post(
            f"/cases/{case}/{path}", data={**data, "csrf_token": csrf}, follow_redirects=False
        )
        assert res.status_code == 303, (path, res.text)
        assert "error=" not in res.headers["location"], res.headers["location"]
    page = site.client.get(f"/cases/{case}").text
    assert "Spoke to &lt;b&gt;Amara&lt;/b&gt;" in page  # shown as text, never markup
    with site.sessions() as s:
        c = s.get(Case, case)
        kinds = list(
            s.scalars(
                select(CaseEntry.kind).where(CaseEntry.case_id == case).order_by(CaseEntry.id)
            )
        )
        views = s.scalar(
            select(func.count()).select_from(AccessLog).where(AccessLog.case_id == case)
        )
    assert c is not None and (c.status, c.outcome) == ("closed", "referred_external")
    assert kinds == ["status", "note", "action", "action", "assigned", "status"]
    assert views == 2  # each view of the record is logged


def test_closing_without_an_outcome_says_what_to_do(site):
    sign_in(site, "dsl")
    case = case_ids(site.client.get("/tray").text)[0]
    csrf = csrf_of(site.client.get(f"/cases/{case}").text)
    res = site.client.post(f"/cases/{case}/close", data={"csrf_token": csrf})
    assert res.status_code == 200
    assert "Choose an outcome before closing the case." in res.text


def test_search_and_filters(site):
    sign_in(site, "dsl")
    by_name = site.client.get("/tray?q=hughes").text
    assert "Ben Hughes" in by_name and "Amara Okafor" not in by_name
    untriaged = site.client.get("/tray?status=untriaged").text
    assert len(case_ids(untriaged)) == 6
    assert case_ids(site.client.get("/tray?from=2030-01-01").text) == []


def test_dsl_cannot_open_another_schools_case(site):
    sign_in(site, "river-dsl")
    (theirs,) = case_ids(site.client.get("/tray").text)
    site.client.cookies.clear()
    sign_in(site, "dsl")
    assert site.client.get(f"/cases/{theirs}").status_code == 403


def test_trust_admin_sees_stations_and_users_but_no_pupil_data(site):
    sign_in(site, "admin")  # a role that sees no names needs no second factor
    page = site.client.get("/admin")
    assert page.status_code == 200 and "oak-1" in page.text
    assert not [n for n in NAMES if n in page.text]
    assert site.client.get("/tray").status_code == 403


def test_report_suppresses_small_counts(site):
    sign_in(site, "governor")
    page = site.client.get("/report?from=2026-10-01&to=2026-11-30")
    assert page.status_code == 200
    assert "&lt;5" in page.text
    csv = site.client.get("/report.csv?from=2026-10-01&to=2026-11-30")
    assert csv.headers["content-type"].startswith("text/csv")
    rows = [line.split(",") for line in csv.text.strip().splitlines()[1:]]
    counts = [row[-1] for row in rows]
    assert counts and all(c == "<5" or c == "0" or int(c) >= 5 for c in counts)


def test_a_governor_never_sees_a_name_on_any_page_or_api(site):
    """Every GET route of the app, with every id that exists, as a governor: no names."""
    sign_in(site, "governor")
    with site.sessions() as s:
        ids = {
            "case_id": list(s.scalars(select(Case.id))),
            "pupil_id": [1, 2, 3],
        }
    bodies: dict[str, str] = {}
    for path, methods in get_routes(site.app.routes):
        if "GET" not in methods:
            continue
        params = re.findall(r"{(\w+)}", path)
        if not params:
            urls = [path]
        else:
            (param,) = params
            urls = [path.replace(f"{{{param}}}", str(i)) for i in ids.get(param, [1])]
        for url in urls:
            res = site.client.get(url, follow_redirects=True)
            assert res.status_code < 500, url
            bodies[url] = res.text
    for url in ["/report", "/report.csv", "/report?from=2020-01-01&to=2030-01-01", "/tray?q=Amara"]:
        bodies[url] = site.client.get(url).text
    assert {"/report", "/report.csv", "/tray", "/admin", "/openapi.json"} <= set(bodies)
    leaks = {url: names_in(body) for url, body in bodies.items()}
    assert {url: found for url, found in leaks.items() if found} == {}


def test_a_totp_code_is_good_once(site):
    assert sign_in(site, "dsl").status_code == 303
    site.client.cookies.clear()
    replay = sign_in(site, "dsl")  # the same code, seconds later, from another browser
    assert replay.status_code == 401
    site.clock.advance(seconds=30)
    assert sign_in(site, "dsl").status_code == 303


def test_session_ends_after_the_idle_time_but_not_while_in_use(site):
    """Seeds 001, 002: screens locked when unattended. The clock is the app's (moved by
    hand): activity keeps the session alive past the idle limit, silence ends it."""
    idle = site.app.state.session_idle
    assert sign_in(site, "dsl").status_code == 303
    for _ in range(3):  # in use: each request within the limit of the one before
        site.clock.advance(seconds=idle.total_seconds() - 1)
        assert site.client.get("/tray", follow_redirects=False).status_code == 200
    site.clock.advance(seconds=idle.total_seconds())  # left unattended
    gone = site.client.get("/tray", follow_redirects=False)
    assert gone.status_code == 303 and gone.headers["location"] == "/login"
    site.clock.advance(seconds=1)  # and it stays ended: nothing revives it
    assert site.client.get("/tray", follow_redirects=False).status_code == 303
    with site.sessions() as s:
        assert s.scalar(select(func.count()).select_from(WebSession)) == 1
    assert sign_in(site, "dsl").status_code == 303  # signing in again works ...
    assert site.client.get("/tray", follow_redirects=False).status_code == 200
    with site.sessions() as s:  # ... and clears the idle session's row away
        assert s.scalar(select(func.count()).select_from(WebSession)) == 1


def test_idle_time_is_the_apps_setting(engine):
    from datetime import timedelta

    from central.app import create_app

    app = create_app(str(engine.url), engine=engine, session_idle=timedelta(minutes=3))
    assert app.state.session_idle == timedelta(minutes=3)
    with pytest.raises(ValueError, match="session_idle must be positive"):
        create_app(str(engine.url), engine=engine, session_idle=timedelta(0))


def test_names_in_finds_a_shown_name_but_not_one_inside_a_token():
    assert names_in("<td>Ben Hughes</td>") == ["Ben", "Hughes"]
    assert names_in('value="k3Ben_x-9"') == []
    assert names_in("Pupil: Amara.") == ["Amara"]
