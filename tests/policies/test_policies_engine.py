"""Engine decisions for every profile: allow and refuse paths, every reason listed, cited."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta

import pytest

from policies import (
    CollectorFacts,
    ConfiscateRequest,
    Decision,
    ExamDepositRequest,
    FollowUp,
    HandoverRequest,
    HoldRequest,
    LiftHoldRequest,
    OverrideRequest,
    Profile,
    PupilFacts,
    Reason,
    ReleaseRequest,
    SearchRequest,
    Term,
    decide,
    is_overdue,
    load_profile,
    profile_names,
    retention_expired,
    term_bounds,
)
from policies.vocab import is_valid_source

NAMES = profile_names()
MORNING = datetime(2025, 3, 4, 9, 30)  # Tuesday, not a break time anywhere
AFTER_SCHOOL = datetime(2025, 3, 4, 16, 0)
PARENT = CollectorFacts(
    "contact",
    on_contact_list=True,
    may_collect=True,
    parental_responsibility=True,
    id_type_seen="passport",
)


@pytest.fixture(params=NAMES)
def profile(request: pytest.FixtureRequest) -> Profile:
    return load_profile(request.param)


def check_cited(decision: Decision, profile: Profile) -> None:
    """Every reason names a real clause of the profile and a valid source."""
    assert decision.reasons, "a decision always gives reasons"
    for reason in decision.reasons:
        assert reason.text and reason.clause
        assert is_valid_source(reason.source), reason
    for follow_up in decision.follow_ups:
        assert is_valid_source(follow_up.source)


def confiscate(
    category: str = "unauthorised_use",
    *,
    now: datetime = MORNING,
    off: bool = True,
    prior: int = 0,
    exemptions: frozenset[str] = frozenset(),
) -> ConfiscateRequest:
    return ConfiscateRequest(category, now, PupilFacts(exemptions, prior), off)


def release(**changes: object) -> ReleaseRequest:
    base = ReleaseRequest(
        holding_kind="confiscation",
        holding_state="held",
        category="unauthorised_use",
        held_since=MORNING,
        now=AFTER_SCHOOL,
        collector=PARENT,
        offence_number=1,
        exam_session_ended=None,
        pupil=PupilFacts(),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def actions(decision: Decision) -> list[str]:
    return [f.action for f in decision.follow_ups]


# --- confiscation -------------------------------------------------------------------------------


def test_confiscation_allowed_with_reasons(profile: Profile) -> None:
    decision = decide(confiscate(), profile)
    assert decision.allowed and not decision.refused
    assert decision.holding_kind == "confiscation"
    assert decision.reason_codes[0] == "category"
    assert decision.reasons[0].source == profile.category("unauthorised_use").source
    assert "switched_off" in decision.reason_codes
    assert actions(decision) == list(profile.escalation.ladder.value[0])
    check_cited(decision, profile)


def test_confiscation_refused_until_switched_off(profile: Profile) -> None:
    decision = decide(confiscate(off=False), profile)
    assert decision.refused
    assert decision.reason_codes == ("switch_off_first",)
    assert decision.reasons[0].clause == "phones.switched_off_not_silent"
    assert "not silent" in decision.reasons[0].text
    assert decision.follow_ups == ()


def test_unknown_category_and_not_switched_off_both_listed(profile: Profile) -> None:
    decision = decide(confiscate("gaming", off=False), profile)
    assert decision.refused
    assert set(decision.reason_codes) == {"unknown_category", "switch_off_first"}
    assert "unauthorised_use" in decision.reasons[0].text


@pytest.mark.parametrize("offence", [1, 2, 3, 4, 5, 9])
def test_escalation_ladder_by_offence_number(profile: Profile, offence: int) -> None:
    decision = decide(confiscate(prior=offence - 1), profile)
    ladder = profile.escalation.ladder.value
    step = ladder[min(offence, len(ladder)) - 1]
    assert decision.allowed
    assert actions(decision) == list(step)
    assert all(f.source == profile.escalation.ladder.source for f in decision.follow_ups)
    parent_from = profile.escalation.parent_collection_from_offence.value
    assert decision.requires_parent_collection is (bool(parent_from) and offence >= parent_from)


def test_ken_stimpson_ladder_tutor_hoh_parents_slt() -> None:
    p = load_profile("ken-stimpson")
    got = [actions(decide(confiscate(prior=n), p)) for n in range(5)]
    # 003 §7.2: one incident of unauthorised phone use ticks tutor, head of house and parents
    # together; "continued infringements" tick head of house, SLT and parents.
    first = ["refer_tutor", "refer_head_of_house", "inform_parents"]
    continued = ["refer_head_of_house", "refer_slt", "inform_parents"]
    assert got == [first, continued, continued, continued, continued]
    assert not decide(confiscate(prior=0), p).requires_parent_collection
    assert decide(confiscate(prior=1), p).requires_parent_collection
    assert decide(confiscate(prior=0), p).reasons[-1].source == (
        "003_6ace46d4db1ee7ea.txt §7.2 Sanctions"
    )


def test_ken_stimpson_phones_allowed_at_break() -> None:
    p = load_profile("ken-stimpson")
    at_break = datetime(2025, 3, 4, 10, 45)
    decision = decide(confiscate(now=at_break), p)
    assert decision.refused
    assert decision.reason_codes == ("allowed_at_break",)
    assert decision.reasons[0].source == "003_6ace46d4db1ee7ea.txt §4.1 Communications"
    # misuse at break under another category is still confiscated
    assert decide(confiscate("bullying", now=at_break), p).allowed
    # other schools do not allow phones at break
    for name in NAMES:
        if name != "ken-stimpson":
            assert decide(confiscate(now=at_break), load_profile(name)).allowed


def test_category_follow_ups(profile: Profile) -> None:
    decision = decide(confiscate("exam_possession"), profile)
    assert "report_awarding_body" in actions(decision)
    assert decision.follow_ups[0].source == profile.category("exam_possession").source
    bullying = decide(confiscate("bullying"), profile)
    assert set(profile.category("bullying").follow_ups) <= set(actions(bullying))


def test_indecent_images_forces_hold_and_forbids_viewing(profile: Profile) -> None:
    # staff must not handle the phone to switch it off, so off=False is still allowed
    decision = decide(confiscate("indecent_images", off=False, prior=3), profile)
    assert decision.allowed
    assert decision.forces_hold and decision.forbids_viewing
    assert set(actions(decision)) == {
        "inform_dsl",
        "inform_police",
        "inform_lado",
        "keep_as_evidence",
    }
    assert "safeguarding_hold" in decision.reason_codes
    assert "Do not look" in decision.summary()
    assert "escalation_step" not in decision.reason_codes


def test_hampshire_indecent_images_cites_appendix_28() -> None:
    decision = decide(confiscate("indecent_images"), load_profile("hampshire-lea"))
    assert all(f.source.startswith("001_7b7b89267820d3f9.txt §28") for f in decision.follow_ups)


def test_medical_exemption_is_safekeeping(profile: Profile) -> None:
    decision = decide(confiscate(prior=5, exemptions=frozenset({"medical"})), profile)
    assert decision.allowed
    assert decision.holding_kind == "safekeeping"
    assert "exemption_safekeeping" in decision.reason_codes
    assert not decision.requires_parent_collection
    assert actions(decision) == []


def test_medical_exemption_does_not_soften_indecent_images(profile: Profile) -> None:
    decision = decide(confiscate("indecent_images", exemptions=frozenset({"medical"})), profile)
    assert decision.forces_hold and decision.holding_kind == "confiscation"


def test_young_carer_not_escalated(profile: Profile) -> None:
    decision = decide(confiscate(prior=6, exemptions=frozenset({"young_carer"})), profile)
    assert decision.allowed
    assert decision.holding_kind == "confiscation"
    assert "exemption_no_escalation" in decision.reason_codes
    assert actions(decision) == list(profile.escalation.ladder.value[0])


def test_unrecognised_exemption_is_ignored(profile: Profile) -> None:
    plain = decide(confiscate(prior=6), profile)
    odd = decide(confiscate(prior=6, exemptions=frozenset({"vip"})), profile)
    assert plain == odd


def test_primary_phone_ban_reason_and_parent_collection() -> None:
    decision = decide(confiscate(), load_profile("big-life-primary"))
    assert "phones_not_allowed" in decision.reason_codes
    assert decision.requires_parent_collection


# --- release ------------------------------------------------------------------------------------


def test_parent_with_id_after_end_of_day_is_allowed(profile: Profile) -> None:
    now = AFTER_SCHOOL + (timedelta(days=1) if profile.release.next_day.value else timedelta())
    decision = decide(release(now=now), profile)
    assert decision.allowed, decision.summary()
    assert {
        "contact_collects",
        "on_contact_list",
        "may_collect",
        "id_seen",
        "after_earliest_time",
    } <= set(decision.reason_codes)
    check_cited(decision, profile)


def test_parent_refusal_lists_every_failing_reason(profile: Profile) -> None:
    stranger = CollectorFacts("contact", on_contact_list=False, may_collect=False)
    decision = decide(release(collector=stranger, now=MORNING + timedelta(hours=1)), profile)
    assert decision.refused
    assert {"not_on_contact_list", "may_not_collect", "id_not_seen", "too_early"} <= set(
        decision.reason_codes
    )
    clauses = {r.clause for r in decision.reasons}
    assert {
        "release.require_contact_list",
        "release.require_may_collect",
        "release.require_id_seen",
        "release.earliest_time",
    } <= clauses
    assert decision.summary().startswith("Refused:")
    assert decision.summary().count("\n- ") >= 4
    check_cited(decision, profile)


def test_too_early_cites_earliest_time(profile: Profile) -> None:
    earliest = profile.release.earliest_time.value
    just_before = datetime.combine(AFTER_SCHOOL.date(), earliest) - timedelta(minutes=1)
    decision = decide(release(now=just_before), profile)
    reason = next(r for r in decision.reasons if r.code == "too_early")
    assert reason.source == profile.release.earliest_time.source
    assert f"{earliest:%H:%M}" in reason.text


def test_pupil_collects_only_where_profile_allows(profile: Profile) -> None:
    pupil = CollectorFacts("pupil")
    first = decide(release(collector=pupil, offence_number=1), profile)
    limit = profile.release.pupil_may_collect_up_to_offence.value
    parent_from = profile.escalation.parent_collection_from_offence.value
    expected = limit >= 1 and not (parent_from and parent_from <= 1)
    assert first.allowed is expected, first.summary()
    assert first.requires_parent_collection is (not expected)
    later = decide(release(collector=pupil, offence_number=limit + 1), profile)
    assert later.refused
    assert "pupil_may_not_collect" in later.reason_codes
    assert later.requires_parent_collection


def test_ken_stimpson_pupil_first_offence_after_school() -> None:
    p = load_profile("ken-stimpson")
    decision = decide(release(collector=CollectorFacts("pupil")), p)
    assert decision.allowed
    early = decide(
        release(
            collector=CollectorFacts("pupil"), offence_number=3, now=MORNING + timedelta(hours=2)
        ),
        p,
    )
    assert set(early.reason_codes) == {
        "pupil_may_not_collect",
        "parent_collection_required",
        "too_early",
    }


def test_young_carer_may_collect_own_phone(profile: Profile) -> None:
    facts = PupilFacts(frozenset({"young_carer"}))
    decision = decide(
        release(collector=CollectorFacts("pupil"), offence_number=4, pupil=facts), profile
    )
    allowed = "young_carer" in profile.exemptions.pupil_collects.value
    assert decision.allowed is allowed
    assert allowed is (profile.id != "big-life-primary")


@pytest.mark.parametrize(
    "state",
    ["safeguarding_hold", "handed_to_police", "releasing", "released", "depositing", "aborted"],
)
def test_release_refused_unless_held(profile: Profile, state: str) -> None:
    decision = decide(release(holding_state=state), profile)
    assert decision.refused
    assert len(decision.reasons) == 1
    assert decision.reasons[0].code in {"safeguarding_hold", "handed_to_police", "not_held"}


def test_indecent_images_never_released_even_if_state_held(profile: Profile) -> None:
    decision = decide(release(category="indecent_images"), profile)
    assert decision.refused and decision.forbids_viewing
    assert "category_forces_hold" in decision.reason_codes


@pytest.mark.parametrize("kind", ["staff", "police"])
def test_staff_and_police_cannot_collect_confiscation(profile: Profile, kind: str) -> None:
    decision = decide(release(collector=CollectorFacts(kind)), profile)
    assert decision.refused
    expected = "police_use_handover" if kind == "police" else "collector_not_allowed"
    assert expected in decision.reason_codes


def test_exam_deposit_release(profile: Profile) -> None:
    candidate = CollectorFacts("pupil")
    ok = decide(
        release(
            holding_kind="exam_deposit",
            category=None,
            collector=candidate,
            exam_session_ended=True,
            now=MORNING,
        ),
        profile,
    )
    assert ok.allowed and "session_ended" in ok.reason_codes
    for ended in (False, None):
        refused = decide(
            release(
                holding_kind="exam_deposit",
                category=None,
                collector=candidate,
                exam_session_ended=ended,
            ),
            profile,
        )
        assert refused.reason_codes == ("session_not_ended",)
    both = decide(
        release(
            holding_kind="exam_deposit", category=None, collector=PARENT, exam_session_ended=False
        ),
        profile,
    )
    assert set(both.reason_codes) == {"exam_collector_not_allowed", "session_not_ended"}


def test_safekeeping_pupil_any_time(profile: Profile) -> None:
    decision = decide(
        release(
            holding_kind="safekeeping",
            category=None,
            collector=CollectorFacts("pupil"),
            now=MORNING,
            offence_number=0,
        ),
        profile,
    )
    assert decision.allowed
    assert "safekeeping_any_time" in decision.reason_codes
    staff = decide(
        release(holding_kind="safekeeping", category=None, collector=CollectorFacts("staff")),
        profile,
    )
    assert staff.reason_codes == ("safekeeping_collector_not_allowed",)


def test_next_day_rule(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "nextday.toml"
    path.write_text(
        'extends = "default"\nschool_name = "N"\ndescription = "D"\n[release]\n'
        'next_day = { value = true, source = "default: t" }\n'
    )
    p = load_profile(path)
    same = decide(release(), p)
    assert same.reason_codes == ("same_day",)
    assert decide(release(now=AFTER_SCHOOL + timedelta(days=1)), p).allowed


# --- search, hold, hand-over, override, exam deposit --------------------------------------------


def test_search_allowed_for_senior_with_reason(profile: Profile) -> None:
    decision = decide(SearchRequest("senior", "Reported threatening messages", "bullying"), profile)
    assert decision.allowed
    assert {"role_allowed", "reason_recorded", "kiosk_never_searches"} <= set(decision.reason_codes)
    assert decision.reasons[0].source == profile.search.authorising_roles.source


def test_search_refusal_lists_role_and_reason(profile: Profile) -> None:
    decision = decide(SearchRequest("office", "  ", None), profile)
    assert decision.refused
    assert decision.reason_codes == ("role_not_allowed", "reason_missing")


def test_search_never_for_indecent_images(profile: Profile) -> None:
    decision = decide(SearchRequest("senior", "Suspected image", "indecent_images"), profile)
    assert decision.refused and decision.forbids_viewing
    assert decision.reason_codes == ("never_view",)
    assert "police" in decision.reasons[0].text
    assert {"inform_police", "keep_as_evidence"} <= set(actions(decision))


def test_hold(profile: Profile) -> None:
    ok = decide(HoldRequest("dsl", "Disclosure in tutor time"), profile)
    assert ok.allowed and ok.forces_hold
    bad = decide(HoldRequest("office", ""), profile)
    assert bad.refused and not bad.forces_hold
    assert bad.reason_codes == ("role_not_allowed", "reason_missing")


def test_lift_hold(profile: Profile) -> None:
    assert decide(LiftHoldRequest("dsl", "Concern resolved", "bullying"), profile).allowed
    assert decide(LiftHoldRequest("senior", "Concern resolved", None), profile).refused
    never = decide(LiftHoldRequest("dsl", "Parent asked", "indecent_images"), profile)
    assert never.reason_codes == ("hold_cannot_lift",)


def test_police_handover(profile: Profile) -> None:
    assert decide(HandoverRequest("dsl", "CAD 1234/25"), profile).allowed
    assert decide(HandoverRequest("senior", "CAD 1234/25"), profile).allowed
    bad = decide(HandoverRequest("office", " "), profile)
    assert bad.reason_codes == ("role_not_allowed", "police_reference_missing")


def test_override(profile: Profile) -> None:
    assert decide(
        OverrideRequest("senior", "Parent is in hospital, aunt collects"), profile
    ).allowed
    bad = decide(OverrideRequest("office", "because"), profile)
    assert bad.reason_codes == ("role_not_allowed", "override_reason_too_short")


def test_override_never_defeats_safeguarding(profile: Profile) -> None:
    decision = decide(
        OverrideRequest(
            "senior",
            "Head says release it now please",
            holding_state="safeguarding_hold",
            category="indecent_images",
        ),
        profile,
    )
    assert decision.refused
    assert set(decision.reason_codes) == {
        "override_cannot_defeat_hold",
        "override_cannot_defeat_category",
    }
    assert "never" in decision.reasons[0].text


def test_exam_deposit(profile: Profile) -> None:
    ok = decide(ExamDepositRequest(MORNING, True), profile)
    assert ok.allowed and ok.holding_kind == "exam_deposit"
    assert ok.reasons[0].source == profile.exam_notice.source
    closed = decide(ExamDepositRequest(MORNING, False), profile)
    assert closed.reason_codes == ("no_session",)
    assert str(profile.exam_lead_in_minutes) in closed.reasons[0].text


def test_unknown_request_type() -> None:
    with pytest.raises(TypeError, match="no policy rule"):
        decide("release please", load_profile("default"))


# --- decision objects ---------------------------------------------------------------------------


def test_follow_up_rejects_unknown_action() -> None:
    with pytest.raises(ValueError, match="unknown follow-up action"):
        FollowUp("call_mum", "x", "default: t")


def test_summary_mentions_clause_and_source() -> None:
    decision = Decision(
        True,
        (Reason("c", "Because.", "release.earliest_time", "default: t"),),
        (FollowUp.of("inform_parents", "default: t"),),
        requires_parent_collection=True,
    )
    summary = decision.summary()
    assert summary.splitlines()[0] == "Allowed:"
    assert "[release.earliest_time; default: t]" in summary
    assert "parent or carer must collect" in summary
    assert "Tell the pupil's parents" in summary


# --- helpers ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["confiscation", "exam_deposit", "safekeeping"])
def test_is_overdue(profile: Profile, kind: str) -> None:
    limit = getattr(profile.overdue, f"{kind}_hours")
    start = datetime(2025, 3, 3, 9, 0)
    assert is_overdue(kind, start, start + timedelta(hours=limit.value), profile) is None
    reason = is_overdue(kind, start, start + timedelta(hours=limit.value, minutes=1), profile)
    assert reason is not None
    assert reason.clause == f"overdue.{kind}_hours" and reason.source == limit.source


def test_is_overdue_unknown_kind() -> None:
    with pytest.raises(ValueError, match="unknown holding kind"):
        is_overdue("loan", MORNING, AFTER_SCHOOL, load_profile("default"))


@pytest.mark.parametrize("kind", ["holding", "incident", "event", "photo"])
def test_retention_expired(profile: Profile, kind: str) -> None:
    days = getattr(profile.retention, f"{kind}_days").value
    closed = datetime(2024, 1, 1, 12, 0)
    assert not retention_expired(closed, kind, closed + timedelta(days=days, seconds=-1), profile)
    assert retention_expired(closed, kind, closed + timedelta(days=days), profile)


def test_retention_photos_short_incidents_long() -> None:
    p = load_profile("default")
    assert p.retention.photo_days.value < p.retention.holding_days.value
    assert p.retention.incident_days.value >= 365 * 6
    with pytest.raises(ValueError):
        retention_expired(MORNING, "badge", AFTER_SCHOOL, p)


@pytest.mark.parametrize(
    ("day", "bounds"),
    [
        (date(2025, 10, 5), (date(2025, 9, 1), date(2025, 12, 31))),
        (date(2025, 1, 1), (date(2025, 1, 1), date(2025, 3, 31))),
        (date(2025, 3, 31), (date(2025, 1, 1), date(2025, 3, 31))),
        (date(2025, 4, 1), (date(2025, 4, 1), date(2025, 8, 31))),
        (date(2025, 8, 31), (date(2025, 4, 1), date(2025, 8, 31))),
    ],
)
def test_default_uk_terms(day: date, bounds: tuple[date, date]) -> None:
    assert term_bounds(day, load_profile("default")) == bounds
    assert term_bounds(datetime.combine(day, MORNING.time()), load_profile("default")) == bounds


def test_profile_term_dates_win() -> None:
    base = load_profile("default")
    autumn = Term("Autumn", date(2025, 9, 3), date(2025, 12, 19))
    terms = dataclasses.replace(
        base.terms, dates=dataclasses.replace(base.terms.dates, value=(autumn,))
    )
    p = dataclasses.replace(base, terms=terms)
    assert term_bounds(date(2025, 10, 1), p) == (autumn.start, autumn.end)
    # a holiday outside the listed terms falls back to the default UK term
    assert term_bounds(date(2025, 12, 24), p) == (date(2025, 9, 1), date(2025, 12, 31))


def test_term_dates_from_toml(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "terms.toml"
    path.write_text(
        'extends = "default"\nschool_name = "T"\ndescription = "D"\n[terms]\n'
        'dates = { value = [{ name = "Spring", start = 2026-01-05, end = 2026-03-27 }], '
        'source = "default: t" }\n'
    )
    assert term_bounds(date(2026, 2, 1), load_profile(path)) == (
        date(2026, 1, 5),
        date(2026, 3, 27),
    )
