"""Which notices show when: before, during and after an exam session, and with no zones."""

from __future__ import annotations

import dataclasses
import shutil
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

import policies
from kiosk.signage import SignageFeed, notices_for
from kiosk.views import ExamSessionState, ExamSessionView

LONDON = ZoneInfo("Europe/London")
START = datetime(2026, 11, 17, 13, 30, tzinfo=UTC)
SESSION = ExamSessionView(
    id=7,
    name="GCSE English Paper 1",
    room="Sports hall",
    starts_at=START,
    ends_at=START + timedelta(minutes=105),
    state=ExamSessionState.OPEN,
)


@pytest.fixture
def profile():
    return policies.load_profile("pioneer-trust")


def kinds(notices):
    return [n.kind for n in notices]


def test_no_session_shows_school_zones_and_rules(profile):
    shown = notices_for(profile, [], START, LONDON)
    assert kinds(shown)[0] == "school"
    assert [n.title for n in shown if n.kind == "zone"] == ["Changing rooms", "Toilets"]
    assert "rule" in kinds(shown)
    assert shown[0].title == "Pioneer Educational Trust"
    assert all(n.source for n in shown)


def test_before_the_lead_in_there_is_no_exam_notice(profile):
    early = START - timedelta(minutes=profile.exam_lead_in_minutes + 1)
    assert not {"exam_now", "exam_soon"} & set(kinds(notices_for(profile, [SESSION], early)))


def test_lead_in_says_deposit_now_with_start_time_and_room(profile):
    soon = START - timedelta(minutes=5)
    first = notices_for(profile, [SESSION], soon, LONDON)[0]
    assert first.kind == "exam_soon"
    assert "13:30" in first.title and "Sports hall" in first.title
    assert profile.exam_notice.text in first.text


def test_during_the_session_exam_notice_comes_first(profile):
    during = START + timedelta(minutes=30)
    first = notices_for(profile, [SESSION], during, LONDON)[0]
    assert first.kind == "exam_now"
    assert "phones must be deposited" in first.title
    assert "awarding body" in first.text and "15:15" in first.text
    assert first.source == profile.exam_notice.source


def test_after_the_session_or_once_ended_there_is_no_exam_notice(profile):
    after = START + timedelta(minutes=106)
    assert "exam_now" not in kinds(notices_for(profile, [SESSION], after))
    ended = dataclasses.replace(SESSION, state=ExamSessionState.ENDED)
    during = START + timedelta(minutes=30)
    assert "exam_now" not in kinds(notices_for(profile, [ended], during))


def test_profile_without_zones_still_has_school_and_rules(profile):
    bare = dataclasses.replace(profile, zones=())
    shown = notices_for(bare, [], START)
    assert "zone" not in kinds(shown)
    assert kinds(shown)[0] == "school" and "rule" in kinds(shown)


def test_feed_picks_up_an_edited_profile_without_restart(tmp_path):
    src = policies.PROFILE_DIR
    for name in ("default.toml", "pioneer-trust.toml"):
        shutil.copy(src / name, tmp_path / name)
    path = tmp_path / "pioneer-trust.toml"
    feed = SignageFeed(path, lambda: [], clock=lambda: START)
    assert "Changing rooms" in [n.title for n in feed()]
    text = path.read_text().replace('name = "Changing rooms"', 'name = "Sports changing rooms"')
    path.write_text(text)
    st = path.stat()
    import os

    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10_000_000))
    titles = [n.title for n in feed()]
    assert "Sports changing rooms" in titles and "Changing rooms" not in titles


def test_feed_keeps_the_last_good_profile_when_an_edit_is_broken(tmp_path):
    for name in ("default.toml", "pioneer-trust.toml"):
        shutil.copy(policies.PROFILE_DIR / name, tmp_path / name)
    path = tmp_path / "pioneer-trust.toml"
    feed = SignageFeed(path, lambda: [], clock=lambda: START)
    before = [n.title for n in feed()]
    path.write_text(path.read_text() + "\nbogus_key = 1\n")
    import os

    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10_000_000))
    assert [n.title for n in feed()] == before
    assert feed.error and "bogus_key" in feed.error


def test_feed_shows_new_exam_sessions_as_they_appear(profile):
    sessions: list[ExamSessionView] = []
    feed = SignageFeed(profile, lambda: list(sessions), clock=lambda: START + timedelta(minutes=1))
    assert "exam_now" not in kinds(feed())
    sessions.append(SESSION)
    assert kinds(feed())[0] == "exam_now"
