"""School profiles: load, strictly validate and freeze a school's rules from TOML.

Why TOML with a citation on every rule: the kiosk refuses to hand a phone back to a parent,
and office staff must be able to say *why* — which rule, from which page of which school
policy. So every rule is written ``key = { value = ..., source = "<seed> §<section>" }`` and
a rule with no honest source (a seed section, or ``"default: <why>"``) does not load.

Why strict: a typo such as ``earlist_time`` would otherwise be silently ignored and the school
would run on the default. Every problem names the file, the line and the dotted key, and
says what to do about it.
"""

from __future__ import annotations

import difflib
import functools
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, time
from pathlib import Path
from typing import Any, Generic, TypeVar

from policies._lines import KeyPath, dotted, find_line
from policies.toml_input import TomlInputError, read_toml
from policies.vocab import (
    COLLECTOR_KINDS,
    FOLLOW_UP_ACTIONS,
    ROLES,
    ZONE_KINDS,
    is_valid_source,
)

PROFILE_DIR: Path = Path(__file__).resolve().parent / "profiles"

T = TypeVar("T")
# Covariant: a frozen Rule[bool] is a Rule[object], so helpers that only read ``source`` take
# any rule (policies/engine.py ``_reason``).
T_co = TypeVar("T_co", covariant=True)


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a profile file, located for the person who has to fix it."""

    file: str
    line: int
    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.file} line {self.line}: {self.message}"


class ProfileError(ValueError):
    """A profile could not be loaded. ``str()`` lists every problem as ``file line N: ...``.

    The first problem is also exposed as ``file``/``line``/``key`` for callers (and tests)
    that want to point an editor at it.
    """

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = tuple(problems)
        first = self.problems[0]
        self.file, self.line, self.key = first.file, first.line, first.key
        super().__init__("\n".join(str(p) for p in self.problems))


def _display(path: Path) -> str:
    """The path as the reader typed it, relative to the working directory when possible."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


# --------------------------------------------------------------------------------------------
# Frozen profile model
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule(Generic[T_co]):
    """One rule value and the citation it came from (shown to staff with every decision)."""

    value: T_co
    source: str


@dataclass(frozen=True)
class Category:
    """An incident category from the school's sanctions table."""

    code: str
    label: str
    description: str
    source: str
    forces_safeguarding_hold: bool = False
    follow_ups: tuple[str, ...] = ()
    forbids_viewing: bool = False


@dataclass(frozen=True)
class Zone:
    """A signed area of the site where phones (``mobile_free``) or cameras are not allowed."""

    code: str
    name: str
    kind: str
    rule: str
    source: str


@dataclass(frozen=True)
class Notice:
    """Text for the public signage screen."""

    code: str
    title: str
    text: str
    source: str


@dataclass(frozen=True)
class Term:
    """One school term; offences are counted within a term."""

    name: str
    start: date
    end: date


@dataclass(frozen=True)
class PhoneRules:
    """What pupils may do with phones on site."""

    pupils_may_bring: Rule[bool]
    switched_off_not_silent: Rule[bool]
    out_of_sight: Rule[bool]
    allowed_at_break: Rule[bool]
    social_times: Rule[tuple[tuple[time, time], ...]]


@dataclass(frozen=True)
class ExamRules:
    """Exam deposits: who collects and when."""

    lead_in_minutes: Rule[int]
    collectors: Rule[tuple[str, ...]]
    release_after_session_only: Rule[bool]


@dataclass(frozen=True)
class ReleaseRules:
    """Who may collect a confiscated or safekeeping phone, and from when."""

    confiscation_collectors: Rule[tuple[str, ...]]
    require_contact_list: Rule[bool]
    require_may_collect: Rule[bool]
    require_id_seen: Rule[bool]
    accepted_id_types: Rule[tuple[str, ...]]
    pupil_may_collect_up_to_offence: Rule[int]
    earliest_time: Rule[time]
    next_day: Rule[bool]
    safekeeping_collectors: Rule[tuple[str, ...]]
    safekeeping_any_time: Rule[bool]


