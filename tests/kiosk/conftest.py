"""A seeded demo station at a fixed time, with a clock the test can move."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field

import pytest
from auth_testing import staff_identities
from kiosk_testing import T0, Clock
from sqlalchemy import func, select

from db.models import Contact, Event, OutboxRow, Pupil
from kiosk.auth import Identity
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
    d.staff = staff_identities(ctx)
    with ctx.sessions() as s:
        d.pupils = {p.given_name: p.id for p in s.scalars(select(Pupil))}
        d.contacts = {c.name: c.id for c in s.scalars(select(Contact))}
    yield d
    ctx.close()
