"""Exam sessions run by the exams officer: create, edit and cancel (issue 14).

Added beside :mod:`kiosk.usecases.exams` (deposits and hand-back) rather than inside it, so
the session's life before the first deposit is one small module. Every change writes its
event in the same transaction (DESIGN.md, "Every state change writes its event").
"""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import OPEN_STATES, ExamSession, Holding, Locker, Pupil
from kiosk.auth import Identity
from kiosk.permissions import Permission
from kiosk.usecases.base import CustodyError
from kiosk.usecases.exams import NOT_WORKING_CABINET, ExamUseCases
from wire.vocabulary import EventType, ExamSessionState


class ExamFieldError(CustodyError):
    """A refusal about one field of the session form: ``field`` names it (``paper``,
    ``date``, ``start``, ``end``, ``room``, ``cabinet``, ``candidates``, ``why``), so a screen
    can show the message next to that field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class ExamAdminUseCases(ExamUseCases):
    """Create, edit and cancel an exam session (paper, date, start and end, cabinet,
    candidates); the exams officer holds :attr:`Permission.EXAM_SESSION`."""

    def _at(self, day: date, clock: time) -> datetime:
        """A wall-clock time at the school on ``day`` (the officer types local times)."""
        return datetime.combine(day, clock, tzinfo=self.tz)

    def _check_candidates(self, s: Session, candidate_ids: list[int]) -> list[int]:
        wanted = list(dict.fromkeys(candidate_ids))
        found = set(s.scalars(select(Pupil.id).where(Pupil.id.in_(wanted)))) if wanted else set()
        missing = [pid for pid in wanted if pid not in found]
        if missing:
            raise ExamFieldError("candidates", f"No pupil with id {', '.join(map(str, missing))}.")
        return wanted

    def create_exam_session(
        self,
        actor: Identity,
        *,
        paper: str,
        day: date,
        start: time,
        end: time,
        cabinet_id: int | None = None,
        candidate_ids: list[int] | None = None,
        room: str = "",
    ) -> int:
        """A new session taking deposits; ``cabinet_id`` None takes the first free cabinet."""
        paper = paper.strip()
        if not paper:
            raise ExamFieldError("paper", "Name the paper (e.g. 'GCSE Maths Paper 1').")
        if self._at(day, end) <= self._at(day, start):
            raise ExamFieldError("end", "The exam must end after it starts.")
        with self.sessions() as s:
            self._authorise(s, actor, Permission.EXAM_SESSION)
            candidates = self._check_candidates(s, list(candidate_ids or []))
        try:
            return self.open_exam_session(
                actor,
                name=paper,
                starts_at=self._at(day, start),
                ends_at=self._at(day, end),
                room=room,
                locker_id=cabinet_id,
                candidate_ids=candidates,
            )
        except ExamFieldError:
            raise
        except CustodyError as exc:  # the times were checked above: what is left is the cabinet
            raise ExamFieldError("cabinet", str(exc)) from exc

    def edit_exam_session(
        self,
        actor: Identity,
        session_id: int,
        *,
        paper: str | None = None,
        day: date | None = None,
        start: time | None = None,
        end: time | None = None,
        cabinet_id: int | None = None,
        candidate_ids: list[int] | None = None,
        room: str | None = None,
    ) -> None:
        """Change what is given; the event names the fields changed (no pupil names)."""
        with self._tx() as s:
            self._authorise(s, actor, Permission.EXAM_SESSION)
            e = s.get(ExamSession, session_id)
            if e is None:
                raise CustodyError(f"No exam session {session_id}.")
            if e.state != ExamSessionState.OPEN:
                raise CustodyError(f"{e.name} is {e.state.value}: it can no longer be edited.")
            changed: list[str] = []
            if paper is not None and paper.strip() and paper.strip() != e.name:
                e.name = paper.strip()
                changed.append("paper")
            if room is not None and room != e.room:
                e.room = room
                changed.append("room")
            local_start, local_end = self._local(e.starts_at), self._local(e.ends_at)
            new_day = day or local_start.date()
            starts = self._at(new_day, start or local_start.timetz().replace(tzinfo=None))
            ends = self._at(new_day, end or local_end.timetz().replace(tzinfo=None))
            if ends <= starts:
                raise ExamFieldError("end", "The exam must end after it starts.")
            if starts != e.starts_at or ends != e.ends_at:
                e.starts_at, e.ends_at = starts, ends
                changed.append("times")
            if cabinet_id is not None and cabinet_id != e.locker_id:
                if self._deposits_inside(s, e.id):
                    raise ExamFieldError(
                        "cabinet",
                        "Pouches are already in this session's cabinet: hand them back "
                        "before moving the session to another cabinet.",
                    )
                cabinet = s.get(Locker, cabinet_id)
                if cabinet is None or cabinet.capacity <= 1:
                    raise ExamFieldError("cabinet", f"Locker {cabinet_id} is not an exam cabinet.")
                if cabinet.state in NOT_WORKING_CABINET:  # as open_exam_session refuses it
                    raise ExamFieldError(
                        "cabinet",
                        f"Cabinet {cabinet.label} is marked {cabinet.state.value}: ask a "
                        "technician to check it and mark it in service again, or choose "
                        "another cabinet.",
                    )
                if self._cabinet_in_use(s, cabinet):
                    raise ExamFieldError(
                        "cabinet", f"Cabinet {cabinet.label} is in use by another session."
                    )
                e.locker_id = cabinet.id
                changed.append("cabinet")
            if candidate_ids is not None:
                wanted = self._check_candidates(s, candidate_ids)
                if wanted != list(e.candidates):
                    e.candidates = wanted
                    changed.append("candidates")
            if changed:
                self._event(
                    s,
                    EventType.EXAM_EDITED,
                    actor,
                    None,
                    session_id=e.id,
                    changed=changed,
                    candidates=len(e.candidates),
                )

    def _deposits_inside(self, s: Session, session_id: int) -> int:
        return int(
            s.scalar(
                select(func.count(Holding.id)).where(
                    Holding.exam_session_id == session_id,
                    Holding.state.in_([x.value for x in OPEN_STATES]),
                )
            )
            or 0
        )

    def cancel_exam_session(self, actor: Identity, session_id: int, why: str) -> None:
        """Cancel a session nobody has deposited in; refused while pouches are inside."""
        if not why.strip():
            raise ExamFieldError("why", "Say why the session is cancelled.")
        with self._tx() as s:
            self._authorise(s, actor, Permission.EXAM_SESSION)
            e = s.get(ExamSession, session_id)
            if e is None:
                raise CustodyError(f"No exam session {session_id}.")
            if e.state != ExamSessionState.OPEN:
                raise CustodyError(f"{e.name} is {e.state.value}: it cannot be cancelled.")
            inside = self._deposits_inside(s, e.id)
            if inside:
                raise CustodyError(
                    f"{inside} pouch(es) are still in {e.name}'s cabinet: end the session and "
                    "hand them back first."
                )
            e.state = ExamSessionState.CANCELLED
            # The typed reason stays on the session row (purged with it), never in the
            # chain: free text may name a pupil (DESIGN.md, issue 9: facts by id in events).
            e.cancel_reason = why.strip()
            self._event(s, EventType.EXAM_CANCELLED, actor, None, session_id=e.id)

    def candidate_number(self, pupil_id: int) -> str | None:
        """The candidate number shown with a candidate's pouch (None if not imported)."""
        with self.sessions() as s:
            pupil = s.get(Pupil, pupil_id)
            return pupil.candidate_number if pupil else None
