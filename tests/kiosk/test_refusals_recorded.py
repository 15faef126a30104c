"""What is refused is recorded (issue 9): refused releases and alarm acknowledgements are
events in the chain, by id only; and a signed-out identity can do nothing more."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from central.triage import tray_item
from central.web.words import describe_event
from db.audit import verify_chain
from db.models import Contact, Event, Holding
from kiosk.audit_replay import unexplained
from kiosk.auth import NotPermitted, authorise
from kiosk.custody import Collector, PolicyRefused
from kiosk.permissions import Permission
from kiosk.sync.batch import reference_data
from kiosk.sync.outbox import PendingEvent


def _held(demo) -> int:
    h, _ = demo.custody.confiscate(
        demo.staff["office"],
        pupil_id=demo.pupils["Ben"],
        category="unauthorised_use",
        device_description="grey phone",
        switched_off_confirmed=True,
    )
    return demo.custody.confirm_deposit(demo.staff["office"], h.id).id


def _events(demo, type_: str) -> list[Event]:
    with demo.ctx.sessions() as s:
        return list(s.scalars(select(Event).where(Event.type == type_).order_by(Event.id)))


def _chain_and_tables_ok(demo) -> None:
    with demo.ctx.sessions() as s:
        assert verify_chain(s).ok
        assert unexplained(s) == []


def test_a_refused_check_is_recorded_with_who_for_whom_and_which_rule(demo):
    hid = _held(demo)
    office = demo.staff["office"]
    decision = demo.custody.check_release(office, hid, Collector("pupil"), None)
    assert not decision.allowed
    (event,) = _events(demo, "release.policy_refused")
    assert event.actor_id == office.staff_id and event.holding_id == hid
    p = event.payload
    assert p["pupil_id"] == demo.pupils["Ben"] and p["collector_kind"] == "pupil"
    assert p["rules"] == [r.code for r in decision.reasons] and p["rules"]
    assert p["clauses"] == [r.clause for r in decision.reasons]
    assert p["citations"] == [r.source for r in decision.reasons] and all(p["citations"])
    assert "Ben" not in str(p) and "Hughes" not in str(p)  # facts by id, no names
    assert p["barred"] is False and tray_item(event.type, p) is None  # routine: no tray
    assert describe_event(event.type, p) == "Release refused by the school's policy"
    # The refusal changes no projected table: the audit replay still explains every row.
    _chain_and_tables_ok(demo)
    with demo.ctx.sessions() as s:
        assert s.get(Holding, hid).state == "held"


def test_a_refused_begin_release_is_recorded_although_nothing_is_released(demo):
    hid = _held(demo)
    office = demo.staff["office"]
    before = len(_events(demo, "holding.releasing"))
    with pytest.raises(PolicyRefused):
        demo.custody.begin_release(office, hid, Collector("pupil"), None)
    (event,) = _events(demo, "release.policy_refused")  # its own transaction: committed
    assert event.actor_id == office.staff_id and event.payload["rules"]
    assert len(_events(demo, "holding.releasing")) == before  # the release itself rolled back
    _chain_and_tables_ok(demo)


def test_a_barred_contact_refused_by_the_policy_reaches_the_dsl_tray(demo):
    hid = _held(demo)
    with demo.ctx.sessions.begin() as s:
        contact = s.scalars(select(Contact).where(Contact.pupil_id == demo.pupils["Ben"])).first()
        contact.may_collect, contact.parental_responsibility = False, False
        cid = contact.id
    collector = Collector("contact", contact_id=cid)
    decision = demo.custody.check_release(demo.staff["office"], hid, collector, "passport")
    assert not decision.allowed
    (event,) = _events(demo, "release.policy_refused")
    assert event.payload["barred"] is True and event.payload["collector_contact_id"] == cid
    item = tray_item(event.type, event.payload)
    assert item is not None and item.category == "refused_collection"
    # The central log gets who the pupil and contact are beside the chain, not in it.
    pending = PendingEvent(
        outbox_id=0,
        queued_at=event.occurred_at,
        seq=event.seq,
        type=event.type,
        occurred_at=event.occurred_at,
        actor_id=event.actor_id,
        holding_id=event.holding_id,
        payload=event.payload,
        prev_hash=event.prev_hash,
        hash=event.hash,
    )
    with demo.ctx.sessions() as s:
        ref = reference_data(s, [pending])
    assert demo.pupils["Ben"] in {p.id for p in ref.pupils}


def test_an_allowed_check_records_no_refusal(demo):
    with demo.ctx.sessions() as s:
        count = s.scalar(select(func.count()).select_from(Event))
    hid = _held(demo)
    with demo.ctx.sessions() as s:
        contact = s.scalars(
            select(Contact).where(Contact.pupil_id == demo.pupils["Ben"], Contact.may_collect)
        ).first()
    demo.clock.at(16)  # after the earliest release time
    decision = demo.custody.check_release(
        demo.staff["office"], hid, Collector("contact", contact_id=contact.id), "passport"
    )
    assert decision.allowed, decision.summary()
    assert _events(demo, "release.policy_refused") == []
    assert count > 0


def test_signed_out_identity_is_refused_everywhere(demo):
    office = demo.staff["office"]
    demo.custody.holdings(office)  # works while signed in
    demo.custody.sign_out(office, "end of the day")
    with pytest.raises(NotPermitted, match="Not signed in"):
        demo.custody.holdings(office)
    with demo.ctx.sessions() as s, pytest.raises(NotPermitted):
        authorise(s, office, Permission.VIEW_HOLDINGS)
    (event,) = [e for e in _events(demo, "auth.signed_out") if e.actor_id == office.staff_id]
    assert event.payload == {"why": "end of the day"}
    # Signing out twice writes nothing more (the second is not a sign-in any more).
    demo.custody.sign_out(office)
    assert len([e for e in _events(demo, "auth.signed_out") if e.actor_id == office.staff_id]) == 1


def test_auth_service_sign_out_invalidates_too(demo):
    teacher = demo.staff["teacher"]
    with demo.ctx.sessions.begin() as s:
        demo.custody.auth.sign_out(s, teacher)
    with demo.ctx.sessions() as s, pytest.raises(NotPermitted):
        authorise(s, teacher, Permission.CONFISCATE)
