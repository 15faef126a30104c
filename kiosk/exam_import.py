"""``kiosk import exams FILE``: exam entries from the MIS, grouped into exam sessions.

One row per entry (candidate number, MIS id, paper, start, end, room), read through the
same hardened reader as every other import (:func:`kiosk.mis_import._read`: encoding,
control characters, lengths, problems named by line and column) and all or nothing: one
bad row and nothing changes. Entries with the same paper and start become one session;
each candidate's candidate number is stored on the pupil and shown with their pouch.
Imported sessions have no cabinet yet: the exams officer picks one at the kiosk
(:meth:`kiosk.usecases.exam_admin.ExamAdminUseCases.edit_exam_session`) before deposits.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.audit import append_event
from db.models import ExamSession, Pupil
from kiosk import mis_import
from kiosk.auth import Identity, authorise
from kiosk.mis_import import ImportRejected, ImportResult, Problem, _column_length
from kiosk.permissions import Permission
from wire.vocabulary import EventType, ExamSessionState

EXAM_COLUMNS: dict[str, tuple[str, ...]] = {
    "candidate_number": ("candidatenumber", "candidateno", "candno", "examnumber", "candidate"),
    "mis_id": ("misid", "upn", "admissionnumber", "adno", "pupilid", "studentid"),
    "paper": ("paper", "component", "examtitle", "title", "exam", "subject"),
    "start": ("start", "starts", "startdatetime", "starttime", "startsat"),
    "end": ("end", "ends", "finish", "enddatetime", "endtime", "endsat"),
    "room": ("room", "venue", "examroom", "location"),
}
mis_import.REQUIRED["exams"] = ("candidate_number", "mis_id", "paper", "start", "end")
mis_import._MAX_LEN["exams"] = {
    "candidate_number": _column_length(Pupil.candidate_number),
    "mis_id": _column_length(Pupil.mis_id),
    "paper": _column_length(ExamSession.name),
    "room": _column_length(ExamSession.room),
}
CANDIDATE_RE = re.compile(r"[0-9A-Za-z]{1,20}")
#: School time zone for naive times in the file (the MIS exports wall-clock times).
DEFAULT_TZ = ZoneInfo("Europe/London")


def _when(
    value: str, line: int, column: str, problems: list[Problem], day: date | None = None
) -> datetime | None:
    """``2026-05-14 09:00`` (or ISO ``T``); an end may be a time alone on the start's day."""
    text = value.strip()
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    if day is not None:
        try:
            return datetime.combine(day, time.fromisoformat(text))
        except ValueError:
            pass
    problems.append(Problem(line, column, f"{text!r} is not a date and time like 2026-05-14 09:00"))
    return None


def import_exams(
    session: Session,
    path: Path,
    *,
    actor: Identity | None = None,
    station_id: str = "",
    now: datetime | None = None,
    tz: ZoneInfo = DEFAULT_TZ,
    **_: Any,
) -> ImportResult:
    """Create or update the sessions in ``path``; ``added`` sessions created, ``updated`` ones
    whose candidate list was replaced by the file's (the MIS is the truth)."""
    if actor is not None:
        authorise(session, actor, Permission.EXAM_SESSION)
    rows, mapping, problems = mis_import._read(path, EXAM_COLUMNS, "exams")
    pupils = {p.mis_id: p for p in session.scalars(select(Pupil))}
    groups: dict[tuple[str, datetime], dict[str, Any]] = {}
    numbers: dict[str, tuple[str, int]] = {}  # mis_id -> (candidate number, first line)
    for line, r in rows:
        for field in mis_import.REQUIRED["exams"]:
            if field in mapping and not r.get(field):
                problems.append(Problem(line, mapping[field], "is empty"))
        if any(not r.get(f) for f in mis_import.REQUIRED["exams"]):
            continue
        number, mis_id = r["candidate_number"], r["mis_id"]
        if not CANDIDATE_RE.fullmatch(number):
            problems.append(
                Problem(line, mapping["candidate_number"], f"{number!r} is not a candidate number")
            )
        pupil = pupils.get(mis_id)
        if pupil is None:
            problems.append(
                Problem(
                    line, mapping["mis_id"], f"no pupil with MIS id {mis_id!r}; import pupils first"
                )
            )
        seen = numbers.setdefault(mis_id, (number, line))
        if seen[0] != number:
            problems.append(
                Problem(
                    line,
                    mapping["candidate_number"],
                    f"{number!r} differs from {seen[0]!r} given for this pupil on line {seen[1]}",
                )
            )
        start = _when(r["start"], line, mapping["start"], problems)
        end = _when(r["end"], line, mapping["end"], problems, start.date() if start else None)
        if start is None or end is None:
            continue
        start = start if start.tzinfo else start.replace(tzinfo=tz)
        end = end if end.tzinfo else end.replace(tzinfo=tz)
        if end <= start:
            problems.append(Problem(line, mapping["end"], "the exam must end after it starts"))
            continue
        room = r.get("room", "")
        group = groups.setdefault(
            (r["paper"], start), {"end": end, "room": room, "line": line, "pupils": []}
        )
        if group["end"] != end or group["room"] != room:
            problems.append(
                Problem(
                    line,
                    mapping["end"] if group["end"] != end else mapping.get("room", ""),
                    f"differs from line {group['line']} for the same paper and start",
                )
            )
        if pupil is not None and pupil.id not in group["pupils"]:
            group["pupils"].append(pupil.id)
    taken = {
        p.candidate_number: p.mis_id
        for p in pupils.values()
        if p.candidate_number and p.mis_id not in numbers
    }
    by_number: dict[str, str] = {}
    for mis_id, (number, line) in numbers.items():
        other = taken.get(number) or by_number.setdefault(number, mis_id)
        if other != mis_id:
            problems.append(
                Problem(
                    line,
                    mapping.get("candidate_number", ""),
                    f"candidate number {number!r} is also given to MIS id {other!r}",
                )
            )
    if problems:
        raise ImportRejected(path, sorted(problems, key=lambda p: p.line))
    for mis_id, (number, _line) in numbers.items():
        pupils[mis_id].candidate_number = number
    added = updated = 0
    when = now or datetime.now(tz)
    for (paper, start), g in groups.items():
        existing = session.scalars(
            select(ExamSession).where(
                ExamSession.name == paper,
                ExamSession.starts_at == start,
                ExamSession.state == ExamSessionState.OPEN,
            )
        ).first()
        if existing is not None:
            existing.ends_at, existing.room, existing.candidates = g["end"], g["room"], g["pupils"]
            updated += 1
            continue
        e = ExamSession(
            name=paper,
            room=g["room"],
            starts_at=start,
            ends_at=g["end"],
            locker_id=None,
            state=ExamSessionState.OPEN,
            opened_by_id=actor.staff_id if actor else None,
            candidates=g["pupils"],
        )
        session.add(e)
        session.flush()
        append_event(
            session,
            station_id=station_id,
            type=EventType.EXAM_OPENED,
            occurred_at=when,
            actor_id=actor.staff_id if actor else None,
            payload={"session_id": e.id, "candidates": len(e.candidates), "imported": True},
        )
        added += 1
    return ImportResult("exams", added, updated)


mis_import.IMPORTERS["exams"] = import_exams
