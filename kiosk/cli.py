"""The ``kiosk`` command. Every sub-command has ``--help``; errors say what to do, exit 2.

Imports are inside the commands (issue 15): ``kiosk --help``, ``kiosk holdings --help`` and
the UI's start-up pay only for what they use (SQLAlchemy, Argon2, httpx, gpiozero and the
command modules load when a command that needs them runs). The commands defined in other
modules load through :class:`_LazyGroup`. ``tests/kiosk/test_cli_imports.py`` checks both.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING

import click

import policies
from kiosk.cli_auth import badge_option, needs_sign_in, signed_in, system_run_problem
from kiosk.config import ENV_VAR, ConfigError, load_config
from kiosk.permissions import Permission

if TYPE_CHECKING:
    from kiosk.config import KioskConfig
    from kiosk.context import KioskContext

#: ``kiosk import KIND``: the keys of ``kiosk.mis_import.IMPORTERS`` once ``kiosk.exam_import``
#: has registered ``exams``, spelled out so ``--help`` need not import the importers (a test
#: checks they match).
IMPORT_KINDS = ("contacts", "exams", "pupils", "staff")

#: Commands defined in other modules: name -> (module, attribute, the short help ``kiosk
#: --help`` shows). Loaded only when used; a test checks the help matches the command's own.
LAZY_COMMANDS: dict[str, tuple[str, str, str]] = {
    "backup": (
        "kiosk.ops_commands",
        "backup",
        "Copy the ledger while the station runs: consistent,...",
    ),
    "hw": ("kiosk.hw_commands", "hw", "Hardware: list what is configured, test it."),
    "restore": (
        "kiosk.ops_commands",
        "restore",
        "Replace the ledger with backup FILE (the station must be...",
    ),
    "signage-page": (
        "kiosk.ops_commands",
        "signage_page",
        "Write the public signage as a web page for a second...",
    ),
    "subject": (
        "kiosk.subject_access",
        "subject",
        "Subject access and erasure requests (one pupil at a time).",
    ),
    "sync": (
        "kiosk.sync.cli",
        "sync",
        "Push the event log to the central incident log (a process...",
    ),
}


class _LazyGroup(click.Group):
    """A group whose :data:`LAZY_COMMANDS` are imported only when one of them is run."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY_COMMANDS and cmd_name not in self.commands:
            module, attr, _ = LAZY_COMMANDS[cmd_name]
            command = getattr(importlib.import_module(module), attr)
            if not isinstance(command, click.Command):
                raise TypeError(f"{module}.{attr} is not a click command")
            return command
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Like click's, but the lazy commands' lines come from :data:`LAZY_COMMANDS`."""
        rows = []
        for name in self.list_commands(ctx):
            if name in LAZY_COMMANDS and name not in self.commands:
                rows.append((name, LAZY_COMMANDS[name][2]))
                continue
            cmd = self.get_command(ctx, name)
            if cmd is None or cmd.hidden:
                continue
            limit = formatter.width - 6 - max(len(n) for n in self.list_commands(ctx))
            rows.append((name, cmd.get_short_help_str(limit)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


if TYPE_CHECKING:
    from kiosk.auth import Identity


def _fail(message: str, code: int = 2) -> None:
    click.echo(f"kiosk: {message}", err=True)
    sys.exit(code)


def _config(ctx: click.Context) -> KioskConfig:
    return ctx.find_object(dict)["config"]  # type: ignore[index]


@contextmanager
def _open(ctx: click.Context) -> Iterator[KioskContext]:
    from db.engine import DatabaseCorrupt
    from kiosk.context import NotReady, open_context

    try:
        kctx = open_context(_config(ctx))
    except (NotReady, DatabaseCorrupt, policies.ProfileError) as exc:
        _fail(str(exc))
    try:
        yield kctx
    finally:
        kctx.close()


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar=ENV_VAR,
    help=f"Kiosk config TOML (default: ${ENV_VAR}, else built-in demo defaults).",
)
@click.pass_context
def main(ctx: click.Context, config_path: Path | None) -> None:
    """Device Amnesty Kiosk: phone custody for the school office."""
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        _fail(str(exc))
    ctx.ensure_object(dict)
    ctx.obj["config"] = config
    ctx.obj["hardware_config"] = config.hardware


# --------------------------------------------------------------------------- db
@main.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Bring the database (new or older) to the newest schema."""
    from db.engine import DatabaseCorrupt, make_session_factory
    from db.migrate import current_revision, upgrade  # Alembic only here (issue 15)
    from kiosk.context import open_engine
    from kiosk.lockers import sync_lockers

    config = _config(ctx)
    try:
        engine = open_engine(config)
    except DatabaseCorrupt as exc:
        _fail(str(exc))
    before = current_revision(engine)
    upgrade(engine)
    after = current_revision(engine)
    with make_session_factory(engine).begin() as s:
        report = sync_lockers(
            s,
            config.hardware,
            config.lockers.exam_cabinets,
            station_id=config.station.id,
            now=datetime.now(UTC),
        )
    engine.dispose()
    click.echo(f"database {config.database_url}: schema {before or 'empty'} -> {after}")
    click.echo(str(report))


