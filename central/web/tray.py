"""The DSL's tray: new incidents and safeguarding events, a case, a pupil's chronology.

Every view of a case or a pupil is logged (who looked at what); every change goes through
:mod:`central.casework`, which records it as an append-only entry.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from central import casework, queries
from central.models import Case, Pupil, School, Station, User, UserSchool
from central.triage import ACTIONS, CATEGORIES, OUTCOMES, STATUSES
from central.web.common import DB, Forbidden, NameReader, check_csrf, now, render, users_named
from central.web.words import describe_event

router = APIRouter(include_in_schema=False)


def _date(text: str | None) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def _int(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() else None


@router.get("/tray", response_class=HTMLResponse)
def tray_page(
    request: Request,
    v: NameReader,
    s: DB,
    school: Annotated[str | None, Query(max_length=20)] = None,
    pupil: Annotated[str | None, Query(max_length=20)] = None,
    category: Annotated[str | None, Query(max_length=40)] = None,
    status: Annotated[str | None, Query(max_length=20)] = None,
    date_from: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    date_to: Annotated[str | None, Query(alias="to", max_length=10)] = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    page: Annotated[int, Query(ge=1, le=10000)] = 1,
) -> HTMLResponse:
    f = queries.TrayFilter(
        school_id=_int(school),
        pupil_id=_int(pupil),
        category=category if category in CATEGORIES else None,
        status=status if status in STATUSES else None,
        date_from=_date(date_from),
        date_to=_date(date_to),
        q=(q or "").strip() or None,
        page=page,
    )
    rows, more = queries.tray(s, v.user, f)
    # The school filter: for a user of the whole trust or of several schools, only theirs.
    school_q = select(School).order_by(School.name)
    if v.schools is not None:
        school_q = school_q.where(School.id.in_(sorted(v.schools)))
    schools = list(s.scalars(school_q)) if v.schools is None or len(v.schools) > 1 else []
    return render(
        request,
        "tray.html",
        v,
        has_names=True,
        rows=rows,
        more=more,
        f=f,
        schools=schools,
        school_names={sc.id: sc.name for sc in schools},
        categories=CATEGORIES,
        statuses=STATUSES,
        untriaged=queries.untriaged_count(s, v.user),
        args={
            "school": school or "",
            "pupil": pupil or "",
            "category": f.category or "",
            "status": f.status or "",
            "from": date_from or "",
            "to": date_to or "",
            "q": q or "",
        },
    )


def _case(s: DB, v: NameReader, case_id: int) -> Case:
    case = s.get(Case, case_id)
    if case is None or not v.may_see(case.school_id):
        raise Forbidden()  # the same answer for "no such case" and "not yours"
    return case


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case_page(
    request: Request, v: NameReader, s: DB, case_id: int, error: str = ""
) -> HTMLResponse:
    case = _case(s, v, case_id)
    pupil = s.get(Pupil, case.pupil_pk) if case.pupil_pk else None
    casework.log_view(
        s, v.user, now(request), f"case {case.id}", pupil_pk=case.pupil_pk, case_id=case.id
    )
    entries = casework.entries(s, case)
    names = users_named(s, {e.user_id for e in entries if e.user_id})
    station = s.get(Station, case.station_pk)
    colleagues = list(
        s.scalars(
            select(User)
            .join(UserSchool, UserSchool.user_id == User.id)
            .where(UserSchool.school_id == case.school_id)
            .where(User.role.in_(["dsl", "senior_leader"]), User.disabled_at.is_(None))
            .order_by(User.display_name)
        )
    )
    chronology = queries.chronology(s, pupil) if pupil else []
    return render(
        request,
        "case.html",
        v,
        has_names=True,
        case=case,
        pupil=pupil,
        station=station.station_id if station else "",
        entries=entries,
        names=names,
        chronology=[(item, describe_event(item.type, item.payload)) for item in chronology],
        colleagues=colleagues,
        assignee=users_named(s, {case.assignee_id}).get(case.assignee_id, "")
        if case.assignee_id
        else "",
        actions=ACTIONS,
        outcomes=OUTCOMES,
        categories=CATEGORIES,
        done={e.body.get("action") for e in entries if e.kind == "action"},
        error=error,
    )


@router.get("/pupils/{pupil_id}", response_class=HTMLResponse)
def pupil_page(request: Request, v: NameReader, s: DB, pupil_id: int) -> HTMLResponse:
    pupil = s.get(Pupil, pupil_id)
    if pupil is None or not v.may_see(pupil.school_id):
        raise Forbidden()
    casework.log_view(s, v.user, now(request), f"pupil {pupil.id}", pupil_pk=pupil.id)
    cases = list(s.scalars(select(Case).where(Case.pupil_pk == pupil.id).order_by(Case.opened_at)))
    chronology = queries.chronology(s, pupil)
    return render(
        request,
        "pupil.html",
        v,
        has_names=True,
        pupil=pupil,
        cases=cases,
        categories=CATEGORIES,
        chronology=[(item, describe_event(item.type, item.payload)) for item in chronology],
    )


def _change(
    request: Request, v: NameReader, s: DB, case_id: int, csrf_token: str, change: str, arg: str
) -> Response:
    check_csrf(v, csrf_token)
    case = _case(s, v, case_id)
    moment = now(request)
    try:
        if change == "note":
            casework.add_note(s, case, v.user, arg, moment)
        elif change == "action":
            casework.mark_action(s, case, v.user, arg, moment)
        elif change == "assign":
            casework.assign(s, case, v.user, int(arg) if arg.isdigit() else -1, moment)
        elif change == "triage":
            casework.triage(s, case, v.user, moment)
        elif change == "close":
            casework.close(s, case, v.user, arg, moment)
        elif change == "reopen":
            casework.reopen(s, case, v.user, moment)
    except casework.CaseError as exc:
        s.rollback()
        return RedirectResponse(
            request.url_for("case_page", case_id=case_id).include_query_params(error=str(exc)),
            status_code=303,
        )
    return RedirectResponse(f"/cases/{case_id}#history", status_code=303)


Csrf = Annotated[str, Form(max_length=100)]


@router.post("/cases/{case_id}/note")
def note(
    request: Request,
    v: NameReader,
    s: DB,
    case_id: int,
    csrf_token: Csrf,
    text: Annotated[str, Form(max_length=6000)] = "",
) -> Response:
    return _change(request, v, s, case_id, csrf_token, "note", text)


@router.post("/cases/{case_id}/action")
def action(
    request: Request,
    v: NameReader,
    s: DB,
    case_id: int,
    csrf_token: Csrf,
    action: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    return _change(request, v, s, case_id, csrf_token, "action", action)


@router.post("/cases/{case_id}/assign")
def assign(
    request: Request,
    v: NameReader,
    s: DB,
    case_id: int,
    csrf_token: Csrf,
    assignee: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    return _change(request, v, s, case_id, csrf_token, "assign", assignee)


@router.post("/cases/{case_id}/triage")
def triage(request: Request, v: NameReader, s: DB, case_id: int, csrf_token: Csrf) -> Response:
    return _change(request, v, s, case_id, csrf_token, "triage", "")


@router.post("/cases/{case_id}/close")
def close(
    request: Request,
    v: NameReader,
    s: DB,
    case_id: int,
    csrf_token: Csrf,
    outcome: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    return _change(request, v, s, case_id, csrf_token, "close", outcome)


@router.post("/cases/{case_id}/reopen")
def reopen(request: Request, v: NameReader, s: DB, case_id: int, csrf_token: Csrf) -> Response:
    return _change(request, v, s, case_id, csrf_token, "reopen", "")
