"""Events in the words a DSL reads, not the kiosk's type names."""

from __future__ import annotations

from typing import Any

_WORDS = {
    "holding.depositing": "Phone taken in ({kind})",
    "holding.held": "Phone locked away",
    "holding.releasing": "Release started",
    "holding.released": "Phone returned",
    "holding.safeguarding_hold": "Safeguarding hold placed",
    "holding.handed_to_police": "Phone handed to police",
    "holding.aborted": "Deposit abandoned",
    "holding.parent_informed": "Parent or carer informed ({how})",
    "holding.search_authorised": "Search of the phone authorised",
    "incident.recorded": "Incident recorded: {category}",
    "release.refused": "Collection refused",
    "release.policy_refused": "Release refused by the school's policy",
    "alarm.acknowledged": "Door alarms acknowledged",
    "alarm.left_open": "Locker left open ({locker})",
    "hardware.test_unlock": "Technician test of locker {locker}",
    "hardware.test_unlock_result": "Locker test result: {outcome}",
    "alarm.forced_open": "Locker forced open ({locker})",
    "policy.override": "Policy overridden",
}


def describe_event(type: str, payload: dict[str, Any]) -> str:
    """A sentence for the chronology; unknown types show as their name."""
    template = _WORDS.get(type)
    if template is None:
        return type
    fields = {k: str(v).replace("_", " ") for k, v in payload.items()}
    try:
        return template.format(**fields)
    except (KeyError, IndexError):
        return template.split(" (")[0].split(":")[0]