@db.command("status")
@click.pass_context
def db_status(ctx: click.Context) -> None:
    """Show the schema revision of the database and of this code."""
    from db.migrate import current_revision, head_revision
    from kiosk.context import open_engine

    engine = open_engine(_config(ctx))
    current, head = current_revision(engine), head_revision()
    engine.dispose()
    click.echo(f"database: {current or 'empty'}   code: {head}")
    if current != head:
        sys.exit(1)


# --------------------------------------------------------------------------- import
@main.command("import")
@click.argument("kind", type=click.Choice(IMPORT_KINDS))
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--deactivate-missing",
    is_flag=True,
    help="Staff or pupils: FILE is the whole list; anyone not in it has left (staff can no "
    "longer sign in; the retention clock starts).",
)
@badge_option
@click.pass_context
def import_cmd(
    ctx: click.Context, kind: str, file: Path, deactivate_missing: bool, badge: str | None
) -> None:
    """Import pupils, contacts, staff or exam entries from an MIS CSV export (all or nothing).

    Needs a signed-in member of staff: pupils and contacts an office administrator or senior,
    staff a senior, exams the exams officer or a senior. Only a new school's very first staff
    import, with no senior yet, runs with nobody (recorded as such). Column names accepted
    are listed in docs/mis-import.md.
    """
    from kiosk import exam_import  # noqa: F401  registers `import exams`
    from kiosk.auth import NotPermitted
    from kiosk.mis_import import (
        IMPORT_PERMISSIONS,
        ImportRejected,
        ImportResult,
        run_import,
        shown,
    )

    if deactivate_missing and kind == "contacts":
        _fail("--deactivate-missing is for `kiosk import staff` and `kiosk import pupils`")
    permission = IMPORT_PERMISSIONS[kind]
    with _open(ctx) as k:
        if badge is None and kind != "staff":
            _fail(needs_sign_in(f"import {kind}", permission))

        first_codes: list[str] = []

        def load(actor: Identity | None) -> ImportResult:
            from kiosk.staff_admin import bootstrap_enrolment_codes

            with k.sessions.begin() as s:
                result = run_import(
                    s,
                    kind,
                    file,
                    station_id=k.config.station.id,
                    now=datetime.now(UTC),
                    deactivate_missing=deactivate_missing,
                    actor=actor,
                )
                if actor is None:  # a new school's first staff list: its seniors need codes
                    for staff, code in bootstrap_enrolment_codes(s, k.custody.auth):
                        first_codes.append(
                            f"first sign-in code for {shown(staff.name)} (badge "
                            f"{staff.badge_uid or 'not yet enrolled'}): {code}"
                        )
                return result

        try:
            if badge is None:  # staff: allowed only while the school has no senior yet
                try:
                    result = load(None)
                except NotPermitted:
                    _fail(needs_sign_in("import staff", permission))
            else:
                with signed_in(k, badge, permission, command=f"import {kind}") as me:
                    result = load(me)
        except ImportRejected as exc:
            _fail(str(exc))
        except NotPermitted as exc:
            _fail(str(exc))
    summary = f"{file}: {kind}: {result.added} added, {result.updated} updated"
    if deactivate_missing:
        summary += f", {result.deactivated} marked as left (no longer in the list)"
    click.echo(summary)
    for line in first_codes:
        click.echo(line)
    if first_codes:
        click.echo(
            "Give each code to that senior only (shown once, valid "
            f"{k.config.auth.enrolment_code_hours} h): they tap their badge at the kiosk, type "
            "the code as the PIN and choose their own PIN."
        )


