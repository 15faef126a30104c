"""Read side of the pages: the tray, a pupil's chronology, the governors' counts.

The tray reads ``cases`` (a small fraction of events) through ``ix_cases_tray``
(school, status, opened_at); the chronology reads ``events`` through
``ix_events_pupil_time`` (pupil, occurred_at). Neither scans the events table.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from central.models import Case, Event, Pupil, StaffRef, Station, User, UserSchool

PAGE_SIZE = 50


@dataclass(frozen=True)
class TrayFilter:
    school_id: int | None = None
    pupil_id: int | None = None
    category: str | None = None
    status: str | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    q: str | None = None
    page: int = 1


@dataclass(frozen=True)
class TrayRow:
    case: Case
    pupil: Pupil | None
    station: str
    assignee: str | None


Scope = frozenset[int] | None
"""The schools a user may see: a set of school ids, or ``None`` for the whole trust."""


def school_scope(s: Session, user: User) -> Scope:
    """Which schools' records ``user`` may see.

    The trust admin is trust-wide (and sees no pupil data anyway: the pages refuse the
    role); everyone else sees exactly the schools in ``user_schools``, none if they have
    no row (never "everything" by omission).
    """
    if user.role == "trust_admin":
        return None
    return frozenset(s.scalars(select(UserSchool.school_id).where(UserSchool.user_id == user.id)))


def in_scope(scope: Scope, school_id: int) -> bool:
    return scope is None or school_id in scope


def tray(s: Session, user: User, f: TrayFilter) -> tuple[list[TrayRow], bool]:
    """One page of cases the user may see, newest first; and whether there is another."""
    q = (
        select(Case, Pupil, Station.station_id, User.display_name)
        .join(Station, Station.id == Case.station_pk)
        .outerjoin(Pupil, Pupil.id == Case.pupil_pk)
        .outerjoin(User, User.id == Case.assignee_id)
    )
    scope = school_scope(s, user)
    if f.school_id is not None and in_scope(scope, f.school_id):
        q = q.where(Case.school_id == f.school_id)
    elif scope is not None:
        q = q.where(Case.school_id.in_(sorted(scope)))
    if f.pupil_id is not None:
        q = q.where(Case.pupil_pk == f.pupil_id)
    if f.category:
        q = q.where(Case.category == f.category)
    if f.status:
        q = q.where(Case.status == f.status)
    if f.date_from:
        q = q.where(Case.opened_at >= _midnight(f.date_from))
    if f.date_to:
        q = q.where(Case.opened_at < _midnight(f.date_to + dt.timedelta(days=1)))
    if f.q:
        like = f"%{_escape_like(f.q.strip())}%"
        full = Pupil.given_name + " " + Pupil.family_name
        q = q.where(
            or_(
                Pupil.given_name.ilike(like, escape="\\"),
                Pupil.family_name.ilike(like, escape="\\"),
                full.ilike(like, escape="\\"),
                Pupil.mis_id.ilike(like, escape="\\"),
            )
        )
    page = max(f.page, 1)
    q = q.order_by(Case.opened_at.desc(), Case.id.desc())
    q = q.limit(PAGE_SIZE + 1).offset((page - 1) * PAGE_SIZE)
    rows = [TrayRow(c, p, st, a) for c, p, st, a in s.execute(q).all()]
    return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE


def untriaged_count(s: Session, user: User) -> int:
    q = select(func.count()).select_from(Case).where(Case.status == "untriaged")
    scope = school_scope(s, user)
    if scope is not None:
        q = q.where(Case.school_id.in_(sorted(scope)))
    return s.scalar(q) or 0


@dataclass(frozen=True)
class ChronologyItem:
    at: datetime
    station: str
    type: str
    actor: str | None
    payload: dict[str, object]
    case_id: int | None = None


def chronology(s: Session, pupil: Pupil, limit: int = 500) -> list[ChronologyItem]:
    """Everything about ``pupil``, across the school's stations, in time order."""
    rows = s.execute(
        select(Event, Station.station_id, StaffRef.name, Case.id)
        .join(Station, Station.id == Event.station_pk)
        .outerjoin(
            StaffRef,
            (StaffRef.station_pk == Event.station_pk) & (StaffRef.local_id == Event.actor_id),
        )
        .outerjoin(Case, Case.event_pk == Event.id)
        .where(Event.pupil_pk == pupil.id)
        .order_by(Event.occurred_at, Event.station_pk, Event.seq)
        .limit(limit)
    ).all()
    return [
        ChronologyItem(ev.occurred_at, station, ev.type, actor, ev.payload, case_id)
        for ev, station, actor, case_id in rows
    ]


