"""Fuzzing the MIS CSV import: any bytes, encodings, line endings and huge fields.

Properties: the import either succeeds or raises :class:`ImportRejected` (nothing else); a
refused import changes nothing (every table's rows compared before and after); every problem
names the file and a line; a file that is not UTF-8 or UTF-16 with a BOM is never imported
(never guessed into garbage), and what is imported is exactly what the MIS wrote.
"""

from __future__ import annotations

import csv
import io
import itertools
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fuzz_support import fuzz_settings, tally
from hypothesis import assume, given
from hypothesis import strategies as st
from sqlalchemy import MetaData, select

from db.engine import make_engine, make_session_factory
from db.migrate import upgrade
from db.models import Pupil, Staff
from kiosk.auth import Argon2Params, AuthService, AuthSettings, Identity
from kiosk.demo import DEMO_DATA
from kiosk.mis_import import ImportRejected, run_import, shown

NOW = datetime(2026, 11, 3, 9, tzinfo=UTC)
_names = itertools.count()


class _Undo(Exception):
    """Raised inside the transaction after a successful import so each example starts clean."""


class Ledger:
    """A migrated SQLite ledger holding the demo school; examples never commit to it."""

    def __init__(self, url: str, folder: Path, label: str = "") -> None:
        self.folder, self.label = folder, label
        self.engine = make_engine(url)
        upgrade(self.engine)
        self.sessions = make_session_factory(self.engine)
        for kind in ("pupils", "contacts"):
            with self.sessions.begin() as s:
                run_import(s, kind, DEMO_DATA / f"{kind}.csv", station_id="t", now=NOW)
        with self.sessions.begin() as s:  # staff without PINs: hashing is slow on purpose
            run_import(s, "staff", self._staff_without_pins(), station_id="t", now=NOW)
        self.senior = self._sign_in_senior()
        self.meta = MetaData()
        self.meta.reflect(bind=self.engine)
        self.baseline = self.dump()

    def _staff_without_pins(self) -> Path:
        rows = list(csv.reader(io.StringIO((DEMO_DATA / "staff.csv").read_text("utf-8"))))
        path = self.folder / "staff.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerows([r[:4] for r in rows])
        return path

    def _sign_in_senior(self) -> Identity:
        """A staff import needs a senior's sign-in once a school has one (issue 9)."""
        auth = AuthService(
            AuthSettings(argon2=Argon2Params(memory_kib=8, time_cost=1, parallelism=1)),
            station_id="t",
            clock=lambda: NOW,
        )
        with self.sessions.begin() as s:
            head = s.scalars(select(Staff).where(Staff.staff_code == "HT1")).one()
            head.badge_uid = head.badge_uid or "C0DE0001"
            head.pin_hash, head.pin_must_change = auth.hasher.hash("482915"), False
            badge = head.badge_uid
        with self.sessions.begin() as s:
            return auth.sign_in(s, badge, "482915")

    def dump(self) -> list[tuple[str, list[tuple[object, ...]]]]:
        with self.engine.connect() as conn:
            return [
                (name, sorted(map(tuple, conn.execute(select(t)).all()), key=repr))
                for name, t in sorted(self.meta.tables.items())
            ]

    def attempt(self, kind: str, data: bytes, name: str = "export.csv") -> object:
        """Import ``data``; return the ImportRejected, or the names imported (rolled back)."""
        path = self.folder / f"{next(_names)}-{name}"
        path.write_bytes(data)
        imported: dict[str, tuple[str, str]] = {}

        def run() -> object:
            try:
                with self.sessions.begin() as s:
                    run_import(s, kind, path, station_id="t", now=NOW, actor=self.senior)
                    if kind == "pupils":
                        for p in s.scalars(select(Pupil)):
                            imported[p.mis_id] = (p.given_name, p.family_name)
                    raise _Undo
            except _Undo:
                return imported

        outcome = tally(f"mis_csv_{kind}{self.label}").run(run, (ImportRejected,))
        if isinstance(outcome, ImportRejected):
            assert self.dump() == self.baseline, "a refused import changed the ledger"
            text = str(outcome)
            assert text.startswith(shown(str(path))), text
            assert outcome.problems and all(p.line >= 1 for p in outcome.problems), text
            assert not any(_unsafe(c) for c in text), "the refusal echoes control characters"
        path.unlink()
        return outcome


def _unsafe(ch: str) -> bool:
    return (ord(ch) < 0x20 and ch != "\n") or 0x7F <= ord(ch) < 0xA0 or ch in "\u202e\u2028"


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Ledger:
    folder = tmp_path_factory.mktemp("fuzz-mis")
    return Ledger(f"sqlite:///{folder / 'kiosk.db'}", folder)


KINDS = st.sampled_from(["pupils", "contacts", "staff"])


# ------------------------------------------------------------------------- any bytes


@fuzz_settings(60)
@given(kind=KINDS, data=st.binary(max_size=2000))
def test_any_bytes(ledger: Ledger, kind: str, data: bytes) -> None:
    ledger.attempt(kind, data)


HEADERS = {
    "pupils": "UPN,Forename,Surname,Year,Reg Group,Card UID,Exemptions",
    "contacts": "Adno,Contact Name,Relationship,PR,May Collect,Priority",
    "staff": "Staff Code,Name,Roles,Badge UID",
}


