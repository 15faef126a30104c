"""What the public signage screen says, and when: pure functions over profile data and time.

Why a separate, pure module: the wording of every notice must be traceable to the school
policy it enforces (each :class:`SignNotice` carries the profile's ``source`` citation), and
"which notice shows when" is a rule that deserves tests without a terminal or a database.
The TUI may not import :mod:`policies` (layer contract), so this module is also the place
where profile data becomes plain :class:`SignNotice` values the TUI can show.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any, Literal

import policies
from kiosk.views import ExamSessionState, ExamSessionView

log = logging.getLogger(__name__)

NoticeKind = Literal["zone", "rule", "exam_now", "exam_soon", "school"]

#: Order of kinds on screen: exam notices first while they are active.
KIND_ORDER: dict[str, int] = {"exam_now": 0, "exam_soon": 1, "school": 2, "zone": 3, "rule": 4}


@dataclass(frozen=True)
class SignNotice:
    """One screen of signage, already worded, with the citation it comes from.

    ``zone_kind`` is the profile's zone kind (``camera_free``/``mobile_free``) for zone
    notices, so the screen and the posters can choose the right pictogram.
    """

    code: str
    title: str
    text: str
    source: str
    kind: NoticeKind
    zone_kind: str | None = None


#: What an exam notice is made from: a session's name, room, times and state, no pupil data.
ExamSession = ExamSessionView


def _hhmm(when: datetime, tz: tzinfo) -> str:
    return when.astimezone(tz).strftime("%H:%M")


def _aware(when: datetime) -> datetime:
    """Custody hands back aware UTC datetimes; treat a naive one as UTC rather than crash."""
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def exam_notices(
    profile: policies.Profile,
    exam_sessions: Iterable[ExamSession],
    now: datetime,
    tz: tzinfo = UTC,
) -> list[SignNotice]:
    """Exam notices active at ``now``: in progress first, then those in their lead-in.

    A session is *in progress* from ``starts_at`` (inclusive) to ``ends_at`` (exclusive) while
    its state is ``open``; it is in its *lead-in* for ``profile.exam_lead_in_minutes`` before
    it starts. A session ended or released early by the exams officer shows nothing.
    """
    now = _aware(now)
    lead_in = timedelta(minutes=profile.exam_lead_in_minutes)
    exam = profile.exam_notice
    lead_source = profile.exam.lead_in_minutes.source
    running: list[tuple[datetime, SignNotice]] = []
    soon: list[tuple[datetime, SignNotice]] = []
    for session in exam_sessions:
        if session.state != ExamSessionState.OPEN:
            continue
        starts, ends = _aware(session.starts_at), _aware(session.ends_at)
        name, room = session.name or "Exam", session.room or "the exam room"
        if starts <= now < ends:
            running.append(
                (
                    starts,
                    SignNotice(
                        code=f"exam_now:{session.id}",
                        title=f"{exam.title}: phones must be deposited",
                        text=f"{name}, {room}, until {_hhmm(ends, tz)}. {exam.text}",
                        source=exam.source,
                        kind="exam_now",
                    ),
                )
            )
        elif starts - lead_in <= now < starts:
            soon.append(
                (
                    starts,
                    SignNotice(
                        code=f"exam_soon:{session.id}",
                        title=f"Exam starting at {_hhmm(starts, tz)} in {room}: deposit phones now",
                        text=f"{name}. {exam.text}",
                        source=f"{lead_source}; {exam.source}",
                        kind="exam_soon",
                    ),
                )
            )
    running.sort(key=lambda pair: pair[0])
    soon.sort(key=lambda pair: pair[0])
    return [n for _, n in running] + [n for _, n in soon]


ZONE_LABELS: dict[str, str] = {
    "camera_free": "Camera-free zone",
    "mobile_free": "Mobile-free zone",
}


def school_notice(profile: policies.Profile) -> SignNotice:
    """The welcome screen: the school's name and a one-line summary of its signed areas.

    Built only from profile data (zone names, notice titles), so no wording here is invented.
    """
    parts: list[str] = []
    for kind, label in ZONE_LABELS.items():
        names = [z.name for z in profile.zones if z.kind == kind]
        if names:
            parts.append(f"{label}s: {', '.join(names)}.")
    if profile.notices:
        parts.append(" ".join(f"{n.title}." for n in profile.notices[:2]))
    sources = [z.source for z in profile.zones] + [n.source for n in profile.notices[:2]]
    return SignNotice(
        code="school",
        title=profile.school_name,
        text=" ".join(parts),
        source="; ".join(dict.fromkeys(sources)) or f"profile {profile.id}",
        kind="school",
    )


def standing_notices(profile: policies.Profile) -> list[SignNotice]:
    """Notices that always show: the school header, each zone, each general rule."""
    out = [school_notice(profile)]
    out += [
        SignNotice(
            code=f"zone:{z.code}",
            title=z.name,
            text=z.rule,
            source=z.source,
            kind="zone",
            zone_kind=z.kind,
        )
        for z in profile.zones
    ]
    out += [
        SignNotice(code=f"rule:{n.code}", title=n.title, text=n.text, source=n.source, kind="rule")
        for n in profile.notices
    ]
    return out


def notices_for(
    profile: policies.Profile,
    exam_sessions: Iterable[ExamSession],
    now: datetime,
    tz: tzinfo = UTC,
) -> list[SignNotice]:
    """Everything the screen should rotate through at ``now``, exam notices first."""
    return exam_notices(profile, exam_sessions, now, tz) + standing_notices(profile)


class SignageFeed:
    """Live notices for the screen: re-reads the profile when its file changes, and the exam
    sessions on every call, so content follows edits and new sessions without a restart.

    Called from a worker thread (it reads the database). A profile file that fails to load
    (e.g. half-saved during an edit) keeps the last good profile on screen and records the
    problem in :attr:`error` rather than blanking the public screen.
    """

    def __init__(
        self,
        profile: policies.Profile | str | Path,
        exam_sessions: Callable[[], list[ExamSessionView]],
        *,
        tz: tzinfo = UTC,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if not isinstance(profile, policies.Profile):
            profile = policies.load_profile(profile)
        self._profile = profile
        self._path = profile.path
        self._mtime = self._stat()
        self._exam_sessions = exam_sessions
        self._sessions: list[ExamSessionView] = []
        self.tz = tz
        self._clock = clock or (lambda: datetime.now(UTC))
        self.error: str | None = None

    @classmethod
    def for_context(cls, ctx: Any) -> SignageFeed:
        """A feed for an open station (:class:`kiosk.context.KioskContext`)."""
        return cls(ctx.profile, ctx.custody.exam_sessions, tz=ctx.config.tz)

    @property
    def profile(self) -> policies.Profile:
        return self._profile

    def _stat(self) -> int:
        try:
            return self._path.stat().st_mtime_ns
        except OSError:
            return -1

    def _reload_profile(self) -> None:
        mtime = self._stat()
        if mtime == self._mtime:
            return
        try:
            self._profile = policies.load_profile(self._path)
        except (policies.ProfileError, OSError, UnicodeDecodeError) as exc:
            # e.g. half-saved, or saved in the wrong encoding: never blank the public screen.
            self.error = str(exc)
            log.warning("signage keeps the last good profile: %s", exc)
            return  # try again when the file changes next
        finally:
            self._mtime = mtime
        self.error = None

    def _read_sessions(self) -> None:
        try:
            self._sessions = list(self._exam_sessions())
        except Exception as exc:  # a locked or missing DB must not blank the public screen
            log.warning("signage keeps the last exam sessions: %s", exc)

    def notices(self) -> list[SignNotice]:
        """The notices to show now (re-reading what changed)."""
        self._reload_profile()
        self._read_sessions()
        return notices_for(self._profile, self._sessions, self._clock(), self.tz)

    __call__ = notices