@dataclass(frozen=True)
class EscalationRules:
    """The sanction ladder: offence *n* this term gets step *n* (the last step repeats)."""

    applies_to: Rule[tuple[str, ...]]
    ladder: Rule[tuple[tuple[str, ...], ...]]
    parent_collection_from_offence: Rule[int]


@dataclass(frozen=True)
class OverdueRules:
    """Hours after which a holding is flagged to staff as overdue."""

    confiscation_hours: Rule[int]
    exam_deposit_hours: Rule[int]
    safekeeping_hours: Rule[int]


@dataclass(frozen=True)
class RetentionRules:
    """How long each kind of personal data is kept (DESIGN.md, Data protection).

    Routine records count days from when they closed. Safeguarding records (a safeguarding
    hold, a police hand-over, a category that forces a hold such as suspected indecent images,
    and their incidents) are kept until the pupil's ``safeguarding_until_age`` birthday, or for
    ``safeguarding_days_without_birth_date`` after closing when no birth date is known.
    """

    holding_days: Rule[int]
    incident_days: Rule[int]
    event_days: Rule[int]
    photo_days: Rule[int]
    safeguarding_until_age: Rule[int]
    safeguarding_days_without_birth_date: Rule[int]
    pupil_left_days: Rule[int]
    staff_left_days: Rule[int]
    exam_session_days: Rule[int]


@dataclass(frozen=True)
class SearchRules:
    """Who may authorise a search of a device's contents (the kiosk never searches)."""

    authorising_roles: Rule[tuple[str, ...]]
    requires_reason: Rule[bool]


@dataclass(frozen=True)
class SafeguardingRules:
    """Who may place and lift safeguarding holds and record a police hand-over."""

    hold_roles: Rule[tuple[str, ...]]
    lift_roles: Rule[tuple[str, ...]]
    handover_roles: Rule[tuple[str, ...]]
    handover_requires_reference: Rule[bool]


@dataclass(frozen=True)
class OverrideRules:
    """Who may override a refusal, and how much they must write down."""

    roles: Rule[tuple[str, ...]]
    min_reason_chars: Rule[int]


@dataclass(frozen=True)
class ExemptionRules:
    """Reasonable adjustments (e.g. medical, young carers)."""

    recognised: Rule[tuple[str, ...]]
    safekeeping_instead: Rule[tuple[str, ...]]
    no_escalation: Rule[tuple[str, ...]]
    pupil_collects: Rule[tuple[str, ...]]


@dataclass(frozen=True)
class TermRules:
    """Term dates for counting offences; empty means the default UK terms."""

    dates: Rule[tuple[Term, ...]]


@dataclass(frozen=True)
class Profile:
    """One school's rules, validated and frozen."""

    id: str
    school_name: str
    path: Path
    description: str
    phones_allowed_at_break: bool
    categories: tuple[Category, ...]
    zones: tuple[Zone, ...]
    notices: tuple[Notice, ...]
    exam_notice: Notice
    exam_lead_in_minutes: int
    phones: PhoneRules
    exam: ExamRules
    release: ReleaseRules
    escalation: EscalationRules
    overdue: OverdueRules
    retention: RetentionRules
    search: SearchRules
    safeguarding: SafeguardingRules
    override: OverrideRules
    exemptions: ExemptionRules
    terms: TermRules
    extends: str | None = None

    def category(self, code: str) -> Category:
        """The category with this code; KeyError naming the school and the valid codes."""
        for category in self.categories:
            if category.code == code:
                return category
        known = ", ".join(c.code for c in self.categories)
        raise KeyError(
            f"unknown incident category {code!r} for profile {self.id!r}; known: {known}"
        )

    def has_category(self, code: str) -> bool:
        """True if the school's sanctions table has this category."""
        return any(c.code == code for c in self.categories)


# --------------------------------------------------------------------------------------------
# Schema: value converters
# --------------------------------------------------------------------------------------------


class _Bad(Exception):
    """A value is wrong; the text says what was expected and what to write instead."""


