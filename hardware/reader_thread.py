"""What every badge reader shares: a polling daemon thread and fault/recovery reporting.

Why one place: the RC522 and the UART reader both must hand events to the station without a
broken listener killing the thread, report a fault once (not on every poll) and report the
recovery once, and stop cleanly. Subclasses provide ``_run`` (the loop, which checks
``self._stop``) and ``_close`` (release the device).
"""

from __future__ import annotations

import logging
import threading
import time

from hardware.ports import EventSink, ReaderFault, ReaderRecovered

log = logging.getLogger(__name__)


class ReaderThread:
    """Base of the badge reader adapters (:class:`hardware.ports.BadgeReader`)."""

    name: str
    thread_prefix = "reader"

    def __init__(self, name: str) -> None:
        self.name = name
        self.faulted = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._on_event: EventSink | None = None

    def bind(self, on_event: EventSink) -> None:
        """Where events go, without starting the thread (tests drive the loop themselves)."""
        self._on_event = on_event

    def start(self, on_event: EventSink) -> None:
        if self._thread is not None:
            return
        self._on_event = on_event
        self._stop.clear()
        self._before_thread()
        self._thread = threading.Thread(
            target=self._run, name=f"{self.thread_prefix}-{self.name}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None
        try:
            self._close()
        except Exception as exc:
            log.debug("reader %s: close: %s", self.name, exc)

    def _before_thread(self) -> None:
        """Hook run in ``start`` before the thread (e.g. open a port so no tap is lost)."""

    def _run(self) -> None:
        raise NotImplementedError

    def _close(self) -> None:
        raise NotImplementedError

    def _emit(self, event: object) -> None:
        if self._on_event is None:
            return
        try:
            self._on_event(event)
        except Exception:
            log.exception("reader %s: event handler raised", self.name)

    def _now(self) -> float:
        """Event time stamps; adapters with an injected clock override this."""
        return time.monotonic()

    def _fault(self, detail: str) -> None:
        """Report a fault once; later failures while faulted stay quiet."""
        if not self.faulted:
            self.faulted = True
            log.warning("reader %s fault: %s", self.name, detail)
            self._emit(ReaderFault(self.name, detail, at=self._now()))

    def _recovered(self) -> None:
        """Report the recovery once, after a fault."""
        if self.faulted:
            self.faulted = False
            log.info("reader %s recovered", self.name)
            self._emit(ReaderRecovered(self.name, at=self._now()))
