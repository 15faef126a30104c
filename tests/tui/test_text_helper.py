"""tui.widgets.text.safe: what reaches the terminal from an untrusted string."""

from __future__ import annotations

from rich.text import Text

from tui.widgets.text import option, plain, safe


def test_controls_are_shown_escaped_and_markup_left_alone() -> None:
    assert safe("Ben\x1b[2J") == "Ben\\x1b[2J"
    assert safe("\x9b31mX") == "\\x9b31mX"
    assert safe("a\u202eb") == "a\\u202eb"  # right-to-left override reorders what staff read
    assert safe("a\x00b\x07\r") == "a\\x00b\\x07\\x0d"
    assert safe("[@click=app.quit]x[/]") == "[@click=app.quit]x[/]"
    assert safe("two\nlines") == "two\nlines"  # our own layout
    assert safe("Zoë O'Brien") == "Zoë O'Brien"


def test_plain_and_option_never_parse_markup() -> None:
    assert plain("[b]bold").plain == "[b]bold"
    assert plain(Text("x\x1by", style="bold")).plain == "x\\x1by"
    assert str(option("[@click=app.quit]x[/]\x1b").prompt) == "[@click=app.quit]x[/]\\x1b"
