"""Pure policy rules and cited school profiles for the Device Amnesty Kiosk.

Standard library only, and nothing else from this project: the kiosk, the TUI and the
central log all ask the same questions (may this phone go back to this person now?) and must
get the same answer with the same citations.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from policies.decision import Decision, FollowUp, Reason
    from policies.engine import decide, is_overdue, retention_expired, term_bounds
    from policies.profile import (
        PROFILE_DIR,
        Category,
        EscalationRules,
        ExamRules,
        ExemptionRules,
        Notice,
        OverdueRules,
        OverrideRules,
        PhoneRules,
        Problem,
        Profile,
        ProfileError,
        ReleaseRules,
        RetentionRules,
        Rule,
        SafeguardingRules,
        SearchRules,
        Term,
        TermRules,
        Zone,
        load_profile,
        profile_names,
    )
    from policies.requests import (
        CollectorFacts,
        ConfiscateRequest,
        ExamDepositRequest,
        HandoverRequest,
        HoldRequest,
        LiftHoldRequest,
        OverrideRequest,
        PupilFacts,
        ReleaseRequest,
        SearchRequest,
    )
    from policies.vocab import (
        COLLECTOR_KINDS,
        FOLLOW_UP_ACTIONS,
        HOLDING_KINDS,
        HOLDING_STATES,
        RECORD_KINDS,
        ROLES,
        SEED_FILES,
        ZONE_KINDS,
    )

#: Where each public name lives: loaded on first use (PEP 562), like ``wire``'s models.
_WHERE = {
    "COLLECTOR_KINDS": "policies.vocab",
    "Category": "policies.profile",
    "CollectorFacts": "policies.requests",
    "ConfiscateRequest": "policies.requests",
    "Decision": "policies.decision",
    "EscalationRules": "policies.profile",
    "ExamDepositRequest": "policies.requests",
    "ExamRules": "policies.profile",
    "ExemptionRules": "policies.profile",
    "FOLLOW_UP_ACTIONS": "policies.vocab",
    "FollowUp": "policies.decision",
    "HOLDING_KINDS": "policies.vocab",
    "HOLDING_STATES": "policies.vocab",
    "HandoverRequest": "policies.requests",
    "HoldRequest": "policies.requests",
    "LiftHoldRequest": "policies.requests",
    "Notice": "policies.profile",
    "OverdueRules": "policies.profile",
    "OverrideRequest": "policies.requests",
    "OverrideRules": "policies.profile",
    "PROFILE_DIR": "policies.profile",
    "PhoneRules": "policies.profile",
    "Problem": "policies.profile",
    "Profile": "policies.profile",
    "ProfileError": "policies.profile",
    "PupilFacts": "policies.requests",
    "RECORD_KINDS": "policies.vocab",
    "ROLES": "policies.vocab",
    "Reason": "policies.decision",
    "ReleaseRequest": "policies.requests",
    "ReleaseRules": "policies.profile",
    "RetentionRules": "policies.profile",
    "Rule": "policies.profile",
    "SEED_FILES": "policies.vocab",
    "SafeguardingRules": "policies.profile",
    "SearchRequest": "policies.requests",
    "SearchRules": "policies.profile",
    "Term": "policies.profile",
    "TermRules": "policies.profile",
    "ZONE_KINDS": "policies.vocab",
    "Zone": "policies.profile",
    "decide": "policies.engine",
    "is_overdue": "policies.engine",
    "load_profile": "policies.profile",
    "profile_names": "policies.profile",
    "retention_expired": "policies.engine",
    "term_bounds": "policies.engine",
}


def __getattr__(name: str) -> Any:
    """The package's names load on first use (PEP 562, issue 15): reading a kiosk config
    imports only :mod:`policies.toml_input`, not the engine and the profile loader, before
    the staff UI's first frame. Every name of ``__all__`` is still here, as before."""
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'policies' has no attribute {name!r}")
    value = getattr(import_module(where), name)
    globals()[name] = value  # next time without this function
    return value


__all__ = [
    "COLLECTOR_KINDS",
    "FOLLOW_UP_ACTIONS",
    "HOLDING_KINDS",
    "HOLDING_STATES",
    "PROFILE_DIR",
    "RECORD_KINDS",
    "ROLES",
    "SEED_FILES",
    "ZONE_KINDS",
    "Category",
    "CollectorFacts",
    "ConfiscateRequest",
    "Decision",
    "EscalationRules",
    "ExamDepositRequest",
    "ExamRules",
    "ExemptionRules",
    "FollowUp",
    "HandoverRequest",
    "HoldRequest",
    "LiftHoldRequest",
    "Notice",
    "OverdueRules",
    "OverrideRequest",
    "OverrideRules",
    "PhoneRules",
    "Problem",
    "Profile",
    "ProfileError",
    "PupilFacts",
    "Reason",
    "ReleaseRequest",
    "ReleaseRules",
    "RetentionRules",
    "Rule",
    "SafeguardingRules",
    "SearchRequest",
    "SearchRules",
    "Term",
    "TermRules",
    "Zone",
    "decide",
    "is_overdue",
    "load_profile",
    "profile_names",
    "retention_expired",
    "term_bounds",
]
