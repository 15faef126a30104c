"""Which events land in the DSL's tray, under which category and title.

Incidents and safeguarding events arrive untriaged: e-safety incidents, safeguarding holds,
police hand-overs, forced-open alarms, and refused collections by barred adults (seed 001,
appendix §28: suspected indecent images go to DSL, police and LADO; seed 003 §9: incidents
reviewed by SLT/governors). Tamper alerts are raised by :mod:`central.ingest` when a batch
breaks a station's chain; they have no event of their own, since the chain refused them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CATEGORIES: dict[str, str] = {
    "incident": "E-safety incident",
    "safeguarding_hold": "Safeguarding hold",
    "police_handover": "Police hand-over",
    "forced_open": "Locker forced open",
    "refused_collection": "Collection refused",
    "tamper": "Tamper alert",
}
"""Every tray category and the words the pages use for it."""

EVENT_CATEGORIES: dict[str, str] = {
    "incident.recorded": "incident",
    "holding.safeguarding_hold": "safeguarding_hold",
    "holding.handed_to_police": "police_handover",
    "alarm.forced_open": "forced_open",
    "release.refused": "refused_collection",
    "collection.refused": "refused_collection",
    "release.policy_refused": "refused_collection",
}
"""Event type (as the kiosk writes it) -> tray category."""

SAFEGUARDING = frozenset({"safeguarding_hold", "police_handover", "refused_collection", "tamper"})

STATUSES = ("untriaged", "open", "closed")
ACTIONS: dict[str, str] = {
    "parents_informed": "Parents or carers informed",
    "head_of_house": "Head of house informed",
    "police": "Police informed",
    "lado": "LADO informed",
    "slt": "Escalated to SLT",
}
"""Actions a DSL marks done on a case (seed 003 §7.2 sanctions, seed 001 appendix §28)."""

OUTCOMES: dict[str, str] = {
    "resolved_in_school": "Resolved in school",
    "referred_external": "Referred to police/LADO/social care",
    "no_further_action": "No further action",
    "false_alarm": "False alarm",
}


#: Refused collections: at the hatch (``release.refused``) and by the policy engine at the
#: release form (``release.policy_refused``, issue 9). Only a barred adult reaches the tray.
_REFUSALS = frozenset({"release.refused", "collection.refused", "release.policy_refused"})


@dataclass(frozen=True)
class TrayItem:
    category: str
    title: str


def tray_item(event_type: str, payload: dict[str, Any]) -> TrayItem | None:
    """The tray item an event raises, or ``None`` for events the tray does not show."""
    category = EVENT_CATEGORIES.get(event_type)
    if category is None:
        return None
    if event_type in _REFUSALS and not payload.get("barred"):
        # A refusal for want of ID is routine; only a barred adult is a safeguarding matter.
        return None
    if event_type in _REFUSALS and payload.get("dsl_alerted_by_seq") is not None:
        # The hatch record of a refusal the policy's own event already put in the tray.
        return None
    title = CATEGORIES[category]
    detail = payload.get("category")
    if category == "incident" and isinstance(detail, str) and detail:
        title = f"{title}: {detail.replace('_', ' ')}"[:200]
    return TrayItem(category, title)
