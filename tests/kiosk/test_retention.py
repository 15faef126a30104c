"""Retention purge removes closed holdings past their period and keeps the chain valid."""

from __future__ import annotations

from datetime import timedelta

from db.audit import verify_chain
from kiosk.retention import purge


def _purge(demo, days, dry_run):
    with demo.ctx.sessions.begin() as s:
        return purge(
            s,
            demo.ctx.profile,
            now=demo.clock.now + timedelta(days=days),
            station_id="demo-office",
            dry_run=dry_run,
        )


def test_nothing_is_due_today(demo):
    assert _purge(demo, 0, dry_run=False).total == 0


def test_dry_run_lists_and_changes_nothing(demo):
    before = demo.counts()
    report = _purge(demo, 380, dry_run=True)
    assert len(report.holdings) == 1
    assert demo.counts() == before
    assert len(demo.custody.holdings(None, open_only=False)) == 7


def test_purge_deletes_expired_closed_holdings_only_and_chain_still_verifies(demo):
    report = _purge(demo, 380, dry_run=False)
    assert len(report.holdings) == 1
    remaining = demo.custody.holdings(None, open_only=False)
    assert len(remaining) == 6
    assert all(h.state != "released" for h in remaining)  # open ones are never purged
    with demo.ctx.sessions() as s:
        assert verify_chain(s).ok


def test_photo_of_a_phone_still_held_goes_after_photo_days(demo):
    ben = demo.held("Ben")
    photo = demo.ctx.config.station.data_dir / "photos" / "holding-x.jpg"
    photo.parent.mkdir(parents=True, exist_ok=True)
    photo.write_bytes(b"jpeg")
    demo.custody.attach_photo(None, ben.id, str(photo))
    report = _purge(demo, 30, dry_run=False)
    assert report.photos == [str(photo)] and not photo.exists()
    assert demo.custody.holding(None, ben.id).state == "held"


def test_incident_of_a_phone_still_held_is_kept(demo):
    from sqlalchemy import select

    from db.models import Incident

    report = _purge(demo, 3000, dry_run=True)
    open_ids = {h.id for h in demo.custody.holdings(None)}
    with demo.ctx.sessions() as s:
        by_holding = {i.id: i.holding_id for i in s.scalars(select(Incident))}
    kept_open = {i for i, h in by_holding.items() if h in open_ids}
    assert kept_open, "the demo has incidents for phones still held"
    assert report.incidents  # the released phone's incident is past 6 years
    assert not kept_open & set(report.incidents)
