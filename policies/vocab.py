"""Closed vocabularies shared by profiles, requests and decisions.

They live in one place so the TOML validator, the engine and the rest of the product agree on
spelling: a typo such as ``"head_of_hose"`` in a profile must fail at load time, not silently
never match at the kiosk.
"""

from __future__ import annotations

import re
from typing import Final

from wire.vocabulary import CollectorKind, HoldingKind, HoldingState, Role

# The words themselves are defined once, in :mod:`wire.vocabulary` (shared by db, policies and
# kiosk); these sets are what the profile validator checks spellings against.

#: Staff roles used across the product (badge holders). Parents and pupils carry no badge.
ROLES: Final = frozenset(r.value for r in Role)

#: Who may stand at the counter to collect a device.
COLLECTOR_KINDS: Final = frozenset(k.value for k in CollectorKind)

#: Kinds of holding (one device in the school's custody).
HOLDING_KINDS: Final = frozenset(k.value for k in HoldingKind)

#: Holding states; see DESIGN.md "Words".
HOLDING_STATES: Final = frozenset(s.value for s in HoldingState)

#: Zone kinds shown on signage. ``mobile_free`` = no phone use at all (so also no camera);
#: ``camera_free`` = no photos, video or audio recording.
ZONE_KINDS: Final = frozenset({"camera_free", "mobile_free"})

#: Record kinds that have a retention period.
RECORD_KINDS: Final = ("holding", "incident", "event", "photo")

#: Follow-up actions and the plain words office staff see for each.
FOLLOW_UP_TEXT: Final[dict[str, str]] = {
    "inform_parents": "Tell the pupil's parents or carers.",
    "refer_tutor": "Refer to the pupil's class teacher or tutor.",
    "refer_head_of_house": "Refer to the Head of House / Head of Faculty.",
    "refer_slt": "Refer to the senior leadership team.",
    "inform_dsl": "Tell the designated safeguarding lead (DSL) now.",
    "inform_police": "The DSL informs the police.",
    "inform_lado": "The DSL informs the Local Authority Designated Officer (LADO).",
    "report_awarding_body": "The exams officer reports this to the awarding body.",
    "keep_as_evidence": "Keep the device as evidence: do not look at it, copy it or switch it on.",
}
FOLLOW_UP_ACTIONS: Final = frozenset(FOLLOW_UP_TEXT)

#: A seed citation: ``"<seed file> §<number and/or heading>"``.
SEED_CITATION_RE: Final = re.compile(r"^(?P<file>\d{3}_[0-9a-f]{16}\.txt) §\s*(?P<section>\S.*)$")

#: The five seed policies the shipped profiles are drawn from. Kept as names only: the policy
#: texts live outside the package (``../shared/seeds``) and are not shipped to the Pi.
SEED_FILES: Final = (
    "000_65bd33aa88e9eb3e.txt",
    "001_7b7b89267820d3f9.txt",
    "002_2c79a8926c881883.txt",
    "003_6ace46d4db1ee7ea.txt",
    "004_1339a2f729bda141.txt",
)


def is_valid_source(source: str) -> bool:
    """True if ``source`` cites a seed section or honestly says it is a product default.

    Staff are shown the source next to every decision, so an uncited rule is a bug.
    """
    if source.startswith("default: ") and len(source) > len("default: "):
        return True
    match = SEED_CITATION_RE.match(source)
    return match is not None and match.group("file") in SEED_FILES
