"""Subject access and erasure requests for one pupil (UK GDPR Art. 15 and 17).

:func:`export_pupil` gathers everything the kiosk holds about one pupil: the reference data
from the MIS, contacts, every holding and incident, exam sessions they were a candidate in,
the audit events of their holdings and any earlier erasure request. Photos are listed by
file name, not embedded: the school decides whether to show a tray photo.

:func:`erase_pupil` removes one pupil's data. Safeguarding records (see
:func:`kiosk.retention.is_safeguarding`) are excepted — the right to erasure does not apply
where the school must keep them (Art. 17(3)(b) legal obligation, 17(3)(e) legal claims;
Keeping Children Safe in Education) — and so is what identifies the pupil in them (name, MIS
id, birth date, which sets how long they are kept). What was kept and why is recorded in an
:class:`db.models.ErasureRequest` (free text stays out of the event chain); the chain gets a
``subject.erased`` event with counts only. Events themselves stay: they carry ids, not names.

Both take ``actor`` (the signed-in staff id) and record it. ``kiosk subject export`` needs a
signed-in senior or DSL, ``kiosk subject erase`` a senior (``--badge`` and the PIN,
:mod:`kiosk.cli_auth`).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, NoReturn

import click
from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

import policies
from db.audit import append_event
from db.engine import DatabaseCorrupt
from db.models import OPEN_STATES, ErasureRequest, Event, ExamSession, Holding, Incident, Pupil
from kiosk.auth import authorise
from kiosk.cli_auth import badge_option, signed_in
from kiosk.config import KioskConfig
from kiosk.context import KioskContext, NotReady, open_context
from kiosk.permissions import Permission
from kiosk.retention import flush_write_ahead_log, is_safeguarding, overwrite_deleted_rows

#: Why safeguarding records survive an erasure request (recorded with every such request).
SAFEGUARDING_GROUND = (
    "safeguarding records kept: UK GDPR Art. 17(3)(b) and (e) (legal obligation, legal "
    "claims) and Keeping Children Safe in Education; retention.safeguarding_until_age applies"
)


class SubjectError(Exception):
    """The request cannot go ahead; the message says what to do."""


@dataclass
class ErasureResult:
    removed: dict[str, int] = field(default_factory=dict)
    kept: dict[str, int] = field(default_factory=dict)
    ground: str | None = None
    request_id: int | None = None


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _row(obj: object, *, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """Every column of a mapped row, JSON-ready (secrets are skipped by the caller)."""
    mapper = inspect(obj).mapper
    return {
        attr.key: _plain(getattr(obj, attr.key))
        for attr in mapper.column_attrs
        if attr.key not in skip
    }


def _find(session: Session, mis_id: str) -> Pupil:
    pupil = session.scalars(select(Pupil).where(Pupil.mis_id == mis_id)).one_or_none()
    if pupil is None:
        raise SubjectError(
            f"no pupil with MIS id {mis_id!r} is held on this kiosk (already erased or "
            "purged, or never imported); nothing to do"
        )
    return pupil


def export_pupil(
    session: Session, mis_id: str, *, actor: int | None, now: datetime, station_id: str
) -> dict[str, Any]:
    """Everything held about one pupil, as JSON-ready data. Records the export as an event."""
    pupil = _find(session, mis_id)
    holdings = list(
        session.scalars(select(Holding).where(Holding.pupil_id == pupil.id).order_by(Holding.id))
    )
    holding_ids = [h.id for h in holdings]
    incidents = session.scalars(
        select(Incident)
        .where((Incident.pupil_id == pupil.id) | Incident.holding_id.in_(holding_ids))
        .order_by(Incident.id)
    )
    sessions = [
        es
        for es in session.scalars(select(ExamSession).order_by(ExamSession.id))
        if pupil.id in (es.candidates or [])
    ]
    events = session.scalars(
        select(Event).where(Event.holding_id.in_(holding_ids)).order_by(Event.station_id, Event.seq)
    )
    requests = session.scalars(select(ErasureRequest).where(ErasureRequest.pupil_id == pupil.id))
    export = {
        "exported_at": now.isoformat(),
        "station": station_id,
        "pupil": _row(pupil),
        "contacts": [_row(c) for c in pupil.contacts],
        "holdings": [
            {**_row(h), "photo_file": Path(h.photo_path).name if h.photo_path else None}
            for h in holdings
        ],
        "incidents": [_row(i) for i in incidents],
        "exam_sessions": [
            {k: v for k, v in _row(es).items() if k != "candidates"} for es in sessions
        ],
        "events": [
            {k: v for k, v in _row(e).items() if k not in ("prev_hash", "hash")} for e in events
        ],
        "erasure_requests": [_row(r) for r in requests],
    }
    append_event(
        session,
        station_id=station_id,
        type="subject.exported",
        occurred_at=now,
        actor_id=actor,
        payload={"pupil_id": pupil.id},
    )
    return export


def erase_pupil(
    session: Session,
    mis_id: str,
    *,
    reason: str,
    actor: int | None,
    now: datetime,
    station_id: str,
    profile: policies.Profile,
) -> ErasureResult:
    """Remove one pupil's data except safeguarding records; the caller commits.

    Refused while a phone of theirs is still held (release or settle it first).
    """
    if not reason.strip():
        raise SubjectError("give the reason for the erasure (e.g. 'Art. 17 request of <date>')")
    pupil = _find(session, mis_id)
    overwrite_deleted_rows(session)
    holdings = list(session.scalars(select(Holding).where(Holding.pupil_id == pupil.id)))
    still_held = [h.id for h in holdings if h.state in {s.value for s in OPEN_STATES}]
    if still_held:
        raise SubjectError(
            f"a phone of this pupil is still held (holding {', '.join(map(str, still_held))}): "
            "release it or settle the holding first; nothing was erased"
        )
    kept_holdings = [h for h in holdings if is_safeguarding(h, profile)]
    kept_ids = {h.id for h in kept_holdings}
    gone_holdings = [h for h in holdings if h.id not in kept_ids]
    gone_ids = {h.id for h in gone_holdings}
    incidents = list(
        session.scalars(
            select(Incident).where(
                (Incident.pupil_id == pupil.id) | Incident.holding_id.in_(gone_ids | kept_ids)
            )
        )
    )

    def safeguarding_incident(i: Incident) -> bool:
        if i.holding_id in kept_ids:
            return True
        if not i.category or not profile.has_category(i.category):
            return False
        category = profile.category(i.category)
        return category.forces_safeguarding_hold or category.forbids_viewing

    kept_incidents = [i for i in incidents if safeguarding_incident(i)]
    gone_incidents = [i for i in incidents if not safeguarding_incident(i)]

    photos = 0
    for h in holdings:
        if h.photo_path:
            Path(h.photo_path).unlink(missing_ok=True)
            h.photo_path = None
            photos += 1
    for i in gone_incidents:
        session.delete(i)
    session.flush()
    for h in gone_holdings:
        session.delete(h)
    candidacies = 0
    for es in session.scalars(select(ExamSession)):
        if pupil.id in (es.candidates or []):
            es.candidates = [c for c in es.candidates if c != pupil.id]
            candidacies += 1
    contacts = len(pupil.contacts)
    result = ErasureResult(
        removed={
            "holdings": len(gone_holdings),
            "incidents": len(gone_incidents),
            "contacts": contacts,
            "photos": photos,
            "exam_candidacies": candidacies,
            "pupil": 0 if kept_holdings or kept_incidents else 1,
        },
        kept={
            "safeguarding_holdings": len(kept_holdings),
            "safeguarding_incidents": len(kept_incidents),
        },
    )
    pupil_id = pupil.id
    if kept_holdings or kept_incidents:
        # Keep only what identifies the child in the safeguarding record, and the birth date
        # that sets how long it is kept; card, adjustments and contacts go.
        result.ground = SAFEGUARDING_GROUND
        pupil.contacts.clear()
        pupil.card_uid = None
        pupil.exemptions = []
        pupil.tutor_group = ""
        for h in kept_holdings:
            h.collector_name = None  # the collector is not the subject of the record
    else:
        session.delete(pupil)
    session.flush()
    request = ErasureRequest(
        pupil_id=pupil_id,
        requested_at=now,
        actor_id=actor,
        reason=reason.strip(),
        removed=result.removed,
        kept={**result.kept, "ground": result.ground} if result.ground else {},
    )
    session.add(request)
    session.flush()
    result.request_id = request.id
    append_event(
        session,
        station_id=station_id,
        type="subject.erased",
        occurred_at=now,
        actor_id=actor,
        payload={
            "request": request.id,
            "pupil_id": pupil_id,
            "removed": result.removed,
            "kept": result.kept,
        },
    )
    return result


# ------------------------------------------------------------------------------ CLI
def _fail(message: str) -> NoReturn:
    click.echo(f"kiosk: {message}", err=True)
    sys.exit(2)


def _open(ctx: click.Context) -> KioskContext:
    config: KioskConfig = ctx.find_object(dict)["config"]  # type: ignore[index]
    try:
        return open_context(config)
    except (NotReady, DatabaseCorrupt, policies.ProfileError) as exc:
        _fail(str(exc))


@click.group()
def subject() -> None:
    """Subject access and erasure requests (one pupil at a time)."""


@subject.command("export")
@click.option("--pupil", "mis_id", required=True, help="The pupil's MIS id.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the JSON here (default: standard output).",
)
@badge_option
@click.pass_context
def subject_export(ctx: click.Context, mis_id: str, out: Path | None, badge: str | None) -> None:
    """Everything held about one pupil, as JSON (a subject access request). Needs a signed-in
    senior or DSL (the export includes safeguarding records), recorded as the actor."""
    k = _open(ctx)
    try:
        with (
            signed_in(k, badge, Permission.SUBJECT_ACCESS, command="subject export") as me,
            k.sessions.begin() as s,
        ):
            authorise(s, me, Permission.SUBJECT_ACCESS)
            data = export_pupil(
                s, mis_id, actor=me.staff_id, now=datetime.now(UTC), station_id=k.config.station.id
            )
    except SubjectError as exc:
        _fail(str(exc))
    finally:
        k.close()
    text = json.dumps(data, indent=2, ensure_ascii=False)
    if out is None:
        click.echo(text)
    else:
        out.write_text(text + "\n", encoding="utf-8")
        click.echo(f"wrote {out}")


@subject.command("erase")
@click.option("--pupil", "mis_id", required=True, help="The pupil's MIS id.")
@click.option("--reason", required=True, help="Why (e.g. 'Art. 17 request of 2026-11-20').")
@badge_option
@click.pass_context
def subject_erase(ctx: click.Context, mis_id: str, reason: str, badge: str | None) -> None:
    """Remove one pupil's data; safeguarding records are kept, with the ground recorded.
    Needs a signed-in senior, recorded as the actor."""
    k = _open(ctx)
    try:
        with (
            signed_in(k, badge, Permission.SUBJECT_ERASURE, command="subject erase") as me,
            k.sessions.begin() as s,
        ):
            authorise(s, me, Permission.SUBJECT_ERASURE)
            result = erase_pupil(
                s,
                mis_id,
                reason=reason,
                actor=me.staff_id,
                now=datetime.now(UTC),
                station_id=k.config.station.id,
                profile=k.profile,
            )
        flush_write_ahead_log(k.engine)
    except SubjectError as exc:
        _fail(str(exc))
    finally:
        k.close()
    removed = ", ".join(f"{n} {what}" for what, n in result.removed.items())
    click.echo(f"erasure request {result.request_id}: removed {removed}")
    if result.ground:
        kept = ", ".join(f"{n} {what}" for what, n in result.kept.items())
        click.echo(f"kept {kept}: {result.ground}")
