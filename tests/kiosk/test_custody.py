"""Custody use-cases against the default profile: allow and refuse paths.

Every refusal must leave the ledger exactly as it was (no event, no outbox row, no state
change); every change writes one event with one outbox row.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from sqlalchemy import select

from db.models import Event, Holding, Pupil
from kiosk.auth import NotPermitted
from kiosk.custody import Collector, CustodyError, PolicyRefused


def _clauses(exc: pytest.ExceptionInfo[PolicyRefused]) -> set[str]:
    return {r.clause for r in exc.value.decision.reasons}


def _confiscate(demo, pupil="Jack", who="office", **kw):
    args = dict(
        category="unauthorised_use", device_description="grey phone", switched_off_confirmed=True
    )
    args.update(kw)
    return demo.custody.confiscate(demo.staff[who], pupil_id=demo.pupils[pupil], **args)


def test_confiscate_reserves_a_free_locker_then_door_close_confirms(demo):
    before = demo.counts()
    h, decision = _confiscate(demo)
    assert decision.allowed
    assert (h.state, h.locker, h.offence_number) == ("depositing", "A4", 1)
    assert "inform_parents" in h.follow_ups
    held = demo.custody.confirm_deposit(demo.staff["office"], h.id)
    assert held.state == "held"
    events, outbox = demo.counts()
    assert events == outbox  # every event has its outbox row
    assert events - before[0] == 3  # depositing, incident recorded, held
    lockers = {x.label: x.state for x in demo.custody.lockers()}
    assert lockers["A4"] == "occupied"


def test_confiscation_refused_unless_switched_off_and_nothing_is_written(demo):
    before = demo.counts()
    with pytest.raises(PolicyRefused) as exc:
        _confiscate(demo, switched_off_confirmed=False)
    assert exc.value.decision.reasons
    assert demo.counts() == before
    assert all(h.pupil_id != demo.pupils["Jack"] for h in demo.custody.holdings(None))


def test_unknown_category_is_refused(demo):
    with pytest.raises(PolicyRefused):
        _confiscate(demo, category="chewing_gum")


def test_teacher_may_confiscate_but_exams_officer_may_not(demo):
    _confiscate(demo, who="teacher")
    with pytest.raises(NotPermitted):
        _confiscate(demo, pupil="Isla", who="exams")


def test_repeat_offence_in_term_escalates_and_needs_a_parent(demo):
    # Amara's first confiscation was three weeks ago, in this term.
    h, decision = _confiscate(demo, pupil="Amara")
    assert h.offence_number == 2
    assert decision.requires_parent_collection
    assert "refer_head_of_house" in h.follow_ups


def test_abort_frees_the_locker(demo):
    h, _ = _confiscate(demo)
    demo.custody.abort_deposit(demo.staff["office"], h.id, "door did not open")
    assert {x.label: x.state for x in demo.custody.lockers()}["A4"] == "free"
    with pytest.raises(CustodyError):
        demo.custody.confirm_deposit(demo.staff["office"], h.id)


# ------------------------------------------------------------------ release
def _release(demo, pupil, collector, id_type="passport", who="office", **kw):
    h = demo.held(pupil)
    return demo.custody.begin_release(demo.staff[who], h.id, collector, id_type, **kw)


def test_parent_with_id_after_end_of_day_collects(demo):
    demo.clock.at(15, 30)
    h, decision = _release(demo, "Ben", Collector("contact", demo.contacts["Sarah Hughes"]))
    assert decision.allowed and h.state == "releasing"
    done = demo.custody.complete_release(demo.staff["office"], h.id)
    assert (done.state, done.collector_name, done.id_type_seen) == (
        "released",
        "Sarah Hughes",
        "passport",
    )
    assert {x.label: x.state for x in demo.custody.lockers()}["A1"] == "free"


def _last_type(demo) -> str:
    from sqlalchemy import select

    from db.models import Event

    with demo.ctx.sessions() as s:
        return s.scalars(select(Event.type).order_by(Event.id.desc())).first()


def test_before_release_time_is_refused_with_clause(demo):
    demo.clock.at(11, 0)
    before = demo.counts()
    with pytest.raises(PolicyRefused) as exc:
        _release(demo, "Ben", Collector("contact", demo.contacts["Sarah Hughes"]))
    assert "release.earliest_time" in _clauses(exc)
    # Nothing moves; the refusal alone is recorded (issue 9), one event and its outbox row.
    assert demo.counts() == (before[0] + 1, before[1] + 1)
    assert _last_type(demo) == "release.policy_refused"
    assert demo.held("Ben").state == "held"


def test_contact_who_may_not_collect_is_refused(demo):
    demo.clock.at(16, 0)
    with pytest.raises(PolicyRefused) as exc:
        _release(demo, "Ben", Collector("contact", demo.contacts["Tom Hughes"]))
    assert any("may_collect" in c for c in _clauses(exc))


def test_someone_elses_parent_is_refused(demo):
    demo.clock.at(16, 0)
    with pytest.raises(PolicyRefused):
        _release(demo, "Ben", Collector("contact", demo.contacts["Raj Patel"]))


def test_pupil_cannot_collect_a_confiscation(demo):
    demo.clock.at(16, 0)
    with pytest.raises(PolicyRefused):
        _release(demo, "Ben", Collector("pupil"), id_type=None)


def test_no_id_seen_is_refused(demo):
    demo.clock.at(16, 0)
    with pytest.raises((PolicyRefused, CustodyError)):
        _release(demo, "Ben", Collector("contact", demo.contacts["Sarah Hughes"]), id_type=None)


def test_multiple_failures_list_every_reason(demo):
    demo.clock.at(9, 0)
    with pytest.raises(PolicyRefused) as exc:
        _release(demo, "Ben", Collector("contact", demo.contacts["Tom Hughes"]), id_type=None)
    assert len(exc.value.decision.reasons) >= 3


def test_check_release_shows_the_decision_without_changing_anything(demo):
    demo.clock.at(11, 0)
    before = demo.counts()
    h = demo.held("Ben")
    d = demo.custody.check_release(
        demo.staff["office"], h.id, Collector("contact", demo.contacts["Sarah Hughes"]), "passport"
    )
    assert not d.allowed and all(r.source for r in d.reasons)
    # No custody change: only the refusal shown to staff is recorded (issue 9).
    assert demo.counts() == (before[0] + 1, before[1] + 1)
    assert _last_type(demo) == "release.policy_refused"


def test_safeguarding_hold_blocks_release_and_override(demo):
    demo.clock.at(16, 0)
    dylan = next(h for h in demo.custody.holdings(None) if h.state == "safeguarding_hold")
    raj = Collector("contact", demo.contacts["Raj Patel"])
    with pytest.raises((PolicyRefused, CustodyError)):
        demo.custody.begin_release(demo.staff["office"], dylan.id, raj, "passport")
    with pytest.raises(PolicyRefused):
        demo.custody.begin_release(
            demo.staff["senior"],
            dylan.id,
            raj,
            "passport",
            override_reason="Parent insists, senior agrees",
        )


def test_senior_override_with_written_reason(demo):
    demo.clock.at(11, 0)
    sarah = Collector("contact", demo.contacts["Sarah Hughes"])
    with pytest.raises(PolicyRefused):  # too short a reason
        _release(demo, "Ben", sarah, who="senior", override_reason="ok")
    with pytest.raises(NotPermitted):  # office may not override
        _release(demo, "Ben", sarah, override_reason="Family emergency, mother present")
    h, _ = _release(
        demo, "Ben", sarah, who="senior", override_reason="Family emergency, mother present with ID"
    )
    assert h.state == "releasing"


def test_door_that_did_not_open_puts_the_phone_back_to_held(demo):
    demo.clock.at(16, 0)
    h, _ = _release(demo, "Ben", Collector("contact", demo.contacts["Sarah Hughes"]))
    back = demo.custody.cancel_release(demo.staff["office"], h.id, "did_not_open")
    assert back.state == "held"


# ------------------------------------------------------------------ safeguarding
def test_hold_lift_and_permissions(demo):
    ben = demo.held("Ben")
    with pytest.raises(NotPermitted):
        demo.custody.place_hold(demo.staff["office"], ben.id, "concern")
    held = demo.custody.place_hold(demo.staff["dsl"], ben.id, "Disclosure in tutor time")
    assert held.state == "safeguarding_hold"
    lifted = demo.custody.lift_hold(demo.staff["dsl"], ben.id, "Reviewed with parents")
    assert lifted.state == "held"


def test_indecent_images_forces_hold_forbids_search_and_goes_to_police(demo):
    h, decision = _confiscate(demo, category="indecent_images")
    assert decision.forbids_viewing and decision.forces_hold
    assert {"inform_dsl", "inform_police", "inform_lado"} <= set(h.follow_ups)
    held = demo.custody.confirm_deposit(demo.staff["office"], h.id)
    assert held.state == "safeguarding_hold"
    with pytest.raises(PolicyRefused):
        demo.custody.authorise_search(demo.staff["senior"], h.id, "Suspicion of images")
    with pytest.raises(PolicyRefused):
        demo.custody.lift_hold(demo.staff["dsl"], h.id, "Want to give it back")
    with pytest.raises(PolicyRefused):
        demo.custody.police_handover(demo.staff["dsl"], h.id, "")
    gone = demo.custody.police_handover(demo.staff["dsl"], h.id, "PC 1234 / ref 55-AB")
    assert gone.state == "handed_to_police"
    assert {x.label: x.state for x in demo.custody.lockers()}[h.locker] == "free"


def test_search_authority_is_recorded_for_senior_with_reason_only(demo):
    ben = demo.held("Ben")
    with pytest.raises(NotPermitted):
        demo.custody.authorise_search(demo.staff["dsl"], ben.id, "reason")
    with pytest.raises(PolicyRefused):
        demo.custody.authorise_search(demo.staff["senior"], ben.id, "")
    d = demo.custody.authorise_search(demo.staff["senior"], ben.id, "Reported threatening messages")
    assert d.allowed


def test_parent_informed_is_recorded(demo):
    ben = demo.held("Ben")
    assert not ben.parent_informed
    assert demo.custody.record_parent_informed(demo.staff["office"], ben.id).parent_informed


def test_how_a_parent_was_told_is_a_word_never_free_text(demo):
    """``how`` is chained (never purged), so typed text that could name someone is refused."""
    ben = demo.held("Ben")
    with pytest.raises(CustodyError, match="must be one of"):
        demo.custody.record_parent_informed(demo.staff["office"], ben.id, "told Mrs Smith")
    assert not demo.custody.holding(demo.staff["office"], ben.id).parent_informed


# ------------------------------------------------------------------ exams
def _session(demo):
    return next(s for s in demo.custody.exam_sessions()).id


def test_exam_deposit_gives_next_pouch_and_refuses_duplicates_and_strangers(demo):
    sid = _session(demo)
    d = demo.custody.exam_deposit(
        None,
        session_id=sid,
        pupil_id=demo.pupils["Harry"],
        switched_off_confirmed_by=demo.staff["exams"].staff_id,
    )
    assert (d.locker, d.pouch_number, d.state) == ("B4", 4, "depositing")
    demo.custody.confirm_deposit(None, d.id)
    with pytest.raises(CustodyError, match="already deposited"):
        demo.custody.exam_deposit(
            None,
            session_id=sid,
            pupil_id=demo.pupils["Harry"],
            switched_off_confirmed_by=demo.staff["exams"].staff_id,
        )
    with pytest.raises(CustodyError, match="not a candidate"):
        demo.custody.exam_deposit(
            None,
            session_id=sid,
            pupil_id=demo.pupils["Amara"],
            switched_off_confirmed_by=demo.staff["exams"].staff_id,
        )
    register = demo.custody.exam_register(demo.staff["exams"], sid)
    deposited = {p.name for p, h in register if h is not None}
    assert deposited == {"Ella Nowak", "Finn O'Brien", "Grace Mensah", "Harry Lewis"}


def test_exam_phone_goes_back_to_the_candidate_only_after_the_session(demo):
    sid = _session(demo)
    ella = next(h for h in demo.custody.holdings(None) if h.pupil_id == demo.pupils["Ella"])
    demo.clock.at(14, 0)
    with pytest.raises(PolicyRefused):
        demo.custody.begin_release(demo.staff["office"], ella.id, Collector("pupil"), None)
    demo.custody.end_exam_session(demo.staff["exams"], sid)
    releasing = demo.custody.begin_exam_session_release(demo.staff["exams"], sid)
    assert [h.state for h in releasing] == ["releasing"] * 3
    released = demo.custody.complete_exam_session_release(demo.staff["exams"], sid)
    assert len(released) == 3 and all(h.state == "released" for h in released)
    assert {x.label: x.state for x in demo.custody.lockers()}["B4"] == "free"


def test_deposit_refused_after_session_ended(demo):
    sid = _session(demo)
    demo.custody.end_exam_session(demo.staff["exams"], sid)
    with pytest.raises(PolicyRefused):
        demo.custody.exam_deposit(
            None,
            session_id=sid,
            pupil_id=demo.pupils["Harry"],
            switched_off_confirmed_by=demo.staff["exams"].staff_id,
        )


def _phones_may_be_silent(profile):
    """The profile with ``phones.switched_off_not_silent`` false (no seed profile has it)."""
    phones = profile.phones
    rule = dataclasses.replace(phones.switched_off_not_silent, value=False)
    return dataclasses.replace(
        profile, phones=dataclasses.replace(phones, switched_off_not_silent=rule)
    )


def test_exam_deposit_refused_unless_the_officer_confirmed_phones_off(demo):
    """Issue 14: exam deposits ask for "switched off" where the profile requires it; the rule
    is the use-case's. Nothing is written by the refusal; the confirmation is recorded."""
    sid = _session(demo)
    assert demo.custody.profile.phones.switched_off_not_silent.value
    before = demo.counts()
    with pytest.raises(CustodyError, match="switched_off_not_silent"):
        demo.custody.exam_deposit(None, session_id=sid, pupil_id=demo.pupils["Harry"])
    with demo.ctx.sessions() as s:
        harry_card = s.get(Pupil, demo.pupils["Harry"]).card_uid
    with pytest.raises(CustodyError, match="switched_off_not_silent"):
        demo.custody.exam_deposit_by_card(None, session_id=sid, card_uid=harry_card)
    assert demo.counts() == before
    officer = demo.staff["exams"].staff_id
    d = demo.custody.exam_deposit(
        None, session_id=sid, pupil_id=demo.pupils["Harry"], switched_off_confirmed_by=officer
    )
    with demo.ctx.sessions() as s:
        assert s.get(Holding, d.id).switched_off_confirmed
        payload = s.scalars(
            select(Event.payload).where(
                Event.holding_id == d.id, Event.type == "holding.depositing"
            )
        ).one()
    assert payload["switched_off_confirmed_by"] == officer


