"""What makes a PIN acceptable, the way a bank decides it (issue 9, "PINs as a bank would").

A badge UID is not a secret (anyone can read or clone a MIFARE UID), so the PIN is the only
secret in a sign-in and must not be guessable in the handful of tries the lockout allows.
Refused: PINs of the wrong length for the person's roles, one digit repeated, a constant-step
run (1234, 9876, 8901 wrapping round, 2468), a short block repeated (1212, 123123), the PINs
people pick most often (DataGenetics' top list plus keypad columns such as 2580), and a PIN
that appears in the badge's own digits or in the number printed on the card (readers and card
printers show the UID as a decimal number, so someone holding the badge can read it).

Pure functions: no database, no config file; the caller passes the lengths from ``[auth]``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise

#: Roles whose PIN must be at least ``privileged_length`` long (issue 9: "default 6 for
#: senior and DSL"): they can place safeguarding holds, override refusals and grant roles.
PRIVILEGED_ROLES = frozenset({"senior", "dsl"})

#: The most common 4-digit PINs (DataGenetics, "PIN analysis", 2012: the top 20 cover ~27 %
#: of real PINs) plus keypad straight lines and well-known 6-digit picks.
COMMON_PINS = frozenset(
    {
        # top 20 four-digit PINs
        "1234", "1111", "0000", "1212", "7777", "1004", "2000", "4444", "2222", "6969",
        "9999", "3333", "5555", "6666", "1122", "1313", "8888", "4321", "2001", "1010",
        # keypad columns and diagonals (phone layout 123/456/789/0 and its reverse)
        "2580", "0852", "1470", "0741", "3690", "0963", "1590", "0951", "3570", "0753",
        "7410", "0147", "9630", "0369", "1379", "9731", "7139",
        # common six-digit picks
        "123456", "654321", "111111", "000000", "121212", "112233", "123123", "666666",
        "696969", "159753", "147258", "258369", "123321", "789456", "102030",
    }
)  # fmt: skip


class PinRejected(ValueError):
    """The new PIN is not acceptable; the message says why in words staff understand."""


@dataclass(frozen=True)
class PinLengths:
    """Allowed PIN lengths: ``minimum``..``maximum`` digits, ``privileged`` for senior/DSL."""

    minimum: int = 4
    maximum: int = 8
    privileged: int = 6

    def minimum_for(self, roles: Iterable[str]) -> int:
        if PRIVILEGED_ROLES & set(roles):
            return max(self.minimum, self.privileged)
        return self.minimum


def _constant_step(pin: str) -> bool:
    """All steps between neighbouring digits equal, modulo 10 (covers 1111, 1234, 8901, 2468)."""
    steps = {(int(b) - int(a)) % 10 for a, b in pairwise(pin)}
    return len(steps) <= 1


def _repeated_block(pin: str) -> bool:
    """Made of a shorter block repeated: 1212, 123123, 121212, 4545."""
    n = len(pin)
    return any(n % size == 0 and pin == pin[:size] * (n // size) for size in range(1, n // 2 + 1))


def badge_number_forms(badge_uid: str | None) -> list[str]:
    """Digit strings someone holding the badge can read off it.

    The hex UID's digits (each run, and all of them joined), and the UID as a decimal number in
    both byte orders (what many readers and card printers show, e.g. "0004160769").
    """
    if not badge_uid:
        return []
    uid = badge_uid.replace(":", "").replace(" ", "").upper()
    forms: list[str] = []
    run = ""
    for ch in uid + "#":
        if ch.isdigit():
            run += ch
        else:
            if run:
                forms.append(run)
            run = ""
    joined = "".join(c for c in uid if c.isdigit())
    if joined:
        forms.append(joined)
    try:
        raw = bytes.fromhex(uid if len(uid) % 2 == 0 else "0" + uid)
    except ValueError:
        return forms
    for order in (raw, raw[::-1]):
        value = str(int.from_bytes(order, "big"))
        forms.extend([value, value.zfill(10)])
    return forms


def check_pin(
    pin: str,
    *,
    roles: Iterable[str],
    lengths: PinLengths,
    badge_uid: str | None = None,
) -> None:
    """Raise :class:`PinRejected` saying why ``pin`` may not be used; return if it may."""
    roles = list(roles)
    if not pin.isdigit() or not pin.isascii():
        raise PinRejected("A PIN is digits only.")
    least = lengths.minimum_for(roles)
    if len(pin) < least:
        why = " for senior leaders and DSLs" if least > lengths.minimum else ""
        raise PinRejected(f"A PIN is at least {least} digits{why}; choose a longer one.")
    if len(pin) > lengths.maximum:
        raise PinRejected(f"A PIN is at most {lengths.maximum} digits.")
    if len(set(pin)) == 1:
        raise PinRejected("A PIN of one digit repeated is too easy to guess.")
    if _constant_step(pin):
        raise PinRejected("A PIN that counts up or down (like 1234 or 9876) is too easy to guess.")
    if _repeated_block(pin):
        raise PinRejected("A PIN that repeats a pattern (like 1212) is too easy to guess.")
    if pin in COMMON_PINS:
        raise PinRejected("That PIN is one of the most common ones; choose another.")
    if any(pin in form for form in badge_number_forms(badge_uid)):
        raise PinRejected("A PIN may not be part of your badge's number; choose another.")