# --------------------------------------------------------------------------- holdings
@main.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--all", "show_all", is_flag=True, help="Include released and closed holdings.")
@badge_option
@click.pass_context
def holdings(ctx: click.Context, as_json: bool, show_all: bool, badge: str | None) -> None:
    """List the phones the school holds now (or all with --all). Shows pupils: needs the
    sign-in of staff who may see holdings."""
    from kiosk.mis_import import shown

    with _open(ctx) as k, signed_in(k, badge, Permission.VIEW_HOLDINGS, command="holdings") as me:
        rows = k.custody.holdings(me, open_only=not show_all)
        tz = k.config.tz
    if as_json:
        click.echo(json.dumps([h.as_json() for h in rows], indent=2))
        return
    if not rows:
        click.echo("No phones held.")
        return

    click.echo(f"{'#':>4}  {'state':<18} {'kind':<13} {'locker':<7} {'since':<16} pupil")
    for h in rows:
        since = (h.held_at or h.created_at).astimezone(tz).strftime("%Y-%m-%d %H:%M")
        where = h.locker or "-"
        if h.pouch_number:
            where += f"/{h.pouch_number}"
        click.echo(  # names come from the MIS: never raw control characters to a terminal
            f"{h.id:>4}  {h.state:<18} {h.kind:<13} {where:<7} {since:<16} "
            f"{shown(h.pupil_name)} ({shown(h.tutor_group)})"
        )


# --------------------------------------------------------------------------- audit
@main.group()
def audit() -> None:
    """The hash-chained event log."""


@audit.command("verify")
@click.pass_context
def audit_verify(ctx: click.Context) -> None:
    """Check every event's hash chain, and that the events explain the custody tables;
    exit 1 naming the first bad event and every unexplained row (table, id, column)."""
    from db.audit import verify_chain
    from kiosk import audit_anchor
    from kiosk.audit_replay import unexplained
    from kiosk.sync.anchor import check_anchor

    with _open(ctx) as k, k.sessions() as s:
        report = verify_chain(s)
        # The chain must still reach what the central log acknowledged (kiosk sync's anchor).
        anchor_problem: object | None = (
            check_anchor(s, k.config.station.data_dir) if report.ok else None
        )
        if report.ok and anchor_problem is None:
            # ... and the keyed head anchor, which needs no network (kiosk.audit_anchor).
            anchor_problem = audit_anchor.check(
                s, k.config.station.data_dir, k.config.anchor_key_path
            )
        rows = unexplained(s)
    if report.ok and anchor_problem is None and not rows:
        click.echo(f"audit chain OK: {report.events_checked} events verified")
        return
    if not report.ok or anchor_problem is not None:
        click.echo(f"audit chain BROKEN: {report.problem or anchor_problem}", err=True)
    for row in rows:
        click.echo(f"audit row NOT EXPLAINED by the events: {row}", err=True)
    sys.exit(1)


@audit.command("baseline")
@badge_option
@click.pass_context
def audit_baseline(ctx: click.Context, badge: str | None) -> None:
    """Record the custody tables' facts as they are now (once, after upgrading a ledger whose
    rows predate the facts its events carry). Check `kiosk audit verify` first: a baseline
    explains whatever the tables hold, so a signed-in senior vouches for it by name."""
    from kiosk.audit_replay import record_baseline
    from kiosk.auth import authorise

    with (
        _open(ctx) as k,
        signed_in(k, badge, Permission.AUDIT_BASELINE, command="audit baseline") as me,
        k.sessions.begin() as s,
    ):
        authorise(s, me, Permission.AUDIT_BASELINE)
        record_baseline(
            s, station_id=k.config.station.id, now=k.custody.clock(), actor_id=me.staff_id
        )
    click.echo("audit baseline recorded")


# --------------------------------------------------------------------------- purge
def interactive() -> bool:
    """A person at a terminal (stdin is a TTY); the systemd timer's stdin is /dev/null."""
    return sys.stdin.isatty()


