"""An adult refused at the hatch; a locker forced open with a phone inside."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from central.triage import tray_item
from db.models import Event, Holding, Incident, RefusedCollection
from kiosk.auth import NotPermitted
from kiosk.custody import CustodyError


def _held(demo):
    h, _ = demo.custody.confiscate(
        demo.staff["office"],
        pupil_id=demo.pupils["Ben"],
        category="unauthorised_use",
        device_description="grey phone",
        switched_off_confirmed=True,
    )
    return demo.custody.confirm_deposit(demo.staff["office"], h.id)


def _last(demo, type_: str) -> Event:
    with demo.ctx.sessions() as s:
        return s.scalars(select(Event).where(Event.type == type_).order_by(Event.id.desc())).first()


def test_stranger_refused_is_recorded_off_chain_and_not_in_the_dsl_tray(demo):
    h = _held(demo)
    r = demo.custody.record_refused_collection(
        demo.staff["office"], h.id, name_given="Gary Smith", id_type_seen="passport"
    )
    assert (r.rules, r.barred) == (("not_on_contact_list",), False)
    event = _last(demo, "release.refused")
    assert "Gary" not in str(event.payload)  # the name stays off the chain
    assert tray_item(event.type, event.payload) is None
    with demo.ctx.sessions() as s:
        row = s.get(RefusedCollection, r.id)
        assert (row.name_given, row.id_type_seen) == ("Gary Smith", "passport")
        assert s.get(Holding, h.id).state == "held"


def test_barred_contact_raises_the_dsl_tray_item(demo):
    h = _held(demo)
    r = demo.custody.record_refused_collection(
        demo.staff["office"],
        h.id,
        name_given="Tom Hughes",
        id_type_seen="driving_licence",
        contact_id=demo.contacts["Tom Hughes"],  # grandfather, no PR, may not collect
    )
    assert r.barred and r.rules == ("contact_may_not_collect", "barred")
    event = _last(demo, "release.refused")
    assert event.payload["barred"] is True
    item = tray_item(event.type, event.payload)
    assert item is not None and item.category == "refused_collection"


def test_contact_the_policy_allows_is_sent_to_the_release_form(demo):
    h = _held(demo)
    before = demo.counts()
    with pytest.raises(CustodyError, match="release form"):
        demo.custody.record_refused_collection(
            demo.staff["office"],
            h.id,
            name_given="Sarah Hughes",
            id_type_seen="passport",
            contact_id=demo.contacts["Sarah Hughes"],
        )
    assert demo.counts() == before


def test_forced_open_flags_the_phone_and_staff_confirm_or_record_missing(demo):
    h = _held(demo)
    bank, number = h.locker[0], int(h.locker[1:])
    assert demo.custody.flag_forced_open(bank, number) == [h.id]
    assert demo.custody.flag_forced_open(bank, number) == []  # already flagged
    assert [x.id for x in demo.custody.holdings_to_check(demo.staff["office"])] == [h.id]
    demo.custody.confirm_still_there(demo.staff["office"], h.id)
    assert demo.custody.holdings_to_check(demo.staff["office"]) == []
    with pytest.raises(CustodyError, match="no check pending"):
        demo.custody.confirm_still_there(demo.staff["office"], h.id)

    demo.custody.flag_forced_open(bank, number)
    incident_id = demo.custody.record_missing(demo.staff["office"], h.id, "door bent")
    assert demo.custody.holdings_to_check(demo.staff["office"]) == []
    with demo.ctx.sessions() as s:
        incident = s.get(Incident, incident_id)
        assert (incident.category, incident.holding_id) == ("missing_after_forced_open", h.id)
    assert _last(demo, "holding.checked").payload == {"found": False}


def test_holdings_to_check_name_pupils_only_to_roles_that_see_holdings(demo):
    """The list names pupils: a technician signing in next must not get it (the rule is in
    the use-case, not in the screen that asks)."""
    h = _held(demo)
    demo.custody.flag_forced_open(h.locker[0], int(h.locker[1:]))
    with pytest.raises(NotPermitted):
        demo.custody.holdings_to_check(demo.staff["technician"])
    assert [x.id for x in demo.custody.holdings_to_check(demo.staff["office"])] == [h.id]


def test_empty_locker_forced_open_flags_nothing(demo):
    free = next(x for x in demo.custody.lockers() if x.state == "free")
    assert demo.custody.flag_forced_open(free.label[0], int(free.label[1:])) == []


def test_retention_removes_the_name_given_once_the_incident_period_has_passed(demo):
    from datetime import timedelta

    from kiosk.retention import purge

    h = _held(demo)
    r = demo.custody.record_refused_collection(
        demo.staff["office"], h.id, name_given="Gary Smith", id_type_seen=None
    )
    days = demo.custody.profile.retention.incident_days.value
    with demo.ctx.sessions.begin() as s:
        early = purge(s, demo.custody.profile, now=demo.clock(), station_id="t", dry_run=True)
        assert early.kinds["refused_collections"] == 0  # the holding is still kept
    with demo.ctx.sessions.begin() as s:
        s.get(RefusedCollection, r.id).holding_id = None  # as if its holding was purged
        later = demo.clock() + timedelta(days=days)
        report = purge(s, demo.custody.profile, now=later, station_id="t")
        assert report.kinds["refused_collections"] == 1
    with demo.ctx.sessions() as s:
        assert s.get(RefusedCollection, r.id) is None
