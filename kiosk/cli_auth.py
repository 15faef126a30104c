"""Staff sign-in on the ``kiosk`` command line: ``--badge UID`` and the PIN at a hidden prompt.

Why (issue 9, DESIGN.md "Data protection"): badge UIDs are not secrets, so a command that
changes custody, people, roles or retention, drives the locks, or shows pupil data needs the
same badge + PIN as the kiosk screen, checked by the same :class:`kiosk.auth.AuthService`
(same lockout, same message and the same work for an unknown badge and a wrong PIN), the
role checked against the one permission table (:mod:`kiosk.permissions`), and the person
recorded as the actor of whatever the command writes. Read-only help, config, policy and
signage commands stay open.

The PIN is read with :func:`click.prompt` (``hide_input=True``): never an argument or an
environment variable, which other users could read in ``ps`` or ``/proc``. Scripts and
tests can give it on standard input.

Imports of the ledger and the hasher stay inside the functions: ``kiosk --help`` must not
load SQLAlchemy or Argon2 (kiosk/cli.py is kept quick to start).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TypeVar

import click

if TYPE_CHECKING:
    from kiosk.auth import Identity
    from kiosk.context import KioskContext
    from kiosk.permissions import Permission

F = TypeVar("F", bound=Callable[..., object])

BADGE_HELP = (
    "Your staff badge UID (printed on the badge, or read by `kiosk hw test`); your PIN is "
    "then asked for at a hidden prompt."
)


def badge_option(f: F) -> F:
    """The ``--badge UID`` option every signed-in command takes."""
    return click.option("--badge", "badge", metavar="UID", help=BADGE_HELP)(f)


def _fail(message: str) -> NoReturn:
    click.echo(f"kiosk: {message}", err=True)
    sys.exit(2)


def needs_sign_in(command: str, permission: Permission) -> str:
    """The message for a command run without ``--badge``: what to add and who may."""
    from kiosk.permissions import roles_allowed

    who = ", ".join(sorted(roles_allowed(permission))) or "nobody"
    return (
        f"`kiosk {command}` needs a member of staff's sign-in: add --badge UID (your PIN is "
        f"asked for). It needs the '{permission.label}' permission ({who})."
    )


def read_pin() -> str:
    """The PIN, typed at a hidden prompt (or one line of standard input)."""
    return str(click.prompt("PIN", hide_input=True, err=True))


def sign_in(k: KioskContext, badge: str, permission: Permission, *, command: str) -> Identity:
    """Sign in through the station's own :class:`~kiosk.auth.AuthService` and check the role.

    Failures are committed before the refusal (the lockout counts CLI attempts like screen
    ones); a sign-in whose role does not allow ``permission`` is recorded as
    ``auth.not_permitted`` and signed out again. Exits 2 with the reason on any refusal.
    """
    from kiosk.auth import AuthError, NotPermitted, PinChangeRequired, authorise

    # Each command is a fresh process: make the unknown-badge dummy hash now, before the PIN
    # is typed, or an unknown badge would answer one Argon2 hash slower than a wrong PIN
    # (measured: bench/cli_sign_in.py).
    k.custody.auth.dummy_hash()
    pin = read_pin()
    try:
        identity = k.custody.sign_in(badge, pin)
    except PinChangeRequired:
        _fail(
            "your PIN must be chosen or changed first: tap your badge at the kiosk and follow "
            "the screen, then run this command again."
        )
    except AuthError as exc:
        _fail(str(exc))
    try:
        with k.sessions() as s:
            authorise(s, identity, permission)
    except NotPermitted as refusal:
        with k.sessions.begin() as s:
            k.custody.auth.record_not_permitted(s, refusal)
        k.custody.sign_out(identity, f"kiosk {command}: not permitted")
        _fail(str(refusal))
    return identity


@contextmanager
def signed_in(
    k: KioskContext, badge: str | None, permission: Permission, *, command: str
) -> Iterator[Identity]:
    """A signed-in member of staff allowed ``permission`` for the length of one command.

    The identity is signed out (recorded, then refused by :func:`kiosk.auth.authorise`) when
    the command ends, however it ends.
    """
    if not badge:
        _fail(needs_sign_in(command, permission))
    identity = sign_in(k, badge, permission, command=command)
    try:
        yield identity
    finally:
        k.custody.sign_out(identity, f"kiosk {command} finished")


def _writable_by_caller(path: Path) -> bool:
    """Could the user running this change ``path``? For root: anyone but root could (not
    root-owned, or group/other-writable); otherwise: this user, or anyone, can write it."""
    st = path.stat()
    if os.geteuid() == 0:
        return st.st_uid != 0 or bool(st.st_mode & 0o022)
    return os.access(path, os.W_OK) or bool(st.st_mode & 0o002)


def system_run_problem(config_path: Path | None, profile_path: Path) -> str | None:
    """Why ``kiosk purge --system`` must not run with this config, or None.

    The system actor has no person behind it, so what it deletes must come from files the
    caller cannot have written: the installed config (``/etc/kiosk/kiosk.toml``, root's) and a
    profile shipped with the kiosk or equally protected. A home-made config or profile with
    short retention periods (issue 9) is refused; a person can still purge by signing in.
    """
    from policies import PROFILE_DIR

    if config_path is None:
        return "--system needs the station's installed config file (--config or $KIOSK_CONFIG)"
    for what, path in (("config", config_path), ("profile", profile_path)):
        if what == "profile" and path.resolve().is_relative_to(PROFILE_DIR.resolve()):
            continue  # shipped with the kiosk
        if _writable_by_caller(path):
            return (
                f"--system refuses the {what} file {path}: the user running it can change it, "
                "so its retention periods cannot be trusted without a person. Protect it "
                "(root-owned, not group/other-writable), or sign in with --badge"
            )
    return None
