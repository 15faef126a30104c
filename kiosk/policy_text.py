"""Plain-text rendering of a profile for ``kiosk policy show``: every rule with its citation."""

from __future__ import annotations

import dataclasses
from datetime import time

import policies

_GROUPS = (
    "phones",
    "exam",
    "release",
    "escalation",
    "overdue",
    "retention",
    "search",
    "safeguarding",
    "override",
    "exemptions",
    "terms",
)


def _value(value: object) -> str:
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]" if value else "(none)"
    return str(value).lower() if isinstance(value, bool) else str(value)


def describe_profile(profile: policies.Profile) -> str:
    """Rules grouped as in the TOML file, each followed by its source."""
    out = [f"{profile.school_name}  (profile '{profile.id}', {profile.path})"]
    if profile.description:
        out.append(profile.description)
    for name in _GROUPS:
        group = getattr(profile, name)
        out.append(f"\n[{name}]")
        for field in dataclasses.fields(group):
            rule = getattr(group, field.name)
            if isinstance(rule, policies.Rule):
                out.append(f"  {field.name} = {_value(rule.value)}")
                out.append(f"      source: {rule.source}")
    out.append("\n[categories]")
    for c in profile.categories:
        extra = "  (forces safeguarding hold)" if c.forces_safeguarding_hold else ""
        out.append(f"  {c.code}: {c.label}{extra}")
        if c.follow_ups:
            out.append(f"      follow-ups: {', '.join(c.follow_ups)}")
        out.append(f"      source: {c.source}")
    out.append("\n[zones]")
    if not profile.zones:
        out.append("  (none)")
    for z in profile.zones:
        out.append(f"  {z.name} ({z.kind}): {z.rule}")
        out.append(f"      source: {z.source}")
    return "\n".join(out)
