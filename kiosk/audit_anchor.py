"""A keyed anchor of each station's chain head, kept outside the database.

Why: ``chain_heads`` pins the newest event, but whoever can delete the newest events can
rewrite that row too, and until the central log acknowledges (``kiosk sync``'s anchor) nothing
else remembers how long the chain was. This module keeps, in ``<data_dir>/audit-anchor.json``,
each station's newest (seq, hash) with an HMAC-SHA256 under a key held in a separate file
(config ``[audit] anchor_key_file``, default ``<data_dir>/anchor.key``, created 0600 on first
use). ``kiosk audit verify`` checks the MAC and that the chain still reaches that event, so
deleting the tail and rewriting ``chain_heads`` shows even before any sync. Editing the file
needs the key; deleting it while the key exists shows too. On a Pi the key belongs in a
directory the kiosk user alone can read and that a copy of the data folder does not carry:
the systemd unit can give it its own ``StateDirectory=`` (or load it with
``LoadCredential=`` and point ``anchor_key_file`` at ``$CREDENTIALS_DIRECTORY``).

When it is written: after *every* commit that appended events, from one place — session
event hooks on the station's session factory (:func:`install`), so every writer (use-cases,
sign-ins, staff admin, imports, purges) is covered without each remembering to. A lazier
"every N events / at stop" anchor would leave up to N events deletable unseen, and a power
cut skips "at stop". The anchor only moves forward (a file lock serialises the station and
CLI processes).

Off the tap's critical path (issue 15): the commit hook only hands the new heads to an
:class:`AnchorWriter`, whose thread writes the file (fsync + rename) while the station
pulses the door. The write was 5.6 ms median, 11.9 ms p90 under load, inside every commit
and so before every unlock; the ledger's own commit is the durable fact, and the anchor only
has to catch a deleted tail. The window is the same kind as before — "committed, not yet
anchored" — and only a few milliseconds longer: the writer starts at once, does not wait to
batch, and a burst of commits that lands while it writes goes out as one write of the newest
heads (it never goes backwards). :meth:`KioskContext.close` and interpreter exit flush it,
and :func:`check` flushes this process's writers before reading, so an in-process
``audit verify`` never sees its own lag. A power cut inside the window leaves events after
the anchor, which verify names (below); docs/audit.md describes the window.

The check is strict both ways: the chain must reach the anchored event *and* end there. An
event after the anchor is one the kiosk did not write: the chain's hash is unkeyed, so
someone can append a well-formed ``holding.released`` with a recomputed hash and a matching
``chain_heads`` row; only the key tells the kiosk's events from theirs. The one honest way to
get there is a power cut between the database commit and the anchor write (a window of one
file write); verify then names those events for staff to look at.
"""

from __future__ import annotations

import atexit
import fcntl
import hashlib
import hmac
import json
import logging
import os
import secrets
import tempfile
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

from db.audit import APPENDED_HEADS
from db.models import ChainCheckpoint, Event

ANCHOR_FILE = "audit-anchor.json"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HmacAnchorProblem:
    station_id: str
    detail: str

    def __str__(self) -> str:
        return f"station {self.station_id}: {self.detail}"


def load_key(path: Path, *, create: bool) -> bytes | None:
    """The anchor key; created (0600, 32 random bytes, hex) when ``create`` and missing."""
    try:
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    except FileNotFoundError:
        if not create:
            return None
    except ValueError:
        raise ValueError(f"{path}: not an anchor key (hex); restore it from backup") from None
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return load_key(path, create=False)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(secrets.token_hex(32) + "\n")
        out.flush()
        os.fsync(out.fileno())
    return load_key(path, create=False)


def mac(key: bytes, station_id: str, seq: int, digest: str) -> str:
    message = json.dumps([station_id, seq, digest], separators=(",", ":")).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _read(data_dir: Path) -> dict[str, Any]:
    path = Path(data_dir) / ANCHOR_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    stations = data.get("stations") if isinstance(data, dict) else None
    if not isinstance(stations, dict):
        raise ValueError(f"{path}: not an audit anchor file")
    return stations


