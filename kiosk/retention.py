"""Retention purge: remove personal data the profile says the school no longer needs.

Closed holdings (released, handed to police, aborted) and their incidents go once their
retention period has passed; tray photos go on their own, shorter schedule. Events stay:
they carry ids, not names, so the hash chain survives the purge intact.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

import policies
from db.audit import append_event
from db.models import OPEN_STATES, Holding, Incident
from wire.vocabulary import EventType


@dataclass
class PurgeReport:
    holdings: list[int] = field(default_factory=list)
    incidents: list[int] = field(default_factory=list)
    photos: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.holdings) + len(self.incidents) + len(self.photos)


def purge(
    session: Session,
    profile: policies.Profile,
    *,
    now: datetime,
    station_id: str,
    dry_run: bool = False,
) -> PurgeReport:
    """Find (and unless ``dry_run``, delete) what is past retention. Caller commits."""
    report = PurgeReport()
    # Tray photos only prove the phone went in: their clock starts when it went in, open or not.
    for h in session.scalars(select(Holding).where(Holding.photo_path.is_not(None))):
        assert h.photo_path is not None
        if policies.retention_expired(h.held_at or h.created_at, "photo", now, profile):
            report.photos.append(h.photo_path)
    closed = session.scalars(select(Holding).where(Holding.closed_at.is_not(None)))
    doomed: list[Holding] = []
    for h in closed:
        assert h.closed_at is not None
        if policies.retention_expired(h.closed_at, "holding", now, profile):
            report.holdings.append(h.id)
            doomed.append(h)
    open_ids = set(
        session.scalars(select(Holding.id).where(Holding.state.in_([x.value for x in OPEN_STATES])))
    )
    for inc in session.scalars(select(Incident)):
        if inc.holding_id in open_ids:
            continue  # an incident stays while its phone is still held
        if policies.retention_expired(inc.created_at, "incident", now, profile):
            report.incidents.append(inc.id)
    if dry_run or report.total == 0:
        return report
    for photo in report.photos:
        Path(photo).unlink(missing_ok=True)
    for h in session.scalars(select(Holding).where(Holding.photo_path.in_(report.photos))):
        h.photo_path = None
    for inc_id in report.incidents:
        doomed_incident = session.get(Incident, inc_id)
        if doomed_incident is not None:
            session.delete(doomed_incident)
    for h in doomed:
        session.delete(h)
    append_event(
        session,
        station_id=station_id,
        type=EventType.RETENTION_PURGED,
        occurred_at=now,
        payload={
            "holdings": report.holdings,
            "incidents": report.incidents,
            "photos": len(report.photos),
        },
    )
    return report
