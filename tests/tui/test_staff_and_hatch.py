"""Staff and badges, PIN changes, the refused adult at the hatch, pupil cards tapped by roles
with no confiscation, and the check after a forced door (issue 14; PIN change from issue 9).

Every test drives the real UI on the simulator (real reader thread, real ledger) and then
asserts what the ledger holds, not just what the screen says. Inputs are counted from the
home screen as in ``test_flows.py``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from tui_helpers import (
    BEN,
    EXAMS,
    OFFICE,
    SENIOR,
    TEACHER,
    TECHNICIAN,
    flagged_ids,
    run_async,
    screen_name,
    sign_in,
    tap,
    text_of,
    wait_for,
)

from db.models import Event, Incident, RefusedCollection, Staff

NEW_BADGE = "AB0000F1"


def events(app: Any, type_: str) -> list[Event]:
    with app.station.ctx.sessions() as s:
        return list(s.scalars(select(Event).where(Event.type == type_).order_by(Event.id)))


def staff_row(app: Any, code: str) -> Staff:
    with app.station.ctx.sessions() as s:
        return s.scalars(select(Staff).where(Staff.staff_code == code)).one()


def focused_id(app: Any) -> str | None:
    return app.screen.focused.id if app.screen.focused is not None else None


async def sign_out(pilot: Any, app: Any) -> None:
    app.lock("test: signed out")
    await wait_for(pilot, lambda: screen_name(app) == "IdleScreen")


async def open_staff(pilot: Any, app: Any) -> None:
    await sign_in(pilot, app, SENIOR)
    await pilot.press("b")
    await wait_for(pilot, lambda: screen_name(app) == "StaffScreen")
    await wait_for(pilot, lambda: len(app.screen.people) > 0, what="staff list")


# ---------------------------------------------------------------------------- badges
@run_async
async def test_lost_badge_then_enrol_by_tap_then_first_pin_with_rules(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_staff(pilot, app)
        assert app.screen.people[0].name == "Alex Byrne (teacher)"  # row 0, highlighted
        # Lost badge: disabled at once, recorded.
        await pilot.press("x")
        await wait_for(pilot, lambda: screen_name(app) == "Confirm")
        await pilot.press("enter")
        await wait_for(pilot, lambda: "disabled now" in text_of(app, "#staff-result"))
        assert staff_row(app, "TCH1").badge_uid is None
        assert len(events(app, "staff.badge_lost")) == 1
        # Enrol a new badge by tapping it: from home this is b, b, tap = 3 inputs for row 0.
        await pilot.press("b")
        await wait_for(pilot, lambda: "Tap the new badge" in text_of(app, "#staff-result"))
        await tap(pilot, app, NEW_BADGE)
        await wait_for(pilot, lambda: "Badge enrolled" in text_of(app, "#staff-result"))
        assert app.identity is not None and app.identity.name.startswith("Dr Jo")  # still in
        assert staff_row(app, "TCH1").badge_uid == NEW_BADGE
        assert events(app, "staff.badge_enrolled")[-1].payload["replaced"] is False
        # A one-time PIN code (reset): shown once, the old PIN stops working.
        await pilot.press("c")
        await wait_for(pilot, lambda: "One-time code" in text_of(app, "#staff-result"))
        code = text_of(app, "#staff-result").split(": ")[1].split()[0]
        assert staff_row(app, "TCH1").pin_hash is None
        await sign_out(pilot, app)
        # The teacher's first sign-in with the new badge and the code: new PIN twice.
        await tap(pilot, app, NEW_BADGE)
        await wait_for(pilot, lambda: screen_name(app) == "LoginScreen")
        await pilot.press(*code, "enter")
        await wait_for(pilot, lambda: screen_name(app) == "PinChangeScreen")
        assert app.identity is None  # not signed in until a PIN is chosen
        await pilot.press(*"1234", "enter", *"1234", "enter")  # refused by the PIN rules
        await wait_for(pilot, lambda: "too easy to guess" in text_of(app, "#pin-error"))
        await pilot.press(*"582914", "enter", *"582941", "enter")  # the two differ
        await wait_for(pilot, lambda: "different" in text_of(app, "#pin-error"))
        await pilot.press(*"582914", "enter", *"582914", "enter")
        await wait_for(pilot, lambda: screen_name(app) == "HomeScreen")
        assert app.identity is not None and app.identity.name == "Alex Byrne (teacher)"
        assert events(app, "staff.pin_set")[-1].payload["reason"] == "enrolment"


@run_async
async def test_unlock_a_locked_out_badge(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.service.started)
        await tap(pilot, app, TEACHER[0])
        await wait_for(pilot, lambda: screen_name(app) == "LoginScreen")
        for _ in range(5):
            await pilot.press(*"9999", "enter")
            await wait_for(pilot, lambda: "Wrong PIN" in text_of(app, "#login-error"))
        assert staff_row(app, "TCH1").lockout_level == 1
        await pilot.press("escape")
        await open_staff(pilot, app)
        assert app.screen.people[0].locked  # shown as LOCKED
        await pilot.press("u")
        await wait_for(pilot, lambda: "unlocked" in text_of(app, "#staff-result"))
        assert staff_row(app, "TCH1").lockout_level == 0
        assert events(app, "staff.unlocked")[-1].payload["level"] == 1
        await sign_out(pilot, app)
        await sign_in(pilot, app, TEACHER)  # the right PIN works again at once


@run_async
async def test_staff_admin_refusals_are_shown(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, app, OFFICE)
        await pilot.press("b")  # office staff have no Staff screen
        await pilot.pause()
        assert screen_name(app) == "HomeScreen"
        await sign_out(pilot, app)
        await open_staff(pilot, app)
        # The senior tries to issue themself a code: refused by the use-case, in words.
        me = next(i for i, p in enumerate(app.screen.people) if p.name.startswith("Dr Jo"))
        await pilot.press(*["down"] * me, "c")
        await wait_for(pilot, lambda: "yourself" in text_of(app, "#staff-result"))
        assert events(app, "staff.enrolment_code_issued") == []
        # A pupil's card is not a staff badge.
        await pilot.press("b")
        await tap(pilot, app, BEN)
        await wait_for(pilot, lambda: "pupil's card" in text_of(app, "#staff-result"))
        assert events(app, "staff.badge_enrolled") == []


@run_async
async def test_office_administrator_manages_badges_but_not_the_head(make_app: Any) -> None:
    """The office administrator role (no pupil data) has the Staff screen; the head's
    credentials are a senior's business (kiosk/staff_admin.py), refused in words."""
    app = make_app()
    with app.station.ctx.sessions.begin() as s:
        admin = Staff(staff_code="ADM1", name="Val Okafor (admin)", roles=["office_admin"])
        admin.badge_uid = "AB0000A1"
        admin.pin_hash = app.custody.auth.hash_checked_pin(admin, "582914")
        s.add(admin)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, app, ("AB0000A1", "582914"))
        menu_ids = [o.id for o in app.screen.query_one("#home-menu").options]
        assert menu_ids == ["staff", "pin"]
        await pilot.press("b")
        await wait_for(pilot, lambda: screen_name(app) == "StaffScreen")
        await wait_for(pilot, lambda: len(app.screen.people) == 7, what="staff list")
        head = next(i for i, p in enumerate(app.screen.people) if p.name.startswith("Dr Jo"))
        await pilot.press(*["down"] * head, "u")
        await wait_for(pilot, lambda: "only a senior" in text_of(app, "#staff-result"))
        await pilot.press(*["up"] * head, "x")  # Alex Byrne (teacher): allowed
        await wait_for(pilot, lambda: screen_name(app) == "Confirm")
        await pilot.press("enter")
        await wait_for(pilot, lambda: "disabled now" in text_of(app, "#staff-result"))
        lost = events(app, "staff.badge_lost")[-1]
        assert (lost.actor_id, lost.payload["staff"]) == (
            staff_row(app, "ADM1").id,
            staff_row(app, "TCH1").id,
        )
        # A pupil card tapped by this role (no pupil data) changes nothing.
        await tap(pilot, app, BEN)
        await wait_for(pilot, lambda: any("pupil's card" in n.message for n in app._notifications))
        assert app.identity is not None and app.identity.name == "Val Okafor (admin)"


