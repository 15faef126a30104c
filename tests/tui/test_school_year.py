"""Issue 14 at the hatch, end to end on the simulator: the exams officer's session form
(create, edit, cancel, with the use-case's refusals next to the field), exam self-service
(own candidate number and pouch; leaving it returns to the exam screen), the voluntary
hand-in (amnesty / safekeeping) and its collection by the pupil, and receipts on screen and
on the (escpos Dummy) printer, including a safeguarded slip that names nobody.

Inputs are counted as in test_flows.py: a card tap, one key, one typed line + Enter and one
physical door close are one input each.
"""

from __future__ import annotations

from datetime import time
from typing import Any

from sqlalchemy import func, select
from textual.css.query import NoMatches
from tui_helpers import (
    AMARA,
    BEN,
    CHLOE,
    DYLAN,
    EXAMS,
    HARRY,
    OFFICE,
    close_door_when_open,
    open_exam_screen,
    run_async,
    screen_name,
    sign_in,
    start_self_service,
    tap,
    text_of,
    wait_for,
)

from db.models import Incident, Pupil
from kiosk.receipts import SAFEGUARDED_NOTE


def shown(app: Any, selector: str) -> str:
    """The text of ``selector`` on the current screen; "" while it is not mounted yet."""
    try:
        return text_of(app, selector)
    except NoMatches:
        return ""


def focused_id(app: Any) -> str | None:
    focused = app.screen.focused
    return None if focused is None else focused.id


def toasts(app: Any) -> str:
    return "\n".join(str(n.message) for n in app._notifications)


def sessions(app: Any) -> dict[str, dict[str, Any]]:
    return {s.name: s for s in app.custody.exam_sessions()}


async def hand_back_demo_session(pilot: Any, app: Any) -> None:
    """The morning's session ends and its pouches go back (frees the demo's one cabinet)."""
    await pilot.press("n")
    await wait_for(pilot, lambda: "release all" in text_of(app, "#exam-status"))
    await pilot.press("b")
    await close_door_when_open(pilot, app, "B", 4)
    await wait_for(
        pilot, lambda: sessions(app)["GCSE English Language Paper 1"].state == "released"
    )


async def fill_form(pilot: Any, paper: str, start: str, end: str, room: str) -> int:
    """Type the fields in order, Enter after each (the date is prefilled with today)."""
    await pilot.press(*paper, "enter")  # paper
    await pilot.press("enter")  # date: today, as prefilled
    await pilot.press(*start, "enter")
    await pilot.press(*end, "enter")
    await pilot.press(*room, "enter")
    await pilot.press("enter")  # cabinet: the first (the demo's B4)
    return 6


# ---------------------------------------------------------------------------- exam sessions
@run_async
async def test_create_a_three_candidate_exam_session_at_the_kiosk(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_exam_screen(pilot, app)  # counts from home: `e` is input 1
        inputs = 1
        # The demo's cabinet still holds the morning's pouches: the use-case refuses, and
        # the refusal is shown next to the Cabinet field, nothing is written.
        await pilot.press("c")
        await wait_for(pilot, lambda: screen_name(app) == "ExamSessionForm")
        await fill_form(pilot, "GCSE Maths Paper 1", "09:30", "11:00", "Hall")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "in use" in text_of(app, "#m-cabinet"), what="cabinet")
        assert focused_id(app) == "f-cabinet"
        assert "GCSE Maths Paper 1" not in sessions(app)
        await pilot.press("escape")
        await wait_for(pilot, lambda: screen_name(app) == "ExamScreen")

        await hand_back_demo_session(pilot, app)
        await pilot.press("c")  # 2
        inputs += 1
        await wait_for(pilot, lambda: focused_id(app) == "f-paper")
        inputs += await fill_form(pilot, "GCSE Maths Paper 1", "09:30", "11:00", "Hall")  # 3-8
        assert focused_id(app) == "find"
        for card in (AMARA, BEN, CHLOE):  # 9-11: candidates tap their cards
            await tap(pilot, app, card)
            inputs += 1
        await wait_for(pilot, lambda: "Candidates: 3" in text_of(app, "#cand-head"))
        await pilot.press("ctrl+s")  # 12
        inputs += 1
        await wait_for(pilot, lambda: screen_name(app) == "ExamScreen", what="back to the list")
        assert inputs == 12
        made = sessions(app)["GCSE Maths Paper 1"]
        assert (made.state, made.room, made.cabinet, made.candidates) == (
            "open",
            "Hall",
            "B4",
            3,
        )
        local = made.starts_at.astimezone(app.config.tz)
        assert (
            f"{local:%d/%m/%Y %H:%M}",
            f"{made.ends_at.astimezone(app.config.tz):%H:%M}",
        ) == (
            "11/03/2026 09:30",
            "11:00",
        )
        who = app.identity
        register = app.custody.exam_register(who, made.id)
        assert sorted(p.name for p, _ in register) == ["Amara Okafor", "Ben Hughes", "Chloe Evans"]


