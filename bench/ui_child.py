"""Child process of bench/startup.py and bench/idle.py: one UI under a pseudo-terminal.

Usage (by the benches): ui_child.py MODE FD [CONFIG]
MODE: ``kiosk`` (``kiosk --config CONFIG run --simulate``), ``kiosk-noreader`` (the same with
the simulated card reader removed from the hardware layout), ``bare`` (a bare Textual app
with one Static: the peer), ``floor`` (the bare app that, after its first frame, reads the
office badge's PIN hash from CONFIG's ledger through a one-class SQLAlchemy ORM mapping and
verifies the PIN once with argon2-cffi: the least any Textual + SQLAlchemy ORM + Argon2
station can hold at a sign-in). ``FD`` is a pipe to the parent.

First paint: Textual posts :class:`textual.events.Ready` to the app once the DOM is ready and
the first frame has been displayed; a handler added to ``textual.app.App`` (so no project
code is edited) writes the wall time, this process's CPU time (all threads) and its peak RSS
(VmHWM) to ``FD``. Since the kiosk paints a "starting" screen first and opens its station
in a thread after it (tui/app.py, issue 15), the moment the idle screen is up (the station
open: ``KioskApp._go_live``, wrapped here) is reported as well, with the same three figures;
a tree without ``_go_live`` (before that change) reports first paint only, which was then
also the station's readiness. With ``BENCH_SIGNINS=N`` (kiosk modes), once the idle screen is
up and the station started, the office demo badge signs in N times the way staff do (tap on
the simulated reader, PIN typed into the PIN box and submitted; between sign-ins the badge
is tapped again, which signs out), and each sign-in is reported once the home screen is
painted. The kiosk's own code path is otherwise untouched: the console script's ``main``
runs as is.

Every report carries the peak (VmHWM) and the current resident size (VmRSS).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import sys
import threading
import time
from typing import Any

#: The office demo badge and its PIN (kiosk/demo.py DEMO_BADGES, README).
OFFICE = ("AB000001", "3917")


def _status_kb(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def _hwm_kb() -> int:
    return _status_kb("VmHWM")


def main() -> None:
    mode, fd = sys.argv[1], int(sys.argv[2])
    stay = os.environ.get("BENCH_STAY") == "1"

    import textual.app

    def _report(**extra: object) -> None:
        report = {
            "t": time.time(),
            "hwm_kb": _hwm_kb(),
            "rss_kb": _status_kb("VmRSS"),
            "cpu": time.process_time(),
            **extra,
        }
        os.write(fd, (json.dumps(report) + "\n").encode())

    def _on_ready(self: textual.app.App[object], _event: object) -> None:
        # Which heavy modules the first frame needed (sqlalchemy: the ledger was opened).
        _report(sqlalchemy="sqlalchemy" in sys.modules)
        # A kiosk that opens its station after the first frame (tui/app.py, issue 15) is
        # left running until the idle screen is up; its _go_live reports that moment.
        if not stay and getattr(self, "ready", True):
            self.exit()

    textual.app.App._on_ready = _on_ready  # type: ignore[attr-defined]
    if mode not in ("bare", "floor"):
        _drive_kiosk(_report, stay, int(os.environ.get("BENCH_SIGNINS", "0")))
    if mode == "floor":

        def _on_ready_floor(self: textual.app.App[object], _event: object) -> None:
            _report(sqlalchemy=False)  # first paint, as the bare app's
            _floor_sign_in(sys.argv[3])
            _report(signed_in=1)
            self.exit()

        textual.app.App._on_ready = _on_ready_floor  # type: ignore[attr-defined]
    if mode in ("bare", "floor"):
        from textual.widgets import Static

        class Bare(textual.app.App[None]):
            def compose(self):
                yield Static("bare Textual app")

        Bare().run()
    else:
        if mode == "kiosk-noreader":
            import kiosk.hardware_config as hc

            default = hc.default_config
            # HardwareSpec is a frozen dataclass: the same spec with no card reader.
            hc.default_config = lambda: dataclasses.replace(default(), readers=())
        sys.argv = ["kiosk", "--config", sys.argv[3], "run", "--simulate"]
        from kiosk.cli import main as kiosk_main

        with contextlib.suppress(SystemExit):
            kiosk_main()
    os.write(fd, (json.dumps({"exit_hwm_kb": _hwm_kb()}) + "\n").encode())


def _floor_sign_in(config: str) -> None:
    """One sign-in's unavoidable part: the badge's hash read through the ORM, one verify."""
    import argon2
    from sqlalchemy import Integer, String, create_engine, select
    from sqlalchemy.orm import DeclarativeBase, Session, mapped_column

    class Base(DeclarativeBase):
        pass

    class Staff(Base):  # no annotations: this module's are strings (__future__)
        __tablename__ = "staff"
        id = mapped_column(Integer, primary_key=True)
        badge_uid = mapped_column(String(32))
        pin_hash = mapped_column(String(255))

    engine = create_engine(f"sqlite:///{os.path.join(os.path.dirname(config), 'kiosk.db')}")
    with Session(engine) as s:
        stored = s.scalars(select(Staff.pin_hash).where(Staff.badge_uid == OFFICE[0])).one()
    if not argon2.PasswordHasher().verify(stored, OFFICE[1]):
        raise SystemExit("floor: the office PIN did not verify")
    engine.dispose()


def _drive_kiosk(report: Any, stay: bool, signins: int) -> None:
    """Report the station's readiness and drive ``signins`` sign-ins (see the docstring)."""
    import tui.app

    go_live = getattr(tui.app.KioskApp, "_go_live", None)
    if go_live is None:
        return
    state = {"ready": False, "started": False, "done": 0, "driving": False}

    one_tap_at_a_time = threading.Lock()

    def tap(app: tui.app.KioskApp, times: int) -> None:
        # The simulator's tap blocks until the reader has reported the card and forgotten
        # it; the sign-in may be over before then, so the next round waits for this one.
        assert app.simulator is not None
        with one_tap_at_a_time:
            for _ in range(times):
                if not app.simulator.tap(OFFICE[0]):
                    raise RuntimeError("the simulated reader did not report the badge")

    def next_sign_in(app: tui.app.KioskApp) -> None:
        if not (state["ready"] and state["started"]) or state["driving"]:
            return
        state["driving"] = True
        # Signed in already: the first tap signs out, the second asks for the PIN.
        times = 2 if app.identity is not None else 1
        threading.Thread(target=tap, args=(app, times), daemon=True).start()

    def _go_live(self: tui.app.KioskApp) -> None:
        go_live(self)

        # the idle screen is mounted on the next refresh; report once it is painted
        def done() -> None:
            report(station_ready=True)
            state["ready"] = True
            if signins:
                next_sign_in(self)
            elif not stay:
                self.exit()

        self.call_after_refresh(done)

    tui.app.KioskApp._go_live = _go_live  # type: ignore[method-assign]
    if not signins:
        return
    news = tui.app.KioskApp.on_station_news

    def on_station_news(self: tui.app.KioskApp, message: Any) -> None:
        news(self, message)
        # By name: importing kiosk.service here would load the station before first paint.
        if type(message.news).__name__ == "StationStarted":
            state["started"] = True
            next_sign_in(self)

    tui.app.KioskApp.on_station_news = on_station_news  # type: ignore[method-assign]
    begin_login = tui.app.KioskApp.begin_login

    def _begin_login(self: tui.app.KioskApp, uid: str) -> None:
        begin_login(self, uid)

        async def type_pin() -> None:
            from textual.widgets import Input

            pin = self.screen.query_one("#pin", Input)
            pin.value = OFFICE[1]
            await pin.action_submit()

        self.call_after_refresh(type_pin)

    tui.app.KioskApp.begin_login = _begin_login  # type: ignore[method-assign]
    signed_in = tui.app.KioskApp.signed_in

    def _signed_in(self: tui.app.KioskApp, identity: Any, badge_uid: str) -> None:
        signed_in(self, identity, badge_uid)

        def done() -> None:
            state["done"] += 1
            state["driving"] = False
            report(signed_in=state["done"])
            if state["done"] < signins:
                next_sign_in(self)
            elif not stay:
                self.exit()

        self.call_after_refresh(done)

    tui.app.KioskApp.signed_in = _signed_in  # type: ignore[method-assign]


if __name__ == "__main__":
    main()
