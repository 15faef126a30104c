"""Technician report: figures a technician needs that a pass/fail test hides.

``kiosk hw test`` prints these lines (and the station service's technician screen can, too):

* each badge reader's chip version;
* for an RC522, the SPI transfers one poll costs when no card is present (goal <= 40: the
  library's own wait loop costs ~2,000, see :mod:`hardware.rc522`);
* for each RS-485 board, how long it took to answer a status query, against the bus's reply
  timeout (a board answering in most of the timeout is about to look silent).

Works on the ports only (duck-typed for the adapter-specific figures), so it runs the same on a
Pi and on the simulator, and imports nothing of the kiosk.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from hardware.ports import BadgeReader

EMPTY_POLL_GOAL = 40


@dataclass(frozen=True)
class ReportLine:
    item: str
    ok: bool
    detail: str


def reader_lines(reader: BadgeReader, *, include_version: bool = True) -> list[ReportLine]:
    """Version and (RC522) transfers per empty poll. Call with the reader not yet started."""
    lines: list[ReportLine] = []
    if include_version:
        version = reader.version()
        lines.append(
            ReportLine(
                f"reader {reader.name} version", not version.startswith("unreadable"), version
            )
        )
    measure = getattr(reader, "measure_empty_poll", None)
    if measure is not None:
        n = measure()
        if n is None:
            lines.append(
                ReportLine(
                    f"reader {reader.name} poll cost",
                    False,
                    "could not measure: remove any card from the reader, check wiring",
                )
            )
        else:
            lines.append(
                ReportLine(
                    f"reader {reader.name} poll cost",
                    n <= EMPTY_POLL_GOAL,
                    f"{n} SPI transfers per empty poll (goal <= {EMPTY_POLL_GOAL})",
                )
            )
    return lines


def bus_lines(bank: Any) -> list[ReportLine]:
    """One line per RS-485 board: its answer time against the reply timeout."""
    times = getattr(bank, "board_answer_times", None)
    if times is None:
        return []
    timeout = bank.bus.timings.reply_timeout_s
    lines = []
    for board, seconds in times().items():
        item = f"bus {bank.name} board {board}"
        if seconds is None:
            lines.append(ReportLine(item, False, "not answering"))
        else:
            lines.append(
                ReportLine(
                    item,
                    seconds <= 0.8 * timeout,
                    f"answers in {seconds * 1000:.1f} ms (timeout {timeout * 1000:.0f} ms)",
                )
            )
    return lines


def technician_report(bundle: Any, *, include_version: bool = True) -> list[ReportLine]:
    """Every reader's and every RS-485 board's lines, from a built (not started) bundle."""
    lines: list[ReportLine] = []
    readers: Iterable[BadgeReader] = bundle.readers
    for reader in readers:
        lines += reader_lines(reader, include_version=include_version)
    for bank in bundle.lock_banks:
        lines += bus_lines(bank)
    return lines