@run_async
async def test_form_shows_the_use_case_refusal_next_to_the_field(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_exam_screen(pilot, app)
        await pilot.press("c")
        await wait_for(pilot, lambda: focused_id(app) == "f-paper")
        await pilot.press(
            "enter", "backspace", "backspace", *"2x", "enter"
        )  # no paper; a date mistyped
        await wait_for(pilot, lambda: "11/03/2026" in text_of(app, "#m-date"))
        await pilot.press("ctrl+s")  # the date's shape is checked before anything is sent
        assert "Type the date" in text_of(app, "#m-date")
        app.screen.query_one("#f-date").value = "12/03/2026"
        app.screen.query_one("#f-start").value = "14:00"
        app.screen.query_one("#f-end").value = "13:00"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "Name the paper" in text_of(app, "#m-paper"))
        assert focused_id(app) == "f-paper"
        await pilot.press(*"[@click=app.quit]Chemistry[/]")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "must end after it starts" in text_of(app, "#m-end"))
        assert text_of(app, "#m-paper") == ""
        assert focused_id(app) == "f-end"
        assert len(sessions(app)) == 1  # nothing written by either refusal


@run_async
async def test_edit_and_cancel_a_session(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_exam_screen(pilot, app)
        await hand_back_demo_session(pilot, app)
        sid = app.custody.create_exam_session(
            app.identity,
            paper="[b]GCSE Physics[/b] 2",
            day=app.custody.clock().astimezone(app.config.tz).date(),
            start=time(13, 0),
            end=time(14, 0),
            candidate_ids=[app.custody.pupil_by_card(None, c).id for c in (AMARA, BEN)],
        )
        app.screen._load()
        await wait_for(
            pilot,
            lambda: (
                "[b]GCSE Physics[/b] 2"
                in str(app.screen.query_one("#sessions").get_option_at_index(0).prompt)
            ),
        )
        await pilot.press("e")
        await wait_for(pilot, lambda: screen_name(app) == "ExamSessionForm")
        await wait_for(pilot, lambda: "Candidates: 2" in text_of(app, "#cand-head"))
        form = app.screen
        assert form.query_one("#f-paper").value == "[b]GCSE Physics[/b] 2"  # as text
        form.query_one("#f-end").value = "14:30"
        form.query_one("#cand-chosen").focus()
        await pilot.press("delete")  # Amara (the first) is no longer a candidate
        await wait_for(pilot, lambda: "Candidates: 1" in text_of(app, "#cand-head"))
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: screen_name(app) == "ExamScreen")
        edited = next(s for s in app.custody.exam_sessions() if s.id == sid)
        assert f"{edited.ends_at.astimezone(app.config.tz):%H:%M}" == "14:30"
        assert [p.name for p, _ in app.custody.exam_register(app.identity, sid)] == ["Ben Hughes"]

        await pilot.press("x")
        await wait_for(pilot, lambda: screen_name(app) == "TextPrompt")
        await pilot.press(*"paper moved to Thursday", "enter")
        await wait_for(
            pilot,
            lambda: (
                next(s for s in app.custody.exam_sessions() if s.id == sid).state == "cancelled"
            ),
        )


# ---------------------------------------------------------------------------- self-service
@run_async
async def test_candidate_sees_own_number_and_pouch_and_officer_returns_to_exams(
    make_app: Any,
) -> None:
    app = make_app()
    harry = app.custody.pupil_by_card(None, HARRY)
    assert harry is not None
    with app.station.ctx.sessions.begin() as s:
        s.get(Pupil, harry.id).candidate_number = "4321"
    async with app.run_test(size=(80, 24)) as pilot:
        await open_exam_screen(pilot, app)
        await start_self_service(pilot, app)
        await tap(pilot, app, HARRY)
        await wait_for(pilot, lambda: "POUCH 4" in text_of(app, "#exam-result"))
        said = text_of(app, "#exam-result")
        assert "Candidate 4321, POUCH 4" in said
        # Only the candidate at the hatch: no other candidate's name is on the screen.
        for other in ("Ella", "Finn", "Grace", "Isla", "Chloe"):
            assert other not in said and other not in text_of(app, "#exam-prompt")
        await close_door_when_open(pilot, app, "B", 4)
        await wait_for(pilot, lambda: "Thank you, Harry" in text_of(app, "#exam-result"))
        assert "candidate 4321, pouch 4 is locked in B4" in text_of(app, "#exam-result")
        await tap(pilot, app, EXAMS[0])
        await wait_for(pilot, lambda: screen_name(app) == "LoginScreen")
        await pilot.press(*EXAMS[1], "enter")
        await wait_for(pilot, lambda: screen_name(app) == "ExamScreen")
        await wait_for(pilot, lambda: "4 of 6 deposited" in text_of(app, "#exam-status"))


