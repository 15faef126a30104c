"""Child process of bench/startup.py and bench/idle.py: one UI under a pseudo-terminal.

Usage (by the benches): ui_child.py MODE FD [CONFIG]
MODE: ``kiosk`` (``kiosk --config CONFIG run --simulate``), ``kiosk-noreader`` (the same with
the simulated card reader removed from the hardware layout), ``bare`` (a bare Textual app
with one Static: the peer). ``FD`` is a pipe to the parent.

First paint: Textual posts :class:`textual.events.Ready` to the app once the DOM is ready and
the first frame has been displayed; a handler added to ``textual.app.App`` (so no project
code is edited) writes the wall time, this process's CPU time (all threads) and its peak RSS
(VmHWM) to ``FD``. Since the kiosk paints a "starting" screen first and opens its station
in a thread after it (tui/app.py, issue 15), the moment the idle screen is up (the station
open: ``KioskApp._go_live``, wrapped here) is reported as well, with the same three figures;
a tree without ``_go_live`` (before that change) reports first paint only, which was then
also the station's readiness. The kiosk's own code path is otherwise untouched: the console
script's ``main`` runs as is.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import sys
import time


def _hwm_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def main() -> None:
    mode, fd = sys.argv[1], int(sys.argv[2])
    stay = os.environ.get("BENCH_STAY") == "1"

    import textual.app

    def _report(**extra: object) -> None:
        report = {"t": time.time(), "hwm_kb": _hwm_kb(), "cpu": time.process_time(), **extra}
        os.write(fd, (json.dumps(report) + "\n").encode())

    def _on_ready(self: textual.app.App[object], _event: object) -> None:
        # Which heavy modules the first frame needed (sqlalchemy: the ledger was opened).
        _report(sqlalchemy="sqlalchemy" in sys.modules)
        # A kiosk that opens its station after the first frame (tui/app.py, issue 15) is
        # left running until the idle screen is up; its _go_live reports that moment.
        if not stay and getattr(self, "ready", True):
            self.exit()

    textual.app.App._on_ready = _on_ready  # type: ignore[attr-defined]
    if mode != "bare":
        import tui.app

        go_live = getattr(tui.app.KioskApp, "_go_live", None)
        if go_live is not None:

            def _go_live(self: tui.app.KioskApp) -> None:
                go_live(self)

                # the idle screen is mounted on the next refresh; report once it is painted
                def done() -> None:
                    _report(station_ready=True)
                    if not stay:
                        self.exit()

                self.call_after_refresh(done)

            tui.app.KioskApp._go_live = _go_live  # type: ignore[method-assign]
    if mode == "bare":
        from textual.widgets import Static

        class Bare(textual.app.App[None]):
            def compose(self):  # type: ignore[no-untyped-def]
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


if __name__ == "__main__":
    main()
