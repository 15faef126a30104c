"""The station prints a holding's receipt on the configured ESC/POS printer (issue 14).

The printer adapter (:class:`hardware.printer.ReceiptPrinter`) is simulated with escpos's own
Dummy, so the bytes checked are those a real printer would get. What is printed comes from
the ``receipt_slip`` use-case: its permission check and its safeguarding rule apply.
"""

from __future__ import annotations

import shutil

import pytest
from auth_testing import staff_identities
from kiosk_testing import Clock

from hardware.printer import ReceiptPrinter
from kiosk.auth import NotPermitted
from kiosk.config import ConfigError, parse_config
from kiosk.custody import Collector, CustodyError
from kiosk.demo import demo_config
from kiosk.receipts import SAFEGUARDED_NOTE
from kiosk.runtime import close_station, open_station


@pytest.fixture
def station(tmp_path, demo_template):
    target = tmp_path / "st"
    shutil.copytree(demo_template, target)
    clock = Clock()
    st = open_station(demo_config(target), simulate=True, clock=clock, door_close_timeout=3)
    st.clock = clock
    st.staff = staff_identities(st.ctx)  # kept on the station: the sign-ins stay valid
    yield st
    close_station(st)


def _held(st, category="unauthorised_use"):
    office = st.staff["office"]
    ben = st.custody.find_pupils(office, "Ben")[0]
    h, _ = st.custody.confiscate(
        office,
        pupil_id=ben.id,
        category=category,
        device_description="grey phone",
        switched_off_confirmed=True,
    )
    return st.custody.confirm_deposit(office, h.id)


def test_simulate_gives_a_simulated_printer_and_the_slip_is_printed_and_cut(station):
    assert station.printer is not None and station.printer.simulated
    h = _held(station)
    slip = station.print_receipt(station.staff["office"], h.id)
    (paper,) = station.printer.printed
    assert slip.holding_id == h.id
    assert b"Phone confiscation receipt" in paper and b"Sarah Hughes" in paper
    assert paper.endswith(b"\x1dV\x00")


def test_control_characters_typed_at_the_hatch_never_reach_the_printer(station):
    """A device description is typed (or pasted) at the hatch: ESC p would open a cash drawer
    on the office printer, GS V cut the paper. They print as ``?``."""
    office = station.staff["office"]
    ben = station.custody.find_pupils(office, "Ben")[0]
    h, _ = station.custody.confiscate(
        office,
        pupil_id=ben.id,
        category="unauthorised_use",
        device_description="grey\x1bp\x00\x19phone\x1dV\x00\u202e",
        switched_off_confirmed=True,
    )
    h = station.custody.confirm_deposit(office, h.id)
    station.print_receipt(office, h.id)
    (paper,) = station.printer.printed
    assert b"Item: grey?p??phone?V??" in paper
    assert b"\x1bp" not in paper and paper.count(b"\x1dV") == 1  # only the real cut


def test_a_safeguarded_slip_is_printed_without_collectors(station):
    h = _held(station, "indecent_images")
    station.print_receipt(station.staff["office"], h.id)
    (paper,) = station.printer.printed
    assert SAFEGUARDED_NOTE.encode() in paper
    assert b"Sarah" not in paper and b"Collect from" not in paper


def test_printing_needs_the_permission_and_a_printer(station):
    h = _held(station)
    with pytest.raises(NotPermitted):
        station.print_receipt(station.staff["technician"], h.id)
    station.printer = None
    with pytest.raises(CustodyError, match=r"No receipt printer is configured.*\[printer\]"):
        station.print_receipt(station.staff["office"], h.id)


def test_an_unreachable_printer_is_named_in_the_refusal(station, tmp_path):
    h = _held(station)
    station.printer = ReceiptPrinter("file", str(tmp_path / "no-such-dir" / "lp0"))
    with pytest.raises(CustodyError, match=r"Not printed: the file receipt printer at .*lp0"):
        station.print_receipt(station.staff["office"], h.id)
    # The lock was given back: the next receipt prints once the printer is there.
    station.printer = ReceiptPrinter("file", str(tmp_path / "lp0"))
    station.print_receipt(station.staff["office"], h.id)
    assert b"grey phone" in (tmp_path / "lp0").read_bytes()


def test_a_released_holding_slip_says_to_whom_it_went(station):
    office = station.staff["office"]
    h = _held(station)
    sarah = next(
        c.id
        for c in station.custody.find_pupils(office, "Ben")[0].contacts
        if c.name == "Sarah Hughes"
    )
    station.clock.at(16)  # after the profile's earliest release time
    station.custody.begin_release(office, h.id, Collector("contact", sarah), "passport")
    station.custody.complete_release(office, h.id)
    slip = station.custody.receipt_slip(office, h.id)
    assert slip.handed_back is not None
    assert slip.handed_back.startswith("Sarah Hughes, ID seen: passport, ")
    station.print_receipt(office, h.id)
    assert b"Handed back: Sarah Hughes" in station.printer.printed[0]
    assert b"Collect from" not in station.printer.printed[0]


def test_printer_config_is_checked():
    assert parse_config({"printer": {"kind": "network", "address": "10.0.0.9"}}).printer.kind == (
        "network"
    )
    with pytest.raises(ConfigError, match="needs an address"):
        parse_config({"printer": {"kind": "network"}})
    with pytest.raises(ConfigError, match="vendor:product in hex"):
        parse_config({"printer": {"kind": "usb", "address": "epson"}})
    with pytest.raises(ConfigError, match="printer"):
        parse_config({"printer": {"kind": "bluetooth", "address": "x"}})