# ---------------------------------------------------------------------------- amnesty
def incidents(app: Any) -> int:
    with app.station.ctx.sessions() as s:
        return int(s.scalar(select(func.count(Incident.id))) or 0)


@run_async
async def test_amnesty_hand_in_in_four_inputs_then_the_pupil_collects(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, app, OFFICE)
        before = incidents(app)
        await pilot.press("v")  # 1
        await wait_for(pilot, lambda: screen_name(app) == "AmnestyScreen")
        await tap(pilot, app, AMARA)  # 2: the pupil's card
        await wait_for(pilot, lambda: focused_id(app) == "reasons", what="reasons")
        assert "switched off, into A" in str(
            app.screen.query_one("#reasons").get_option_at_index(0).prompt
        )
        await pilot.press("enter")  # 3: PE, switched off, first free locker
        await wait_for(pilot, lambda: app.job is not None and app.job.holding is not None)
        holding = app.job.holding
        assert holding.kind == "safekeeping"
        await close_door_when_open(pilot, app, holding.locker_bank, holding.locker_number)  # 4
        await wait_for(pilot, lambda: screen_name(app) == "ReceiptScreen", what="receipt")
        await wait_for(pilot, lambda: "safekeeping receipt" in shown(app, "#receipt"))
        slip = text_of(app, "#receipt")
        assert "May be collected by:\n  Amara Okafor" in slip
        assert "any time the office is open" in slip
        held = app.custody.holding(None, holding.id)
        assert (held.kind, held.state, held.device_description) == ("safekeeping", "held", "phone")
        assert incidents(app) == before  # never an incident
        await pilot.press("p")
        await wait_for(pilot, lambda: len(app.station.printer.printed) == 1, what="printed")
        paper = app.station.printer.printed[0]
        assert b"Phone safekeeping receipt" in paper and b"Amara Okafor" in paper
        assert paper.endswith(b"\x1dV\x00")  # cut
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen_name(app) == "HomeScreen")

        # Collected by the pupil, as the profile allows (release.safekeeping_collectors).
        await pilot.press("r")
        await wait_for(pilot, lambda: screen_name(app) == "ReleaseScreen")
        await tap(pilot, app, AMARA)
        await wait_for(pilot, lambda: focused_id(app) == "collectors")
        await tap(pilot, app, AMARA)  # the pupil taps again: "the pupil" collects
        await wait_for(pilot, lambda: focused_id(app) == "decision-options")
        assert "ALLOWED" in str(app.screen.query_one("#decision").render())
        await pilot.press("enter")
        await close_door_when_open(pilot, app, holding.locker_bank, holding.locker_number)
        await wait_for(pilot, lambda: app.custody.holding(None, holding.id).state == "released")
        await wait_for(pilot, lambda: app.screen.query_one("#door-options").option_count == 2)
        await pilot.press("down", "enter")  # "Show the receipt"
        await wait_for(pilot, lambda: "Handed back: Amara Okafor" in shown(app, "#receipt"))
        assert "Collect from" not in text_of(app, "#receipt")


@run_async
async def test_amnesty_by_search_with_a_typed_reason_and_description(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, app, OFFICE)
        await pilot.press("v")
        await wait_for(pilot, lambda: focused_id(app) == "search")
        await pilot.press(*"patel", "enter")
        await wait_for(pilot, lambda: focused_id(app) == "reasons")
        assert "Dylan Patel" in text_of(app, "#who")
        app.screen.query_one("#device").value = "red Motorola [b]x[/b]"
        await pilot.press("end", "enter")  # the last reason: "Another reason (type it)"
        await wait_for(pilot, lambda: screen_name(app) == "TextPrompt")
        await pilot.press(*"school trip", "enter")
        await wait_for(pilot, lambda: app.job is not None and app.job.holding is not None)
        h = app.job.holding
        await close_door_when_open(pilot, app, h.locker_bank, h.locker_number)
        await wait_for(pilot, lambda: "red Motorola [b]x[/b]" in shown(app, "#receipt"))
        assert app.custody.holding(None, h.id).state == "held"


