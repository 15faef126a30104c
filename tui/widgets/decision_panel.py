"""A policy decision in plain words: allowed or refused, every reason, its clause and source.

Staff must be able to tell the adult at the counter *why* (DESIGN.md, "decision"), so the
clause (profile key) and the citation are shown under each reason, not hidden in a log.
"""

from __future__ import annotations

from typing import Protocol

from rich.text import Text

from kiosk.views import Decision
from tui.widgets.text import Plain


class ReasonLike(Protocol):
    text: str
    clause: str
    source: str


def render_decision(
    decision: Decision, heading: str | None = None, *, sources: bool = True
) -> Text:
    """Rich text for a ``policies.Decision`` (duck-typed: the UI may not import policies).

    ``sources=False`` leaves out the citation lines (the slip, where space is short); the
    clause key stays so staff can still look the rule up.
    """
    out = Text()
    if decision.allowed:
        out.append(heading or "ALLOWED", style="bold green")
    else:
        out.append(heading or "REFUSED", style="bold red")
    out.append("\n")
    for reason in decision.reasons:
        mark = "+ " if decision.allowed else "x "
        out.append(mark + reason.text)
        if sources:
            out.append(f"\n    [{reason.clause}] {reason.source}\n", style="dim")
        else:
            out.append(f" [{reason.clause}]\n", style="dim")
    if getattr(decision, "forbids_viewing", False):
        out.append("! Nobody may look at, copy or switch on this phone.\n", style="bold yellow")
    if getattr(decision, "forces_hold", False):
        out.append("! The phone goes on a safeguarding hold.\n", style="bold yellow")
    follow_ups = getattr(decision, "follow_ups", ())
    if follow_ups:
        out.append("Then:\n", style="bold")
        for f in follow_ups:
            out.append(f"- {f.text}\n")
    return out


class DecisionPanel(Plain):
    """Shows one decision; ``show(None)`` clears it."""

    def show(
        self, decision: Decision | None, heading: str | None = None, *, sources: bool = True
    ) -> None:
        if decision is None:
            self.update("")
            self.remove_class("allowed", "refused")
            return
        self.set_class(bool(decision.allowed), "allowed")
        self.set_class(not decision.allowed, "refused")
        self.update(render_decision(decision, heading, sources=sources))
