"""Shared test helpers: a movable clock fixed on a school day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

#: Tuesday 17 November 2026, 12:00 in London (GMT = UTC in winter).
T0 = datetime(2026, 11, 17, 12, 0, tzinfo=UTC)


@dataclass
class Clock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def at(self, hh: int, mm: int = 0, days: int = 0) -> None:
        self.now = T0.replace(hour=hh, minute=mm) + timedelta(days=days)