@main.command()
@click.option("--dry-run", is_flag=True, help="List what would go; change nothing.")
@badge_option
@click.option(
    "--system",
    "as_system",
    is_flag=True,
    help="For the nightly timer (kiosk-purge.service) only: run as the system actor, which "
    "may purge and do nothing else. Refused at a terminal: people sign in with --badge.",
)
@click.pass_context
def purge(ctx: click.Context, dry_run: bool, badge: str | None, as_system: bool) -> None:
    """Delete records past the profile's retention periods (a senior's sign-in, or --system)."""
    from kiosk.auth import NotPermitted, system_identity
    from kiosk.retention import flush_write_ahead_log
    from kiosk.retention import purge as run_purge

    if as_system and badge:
        _fail("give either --badge (a person) or --system (the nightly timer), not both")
    if as_system and interactive():
        _fail(
            "--system is for the nightly timer (kiosk-purge.service), not a person at a "
            "terminal: sign in with --badge UID"
        )
    with _open(ctx) as k:
        if as_system:
            problem = system_run_problem(k.config.source, k.profile.path)
            if problem:
                _fail(problem)
        with contextlib.ExitStack() as stack:
            if as_system:
                me = system_identity()
            else:
                me = stack.enter_context(signed_in(k, badge, Permission.PURGE, command="purge"))
            try:
                with k.sessions.begin() as s:
                    report = run_purge(
                        s,
                        k.profile,
                        now=datetime.now(UTC),
                        station_id=k.config.station.id,
                        dry_run=dry_run,
                        photo_dir=k.config.station.data_dir / "photos",
                        actor=me,
                    )
            except NotPermitted as exc:
                _fail(str(exc))
        if not dry_run:
            flush_write_ahead_log(k.engine)
    click.echo("would delete (by kind, no names):" if dry_run else "deleted (by kind):")
    click.echo("\n".join(report.lines()))


# --------------------------------------------------------------------------- policy
@main.group()
def policy() -> None:
    """School policy profiles."""


@policy.command("show")
@click.argument("profile", required=False)
@click.pass_context
def policy_show(ctx: click.Context, profile: str | None) -> None:
    """Show a profile's rules with their seed citations (default: the station's profile)."""
    from kiosk.policy_text import describe_profile

    name = profile or _config(ctx).station.profile
    try:
        prof = policies.load_profile(name)
    except policies.ProfileError as exc:
        _fail(str(exc))
    click.echo(describe_profile(prof))
    if profile is None:
        click.echo(f"\nOther profiles: {', '.join(policies.profile_names())}")


@policy.command("check")
@click.argument("profile")
def policy_check(profile: str) -> None:
    """Validate a profile (a name or a .toml path); exit 2 naming file, line and key."""
    try:
        prof = policies.load_profile(profile)
    except policies.ProfileError as exc:
        _fail(str(exc))
    click.echo(f"{prof.path}: OK ({prof.school_name})")


@policy.command("roles")
def policy_roles() -> None:
    """Show the role -> permission matrix."""
    from kiosk.permissions import matrix_markdown

    click.echo(matrix_markdown())


# --------------------------------------------------------------------------- demo
@main.command()
@click.option("--seed-only", is_flag=True, help="Write the demo school and stop (no UI).")
@click.option(
    "--dir",
    "data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the demo data (default: a new temporary folder).",
)
def demo(seed_only: bool, data_dir: Path | None) -> None:
    """A demo school with simulated hardware, pupils, staff, history and an exam session."""
    from kiosk.demo import DEMO_BADGES, seed_demo

    target = data_dir or Path(tempfile.mkdtemp(prefix="kiosk-demo-"))
    try:
        k = seed_demo(target)
    except FileExistsError as exc:
        _fail(str(exc))
    config_file = target / "kiosk.toml"
    if seed_only:
        k.close()
        click.echo(f"Demo school written to {target}")
        office_badge, office_pin = DEMO_BADGES["office"]
        click.echo(
            f"Try:  kiosk --config {config_file} holdings --badge {office_badge}"
            f"   (PIN {office_pin}, asked for)"
        )
        click.echo(
            "Demo badges (UID / PIN): "
            + ", ".join(f"{role} {uid}/{pin}" for role, (uid, pin) in DEMO_BADGES.items())
        )
        return
    k.close()
    from kiosk.memory import tune_malloc

    tune_malloc()  # as `kiosk run` (kiosk/memory.py)
    click.get_current_context().meta["kiosk.demo"] = True  # the demo UI may quit with one key
    _run_ui(click.get_current_context(), load_config(config_file), simulate=True)