def test_exam_deposit_asks_nothing_where_the_profile_allows_silent(demo, monkeypatch):
    monkeypatch.setattr(demo.custody, "profile", _phones_may_be_silent(demo.custody.profile))
    d = demo.custody.exam_deposit(None, session_id=_session(demo), pupil_id=demo.pupils["Harry"])
    with demo.ctx.sessions() as s:
        assert not s.get(Holding, d.id).switched_off_confirmed


# ------------------------------------------------------------------ reads
def test_technician_cannot_list_holdings_but_can_see_lockers(demo):
    with pytest.raises(NotPermitted):
        demo.custody.holdings(demo.staff["technician"])
    assert len(demo.custody.lockers()) == 12


def test_find_pupils_by_name_or_group(demo):
    found = demo.custody.find_pupils(demo.staff["office"], "hug")
    assert [p.name for p in found] == ["Ben Hughes"]
    assert len(demo.custody.find_pupils(demo.staff["office"], "11a")) == 2


def test_overdue_flags_old_confiscations(demo):
    demo.clock.at(12, 0, days=3)
    flagged = {h.pupil_name for h, _ in demo.custody.overdue(demo.staff["office"])}
    assert "Ben Hughes" in flagged


# ------------------------------------------------------------------ safekeeping, exemptions
def test_safekeeping_needs_the_phone_confirmed_off_where_the_profile_says_so(demo):
    """The rule is the use-case's (phones.switched_off_not_silent), not only the screen's."""
    assert demo.custody.profile.phones.switched_off_not_silent.value
    before = demo.counts()
    with pytest.raises(CustodyError, match="switched_off_not_silent"):
        demo.custody.safekeeping(
            demo.staff["office"], pupil_id=demo.pupils["Jack"], device_description="phone"
        )
    assert demo.counts() == before