def _midnight(day: dt.date) -> datetime:
    return datetime.combine(day, dt.time(), tzinfo=dt.UTC)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# -- governors' report ---------------------------------------------------------------------

SUPPRESS_BELOW = 5
SUPPRESSED = "<5"


@dataclass
class CountTable:
    """One dimension's counts, with small numbers suppressed (seed 001/003: anonymous reports).

    Cells of 1-4 show as "<5". If that leaves exactly one suppressed cell, the next smallest
    is suppressed too, so the total cannot be used to work a suppressed cell back out.
    """

    title: str
    rows: list[tuple[str, int]]
    shown: list[tuple[str, str]] = field(init=False)
    total: str = field(init=False)

    def __post_init__(self) -> None:
        hidden = {label for label, n in self.rows if 0 < n < SUPPRESS_BELOW}
        if len(hidden) == 1:
            rest = sorted(
                ((n, label) for label, n in self.rows if label not in hidden and n > 0),
            )
            if rest:
                hidden.add(rest[0][1])
        self.shown = [(label, SUPPRESSED if label in hidden else str(n)) for label, n in self.rows]
        total = sum(n for _, n in self.rows)
        self.total = SUPPRESSED if 0 < total < SUPPRESS_BELOW else str(total)


@dataclass(frozen=True)
class Report:
    school: str
    date_from: dt.date
    date_to: dt.date
    tables: list[CountTable]


def governors_report(s: Session, scope: Scope, date_from: dt.date, date_to: dt.date) -> Report:
    """Counts by category, year group, week and outcome: no name, id or free text leaves."""
    from central.triage import CATEGORIES, OUTCOMES

    q = (
        select(Case.category, Case.status, Case.outcome, Case.opened_at, Pupil.year_group)
        .outerjoin(Pupil, Pupil.id == Case.pupil_pk)
        .where(Case.opened_at >= _midnight(date_from))
        .where(Case.opened_at < _midnight(date_to + dt.timedelta(days=1)))
    )
    if scope is not None:
        q = q.where(Case.school_id.in_(sorted(scope)))
    rows = s.execute(q).all()
    by_cat: Counter[str] = Counter()
    by_year: Counter[str] = Counter()
    by_week: Counter[str] = Counter()
    by_outcome: Counter[str] = Counter()
    for category, status, outcome, opened_at, year in rows:
        by_cat[CATEGORIES.get(category, category)] += 1
        by_year[f"Year {year}" if year else "No pupil (station alert)"] += 1
        monday = opened_at.date() - dt.timedelta(days=opened_at.weekday())
        by_week[f"w/c {monday.isoformat()}"] += 1
        if status == "closed" and outcome:
            by_outcome[OUTCOMES.get(outcome, outcome)] += 1
        else:
            by_outcome["Still open" if status == "open" else "Not yet triaged"] += 1
    weeks = []
    monday = date_from - dt.timedelta(days=date_from.weekday())
    while monday <= date_to:
        weeks.append(f"w/c {monday.isoformat()}")
        monday += dt.timedelta(days=7)
    school = ""
    return Report(
        school=school,
        date_from=date_from,
        date_to=date_to,
        tables=[
            CountTable("By category", [(c, by_cat[c]) for c in CATEGORIES.values()]),
            CountTable("By year group", sorted(by_year.items(), key=_year_key)),
            CountTable("By week", [(w, by_week[w]) for w in weeks]),
            CountTable("By outcome", sorted(by_outcome.items())),
        ],
    )


def _year_key(item: tuple[str, int]) -> tuple[int, str]:
    label = item[0]
    digits = "".join(ch for ch in label if ch.isdigit())
    return (int(digits) if digits else 99, label)
