"""All-or-nothing import of pupils, contacts and staff from MIS CSV exports.

Exports from SIMS, Arbor, Bromcom and ScholarPack name the same column differently, so each
field accepts the common header variants (matched ignoring case, spaces and punctuation).
Every row is checked before anything is written; any problem means nothing is imported and
every problem is listed with its line and column.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import stat
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.audit import append_event
from db.models import Contact, Pupil, Staff
from kiosk.audit_replay import IMPORT_TABLE, diff_facts, table_facts
from kiosk.auth import Identity, NotPermitted, authorise
from kiosk.permissions import PRIVILEGED_ROLES, Permission, Role
from kiosk.staff_admin import active_seniors

#: field -> accepted header variants (normalised: lower case, letters and digits only).
PUPIL_COLUMNS: dict[str, tuple[str, ...]] = {
    "mis_id": ("misid", "upn", "admissionnumber", "adno", "pupilid", "studentid", "id"),
    "given_name": ("givenname", "forename", "firstname", "legalforename", "preferredforename"),
    "family_name": ("familyname", "surname", "lastname", "legalsurname", "preferredsurname"),
    "year_group": ("yeargroup", "year", "ncyear", "yr"),
    "tutor_group": ("tutorgroup", "reggroup", "registrationgroup", "form", "class"),
    "card_uid": ("carduid", "card", "rfid", "badgeuid", "carduidhex"),
    "exemptions": ("exemptions", "adjustments", "reasonableadjustments"),
    # Optional: safeguarding records are kept until the 25th birthday (kiosk/retention.py).
    "date_of_birth": ("dateofbirth", "dob", "birthdate"),
}
CONTACT_COLUMNS: dict[str, tuple[str, ...]] = {
    "pupil_mis_id": (
        "pupilmisid",
        "misid",
        "upn",
        "admissionnumber",
        "adno",
        "pupilid",
        "studentid",
    ),
    "name": ("contactname", "name", "fullname"),
    "relationship": ("relationship", "relationshiptopupil", "relation"),
    "parental_responsibility": ("parentalresponsibility", "pr", "hasparentalresponsibility"),
    "may_collect": ("maycollect", "cancollect", "collectionrights", "collect"),
    "priority": ("priority", "contactpriority", "order", "contactorder"),
}
STAFF_COLUMNS: dict[str, tuple[str, ...]] = {
    "staff_code": ("staffcode", "staffid", "code", "initials", "employeeid"),
    "name": ("name", "fullname", "staffname"),
    "roles": ("roles", "role", "kioskroles"),
    "badge_uid": ("badgeuid", "badge", "carduid", "card"),
    "pin": ("pin", "initialpin"),
}
REQUIRED = {
    "pupils": ("mis_id", "given_name", "family_name", "year_group"),
    "contacts": ("pupil_mis_id", "name", "relationship"),
    "staff": ("staff_code", "name", "roles"),
}
TRUE = {"y", "yes", "true", "1", "t"}
FALSE = {"n", "no", "false", "0", "f", ""}
EXEMPTIONS = {"medical", "young_carer"}
UID_RE = re.compile(r"[0-9A-F]{8,20}")


def _column_length(column: Any) -> int:
    length = column.property.columns[0].type.length
    assert isinstance(length, int)
    return length


#: Longest text each field may hold, from the database columns (PostgreSQL refuses longer
#: values at commit, far from the row that caused it).
_MAX_LEN: dict[str, dict[str, int]] = {
    "pupils": {
        f: _column_length(getattr(Pupil, f))
        for f in ("mis_id", "given_name", "family_name", "year_group", "tutor_group")
    },
    "contacts": {
        "pupil_mis_id": _column_length(Pupil.mis_id),
        "name": _column_length(Contact.name),
        "relationship": _column_length(Contact.relationship_to_pupil),
    },
    "staff": {f: _column_length(getattr(Staff, f)) for f in ("staff_code", "name")},
}


@dataclass(frozen=True)
class Problem:
    line: int
    column: str
    message: str

    def __str__(self) -> str:
        col = f", column '{shown(self.column)}'" if self.column else ""
        return f"line {self.line}{col}: {self.message}"


class ImportRejected(Exception):
    """Nothing was imported. ``problems`` lists every one found, by line and column."""

    def __init__(self, path: Path, problems: list[Problem]) -> None:
        self.path, self.problems = path, problems
        name = shown(str(path))
        listing = "\n".join(f"  {name}: {p}" for p in problems[:200])
        more = f"\n  ... and {len(problems) - 200} more" if len(problems) > 200 else ""
        super().__init__(
            f"{name}: nothing imported, {len(problems)} problem(s) to fix:\n{listing}{more}"
        )


@dataclass(frozen=True)
class ImportResult:
    kind: str
    added: int
    updated: int
    deactivated: int = 0


def _norm(header: str) -> str:
    return re.sub(r"[^a-z0-9]", "", header.lower())


# ----------------------------------------------------------------------------- reading
#: Longest value accepted in one cell. Real names, ids and groups are far shorter; a longer
#: cell is a broken export (an unclosed quote swallowing the rest of the file, say).
MAX_FIELD_CHARS = 1024
#: Largest file accepted. A whole school's MIS export is well under a megabyte.
MAX_FILE_BYTES = 20 * 1024 * 1024
SAVE_AS = (
    "open it in Excel and use File > Save As > 'CSV UTF-8 (Comma delimited)', "
    "or export it again from the MIS as UTF-8 CSV"
)
_BOMS: tuple[tuple[bytes, str, str], ...] = (
    (codecs.BOM_UTF32_LE, "", "UTF-32"),  # checked before UTF-16 LE, whose BOM it starts with
    (codecs.BOM_UTF32_BE, "", "UTF-32"),
    (codecs.BOM_UTF8, "utf-8", "UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16 LE"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16 BE"),
)
#: Characters that are never part of a name, id or group and can change what a terminal or
#: screen shows: C0/C1 controls (ESC starts terminal escape sequences, CSI is C1 0x9B), DEL,
#: line and paragraph separators, and the bidirectional overrides/isolates that reorder text.
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")


def _forbidden(ch: str) -> bool:
    return ch in _BIDI or unicodedata.category(ch) in ("Cc", "Zl", "Zp", "Cs")


def shown(text: str) -> str:
    """``text`` safe to print on a terminal: forbidden characters as ``\\xNN``/``\\uNNNN``."""
    if not any(_forbidden(ch) for ch in text):
        return text
    return "".join(
        (f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}") if _forbidden(ch) else ch
        for ch in text
    )


def _char_name(ch: str) -> str:
    names = {"\x00": "NUL", "\x1b": "ESC", "\t": "tab", "\n": "line break", "\r": "line break"}
    code = f"U+{ord(ch):04X}"
    return f"{code} ({names.get(ch) or unicodedata.name(ch, 'control character')})"


def _line_of(text: str) -> int:
    """1-based line number at the end of ``text`` (CRLF, LF and CR-only all end a line)."""
    return text.count("\n") + text.count("\r") - text.count("\r\n") + 1


def _decode(path: Path, raw: bytes) -> str:
    """The file's text, from UTF-8 (BOM or not) or UTF-16 with a BOM; anything else refused.

    Never guessed: a Windows-1252 export decoded as UTF-8 fails, and one decoded as
    Windows-1252 "succeeds" with the wrong letters in pupils' names, which nobody would see
    until a parent is turned away.
    """
    encoding, label, body = "utf-8", "UTF-8", raw
    for bom, enc, name in _BOMS:
        if raw.startswith(bom):
            if not enc:
                raise ImportRejected(
                    path, [Problem(1, "", f"the file is {name}, which is not accepted; {SAVE_AS}")]
                )
            encoding, label, body = enc, name, raw[len(bom) :]
            break
    if encoding == "utf-8" and b"\x00" in body:
        offset = body.index(b"\x00")
        line = _line_of(body[:offset].decode("utf-8", errors="replace"))
        raise ImportRejected(
            path,
            [
                Problem(
                    line,
                    "",
                    f"NUL byte at offset {offset + len(raw) - len(body)}: this is UTF-16 without a "
                    f"byte-order mark, or not a text file at all; {SAVE_AS}",
                )
            ],
        )
    try:
        return body.decode(encoding)
    except UnicodeDecodeError as exc:
        before = body[: exc.start - exc.start % (2 if encoding != "utf-8" else 1)]
        line = _line_of(before.decode(encoding, errors="replace"))
        bad = body[exc.start : exc.start + 4].hex(" ")
        raise ImportRejected(
            path,
            [
                Problem(
                    line,
                    "",
                    f"the bytes at offset {exc.start + len(raw) - len(body)} ({bad}) are not "
                    f"{label}: the file was probably saved as Windows-1252 or another legacy "
                    f"encoding; {SAVE_AS}",
                )
            ],
        ) from None


def _check_text(value: str, line: int, column: str, problems: list[Problem]) -> bool:
    """Refuse control characters and overlong cells; True if ``value`` is fine."""
    if len(value) > MAX_FIELD_CHARS:
        problems.append(
            Problem(
                line,
                column,
                f"is {len(value)} characters long (at most {MAX_FIELD_CHARS}); a quote left "
                "open in the file swallows what follows it: check the quotes on this line",
            )
        )
        return False
    for index, ch in enumerate(value):
        if _forbidden(ch):
            problems.append(
                Problem(
                    line,
                    column,
                    f"contains the control character {_char_name(ch)} at character {index + 1} "
                    f"({shown(value[:40])!r}); remove it in the MIS or the spreadsheet "
                    "(names are shown on the staff screen and must be plain text)",
                )
            )
            return False
    return True


def _read(
    path: Path, columns: dict[str, tuple[str, ...]], kind: str
) -> tuple[list[tuple[int, dict[str, str]]], dict[str, str], list[Problem]]:
    """Decode and split the file; every cell checked for control characters and length.

    Raises :class:`ImportRejected` when the file cannot be read as CSV at all; otherwise the
    problems found so far are returned with the rows, so the caller lists them together with
    its own.
    """
    try:
        if not stat.S_ISREG(path.stat().st_mode):  # a FIFO or a device would never end
            raise ImportRejected(path, [Problem(0, "", "is not a regular file; name the CSV")])
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ImportRejected(path, [Problem(0, "", f"cannot read file ({exc.strerror})")]) from None
    if len(raw) > MAX_FILE_BYTES:
        raise ImportRejected(
            path,
            [Problem(0, "", f"the file is over {MAX_FILE_BYTES // 2**20} MiB; is it the export?")],
        )
    text = _decode(path, raw)
    # Old Excel for Mac ends lines with CR alone; the csv module only splits on LF.
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    problems: list[Problem] = []
    records: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for values in reader:
            records.append((start, values))
            start = reader.line_num + 1
    except csv.Error as exc:
        # A cell over csv.field_size_limit, or a stray quote: the rest of the file cannot be
        # split reliably, so say where and stop.
        detail = str(exc).replace("field larger than field limit", "a cell is too long")
        raise ImportRejected(
            path,
            [
                Problem(
                    start,
                    "",
                    f"cannot be read as CSV ({detail}); check the quotes from this line on",
                )
            ],
        ) from None
    if not records:
        raise ImportRejected(path, [Problem(1, "", "the file is empty")])
    header_line, headers = records[0]
    good_headers = [
        _check_text(h, header_line, f"header {i + 1}", problems) for i, h in enumerate(headers)
    ]
    mapping: dict[str, str] = {}  # field -> header as written
    for header, good in zip(headers, good_headers, strict=True):
        n = _norm(header)
        for field, variants in columns.items():
            if good and n in variants and field not in mapping:
                mapping[field] = header
    for field in REQUIRED[kind]:
        if field not in mapping:
            names = ", ".join(columns[field][:4])
            problems.append(Problem(1, field, f"no column for {field}; name one of: {names}"))
    rows = []
    for line_no, values in records[1:]:
        if not any(v.strip() for v in values):
            continue
        if len(values) != len(headers):
            problems.append(
                Problem(line_no, "", f"has {len(values)} values, the header has {len(headers)}")
            )
            continue
        checked = [
            _check_text(v, line_no, h, problems) for h, v in zip(headers, values, strict=True)
        ]
        if not all(checked):
            continue
        by_header = dict(zip(headers, values, strict=True))
        row = {f: by_header[h].strip() for f, h in mapping.items()}
        for field, limit in _MAX_LEN[kind].items():
            if len(row.get(field, "")) > limit:
                problems.append(
                    Problem(
                        line_no, mapping[field], f"is longer than the {limit} characters allowed"
                    )
                )
        rows.append((line_no, row))
    return rows, mapping, problems


def _bool(value: str, line: int, column: str, problems: list[Problem]) -> bool:
    v = value.strip().lower()
    if v in TRUE:
        return True
    if v not in FALSE:
        problems.append(Problem(line, column, f"{value!r} is not yes/no"))
    return False


def _check_uid(value: str, line: int, column: str, problems: list[Problem]) -> str | None:
    uid = value.replace(":", "").replace(" ", "").upper()
    if not uid:
        return None
    if not UID_RE.fullmatch(uid):
        problems.append(Problem(line, column, f"{value!r} is not a card UID (8-20 hex digits)"))
    return uid


def _birth_date(value: str, line: int, column: str, problems: list[Problem]) -> date | None:
    """YYYY-MM-DD or DD/MM/YYYY (the two ways UK MIS exports write dates); empty is None."""
    text = value.strip()
    if not text:
        return None
    for pattern in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    problems.append(
        Problem(line, column, f"{value!r} is not a date; write 2012-09-30 or 30/09/2012")
    )
    return None


def _unique(
    values: list[tuple[int, str | None]], column: str, what: str, problems: list[Problem]
) -> None:
    seen: dict[str, int] = {}
    for line, v in values:
        if v is None:
            continue
        if v in seen:
            problems.append(Problem(line, column, f"{what} {v!r} also on line {seen[v]}"))
        else:
            seen[v] = line


def _cards_held_elsewhere(
    rows: list[tuple[int, str, str | None]],
    holders: dict[str, tuple[str, str]],
    column: str,
    what: str,
    problems: list[Problem],
) -> None:
    """A card the file gives to one person but the kiosk has on someone the file leaves out.

    ``rows`` are (line, key, uid) from the file; ``holders`` maps each uid stored in the kiosk
    to (key, name) of whoever holds it. Cards moving between people who are both in the file
    are fine (the file is the truth for them); taking a card from someone the file does not
    mention would silently re-assign it, so it is refused and named.
    """
    in_file = {key for _line, key, _uid in rows}
    for line, key, uid in rows:
        holder = holders.get(uid) if uid else None
        if holder is not None and holder[0] != key and holder[0] not in in_file:
            problems.append(
                Problem(
                    line,
                    column,
                    f"{what} {uid!r} belongs to {shown(holder[0])!r} ({shown(holder[1])!r}) "
                    "in the kiosk, who is not in this file; add their row with their new "
                    f"{what} (or none), or fix this one",
                )
            )


def _free_moving_cards(session: Session, people: list[Any], attr: str, new: list[Any]) -> None:
    """Clear every card that changes hands before any is re-assigned, so people can swap
    cards (a mix-up at issue, corrected in the MIS) without the unique index seeing one card
    on two people mid-update."""
    for person, uid in zip(people, new, strict=True):
        if person is not None and getattr(person, attr) != uid:
            setattr(person, attr, None)
    session.flush()


def import_pupils(
    session: Session,
    path: Path,
    *,
    deactivate_missing: bool = False,
    now: datetime | None = None,
    **kw: Any,
) -> ImportResult:
    """Pupils. ``deactivate_missing``: the file lists every pupil on roll, so anyone not in it
    has left; their leaving date starts the retention clock (``retention.pupil_left_days``)."""
    rows, mapping, problems = _read(path, PUPIL_COLUMNS, "pupils")
    parsed = []
    for line, r in rows:
        for field in REQUIRED["pupils"]:
            if field in mapping and not r.get(field):
                problems.append(Problem(line, mapping[field], "is empty"))
        uid = _check_uid(r.get("card_uid", ""), line, mapping.get("card_uid", ""), problems)
        exemptions = [
            e.strip().lower().replace(" ", "_")
            for e in re.split(r"[;,]", r.get("exemptions", ""))
            if e.strip()
        ]
        for e in exemptions:
            if e not in EXEMPTIONS:
                problems.append(
                    Problem(
                        line,
                        mapping.get("exemptions", ""),
                        f"unknown exemption {e!r}; use {sorted(EXEMPTIONS)}",
                    )
                )
        born = _birth_date(
            r.get("date_of_birth", ""), line, mapping.get("date_of_birth", ""), problems
        )
        parsed.append((line, r, uid, exemptions, born))
    _unique(
        [(ln, r.get("mis_id")) for ln, r, *_ in parsed],
        mapping.get("mis_id", ""),
        "MIS id",
        problems,
    )
    _unique([(ln, u) for ln, _, u, *_ in parsed], mapping.get("card_uid", ""), "card UID", problems)
    existing = {p.mis_id: p for p in session.scalars(select(Pupil))}
    if "card_uid" in mapping:
        _cards_held_elsewhere(
            [(ln, r.get("mis_id", ""), uid) for ln, r, uid, *_ in parsed],
            {p.card_uid: (p.mis_id, p.display_name) for p in existing.values() if p.card_uid},
            mapping["card_uid"],
            "card UID",
            problems,
        )
    if problems:
        raise ImportRejected(path, problems)
    if "card_uid" in mapping:
        _free_moving_cards(
            session,
            [existing.get(r["mis_id"]) for _ln, r, *_ in parsed],
            "card_uid",
            [uid for _ln, _r, uid, *_ in parsed],
        )
    added = updated = 0
    for _line, r, uid, exemptions, born in parsed:
        pupil = existing.get(r["mis_id"])
        if pupil is None:
            pupil = Pupil(mis_id=r["mis_id"])
            session.add(pupil)
            added += 1
        else:
            updated += 1
        pupil.given_name, pupil.family_name = r["given_name"], r["family_name"]
        pupil.year_group = r["year_group"]
        # Optional columns only change what the file actually has: an export without a card
        # column must not wipe every card, nor one without exemptions every adjustment.
        if "tutor_group" in mapping:
            pupil.tutor_group = r["tutor_group"]
        elif pupil.tutor_group is None:
            pupil.tutor_group = ""
        if "card_uid" in mapping:
            pupil.card_uid = uid
        if "exemptions" in mapping or pupil.exemptions is None:
            pupil.exemptions = exemptions
        if "date_of_birth" in mapping:
            pupil.date_of_birth = born
        pupil.left_at = None
    left = 0
    if deactivate_missing:
        listed = {r["mis_id"] for _line, r, *_ in parsed}
        for mis_id, pupil in existing.items():
            if mis_id not in listed and pupil.left_at is None:
                pupil.left_at = now
                left += 1
    return ImportResult("pupils", added, updated, left)


def import_contacts(session: Session, path: Path, **kw: Any) -> ImportResult:
    """Each pupil named in the file gets exactly the contacts listed (the MIS is the truth)."""
    rows, mapping, problems = _read(path, CONTACT_COLUMNS, "contacts")
    pupils = {p.mis_id: p for p in session.scalars(select(Pupil))}
    parsed = []
    for line, r in rows:
        for field in REQUIRED["contacts"]:
            if field in mapping and not r.get(field):
                problems.append(Problem(line, mapping[field], "is empty"))
        pupil = pupils.get(r.get("pupil_mis_id", ""))
        if r.get("pupil_mis_id") and pupil is None:
            problems.append(
                Problem(
                    line,
                    mapping["pupil_mis_id"],
                    f"no pupil with MIS id {r['pupil_mis_id']!r}; import pupils first",
                )
            )
        pr = _bool(
            r.get("parental_responsibility", ""),
            line,
            mapping.get("parental_responsibility", ""),
            problems,
        )
        may = _bool(r.get("may_collect", ""), line, mapping.get("may_collect", ""), problems)
        prio_text = r.get("priority", "") or "1"
        if not re.fullmatch(r"[0-9]{1,4}", prio_text):
            problems.append(
                Problem(
                    line, mapping.get("priority", ""), f"{prio_text!r} is not a whole number 0-9999"
                )
            )
            prio_text = "1"
        parsed.append((pupil, r, pr, may, int(prio_text)))
    if problems:
        raise ImportRejected(path, problems)
    touched = {id(p): p for p, *_ in parsed if p is not None}
    removed = 0
    for pupil in touched.values():
        removed += len(pupil.contacts)
        pupil.contacts.clear()
    session.flush()
    for pupil, r, pr, may, prio in parsed:
        assert pupil is not None
        pupil.contacts.append(
            Contact(
                name=r["name"],
                relationship_to_pupil=r["relationship"],
                parental_responsibility=pr,
                may_collect=may,
                priority=prio,
            )
        )
    return ImportResult("contacts", len(parsed), removed)


def _staff_actor_check(session: Session, path: Path, actor: Identity | None) -> bool:
    """Who may import staff: a signed-in senior, or nobody at all on a station with no senior.

    Returns True for that first, bootstrap import (a new school has nobody to sign in yet;
    once any active senior exists, a staff import needs a senior's sign-in, issue 9).
    """
    if actor is not None:
        authorise(session, actor, Permission.IMPORT_STAFF)
        return False
    if active_seniors(session):
        raise NotPermitted(
            f"{path}: importing staff needs a senior leader's sign-in (badge and PIN); "
            "nothing imported.",
            permission=Permission.IMPORT_STAFF,
        )
    return True


def import_staff(
    session: Session,
    path: Path,
    *,
    actor: Identity | None = None,
    station_id: str = "",
    now: datetime | None = None,
    deactivate_missing: bool = False,
    **kw: Any,
) -> ImportResult:
    """Staff and their roles; no PINs (issue 9). ``deactivate_missing``: the file is the whole
    staff list, so anyone not in it (a leaver) can no longer sign in; their history stays.

    New staff get no PIN: a senior or office administrator issues each an enrolment code
    (:mod:`kiosk.staff_admin`). Role changes are recorded one event per person naming the
    importing senior; a senior, DSL or office-administrator grant is its own event. An import
    that would leave no active senior, or deactivate or demote the importing senior, is
    refused naming who.
    """
    bootstrap = _staff_actor_check(session, path, actor)
    rows, mapping, problems = _read(path, STAFF_COLUMNS, "staff")
    if "pin" in mapping:
        problems.append(
            Problem(
                1,
                mapping["pin"],
                "a staff file must not carry PINs: delete this column (and any copies of the "
                "file). Staff choose their own PIN at first sign-in with an enrolment code "
                "from a senior leader or office administrator",
            )
        )
    valid_roles = {r.value for r in Role}
    parsed = []
    for line, r in rows:
        for field in REQUIRED["staff"]:
            if field in mapping and not r.get(field):
                problems.append(Problem(line, mapping[field], "is empty"))
        roles = [x.strip().lower() for x in re.split(r"[;,/]", r.get("roles", "")) if x.strip()]
        for role in roles:
            if role not in valid_roles:
                problems.append(
                    Problem(
                        line, mapping["roles"], f"unknown role {role!r}; use {sorted(valid_roles)}"
                    )
                )
        uid = _check_uid(r.get("badge_uid", ""), line, mapping.get("badge_uid", ""), problems)
        parsed.append((line, r, list(dict.fromkeys(roles)), uid))
    _unique(
        [(ln, r.get("staff_code")) for ln, r, *_ in parsed],
        mapping.get("staff_code", ""),
        "staff code",
        problems,
    )
    _unique(
        [(ln, u) for ln, _, _, u in parsed], mapping.get("badge_uid", ""), "badge UID", problems
    )
    existing = {s.staff_code: s for s in session.scalars(select(Staff))}
    if "badge_uid" in mapping:
        _cards_held_elsewhere(
            [(ln, r.get("staff_code", ""), u) for ln, r, _, u, *_ in parsed],
            {s.badge_uid: (s.staff_code, s.name) for s in existing.values() if s.badge_uid},
            mapping["badge_uid"],
            "badge UID",
            problems,
        )
    if problems:
        raise ImportRejected(path, problems)

    listed = {r["staff_code"]: roles for _line, r, roles, _uid in parsed}
    # Who is an active senior once this file is applied, before anything is written.
    seniors_before = [s for s in existing.values() if s.active and Role.SENIOR in s.roles]
    seniors_after = {code for code, roles in listed.items() if Role.SENIOR in roles}
    if not deactivate_missing:
        seniors_after |= {s.staff_code for s in seniors_before if s.staff_code not in listed}
    lockout: list[Problem] = []
    if actor is not None:
        me = session.get(Staff, actor.staff_id)
        if me is not None and me.staff_code not in seniors_after:
            why = "deactivate" if me.staff_code not in listed else "remove the senior role from"
            lockout.append(
                Problem(0, "", f"this import would {why} you ({me.name}), the senior importing it")
            )
    if not seniors_after:
        names = ", ".join(s.name for s in seniors_before) or "nobody is senior now"
        lockout.append(
            Problem(
                0,
                mapping.get("roles", ""),
                f"after this import no active member of staff would be senior ({names}); "
                "give at least one person the senior role",
            )
        )
    if lockout:
        raise ImportRejected(path, lockout)

    occurred = now or datetime.now(UTC)
    actor_id = actor.staff_id if actor is not None else None

    def record(type: str, **payload: Any) -> None:
        if station_id:
            if bootstrap:
                payload["bootstrap"] = True
            append_event(
                session,
                station_id=station_id,
                type=type,
                occurred_at=occurred,
                actor_id=actor_id,
                payload=payload,
            )

    if "badge_uid" in mapping:
        _free_moving_cards(
            session,
            [existing.get(r["staff_code"]) for _ln, r, *_ in parsed],
            "badge_uid",
            [u for _ln, _r, _ro, u, *_ in parsed],
        )
    added = updated = 0
    for _line, r, roles, uid in parsed:
        staff = existing.get(r["staff_code"])
        before: list[str] = []
        if staff is None:
            staff = Staff(staff_code=r["staff_code"], roles=[], active=True)
            session.add(staff)
            added += 1
        else:
            updated += 1
            before = list(staff.roles) if staff.active else []
            if not staff.active:
                staff.active = True
        staff.name, staff.roles = r["name"], roles
        if "badge_uid" in mapping:
            staff.badge_uid = uid
        session.flush()
        granted = [x for x in roles if x not in before]
        revoked = [x for x in before if x not in roles]
        for role in granted:
            if role in PRIVILEGED_ROLES:
                record("staff.privileged_role_granted", staff=staff.id, role=role, roles=roles)
        if granted or revoked:
            record(
                "staff.roles_changed", staff=staff.id, granted=granted, revoked=revoked, roles=roles
            )
        staff.active, staff.left_at = True, None
    deactivated = 0
    if deactivate_missing:
        for code, staff in existing.items():
            if code not in listed and staff.active:
                staff.active = False
                staff.left_at = now  # starts retention.staff_left_days
                deactivated += 1
                record("staff.deactivated", staff=staff.id, active=False)
    return ImportResult("staff", added, updated, deactivated)


IMPORTERS: dict[str, Callable[..., ImportResult]] = {
    "pupils": import_pupils,
    "contacts": import_contacts,
    "staff": import_staff,
}


#: The permission each import needs (``import exams`` checks its own: exam sessions).
IMPORT_PERMISSIONS: dict[str, Permission] = {
    "pupils": Permission.IMPORT_DATA,
    "contacts": Permission.IMPORT_DATA,
    "staff": Permission.IMPORT_STAFF,
    "exams": Permission.EXAM_SESSION,
}


def run_import(
    session: Session,
    kind: str,
    path: Path,
    *,
    station_id: str,
    now: datetime,
    deactivate_missing: bool = False,
    actor: Identity | None = None,
) -> ImportResult:
    """Import inside the caller's transaction and log an event; the caller commits."""
    if deactivate_missing and kind == "contacts":
        raise ValueError("only a staff or pupil import can mark people missing from the file")
    if actor is not None and kind in IMPORT_PERMISSIONS:
        # The one permission table (kiosk.permissions), checked in the import's transaction.
        authorise(session, actor, IMPORT_PERMISSIONS[kind])
    # Imports that change what the replay checks (exemptions, contacts, roles) carry the
    # difference as facts; an exam import changes none of those tables.
    table = IMPORT_TABLE.get(kind)
    before = table_facts(session, [table])[table] if table else None
    result = IMPORTERS[kind](
        session,
        path,
        deactivate_missing=deactivate_missing,
        actor=actor,
        station_id=station_id,
        now=now,
    )
    session.flush()
    payload: dict[str, Any] = {
        "file": path.name,
        "added": result.added,
        "updated": result.updated,
        "deactivated": result.deactivated,
    }
    if table and before is not None:
        # By id only, for kiosk.audit_replay: exemptions / contact flags / roles changed.
        payload["facts"] = diff_facts(before, table_facts(session, [table])[table])
    append_event(
        session,
        station_id=station_id,
        type=f"import.{kind}",
        occurred_at=now,
        actor_id=actor.staff_id if actor is not None else None,
        payload=payload,
    )
    return result
