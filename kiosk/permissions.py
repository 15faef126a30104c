"""Who may do what at the kiosk: ONE table, permission -> roles, with where each rule comes from.

A person can hold several roles; what they may do is the union. Every use-case checks its
permission through :func:`kiosk.auth.authorise`, which re-reads the staff record each time.
``USE_CASES`` names the permission each use-case needs, so a table-driven test can try every
use-case with every role (``tests/kiosk/permission_cases.py``).

Seeds (``/work/shared/seeds``): individual audited log-ins, no one logs on as another user,
access appropriate to role: 000 "Network management", 001 "Access to school systems",
002 "Network management". Searching a device's contents needs the head's authority: 000
"Personal mobile phones and mobile devices", 001 introduction ("if the head teacher
believes...") and "Using mobile phones", 002 "Personal mobile phones and mobile devices".
Technicians see no pupil data (DESIGN.md, Data protection).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Role(enum.StrEnum):
    OFFICE = "office"
    TEACHER = "teacher"
    DSL = "dsl"
    SENIOR = "senior"
    EXAMS = "exams"
    TECHNICIAN = "technician"
    #: Office administrator: sets up staff and badges (issue 14, "Staff and badges"),
    #: imports pupils and contacts; sees no pupil holdings by this role alone.
    OFFICE_ADMIN = "office_admin"


#: Roles only a senior leader may grant, each grant its own event (issue 9).
PRIVILEGED_ROLES = frozenset({Role.SENIOR, Role.DSL, Role.OFFICE_ADMIN})


class Permission(enum.StrEnum):
    VIEW_HOLDINGS = "view_holdings"  # any pupil data: search, lists, registers
    CONFISCATE = "confiscate"
    SAFEKEEPING = "safekeeping"
    CONFIRM_DEPOSIT = "confirm_deposit"
    ABORT_DEPOSIT = "abort_deposit"
    ATTACH_PHOTO = "attach_photo"
    RELEASE = "release"  # begin, complete, cancel a release of a confiscation/safekeeping
    EXAM_HAND_BACK = "exam_hand_back"  # release an exam pouch
    PARENT_INFORMED = "parent_informed"
    SAFEGUARDING_HOLD = "safeguarding_hold"  # place and lift
    POLICE_HANDOVER = "police_handover"
    AUTHORISE_SEARCH = "authorise_search"
    OVERRIDE = "override"
    EXAM_SESSION = "exam_session"  # open, edit, end, bulk-release a session
    EXAM_DEPOSIT = "exam_deposit"
    VIEW_INCIDENTS = "view_incidents"
    ACKNOWLEDGE_ALARM = "acknowledge_alarm"
    HARDWARE = "hardware"  # diagnostics and calibration, no pupil data
    HARDWARE_TEST = "hardware_test"  # technician test pulse of an empty locker
    LOCKER_SERVICE = "locker_service"  # mark a locker fault / out of service / back
    QUIT_CONSOLE = "quit_console"
    IMPORT_DATA = "import_data"  # pupils, contacts, exam entries
    IMPORT_STAFF = "import_staff"
    PURGE = "purge"
    STAFF_ADMIN = "staff_admin"  # badges, PIN codes, unlocks, lost badges, ordinary roles
    GRANT_PRIVILEGED_ROLE = "grant_privileged_role"  # senior, dsl, office_admin
    AUDIT_VERIFY = "audit_verify"
    AUDIT_BASELINE = "audit_baseline"  # vouch for the custody tables as they are now
    SUBJECT_ACCESS = "subject_access"  # export everything held about one pupil
    SUBJECT_ERASURE = "subject_erasure"  # erase one pupil's data (safeguarding kept)
    RESTORE_BACKUP = "restore_backup"  # replace the ledger with a backup

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


@dataclass(frozen=True)
class Rule:
    roles: frozenset[Role]
    source: str


R, P = Role, Permission
_STAFF_AT_HATCH = frozenset({R.OFFICE, R.TEACHER, R.DSL, R.SENIOR})

#: THE permission table. Change a rule here and nowhere else.
PERMISSIONS: dict[Permission, Rule] = {
    P.VIEW_HOLDINGS: Rule(
        frozenset({R.OFFICE, R.TEACHER, R.DSL, R.SENIOR, R.EXAMS}),
        "001 'Access to school systems': access appropriate to role; DESIGN.md Data protection: "
        "technicians see no pupil data",
    ),
    P.CONFISCATE: Rule(
        _STAFF_AT_HATCH,
        "000/002 'Personal mobile phones': breaches confiscated and held in the office",
    ),
    P.SAFEKEEPING: Rule(_STAFF_AT_HATCH, "DESIGN.md Words: safekeeping (voluntary hand-in)"),
    P.CONFIRM_DEPOSIT: Rule(
        _STAFF_AT_HATCH | {R.EXAMS}, "whoever may start a deposit may confirm the door closed"
    ),
    P.ABORT_DEPOSIT: Rule(
        _STAFF_AT_HATCH | {R.EXAMS}, "whoever may start a deposit may abandon it"
    ),
    P.ATTACH_PHOTO: Rule(_STAFF_AT_HATCH, "whoever confiscates may photograph the tray"),
    P.RELEASE: Rule(
        frozenset({R.OFFICE, R.DSL, R.SENIOR}),
        "000 'Personal mobile phones': released to parents/carers per school policy (office)",
    ),
    P.EXAM_HAND_BACK: Rule(
        frozenset({R.EXAMS, R.SENIOR}), "000: phones must not go into exams; exams officer"
    ),
    P.PARENT_INFORMED: Rule(frozenset({R.OFFICE, R.DSL, R.SENIOR}), "003 §7.2: inform parents"),
    P.SAFEGUARDING_HOLD: Rule(
        frozenset({R.DSL, R.SENIOR}), "001 appendix §28: inform DSL, keep as evidence"
    ),
    P.POLICE_HANDOVER: Rule(
        frozenset({R.DSL, R.SENIOR}), "001 appendix §28: DSL informs police and LADO"
    ),
    P.AUTHORISE_SEARCH: Rule(
        frozenset({R.SENIOR}),
        "000/002 'Personal mobile phones': search on reasonable suspicion; 001 'Using mobile "
        "phones': the Headteacher has the right to examine content",
    ),
    P.OVERRIDE: Rule(frozenset({R.SENIOR}), "DESIGN.md Who uses it: senior leaders override"),
    P.EXAM_SESSION: Rule(frozenset({R.EXAMS, R.SENIOR}), "DESIGN.md Who uses it: exams officer"),
    P.EXAM_DEPOSIT: Rule(frozenset({R.EXAMS}), "DESIGN.md Who uses it: exams officer"),
    P.VIEW_INCIDENTS: Rule(
        frozenset({R.DSL, R.SENIOR}), "001, 003 §1, §9: incidents reviewed by SLT"
    ),
    P.ACKNOWLEDGE_ALARM: Rule(
        frozenset(Role), "issue 9: any signed-in member of staff, recorded by name"
    ),
    P.HARDWARE: Rule(frozenset({R.TECHNICIAN}), "DESIGN.md Who uses it: technicians"),
    P.HARDWARE_TEST: Rule(frozenset({R.TECHNICIAN}), "DESIGN.md Who uses it: technicians"),
    P.LOCKER_SERVICE: Rule(
        frozenset({R.TECHNICIAN, R.SENIOR}), "DESIGN.md Who uses it: technicians"
    ),
    P.QUIT_CONSOLE: Rule(
        frozenset({R.TECHNICIAN, R.SENIOR}), "issue 9: the console is not an exit"
    ),
    P.IMPORT_DATA: Rule(
        frozenset({R.SENIOR, R.OFFICE_ADMIN}), "issue 14: office administrator sets up data"
    ),
    P.IMPORT_STAFF: Rule(
        frozenset({R.SENIOR}), "issue 9: roles granted by import need a senior's sign-in"
    ),
    P.PURGE: Rule(frozenset({R.SENIOR}), "issue 9: retention changes need a named senior"),
    P.STAFF_ADMIN: Rule(
        frozenset({R.SENIOR, R.OFFICE_ADMIN}),
        "issue 14 'Staff and badges'; 000/002 'Network management': individual log-ins",
    ),
    P.GRANT_PRIVILEGED_ROLE: Rule(
        frozenset({R.SENIOR}), "issue 9: granting senior or DSL needs a senior's sign-in"
    ),
    P.AUDIT_VERIFY: Rule(
        frozenset({R.SENIOR, R.DSL, R.TECHNICIAN}), "002 'Network management': audited log-ins"
    ),
    P.AUDIT_BASELINE: Rule(
        frozenset({R.SENIOR}),
        "issue 9: a baseline explains whatever the tables hold, so a named senior vouches",
    ),
    P.SUBJECT_ACCESS: Rule(
        frozenset({R.SENIOR, R.DSL}),
        "UK GDPR Art. 15; the export includes safeguarding records (001 appendix §28: DSL)",
    ),
    P.SUBJECT_ERASURE: Rule(
        frozenset({R.SENIOR}),
        "UK GDPR Art. 17; issue 9: retention changes need a named senior",
    ),
    P.RESTORE_BACKUP: Rule(
        frozenset({R.SENIOR}), "issue 9: replacing the custody record needs a named senior"
    ),
}

#: The permission each use-case checks (custody, station, CLI and staff admin names).
USE_CASES: dict[str, Permission] = {
    "find_pupils": P.VIEW_HOLDINGS,
    "pupil_by_card": P.VIEW_HOLDINGS,
    "holdings": P.VIEW_HOLDINGS,
    "holding": P.VIEW_HOLDINGS,
    "overdue": P.VIEW_HOLDINGS,
    "exam_register": P.VIEW_HOLDINGS,
    "confiscate": P.CONFISCATE,
    "safekeeping": P.SAFEKEEPING,
    "confirm_deposit": P.CONFIRM_DEPOSIT,
    "abort_deposit": P.ABORT_DEPOSIT,
    "attach_photo": P.ATTACH_PHOTO,
    "check_release": P.RELEASE,
    "begin_release": P.RELEASE,
    "complete_release": P.RELEASE,
    "cancel_release": P.RELEASE,
    "record_parent_informed": P.PARENT_INFORMED,
    "place_hold": P.SAFEGUARDING_HOLD,
    "lift_hold": P.SAFEGUARDING_HOLD,
    "police_handover": P.POLICE_HANDOVER,
    "authorise_search": P.AUTHORISE_SEARCH,
    "override": P.OVERRIDE,
    "open_exam_session": P.EXAM_SESSION,
    "end_exam_session": P.EXAM_SESSION,
    "begin_exam_session_release": P.EXAM_SESSION,
    "complete_exam_session_release": P.EXAM_SESSION,
    "create_exam_session": P.EXAM_SESSION,
    "edit_exam_session": P.EXAM_SESSION,
    "cancel_exam_session": P.EXAM_SESSION,
    "record_refused_collection": P.RELEASE,
    "check_collector": P.RELEASE,
    "holdings_to_check": P.VIEW_HOLDINGS,
    "confirm_still_there": P.VIEW_HOLDINGS,
    "record_missing": P.VIEW_HOLDINGS,
    "receipt_slip": P.VIEW_HOLDINGS,
    "exam_deposit": P.EXAM_DEPOSIT,
    "exam_deposit_by_card": P.EXAM_DEPOSIT,
    "exam_hand_back": P.EXAM_HAND_BACK,
    "acknowledge_alarm": P.ACKNOWLEDGE_ALARM,
    "set_locker_state": P.LOCKER_SERVICE,
    "begin_test_unlock": P.HARDWARE_TEST,
    "quit_console": P.QUIT_CONSOLE,
    "import_pupils": P.IMPORT_DATA,
    "import_contacts": P.IMPORT_DATA,
    "import_staff": P.IMPORT_STAFF,
    "purge": P.PURGE,
    "audit_verify": P.AUDIT_VERIFY,
    "staff_list": P.STAFF_ADMIN,
    "audit_baseline": P.AUDIT_BASELINE,
    "subject_export": P.SUBJECT_ACCESS,
    "subject_erase": P.SUBJECT_ERASURE,
    "restore_backup": P.RESTORE_BACKUP,
    "import_exams": P.EXAM_SESSION,
    "enrol_badge": P.STAFF_ADMIN,
    "issue_enrolment_code": P.STAFF_ADMIN,
    "approve_pin_setup": P.STAFF_ADMIN,
    "require_pin_change": P.STAFF_ADMIN,
    "unlock_badge": P.STAFF_ADMIN,
    "report_lost_badge": P.STAFF_ADMIN,
    "grant_role": P.STAFF_ADMIN,
    "revoke_role": P.STAFF_ADMIN,
}

#: Derived view, role -> permissions (for the docs and older callers).
MATRIX: dict[Role, frozenset[Permission]] = {
    role: frozenset(p for p, rule in PERMISSIONS.items() if role in rule.roles) for role in Role
}


def roles_allowed(permission: Permission) -> frozenset[Role]:
    return PERMISSIONS[permission].roles


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
    """The table as Markdown, for the docs and ``kiosk policy roles``."""
    roles = list(Role)
    lines = [
        "| permission | " + " | ".join(roles) + " | from |",
        "|---|" + "---|" * (len(roles) + 1),
    ]
    for perm, rule in PERMISSIONS.items():
        cells = ["yes" if r in rule.roles else "" for r in roles]
        lines.append(f"| {perm} | " + " | ".join(cells) + f" | {rule.source} |")
    return "\n".join(lines)