# ---------------------------------------------------------------------------- receipts
@run_async
async def test_indecent_images_receipt_names_nobody_on_screen_or_paper(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, app, OFFICE)
        await tap(pilot, app, BEN)
        await wait_for(pilot, lambda: focused_id(app) == "categories")
        codes = [c.code for c in app.profile.categories]
        await pilot.press(*["down"] * codes.index("indecent_images"), "enter")
        await pilot.press(*"grey phone", "enter")
        await wait_for(pilot, lambda: focused_id(app) == "lockers")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.job is not None and app.job.holding is not None)
        h = app.job.holding
        await close_door_when_open(pilot, app, h.locker_bank, h.locker_number)
        await wait_for(pilot, lambda: SAFEGUARDED_NOTE in text_of(app, "#slip"), what="slip")
        slip = text_of(app, "#slip")
        for word in ("Sarah", "Hughes, Sarah", "Collect from", "collected by", "15:15"):
            assert word not in slip
        await pilot.press("p")
        await wait_for(pilot, lambda: len(app.station.printer.printed) == 1)
        paper = app.station.printer.printed[0]
        assert SAFEGUARDED_NOTE.encode() in paper and b"Sarah" not in paper


@run_async
async def test_print_without_a_printer_says_so(make_app: Any) -> None:
    app = make_app()
    app.station.printer = None
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, app, OFFICE)
        dylan = [h for h in app.custody.holdings(None) if h.pupil_name == "Dylan Patel"]
        from tui.screens.receipt import ReceiptScreen

        app.push_screen(ReceiptScreen(dylan[0].id))
        await wait_for(pilot, lambda: SAFEGUARDED_NOTE in shown(app, "#receipt"))
        await pilot.press("p")
        await wait_for(pilot, lambda: "No receipt printer is configured" in toasts(app))
    assert DYLAN  # Dylan's phone is on a safeguarding hold in the demo


@run_async
async def test_amnesty_locker_left_open_at_a_lock_is_left_for_staff_by_number(
    make_app: Any, ticker: Any
) -> None:
    """The hand-in is a door step like a confiscation: a lock never rolls back a door that
    was opened, and the public idle screen names it by number and locker, not the pupil."""
    app = make_app(idle_lock_seconds=1.0)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, app, OFFICE)
        await pilot.press("v")
        await wait_for(pilot, lambda: screen_name(app) == "AmnestyScreen")
        await tap(pilot, app, AMARA)
        await wait_for(pilot, lambda: focused_id(app) == "reasons")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.job is not None and app.job.holding is not None)
        h = app.job.holding
        await wait_for(
            pilot,
            lambda: app.station.door_states()[(h.locker_bank, h.locker_number)].value == "open",
        )
        ticker.advance(1.0)  # the door wait ends with the locker still open
        await wait_for(pilot, lambda: app.job is not None and app.job.door_opened)
        ticker.advance(1.0)  # then nobody touches the kiosk
        await wait_for(pilot, lambda: screen_name(app) == "IdleScreen")
        notes = "\n".join(app.idle_notes)
        assert f"Safekeeping hand-in #{h.id} in {h.locker} is unfinished" in notes
        assert "Amara" not in notes
        assert app.custody.holding(None, h.id).state == "depositing"


@run_async
async def test_the_thank_you_naming_a_candidate_does_not_stay_for_the_next_one(
    make_app: Any, monkeypatch: Any
) -> None:
    """The next candidate walks up to the same screen: the line naming the one before
    (name, candidate number, pouch) is cleared (issue 9, self-service shows only what the
    candidate at the hatch needs)."""
    from tui.screens.exam import ExamDepositScreen

    monkeypatch.setattr(ExamDepositScreen, "CLEAR_AFTER", 0.05)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_exam_screen(pilot, app)
        await start_self_service(pilot, app)
        await tap(pilot, app, HARRY)
        await wait_for(pilot, lambda: "POUCH 4" in text_of(app, "#exam-result"))
        await close_door_when_open(pilot, app, "B", 4)
        await wait_for(pilot, lambda: "Harry" not in text_of(app, "#exam-result"))
        assert text_of(app, "#exam-result").strip() == ""