def test_safekeeping_goes_back_to_the_pupil_any_time(demo):
    h = demo.custody.safekeeping(
        demo.staff["office"],
        pupil_id=demo.pupils["Jack"],
        device_description="phone for PE",
        reason="PE lesson",
        switched_off_confirmed=True,
    )
    with demo.ctx.sessions() as s:
        assert s.get(Holding, h.id).switched_off_confirmed
    demo.custody.confirm_deposit(demo.staff["office"], h.id)
    demo.clock.at(10, 30)
    back, decision = demo.custody.begin_release(
        demo.staff["office"], h.id, Collector("pupil"), None
    )
    assert decision.allowed and back.state == "releasing"


def test_medical_exemption_turns_confiscation_into_safekeeping(demo):
    before = demo.counts()
    h, decision = _confiscate(demo, pupil="Ella")
    assert decision.allowed and h.kind == "safekeeping" and h.offence_number == 0
    assert any(r.clause == "exemptions.safekeeping_instead" for r in decision.reasons)
    assert demo.counts()[0] - before[0] == 1  # depositing only: no incident for a sanction


def test_young_carer_is_not_escalated(demo):
    first, _ = _confiscate(demo, pupil="Grace")
    demo.custody.confirm_deposit(demo.staff["office"], first.id)
    second, decision = _confiscate(demo, pupil="Grace")
    assert second.offence_number == 2
    assert not decision.requires_parent_collection


