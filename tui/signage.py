"""The public signage screen: camera-free zones, phone rules and exam notices, rotating.

Used twice: full screen by ``kiosk signage`` (:class:`SignageApp`, the HDMI screen facing the
hatch) and as the staff UI's idle screen (:class:`SignageView`). The words come from the
station's profile and exam sessions through :class:`kiosk.signage.SignageFeed`, each with
the citation of the school policy it enforces; nothing here invents wording.

The feed reads the database, so it runs in a thread worker and hands its result back with
``call_from_thread``; rotating is a timer on the UI thread and never touches the database.
Drawn only with characters the Linux console font has (CP437: ASCII, box lines, blocks).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.widgets import Static

from kiosk.signage import SignNotice
from tui.widgets.text import Plain

Feed = Callable[[], Sequence[SignNotice]]

# Pictograms, one per kind of notice; the frame around them is drawn red by the CSS.
PHONE = (
    " ┌───────┐ ",
    " │ ═════ │ ",
    " │       │ ",
    " │       │ ",
    " │       │ ",
    " │   o   │ ",
    " └───────┘ ",
)
CAMERA = (
    "   ┌───┐    ",
    " ┌─┴───┴──┐ ",
    " │  ┌──┐  │ ",
    " │  │()│  │ ",
    " │  └──┘  │ ",
    " └────────┘ ",
    "            ",
)
CLOCK = (
    "  ┌─────┐  ",
    " ┌┘  │  └┐ ",
    " │   │   │ ",
    " │   └── │ ",
    " └┐     ┌┘ ",
    "  └─────┘  ",
    "           ",
)
SCHOOL = (
    "    ▄█▄    ",
    "  ▄█████▄  ",
    " ██ ▄ ▄ ██ ",
    " ██ █ █ ██ ",
    " ██ ▀ ▀ ██ ",
    " ▀▀▀▀▀▀▀▀▀ ",
    "           ",
)

BANNER = {
    "zone": "NO PHONES  NO CAMERAS",
    "rule": "PHONES OFF AND OUT OF SIGHT",
    "exam_now": "EXAM IN PROGRESS",
    "exam_soon": "EXAM STARTING SOON",
    "school": "WELCOME",
}


def _struck(art: tuple[str, ...]) -> Text:
    """The art with a red prohibition bar from top left to bottom right over it."""
    drawn = list(art)
    while drawn and not drawn[-1].strip():
        drawn.pop()  # the bar spans the drawing, not its blank padding
    rows, cols = len(drawn), max(len(line) for line in drawn)
    text = Text()
    for r, line in enumerate(drawn):
        col = round(r * (cols - 1) / (rows - 1))
        line = line.ljust(cols)
        text.append(line[:col])
        text.append("\\", style="bold red")
        text.append(line[col + 1 :] + ("\n" if r < rows - 1 else ""))
    return text


def pictogram(notice: SignNotice) -> Text:
    """The pictogram for a notice: a struck-out phone or camera for zones and phone rules
    (the sign's "no phones" meaning), a clock for exams, the school for the welcome."""
    if notice.kind == "zone":
        return _struck(CAMERA if notice.zone_kind == "camera_free" else PHONE)
    if notice.kind in ("exam_now", "exam_soon"):
        return Text("\n".join(CLOCK))
    if notice.kind == "school":
        return Text("\n".join(SCHOOL))
    return _struck(PHONE)


def banner(notice: SignNotice) -> str:
    if notice.kind == "zone" and notice.zone_kind == "camera_free":
        return "CAMERA-FREE ZONE"
    if notice.kind == "zone":
        return "MOBILE-FREE ZONE"
    return BANNER.get(notice.kind, "")


class SignageView(Vertical):
    """One notice at a time, big and high-contrast, rotating every ``interval`` seconds.

    ``feed`` is called in a worker every ``refresh_every`` seconds (profile edits and new
    exam sessions show up without a restart). Tests inject a fixed feed and call
    :meth:`show_next` instead of waiting for the timer.
    """

    DEFAULT_CSS = ""
    index: reactive[int] = reactive(0)

    def __init__(
        self,
        feed: Feed,
        *,
        interval: float = 8.0,
        refresh_every: float = 30.0,
        compact: bool = False,
        id: str | None = None,
    ) -> None:
        # ``compact``: no pictogram and a one-line banner, for the staff UI's idle screen
        # where "tap your badge" and the demo hints share the 24 lines.
        super().__init__(id=id, classes="signage -compact" if compact else "signage")
        self.feed = feed
        self.interval = interval
        self.refresh_every = refresh_every
        self.notices: list[SignNotice] = []

    def compose(self) -> ComposeResult:
        yield Plain("", id="sign-banner")
        with Horizontal(id="sign-main"):
            yield Plain("", id="sign-picto")
            with Vertical(id="sign-words"):
                yield Plain("", id="sign-title")
                yield Plain("", id="sign-text")
        yield Plain("", id="sign-source")

    def on_mount(self) -> None:
        self.reload()
        if self.interval > 0:
            self.set_interval(self.interval, self.show_next)
        if self.refresh_every > 0:
            self.set_interval(self.refresh_every, self.reload)

    @work(thread=True, exclusive=True, group="signage-feed", exit_on_error=False)
    def reload(self) -> None:
        """Ask the feed (database, profile file) off the UI thread; a failure keeps the screen."""
        notices = list(self.feed())
        self.app.call_from_thread(self.set_notices, notices)

    def set_notices(self, notices: list[SignNotice]) -> None:
        """New content; stay on the same notice if it is still there, else start again."""
        current = self.current
        self.notices = notices
        codes = [n.code for n in notices]
        if notices and notices[0].kind == "exam_now":
            self.index = 0  # an exam starting takes over the screen at once
        elif current is not None and current.code in codes:
            self.index = codes.index(current.code)
        else:
            self.index = 0
        self.render_notice()

    @property
    def current(self) -> SignNotice | None:
        if not self.notices:
            return None
        return self.notices[self.index % len(self.notices)]

    def show_next(self) -> None:
        if self.notices:
            self.index = (self.index + 1) % len(self.notices)
            self.render_notice()

    def render_notice(self) -> None:
        notice = self.current
        if notice is None:
            return
        self.set_class(notice.kind in ("exam_now", "exam_soon"), "-exam")
        self.query_one("#sign-banner", Static).update(banner(notice))
        self.query_one("#sign-picto", Static).update(pictogram(notice))
        self.query_one("#sign-title", Static).update(notice.title)
        self.query_one("#sign-text", Static).update(notice.text)
        position = f"{self.index % len(self.notices) + 1}/{len(self.notices)}"
        self.query_one("#sign-source", Static).update(f"{position}  Policy: {notice.source}")


class SignageApp(App[None]):
    """Full-screen signage for the public display (``kiosk signage``)."""

    CSS_PATH = Path(__file__).with_name("signage.tcss")
    TITLE = "Signage"
    BINDINGS = [("n", "next", "Next notice"), ("ctrl+q", "quit", "Quit")]

    def __init__(self, feed: Feed, *, interval: float = 8.0, refresh_every: float = 30.0):
        super().__init__()
        self.feed = feed
        self.interval = interval
        self.refresh_every = refresh_every

    def on_mount(self) -> None:
        self.theme = "ansi-dark"

    def compose(self) -> ComposeResult:
        yield SignageView(
            self.feed, interval=self.interval, refresh_every=self.refresh_every, id="signage"
        )

    def action_next(self) -> None:
        self.query_one(SignageView).show_next()