@fuzz_settings(60)
@given(
    kind=KINDS,
    prefix=st.sampled_from([b"", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff"]),
    body=st.binary(max_size=600),
    newline=st.sampled_from([b"\n", b"\r\n", b"\r"]),
)
def test_a_valid_header_then_any_bytes(
    ledger: Ledger, kind: str, prefix: bytes, body: bytes, newline: bytes
) -> None:
    ledger.attempt(kind, prefix + HEADERS[kind].encode() + newline + body)


# ------------------------------------------------------------------------- structured

# Mostly names a school has (accents, apostrophes, hyphens, other scripts), sometimes what
# breaks things: control and bidi characters, quotes, commas, line breaks, huge values.
_letters = st.characters(categories=["L", "M"], max_codepoint=0x2FFF)
_plain = st.text(_letters | st.sampled_from(" '-."), min_size=1, max_size=12)
_nasty = st.text(
    st.characters(codec="utf-8", exclude_characters="\x00")
    | st.sampled_from(["\x1b", "\x9b", "\t", "\r", "\n", '"', ",", "\u202e", "\u2028", "\x7f"]),
    max_size=20,
)
_huge = st.integers(1000, 200_000).map(lambda n: "A" * n)
VALUE = st.one_of(*[_plain] * 12, _nasty, _huge, st.just(""))


def mostly(good: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Usually a value that imports, now and then anything at all."""
    return st.one_of(*[good] * 8, VALUE)


DEMO_IDS = [f"A1000000000{n:02d}" for n in range(1, 11)]
MIS_ID = mostly(st.sampled_from([*DEMO_IDS, "N1", "N2", "N3"]))
UID = mostly(st.sampled_from(["04A1B2C3", "04A1B2C4", "04A1B2C7", "04AA0001", "04:aa:00:02", ""]))
YES_NO = mostly(st.sampled_from(["Yes", "No", "y", "n", ""]))
NAME = mostly(_plain)


def _row(kind: str) -> st.SearchStrategy[list[str]]:
    if kind == "pupils":
        return st.tuples(
            MIS_ID,
            NAME,
            NAME,
            mostly(st.sampled_from(["7", "11"])),
            mostly(st.sampled_from(["7A", "11B", ""])),
            UID,
            mostly(st.sampled_from(["", "medical", "young_carer;medical"])),
        ).map(list)
    if kind == "contacts":
        return st.tuples(
            mostly(st.sampled_from(DEMO_IDS)),
            NAME,
            mostly(st.sampled_from(["Mother", "Carer"])),
            YES_NO,
            YES_NO,
            mostly(st.sampled_from(["1", "2", "", "²", "99999"])),
        ).map(list)
    return st.tuples(
        mostly(st.sampled_from(["OFF1", "DSL1", "NEW1"])),
        NAME,
        mostly(st.sampled_from(["office", "dsl;senior"])),
        UID,
    ).map(list)


ENCODINGS = st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-be-bom", "cp1252"])


def _encode(text: str, encoding: str) -> bytes | None:
    try:
        if encoding == "utf-16-be-bom":
            return b"\xfe\xff" + text.encode("utf-16-be")
        return text.encode(encoding)
    except UnicodeEncodeError:
        return None


@st.composite
def exports(draw: st.DrawFn) -> tuple[str, list[list[str]], str, bytes]:
    kind = draw(KINDS)
    rows = draw(st.lists(_row(kind), min_size=1, max_size=6))
    out = io.StringIO()
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    writer = csv.writer(out, lineterminator=newline)
    writer.writerow(HEADERS[kind].split(","))
    writer.writerows(rows)
    encoding = draw(ENCODINGS)
    data = _encode(out.getvalue(), encoding)
    assume(data is not None)
    assert data is not None
    if draw(st.booleans()) and draw(st.integers(0, 9)) == 0:
        data = data[: draw(st.integers(0, len(data)))]  # a truncated download
    return kind, rows, encoding, data


@fuzz_settings(80)
@given(exports())
def test_structured_exports(
    ledger: Ledger, export: tuple[str, list[list[str]], str, bytes]
) -> None:
    kind, rows, encoding, data = export
    outcome = ledger.attempt(kind, data)
    if isinstance(outcome, ImportRejected):
        return
    if encoding == "cp1252":
        data.decode("utf-8")  # imported only because these bytes are also valid UTF-8
    if kind == "pupils":
        assert isinstance(outcome, dict)
        for row in rows:
            if row[0].strip() in outcome:
                # exactly what the MIS wrote: no mojibake, no NULs from a misread UTF-16
                assert outcome[row[0].strip()] == (row[1].strip(), row[2].strip())


# ------------------------------------------------------------------------- PostgreSQL

PG_URL = os.environ.get("KIOSK_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="module")
def pg_ledger(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The same ledger on PostgreSQL, which (unlike SQLite) enforces column lengths."""
    import uuid

    from sqlalchemy import create_engine, text

    admin = create_engine(PG_URL)
    schema = f"kiosk_fuzz_{uuid.uuid4().hex[:10]}"
    try:
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
    except Exception as exc:
        admin.dispose()
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL at {PG_URL} is required in CI and is not reachable: {exc}")
        pytest.skip(f"no PostgreSQL at {PG_URL}: {type(exc).__name__}")
    folder = tmp_path_factory.mktemp("fuzz-mis-pg")
    url = PG_URL + ("&" if "?" in PG_URL else "?") + f"options=-csearch_path%3D{schema}"
    ledger = Ledger(url, folder, "_postgres")
    yield ledger
    ledger.engine.dispose()
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@pytest.mark.postgres
@fuzz_settings(25)
@given(exports())
def test_structured_exports_on_postgres(
    pg_ledger: Ledger, export: tuple[str, list[list[str]], str, bytes]
) -> None:
    kind, _rows, _encoding, data = export
    pg_ledger.attempt(kind, data)