def test_exams_officer_hands_back_a_pouch_but_not_a_confiscation(demo):
    sid = _session(demo)
    demo.custody.end_exam_session(demo.staff["exams"], sid)
    ella = next(h for h in demo.custody.holdings(None) if h.pupil_id == demo.pupils["Ella"])
    h, decision = demo.custody.begin_release(demo.staff["exams"], ella.id, Collector("pupil"), None)
    assert decision.allowed and h.state == "releasing"
    demo.clock.at(16, 0)
    with pytest.raises(NotPermitted):
        _release(demo, "Ben", Collector("contact", demo.contacts["Sarah Hughes"]), who="exams")


def test_session_release_before_the_end_moves_nothing(demo):
    sid = _session(demo)
    demo.clock.at(14, 0)
    before = demo.counts()
    with pytest.raises(PolicyRefused):
        demo.custody.begin_exam_session_release(demo.staff["exams"], sid)
    assert demo.counts() == before


def test_a_cabinet_in_use_is_not_given_to_a_second_session(demo):
    start = demo.clock.now + timedelta(days=1)
    with pytest.raises(CustodyError, match="still in use"):
        demo.custody.open_exam_session(
            demo.staff["exams"], name="French", starts_at=start, ends_at=start + timedelta(hours=1)
        )