def _show(value: object) -> str:
    kind = {bool: "boolean", int: "integer", float: "float", str: "string", list: "array"}.get(
        type(value), "table" if isinstance(value, dict) else type(value).__name__
    )
    text = repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{text} ({kind})"


def _bool(value: object) -> bool:
    if type(value) is not bool:
        raise _Bad(f"must be true or false, got {_show(value)}")
    return value


#: No count, day, hour or minute a profile sets is larger: a century of days. Without a bound
#: a retention of 10**9 days would overflow ``datetime`` at purge time, far from the file.
_INT_MAX = 100 * 366


def _int(minimum: int, maximum: int = _INT_MAX) -> Callable[[object], int]:
    """A whole number in [minimum, maximum]."""

    def convert(value: object) -> int:
        if type(value) is not int:
            raise _Bad(f"must be a whole number, got {_show(value)}")
        if value < minimum:
            raise _Bad(f"must be at least {minimum}, got {value}")
        if value > maximum:
            raise _Bad(f"must be at most {maximum}, got {_show(value)}")
        return value

    return convert


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise _Bad(f"must be a string, got {_show(value)}")
    if not value.strip():
        raise _Bad("must not be empty")
    return value


def _source(value: object) -> str:
    text = _text(value)
    if not is_valid_source(text):
        raise _Bad(
            f"{text!r} is not a citation — write '<seed file> §<section heading>' "
            "(e.g. '003_6ace46d4db1ee7ea.txt §7.2 Sanctions') or 'default: <why>'"
        )
    return text


def _choice(choices: frozenset[str]) -> Callable[[object], str]:
    def convert(value: object) -> str:
        text = _text(value)
        if text not in choices:
            raise _Bad(f"{text!r} is not one of {_listing(choices, text)}")
        return text

    return convert


def _listing(choices: frozenset[str] | tuple[str, ...], near: str) -> str:
    hint = difflib.get_close_matches(near, list(choices), n=1)
    options = ", ".join(sorted(choices))
    return f"{{{options}}}" + (f" — did you mean {hint[0]!r}?" if hint else "")


def _strings(choices: frozenset[str] | None = None) -> Callable[[object], tuple[str, ...]]:
    def convert(value: object) -> tuple[str, ...]:
        if not isinstance(value, list):
            raise _Bad(f"must be an array of strings, got {_show(value)}")
        out = []
        for item in value:
            if not isinstance(item, str) or not item.strip():
                raise _Bad(f"must be an array of non-empty strings; {_show(item)} is not")
            if choices is not None and item not in choices:
                raise _Bad(f"{item!r} is not one of {_listing(choices, item)}")
            out.append(item)
        if len(set(out)) != len(out):
            raise _Bad("lists a value twice")
        return tuple(out)

    return convert


_TIME_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def _parse_hhmm(text: str) -> time:
    match = _TIME_RE.match(text.strip())
    if not match:
        raise _Bad(f'{text!r} is not a 24-hour time — write it as "HH:MM", e.g. "15:15"')
    return time(int(match.group(1)), int(match.group(2)))


def _time(value: object) -> time:
    if isinstance(value, time):
        return value
    if not isinstance(value, str):
        raise _Bad(f'must be a time string "HH:MM" (e.g. "15:15"), got {_show(value)}')
    return _parse_hhmm(value)


def _time_ranges(value: object) -> tuple[tuple[time, time], ...]:
    if not isinstance(value, list):
        raise _Bad(f'must be an array of "HH:MM-HH:MM" strings, got {_show(value)}')
    out = []
    for item in value:
        if not isinstance(item, str) or item.count("-") != 1:
            raise _Bad(f'{_show(item)} is not a time range — write "10:40-11:00"')
        start, end = (_parse_hhmm(part) for part in item.split("-"))
        if end <= start:
            raise _Bad(f"{item!r} ends before it starts")
        out.append((start, end))
    return tuple(out)


def _ladder(value: object) -> tuple[tuple[str, ...], ...]:
    if not isinstance(value, list) or not value:
        raise _Bad(
            "must be a non-empty array of steps, each an array of follow-up actions, "
            f'e.g. [["refer_tutor"], ["refer_slt"]]; got {_show(value)}'
        )
    return tuple(_strings(FOLLOW_UP_ACTIONS)(step) for step in value)


