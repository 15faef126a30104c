"""Retention purge: remove personal data the profile says the school no longer needs.

Every kind of personal data has its period in the profile's ``[retention]`` table
(:class:`policies.profile.RetentionRules`); this module applies them and leaves nothing
identifying of a purged person or record behind, while the hash chain still verifies:

* **Routine** closed holdings go ``holding_days`` after closing, incidents ``incident_days``
  after they were recorded (never while their phone is still held).
* **Safeguarding** records — a holding that was ever under a safeguarding hold, handed to the
  police, or in a category that forces a hold or forbids viewing (suspected indecent images),
  and their incidents — stay until the pupil's ``safeguarding_until_age`` birthday (IRMS
  toolkit: 25), or ``safeguarding_days_without_birth_date`` after closing if no birth date is
  known, and never less than the routine period.
* **Photos** go ``photo_days`` after the phone went in; a photo file that no record names
  (a crash between capture and record) goes at the next purge, as does a record naming a
  photo that was never written.
* **People**: a pupil who left the MIS (with their contacts) ``pupil_left_days`` after
  leaving, and a member of staff ``staff_left_days`` after leaving the staff list — but only
  once no kept record names them (the record needs to say whose phone, who released it).
* **Exam sessions** (name, room, candidate list) ``exam_session_days`` after they end, once
  their deposits have gone.
* **Events** older than ``event_days`` go oldest first, but the purge stops at the first
  event of a holding that is still kept, so a safeguarding record keeps its tamper-evident
  history. The chain survives through a checkpoint (:func:`db.audit.purge_events_through`).
  Events carry ids only, so once the rows above are gone an old event identifies nobody.

Every real purge (nothing to delete included, so the DPO can see the nightly runs) writes one
``retention.purged`` event with counts by kind and no ids or names.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from sqlalchemy import Column, Engine, select, text
from sqlalchemy.orm import Session

import policies
from db.audit import PURGE_EVENT, append_event, checkpoint_payload, purge_events_through
from db.base import Base
from db.models import (
    OPEN_STATES,
    ErasureRequest,
    Event,
    ExamSession,
    Holding,
    HoldingState,
    Incident,
    Pupil,
    RefusedCollection,
    Staff,
)
from kiosk.audit_replay import snapshot as replay_snapshot
from kiosk.auth import Identity, authorise
from kiosk.permissions import Permission

#: Kinds in the order ``kiosk purge`` lists them; every count in a report uses one of these.
KINDS: tuple[tuple[str, str], ...] = (
    ("holdings", "closed holdings (routine)"),
    ("safeguarding_holdings", "closed holdings (safeguarding)"),
    ("incidents", "incidents (routine)"),
    ("safeguarding_incidents", "incidents (safeguarding)"),
    ("photos", "tray photos past their period"),
    ("orphan_photo_files", "photo files no record names"),
    ("photo_records_without_file", "photo records whose file was never written"),
    ("refused_collections", "adults refused at the hatch (name as given)"),
    ("exam_sessions", "exam sessions"),
    ("pupils", "pupils who left"),
    ("contacts", "contacts of pupils who left"),
    ("staff", "staff who left"),
    ("erasure_requests", "erasure-request records"),
    ("events", "audit events"),
)

_OPEN = [s.value for s in OPEN_STATES]


@dataclass
class PurgeReport:
    """What a purge removed (or, for a dry run, would remove).

    The id lists are for tests and the caller; only :meth:`counts` is ever printed or
    written to the chain, so the report shown to staff carries no names.
    """

    holdings: list[int] = field(default_factory=list)
    incidents: list[int] = field(default_factory=list)
    photos: list[str] = field(default_factory=list)
    kinds: Counter[str] = field(default_factory=Counter)
    events_through: dict[str, int] = field(default_factory=dict)
    events_held_back: int = 0

    @property
    def total(self) -> int:
        return sum(self.kinds.values())

    def counts(self) -> dict[str, int]:
        """Count per kind, every kind listed (zero included), in :data:`KINDS` order."""
        return {kind: self.kinds.get(kind, 0) for kind, _ in KINDS}

    def lines(self) -> list[str]:
        """Human lines, ``<count>  <what>``; no ids, no names."""
        out = [f"{self.kinds.get(kind, 0):>6}  {label}" for kind, label in KINDS]
        if self.events_held_back:
            out.append(
                f"({self.events_held_back} older audit event(s) kept: they belong to a "
                "record that is still kept, such as a safeguarding record)"
            )
        return out


# ------------------------------------------------------------------------------ periods
def _days(rule: policies.Rule[int]) -> timedelta:
    return timedelta(days=rule.value)


def birthday(born: date, age: int) -> datetime:
    """Midnight UTC on the birthday at ``age`` (29 February falls on 1 March)."""
    try:
        day = born.replace(year=born.year + age)
    except ValueError:
        day = date(born.year + age, 3, 1)
    return datetime.combine(day, time.min, UTC)


def is_safeguarding(holding: Holding, profile: policies.Profile) -> bool:
    """True for a holding kept under the safeguarding period (DESIGN.md, Data protection)."""
    if holding.hold_placed_at is not None or holding.handed_to_police_at is not None:
        return True
    if holding.state in (HoldingState.SAFEGUARDING_HOLD, HoldingState.HANDED_TO_POLICE):
        return True
    if holding.police_reference or holding.forbids_viewing:
        return True
    return _safeguarding_category(holding.category, profile)


def _safeguarding_category(code: str | None, profile: policies.Profile) -> bool:
    if not code or not profile.has_category(code):
        return False
    category = profile.category(code)
    return category.forces_safeguarding_hold or category.forbids_viewing


def safeguarding_keep_until(
    pupil: Pupil | None, closed_at: datetime, profile: policies.Profile
) -> datetime:
    """When a closed safeguarding record about ``pupil`` may go."""
    r = profile.retention
    routine = closed_at + _days(r.holding_days)
    if pupil is not None and pupil.date_of_birth is not None:
        return max(birthday(pupil.date_of_birth, r.safeguarding_until_age.value), routine)
    return max(closed_at + _days(r.safeguarding_days_without_birth_date), routine)


# ------------------------------------------------------------------------------ purge
def purge(
    session: Session,
    profile: policies.Profile,
    *,
    now: datetime,
    station_id: str,
    dry_run: bool = False,
    photo_dir: Path | None = None,
    actor: Identity | None = None,
) -> PurgeReport:
    """Find (and unless ``dry_run``, delete) what is past retention. Caller commits.

    ``photo_dir`` is ``<data_dir>/photos``: files there that no record names are removed.
    ``actor`` is the signed-in senior (``kiosk purge --badge``) or the system actor (the
    nightly timer, ``kiosk purge --system``), checked for the purge permission here and
    recorded as the purge event's actor (issue 9).
    """
    if actor is not None:
        authorise(session, actor, Permission.PURGE)
    r = profile.retention
    report = PurgeReport()
    if not dry_run:
        overwrite_deleted_rows(session)
    holdings = list(session.scalars(select(Holding)))
    pupils = {p.id: p for p in session.scalars(select(Pupil))}

    # Holdings: routine or safeguarding period, from closing.
    doomed_holdings: list[Holding] = []
    for h in holdings:
        if h.closed_at is None:
            continue
        pupil = pupils.get(h.pupil_id) if h.pupil_id is not None else None
        if is_safeguarding(h, profile):
            if now >= safeguarding_keep_until(pupil, h.closed_at, profile):
                doomed_holdings.append(h)
                report.kinds["safeguarding_holdings"] += 1
        elif now - h.closed_at >= _days(r.holding_days):
            doomed_holdings.append(h)
            report.kinds["holdings"] += 1
    report.holdings = [h.id for h in doomed_holdings]
    doomed_ids = set(report.holdings)
    kept_holdings = {h.id: h for h in holdings if h.id not in doomed_ids}
    by_id = {h.id: h for h in holdings}

    # Incidents: with their phone while it is held; safeguarding ones with the record.
    doomed_incidents: list[Incident] = []
    for inc in session.scalars(select(Incident)):
        holding = by_id.get(inc.holding_id) if inc.holding_id is not None else None
        if holding is not None and holding.state in _OPEN:
            continue
        pupil = pupils.get(inc.pupil_id) if inc.pupil_id is not None else None
        if (holding is not None and is_safeguarding(holding, profile)) or _safeguarding_category(
            inc.category, profile
        ):
            closed = holding.closed_at if holding and holding.closed_at else inc.created_at
            if now >= safeguarding_keep_until(pupil, closed, profile):
                doomed_incidents.append(inc)
                report.kinds["safeguarding_incidents"] += 1
        elif now - inc.created_at >= _days(r.incident_days):
            doomed_incidents.append(inc)
            report.kinds["incidents"] += 1
    report.incidents = [i.id for i in doomed_incidents]
    doomed_incident_ids = set(report.incidents)

    # Photos: on their own short clock, with their holding, or orphaned by a crash.
    photo_clear: list[Holding] = []
    photo_files: list[Path] = []
    for h in holdings:
        if h.photo_path is None:
            continue
        path = Path(h.photo_path)
        if h.id in doomed_ids or now - (h.held_at or h.created_at) >= _days(r.photo_days):
            report.photos.append(h.photo_path)
            report.kinds["photos"] += 1
            photo_files.append(path)
            photo_clear.append(h)
        elif not path.exists():
            report.kinds["photo_records_without_file"] += 1
            photo_clear.append(h)
    cleared = {h.id for h in photo_clear}
    still_named = {
        _resolved(Path(h.photo_path))
        for h in holdings
        if h.photo_path is not None and h.id not in cleared
    }
    for orphan in _orphans(photo_dir, still_named | {_resolved(p) for p in photo_files}):
        report.kinds["orphan_photo_files"] += 1
        photo_files.append(orphan)

    # Adults refused at the hatch: the name as given goes with the holding it was about, or
    # after the incident period once that holding is gone (the chained event has no name).
    doomed_refusals = [
        rc
        for rc in session.scalars(select(RefusedCollection))
        if (rc.holding_id is not None and rc.holding_id in doomed_ids)
        or (rc.holding_id not in kept_holdings and now - rc.refused_at >= _days(r.incident_days))
    ]
    report.kinds["refused_collections"] = len(doomed_refusals)

    # Exam sessions, once ended, past their period and with no deposit left.
    session_in_use = {h.exam_session_id for h in kept_holdings.values()}
    doomed_sessions = [
        es
        for es in session.scalars(select(ExamSession))
        if es.state != "open"
        and now - es.ends_at >= _days(r.exam_session_days)
        and es.id not in session_in_use
    ]
    report.kinds["exam_sessions"] = len(doomed_sessions)

    # People, once left and no kept record names them.
    excluded = {
        "holdings": doomed_ids,
        "incidents": doomed_incident_ids,
        "exam_sessions": {es.id for es in doomed_sessions},
    }
    named_pupils = _named_by(session, "pupils", excluded=excluded)
    doomed_pupils = [
        p
        for p in pupils.values()
        if p.left_at is not None
        and now - p.left_at >= _days(r.pupil_left_days)
        and p.id not in named_pupils
    ]
    report.kinds["pupils"] = len(doomed_pupils)
    report.kinds["contacts"] = sum(len(p.contacts) for p in doomed_pupils)

    leavers = [s for s in session.scalars(select(Staff)) if not s.active]
    named_staff = _named_by(session, "staff", excluded=excluded)
    doomed_staff = [
        s
        for s in leavers
        if s.left_at is not None
        and now - s.left_at >= _days(r.staff_left_days)
        and s.id not in named_staff
    ]
    report.kinds["staff"] = len(doomed_staff)

    doomed_requests = [
        e
        for e in session.scalars(select(ErasureRequest))
        if now - e.requested_at >= _days(r.event_days)
    ]
    report.kinds["erasure_requests"] = len(doomed_requests)

    # Events: the oldest first, stopping at the first one a kept holding still needs.
    cutoff = now - _days(r.event_days)
    for station in sorted(set(session.scalars(select(Event.station_id).distinct()))):
        through, held_back = _event_prefix(session, station, cutoff, set(kept_holdings))
        report.events_held_back += held_back
        if through is not None:
            report.events_through[station] = through[0]
            report.kinds["events"] += through[1]

    if dry_run:
        return report

    # ---- apply (a run that finds nothing is still recorded: the DPO can see it runs)
    for leaver in leavers:
        if leaver.left_at is None:  # deactivated before leaving dates were kept: start the clock
            leaver.left_at = now
    for path in photo_files:
        path.unlink(missing_ok=True)
    for h in photo_clear:
        h.photo_path = None
    for inc in doomed_incidents:
        session.delete(inc)
    for rc in doomed_refusals:
        session.delete(rc)
    session.flush()
    for h in doomed_holdings:
        session.delete(h)
    session.flush()
    for es in doomed_sessions:
        session.delete(es)
    for p in doomed_pupils:
        session.delete(p)  # contacts go with them (cascade)
    for st in doomed_staff:
        session.delete(st)
    for e in doomed_requests:
        session.delete(e)
    session.flush()
    # The replayed facts of the rows still present (ids, states, flags, roles only): replay
    # starts from here once the events that created those rows are gone (kiosk.audit_replay).
    payload: dict[str, object] = {"counts": report.counts(), "snapshot": replay_snapshot(session)}
    checkpoints: dict[str, object] = {}
    for station, seq in report.events_through.items():
        cp = purge_events_through(session, station_id=station, seq=seq, now=now)
        if cp is not None:
            checkpoints[station] = checkpoint_payload(cp)
    if station_id in checkpoints:
        payload["checkpoint"] = checkpoints.pop(station_id)
    append_event(
        session,
        station_id=station_id,
        type=PURGE_EVENT,
        occurred_at=now,
        actor_id=actor.staff_id if actor is not None else None,
        payload=payload,
    )
    for station, cp_payload in checkpoints.items():
        # Another station's chain in this database (a replaced kiosk): vouch in its own chain.
        append_event(
            session,
            station_id=station,
            type=PURGE_EVENT,
            occurred_at=now,
            payload={"checkpoint": cp_payload},
        )
    return report


def overwrite_deleted_rows(session: Session) -> None:
    """On SQLite, make this transaction's deletes overwrite the freed bytes with zeros.

    Without it a deleted name can still be read from free pages of the database file.
    """
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("PRAGMA secure_delete=ON"))


def flush_write_ahead_log(engine: Engine) -> None:
    """After a purge or erasure commits: copy the WAL into the database file and empty it,
    so old page images holding deleted data do not linger in ``kiosk.db-wal``."""
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            # Outside any transaction (a checkpoint inside one finds its own tables locked):
            # the raw connection, because every SQLAlchemy transaction here is BEGIN IMMEDIATE.
            raw = conn.connection.dbapi_connection
            assert raw is not None
            raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except OSError:
        return path.absolute()


def _orphans(photo_dir: Path | None, named: set[Path]) -> Iterable[Path]:
    """Files in ``photo_dir`` (temporary captures included) that no record names."""
    if photo_dir is None or not photo_dir.is_dir():
        return []
    return sorted(p for p in photo_dir.iterdir() if p.is_file() and _resolved(p) not in named)


def _named_by(session: Session, target: str, *, excluded: dict[str, set[int]]) -> set[int]:
    """Ids of ``target`` rows that a row not being purged refers to by a foreign key.

    Found from the metadata, so a table added later that names a person keeps them too.
    Rows that go with their parent (``ON DELETE CASCADE``, e.g. contacts) do not count.
    """
    named: set[int] = set()
    for table in Base.metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column.table.name != target or (fk.ondelete or "").upper() == "CASCADE":
                continue
            column: Column[int] = fk.parent
            skip = excluded.get(table.name, set())
            if "id" in table.c and skip:
                query = select(column).where(column.is_not(None), table.c.id.not_in(skip))
            else:
                query = select(column).where(column.is_not(None))
            named |= set(session.scalars(query))
    return named


def _event_prefix(
    session: Session, station: str, cutoff: datetime, kept_holdings: set[int]
) -> tuple[tuple[int, int] | None, int]:
    """``((last seq, count), held_back)`` of the events of ``station`` that may go.

    The prefix older than ``cutoff`` ends before the first event of a kept holding;
    ``held_back`` counts older events kept because of that.
    """
    last_seq: int | None = None
    count = held_back = 0
    stopped = False
    rows = session.execute(
        select(Event.seq, Event.occurred_at, Event.holding_id)
        .where(Event.station_id == station)
        .order_by(Event.seq)
    )
    for seq, occurred_at, holding_id in rows:
        if occurred_at >= cutoff:
            break  # only a prefix can go: an out-of-order clock must not open a gap
        if stopped or (holding_id is not None and holding_id in kept_holdings):
            stopped = True
            held_back += 1
            continue
        last_seq, count = seq, count + 1
    return ((last_seq, count) if last_seq is not None else None), held_back


# ------------------------------------------------------------------------------ the table
#: (kind of personal data, what it holds, where it is, how its period is read from the
#: profile). Rendered into docs/data-protection.md by :func:`retention_table`; a test keeps
#: the document in step with the default profile.
_TABLE: tuple[tuple[str, str, str, tuple[tuple[str, str], ...]], ...] = (
    (
        "Holdings (routine)",
        "pupil id, device description, reason (free text), collector's name, ID type seen, "
        "who did what and when",
        "Pi",
        (("holding_days", "{holding_days} days after the holding closed"),),
    ),
    (
        "Incidents (routine)",
        "pupil id, category, follow-up actions, summary (free text)",
        "Pi; central log",
        (
            (
                "incident_days",
                "{incident_days} days after it was recorded (never while the phone is held)",
            ),
        ),
    ),
    (
        "Safeguarding records",
        "holdings ever under a safeguarding hold, handed to the police (with the police "
        "reference) or in a category that forces a hold (suspected indecent images), and "
        "their incidents",
        "Pi; central log",
        (
            ("safeguarding_until_age", "until the pupil's {safeguarding_until_age}th birthday"),
            (
                "safeguarding_days_without_birth_date",
                "{safeguarding_days_without_birth_date} days after closing if the birth date "
                "is not known",
            ),
        ),
    ),
    (
        "Tray photos",
        "one still of the deposit tray",
        "Pi only",
        (("photo_days", "{photo_days} days after the phone went in"),),
    ),
    (
        "Audit events",
        "what happened, when, by staff id, to holding id (no names, no free text)",
        "Pi; central log",
        (
            (
                "event_days",
                "{event_days} days, oldest first, but never before the record they belong to",
            ),
        ),
    ),
    (
        "Sign-in records",
        "audit events of staff sign-in, wrong PINs and lock-outs (staff id only)",
        "Pi; central log",
        (("event_days", "{event_days} days, as audit events"),),
    ),
    (
        "Pupils who left",
        "name, MIS id, year and tutor group, card UID, exemption category, birth date",
        "Pi; central log (name, year group)",
        (
            (
                "pupil_left_days",
                "{pupil_left_days} days after leaving the MIS, once no kept record names them",
            ),
        ),
    ),
    (
        "Contacts",
        "name, relationship, parental responsibility, may collect",
        "Pi",
        (
            (
                "pupil_left_days",
                "with their pupil ({pupil_left_days} days after the pupil left); a "
                "contact removed in the MIS goes at the next contacts import",
            ),
        ),
    ),
    (
        "Staff who left",
        "name, staff code, roles, badge UID, PIN hash",
        "Pi; central log (name)",
        (
            (
                "staff_left_days",
                "{staff_left_days} days after leaving the staff list, once no kept "
                "record names them",
            ),
        ),
    ),
    (
        "Exam sessions",
        "exam name, room, candidate list",
        "Pi",
        (
            (
                "exam_session_days",
                "{exam_session_days} days after it ended, once its deposits have gone",
            ),
        ),
    ),
    (
        "Erasure requests",
        "pupil id, who asked for it to be done, the reason given, what was kept and why",
        "Pi",
        (("event_days", "{event_days} days after the request"),),
    ),
)


def retention_table(profile: policies.Profile) -> str:
    """The retention table of ``profile`` as Markdown: kind, contents, where, period, source."""
    values = {
        name: getattr(profile.retention, name).value
        for name in profile.retention.__dataclass_fields__
    }
    lines = [
        "| personal data | what it holds | where | kept for | profile key and source |",
        "|---|---|---|---|---|",
    ]
    for kind, holds, where, periods in _TABLE:
        texts, keys = [], []
        for key, sentence in periods:
            texts.append(sentence.format(**values))
            rule = getattr(profile.retention, key)
            keys.append(f"`retention.{key}` — {rule.source}")
        sources = "<br>".join(dict.fromkeys(keys))
        lines.append(f"| {kind} | {holds} | {where} | {'; '.join(texts)} | {sources} |")
    return "\n".join(lines)


if __name__ == "__main__":  # python -m kiosk.retention [PROFILE]: print the table
    import sys

    print(retention_table(policies.load_profile(sys.argv[1] if len(sys.argv) > 1 else "default")))
