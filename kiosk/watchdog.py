"""Tell systemd how the station is: ready, alive, stopping (``sd_notify`` over ``$NOTIFY_SOCKET``).

Why: ``kiosk.service`` is ``Type=notify``, so systemd counts the station as started only once
it says ``READY=1``, and with ``WatchdogSec=`` it restarts a station whose loop stops sending
``WATCHDOG=1`` (a hung station is restarted; the locks are fail-secure, so doors stay shut).

Why not a library: the protocol is one datagram on an AF_UNIX socket whose path systemd puts
in ``$NOTIFY_SOCKET`` (``sd_notify(3)``, which gives the same stdlib recipe). The PyPI
``sdnotify`` package does the same in as many lines but has not had a release since 2019;
``systemd-python`` needs libsystemd headers to build. Outside systemd (tests, ``kiosk demo``)
every call is a no-op that returns ``False``.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping

ENV_SOCKET = "NOTIFY_SOCKET"


def notify(state: str, env: Mapping[str, str] | None = None) -> bool:
    """Send ``state`` (e.g. ``"READY=1"``) to systemd; ``False`` when not run by systemd.

    A failure to send is swallowed: the station must never stop because systemd is gone;
    a watchdog that is not fed restarts it, which is the intended outcome anyway.
    """
    address = (os.environ if env is None else env).get(ENV_SOCKET, "")
    if not address or address[0] not in "@/":
        return False
    if address[0] == "@":  # abstract namespace: a leading NUL byte instead of '@'
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(state.encode())
    except OSError:
        return False
    return True


def notify_ready(status: str | None = None) -> bool:
    """The station is up: config loaded, ledger open, locks driven off."""
    return notify("READY=1" + (f"\nSTATUS={status}" if status else ""))


def notify_watchdog() -> bool:
    """Call from the station's loop at least every :func:`watchdog_interval` seconds."""
    return notify("WATCHDOG=1")


def notify_stopping() -> bool:
    return notify("STOPPING=1")


def watchdog_interval(env: Mapping[str, str] | None = None) -> float | None:
    """How often to call :func:`notify_watchdog`: half of ``WatchdogSec=``, as systemd advises.

    ``None`` when no watchdog is armed for this process (``$WATCHDOG_USEC`` unset, or
    ``$WATCHDOG_PID`` names another process).
    """
    env = os.environ if env is None else env
    usec, pid = env.get("WATCHDOG_USEC", ""), env.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    if pid and pid != str(os.getpid()):
        return None
    return int(usec) / 2_000_000
