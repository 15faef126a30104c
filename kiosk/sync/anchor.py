"""The anchor: the newest (seq, hash) the central log acknowledged holding for this station.

Why: the chain head on the kiosk pins the newest event, but someone who deletes the newest
events can rewrite the head too. The central log's acknowledgement is outside their reach,
so ``kiosk audit verify`` checks the local chain still reaches it. The anchor is kept twice:
a small JSON file in the data folder (written atomically: temp file, fsync, rename) and a
copy in the ledger (``sync_anchors``), and the chain must reach both. Editing the database
alone cannot move the anchor back.

The anchor only ever moves forward. If the central log answers with an older anchor (it
was restored from a backup), the relay resends what it lacks, but the kiosk keeps the newer
anchor it was once given: the local events up to it must still be there.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Event, SyncAnchor

if TYPE_CHECKING:  # the staff UI's sync banner reads anchors: no pydantic wire models for it
    from wire import Anchor

ANCHOR_FILE = "sync-anchor.json"


class AnchorFileError(Exception):
    """The anchor file exists but cannot be read as one."""


@dataclass(frozen=True)
class StoredAnchor:
    station_id: str
    seq: int
    hash: str
    acknowledged_at: datetime

    def as_json(self) -> dict[str, object]:
        return {
            "station_id": self.station_id,
            "seq": self.seq,
            "hash": self.hash,
            "acknowledged_at": self.acknowledged_at.isoformat(),
        }


def anchor_path(data_dir: Path) -> Path:
    return Path(data_dir) / ANCHOR_FILE


def read_anchor_file(data_dir: Path) -> StoredAnchor | None:
    path = anchor_path(data_dir)
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        data = json.loads(raw)
        return StoredAnchor(
            station_id=str(data["station_id"]),
            seq=int(data["seq"]),
            hash=str(data["hash"]),
            acknowledged_at=datetime.fromisoformat(data["acknowledged_at"]),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise AnchorFileError(
            f"{path}: not a sync anchor ({exc}); it is written only by `kiosk sync`: "
            "restore it from a backup or ask the central log for the station's anchor"
        ) from None


def write_anchor_file(data_dir: Path, anchor: StoredAnchor) -> None:
    """Replace the anchor file atomically, so a power cut leaves the old or the new one."""
    path = anchor_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".sync-anchor.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(anchor.as_json(), out, indent=2)
            out.write("\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def db_anchor(session: Session, station_id: str) -> StoredAnchor | None:
    row = session.get(SyncAnchor, station_id)
    if row is None:
        return None
    return StoredAnchor(row.station_id, row.seq, row.hash, row.acknowledged_at)


def current_anchor(session: Session, data_dir: Path, station_id: str) -> StoredAnchor | None:
    """The anchor to trust: the file's, else the database copy."""
    from_file = read_anchor_file(data_dir)
    if from_file is not None and from_file.station_id == station_id:
        return from_file
    return db_anchor(session, station_id)


def save_anchor(
    session: Session, data_dir: Path, station_id: str, anchor: Anchor, now: datetime
) -> StoredAnchor:
    """Record the central log's acknowledgement (file first, then the caller commits the DB).

    Returns the anchor now stored, which stays the older one if ``anchor`` is behind it.
    """
    stored = current_anchor(session, data_dir, station_id)
    if stored is not None and stored.seq > anchor.seq:
        return stored
    new = StoredAnchor(station_id, anchor.seq, anchor.hash, now)
    write_anchor_file(data_dir, new)
    row = session.get(SyncAnchor, station_id)
    if row is None:
        session.add(
            SyncAnchor(station_id=station_id, seq=anchor.seq, hash=anchor.hash, acknowledged_at=now)
        )
    else:
        row.seq, row.hash, row.acknowledged_at = anchor.seq, anchor.hash, now
    return new


def touch_success(session: Session, station_id: str, now: datetime) -> None:
    """A successful exchange that did not move the anchor still counts as the last success."""
    row = session.get(SyncAnchor, station_id)
    if row is not None:
        row.acknowledged_at = now


@dataclass(frozen=True)
class AnchorProblem:
    station_id: str
    detail: str

    def __str__(self) -> str:
        return f"station {self.station_id}: {self.detail}"


def check_anchor(session: Session, data_dir: Path) -> AnchorProblem | None:
    """Does the local chain still reach what the central log acknowledged? ``None``: yes.

    Checked against both copies: the file and the ledger's row. They may differ for a
    moment (a power cut between writing the file and committing the row leaves the file
    ahead), which is not itself a problem; an event missing or different at either copy's
    seq is. Catches: the newest events deleted after they were synced (even with the chain
    head and the ledger's copy rewritten to match), an acknowledged event altered, the
    anchor file deleted while the ledger records that one was given.
    """
    try:
        from_file = read_anchor_file(data_dir)
    except AnchorFileError as exc:
        return AnchorProblem("?", str(exc))
    db_rows = {row.station_id: row for row in session.scalars(select(SyncAnchor))}
    stations = set(db_rows) | ({from_file.station_id} if from_file else set())
    for station in sorted(stations):
        row = db_rows.get(station)
        in_file = from_file if from_file is not None and from_file.station_id == station else None
        if in_file is None and row is not None:
            return AnchorProblem(
                station,
                f"the anchor file {anchor_path(data_dir)} is missing but the ledger records "
                f"that the central log acknowledged seq {row.seq}: the file was deleted or "
                "the data folder replaced",
            )
        copies = [("anchor file", in_file.seq, in_file.hash)] if in_file else []
        if row is not None:
            copies.append(("ledger's anchor copy", row.seq, row.hash))
        for where, seq, digest in sorted(copies, key=lambda c: -c[1]):
            problem = _reaches(session, station, where, seq, digest)
            if problem is not None:
                return problem
    return None


def _reaches(
    session: Session, station: str, where: str, seq: int, digest: str
) -> AnchorProblem | None:
    local = session.execute(
        select(Event.hash).where(Event.station_id == station, Event.seq == seq)
    ).scalar_one_or_none()
    if local is None:
        newest = session.scalar(
            select(Event.seq).where(Event.station_id == station).order_by(Event.seq.desc())
        )
        return AnchorProblem(
            station,
            f"the central log acknowledged seq {seq} ({where}) but the kiosk's chain ends "
            f"at seq {newest or 0}: events synced to the central log were deleted here",
        )
    if local != digest:
        return AnchorProblem(
            station,
            f"event seq {seq} is not the one the central log acknowledged ({where}: hash "
            f"{digest[:12]}…, here {local[:12]}…): the event or the anchor was rewritten",
        )
    return None
