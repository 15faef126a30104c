"""What the policy engine returns: allow or refuse, with every reason and its citation.

Why reasons on allows too: office staff are handing a phone to an adult at the counter and
must be able to say *why* that is allowed (which rule, which page of the school's policy),
not just see a green light. Why every failing reason on a refusal: fixing them one at a time
(first the ID, then "come back after 15:15") wastes a parent's trip.
"""

from __future__ import annotations

from dataclasses import dataclass

from policies.vocab import FOLLOW_UP_ACTIONS, FOLLOW_UP_TEXT


@dataclass(frozen=True)
class Reason:
    """One rule that applied. ``text`` is for office staff; ``clause`` is the profile key
    path (e.g. ``release.earliest_time``); ``source`` is the seed citation."""

    code: str
    text: str
    clause: str
    source: str


@dataclass(frozen=True)
class FollowUp:
    """Something a person must do after the kiosk action (tell parents, inform the DSL...)."""

    action: str
    text: str
    source: str

    def __post_init__(self) -> None:
        if self.action not in FOLLOW_UP_ACTIONS:
            raise ValueError(
                f"unknown follow-up action {self.action!r}; use one of "
                f"{', '.join(sorted(FOLLOW_UP_ACTIONS))}"
            )

    @classmethod
    def of(cls, action: str, source: str) -> FollowUp:
        """A follow-up with the standard plain-words text for ``action``."""
        return cls(action, FOLLOW_UP_TEXT.get(action, action), source)


@dataclass(frozen=True)
class Decision:
    """The engine's answer.

    ``holding_kind`` is set by confiscation decisions: ``"safekeeping"`` when an exemption
    means the phone is looked after rather than confiscated.
    """

    allowed: bool
    reasons: tuple[Reason, ...]
    follow_ups: tuple[FollowUp, ...] = ()
    forces_hold: bool = False
    forbids_viewing: bool = False
    requires_parent_collection: bool = False
    holding_kind: str | None = None

    @property
    def refused(self) -> bool:
        """True when the action must not go ahead."""
        return not self.allowed

    @property
    def reason_codes(self) -> tuple[str, ...]:
        """The codes of all reasons, in order (handy for UIs and tests)."""
        return tuple(r.code for r in self.reasons)

    def summary(self) -> str:
        """One paragraph for the staff screen: verdict, each reason with its source, actions."""
        head = "Allowed" if self.allowed else "Refused"
        lines = [f"{head}:"]
        lines += [f"- {r.text} [{r.clause}; {r.source}]" for r in self.reasons]
        if self.forces_hold:
            lines.append("- The phone goes on a safeguarding hold.")
        if self.forbids_viewing:
            lines.append("- Nobody may look at, copy or switch on this phone.")
        if self.requires_parent_collection:
            lines.append("- A parent or carer must collect this phone.")
        if self.follow_ups:
            lines.append("Then:")
            lines += [f"- {f.text}" for f in self.follow_ups]
        return "\n".join(lines)