# ---------------------------------------------------------------------------- roles
async def change_role(pilot: Any, app: Any, name: str, verb: str, role: str) -> None:
    """Highlight ``name`` on the Staff screen, ``r``, pick "Grant:"/"Remove:" ``role``."""
    from textual.widgets import DataTable, OptionList

    row = next(i for i, p in enumerate(app.screen.people) if p.name.startswith(name))
    app.screen.query_one("#staff", DataTable).move_cursor(row=row)
    await pilot.press("r")
    await wait_for(pilot, lambda: screen_name(app) == "RoleMenu")
    menu = app.screen.query_one(OptionList)
    ids = [menu.get_option_at_index(i).id for i in range(menu.option_count)]
    await pilot.press(*["down"] * ids.index(f"{verb}:{role}"), "enter")
    await wait_for(pilot, lambda: screen_name(app) == "StaffScreen")


@run_async
async def test_senior_grants_and_removes_a_role_at_the_kiosk(make_app: Any) -> None:
    """Issue 14: roles were set only by import; now `r` on the Staff screen, recorded."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_staff(pilot, app)
        senior, teacher = staff_row(app, "HT1").id, staff_row(app, "TCH1").id
        await change_role(pilot, app, "Alex Byrne", "grant", "exams")
        await wait_for(pilot, lambda: "now also exams officer" in text_of(app, "#staff-result"))
        granted = events(app, "staff.role_granted")[-1]
        assert (granted.actor_id, granted.payload["staff"], granted.payload["role"]) == (
            senior,
            teacher,
            "exams",
        )
        assert staff_row(app, "TCH1").roles == ["teacher", "exams"]
        await wait_for(
            pilot, lambda: "exams" in next(p.roles for p in app.screen.people if p.id == teacher)
        )
        await change_role(pilot, app, "Alex Byrne", "revoke", "exams")
        await wait_for(pilot, lambda: "no longer exams officer" in text_of(app, "#staff-result"))
        revoked = events(app, "staff.role_revoked")[-1]
        assert (revoked.actor_id, revoked.payload["role"]) == (senior, "exams")
        assert staff_row(app, "TCH1").roles == ["teacher"]
        # A privileged role is its own event.
        await change_role(pilot, app, "Alex Byrne", "grant", "dsl")
        await wait_for(pilot, lambda: "now also designated" in text_of(app, "#staff-result"))
        assert events(app, "staff.privileged_role_granted")[-1].payload["role"] == "dsl"


@run_async
async def test_role_changes_refused_in_words_and_not_recorded(make_app: Any) -> None:
    """Never the last DSL, never oneself, privileged roles only by a senior."""
    app = make_app()
    with app.station.ctx.sessions.begin() as s:
        admin = Staff(staff_code="ADM1", name="Val Okafor (admin)", roles=["office_admin"])
        admin.badge_uid = "AB0000A1"
        admin.pin_hash = app.custody.auth.hash_checked_pin(admin, "582914")
        s.add(admin)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_staff(pilot, app)
        kinds = ("staff.role_revoked", "staff.role_granted", "staff.privileged_role_granted")
        before = sum(len(events(app, k)) for k in kinds)
        await change_role(pilot, app, "Sam Rahman", "revoke", "dsl")  # the only DSL
        await wait_for(pilot, lambda: "only active designated" in text_of(app, "#staff-result"))
        await change_role(pilot, app, "Dr Jo", "revoke", "senior")  # themself
        await wait_for(pilot, lambda: "yourself" in text_of(app, "#staff-result"))
        await sign_out(pilot, app)
        await sign_in(pilot, app, ("AB0000A1", "582914"))
        await pilot.press("b")
        await wait_for(pilot, lambda: screen_name(app) == "StaffScreen")
        await wait_for(pilot, lambda: len(app.screen.people) == 7, what="staff list")
        await change_role(pilot, app, "Alex Byrne", "grant", "senior")
        await wait_for(pilot, lambda: "senior" in text_of(app, "#staff-result").lower())
        assert "now also" not in text_of(app, "#staff-result")
        assert sum(len(events(app, k)) for k in kinds) == before
        assert staff_row(app, "DSL1").roles == ["dsl"]
        assert staff_row(app, "TCH1").roles == ["teacher"]
        # An ordinary role is the office administrator's to grant.
        await change_role(pilot, app, "Alex Byrne", "grant", "exams")
        await wait_for(pilot, lambda: "now also exams officer" in text_of(app, "#staff-result"))


# ---------------------------------------------------------------------------- PINs
@run_async
async def test_change_own_pin(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, app, TEACHER)
        await pilot.press("p")
        await wait_for(pilot, lambda: screen_name(app) == "PinChangeScreen")
        await pilot.press(*"1357", "enter", *"582914", "enter", *"582914", "enter")
        await wait_for(pilot, lambda: "Wrong current PIN" in text_of(app, "#pin-error"))
        assert "CURRENT" in text_of(app, "#pin-ask")
        await pilot.press(*TEACHER[1], "enter", *"2580", "enter", *"2580", "enter")
        await wait_for(pilot, lambda: "most common" in text_of(app, "#pin-error"))
        await pilot.press(*"582914", "enter", *"582914", "enter")
        await wait_for(pilot, lambda: screen_name(app) == "HomeScreen")
        assert len(events(app, "staff.pin_changed")) == 1
        await sign_out(pilot, app)
        await sign_in(pilot, app, (TEACHER[0], "582914"))


@run_async
async def test_pin_change_required_after_a_senior_asks(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_staff(pilot, app)
        await pilot.press("f")  # Alex Byrne must change PIN at next sign-in
        await wait_for(pilot, lambda: "must choose a new PIN" in text_of(app, "#staff-result"))
        await sign_out(pilot, app)
        await tap(pilot, app, TEACHER[0])
        await wait_for(pilot, lambda: screen_name(app) == "LoginScreen")
        await pilot.press(*TEACHER[1], "enter")
        await wait_for(pilot, lambda: screen_name(app) == "PinChangeScreen")
        await pilot.press(*TEACHER[1], "enter", *TEACHER[1], "enter")  # the old one: refused
        await wait_for(pilot, lambda: "different from the old" in text_of(app, "#pin-error"))
        await pilot.press(*"471953", "enter", *"471953", "enter")
        await wait_for(pilot, lambda: screen_name(app) == "HomeScreen")
        assert not staff_row(app, "TCH1").pin_must_change
        assert events(app, "staff.pin_set")[-1].payload["reason"] == "forced"


@run_async
async def test_set_pin_now_with_the_administrator(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_staff(pilot, app)
        admin = app.identity
        await pilot.press("p")
        await wait_for(pilot, lambda: screen_name(app) == "PinChangeScreen")
        await pilot.press(*"836152", "enter", *"836152", "enter")
        await wait_for(pilot, lambda: screen_name(app) == "StaffScreen")
        assert app.identity is admin  # the administrator is still the one signed in
        assert events(app, "staff.pin_set")[-1].payload["reason"] == "approved"
        assert events(app, "auth.signed_out")[-1].payload["why"] == "PIN set with an administrator"
        await sign_out(pilot, app)
        await sign_in(pilot, app, (TEACHER[0], "836152"))


# ---------------------------------------------------------------------------- the hatch
async def _to_collectors(pilot: Any, app: Any) -> None:
    await pilot.press("r")  # 1
    await wait_for(pilot, lambda: screen_name(app) == "ReleaseScreen")
    await tap(pilot, app, BEN)  # 2
    await wait_for(pilot, lambda: focused_id(app) == "collectors", what="collectors")


@run_async
async def test_barred_contact_is_refused_recorded_and_alerts_the_dsl(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, app, OFFICE)
        await _to_collectors(pilot, app)
        await pilot.press("down", "enter")  # 3, 4: Tom Hughes: refused, no ID asked
        await wait_for(pilot, lambda: "REFUSED" in text_of(app, "#decision"))
        await pilot.press("enter")  # 5: "Refuse and record this adult"
        await wait_for(pilot, lambda: screen_name(app) == "RefusedAdultForm")
        assert app.screen.query_one("#refuse-name-input").value == "Tom Hughes"
        await pilot.press("enter")  # 6: the name as given
        await wait_for(pilot, lambda: focused_id(app) == "refuse-id-types")
        await pilot.press("enter")  # 7: driving licence seen
        await wait_for(pilot, lambda: focused_id(app) == "refuse-barred")
        await pilot.press("enter")  # 8: no bar known to the office (the list bars him)
        await wait_for(pilot, lambda: "REFUSED and recorded" in text_of(app, "#refused-text"))
        assert "DSL has been alerted" in text_of(app, "#refused-text")
        with app.station.ctx.sessions() as s:
            row = s.scalars(select(RefusedCollection)).one()
            assert (row.name_given, row.id_type_seen, row.barred) == (
                "Tom Hughes",
                "driving_licence",
                True,
            )
            assert row.rules == ["contact_may_not_collect", "barred"]
        refused = events(app, "release.refused")[-1]
        assert refused.payload["barred"] is True  # what the central tray reads
        assert "Tom" not in str(refused.payload)  # the name stays off the chain
        ben = next(h for h in app.custody.holdings(None) if h.pupil_name == "Ben Hughes")
        assert ben.state == "held"


@run_async
async def test_adult_not_on_the_list_known_to_be_barred(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, app, OFFICE)
        await _to_collectors(pilot, app)
        await pilot.press("end", "x")  # refuse and record: the adult is not on the list
        await wait_for(pilot, lambda: screen_name(app) == "RefusedAdultForm")
        await pilot.press(*"[red]Gary[/] Smith", "enter")  # hostile text is kept as text
        await wait_for(pilot, lambda: focused_id(app) == "refuse-id-types")
        await pilot.press("end", "enter")  # no ID shown
        await wait_for(pilot, lambda: focused_id(app) == "refuse-barred")
        await pilot.press("down", "enter")  # BARRED
        await wait_for(pilot, lambda: "REFUSED and recorded" in text_of(app, "#refused-text"))
        text = text_of(app, "#refused-text")
        assert "[red]Gary[/] Smith" in text and "not on the pupil's contact list" in text
        with app.station.ctx.sessions() as s:
            row = s.scalars(select(RefusedCollection)).one()
            assert (row.id_type_seen, row.barred) == (None, True)
            assert row.rules == ["not_on_contact_list", "barred"]
        assert events(app, "release.refused")[-1].payload["barred"] is True


@run_async
async def test_unlisted_adult_from_the_list_option_not_barred(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, app, OFFICE)
        await _to_collectors(pilot, app)
        await pilot.press("end", "enter")  # "An adult NOT on this list"
        await wait_for(pilot, lambda: screen_name(app) == "RefusedAdultForm")
        await pilot.press(*"Kim Lee", "enter", "enter", "enter")
        await wait_for(pilot, lambda: "REFUSED and recorded" in text_of(app, "#refused-text"))
        assert "DSL" not in text_of(app, "#refused-text")
        refused = events(app, "release.refused")[-1]
        assert refused.payload["barred"] is False
        assert refused.payload["rules"] == ["not_on_contact_list"]


@run_async
async def test_pupil_card_with_technician_or_exams_officer_signed_in(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        for badge, what in ((TECHNICIAN, "pupil's card"), (EXAMS, "Pupil card: Ben Hughes")):
            await sign_in(pilot, app, badge)
            who = app.identity
            await tap(pilot, app, BEN)
            await wait_for(
                pilot,
                lambda what=what: any(what in n.message for n in app._notifications),
                what=what,
            )
            assert app.identity is who and screen_name(app) == "HomeScreen"  # still signed in
            await sign_out(pilot, app)


# ---------------------------------------------------------------------------- forced open
async def _forced_then_sign_in(pilot: Any, app: Any) -> Any:
    await wait_for(pilot, lambda: app.service.started)
    ben = next(h for h in app.custody.holdings(None) if h.pupil_name == "Ben Hughes")
    app.simulator.force_open(ben.locker_bank, ben.locker_number)
    await wait_for(pilot, lambda: flagged_ids(app), what="the flag")
    await tap(pilot, app, OFFICE[0])
    await wait_for(pilot, lambda: screen_name(app) == "LoginScreen")
    await pilot.press(*OFFICE[1], "enter")
    await wait_for(pilot, lambda: screen_name(app) == "ChecksScreen", what="check screen")
    await wait_for(pilot, lambda: app.screen.flagged, what="flagged list")
    return ben


@run_async
async def test_forced_open_phone_confirmed_still_there(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        ben = await _forced_then_sign_in(pilot, app)
        assert f"Locker {ben.locker}: Ben Hughes" in str(
            app.screen.query_one("#flagged").get_option_at_index(0).prompt
        )
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen_name(app) == "HomeScreen")
        assert flagged_ids(app) == []
        checked = events(app, "holding.checked")[-1]
        assert (checked.holding_id, checked.payload["found"]) == (ben.id, True)


@run_async
async def test_forced_open_phone_missing_records_an_incident(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        ben = await _forced_then_sign_in(pilot, app)
        await pilot.press("m")
        await wait_for(pilot, lambda: screen_name(app) == "TextPrompt")
        await pilot.press(*"locker empty, door bent", "enter")
        await wait_for(pilot, lambda: screen_name(app) == "HomeScreen")
        with app.station.ctx.sessions() as s:
            incident = s.scalars(
                select(Incident).where(
                    Incident.holding_id == ben.id,
                    Incident.category == "missing_after_forced_open",
                )
            ).one()
            assert (incident.category, incident.summary) == (
                "missing_after_forced_open",
                "locker empty, door bent",
            )
        assert events(app, "holding.checked")[-1].payload["found"] is False


@run_async
async def test_acknowledging_alarms_writes_the_ledger_off_the_ui_thread(make_app: Any) -> None:
    """The acknowledgement is a ledger write (issue 9): it runs in a worker, never on the UI
    thread (DESIGN "Conventions": blocking I/O in ``@work(thread=True)``)."""
    import threading

    app = make_app()
    ui_thread = threading.get_ident()
    ran_on: list[int] = []
    real = app.service.acknowledge_alarms

    def spy(who: Any) -> None:
        ran_on.append(threading.get_ident())
        real(who)

    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, app, OFFICE)
        app.service.acknowledge_alarms = spy  # type: ignore[method-assign]
        await pilot.press("a")
        await app.workers.wait_for_complete()
        assert len(ran_on) == 1 and ran_on[0] != ui_thread