def _terms(value: object) -> tuple[Term, ...]:
    if not isinstance(value, list):
        raise _Bad(f"must be an array of {{ name, start, end }} tables, got {_show(value)}")
    out = []
    for item in value:
        if not isinstance(item, dict) or set(item) != {"name", "start", "end"}:
            raise _Bad(
                'each term must be { name = "Autumn", start = 2025-09-03, end = 2025-12-19 }'
                f"; got {_show(item)}"
            )
        start, end = item["start"], item["end"]
        if type(start) is not date or type(end) is not date:
            raise _Bad("term start and end must be TOML dates without quotes, e.g. 2025-09-03")
        if end < start:
            raise _Bad(f"term {item['name']!r} ends before it starts")
        out.append(Term(_text(item["name"]), start, end))
    return tuple(out)


_ROLES = _strings(ROLES)
_COLLECTORS = _strings(COLLECTOR_KINDS)


# --------------------------------------------------------------------------------------------
# Schema: shape
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Field:
    """A plain key (``school_name = "..."``)."""

    convert: Callable[[object], Any]
    doc: str
    required: bool = True
    inherit: bool = True  # False: every file must set it, even one that ``extends``


@dataclass(frozen=True)
class _Rule:
    """A cited rule (``key = { value = ..., source = "..." }``)."""

    convert: Callable[[object], Any]
    doc: str


@dataclass(frozen=True)
class _Table:
    """A ``[table]`` of rules or fields."""

    fields: Mapping[str, _Field | _Rule]
    doc: str


@dataclass(frozen=True)
class _Array:
    """An ``[[array]]`` of tables of plain fields; ``unique`` names the identifying key."""

    fields: Mapping[str, _Field]
    doc: str
    required: bool = False


_Spec = _Field | _Rule | _Table | _Array

