"""A seeded demo station at a fixed time, with a clock the test can move."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field

import pytest
from auth_testing import staff_identities
from kiosk_testing import T0, Clock
from pg_testing import PG_URL, pg_schema
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from db.models import Contact, Event, OutboxRow, Pupil
from kiosk.auth import Identity
from kiosk.config import DatabaseConfig
from kiosk.context import open_context
from kiosk.demo import demo_config, seed_demo


@dataclass
class Demo:
    ctx: object
    clock: Clock
    staff: dict[str, Identity] = field(default_factory=dict)
    pupils: dict[str, int] = field(default_factory=dict)
    contacts: dict[str, int] = field(default_factory=dict)

    @property
    def custody(self):
        return self.ctx.custody

    def counts(self) -> tuple[int, int]:
        with self.ctx.sessions() as s:
            return (
                s.scalar(select(func.count()).select_from(Event)),
                s.scalar(select(func.count()).select_from(OutboxRow)),
            )

    def held(self, pupil: str):
        return next(
            h
            for h in self.custody.holdings(None)
            if h.pupil_id == self.pupils[pupil] and h.kind == "confiscation"
        )


def _know_the_school(d: Demo) -> None:
    """Sign the demo staff in and name the pupils and contacts, for either ledger."""
    ctx = d.ctx
    d.staff = staff_identities(ctx)
    with ctx.sessions() as s:
        d.pupils = {p.given_name: p.id for p in s.scalars(select(Pupil))}
        d.contacts = {c.name: c.id for c in s.scalars(select(Contact))}


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory):
    """Seed once (Argon2 hashing and migrations take a second), copy per test."""
    folder = tmp_path_factory.mktemp("demo-template")
    seed_demo(folder, now=T0).close()
    return folder


@pytest.fixture
def demo(tmp_path, demo_template):
    target = tmp_path / "demo"
    shutil.copytree(demo_template, target)
    clock = Clock()
    ctx = open_context(demo_config(target), clock=clock)
    d = Demo(ctx, clock)
    _know_the_school(d)
    yield d
    ctx.close()


@pytest.fixture
def pg_demo(tmp_path, monkeypatch):
    """The demo school with its ledger on PostgreSQL (a schema of its own per test).

    The same seed as :func:`demo` (``kiosk.demo.seed_demo``: the MIS importers and the real
    use-cases), pointed at PostgreSQL through the config's ``[database] url``; the schema is
    chosen in the URL (``?options=-csearch_path=...``), so ``open_context`` and the migrations
    need nothing else. ``seed_demo`` builds its own config, so the test swaps that one for a
    config with the URL (no product change for a test). No server: see ``tests/pg_testing.py``.
    """
    with pg_schema() as schema:
        yield from _pg_demo(tmp_path, monkeypatch, schema)


def _pg_demo(tmp_path, monkeypatch, schema: str):
    url = (
        make_url(PG_URL)
        .update_query_dict({"options": f"-csearch_path={schema}"})
        .render_as_string(hide_password=False)
    )
    folder = tmp_path / "pg-demo"

    def pg_config(data_dir):
        return demo_config(data_dir).model_copy(update={"database": DatabaseConfig(url=url)})

    monkeypatch.setattr("kiosk.demo.demo_config", pg_config)
    ctx = None
    try:
        seed_demo(folder, now=T0).close()
        clock = Clock()
        ctx = open_context(pg_config(folder), clock=clock)
        d = Demo(ctx, clock)
        _know_the_school(d)
        yield d
    finally:
        if ctx is not None:
            ctx.close()
