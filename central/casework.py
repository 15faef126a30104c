"""What the DSL does to a case: every change an append-only entry with who and when.

The case row's ``status``, ``assignee_id`` and ``outcome`` are a projection of its entries,
kept so the tray can filter and index them; :func:`record` is the only writer of both, in
one transaction, so they cannot disagree. Nothing here edits or deletes an entry.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.models import AccessLog, Case, CaseEntry, User, UserSchool
from central.triage import ACTIONS, OUTCOMES


class CaseError(ValueError):
    """A change that cannot be made; the message says why and what to do."""


def record(
    s: Session, case: Case, user: User, kind: str, body: dict[str, Any], now: datetime
) -> CaseEntry:
    entry = CaseEntry(case_id=case.id, at=now, user_id=user.id, kind=kind, body=body)
    s.add(entry)
    return entry


def add_note(s: Session, case: Case, user: User, text: str, now: datetime) -> None:
    text = text.strip()
    if not text:
        raise CaseError("The note is empty: write what happened or what you did.")
    if len(text) > 5000:
        raise CaseError("The note is over 5,000 characters: split it into two notes.")
    record(s, case, user, "note", {"text": text}, now)
    _touch(s, case, user, now)


def mark_action(s: Session, case: Case, user: User, action: str, now: datetime) -> None:
    if action not in ACTIONS:
        raise CaseError(f"Unknown action {action!r}; choose one of the listed actions.")
    record(s, case, user, "action", {"action": action, "label": ACTIONS[action]}, now)
    _touch(s, case, user, now)


def assign(s: Session, case: Case, user: User, assignee_id: int, now: datetime) -> None:
    assignee = s.get(User, assignee_id)
    if assignee is None or assignee.role not in {"dsl", "senior_leader"}:
        raise CaseError("Assign the case to a DSL or senior leader of the school.")
    covers = s.scalar(
        select(UserSchool.school_id).where(
            UserSchool.user_id == assignee.id, UserSchool.school_id == case.school_id
        )
    )
    if covers is None:
        raise CaseError(f"{assignee.display_name} is not at this case's school.")
    record(s, case, user, "assigned", {"to": assignee.id, "name": assignee.display_name}, now)
    case.assignee_id = assignee.id
    _touch(s, case, user, now)


def triage(s: Session, case: Case, user: User, now: datetime) -> None:
    """``untriaged -> open``: someone has read it and owns what happens next."""
    if case.status != "untriaged":
        raise CaseError(f"This case is already {case.status}.")
    _status(s, case, user, "open", None, now)


def close(s: Session, case: Case, user: User, outcome: str, now: datetime) -> None:
    if outcome not in OUTCOMES:
        raise CaseError("Choose an outcome before closing the case.")
    if case.status == "closed":
        raise CaseError("This case is already closed.")
    _status(s, case, user, "closed", outcome, now)


def reopen(s: Session, case: Case, user: User, now: datetime) -> None:
    if case.status != "closed":
        raise CaseError("Only a closed case can be reopened.")
    _status(s, case, user, "open", None, now)


def _status(
    s: Session, case: Case, user: User, to: str, outcome: str | None, now: datetime
) -> None:
    record(s, case, user, "status", {"from": case.status, "to": to, "outcome": outcome}, now)
    case.status = to
    case.outcome = outcome


def _touch(s: Session, case: Case, user: User, now: datetime) -> None:
    """Any work on an untriaged case triages it: the tray must not show it as unread."""
    if case.status == "untriaged":
        _status(s, case, user, "open", None, now)


def entries(s: Session, case: Case) -> list[CaseEntry]:
    return list(
        s.scalars(
            select(CaseEntry)
            .where(CaseEntry.case_id == case.id)
            .order_by(CaseEntry.at, CaseEntry.id)
        )
    )


def log_view(
    s: Session,
    user: User,
    now: datetime,
    what: str,
    *,
    pupil_pk: int | None = None,
    case_id: int | None = None,
) -> None:
    """Who looked at what (seed 001: individual audited log-ins)."""
    s.add(AccessLog(at=now, user_id=user.id, pupil_pk=pupil_pk, case_id=case_id, what=what))
