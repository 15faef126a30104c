"""What ``kiosk sync status`` prints and what the staff screen's sync banner says.

Read-only, one short read transaction. The public screen never shows any of this.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session, sessionmaker

from db.models import Event, OutboxRow
from kiosk.sync.anchor import AnchorFileError, StoredAnchor, current_anchor, db_anchor


@dataclass(frozen=True)
class SyncStatus:
    station_id: str
    backlog: int
    oldest_unsent: datetime | None
    last_success: datetime | None
    quarantined: int
    quarantine_reason: str | None
    blocked_from: int | None
    last_error: str | None
    anchor: StoredAnchor | None

    def lines(self, tz: object | None = None) -> list[str]:
        def when(moment: datetime | None) -> str:
            if moment is None:
                return "never"
            return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S %Z")  # type: ignore[arg-type]

        out = [
            f"station:        {self.station_id}",
            f"backlog:        {self.backlog} event(s) not yet at the central log",
            f"oldest unsent:  {when(self.oldest_unsent) if self.backlog else '-'}",
            f"last success:   {when(self.last_success)}",
            f"quarantined:    {self.quarantined} event(s)",
        ]
        if self.quarantined:
            out.append(f"  blocked from seq {self.blocked_from}: {self.quarantine_reason}")
        if self.last_error and self.backlog:
            out.append(f"last error:     {self.last_error}")
        if self.anchor is None:
            out.append("anchor:         none (nothing acknowledged yet)")
        else:
            out.append(f"anchor:         seq {self.anchor.seq} hash {self.anchor.hash}")
        return out


def sync_status(session: Session, station_id: str, data_dir: Path) -> SyncStatus:
    unsent = (
        select(OutboxRow)
        .join(Event, Event.id == OutboxRow.event_id)
        .where(Event.station_id == station_id, OutboxRow.sent_at.is_(None))
    )
    backlog = (
        session.scalar(
            select(func.count()).select_from(
                unsent.where(OutboxRow.quarantined_at.is_(None)).subquery()
            )
        )
        or 0
    )
    oldest = session.scalar(
        select(func.min(OutboxRow.created_at))
        .join(Event, Event.id == OutboxRow.event_id)
        .where(Event.station_id == station_id, OutboxRow.sent_at.is_(None))
    )
    q = session.execute(
        select(Event.seq, OutboxRow.quarantine_reason)
        .join(OutboxRow, OutboxRow.event_id == Event.id)
        .where(Event.station_id == station_id, OutboxRow.quarantined_at.is_not(None))
        .order_by(Event.seq)
    ).all()
    last_error = session.scalar(
        select(OutboxRow.last_error)
        .join(Event, Event.id == OutboxRow.event_id)
        .where(
            Event.station_id == station_id,
            OutboxRow.sent_at.is_(None),
            OutboxRow.last_error.is_not(None),
        )
        .order_by(Event.seq)
        .limit(1)
    )
    try:
        anchor = current_anchor(session, data_dir, station_id)
    except AnchorFileError:
        anchor = db_anchor(session, station_id)
    stored = db_anchor(session, station_id)
    return SyncStatus(
        station_id=station_id,
        backlog=backlog,
        oldest_unsent=oldest,
        last_success=stored.acknowledged_at if stored else None,
        quarantined=len(q),
        quarantine_reason=q[0][1] if q else None,
        blocked_from=q[0][0] if q else None,
        last_error=last_error,
        anchor=anchor,
    )


@dataclass(frozen=True)
class SyncBanner:
    """One line for the staff screen; ``alarm`` means the central log refused something."""

    text: str
    alarm: bool


def sync_state(
    session: Session, now: datetime, limit: timedelta, station_id: str | None = None
) -> SyncBanner | None:
    """The staff-screen banner, or ``None`` when sync is healthy enough to say nothing.

    A banner when the central log refused events (an alarm: it may mean tampering) or when
    the oldest unsent event is older than ``limit`` (the profile's or config's backlog age).
    """
    where: list[ColumnElement[bool]] = [OutboxRow.sent_at.is_(None)]
    if station_id is not None:
        where.append(Event.station_id == station_id)
    quarantined = (
        session.scalar(
            select(func.count())
            .select_from(OutboxRow)
            .join(Event, Event.id == OutboxRow.event_id)
            .where(*where, OutboxRow.quarantined_at.is_not(None))
        )
        or 0
    )
    if quarantined:
        return SyncBanner(
            f"The central incident log refused {quarantined} record(s); nothing newer can be "
            "sent until this is investigated (`kiosk sync status`). Tell the DSL.",
            alarm=True,
        )
    oldest = session.scalar(
        select(func.min(OutboxRow.created_at))
        .join(Event, Event.id == OutboxRow.event_id)
        .where(*where)
    )
    if oldest is not None and now - oldest > limit:
        hours = (now - oldest).total_seconds() / 3600
        return SyncBanner(
            f"Records have not reached the central incident log for {hours:.0f} h "
            "(network or central server down). They are safe here and will be sent.",
            alarm=False,
        )
    return None


def staff_banner(
    sessions: sessionmaker[Session], station_id: str, now: datetime, alert_minutes: int
) -> SyncBanner | None:
    """:func:`sync_state` in its own short read transaction, for the staff UI to poll
    (e.g. ``staff_banner(ctx.sessions, cfg.station.id, now, cfg.sync.backlog_alert_minutes)``)."""
    with sessions() as s:
        return sync_state(s, now, timedelta(minutes=alert_minutes), station_id)
