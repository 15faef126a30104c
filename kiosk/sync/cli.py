"""``kiosk sync`` (the relay process), ``kiosk sync --once`` and ``kiosk sync status``.

Exit codes: 0 everything delivered; 1 something left (central unreachable) or quarantined,
or the central log stopped taking this station's events; 2 the config or credential is
unusable (the message names the file and what to do).
"""

from __future__ import annotations

import dataclasses
import gc
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import click

from db.engine import DatabaseCorrupt
from kiosk.config import KioskConfig
from kiosk.context import KioskContext, NotReady, open_context
from kiosk.sync.client import CentralClient, CentralUnavailable, RetryPolicy
from kiosk.sync.config import SyncConfig, SyncConfigError, read_credential
from kiosk.sync.relay import Relay, SyncStopped, sleeper
from kiosk.sync.status import sync_status

log = logging.getLogger("kiosk.sync")


def _fail(message: str, code: int = 2) -> None:
    click.echo(f"kiosk sync: {message}", err=True)
    sys.exit(code)


def _kiosk_config(ctx: click.Context) -> KioskConfig:
    obj: dict[str, Any] = ctx.find_object(dict) or {}
    return obj["config"]


def _settings(config: KioskConfig) -> SyncConfig:
    origin = str(config.source or "the built-in defaults")
    base = config.source.parent if config.source else Path.cwd()
    settings = config.sync.resolved(base)
    settings.require_enabled(origin)
    return settings


def _open(config: KioskConfig) -> KioskContext:
    try:
        return open_context(config)
    except (NotReady, DatabaseCorrupt) as exc:
        _fail(str(exc))
        raise  # unreachable: _fail exits


def make_relay(k: KioskContext, settings: SyncConfig, *, attempts: int) -> Relay:
    credential = read_credential(settings.credential_file)
    client = CentralClient(
        settings.central_url,
        credential,
        timeout=settings.timeout_seconds,
        ca_bundle=settings.ca_bundle,
        retry=RetryPolicy(attempts=attempts, initial=1.0, max_wait=60.0),
    )
    return Relay(
        k.sessions,
        client,
        station_id=k.config.station.id,
        data_dir=k.config.station.data_dir,
        batch_size=settings.batch_size,
        reads=k.reads,
    )


@click.group("sync", invoke_without_command=True)
@click.option("--once", is_flag=True, help="Send everything queued, then exit (1 if not all).")
@click.option("-v", "--verbose", is_flag=True, help="Log each batch.")
@click.pass_context
def sync(ctx: click.Context, once: bool, verbose: bool) -> None:
    """Push the event log to the central incident log (a process of its own).

    Without --once it runs until stopped (SIGTERM), sending new events as they appear and
    backing off while the central log is unreachable. See docs/sync.md.
    """
    if ctx.invoked_subcommand is not None:
        return
    logging.basicConfig(
        level=logging.INFO if verbose or not once else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    config = _kiosk_config(ctx)
    try:
        settings = _settings(config)
        k = _open(config)
        relay = make_relay(k, settings, attempts=settings.attempts)
    except SyncConfigError as exc:
        _fail(str(exc))
    # What is built so far (SQLAlchemy, pydantic, the models, the context: ~100,000
    # objects) lives as long as the process: move it out of the collector's reach. Each
    # batch makes thousands of short-lived objects, and the full collections they set off
    # walked that whole heap again: 4.6 ms of CPU a batch of 500 in a drain, 1.2 after.
    gc.freeze()
    try:
        if once:
            _once(k, relay)
        else:
            _forever(relay, settings)
    finally:
        relay.client.close()
        k.close()


def _once(k: KioskContext, relay: Relay) -> None:
    problem = None
    try:
        relay.drain()
    except CentralUnavailable as exc:
        problem = f"central log unreachable: {exc}"
    except SyncStopped as exc:
        problem = str(exc)
    result = relay.result
    with k.sessions() as s:
        status = sync_status(s, k.config.station.id, k.config.station.data_dir)
    click.echo(
        f"sent {result.delivered} event(s) in {result.batches} batch(es) "
        f"({result.stored} new, {result.duplicates} already held); "
        f"{status.backlog} left, {status.quarantined} quarantined"
    )
    if problem:
        click.echo(f"kiosk sync: {problem}", err=True)
    if status.quarantined:
        click.echo(
            f"kiosk sync: quarantined from seq {status.blocked_from}: {status.quarantine_reason}",
            err=True,
        )
    if problem or status.backlog or status.quarantined:
        sys.exit(1)


def _forever(relay: Relay, settings: SyncConfig) -> None:
    stop = threading.Event()

    def _stop(signum: int, _frame: object) -> None:
        log.info("signal %d: stopping after the current batch", signum)
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    # The client's own backoff must also give way to SIGTERM; after its attempts the
    # relay's outer backoff (up to 5 minutes) takes over, for as long as it takes.
    relay.client.retry = dataclasses.replace(relay.client.retry, sleep=sleeper(stop))
    log.info("sync relay for station %s -> %s", relay.station_id, settings.central_url)
    try:
        relay.run(stop, poll_seconds=settings.poll_seconds)
    except SyncStopped as exc:
        _fail(str(exc), code=1)


@sync.command("status")
@click.pass_context
def status_cmd(ctx: click.Context) -> None:
    """Backlog, oldest unsent event, last success, quarantine and anchor."""
    config = _kiosk_config(ctx)
    k = _open(config)
    try:
        with k.sessions() as s:
            status = sync_status(s, config.station.id, config.station.data_dir)
    finally:
        k.close()
    for line in status.lines(config.tz):
        click.echo(line)