@main.command()
@click.option("--simulate", is_flag=True, help="Use simulated hardware instead of the Pi's.")
@click.option(
    "--headless",
    is_flag=True,
    help="No screen: doors, alarms and start-up checks only (never loads the UI).",
)
@click.option(
    "--sim-commands",
    type=click.File("r"),
    help="(with --headless --simulate) read simulator commands from FILE or - (stdin): "
    "tap UID, open/close/force/jam/unjam BANK N.",
)
@click.pass_context
def run(ctx: click.Context, simulate: bool, headless: bool, sim_commands: IO[str] | None) -> None:
    """Start the configured station (staff UI on this terminal, or --headless)."""
    if sim_commands is not None and not (headless and simulate):
        _fail("--sim-commands needs --headless --simulate")
    from kiosk.memory import tune_malloc
    from kiosk.watchdog import notify_ready

    tune_malloc()  # before any thread: sign-ins' Argon2 memory is given back (kiosk/memory.py)

    if headless:
        # Here, not above: the staff UI paints before it loads SQLAlchemy (issue 15).
        from db.engine import DatabaseCorrupt
        from kiosk.context import NotReady
        from kiosk.hardware_lock import HardwareBusy
        from kiosk.headless import run_headless

        try:
            run_headless(_config(ctx), simulate=simulate, commands=sim_commands)
        except (HardwareBusy, NotReady, DatabaseCorrupt, policies.ProfileError) as exc:
            _fail(f"cannot start the station: {exc}")
        return
    notify_ready()  # kiosk.service is Type=notify; a no-op outside systemd
    _run_ui(ctx, _config(ctx), simulate=simulate)


# --------------------------------------------------------------------------- UI plug-ins
#: Entry-point group through which the UI package plugs its launchers into this CLI, so
#: ``kiosk`` never imports Textual unless a screen is asked for (issue 8).
UI_GROUP = "kiosk.ui"


def ui_launcher(ctx: click.Context, name: str) -> Callable[..., None] | None:
    """The UI launcher ``name`` (``staff`` / ``signage``): injected in ``ctx.obj["ui"]`` (tests,
    other front ends) or else loaded from the installed ``kiosk.ui`` entry points."""
    obj = ctx.find_object(dict) or {}
    injected = obj.get("ui")
    if isinstance(injected, dict) and name in injected:
        launcher: Callable[..., None] = injected[name]
        return launcher
    if callable(injected) and name == "staff":
        return injected
    from importlib.metadata import entry_points

    for ep in entry_points(group=UI_GROUP):
        if ep.name == name:
            loaded: Callable[..., None] = ep.load()
            return loaded
    return None


def _run_ui(ctx: click.Context, config: KioskConfig, *, simulate: bool) -> None:
    """Hand over to the staff UI plugged in by entry point (``kiosk`` never imports ``tui``)."""
    launcher = ui_launcher(ctx, "staff")
    if launcher is None:
        _fail(
            "no staff UI is installed (entry point group kiosk.ui, name staff); reinstall "
            "the package, or run `kiosk run --headless`"
        )
        return
    launcher(config, simulate=simulate)


# --------------------------------------------------------------------------- signage
@main.command()
@click.option(
    "--print",
    "print_to",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write A4 wall posters for every zone instead: FILE.pdf (one page per zone) "
    "or FILE.svg (one SVG per zone, named FILE-<zone>.svg).",
)
@click.option("--interval", default=8.0, show_default=True, help="Seconds per notice.")
@click.pass_context
def signage(ctx: click.Context, print_to: Path | None, interval: float) -> None:
    """Public signage: camera-free zones, phone rules, exam notices (full screen)."""
    config = _config(ctx)
    if print_to is not None:
        from kiosk.posters import print_posters

        try:
            written = print_posters(config, print_to)
        except ValueError as exc:
            _fail(str(exc))
        for path in written:
            click.echo(f"wrote {path}")
        return
    launcher = ui_launcher(ctx, "signage")
    if launcher is None:
        _fail("no signage screen is installed (entry point group kiosk.ui, name signage)")
        return
    launcher(config, interval=interval)


#: The click group other commands are added onto (``cli.add_command(...)``).
cli = main


if __name__ == "__main__":
    main()