SCHEMA: dict[str, _Spec] = {
    "school_name": _Field(
        _text, "School or trust name shown on screens (never inherited).", inherit=False
    ),
    "description": _Field(
        _text, "One line: what this profile is for (never inherited).", inherit=False
    ),
    "extends": _Field(
        _text, "Parent profile name; this file's values merge over it.", required=False
    ),
    "phones": _Table(
        {
            "pupils_may_bring": _Rule(_bool, "Pupils may bring a phone to school at all."),
            "switched_off_not_silent": _Rule(
                _bool,
                "Phones must be switched off, not just silent: confiscation and "
                "safekeeping ask staff to confirm the phone is off; the exams officer "
                "confirms it once for an exam self-service session.",
            ),
            "out_of_sight": _Rule(_bool, "Phones must be out of sight during the day."),
            "allowed_at_break": _Rule(_bool, "Pupils may use phones at break and lunch."),
            "social_times": _Rule(
                _time_ranges,
                'Break/lunch times ("HH:MM-HH:MM") when phone use is allowed; '
                "an unauthorised-use confiscation in these times is refused.",
            ),
        },
        "Pupil phone rules.",
    ),
    "exam": _Table(
        {
            "lead_in_minutes": _Rule(
                _int(0), "Minutes before an exam the deposit session and exam notice open."
            ),
            "collectors": _Rule(_COLLECTORS, "Who may collect an exam deposit."),
            "release_after_session_only": _Rule(
                _bool, "Exam deposits are released only after the session has ended."
            ),
        },
        "Exam deposits.",
    ),
    "release": _Table(
        {
            "confiscation_collectors": _Rule(
                _COLLECTORS, "Collector kinds who may collect a confiscated phone."
            ),
            "require_contact_list": _Rule(_bool, "A contact must be on the pupil's contact list."),
            "require_may_collect": _Rule(
                _bool, "The contact must be marked as allowed to collect."
            ),
            "require_id_seen": _Rule(_bool, "Staff must record the type of ID seen."),
            "accepted_id_types": _Rule(
                _strings(), "ID types accepted; empty array = any type staff record."
            ),
            "pupil_may_collect_up_to_offence": _Rule(
                _int(0),
                "The pupil may collect their own confiscated phone for offences up to "
                "this number this term (0 = never).",
            ),
            "earliest_time": _Rule(_time, "Confiscated phones are not released before this time."),
            "next_day": _Rule(
                _bool, "Confiscated phones are not released on the day they were taken."
            ),
            "safekeeping_collectors": _Rule(
                _COLLECTORS, "Who may collect a phone handed in for safekeeping."
            ),
            "safekeeping_any_time": _Rule(
                _bool, "Safekeeping phones may be collected at any time of day."
            ),
        },
        "Releasing confiscated and safekeeping phones.",
    ),
    "escalation": _Table(
        {
            "applies_to": _Rule(_strings(), "Category codes the sanction ladder applies to."),
            "ladder": _Rule(
                _ladder, "Follow-ups per offence number this term; the last step repeats."
            ),
            "parent_collection_from_offence": _Rule(
                _int(0),
                "From this offence number this term a parent/carer must collect "
                "(0 = never forced).",
            ),
        },
        "Repeat-offence escalation within a term.",
    ),
    "overdue": _Table(
        {
            "confiscation_hours": _Rule(_int(1), "Flag a confiscation held longer than this."),
            "exam_deposit_hours": _Rule(_int(1), "Flag an exam deposit held longer than this."),
            "safekeeping_hours": _Rule(_int(1), "Flag a safekeeping held longer than this."),
        },
        "Overdue-holding alerts.",
    ),
    "retention": _Table(
        {
            "holding_days": _Rule(_int(1), "Days a closed holding record is kept."),
            "incident_days": _Rule(_int(1), "Days a closed incident record is kept."),
            "event_days": _Rule(
                _int(1),
                "Days audit events are kept (never before the records they refer to go).",
            ),
            "photo_days": _Rule(_int(1), "Days tray photos are kept (they never leave the Pi)."),
            "safeguarding_until_age": _Rule(
                _int(18),
                "Safeguarding records (holds, police hand-overs, indecent-images category, "
                "their incidents) are kept until the pupil's birthday at this age.",
            ),
            "safeguarding_days_without_birth_date": _Rule(
                _int(1),
                "Days a closed safeguarding record is kept when the pupil's birth date is "
                "not known.",
            ),
            "pupil_left_days": _Rule(
                _int(0),
                "Days a pupil (and their contacts) is kept after leaving the MIS, once no "
                "kept record names them.",
            ),
            "staff_left_days": _Rule(
                _int(0),
                "Days a member of staff is kept after leaving the staff list, once no kept "
                "record names them.",
            ),
            "exam_session_days": _Rule(
                _int(1), "Days an exam session (name, room, candidates) is kept after it ends."
            ),
        },
        "Retention periods.",
    ),
    "search": _Table(
        {
            "authorising_roles": _Rule(
                _ROLES, "Roles that may authorise a search of a device's contents."
            ),
            "requires_reason": _Rule(
                _bool, "A reason (the reasonable suspicion) must be recorded."
            ),
        },
        "Authorising device searches (recorded; the kiosk never searches).",
    ),
    "safeguarding": _Table(
        {
            "hold_roles": _Rule(_ROLES, "Roles that may place a safeguarding hold."),
            "lift_roles": _Rule(_ROLES, "Roles that may lift a safeguarding hold."),
            "handover_roles": _Rule(_ROLES, "Roles that may record a police hand-over."),
            "handover_requires_reference": _Rule(
                _bool, "A police hand-over needs a police reference."
            ),
        },
        "Safeguarding holds and police hand-over.",
    ),
    "override": _Table(
        {
            "roles": _Rule(_ROLES, "Roles that may override a refusal."),
            "min_reason_chars": _Rule(_int(1), "Minimum length of an override reason."),
        },
        "Overrides (never of a safeguarding hold or indecent-images rule).",
    ),
    "exemptions": _Table(
        {
            "recognised": _Rule(_strings(), "Exemption codes this school recognises."),
            "safekeeping_instead": _Rule(
                _strings(), "Exemptions whose phone is held as safekeeping, not confiscated."
            ),
            "no_escalation": _Rule(
                _strings(), "Exemptions for which the sanction ladder is not climbed."
            ),
            "pupil_collects": _Rule(
                _strings(), "Exemptions whose holder may collect their own confiscated phone."
            ),
        },
        "Reasonable adjustments.",
    ),
    "terms": _Table(
        {"dates": _Rule(_terms, "Term dates; empty array = default UK terms (see term_bounds).")},
        "Term dates for counting offences.",
    ),
    "categories": _Array(
        {
            "code": _Field(_text, "Short code, e.g. unauthorised_use."),
            "label": _Field(_text, "Label shown to staff."),
            "description": _Field(_text, "What counts as this category."),
            "source": _Field(_source, "Citation."),
            "forces_safeguarding_hold": _Field(
                _bool, "Confiscation goes straight to a safeguarding hold.", required=False
            ),
            "forbids_viewing": _Field(
                _bool, "Nobody may look at the device's contents.", required=False
            ),
            "follow_ups": _Field(_strings(FOLLOW_UP_ACTIONS), "Follow-up actions.", required=False),
        },
        "Incident categories from the sanctions table.",
        required=True,
    ),
    "zones": _Array(
        {
            "code": _Field(_text, "Short code."),
            "name": _Field(_text, "Name on the sign."),
            "kind": _Field(_choice(ZONE_KINDS), "camera_free or mobile_free."),
            "rule": _Field(_text, "The rule in plain words."),
            "source": _Field(_source, "Citation."),
        },
        "Signed camera-free / mobile-free zones (zero is fine).",
    ),
    "notices": _Array(
        {
            "code": _Field(_text, "Short code."),
            "title": _Field(_text, "Heading."),
            "text": _Field(_text, "Body text."),
            "source": _Field(_source, "Citation."),
        },
        "General signage notices.",
    ),
    "exam_notice": _Table(
        {
            "code": _Field(_text, "Short code."),
            "title": _Field(_text, "Heading."),
            "text": _Field(_text, "Body text."),
            "source": _Field(_source, "Citation."),
        },
        "Notice shown during an exam session.",
    ),
}


