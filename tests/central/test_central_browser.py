"""The DSL's morning in headless Chromium (Debian's), driven by Selenium.

A recorded batch from a kiosk (``data/oak-1-batch.json``, the wire format as sent) is
posted to a live server; the DSL signs in with TOTP, finds the police hand-over in the
tray, reads the pupil's chronology, triages the case, blanks the screen, and opens the
governors' report. Screenshots go to ``tests/central/artifacts/`` (not committed).

The server listens on a socket bound *before* its thread starts, so the browser's first
request waits in the socket's backlog instead of the test sleeping for start-up.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pyotp
import pytest
import uvicorn
from central_helpers import PASSWORD, SECRET, Clock

from central import admin
from central.app import create_app
from central.store import make_engine, make_sessions, upgrade

pytestmark = pytest.mark.browser

HERE = Path(__file__).parent
ARTIFACTS = HERE / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,1000",
]


def _need_browser() -> None:
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not shutil.which(p)]
    if missing:
        message = f"{', '.join(missing)} missing: apt-get install chromium chromium-driver"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[str, Clock]]:
    """A live server over a fresh SQLite store, with Oakfield, station oak-1 and users."""
    clock = Clock()
    engine = make_engine(f"sqlite:///{tmp_path / 'central.db'}")
    upgrade(engine)
    with make_sessions(engine).begin() as s:
        admin.add_school(s, "oakfield", "Oakfield Academy")
        token = admin.add_station(s, "oak-1", "oakfield", clock()).token
        for username, role in [("dsl", "dsl"), ("governor", "governor")]:
            admin.add_user(
                s,
                username=username,
                display_name=f"{username.upper()} Person",
                role=role,
                password=PASSWORD,
                school_slug="oakfield",
                now=clock(),
                totp_secret=SECRET,
            )
    app = create_app(str(engine.url), engine=engine, clock=clock)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    base = f"http://localhost:{port}"
    batch = json.loads((HERE / "data" / "oak-1-batch.json").read_text())
    res = httpx.post(
        f"{base}/api/v1/stations/oak-1/events",
        json=batch,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert res.status_code == 200, res.text
    assert res.json()["anchor"]["seq"] == len(batch["events"])
    try:
        yield base, clock
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        engine.dispose()


@pytest.fixture
def browser() -> Iterator[object]:
    _need_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="central-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in [*FLAGS, f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def test_dsl_signs_in_finds_the_incident_triages_it_and_opens_the_report(live, browser):
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    base, clock = live
    d = browser
    wait = WebDriverWait(d, 30)  # a failure bound only: each step waits on a condition
    ARTIFACTS.mkdir(exist_ok=True)

    d.get(f"{base}/login")  # type: ignore[attr-defined]
    d.find_element(By.ID, "username").send_keys("dsl")  # type: ignore[attr-defined]
    d.find_element(By.ID, "password").send_keys(PASSWORD)  # type: ignore[attr-defined]
    d.find_element(By.ID, "code").send_keys(pyotp.TOTP(SECRET).at(clock()))  # type: ignore[attr-defined]
    d.find_element(By.CSS_SELECTOR, "button.primary").click()  # type: ignore[attr-defined]
    wait.until(ec.title_contains("Tray"))
    tray = d.find_element(By.TAG_NAME, "main").text  # type: ignore[attr-defined]
    assert "6 untriaged" in tray and "Amara Okafor" in tray
    d.save_screenshot(str(ARTIFACTS / "1-tray.png"))  # type: ignore[attr-defined]

    # Search by name, then open the police hand-over.
    box = d.find_element(By.NAME, "q")  # type: ignore[attr-defined]
    box.send_keys("Amara", Keys.ENTER)
    wait.until(ec.url_contains("q=Amara"))
    assert "Ben Hughes" not in d.find_element(By.TAG_NAME, "main").text  # type: ignore[attr-defined]
    d.find_element(By.LINK_TEXT, "Police hand-over").click()  # type: ignore[attr-defined]
    wait.until(ec.title_contains("Case"))
    chronology = d.find_element(By.ID, "chronology").text  # type: ignore[attr-defined]
    steps = ["Incident recorded: filming", "Safeguarding hold placed", "Phone handed to police"]
    positions = [chronology.index(step) for step in steps]
    assert positions == sorted(positions)
    assert "Mr Dsl" in chronology  # who did it, from the reference data beside the chain
    d.save_screenshot(str(ARTIFACTS / "2-case.png"))  # type: ignore[attr-defined]

    # Triage it: the status changes and the history says who did it. The button posts a
    # form and the case page comes back in its place: wait for the old page to go first, or
    # the history read could be the old page's. A query that lands while the document is
    # being replaced can get chromedriver's "Node with given id does not belong to the
    # document", a plain WebDriverException rather than a stale element (one suite run in
    # ~20), so across this navigation the wait asks again instead of failing.
    history_before = d.find_element(By.ID, "history")  # type: ignore[attr-defined]
    d.find_element(By.ID, "triage").click()  # type: ignore[attr-defined]
    navigating = WebDriverWait(d, 30, ignored_exceptions=(WebDriverException,))
    navigating.until(ec.staleness_of(history_before))
    navigating.until(ec.text_to_be_present_in_element((By.ID, "history"), "untriaged"))
    history = d.find_element(By.ID, "history").text  # type: ignore[attr-defined]
    assert "DSL Person\nchanged status untriaged → open" in history
    d.execute_script("window.scrollTo(0, 0)")  # type: ignore[attr-defined]
    d.save_screenshot(str(ARTIFACTS / "3-triaged.png"))  # type: ignore[attr-defined]

    # The blank-screen key hides every name at once, and any key brings the page back.
    blank = d.find_element(By.ID, "blank")  # type: ignore[attr-defined]
    assert not blank.is_displayed()
    d.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)  # type: ignore[attr-defined]
    wait.until(ec.visibility_of(blank))
    d.save_screenshot(str(ARTIFACTS / "4-blank.png"))  # type: ignore[attr-defined]
    blank.click()
    wait.until(ec.invisibility_of_element(blank))

    # The governors' report: counts and charts, no names.
    d.find_element(By.LINK_TEXT, "Governors' report").click()  # type: ignore[attr-defined]
    wait.until(ec.title_contains("Governors"))
    report = d.find_element(By.TAG_NAME, "main").text  # type: ignore[attr-defined]
    assert "By category" in report and "<5" in report
    assert "Amara" not in report and "Okafor" not in report
    assert d.find_elements(By.CSS_SELECTOR, "svg.chart rect")  # type: ignore[attr-defined]
    d.save_screenshot(str(ARTIFACTS / "5-report.png"))  # type: ignore[attr-defined]