@contextmanager
def _locked(data_dir: Path) -> Iterator[None]:
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / f".{ANCHOR_FILE}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def record_heads(data_dir: Path, key_file: Path, heads: dict[str, tuple[int, str]]) -> None:
    """Move each station's anchor forward to ``heads`` (atomic replace; never backwards)."""
    key = load_key(key_file, create=True)
    assert key is not None
    data_dir = Path(data_dir)
    with _locked(data_dir):
        stations = _read(data_dir)
        changed = False
        for station, (seq, digest) in heads.items():
            old = stations.get(station)
            if old is not None and int(old.get("seq", 0)) >= seq:
                continue
            stations[station] = {"seq": seq, "hash": digest, "mac": mac(key, station, seq, digest)}
            changed = True
        if not changed:
            return
        fd, tmp = tempfile.mkstemp(prefix=f".{ANCHOR_FILE}.", dir=data_dir)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump({"stations": stations}, out, indent=2, sort_keys=True)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, data_dir / ANCHOR_FILE)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


class AnchorWriter:
    """Writes the anchor file from its own thread, coalescing bursts (module docstring).

    ``submit`` merges heads into the pending set (newest seq per station) and wakes the
    thread; ``flush`` waits until everything submitted so far is on disk (or failed, which
    is logged as before: the commit has happened and must not be undone).
    """

    def __init__(self, data_dir: Path, key_file: Path) -> None:
        self.data_dir, self.key_file = Path(data_dir), Path(key_file)
        self._cond = threading.Condition()
        self._pending: dict[str, tuple[int, str]] = {}
        self._submitted = 0  # submissions so far
        self._done = 0  # submissions written (or failed) so far
        self._closed = False
        self._thread: threading.Thread | None = None
        _WRITERS.add(self)

    def submit(self, heads: dict[str, tuple[int, str]]) -> None:
        with self._cond:
            if self._closed:  # after close (a late commit at shutdown): write it here
                self._write(dict(heads))
                return
            for station, (seq, digest) in heads.items():
                old = self._pending.get(station)
                if old is None or seq > old[0]:
                    self._pending[station] = (seq, digest)
            self._submitted += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="audit-anchor", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._cond.wait()
                if not self._pending:  # closed and drained
                    return
                heads, self._pending = self._pending, {}
                upto = self._submitted
            self._write(heads)
            with self._cond:
                self._done = upto
                self._cond.notify_all()

    def _write(self, heads: dict[str, tuple[int, str]]) -> None:
        try:
            record_heads(self.data_dir, self.key_file, heads)
        except (OSError, ValueError) as exc:  # committed already: say so, do not fail it
            log.error("could not update the audit anchor: %s", exc)

    def flush(self) -> None:
        """Return once every head submitted before this call is written."""
        with self._cond:
            target = self._submitted
            while self._done < target and self._thread is not None and self._thread.is_alive():
                self._cond.wait()

    def close(self) -> None:
        """Flush and stop the thread; later commits are anchored synchronously."""
        self.flush()
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join()


_WRITERS: weakref.WeakSet[AnchorWriter] = weakref.WeakSet()


def flush_all() -> None:
    """Flush every anchor writer of this process (verify reads the file right after)."""
    for writer in list(_WRITERS):
        writer.flush()


atexit.register(flush_all)  # a CLI command that never closed its context still anchors