def _validate(
    raw: Mapping[str, object],
    fields: Mapping[str, _Spec],
    path: KeyPath,
    partial: bool,
    problems: list[tuple[KeyPath, str]],
) -> dict[str, Any]:
    """Check ``raw`` against ``fields``; append (key path, message) problems; return values.

    ``partial`` (a profile that ``extends`` another) allows missing keys: they come from the
    parent, and the merged result is validated again without ``partial``.
    """
    out: dict[str, Any] = {}
    for key, value in raw.items():
        spec = fields.get(key)
        where = (*path, key)
        if spec is None:
            hint = difflib.get_close_matches(key, list(fields), n=1)
            did_you_mean = f" — did you mean {hint[0]!r}?" if hint else "."
            problems.append(
                (
                    where,
                    f"unknown key {dotted(where)!r}{did_you_mean} "
                    f"Fix the spelling or remove it (allowed here: {', '.join(fields)}).",
                )
            )
            continue
        out[key] = _validate_one(value, spec, where, partial, problems)
    for key, spec in fields.items():
        required = spec.required if isinstance(spec, _Field | _Array) else True
        if partial and not (isinstance(spec, _Field) and not spec.inherit):
            required = False
        if required and key not in raw:
            where = (*path, key)
            problems.append(
                (where, f"missing required key {dotted(where)!r} — add it ({_doc(spec)}).")
            )
    return out


def _doc(spec: _Spec) -> str:
    if isinstance(spec, _Rule):
        return f'{spec.doc} Write it as {{ value = ..., source = "<seed> §<section>" }}'
    return spec.doc


