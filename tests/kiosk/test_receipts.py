"""Receipt slips: printed through python-escpos's Dummy printer, and as text for the screen."""

from __future__ import annotations

from escpos.printer import Dummy

from kiosk.receipts import SAFEGUARDED_NOTE, print_slip, render_text


def _confiscate(demo, category="unauthorised_use"):
    h, _ = demo.custody.confiscate(
        demo.staff["office"],
        pupil_id=demo.pupils["Ben"],
        category=category,
        device_description="grey phone",
        switched_off_confirmed=True,
    )
    return demo.custody.confirm_deposit(demo.staff["office"], h.id)


def _printed(slip) -> bytes:
    printer = Dummy()
    print_slip(printer, slip)
    return printer.output


def test_plain_slip_names_collectors_and_release_time_on_paper_and_screen(demo):
    h = _confiscate(demo)
    slip = demo.custody.receipt_slip(demo.staff["office"], h.id)
    out = _printed(slip)
    assert b"Ben Hughes" in out and b"grey phone" in out
    assert b"Sarah Hughes" in out  # may collect
    assert b"Tom Hughes" not in out  # on the list, may not collect
    assert b"Collect from:" in out
    assert out.endswith(b"\x1dV\x00")  # cut
    text = render_text(slip)
    assert "Sarah Hughes" in text and "Collect from:" in text


def test_indecent_images_slip_never_names_collectors_or_a_time(demo):
    h = _confiscate(demo, category="indecent_images")
    slip = demo.custody.receipt_slip(demo.staff["office"], h.id)
    out = _printed(slip)
    for word in (b"Sarah", b"Hughes, Sarah", b"Collect from", b"collected by", b"15:15"):
        assert word not in out
    assert SAFEGUARDED_NOTE.encode() in out
    assert "Sarah" not in render_text(slip) and "Collect from" not in render_text(slip)


def test_safeguarding_hold_slip_withholds_too(demo):
    h = _confiscate(demo)
    demo.custody.place_hold(demo.staff["dsl"], h.id, "concern raised")
    slip = demo.custody.receipt_slip(demo.staff["office"], h.id)
    assert slip.withheld and slip.collectors == () and slip.release_from is None
    assert b"Sarah" not in _printed(slip)