def install(sessions: sessionmaker[Session], data_dir: Path, key_file: Path) -> AnchorWriter:
    """Anchor the newest event of every commit that appended events (module docstring)."""
    writer = AnchorWriter(data_dir, key_file)

    @event.listens_for(sessions, "after_flush")
    def _seen(session: Session, _ctx: object) -> None:
        # ``append_event`` records its heads itself (plain INSERTs); an Event added as an
        # ORM object (tests, tools) is seen here.
        heads: dict[str, tuple[int, str]] = session.info.setdefault(APPENDED_HEADS, {})
        for obj in session.new:
            if isinstance(obj, Event):
                old = heads.get(obj.station_id)
                if old is None or obj.seq > old[0]:
                    heads[obj.station_id] = (obj.seq, obj.hash)

    @event.listens_for(sessions, "after_commit")
    def _anchor(session: Session) -> None:
        heads = session.info.pop(APPENDED_HEADS, None)
        if heads:
            writer.submit(heads)

    @event.listens_for(sessions, "after_rollback")
    def _forget(session: Session) -> None:
        session.info.pop(APPENDED_HEADS, None)

    @event.listens_for(sessions, "after_transaction_end")
    def _ended(session: Session, transaction: SessionTransaction) -> None:
        # ``Session.close()`` ends a transaction without ``after_rollback``; a commit has
        # popped its heads already (``after_commit`` comes first), so this only drops heads
        # that were never committed, before a reused session's next commit could anchor them.
        if transaction.parent is None:
            session.info.pop(APPENDED_HEADS, None)

    return writer


def check(session: Session, data_dir: Path, key_file: Path) -> HmacAnchorProblem | None:
    """Does every station's chain still reach its keyed anchor? ``None``: yes."""
    flush_all()  # this process's own commits are anchored before we read the file
    try:
        stations = _read(Path(data_dir))
        key = load_key(key_file, create=False)
    except ValueError as exc:
        return HmacAnchorProblem("?", str(exc))
    if key is None:
        if stations:
            return HmacAnchorProblem(
                "?", f"the anchor key {key_file} is missing: restore it from backup"
            )
        return None  # never anchored yet (a ledger from before anchors, or no events)
    if not stations and session.scalar(select(Event.id).limit(1)) is not None:
        return HmacAnchorProblem(
            "?",
            f"the audit anchor {Path(data_dir) / ANCHOR_FILE} is missing but its key exists: "
            "the file was deleted",
        )
    for station, entry in sorted(stations.items()):
        try:
            seq, digest, tag = int(entry["seq"]), str(entry["hash"]), str(entry["mac"])
        except (KeyError, TypeError, ValueError):
            return HmacAnchorProblem(station, "the audit anchor entry is malformed")
        if not hmac.compare_digest(tag, mac(key, station, seq, digest)):
            return HmacAnchorProblem(
                station, "the audit anchor's HMAC does not match: the anchor file was edited"
            )
        local = session.execute(
            select(Event.hash).where(Event.station_id == station, Event.seq == seq)
        ).scalar_one_or_none()
        if local is None:
            newest = session.scalar(
                select(Event.seq).where(Event.station_id == station).order_by(Event.seq.desc())
            )
            purged = _purged_past(session, station, seq)
            if purged:
                continue  # the anchored event went in a retention purge: the chain is longer
            return HmacAnchorProblem(
                station,
                f"the keyed anchor says the chain reached seq {seq} but it ends at seq "
                f"{newest or 0}: the newest events were deleted (and chain_heads rewritten)",
            )
        if local != digest:
            return HmacAnchorProblem(
                station,
                f"event seq {seq} is not the one anchored (hash {digest[:12]}…, here "
                f"{local[:12]}…): the event was rewritten",
            )
        newest = session.scalar(
            select(Event.seq).where(Event.station_id == station).order_by(Event.seq.desc())
        )
        if newest is not None and newest > seq:
            return HmacAnchorProblem(
                station,
                f"events seq {seq + 1}..{newest} come after the keyed anchor (seq {seq}): "
                "they were not written by the kiosk (appended by hand with recomputed hashes), "
                "or the kiosk stopped between committing them and anchoring",
            )
    return None


def _purged_past(session: Session, station: str, seq: int) -> bool:
    """True when ``seq`` is at or below the station's retention checkpoint (so it is gone
    legitimately; verify_chain vouches for the checkpoint) and the chain now goes beyond it."""
    cp = session.get(ChainCheckpoint, station)
    if cp is None or seq > cp.seq:
        return False
    newest = session.scalar(
        select(Event.seq).where(Event.station_id == station).order_by(Event.seq.desc())
    )
    return newest is not None and newest > seq