def _validate_one(
    value: object,
    spec: _Spec,
    where: KeyPath,
    partial: bool,
    problems: list[tuple[KeyPath, str]],
) -> Any:
    name = dotted(where)
    if isinstance(spec, _Field):
        try:
            return spec.convert(value)
        except _Bad as bad:
            problems.append((where, f"{name!r} {bad} — fix the value."))
            return None
    if isinstance(spec, _Rule):
        if not isinstance(value, dict):
            problems.append(
                (
                    where,
                    f'{name!r} must be {{ value = ..., source = "..." }} so the rule carries '
                    f"its citation; got {_show(value)}.",
                )
            )
            return None
        rule_fields = {"value": _Field(spec.convert, spec.doc), "source": _Field(_source, "")}
        got = _validate(value, rule_fields, where, False, problems)
        return Rule(got.get("value"), got.get("source", ""))
    if isinstance(spec, _Table):
        if not isinstance(value, dict):
            problems.append((where, f"{name!r} must be a table [{name}], got {_show(value)}."))
            return None
        return _validate(value, spec.fields, where, partial, problems)
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        problems.append(
            (where, f"{name!r} must be written as [[{name}]] blocks, got {_show(value)}.")
        )
        return None
    items = [
        _validate(item, spec.fields, (*where, index), False, problems)
        for index, item in enumerate(value)
    ]
    codes = [item.get("code") for item in items]
    for index, code in enumerate(codes):
        if code is not None and codes.index(code) != index:
            problems.append(
                (
                    (*where, index, "code"),
                    f"{dotted((*where, index, 'code'))!r} "
                    f"repeats code {code!r} — codes must be unique.",
                )
            )
    return items


def _merge(parent: Mapping[str, Any], child: Mapping[str, Any]) -> dict[str, Any]:
    """Child values over parent; tables merge key by key; arrays and rules replace whole."""
    out = dict(parent)
    for key, value in child.items():
        base = out.get(key)
        is_rule = isinstance(value, dict) and "value" in value
        if isinstance(value, dict) and isinstance(base, dict) and not is_rule:
            out[key] = _merge(base, value)
        else:
            out[key] = value
    return out


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def _read(path: Path) -> tuple[str, dict[str, Any]]:
    shown = _display(path)
    try:
        return read_toml(path)
    except OSError as error:
        raise ProfileError(
            [Problem(shown, 1, "", f"cannot read profile: {error.strerror or error}")]
        ) from error
    except TomlInputError as error:
        raise ProfileError(
            [Problem(shown, p.line, dotted(p.key), p.message) for p in error.problems]
        ) from None


def _resolve(name_or_path: str | Path, relative_to: Path | None = None) -> Path:
    text = str(name_or_path)
    if isinstance(name_or_path, Path) or "/" in text or os.sep in text or text.endswith(".toml"):
        path = Path(name_or_path)
        if relative_to is not None and not path.is_absolute():
            path = relative_to / path
        return path
    for folder in (relative_to, PROFILE_DIR):
        if folder is not None and (folder / f"{text}.toml").is_file():
            return folder / f"{text}.toml"
    names = profile_names()
    hint = difflib.get_close_matches(text, names, n=1)
    raise ProfileError(
        [
            Problem(
                text,
                1,
                "",
                f"no profile named {text!r}"
                + (f" — did you mean {hint[0]!r}?" if hint else "")
                + f" Known profiles: {', '.join(names)}.",
            )
        ]
    )


def _fail(path: Path, text: str, found: list[tuple[KeyPath, str]]) -> ProfileError:
    shown = _display(path)
    return ProfileError(
        [Problem(shown, find_line(text, where), dotted(where), msg) for where, msg in found]
    )


def _load_merged(path: Path, chain: tuple[Path, ...]) -> dict[str, Any]:
    """Raw TOML of ``path`` merged over its ``extends`` parents, each file checked in place."""
    text, raw = _read(path)
    problems: list[tuple[KeyPath, str]] = []
    _validate(raw, SCHEMA, (), partial="extends" in raw, problems=problems)
    if problems:
        raise _fail(path, text, problems)
    parent_name = raw.get("extends")
    if parent_name is None:
        return raw
    parent_path = _resolve(parent_name, relative_to=path.parent)
    if parent_path.resolve() in {p.resolve() for p in (*chain, path)}:
        raise _fail(
            path,
            text,
            [
                (
                    ("extends",),
                    f"'extends' = {parent_name!r} makes a loop "
                    "of profiles — point it at a different parent.",
                )
            ],
        )
    parent = _load_merged(parent_path, (*chain, path))
    child = {k: v for k, v in raw.items() if k != "extends"}
    return _merge({k: v for k, v in parent.items() if k != "extends"}, child)


