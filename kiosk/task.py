"""The one piece of work in progress at the hatch, so a lock can settle it safely.

Why the station service (not a screen, not the UI) owns it: a lock throws every screen away,
yet a holding committed as ``depositing``/``releasing`` must still be rolled back or left for
staff, and a door step that is waiting for a door keeps running after the screen that started
it is gone, or with no screen at all (``kiosk run --headless``).

Where a task can be when the kiosk locks, and what the lock may do (DESIGN.md, Physical
truth vs. database truth: never roll back by guessing):

* form only (nothing written): dropped;
* ``saving``: the commit is running in a worker; the worker records the holding on the
  task (:meth:`Task.saved`) and, seeing ``lock_pending``, rolls it back: no door was pulsed;
* committed, door step never started: rolled back (nothing was pulsed);
* ``door_running``: the door step finishes on its own and the app reports its outcome;
* ``door_opened`` (the lock pulse opened the door, the door was not closed in time, or the
  door step failed part-way): left ``depositing``/``releasing`` for staff to settle.

What the idle screen (public) may say about a task comes from :meth:`Task.public_name`:
the holding number and locker only, never a pupil's name.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from enum import StrEnum

from kiosk.auth import Identity
from kiosk.views import HoldingView


class TaskKind(StrEnum):
    """What the person at the hatch is doing."""

    DEPOSIT = "deposit"
    RELEASE = "release"
    EXAM_DEPOSIT = "exam_deposit"
    EXAM_RELEASE = "exam_release"
    #: A voluntary hand-in (amnesty / safekeeping): a deposit door step, never an incident.
    SAFEKEEPING = "safekeeping"


#: kind -> the word for the work, with no pupil data.
KIND_NOUNS: dict[TaskKind, str] = {
    TaskKind.DEPOSIT: "Confiscation",
    TaskKind.RELEASE: "Release",
    TaskKind.EXAM_DEPOSIT: "Exam deposit",
    TaskKind.EXAM_RELEASE: "Exam hand-back",
    TaskKind.SAFEKEEPING: "Safekeeping hand-in",
}


class TaskLocked(Exception):
    """A lock took the task over before its commit started: nothing is written."""


@dataclass
class Task:
    """One deposit, release or exam hand-back in progress."""

    kind: TaskKind
    holding: HoldingView | None = None  # once committed
    holdings: list[HoldingView] = field(default_factory=list)  # exam hand-back: the pouches
    session_id: int | None = None  # exam hand-back: the session
    saving: bool = False  # the commit (confiscate / begin_release) is running in a worker
    door_running: bool = False
    door_opened: bool = False  # the door was opened and the step is not settled
    settled: bool = False  # the door step ended confirmed, or the station put it back
    lock_pending: bool = False  # a lock took the task over: nothing more may start
    lock_actor: Identity | None = None  # who was signed in when the lock landed
    lock_why: str = ""
    notes: list[str] = field(default_factory=list)
    guard: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def committed(self) -> bool:
        return self.holding is not None

    @property
    def noun(self) -> str:
        return KIND_NOUNS.get(self.kind, "Task")

    def public_name(self) -> str:
        """The work as "Confiscation #123 (locker A3)": safe for the public idle screen."""
        if self.kind is TaskKind.EXAM_RELEASE:
            where = f" from cabinet {self.holdings[0].locker}" if self.holdings else ""
            session = f" for exam session #{self.session_id}" if self.session_id else ""
            return f"{self.noun}{session}{where}"
        if self.holding is None:
            return f"A {self.noun.lower()} in progress"
        where = self.holding.locker or "?"
        pouch = self.holding.pouch_number
        if pouch:
            where = f"{where}, pouch {pouch}"
        return f"{self.noun} #{self.holding.id} (locker {where})"

    def start_saving(self) -> None:
        """Commit worker, before it writes: refused if a lock already took the task over."""
        with self.guard:
            if self.lock_pending:
                raise TaskLocked("The kiosk was locked: nothing was saved.")
            self.saving = True

    def saved(self, holding: HoldingView | None) -> bool:
        """Commit worker: the holding it wrote (None if it wrote nothing).

        Returns False when a lock landed while saving: the door must not be opened and the
        caller hands the holding to the app to roll back.
        """
        with self.guard:
            self.saving = False
            if holding is not None:
                self.holding = holding
            return not self.lock_pending

    def take_over(self, actor: Identity | None, why: str) -> tuple[bool, bool]:
        """On a lock: mark the task as locked; returns (saving, committed)."""
        with self.guard:
            self.lock_pending = True
            self.lock_actor, self.lock_why = actor, why
            return self.saving, self.holding is not None
