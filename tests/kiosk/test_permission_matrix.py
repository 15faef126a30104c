"""Every public custody use-case x every role, allowed exactly where ``PERMISSIONS`` says.

Generated from ``kiosk.permissions.USE_CASES``: each case calls the real use-case with a real
minted identity of one role and arguments that fail *after* the permission check (an id that
does not exist, a transition the holding cannot make), so nothing changes. A public method
of :class:`kiosk.custody.Custody` that is neither in ``USE_CASES`` nor in the short, reasoned
``NOT_USE_CASES`` list fails the test: a new use-case without a permission cannot land.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from auth_testing import sign_in_as
from kiosk_testing import T0
from permission_cases import mismatches, unmapped
from sqlalchemy import select

from db.models import Holding, HoldingState, Staff
from kiosk.auth import NotPermitted
from kiosk.custody import Custody
from kiosk.permissions import USE_CASES, Role
from kiosk.usecases.base import Collector

NONE = 10**6  # an id no row has

#: Public Custody methods that are not use-cases needing a permission, and why.
NOT_USE_CASES = {
    "sign_in": "how an identity is minted; nobody is signed in yet",
    "sign_out": "ends the caller's own sign-in",
    "lockers": "locker states only, no pupil data (technician screen)",
    "exam_sessions": "session names and times for the signage, no pupil data",
    "candidate_number": "a pupil's candidate number for a pouch the caller already shows",
    "flag_forced_open": "the station marks phones behind a forced door (no person acts)",
    "complete_pin_change": "finishes a sign-in with a ticket minted by sign_in or a senior",
    "change_pin": "one's own PIN, checked against the current one like a sign-in",
    "is_pupil_card": "whether a UID is a pupil's card, no pupil data (technician's screen)",
}


def _cases(c: Custody, held: int) -> dict:
    P = USE_CASES
    contact = Collector("contact", contact_id=NONE)
    calls = {
        "find_pupils": lambda who: c.find_pupils(who, "zz-nobody"),
        "pupil_by_card": lambda who: c.pupil_by_card(who, "FFFFFFFF"),
        "card_tapped": lambda who: c.card_tapped(who, "FFFFFFFF"),
        "holdings": lambda who: c.holdings(who),
        "holding": lambda who: c.holding(who, NONE),
        "overdue": lambda who: c.overdue(who),
        "exam_register": lambda who: c.exam_register(who, NONE),
        "confiscate": lambda who: c.confiscate(
            who,
            pupil_id=NONE,
            category="unauthorised_use",
            device_description="phone",
            switched_off_confirmed=True,
        ),
        "safekeeping": lambda who: c.safekeeping(who, pupil_id=NONE, device_description="x"),
        "confirm_deposit": lambda who: c.confirm_deposit(who, held),
        "abort_deposit": lambda who: c.abort_deposit(who, held, "test"),
        "attach_photo": lambda who: c.attach_photo(who, NONE, "/nowhere.jpg"),
        "check_release": lambda who: c.check_release(who, held, contact, "passport"),
        "begin_release": lambda who: c.begin_release(who, held, contact, "passport"),
        "complete_release": lambda who: c.complete_release(who, held),
        "cancel_release": lambda who: c.cancel_release(who, held, "test"),
        "record_parent_informed": lambda who: c.record_parent_informed(who, NONE),
        "place_hold": lambda who: c.place_hold(who, NONE, "test"),
        "lift_hold": lambda who: c.lift_hold(who, NONE, "test"),
        "police_handover": lambda who: c.police_handover(who, NONE, "REF1"),
        "authorise_search": lambda who: c.authorise_search(who, NONE, "test"),
        "open_exam_session": lambda who: c.open_exam_session(
            who,
            name="t",
            starts_at=T0 + timedelta(hours=1),
            ends_at=T0 + timedelta(hours=2),
            locker_id=NONE,
        ),
        "end_exam_session": lambda who: c.end_exam_session(who, NONE),
        "begin_exam_session_release": lambda who: c.begin_exam_session_release(who, NONE),
        "complete_exam_session_release": lambda who: c.complete_exam_session_release(who, NONE),
        "exam_deposit": lambda who: c.exam_deposit(
            who, session_id=NONE, pupil_id=NONE, switched_off_confirmed_by=1
        ),
        "exam_deposit_by_card": lambda who: c.exam_deposit_by_card(
            who, session_id=NONE, card_uid="FFFFFFFF", switched_off_confirmed_by=1
        ),
        "create_exam_session": lambda who: c.create_exam_session(
            who,
            paper="t",
            day=T0.date(),
            start=(T0 + timedelta(hours=1)).time(),
            end=(T0 + timedelta(hours=2)).time(),
            cabinet_id=NONE,
        ),
        "edit_exam_session": lambda who: c.edit_exam_session(who, NONE, room="x"),
        "cancel_exam_session": lambda who: c.cancel_exam_session(who, NONE, "test"),
        # The held phone: the rule applied depends on the holding (a refusal row is written
        # for allowed roles; the phone stays held).
        "record_refused_collection": lambda who: c.record_refused_collection(
            who, held, name_given="Not Listed", id_type_seen=None
        ),
        "holdings_to_check": lambda who: c.holdings_to_check(who),
        # No such holding: the permission is checked first; which holdings a role sees (an
        # exams officer: exam deposits only) is test_exam_officer_scope's.
        "confirm_still_there": lambda who: c.confirm_still_there(who, NONE),
        "record_missing": lambda who: c.record_missing(who, NONE),
        "receipt_slip": lambda who: c.receipt_slip(who, NONE),
        "check_collector": lambda who: c.check_collector(who, held, contact),
        "staff_list": lambda who: c.staff_list(who),
        "enrol_badge": lambda who: c.enrol_badge(who, NONE, "FFFFFFFF"),
        "report_lost_badge": lambda who: c.report_lost_badge(who, NONE),
        "unlock_badge": lambda who: c.unlock_badge(who, NONE),
        "issue_enrolment_code": lambda who: c.issue_enrolment_code(who, NONE),
        "approve_pin_setup": lambda who: c.approve_pin_setup(who, NONE),
        "require_pin_change": lambda who: c.require_pin_change(who, NONE),
        "grant_role": lambda who: c.grant_role(who, NONE, "exams"),
        "revoke_role": lambda who: c.revoke_role(who, NONE, "teacher"),
        "acknowledge_alarm": lambda who: c.acknowledge_alarm(who, ["forced:A7"]),
    }
    return {name: (call, P[name]) for name, call in calls.items()}


@pytest.fixture
def everyone(demo):
    """One real sign-in per role (the demo has no office administrator: one is added)."""
    with demo.ctx.sessions.begin() as s:
        for role in Role:
            s.add(Staff(staff_code=f"ROLE-{role}", name=f"Only {role}", roles=[role.value]))
    return {role: sign_in_as(demo.ctx.sessions, demo.custody.auth, f"ROLE-{role}") for role in Role}


def _held(demo) -> int:
    with demo.ctx.sessions() as s:
        return s.scalars(
            select(Holding.id).where(Holding.state == HoldingState.HELD).order_by(Holding.id)
        ).first()


def test_every_use_case_and_role_as_the_table_says(demo, everyone):
    held = _held(demo)
    cases = _cases(demo.custody, held)
    assert mismatches(cases, everyone.__getitem__) == []
    # Nothing the allowed calls did changed the held phone.
    assert demo.custody.holding(everyone[Role.SENIOR], held).state == "held"


def test_a_public_use_case_missing_from_the_table_fails(demo):
    cases = _cases(demo.custody, 1)
    missing = unmapped(demo.custody, cases, ignore=NOT_USE_CASES)
    assert missing == [], f"public use-cases with no USE_CASES entry / matrix case: {missing}"
    assert set(cases) <= set(USE_CASES)


def test_unmapped_catches_a_new_method():
    class Grown(Custody):
        def new_use_case(self, actor):  # pragma: no cover - never called
            return None

    assert "new_use_case" in unmapped(
        Grown.__new__(Grown), {n: 0 for n in USE_CASES}, ignore=NOT_USE_CASES
    )


@pytest.mark.parametrize("change", ["demote", "deactivate"])
def test_demoted_or_deactivated_staff_stop_at_once(demo, change):
    with demo.ctx.sessions.begin() as s:
        s.add(Staff(staff_code="D1", name="Dee", roles=["dsl"]))
    dsl = sign_in_as(demo.ctx.sessions, demo.custody.auth, "D1")
    held = _held(demo)
    demo.custody.place_hold(dsl, held, "first concern")  # allowed while a DSL
    demo.custody.lift_hold(dsl, held, "resolved")
    with demo.ctx.sessions.begin() as s:
        row = s.scalars(select(Staff).where(Staff.staff_code == "D1")).one()
        if change == "demote":
            row.roles = ["teacher"]
        else:
            row.active = False
    with pytest.raises(NotPermitted):
        demo.custody.place_hold(dsl, held, "second concern")
