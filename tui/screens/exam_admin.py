"""The exams officer's session form: create or edit an exam session at the kiosk (issue 14).

Paper, date, start and end, room, cabinet and candidates, on one 80x24 screen. The screen
only reads what was typed (a date, a time) and sends it to the ``create_exam_session`` /
``edit_exam_session`` use-cases; every rule (the end after the start, one session per
cabinet, candidates who exist) is theirs, and a refusal about one field
(:class:`kiosk.usecases.exam_admin.ExamFieldError`) is shown next to that field.

Candidates are picked from the pupils: tap their card (the quickest), or type a name or tutor
group + Enter and pick. ``Delete`` removes the highlighted candidate. ``ctrl+s`` saves.

Enter in a field moves to the next one while the key is being routed (a priority binding,
:meth:`ExamSessionForm.action_next_field`), not on a later turn of the event loop as
``Widget.focus`` does: a fast typist or a keyboard-wedge reader sends "09:00<Enter>10:30"
at once, and every key after the Enter must land in the next field, never in this one.

Paper titles and names come from outside (MIS import, typing): shown as text, never markup.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Input, OptionList, Static

from kiosk.usecases.exam_admin import ExamFieldError
from kiosk.views import ExamSessionView, LockerView, PupilView
from tui.screens.base import KioskScreen, problem_text
from tui.widgets.text import Plain, option, safe

FIELDS = ("paper", "date", "start", "end", "room", "cabinet")


def parse_day(text: str) -> date:
    """``2026-03-11`` or ``11/03/2026`` (the UK order the office writes)."""
    text = text.strip()
    for fmt in ("%Y-%m-%d", "%d/%m/%Y", "%d/%m/%y"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError("Type the date as 11/03/2026 or 2026-03-11.")


def parse_time(text: str) -> time:
    """``13:30``, ``1330`` or ``13.30``."""
    text = text.strip().replace(".", ":")
    for fmt in ("%H:%M", "%H%M"):
        try:
            return datetime.strptime(text, fmt).time()
        except ValueError:
            continue
    raise ValueError("Type the time as 13:30 (24-hour clock).")


class CabinetChoice(Static, can_focus=True):
    """One line that cycles through the exam cabinets (left/right/space); Enter goes on (the
    form's binding)."""

    BINDINGS = [
        Binding("left", "step(-1)", "Previous", show=False),
        Binding("right,space", "step(1)", "Next", show=False),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("", markup=False, **kwargs)
        self.cabinets: list[LockerView] = []
        self.index = 0

    def set_cabinets(self, cabinets: list[LockerView], chosen: int | None) -> None:
        self.cabinets = cabinets
        ids = [c.id for c in cabinets]
        self.index = ids.index(chosen) if chosen in ids else 0
        self._show()

    @property
    def value(self) -> int | None:
        return self.cabinets[self.index].id if self.cabinets else None

    def _show(self) -> None:
        if not self.cabinets:
            self.update("no exam cabinet configured")
            return
        c = self.cabinets[self.index]
        more = "  (left/right: another)" if len(self.cabinets) > 1 else ""
        self.update(f"{c.label}, {c.capacity} pouches{more}")

    def action_step(self, by: int) -> None:
        if self.cabinets:
            self.index = (self.index + by) % len(self.cabinets)
            self._show()


class ExamSessionForm(KioskScreen):
    """Create (``session`` None) or edit one exam session."""

    BINDINGS = [
        Binding("ctrl+s", "save", "Save"),
        Binding("escape", "back", "Back"),
        # Priority: run while the App routes the key, before the keys typed after it.
        Binding("enter", "next_field", "Next field", show=False, priority=True),
    ]

    def __init__(self, session: ExamSessionView | None = None) -> None:
        super().__init__()
        self.HEADING = "Edit exam session" if session else "New exam session"
        self.session = session
        self.candidates: list[PupilView] = []
        self._found: list[PupilView] = []
        self._busy = False

    # ------------------------------------------------------------------ layout
    def compose_body(self) -> ComposeResult:
        tz = self.kiosk.config.tz
        s = self.session
        if s is not None:
            start, end = s.starts_at.astimezone(tz), s.ends_at.astimezone(tz)
            values = {
                "paper": s.name,
                "date": f"{start:%d/%m/%Y}",
                "start": f"{start:%H:%M}",
                "end": f"{end:%H:%M}",
                "room": s.room,
            }
        else:
            today = self.kiosk.custody.clock().astimezone(tz)
            values = {"date": f"{today:%d/%m/%Y}"}
        with Vertical(id="exam-form"):
            with Grid(id="exam-fields"):
                for name, label, hint in (
                    ("paper", "Paper", "e.g. GCSE Maths Paper 1"),
                    ("date", "Date", "11/03/2026"),
                    ("start", "Start", "13:30"),
                    ("end", "End", "15:15"),
                    ("room", "Room", "e.g. Sports hall"),
                ):
                    yield Plain(label, classes="field-label")
                    yield Input(
                        safe(values.get(name, "")),
                        placeholder=hint,
                        id=f"f-{name}",
                        classes="field",
                    )
                    yield Plain("", id=f"m-{name}", classes="field-message")
                yield Plain("Cabinet", classes="field-label")
                yield CabinetChoice(id="f-cabinet", classes="field")
                yield Plain("", id="m-cabinet", classes="field-message")
            yield Plain("", id="cand-head")
            yield Plain("", id="m-candidates", classes="field-message")
            yield Input(placeholder="tap a card, or type a name / tutor group + Enter", id="find")
            with Horizontal(id="cand-lists"):
                yield OptionList(id="cand-found")
                yield OptionList(id="cand-chosen")
            yield Plain("", id="form-error")

    AUTO_FOCUS = "#f-paper"

    def on_mount(self) -> None:
        # After a refresh: nested widgets may not all be mounted when on_mount runs.
        self.call_after_refresh(self._show_candidates)
        self.call(self.kiosk.custody.lockers, self._cabinets)
        if self.session is not None:
            who, sid = self.actor, self.session.id
            self.call(lambda: self.kiosk.custody.exam_register(who, sid), self._register)

    def _cabinets(self, lockers: list[LockerView]) -> None:
        chosen = self.session.locker_id if self.session else None
        cabinets = [lk for lk in lockers if lk.capacity > 1]
        self.query_one("#f-cabinet", CabinetChoice).set_cabinets(cabinets, chosen)

    def _register(self, rows: list[tuple[PupilView, Any]]) -> None:
        self.candidates = [pupil for pupil, _ in rows]
        self._show_candidates()

    # ------------------------------------------------------------------ fields
    def _field_of(self, widget: Widget | None) -> str | None:
        """The form field ``widget`` is (``paper`` ... ``cabinet``), or None."""
        name = (widget.id or "").removeprefix("f-") if widget is not None else ""
        return name if name in FIELDS else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Enter is the form's only while a field has the focus: in the candidate search
        # it searches, in a list it picks (the key goes on to the focused widget).
        if action == "next_field":
            return self._field_of(self.focused) is not None
        return True

    def action_next_field(self) -> None:
        """Enter in a field: the next field (the cabinet's next is the candidate search).

        ``Screen.set_focus`` at once, while the App is still routing this key: the keys
        that follow in the terminal's input are routed after it, to the new field. The
        characters typed before the Enter are still queued for the old field, which is why
        the format of what was typed is checked when that field reports its blur.
        """
        name = self._field_of(self.focused)
        if name is None:
            return
        i = FIELDS.index(name)
        following = f"#f-{FIELDS[i + 1]}" if i + 1 < len(FIELDS) else "#find"
        self.set_focus(self.query_one(following))

    def on_input_blurred(self, event: Input.Blurred) -> None:
        name = self._field_of(event.input)
        if name is not None:
            self._check_format(name)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "find":
            text = event.value.strip()
            if text:
                who = self.actor
                self.call(lambda: self.kiosk.custody.find_pupils(who, text), self._results)

    def _message(self, field: str, text: str) -> None:
        self.query_one(f"#m-{field}", Static).update(text)

    def _check_format(self, name: str) -> bool:
        """Only the shape of what was typed (a date, a time); the rules are the use-case's."""
        value = self.query_one(f"#f-{name}", Input).value
        try:
            if name == "date":
                parse_day(value)
            elif name in ("start", "end"):
                parse_time(value)
        except ValueError as exc:
            self._message(name, str(exc))
            return False
        self._message(name, "")
        return True

    # ------------------------------------------------------------------ candidates
    def pupil_tapped(self, pupil: PupilView) -> None:
        self._add(pupil)

    def _results(self, pupils: list[PupilView]) -> None:
        if len(pupils) == 1:
            self._add(pupils[0])
            return
        self._found = pupils
        menu = self.query_one("#cand-found", OptionList)
        menu.clear_options()
        menu.add_options(
            [option(f"{p.name}  {p.tutor_group}", id=str(i)) for i, p in enumerate(pupils)]
        )
        if pupils:
            menu.highlighted = 0
            self.set_focus(menu)
        else:
            self._message("candidates", "No pupil matches. Try the surname or the tutor group.")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option_list.id == "cand-found" and event.option.id is not None:
            self._add(self._found[int(event.option.id)])

    def _add(self, pupil: PupilView) -> None:
        if any(p.id == pupil.id for p in self.candidates):
            self._message("candidates", f"{pupil.name} is already a candidate.")
        else:
            self.candidates.append(pupil)
            self._message("candidates", "")
        self._show_candidates()
        find = self.query_one("#find", Input)
        find.value = ""
        self.set_focus(find)

    def _show_candidates(self) -> None:
        self.query_one("#cand-head", Static).update(
            f"Candidates: {len(self.candidates)}   (Delete removes the highlighted one)"
        )
        chosen = self.query_one("#cand-chosen", OptionList)
        was = chosen.highlighted or 0
        chosen.clear_options()
        chosen.add_options(
            [option(f"{p.name}  {p.tutor_group}", id=str(p.id)) for p in self.candidates]
        )
        if self.candidates:
            chosen.highlighted = min(was, len(self.candidates) - 1)

    def on_key(self, event: events.Key) -> None:
        chosen = self.query_one("#cand-chosen", OptionList)
        if event.key in ("delete", "backspace") and self.focused is chosen:
            event.stop()
            if chosen.highlighted is not None and self.candidates:
                del self.candidates[chosen.highlighted]
                self._show_candidates()

    # ------------------------------------------------------------------ save
    def action_save(self) -> None:
        if self._busy:
            return
        for name in FIELDS:
            if name != "cabinet":
                self._message(name, "")
        self._message("candidates", "")
        self.query_one("#form-error", Static).update("")
        if not all(self._check_format(n) for n in ("date", "start", "end")):
            return
        text = {n: self.query_one(f"#f-{n}", Input).value for n in FIELDS if n != "cabinet"}
        day, start, end = (
            parse_day(text["date"]),
            parse_time(text["start"]),
            parse_time(text["end"]),
        )
        cabinet = self.query_one("#f-cabinet", CabinetChoice).value
        who, ids, custody = self.actor, [p.id for p in self.candidates], self.kiosk.custody
        self._busy = True
        if self.session is None:
            self.call(
                lambda: custody.create_exam_session(
                    who,
                    paper=text["paper"],
                    day=day,
                    start=start,
                    end=end,
                    cabinet_id=cabinet,
                    candidate_ids=ids,
                    room=text["room"].strip(),
                ),
                lambda _sid: self._saved(),
                self._refused,
            )
        else:
            sid = self.session.id
            self.call(
                lambda: custody.edit_exam_session(
                    who,
                    sid,
                    paper=text["paper"],
                    day=day,
                    start=start,
                    end=end,
                    cabinet_id=cabinet,
                    candidate_ids=ids,
                    room=text["room"].strip(),
                ),
                lambda _r: self._saved(),
                self._refused,
            )

    def _refused(self, exc: Exception) -> None:
        self._busy = False
        if isinstance(exc, ExamFieldError) and exc.field in (*FIELDS, "candidates"):
            self._message(exc.field, str(exc))
            self.set_focus(
                self.query_one("#find" if exc.field == "candidates" else f"#f-{exc.field}")
            )
            return
        self.query_one("#form-error", Static).update(problem_text(exc))

    def _saved(self) -> None:
        self._busy = False
        paper = self.query_one("#f-paper", Input).value.strip()
        self.notify(f"Saved: {paper}, {len(self.candidates)} candidate(s).")
        self.app.pop_screen()

    def action_back(self) -> None:
        self.app.pop_screen()