def _cross_checks(values: Mapping[str, Any]) -> list[tuple[KeyPath, str]]:
    """Rules that span tables: referenced category and exemption codes must exist."""
    found: list[tuple[KeyPath, str]] = []
    codes = {c["code"] for c in values["categories"]}
    for code in values["escalation"]["applies_to"].value:
        if code not in codes:
            found.append(
                (
                    ("escalation", "applies_to"),
                    f"'escalation.applies_to' names "
                    f"category {code!r}, which is not in [[categories]] "
                    f"({', '.join(sorted(codes))}) — add the category or fix the code.",
                )
            )
    recognised = set(values["exemptions"]["recognised"].value)
    for key in ("safekeeping_instead", "no_escalation", "pupil_collects"):
        for code in values["exemptions"][key].value:
            if code not in recognised:
                found.append(
                    (
                        ("exemptions", key),
                        f"'exemptions.{key}' names {code!r}, which is "
                        "not in 'exemptions.recognised' — add it there or fix the code.",
                    )
                )
    return found


def _build(path: Path, values: Mapping[str, Any], extends: str | None) -> Profile:
    def group(cls: type[T], key: str) -> T:
        return cls(**values[key])

    phones = group(PhoneRules, "phones")
    exam = group(ExamRules, "exam")
    return Profile(
        id=path.stem,
        school_name=values["school_name"],
        path=path.resolve(),
        description=values["description"],
        phones_allowed_at_break=phones.allowed_at_break.value,
        categories=tuple(
            Category(
                code=c["code"],
                label=c["label"],
                description=c["description"],
                source=c["source"],
                forces_safeguarding_hold=c.get("forces_safeguarding_hold", False),
                follow_ups=c.get("follow_ups", ()),
                forbids_viewing=c.get("forbids_viewing", False),
            )
            for c in values["categories"]
        ),
        zones=tuple(Zone(**z) for z in values.get("zones", ())),
        notices=tuple(Notice(**n) for n in values.get("notices", ())),
        exam_notice=Notice(**values["exam_notice"]),
        exam_lead_in_minutes=exam.lead_in_minutes.value,
        phones=phones,
        exam=exam,
        release=group(ReleaseRules, "release"),
        escalation=group(EscalationRules, "escalation"),
        overdue=group(OverdueRules, "overdue"),
        retention=group(RetentionRules, "retention"),
        search=group(SearchRules, "search"),
        safeguarding=group(SafeguardingRules, "safeguarding"),
        override=group(OverrideRules, "override"),
        exemptions=group(ExemptionRules, "exemptions"),
        terms=group(TermRules, "terms"),
        extends=extends,
    )


@functools.lru_cache(maxsize=64)
def _load_cached(path: Path, _mtime_ns: int) -> Profile:
    text, raw = _read(path)
    merged = _load_merged(path, ())
    problems: list[tuple[KeyPath, str]] = []
    values = _validate(merged, SCHEMA, (), partial=False, problems=problems)
    if not problems:
        problems = _cross_checks(values)
    if problems:
        raise _fail(path, text, problems)
    return _build(path, values, raw.get("extends"))


def load_profile(name_or_path: str | Path) -> Profile:
    """Load a profile by name (``"ken-stimpson"``, from :data:`PROFILE_DIR`) or by path.

    Raises :class:`ProfileError` naming file, line and key for anything wrong. Results are
    cached per file modification time, so an edited file is re-read.
    """
    path = _resolve(name_or_path)
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        mtime = -1  # _read reports the problem with the file name
    return _load_cached(path.resolve() if mtime >= 0 else path, mtime)


def profile_names() -> list[str]:
    """Names of the shipped profiles (file stems in :data:`PROFILE_DIR`), sorted."""
    return sorted(p.stem for p in PROFILE_DIR.glob("*.toml"))
