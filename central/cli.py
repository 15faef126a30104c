"""``kiosk-central``: run and administer the central incident log.

The database comes from ``--database`` or ``KIOSK_CENTRAL_DATABASE`` (default: an embedded
SQLite file ``central.db`` in the current directory).
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import click
from sqlalchemy.orm import Session

from central import admin
from central.store import DEFAULT_URL, current_revision, head_revision, make_engine, upgrade


def _now() -> datetime:
    return datetime.now(UTC)


def _operator() -> str:
    """Who ran the command, for the record of a change to a user's schools."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no name for this uid (e.g. a bare container)
        return f"cli:uid {os.getuid()}"


@click.group()
@click.option(
    "--database",
    envvar="KIOSK_CENTRAL_DATABASE",
    default=DEFAULT_URL,
    show_default=True,
    help="SQLAlchemy URL, e.g. postgresql+psycopg://user@host/central",
)
@click.pass_context
def main(ctx: click.Context, database: str) -> None:
    """The central incident log: where every kiosk's records land."""
    ctx.obj = database


@contextmanager
def _session(database: str) -> Iterator[Session]:
    engine = make_engine(database)
    try:
        if current_revision(engine) != head_revision():
            raise click.ClickException(
                f"database {engine.url.render_as_string()} is not at the newest schema: "
                "run `kiosk-central db upgrade` first"
            )
        with Session(engine, expire_on_commit=False) as s, s.begin():
            try:
                yield s
            except admin.AdminError as exc:
                raise click.ClickException(str(exc)) from exc
    finally:
        engine.dispose()


@main.group()
def db() -> None:
    """The database schema."""


@db.command("upgrade")
@click.pass_obj
def db_upgrade(database: str) -> None:
    """Create or migrate the database to the newest schema."""
    engine = make_engine(database)
    try:
        upgrade(engine)
        click.echo(f"database at revision {current_revision(engine)}")
    finally:
        engine.dispose()


@main.group()
def school() -> None:
    """Schools of the trust."""


@school.command("add")
@click.argument("slug")
@click.option("--name", default="", help="the school's full name")
@click.pass_obj
def school_add(database: str, slug: str, name: str) -> None:
    """Add a school, known by SLUG (e.g. oakfield)."""
    with _session(database) as s:
        added = admin.add_school(s, slug, name)
        click.echo(f"school {added.slug} added: {added.name}")


@main.group()
def station() -> None:
    """Kiosks and their credentials."""


@station.command("add")
@click.argument("name")
@click.option("--school", "school_slug", required=True, help="the school's SLUG")
@click.pass_obj
def station_add(database: str, name: str, school_slug: str) -> None:
    """Register kiosk NAME (its station_id) and print its credential, once."""
    with _session(database) as s:
        issued = admin.add_station(s, name, school_slug, _now())
    click.echo(f"station {name} added to {school_slug}.")
    click.echo("Its credential (shown once; only a hash is kept, so copy it now):")
    click.echo(issued.token)


@station.command("revoke")
@click.argument("name")
@click.pass_obj
def station_revoke(database: str, name: str) -> None:
    """Revoke kiosk NAME's credential: its batches are refused from now on."""
    with _session(database) as s:
        admin.revoke_station(s, name, _now())
    click.echo(f"station {name}'s credential revoked.")


@main.group()
def user() -> None:
    """People who sign in to the pages."""


@user.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(admin.ROLES), required=True)
@click.option(
    "--school",
    "school_slugs",
    multiple=True,
    help="a school's SLUG; repeat for a DSL or senior leader covering several schools",
)
@click.option("--name", "display_name", default="", help="full name shown on the pages")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    envvar="KIOSK_CENTRAL_PASSWORD",
    help="at least 12 characters (prompted when not given)",
)
@click.pass_obj
def user_add(
    database: str,
    username: str,
    role: str,
    school_slugs: tuple[str, ...],
    display_name: str,
    password: str,
) -> None:
    """Add a user; roles that see names get a TOTP secret to scan, shown once."""
    with _session(database) as s:
        added = admin.add_user(
            s,
            username=username,
            display_name=display_name,
            role=role,
            password=password,
            school_slugs=school_slugs,
            now=_now(),
            by_name=_operator(),
        )
    where = f" for {', '.join(school_slugs)}" if school_slugs else " (trust-wide)"
    click.echo(f"user {username} added as {role.replace('_', ' ')}{where}.")
    if added.totp_uri:
        click.echo("Second factor: add this to an authenticator app now (shown once):")
        click.echo(added.totp_uri)


@user.command("add-school")
@click.argument("username")
@click.argument("school_slug")
@click.pass_obj
def user_add_school(database: str, username: str, school_slug: str) -> None:
    """Let USERNAME see SCHOOL_SLUG's records too (recorded: who, when)."""
    with _session(database) as s:
        admin.add_user_school(s, username, school_slug, _now(), by_name=_operator())
    click.echo(f"{username} now covers {school_slug}.")


@user.command("remove-school")
@click.argument("username")
@click.argument("school_slug")
@click.pass_obj
def user_remove_school(database: str, username: str, school_slug: str) -> None:
    """Stop USERNAME seeing SCHOOL_SLUG's records (recorded; never their last school)."""
    with _session(database) as s:
        admin.remove_user_school(s, username, school_slug, _now(), by_name=_operator())
    click.echo(f"{username} no longer covers {school_slug}.")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=int)
@click.option(
    "--insecure-cookies",
    is_flag=True,
    help="session cookies without the Secure flag (only for a demo over plain HTTP)",
)
@click.option(
    "--session-idle-minutes",
    type=click.IntRange(min=1),
    default=15,
    show_default=True,
    envvar="KIOSK_CENTRAL_SESSION_IDLE_MINUTES",
    help="a signed-in browser left this long without a request must sign in again",
)
@click.option(
    "--pool-size",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    envvar="KIOSK_CENTRAL_POOL_SIZE",
    help="database connections each worker keeps open (PostgreSQL)",
)
@click.pass_obj
def serve(
    database: str,
    host: str,
    port: int,
    workers: int,
    insecure_cookies: bool,
    session_idle_minutes: int,
    pool_size: int,
) -> None:
    """Serve the ingest API and the pages (uvicorn)."""
    import uvicorn

    os.environ["KIOSK_CENTRAL_DATABASE"] = database
    os.environ["KIOSK_CENTRAL_SESSION_IDLE_MINUTES"] = str(session_idle_minutes)
    os.environ["KIOSK_CENTRAL_POOL_SIZE"] = str(pool_size)
    if insecure_cookies:
        os.environ["KIOSK_CENTRAL_INSECURE_COOKIES"] = "1"
    uvicorn.run(
        "central.asgi:app",
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        access_log=False,
    )


@main.command()
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="load the demo data and stop")
@click.pass_obj
def demo(database: str, port: int, no_serve: bool) -> None:
    """Load a few synced stations' worth of records into the database and serve them."""
    from central.demo import load_demo

    engine = make_engine(database)
    try:
        upgrade(engine)
        for line in load_demo(engine):
            click.echo(line)
    finally:
        engine.dispose()
    if not no_serve:
        import uvicorn

        os.environ["KIOSK_CENTRAL_DATABASE"] = database
        os.environ["KIOSK_CENTRAL_INSECURE_COOKIES"] = "1"
        click.echo(f"open http://127.0.0.1:{port}/ (Ctrl+C to stop)")
        uvicorn.run("central.asgi:app", host="127.0.0.1", port=port, access_log=False)
