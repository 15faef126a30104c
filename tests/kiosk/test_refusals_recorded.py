"""What is refused is recorded (issue 9): refused releases and alarm acknowledgements are
events in the chain, by id only; and a signed-out identity can do nothing more."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from central.triage import tray_item
from central.web.words import describe_event
from db.audit import verify_chain
from db.models import Contact, Event, Holding, Staff
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


def _barred_contact(demo) -> int:
    with demo.ctx.sessions.begin() as s:
        contact = s.scalars(select(Contact).where(Contact.pupil_id == demo.pupils["Ben"])).first()
        contact.may_collect, contact.parental_responsibility = False, False
        return contact.id


def test_the_hatch_record_after_a_policy_refusal_is_one_refusal_and_one_dsl_alert(demo):
    """Release form: the policy refuses a barred contact (recorded, DSL alerted); staff then
    record the adult with the refused-adult form. One refusal, so one tray item, and the hatch
    record says which policy refusal it completes."""
    hid, cid = _held(demo), _barred_contact(demo)
    office = demo.staff["office"]
    check = demo.custody.check_collector(office, hid, Collector("contact", contact_id=cid))
    assert not check.decision.allowed
    demo.custody.record_refused_collection(
        office, hid, name_given="Sam Hughes", id_type_seen=None, contact_id=cid
    )
    (policy,) = _events(demo, "release.policy_refused")
    (hatch,) = _events(demo, "release.refused")
    assert hatch.payload["follows_seq"] == policy.seq
    tray = [tray_item(e.type, e.payload) for e in (policy, hatch)]
    assert [t.category for t in tray if t is not None] == ["refused_collection"]
    assert "Sam" not in str(hatch.payload)


def test_a_hatch_record_with_no_policy_refusal_before_it_alerts_the_dsl_itself(demo):
    hid, cid = _held(demo), _barred_contact(demo)
    demo.custody.record_refused_collection(
        demo.staff["office"], hid, name_given="Sam Hughes", id_type_seen=None, contact_id=cid
    )
    (hatch,) = _events(demo, "release.refused")
    assert "follows_seq" not in hatch.payload
    assert tray_item(hatch.type, hatch.payload) is not None


def test_a_refusal_is_written_only_for_someone_still_allowed_in_its_transaction(demo, monkeypatch):
    """The refusal is a write of its own: demoted between the decision and the write, the
    person is refused there too, and nothing is written."""
    hid, office = _held(demo), demo.staff["office"]
    decide = demo.custody._decide_release

    def then_demoted(actor, *args):
        decision = decide(actor, *args)
        with demo.ctx.sessions.begin() as s:
            s.get(Staff, actor.staff_id).roles = ["technician"]
        return decision

    monkeypatch.setattr(demo.custody, "_decide_release", then_demoted)
    with pytest.raises(NotPermitted):
        demo.custody.check_release(office, hid, Collector("pupil"), None)
    assert _events(demo, "release.policy_refused") == []
