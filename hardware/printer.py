"""The office's ESC/POS receipt printer, through ``python-escpos`` (issue 14, "Receipts").

Why a connection per receipt (:meth:`ReceiptPrinter.connect`, then :meth:`finish`): the
printer is switched off at night, unplugged to change paper, or on the office network; a
connection held open from start-up would fail on the first slip after any of those. Opening
it when a receipt is printed gives a fresh error (naming the printer) or a slip.

The simulator is escpos's own :class:`escpos.printer.Dummy`, the lowest layer that can be
simulated: the same ``set``/``text``/``cut`` calls produce the same ESC/POS bytes, kept in
:attr:`ReceiptPrinter.printed` for the demo and the tests.
"""

from __future__ import annotations

import threading
from typing import Any

#: ``[printer] kind`` values (docs/kiosk.example.toml).
PRINTER_KINDS = ("none", "network", "usb", "serial", "file")


class PrinterNotReady(Exception):
    """The printer could not be opened or did not take the receipt; says which printer."""


class ReceiptPrinter:
    """One configured receipt printer; ``kind="simulated"`` prints into memory."""

    def __init__(self, kind: str, address: str = "") -> None:
        if kind not in (*PRINTER_KINDS, "simulated") or kind == "none":
            raise ValueError(f"printer kind {kind!r}: use one of {', '.join(PRINTER_KINDS[1:])}")
        self.kind = kind
        self.address = address
        #: Every receipt the simulated printer took, as the ESC/POS bytes a real one gets.
        self.printed: list[bytes] = []
        self._lock = threading.Lock()

    @property
    def simulated(self) -> bool:
        return self.kind == "simulated"

    def describe(self) -> str:
        if self.simulated:
            return "the simulated receipt printer"
        return f"the {self.kind} receipt printer at {self.address or '(no address)'}"

    def connect(self) -> Any:
        """A fresh escpos printer object (``escpos.escpos.Escpos``); call :meth:`finish`."""
        from escpos import printer as escpos_printer

        self._lock.acquire()  # one receipt at a time: two slips must not interleave
        try:
            if self.kind == "simulated":
                return escpos_printer.Dummy()
            if self.kind == "network":
                host, _, port = self.address.partition(":")
                device: Any = escpos_printer.Network(host, port=int(port or 9100), timeout=10)
            elif self.kind == "usb":
                vendor, _, product = self.address.partition(":")
                device = escpos_printer.Usb(int(vendor, 16), int(product, 16))
            elif self.kind == "serial":
                device = escpos_printer.Serial(devfile=self.address)
            else:
                device = escpos_printer.File(devfile=self.address)
            device.open()
            return device
        except Exception as exc:
            self._lock.release()
            hint = ""
            if isinstance(exc, ImportError) or "usb library" in str(exc):
                hint = " (raw USB needs pyusb: pip install 'python-escpos[usb]')"
            raise PrinterNotReady(f"{self.describe()} could not be opened: {exc}{hint}") from exc

    def finish(self, device: Any) -> None:
        """Close ``device`` (keeping the simulated printer's output) and free the printer."""
        try:
            if self.simulated:
                self.printed.append(bytes(device.output))
            else:
                device.close()
        finally:
            self._lock.release()