def test_hand_back_refused_while_the_cabinet_holds_pouches_outside_the_batch(demo):
    sid = _session(demo)
    ella = next(h for h in demo.custody.holdings(None) if h.pupil_id == demo.pupils["Ella"])
    demo.custody.place_hold(demo.staff["dsl"], ella.id, "Disclosure during the exam")
    demo.custody.end_exam_session(demo.staff["exams"], sid)
    before = demo.counts()
    with pytest.raises(CustodyError, match="would hand those over"):
        demo.custody.begin_exam_session_release(demo.staff["exams"], sid)
    assert demo.counts() == before


def test_hand_back_resumes_pouches_left_releasing(demo):
    sid = _session(demo)
    demo.custody.end_exam_session(demo.staff["exams"], sid)
    first = demo.custody.begin_exam_session_release(demo.staff["exams"], sid)
    again = demo.custody.begin_exam_session_release(demo.staff["exams"], sid)
    assert sorted(h.id for h in again) == sorted(h.id for h in first)


def test_free_text_reasons_stay_off_the_event_chain(demo):
    """Reasons may name people; events are synced and never purged, so they carry none."""
    demo.clock.at(11, 0)
    ben = demo.held("Ben")
    secret = "Disclosure by Ben about his uncle"
    demo.custody.place_hold(demo.staff["dsl"], ben.id, secret)
    demo.custody.lift_hold(demo.staff["dsl"], ben.id, secret + " reviewed")
    demo.custody.authorise_search(demo.staff["senior"], ben.id, secret + " search")
    sarah = Collector("contact", demo.contacts["Sarah Hughes"])
    _release(demo, "Ben", sarah, who="senior", override_reason=secret + " override")
    from sqlalchemy import select

    from db.models import Event, Holding

    with demo.ctx.sessions() as s:
        payloads = " ".join(str(e.payload) for e in s.scalars(select(Event)))
        row = s.get(Holding, ben.id)
        assert (row.hold_reason, row.override_reason) == (secret, secret + " override")
        assert row.search_reason == secret + " search"
    assert "uncle" not in payloads
