"""Who may do what at the kiosk: the role -> permission matrix.

Roles come from the staff import. A person can hold several roles; their permissions are the
union. Technicians get hardware access and nothing that shows pupil data (DESIGN.md, Data
protection); individual audited log-ins only (001 §6, 002 Roles and responsibilities).
"""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    OFFICE = "office"
    TEACHER = "teacher"
    DSL = "dsl"
    SENIOR = "senior"
    EXAMS = "exams"
    TECHNICIAN = "technician"


class Permission(enum.StrEnum):
    VIEW_HOLDINGS = "view_holdings"  # any pupil data
    CONFISCATE = "confiscate"
    SAFEKEEPING = "safekeeping"
    RELEASE = "release"
    PARENT_INFORMED = "parent_informed"
    SAFEGUARDING_HOLD = "safeguarding_hold"  # place and lift
    POLICE_HANDOVER = "police_handover"
    AUTHORISE_SEARCH = "authorise_search"
    OVERRIDE = "override"
    EXAM_SESSION = "exam_session"  # open, end, bulk-release a session
    EXAM_DEPOSIT = "exam_deposit"
    VIEW_INCIDENTS = "view_incidents"
    HARDWARE = "hardware"  # tests and calibration, no pupil data


P = Permission
MATRIX: dict[Role, frozenset[Permission]] = {
    Role.OFFICE: frozenset(
        {P.VIEW_HOLDINGS, P.CONFISCATE, P.SAFEKEEPING, P.RELEASE, P.PARENT_INFORMED}
    ),
    Role.TEACHER: frozenset({P.VIEW_HOLDINGS, P.CONFISCATE, P.SAFEKEEPING}),
    Role.DSL: frozenset(
        {
            P.VIEW_HOLDINGS,
            P.CONFISCATE,
            P.SAFEKEEPING,
            P.RELEASE,
            P.PARENT_INFORMED,
            P.SAFEGUARDING_HOLD,
            P.POLICE_HANDOVER,
            P.VIEW_INCIDENTS,
        }
    ),
    Role.SENIOR: frozenset(
        {
            P.VIEW_HOLDINGS,
            P.CONFISCATE,
            P.SAFEKEEPING,
            P.RELEASE,
            P.PARENT_INFORMED,
            P.SAFEGUARDING_HOLD,
            P.POLICE_HANDOVER,
            P.AUTHORISE_SEARCH,
            P.OVERRIDE,
            P.VIEW_INCIDENTS,
            P.EXAM_SESSION,
        }
    ),
    Role.EXAMS: frozenset({P.VIEW_HOLDINGS, P.EXAM_SESSION, P.EXAM_DEPOSIT}),
    Role.TECHNICIAN: frozenset({P.HARDWARE}),
}


def permissions_for(roles: list[str] | tuple[str, ...] | frozenset[str]) -> frozenset[Permission]:
    """Union of the permissions of every known role; unknown role names grant nothing."""
    granted: set[Permission] = set()
    for name in roles:
        try:
            granted |= MATRIX[Role(name)]
        except ValueError:
            continue
    return frozenset(granted)


def matrix_markdown() -> str:
    """The matrix as a Markdown table, for the docs and ``kiosk policy roles``."""
    roles = list(Role)
    lines = ["| permission | " + " | ".join(roles) + " |", "|---|" + "---|" * len(roles)]
    for perm in Permission:
        cells = ["yes" if perm in MATRIX[r] else "" for r in roles]
        lines.append(f"| {perm} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
