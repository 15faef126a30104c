"""The message that carries the station service's news into the UI.

The service reports from its own threads (hardware events, alarms, notes, start-up); news
enters Textual only as this message (``post_message`` is thread-safe), so no widget is ever
touched from another thread.
"""

from __future__ import annotations

from textual.message import Message


class StationNews(Message):
    """One thing the station service reported: a :mod:`kiosk.events` hardware event, or
    :class:`~kiosk.service.StationStarted`, ``AlarmsChanged``, ``NotesChanged``."""

    def __init__(self, news: object) -> None:
        super().__init__()
        self.news = news
