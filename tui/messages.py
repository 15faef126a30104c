"""The message that carries the station service's news into the UI.

The service reports from its own threads (hardware events, alarms, notes, start-up); news
enters Textual only as this message (``post_message`` is thread-safe), so no widget is ever
touched from another thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from textual.message import Message

if TYPE_CHECKING:  # annotations only: the app's first frame imports no ledger (issue 15)
    from kiosk.auth import Identity
    from kiosk.views import CardTap, PupilView


class StationNews(Message):
    """One thing the station service reported: a :mod:`kiosk.events` hardware event, or
    :class:`~kiosk.service.StationStarted`, ``AlarmsChanged``, ``NotesChanged``."""

    def __init__(self, news: object) -> None:
        super().__init__()
        self.news = news


class HardwareNews(Message, bubble=False):
    """A door/reader event forwarded by the app to the screen on top (it does not bubble back
    to the app). Screens that show hardware state handle ``on_hardware_news``."""

    def __init__(self, event: object) -> None:
        super().__init__()
        self.event = event


@runtime_checkable
class TakesCards(Protocol):
    """A screen that sees every card tap first (PIN entry, exam self-service)."""

    def card_tapped(self, uid: str) -> bool:
        """True if the screen dealt with the tap; False lets the app route it."""
        ...


@runtime_checkable
class TakesPupils(Protocol):
    """A screen that does something with a pupil's card tapped by signed-in staff."""

    def pupil_tapped(self, pupil: PupilView) -> None: ...


@runtime_checkable
class TakesCardTaps(Protocol):
    """A screen that needs the tapped pupil's open holdings with the pupil (the release
    screen): the app asks the station for both in one read (``Custody.card_tapped``,
    issue 15) instead of the screen asking again for the holdings."""

    def card_looked_up(self, tap: CardTap) -> None: ...


@runtime_checkable
class ResumesAfterSignIn(Protocol):
    """A screen left by a staff sign-in that says where that person goes next (exam
    self-service: back to the exam screen); None sends them home as usual."""

    def after_sign_in(self, identity: Identity) -> Any: ...
