"""Sign-in (issue 9): bank-style PINs, escalating lockout, same answer and work for an unknown
badge and a wrong PIN, rate-limited refusal events, unforgeable identities, the permission table.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta

import pytest
from auth_testing import CHEAP, auth_service
from kiosk_testing import T0, Clock
from permission_cases import mismatches, outcome, role_cases, unmapped
from sqlalchemy import select

from db.engine import make_engine, make_session_factory
from db.models import Event, Staff
from kiosk.auth import (
    Argon2Params,
    Argon2PinHasher,
    AuthError,
    AuthSettings,
    Identity,
    NotPermitted,
    PinChangeRequired,
    authorise,
    sign_out,
    system_identity,
)
from kiosk.config import ConfigError, parse_config
from kiosk.demo import DEMO_BADGES
from kiosk.permissions import MATRIX, PERMISSIONS, USE_CASES, Permission, Role, permissions_for
from kiosk.pin_rules import PinLengths, PinRejected, badge_number_forms, check_pin

ANN_BADGE, ANN_PIN = "AB000001", "3917"
SID_BADGE, SID_PIN = "04A1B2C3", "815274"


class CountingHasher(Argon2PinHasher):
    """The real hasher, counting calls: the timing test counts work instead of timing it."""

    def __init__(self, params: Argon2Params = CHEAP) -> None:
        super().__init__(params)
        self.verifies = 0
        self.hashes = 0

    def verify(self, hashed: str, secret: str) -> bool:
        self.verifies += 1
        return super().verify(hashed, secret)

    def hash(self, secret: str) -> str:
        self.hashes += 1
        return super().hash(secret)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sessions(migrated_sqlite):
    engine = make_engine(f"sqlite:///{migrated_sqlite}")
    factory = make_session_factory(engine)
    hasher = Argon2PinHasher(CHEAP)
    with factory.begin() as s:
        s.add_all(
            [
                Staff(
                    staff_code="A",
                    name="Ann",
                    roles=["office"],
                    badge_uid=ANN_BADGE,
                    pin_hash=hasher.hash(ANN_PIN),
                ),
                Staff(
                    staff_code="S",
                    name="Sid",
                    roles=["senior"],
                    badge_uid=SID_BADGE,
                    pin_hash=hasher.hash(SID_PIN),
                ),
            ]
        )
    yield factory
    engine.dispose()


@pytest.fixture
def auth(clock):
    service = auth_service(clock)
    service.hasher = CountingHasher()
    return service


def attempt(sessions, auth, pin, badge=ANN_BADGE):
    """One sign-in attempt, committed whatever happens (as the kiosk does)."""
    with sessions() as s:
        try:
            result: Identity | AuthError = auth.sign_in(s, badge, pin)
        except AuthError as exc:
            result = exc
        s.commit()
        return result


def events(sessions, type_prefix=""):
    with sessions() as s:
        return [
            (e.type, e.actor_id, e.payload)
            for e in s.scalars(select(Event).order_by(Event.id))
            if e.type.startswith(type_prefix)
        ]


# ---------------------------------------------------------------------------- PIN rules
@pytest.mark.parametrize(
    "pin",
    [
        "0000", "1111", "9999",  # one digit
        "1234", "4321", "8901", "9012", "7890", "2468", "9753",  # steps, with wraparound
        "1212", "4545", "123123", "121212",  # repeated blocks
        "2580", "1004", "6969", "1122", "147258", "112233",  # common lists
        "12a4", "١٢٣٤", "123", "123456789",  # not digits, too short, too long
    ],
)  # fmt: skip
def test_trivial_pins_refused(pin):
    with pytest.raises(PinRejected):
        check_pin(pin, roles=["office"], lengths=PinLengths())


@pytest.mark.parametrize("pin", ["3917", "5082", "38271", "40917362"])
def test_ordinary_pins_accepted(pin):
    check_pin(pin, roles=["office"], lengths=PinLengths(), badge_uid="04A1B2C3")


def test_senior_and_dsl_need_six_digits_from_config():
    for role in ("senior", "dsl"):
        with pytest.raises(PinRejected, match="at least 6 digits for senior"):
            check_pin("39175", roles=["teacher", role], lengths=PinLengths())
        check_pin("391752", roles=[role], lengths=PinLengths())
    with pytest.raises(PinRejected, match="at least 7"):
        check_pin("391752", roles=["dsl"], lengths=PinLengths(4, 8, 7))


def test_pin_from_the_badge_refused():
    # The UID's digits, a run of them, and the decimal number printed on many cards.
    uid = "AB731942"
    for pin in ("7319", "731942", "3194"):
        with pytest.raises(PinRejected, match="badge"):
            check_pin(pin, roles=["office"], lengths=PinLengths(), badge_uid=uid)
    printed = str(int(uid, 16))  # 2876455234
    assert printed in badge_number_forms(uid)
    with pytest.raises(PinRejected, match="badge"):
        check_pin(printed[2:7], roles=["office"], lengths=PinLengths(), badge_uid=uid)
    check_pin("3917", roles=["office"], lengths=PinLengths(), badge_uid=uid)


def test_demo_pins_pass_the_rules_for_their_roles():
    for role, (uid, pin) in DEMO_BADGES.items():
        check_pin(pin, roles=[role], lengths=PinLengths(), badge_uid=uid)


# ---------------------------------------------------------------------------- sign-in
def test_right_pin_signs_in_with_a_minted_identity(sessions, auth):
    who = attempt(sessions, auth, ANN_PIN)
    assert isinstance(who, Identity) and who.roles == ("office",) and who.token
    with sessions() as s:
        assert authorise(s, who, Permission.CONFISCATE).name == "Ann"
    assert events(sessions)[-1][:2] == ("auth.signed_in", who.staff_id)


def test_pin_is_stored_as_argon2id_with_the_configured_cost(sessions, auth):
    with sessions() as s:
        h = s.scalars(select(Staff.pin_hash).where(Staff.staff_code == "A")).one()
    assert h.startswith("$argon2id$v=19$m=8,t=1,p=1$") and ANN_PIN not in h


def test_unknown_badge_and_wrong_pin_same_message_same_hashing(sessions, auth):
    """Timing is matched by doing the same work: exactly one Argon2 verify on every path."""
    before = auth.hasher.verifies
    wrong = attempt(sessions, auth, "5082")
    after_wrong = auth.hasher.verifies
    unknown = attempt(sessions, auth, "5082", badge="DEADBEEF")
    after_unknown = auth.hasher.verifies
    assert str(wrong) == str(unknown)
    assert "Wrong PIN" in str(wrong) and "not registered" in str(wrong)
    assert after_wrong - before == 1 and after_unknown - after_wrong == 1
    right = attempt(sessions, auth, ANN_PIN)
    assert isinstance(right, Identity) and auth.hasher.verifies - after_unknown == 1


def test_no_pin_yet_answers_like_a_wrong_pin(sessions, auth):
    with sessions.begin() as s:
        s.scalars(select(Staff).where(Staff.staff_code == "A")).one().pin_hash = None
    before = auth.hasher.verifies
    got = attempt(sessions, auth, ANN_PIN)
    assert str(got) == str(attempt(sessions, auth, ANN_PIN, badge="DEADBEEF"))
    assert auth.hasher.verifies - before == 2


def test_lockout_escalates_then_needs_a_senior(sessions, auth, clock):
    def five_wrong():
        return [str(attempt(sessions, auth, "5082")) for _ in range(5)]

    first = five_wrong()
    assert all("Wrong PIN" in m for m in first)
    assert "Locked for 15 min" in first[-1] and "Locked" not in first[-2]
    clock.now += timedelta(minutes=5)
    locked = attempt(sessions, auth, ANN_PIN)
    assert "Try again in 11 min" in str(locked)
    clock.now += timedelta(minutes=11)
    second = five_wrong()
    assert "Locked for 1 hour" in second[-1]
    clock.now += timedelta(minutes=59)
    assert "Try again in 2 min" in str(attempt(sessions, auth, ANN_PIN))
    clock.now += timedelta(minutes=2)
    third = five_wrong()
    assert "until a senior leader or office administrator unlocks" in third[-1]
    clock.now += timedelta(days=30)
    assert "must unlock this badge" in str(attempt(sessions, auth, ANN_PIN))
    levels = [p["level"] for t, _a, p in events(sessions, "auth.locked_out")]
    assert levels == [1, 2, 3]


def test_locked_badge_still_costs_one_verification(sessions, auth):
    for _ in range(5):
        attempt(sessions, auth, "5082")
    before = auth.hasher.verifies
    attempt(sessions, auth, ANN_PIN)
    assert auth.hasher.verifies - before == 1


def test_success_starts_the_escalation_over(sessions, auth, clock):
    for _ in range(5):
        attempt(sessions, auth, "5082")
    clock.now += timedelta(minutes=16)
    assert isinstance(attempt(sessions, auth, ANN_PIN), Identity)
    msgs = [str(attempt(sessions, auth, "5082")) for _ in range(5)]
    assert "Locked for 15 min" in msgs[-1]


def test_unknown_uid_locks_out_exactly_like_a_real_badge(sessions, auth):
    real = [str(attempt(sessions, auth, "5082")) for _ in range(6)]
    fake = [str(attempt(sessions, auth, "5082", badge="DEADBEEF")) for _ in range(6)]
    assert real == fake


def test_unknown_badge_events_rate_limited_with_count_and_no_uid(sessions, auth, clock):
    for _ in range(30):
        attempt(sessions, auth, "5082", badge="DEADBEEF")
        clock.now += timedelta(seconds=1)
    recorded = events(sessions, "auth.unknown_badge")
    assert [p["attempts"] for _t, _a, p in recorded] == [1]
    clock.now = T0 + timedelta(seconds=61)
    attempt(sessions, auth, "5082", badge="DEADBEEF")
    attempt(sessions, auth, "5082", badge="CAFEF00D")
    recorded = events(sessions, "auth.unknown_badge")
    assert [p["attempts"] for _t, _a, p in recorded] == [1, 30, 1]
    digests = [p["badge"] for _t, _a, p in recorded]
    assert digests[0] == digests[1] != digests[2]
    every_payload = json.dumps([p for _t, _a, p in events(sessions)])
    assert "DEADBEEF" not in every_payload.upper() and "CAFEF00D" not in every_payload.upper()


def test_a_card_cycling_uids_cannot_fill_the_disk_either(sessions, auth, clock):
    with sessions.begin() as s:
        for i in range(500):
            auth.note_unknown_badge(s, f"F00D{i:04X}")
    assert len(events(sessions, "auth.unknown_badge")) == 20
    clock.now += timedelta(minutes=1)
    with sessions.begin() as s:
        auth.note_unknown_badge(s, "F00DFFFF")
    assert events(sessions, "auth.unknown_badge")[-1][2]["others_held_back"] == 480


def test_refusal_payloads_hold_no_personal_data(sessions, auth):
    for _ in range(6):
        attempt(sessions, auth, "5082")
    for type_, actor, payload in events(sessions, "auth."):
        assert actor in (None, 1), type_
        assert "Ann" not in json.dumps(payload) and ANN_BADGE not in json.dumps(payload)


def test_old_hashes_are_rehashed_on_sign_in(sessions, clock):
    stronger = auth_service(clock, argon2=Argon2Params(memory_kib=16, time_cost=2, parallelism=1))
    assert isinstance(attempt(sessions, stronger, ANN_PIN), Identity)
    with sessions() as s:
        h = s.scalars(select(Staff.pin_hash).where(Staff.staff_code == "A")).one()
    assert "m=16,t=2,p=1" in h
    assert isinstance(attempt(sessions, stronger, ANN_PIN), Identity)


# ---------------------------------------------------------------------------- identities
def test_hand_built_or_copied_identities_are_refused(sessions, auth):
    real = attempt(sessions, auth, SID_PIN, badge=SID_BADGE)
    forged = Identity(real.staff_id, "Sid", ("senior",))
    copied = dataclasses.replace(real)
    with_token = Identity(real.staff_id, "Sid", ("senior",), token=real.token)
    with sessions() as s:
        authorise(s, real, Permission.OVERRIDE)
        for fake in (forged, copied, with_token):
            with pytest.raises(NotPermitted, match="Not signed in"):
                authorise(s, fake, Permission.OVERRIDE)


def test_deactivated_or_demoted_staff_stop_at_once(sessions, auth):
    sid = attempt(sessions, auth, SID_PIN, badge=SID_BADGE)
    with sessions.begin() as s:
        authorise(s, sid, Permission.AUTHORISE_SEARCH)
        s.get(Staff, sid.staff_id).roles = ["office"]
    with sessions() as s, pytest.raises(NotPermitted, match=r"Sid \(office\) may not authorise"):
        authorise(s, sid, Permission.AUTHORISE_SEARCH)
    with sessions() as s:
        authorise(s, sid, Permission.RELEASE)  # what office may still do
    with sessions.begin() as s:
        s.get(Staff, sid.staff_id).active = False
    with sessions() as s, pytest.raises(NotPermitted, match="not active"):
        authorise(s, sid, Permission.RELEASE)


def test_signed_out_identity_is_refused(sessions, auth):
    ann = attempt(sessions, auth, ANN_PIN)
    with sessions.begin() as s:
        auth.sign_out(s, ann)
    with sessions() as s, pytest.raises(NotPermitted, match="Not signed in"):
        authorise(s, ann, Permission.CONFISCATE)
    assert events(sessions)[-1][:2] == ("auth.signed_out", ann.staff_id)


def test_refused_use_cases_are_recorded_once_a_minute(sessions, auth, clock):
    ann = attempt(sessions, auth, ANN_PIN)
    for _ in range(4):  # at 0, 25, 50 and 75 s
        with sessions() as s:
            with pytest.raises(NotPermitted) as refused:
                authorise(s, ann, Permission.OVERRIDE)
            auth.record_not_permitted(s, refused.value)
            s.commit()
        clock.now += timedelta(seconds=25)
    got = [(a, p) for _t, a, p in events(sessions, "auth.not_permitted")]
    assert got == [
        (ann.staff_id, {"permission": "override", "attempts": 1}),
        (ann.staff_id, {"permission": "override", "attempts": 3}),
    ]


def test_system_actor_may_only_purge(sessions):
    system = system_identity()
    with sessions() as s:
        assert authorise(s, system, Permission.PURGE) is None
        with pytest.raises(NotPermitted):
            authorise(s, system, Permission.VIEW_HOLDINGS)
    sign_out(system)


# ---------------------------------------------------------------------------- own PIN
def test_change_own_pin_needs_the_current_one(sessions, auth):
    ann = attempt(sessions, auth, ANN_PIN)
    with sessions.begin() as s, pytest.raises(AuthError, match="Wrong current PIN"):
        auth.change_pin(s, ann, "5082", "6294")
    with sessions() as s:
        for bad in ("1234", ANN_PIN, "0001"):
            with pytest.raises(PinRejected):
                auth.change_pin(s, ann, ANN_PIN, bad)
    with sessions.begin() as s:
        auth.change_pin(s, ann, ANN_PIN, "6294")
    assert isinstance(attempt(sessions, auth, "6294"), Identity)
    assert isinstance(attempt(sessions, auth, ANN_PIN), AuthError)
    assert ("staff.pin_changed", ann.staff_id, {"staff": ann.staff_id}) in events(sessions)


def test_guessing_through_change_pin_locks_out_and_ends_the_sign_in(sessions, auth):
    ann = attempt(sessions, auth, ANN_PIN)
    for _ in range(5):
        with sessions() as s:
            with pytest.raises(AuthError):
                auth.change_pin(s, ann, "5082", "6294")
            s.commit()
    with sessions() as s, pytest.raises(NotPermitted):
        authorise(s, ann, Permission.CONFISCATE)
    assert "Locked" in str(attempt(sessions, auth, ANN_PIN))


def test_forced_change_at_next_sign_in(sessions, auth):
    with sessions.begin() as s:
        s.scalars(select(Staff).where(Staff.staff_code == "A")).one().pin_must_change = True
    got = attempt(sessions, auth, ANN_PIN)
    assert isinstance(got, PinChangeRequired) and "must be changed" in str(got)
    with sessions() as s, pytest.raises(PinRejected, match="different"):
        auth.complete_pin_change(s, got.ticket, ANN_PIN)
    with sessions.begin() as s:
        ann = auth.complete_pin_change(s, got.ticket, "6294")
    with sessions() as s:
        authorise(s, ann, Permission.CONFISCATE)
    assert isinstance(attempt(sessions, auth, "6294"), Identity)
    with sessions() as s, pytest.raises(AuthError, match="timed out"):
        auth.complete_pin_change(s, got.ticket, "7403")  # a ticket works once


def test_pin_change_ticket_expires(sessions, auth, clock):
    with sessions.begin() as s:
        s.scalars(select(Staff).where(Staff.staff_code == "A")).one().pin_must_change = True
    got = attempt(sessions, auth, ANN_PIN)
    clock.now += timedelta(minutes=6)
    with sessions() as s, pytest.raises(AuthError, match="timed out"):
        auth.complete_pin_change(s, got.ticket, "6294")


# ---------------------------------------------------------------------------- config
def test_auth_settings_from_config():
    cfg = parse_config(
        {
            "auth": {
                "max_failed_pins": 3,
                "lockout_minutes": 10,
                "second_lockout_minutes": 120,
                "privileged_pin_length": 7,
                "enrolment_code_hours": 24,
                "argon2_memory_kib": 16384,
                "argon2_time_cost": 2,
            }
        }
    )
    s = AuthSettings.from_config(cfg.auth)
    assert s.max_failures == 3
    assert s.lockout_stages == (timedelta(minutes=10), timedelta(hours=2))
    assert s.pin_lengths == PinLengths(4, 8, 7)
    assert s.enrolment_code_ttl == timedelta(hours=24)
    assert s.argon2 == Argon2Params(16384, 2, 1)
    assert AuthSettings.from_config(parse_config({}).auth).argon2 == Argon2Params()


@pytest.mark.parametrize(
    "auth",
    [
        {"pin_min_length": 6, "privileged_pin_length": 5},
        {"argon2_memory_kib": 64},
        {"pin_pepper": "x"},
    ],
)
def test_bad_auth_config_refused_naming_the_key(auth):
    with pytest.raises(ConfigError, match="auth"):
        parse_config({"auth": auth})


# ---------------------------------------------------------------------------- permissions
EXPECTED = {
    # permission: roles that have it (unchanged from before issue 9 where it existed)
    Permission.VIEW_HOLDINGS: {"office", "teacher", "dsl", "senior", "exams"},
    Permission.CONFISCATE: {"office", "teacher", "dsl", "senior"},
    Permission.RELEASE: {"office", "dsl", "senior"},
    Permission.SAFEGUARDING_HOLD: {"dsl", "senior"},
    Permission.POLICE_HANDOVER: {"dsl", "senior"},
    Permission.AUTHORISE_SEARCH: {"senior"},
    Permission.OVERRIDE: {"senior"},
    Permission.EXAM_SESSION: {"exams", "senior"},
    Permission.EXAM_DEPOSIT: {"exams"},
    Permission.HARDWARE: {"technician"},
    Permission.STAFF_ADMIN: {"senior", "office_admin"},
    Permission.GRANT_PRIVILEGED_ROLE: {"senior"},
    Permission.IMPORT_STAFF: {"senior"},
    # The command line's own (issue 9: every CLI change and pupil read names a person).
    Permission.AUDIT_BASELINE: {"senior"},
    Permission.SUBJECT_ACCESS: {"senior", "dsl"},
    Permission.SUBJECT_ERASURE: {"senior"},
    Permission.RESTORE_BACKUP: {"senior"},
    Permission.PURGE: {"senior"},
    Permission.HARDWARE_TEST: {"technician"},
}


@pytest.mark.parametrize("permission", list(EXPECTED))
def test_permission_table(permission):
    assert {r.value for r in PERMISSIONS[permission].roles} == EXPECTED[permission]


def test_every_permission_has_one_rule_with_a_source_and_every_use_case_a_permission():
    assert set(PERMISSIONS) == set(Permission)
    assert all(rule.source for rule in PERMISSIONS.values())
    assert set(USE_CASES.values()) <= set(Permission)
    for use_case in (
        "confiscate", "confirm_deposit", "abort_deposit", "complete_release", "cancel_release",
        "place_hold", "lift_hold", "police_handover", "authorise_search", "override",
        "attach_photo", "open_exam_session", "exam_deposit", "exam_hand_back",
        "set_locker_state", "begin_test_unlock", "import_staff", "purge", "enrol_badge",
    ):  # fmt: skip
        assert use_case in USE_CASES


def test_technician_and_office_admin_see_no_pupil_data():
    for role in ("technician", "office_admin"):
        assert Permission.VIEW_HOLDINGS not in permissions_for([role])


def test_roles_union_and_unknown_roles_grant_nothing():
    assert permissions_for(["teacher", "exams"]) == MATRIX[Role.TEACHER] | MATRIX[Role.EXAMS]
    assert permissions_for(["janitor"]) == frozenset()


# ---------------------------------------------------------------------------- table-driven
class _Service:
    """A stand-in service: two checked use-cases and one that forgot its check."""

    def __init__(self, sessions):
        self.sessions = sessions

    def place_hold(self, who, holding_id):
        with self.sessions() as s:
            authorise(s, who, Permission.SAFEGUARDING_HOLD)
        raise LookupError(f"no holding {holding_id}")

    def release(self, who, holding_id):
        with self.sessions() as s:
            authorise(s, who, Permission.RELEASE)
        raise LookupError(f"no holding {holding_id}")

    def authorise_search(self, who, holding_id):  # forgot to check
        raise LookupError(f"no holding {holding_id}")


@pytest.fixture
def people(sessions, auth):
    """One signed-in member of staff per role, minted for real."""
    hasher = Argon2PinHasher(CHEAP)
    with sessions.begin() as s:
        for i, role in enumerate(Role):
            s.add(
                Staff(
                    staff_code=f"R{i}",
                    name=role.value,
                    roles=[role.value],
                    badge_uid=f"B0B0{i:04X}",
                    pin_hash=hasher.hash("40917362"),
                )
            )
    return {
        role: attempt(sessions, auth, "40917362", badge=f"B0B0{i:04X}")
        for i, role in enumerate(Role)
    }


def test_generated_matrix_catches_a_use_case_without_a_check(sessions, people):
    service = _Service(sessions)
    cases = {
        "place_hold": (lambda who: service.place_hold(who, 999), Permission.SAFEGUARDING_HOLD),
        "release": (lambda who: service.release(who, 999), Permission.RELEASE),
    }
    assert mismatches(cases, people.__getitem__) == []
    assert len(role_cases(cases)) == 2 * len(Role)
    assert unmapped(service, cases) == ["authorise_search"]
    cases["authorise_search"] = (
        lambda who: service.authorise_search(who, 999),
        Permission.AUTHORISE_SEARCH,
    )
    wrong = mismatches(cases, people.__getitem__)
    assert len(wrong) == len(Role) - 1 and all(w.startswith("authorise_search") for w in wrong)
    assert outcome(cases["place_hold"][0], Identity(1, "forged", ("senior",))) is False
