"""Receipt slips for a holding: one set of data, printed on an ESC/POS receipt printer
(``python-escpos``, as school offices already use) or shown as plain text on the screen.

A holding under safeguarding (held for the DSL, handed to the police) or of a category the
profile forbids viewing (suspected indecent images, seed 001 appendix §28 / seed 003 §6) never
names collectors or a release time: the slip goes home in a pupil's bag, and a parent who is
the subject of a concern must not learn from it who may collect or when. :func:`slip_for`
decides that once, so the paper and the screen cannot disagree.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from wire.vocabulary import HoldingKind, HoldingState

SAFEGUARDED_STATES = frozenset({HoldingState.SAFEGUARDING_HOLD, HoldingState.HANDED_TO_POLICE})
#: What a safeguarded slip says instead of collectors and a time.
SAFEGUARDED_NOTE = "The school office will contact home about this phone."
WIDTH = 42  # characters on an 80 mm slip in the printer's font A


@dataclass(frozen=True)
class Slip:
    """Everything a slip may show; ``collectors``/``release_from`` are empty when withheld."""

    school: str
    holding_id: int
    kind: str
    pupil_name: str
    device: str
    where: str
    taken_at: datetime
    candidate_number: str | None
    collectors: tuple[str, ...]
    release_from: str | None
    withheld: bool
    #: Once released: to whom and when (the receipt shown after a hand-back); else None.
    handed_back: str | None = None


def is_safeguarded(state: str, category: str | None, forbids_viewing: bool) -> bool:
    """Whether the slip must withhold collectors and time (see the module docstring)."""
    return state in SAFEGUARDED_STATES or forbids_viewing or category == "indecent_images"


def slip_for(
    *,
    school: str,
    holding_id: int,
    kind: str,
    state: str,
    category: str | None,
    forbids_viewing: bool,
    pupil_name: str,
    device: str,
    where: str,
    taken_at: datetime,
    candidate_number: str | None = None,
    collectors: tuple[str, ...] = (),
    release_from: str | None = None,
    handed_back: str | None = None,
) -> Slip:
    withheld = is_safeguarded(state, category, forbids_viewing)
    return Slip(
        school=school,
        holding_id=holding_id,
        kind=kind,
        pupil_name=pupil_name,
        device=device,
        where=where,
        taken_at=taken_at,
        candidate_number=candidate_number,
        collectors=() if withheld else collectors,
        release_from=None if withheld else release_from,
        withheld=withheld,
        handed_back=None if withheld else handed_back,
    )


_TITLES: dict[str, str] = {
    HoldingKind.CONFISCATION: "Phone confiscation receipt",
    HoldingKind.SAFEKEEPING: "Phone safekeeping receipt",
    HoldingKind.EXAM_DEPOSIT: "Exam deposit receipt",
}


def lines(slip: Slip) -> list[str]:
    """The slip as lines of plain text (the screen shows these as text, never markup)."""
    out = [
        slip.school,
        _TITLES.get(slip.kind, "Receipt"),  # StrEnum keys match the plain word
        "-" * WIDTH,
        f"Receipt no: {slip.holding_id}",
        f"Pupil: {slip.pupil_name}",
    ]
    if slip.candidate_number:
        out.append(f"Candidate no: {slip.candidate_number}")
    out += [
        f"Item: {slip.device}",
        f"Kept in: {slip.where}",
        f"Taken in: {slip.taken_at:%d/%m/%Y %H:%M}",
        "-" * WIDTH,
    ]
    if slip.withheld:
        out.append(SAFEGUARDED_NOTE)
    elif slip.handed_back:
        out.append(f"Handed back: {slip.handed_back}")
    else:
        if slip.collectors:
            out.append("May be collected by:")
            out += [f"  {name}" for name in slip.collectors]
        if slip.release_from:
            out.append(f"Collect from: {slip.release_from}")
    return out


def render_text(slip: Slip) -> str:
    return "\n".join(lines(slip)) + "\n"


class EscposPrinter(Protocol):
    """The part of :class:`escpos.escpos.Escpos` used here (any of its printers, or Dummy)."""

    def set(self, *args: object, **kwargs: object) -> None: ...
    def text(self, txt: str) -> None: ...
    def cut(self, *args: object, **kwargs: object) -> None: ...


def print_slip(printer: EscposPrinter, slip: Slip) -> None:
    """Print ``slip``: the school and title bold and centred, the rest left-aligned, then cut.

    Text goes through ``printer.text`` (escpos encodes it to the printer's code page), which
    passes ESC, GS and the other controls through as they are. Names from the MIS have none
    (refused at import), but a device description or a reason typed or pasted at the hatch
    may: every control character is printed as ``?``, so no text can become a printer
    command (``ESC p`` kicks a cash drawer, ``GS V`` cuts; issue 9, "Untrusted text").
    """
    head, title, *rest = (_printable(line) for line in lines(slip))
    printer.set(align="center", bold=True)
    printer.text(f"{head}\n{title}\n")
    printer.set(align="left", bold=False)
    printer.text("\n".join(rest) + "\n")
    printer.cut()


def _printable(line: str) -> str:
    """``line`` with every control/format character (C0, DEL, C1, bidi) as ``?``."""
    return "".join(
        "?" if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp") else ch for ch in line
    )
