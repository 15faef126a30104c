"""Subject access (export) and erasure for one pupil: what is handed over, what is removed,
what is kept (safeguarding records, with the ground recorded), and that the chain verifies."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from auth_testing import GOOD_PIN
from click.testing import CliRunner
from dp_school import (
    RITA,
    SAM,
    copy_school,
    leftovers,
    make_template,
    rita_exam,
    rita_routine_confiscation,
    sam_safeguarding,
)
from kiosk_testing import T0
from sqlalchemy import select

from db.models import ErasureRequest, Event, ExamSession, Holding, Pupil, Staff
from kiosk.cli import main
from kiosk.demo import write_config_file
from kiosk.subject_access import SAFEGUARDING_GROUND, SubjectError, erase_pupil, export_pupil


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return make_template(tmp_path_factory)


@pytest.fixture
def school(tmp_path, template):
    s = copy_school(template, tmp_path)
    rita_routine_confiscation(s)
    rita_exam(s)
    sam_safeguarding(s)
    yield s
    s.ctx.close()


def _export(school, mis_id: str) -> dict:
    with school.ctx.sessions.begin() as s:
        return export_pupil(s, mis_id, actor=7, now=T0, station_id="demo-office")


def _erase(school, mis_id: str, reason: str = "Art. 17 request received 20 Nov") -> object:
    with school.ctx.sessions.begin() as s:
        return erase_pupil(
            s,
            mis_id,
            reason=reason,
            actor=school.staff["dsl"].staff_id,
            now=T0 + timedelta(days=30),
            station_id="demo-office",
            profile=school.ctx.profile,
        )


def test_export_holds_everything_about_one_pupil_and_nothing_about_another(school):
    data = _export(school, RITA["mis"])
    text = json.dumps(data)  # JSON-ready throughout
    assert data["pupil"]["mis_id"] == RITA["mis"] and data["pupil"]["card_uid"] == RITA["card"]
    assert [c["name"] for c in data["contacts"]] == [RITA["contact"]]
    (holding,) = data["holdings"]
    assert holding["device_description"] == RITA["device"]
    assert holding["collector_name"] == RITA["contact"] and holding["id_type_seen"]
    assert [i["summary"] for i in data["incidents"]] == [RITA["reason"]]
    assert [e["name"] for e in data["exam_sessions"]] == [RITA["exam"]]
    types = [e["type"] for e in data["events"]]
    assert "holding.depositing" in types and "holding.released" in types
    assert leftovers(text, SAM) == []
    with school.ctx.sessions() as s:
        ev = s.scalars(select(Event).where(Event.type == "subject.exported")).one()
    assert ev.actor_id == 7 and ev.payload == {"pupil_id": school.ids[RITA["given"]]}
    assert school.chain_ok()


def test_export_of_someone_not_held_says_so(school):
    with pytest.raises(SubjectError, match="no pupil with MIS id"):
        _export(school, "NOBODY")


def test_erasure_removes_every_identifying_value_and_the_chain_verifies(school):
    result = _erase(school, RITA["mis"])
    assert result.removed["holdings"] == 1 and result.removed["incidents"] == 1
    assert result.removed["contacts"] == 1 and result.removed["pupil"] == 1
    assert result.kept == {"safeguarding_holdings": 0, "safeguarding_incidents": 0}
    dump = school.dump()
    # the teacher and the exam (other candidates sit it too) are not the subject
    pupil_values = {k: v for k, v in RITA.items() if not k.startswith(("teacher", "exam"))}
    assert leftovers(dump, pupil_values) == []
    with school.ctx.sessions() as s:
        assert s.scalars(select(ExamSession)).one().candidates == []
        req = s.scalars(select(ErasureRequest)).one()
        assert req.reason.startswith("Art. 17") and req.actor_id == school.staff["dsl"].staff_id
        ev = s.scalars(select(Event).where(Event.type == "subject.erased")).one()
    assert ev.payload["removed"]["holdings"] == 1 and "reason" not in ev.payload
    assert school.chain_ok()
    with pytest.raises(SubjectError):
        _erase(school, RITA["mis"])  # nothing left to erase


def test_erasure_keeps_safeguarding_records_and_records_why(school):
    result = _erase(school, SAM["mis"])
    assert result.kept == {"safeguarding_holdings": 1, "safeguarding_incidents": 1}
    assert result.ground == SAFEGUARDING_GROUND and result.removed["pupil"] == 0
    dump = school.dump()
    assert SAM["police"] in dump and SAM["mis"] in dump  # the safeguarding record stays
    assert SAM["card"] not in dump and SAM["contact"] not in dump  # the rest goes
    with school.ctx.sessions() as s:
        req = s.scalars(select(ErasureRequest)).one()
        assert req.kept["ground"] == SAFEGUARDING_GROUND
        assert s.scalars(select(Pupil).where(Pupil.mis_id == SAM["mis"])).one().contacts == []
    assert school.chain_ok()


def test_erasure_is_refused_while_a_phone_is_still_held(school):
    school.clock.at(12)
    h, _ = school.custody.confiscate(
        school.staff["office"],
        pupil_id=school.ids[RITA["given"]],
        category="unauthorised_use",
        device_description="phone",
        switched_off_confirmed=True,
    )
    with pytest.raises(SubjectError, match="still held"):
        _erase(school, RITA["mis"])
    with school.ctx.sessions() as s:
        assert s.get(Holding, h.id) is not None
    with pytest.raises(SubjectError, match="reason"):
        _erase(school, SAM["mis"], reason="  ")


def test_cli_export_erase_and_purge_dry_run(school):
    config = write_config_file(school.folder)
    school.ctx.engine.dispose()

    senior, dsl, office = (
        school.staff[r] for r in ("senior", "dsl", "office")
    )  # signed in with GOOD_PIN by staff_identities
    with school.ctx.sessions() as s:
        badge = {who: s.get(Staff, who.staff_id).badge_uid for who in (senior, dsl, office)}

    def run(*args: str, who=senior):
        return CliRunner().invoke(
            main,
            ["--config", str(config), *args, "--badge", badge[who]],
            catch_exceptions=False,
            input=f"{GOOD_PIN}\n",
        )

    out = school.folder / "rita.json"
    refused = run("subject", "export", "--pupil", RITA["mis"], "--out", str(out), who=office)
    assert refused.exit_code == 2 and "may not subject access" in refused.output
    assert not out.exists()
    result = run("subject", "export", "--pupil", RITA["mis"], "--out", str(out), who=dsl)
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["pupil"]["given_name"] == RITA["given"]
    with school.ctx.sessions() as s:
        ev = s.scalars(select(Event).where(Event.type == "subject.exported")).one()
        assert ev.actor_id == dsl.staff_id
    refused = run("subject", "erase", "--pupil", RITA["mis"], "--reason", "Art. 17", who=dsl)
    assert refused.exit_code == 2 and "may not subject erasure" in refused.output
    result = run("subject", "erase", "--pupil", RITA["mis"], "--reason", "Art. 17 request")
    assert result.exit_code == 0 and "removed 1 holdings" in result.output
    with school.ctx.sessions() as s:
        ev = s.scalars(select(Event).where(Event.type == "subject.erased")).one()
        assert ev.actor_id == senior.staff_id
    result = run("subject", "erase", "--pupil", SAM["mis"], "--reason", "Art. 17 request")
    assert result.exit_code == 0 and "kept 1 safeguarding_holdings" in result.output
    result = run("subject", "erase", "--pupil", "NOBODY", "--reason", "x")
    assert result.exit_code == 2 and "no pupil with MIS id" in result.output
    result = run("purge", "--dry-run")
    assert result.exit_code == 0 and "would delete (by kind, no names)" in result.output
    assert "closed holdings (safeguarding)" in result.output
    assert leftovers(result.output, SAM) == [] and leftovers(result.output, RITA) == []
    verify = CliRunner().invoke(main, ["--config", str(config), "audit", "verify"])
    assert verify.exit_code == 0, verify.output


def test_subject_commands_have_help():
    for cmd in (["subject"], ["subject", "export"], ["subject", "erase"]):
        result = CliRunner().invoke(main, [*cmd, "--help"])
        assert result.exit_code == 0 and "pupil" in result.output.lower(), cmd
