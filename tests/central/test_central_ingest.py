"""The ingest API on SQLite and PostgreSQL: store once, refuse gaps, breaks and rewrites."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from central import admin
from central.models import Case, Event, Pupil
from central.sample import SampleStation
from wire import GENESIS_HASH, IngestAccepted, IngestRefused

URL = "/api/v1/stations/{}/events"


def post(central: Any, station: SampleStation, body: dict[str, Any], token: str | None = None):
    headers = {}
    token = central.tokens.get(station.station_id) if token is None else token
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return central.client.post(URL.format(station.station_id), json=body, headers=headers)


def oak(n_confiscations: int = 2) -> SampleStation:
    st = SampleStation("oak-1")
    st.pupil(11, "MIS-0011", "Amara", "Okafor", "9")
    st.pupil(12, "MIS-0012", "Ben", "Hughes", "10")
    st.append("station.started", actor_id=None)
    for i in range(n_confiscations):
        st.confiscate(100 + i, 11 + i % 2)
    return st


def count(central: Any, model: Any, **where: Any) -> int:
    with central.sessions() as s:
        q = select(func.count()).select_from(model)
        for key, value in where.items():
            q = q.where(getattr(model, key) == value)
        return s.scalar(q) or 0


def tamper_alerts(central: Any) -> list[Case]:
    with central.sessions() as s:
        return list(s.scalars(select(Case).where(Case.category == "tamper")))


def test_batch_is_stored_and_answered_with_the_anchor(central):
    st = oak()
    res = post(central, st, st.batch().model_dump(mode="json"))
    assert res.status_code == 200, res.text
    answer = IngestAccepted.model_validate(res.json())
    assert answer.stored == len(st.events) == 7
    assert answer.duplicates == 0
    assert (answer.anchor.seq, answer.anchor.hash) == (7, st.head)
    assert count(central, Event) == 7
    # Two incidents reach the tray, untriaged, each linked to its pupil by the holding.
    with central.sessions() as s:
        cases = list(s.scalars(select(Case).order_by(Case.id)))
        names = [s.get(Pupil, c.pupil_pk).given_name for c in cases]  # type: ignore[union-attr]
    assert [c.category for c in cases] == ["incident", "incident"]
    assert {c.status for c in cases} == {"untriaged"}
    assert names == ["Amara", "Ben"]


def test_same_batch_twice_stores_once(central):
    st = oak()
    body = st.batch().model_dump(mode="json")
    assert post(central, st, body).status_code == 200
    again = post(central, st, body)
    assert again.status_code == 200
    answer = IngestAccepted.model_validate(again.json())
    assert (answer.stored, answer.duplicates) == (0, 7)
    assert answer.anchor.seq == 7
    assert count(central, Event) == 7
    assert count(central, Case) == 2


def test_overlapping_batch_stores_only_the_new_events(central):
    st = oak()
    assert post(central, st, st.batch(1, 4).model_dump(mode="json")).status_code == 200
    res = post(central, st, st.batch(3, 7).model_dump(mode="json"))
    answer = IngestAccepted.model_validate(res.json())
    assert (answer.stored, answer.duplicates, answer.anchor.seq) == (3, 2, 7)
    assert count(central, Event) == 7


def test_gap_is_refused_and_stores_nothing(central):
    st = oak()
    assert post(central, st, st.batch(1, 3).model_dump(mode="json")).status_code == 200
    res = post(central, st, st.batch(5, 7).model_dump(mode="json"))
    assert res.status_code == 409
    refused = IngestRefused.model_validate(res.json())
    assert (refused.error, refused.seq, refused.field) == ("gap", 5, "seq")
    assert refused.anchor is not None and refused.anchor.seq == 3
    assert count(central, Event) == 3
    assert tamper_alerts(central) == []  # a gap is a resend, not tampering


def test_chain_break_is_refused_and_raises_a_tamper_alert(central):
    st = oak()
    assert post(central, st, st.batch(1, 3).model_dump(mode="json")).status_code == 200
    # A different history from seq 4 on: a chain that does not continue the held one.
    other = SampleStation("oak-1")
    for _ in range(4):
        other.append("station.started", actor_id=None)
    res = post(central, st, other.batch(4, 4).model_dump(mode="json"))
    assert res.status_code == 409
    refused = IngestRefused.model_validate(res.json())
    assert (refused.error, refused.seq, refused.field) == ("chain_break", 4, "prev_hash")
    assert count(central, Event) == 3
    alerts = tamper_alerts(central)
    assert len(alerts) == 1 and alerts[0].status == "untriaged"
    assert alerts[0].detail["seq"] == 4
    # The kiosk retries: refused again, but the DSL gets one alert, not one per retry.
    assert post(central, st, other.batch(4, 4).model_dump(mode="json")).status_code == 409
    assert len(tamper_alerts(central)) == 1


def test_event_whose_hash_does_not_cover_it_is_a_chain_break(central):
    st = oak()
    body = st.batch().model_dump(mode="json")
    body["events"][2]["payload"] = {"kind": "confiscation", "category": "something_else"}
    res = post(central, st, body)
    assert res.status_code == 409
    refused = IngestRefused.model_validate(res.json())
    assert (refused.error, refused.seq, refused.field) == ("chain_break", 3, "hash")
    assert count(central, Event) == 0
    assert len(tamper_alerts(central)) == 1


def test_rewritten_event_is_refused_and_raises_a_tamper_alert(central):
    st = oak()
    assert post(central, st, st.batch().model_dump(mode="json")).status_code == 200
    # Someone with a shell on the Pi rewrites event 5 and re-hashes the chain from there.
    forged = SampleStation("oak-1")
    for ev in st.events[:4]:
        forged.events.append(ev)
    forged.append("holding.held", holding_id=100, previous="forged")
    res = post(central, st, forged.batch(5, 5).model_dump(mode="json"))
    assert res.status_code == 409
    refused = IngestRefused.model_validate(res.json())
    assert (refused.error, refused.seq) == ("rewritten", 5)
    assert refused.anchor is not None and refused.anchor.hash == st.head
    with central.sessions() as s:
        held = s.scalar(select(Event.hash).where(Event.seq == 5))
    assert held == st.events[4].hash
    assert [a.detail["error"] for a in tamper_alerts(central)] == ["rewritten"]


def test_wrong_missing_and_revoked_credentials(central):
    st = oak()
    body = st.batch().model_dump(mode="json")
    assert post(central, st, body, token="kcs_not-a-real-one").status_code == 401
    missing = post(central, st, body, token="")
    assert missing.status_code == 401
    assert IngestRefused.model_validate(missing.json()).error == "unauthorised"
    # Another station's real credential is refused for this station.
    wrong = post(central, st, body, token=central.tokens["oak-2"])
    assert wrong.status_code == 403
    assert IngestRefused.model_validate(wrong.json()).error == "wrong_station"
    with central.sessions.begin() as s:
        admin.revoke_station(s, "oak-1", central.clock())
    revoked = post(central, st, body)
    assert revoked.status_code == 403
    assert IngestRefused.model_validate(revoked.json()).error == "revoked"
    assert count(central, Event) == 0


def test_credential_is_checked_before_the_body(central):
    res = central.client.post(URL.format("oak-1"), json={"nonsense": True})
    assert res.status_code == 401


def test_invalid_event_names_its_seq_and_field(central):
    st = oak()
    body = st.batch().model_dump(mode="json")
    body["events"][3]["occurred_at"] = "2026-11-02T09:00:00"  # no offset
    res = post(central, st, body)
    assert res.status_code == 422
    refused = IngestRefused.model_validate(res.json())
    assert (refused.error, refused.seq, refused.field) == ("invalid", 4, "occurred_at")
    assert "UTC" in refused.detail
    assert count(central, Event) == 0


def test_batch_for_another_station_in_the_body_is_refused(central):
    st = oak()
    body = st.batch().model_dump(mode="json")
    body["station_id"] = "oak-2"
    res = post(central, st, body)
    assert res.status_code == 422
    assert IngestRefused.model_validate(res.json()).field == "station_id"


def test_first_batch_must_start_from_genesis(central):
    st = oak()
    res = post(central, st, st.batch(2, 4).model_dump(mode="json"))
    assert res.status_code == 409
    refused = IngestRefused.model_validate(res.json())
    assert refused.error == "gap" and refused.anchor is not None
    assert (refused.anchor.seq, refused.anchor.hash) == (0, GENESIS_HASH)


def test_pupils_are_one_row_per_school_across_stations(central):
    a = oak(1)
    b = SampleStation("oak-2")
    b.pupil(7, "MIS-0011", "Amara", "Okafor-Smith", "9")  # same MIS id, a corrected name
    b.confiscate(1, 7)
    assert post(central, a, a.batch().model_dump(mode="json")).status_code == 200
    assert post(central, b, b.batch().model_dump(mode="json")).status_code == 200
    with central.sessions() as s:
        pupils = list(s.scalars(select(Pupil).where(Pupil.mis_id == "MIS-0011")))
        assert len(pupils) == 1 and pupils[0].family_name == "Okafor-Smith"
        linked = set(s.scalars(select(Event.station_pk).where(Event.pupil_pk == pupils[0].id)))
    assert len(linked) == 2  # the chronology spans both stations


def test_body_that_is_not_json_is_refused_in_the_wire_shape(central):
    res = central.client.post(
        URL.format("oak-1"),
        content=b"\xffnot json",
        headers={
            "Authorization": f"Bearer {central.tokens['oak-1']}",
            "Content-Type": "application/json",
        },
    )
    assert res.status_code in (400, 422)
    assert IngestRefused.model_validate(res.json()).error == "invalid"


def test_refusals_reach_the_tray_only_for_a_barred_adult(central):
    """Issue 9: a policy refusal at the release form (``release.policy_refused``) is stored;
    a barred contact goes to the DSL's tray as a refused collection, a routine one does not."""
    st = oak(n_confiscations=1)
    rules = {"rules": ["may_not_collect"], "citations": ["000 'Personal mobile phones'"]}
    st.append("release.policy_refused", holding_id=100, pupil_id=11, barred=False, **rules)
    st.append("release.policy_refused", holding_id=100, pupil_id=11, barred=True, **rules)
    st.append("alarm.acknowledged", alarms=["forced:A7"])
    res = post(central, st, st.batch().model_dump(mode="json"))
    assert res.status_code == 200, res.text
    assert count(central, Event, type="release.policy_refused") == 2
    assert count(central, Event, type="alarm.acknowledged") == 1
    with central.sessions() as s:
        refused = list(s.scalars(select(Case).where(Case.category == "refused_collection")))
    assert len(refused) == 1 and refused[0].status == "untriaged"
