"""The exams officer sees exam deposits, not the school's confiscations (DESIGN "Who uses
it"; issue 9: pupil data only to the roles that need it)."""

from __future__ import annotations

import pytest

from kiosk.auth import NotPermitted


def _confiscated(demo) -> int:
    h, _ = demo.custody.confiscate(
        demo.staff["office"],
        pupil_id=demo.pupils["Ben"],
        category="unauthorised_use",
        device_description="grey phone",
        switched_off_confirmed=True,
    )
    return demo.custody.confirm_deposit(demo.staff["office"], h.id).id


def test_the_exams_officer_sees_no_confiscation(demo):
    hid = _confiscated(demo)
    exams, office = demo.staff["exams"], demo.staff["office"]
    assert hid in {h.id for h in demo.custody.holdings(office)}
    seen = demo.custody.holdings(exams, open_only=False)
    assert hid not in {h.id for h in seen}
    assert {h.kind for h in seen} <= {"exam_deposit"}
    with pytest.raises(NotPermitted, match="exam deposits only"):
        demo.custody.holding(exams, hid)
    with pytest.raises(NotPermitted, match="exam deposits only"):
        demo.custody.receipt_slip(exams, hid)
    assert all(h.kind == "exam_deposit" for h, _ in demo.custody.overdue(exams))


def test_a_forced_locker_with_a_confiscation_is_not_the_exams_officers_to_check(demo):
    hid = _confiscated(demo)
    h = demo.custody.holding(demo.staff["office"], hid)
    demo.custody.flag_forced_open(h.locker[0], int(h.locker[1:]))
    assert demo.custody.holdings_to_check(demo.staff["exams"]) == []
    with pytest.raises(NotPermitted):
        demo.custody.confirm_still_there(demo.staff["exams"], hid)
    assert [x.id for x in demo.custody.holdings_to_check(demo.staff["office"])] == [hid]


def test_the_exams_officer_finds_candidates_without_contacts_or_adjustments(demo):
    """``find_pupils`` and ``pupil_by_card`` give an exams-only sign-in who the pupil is and
    nothing else: no contacts, no recorded adjustments, no card UID."""
    exams, office = demo.staff["exams"], demo.staff["office"]
    (full,) = [p for p in demo.custody.find_pupils(office, "Ben") if p.id == demo.pupils["Ben"]]
    assert full.contacts and full.card_uid  # what the office sees, so the test can fail
    (seen,) = [p for p in demo.custody.find_pupils(exams, "Ben") if p.id == demo.pupils["Ben"]]
    assert (seen.name, seen.mis_id) == (full.name, full.mis_id)
    assert (seen.contacts, seen.exemptions, seen.card_uid) == ((), (), None)
    by_card = demo.custody.pupil_by_card(exams, full.card_uid)
    assert by_card is not None and by_card.id == full.id
    assert (by_card.contacts, by_card.exemptions, by_card.card_uid) == ((), (), None)
    office_by_card = demo.custody.pupil_by_card(office, full.card_uid)
    assert office_by_card is not None and office_by_card.contacts
