"""The trust admin's page: stations and users, and no pupil data at all.

Every change goes through :mod:`central.admin`, the same functions as ``kiosk-central``
(one way to do each thing), with the signed-in admin recorded as who did it. A new
station's credential and a new user's TOTP URI are in the answer to the POST only: never
in a URL, never stored in clear, and the page is ``Cache-Control: no-store``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from central import admin
from central.models import School, Station, User, UserSchool
from central.web.common import DB, Viewer, check_csrf, now, render, require

router = APIRouter(include_in_schema=False)
Admin = Annotated[Viewer, Depends(require("trust_admin"))]
Csrf = Annotated[str, Form(max_length=100)]


def _page(
    request: Request, v: Viewer, s: Session, status_code: int = 200, **extra: Any
) -> HTMLResponse:
    schools = {sc.id: sc.name for sc in s.scalars(select(School))}
    slugs = list(s.execute(select(School.slug, School.name).order_by(School.name)))
    stations = list(s.scalars(select(Station).order_by(Station.station_id)))
    users = list(s.scalars(select(User).order_by(User.username)))
    covers: dict[int, list[str]] = {}
    for user_id, school_id in s.execute(select(UserSchool.user_id, UserSchool.school_id)):
        covers.setdefault(user_id, []).append(schools[school_id])
    extra.setdefault("error", "")
    extra.setdefault("issued", None)
    return render(
        request,
        "admin.html",
        v,
        status_code=status_code,
        schools=schools,
        school_slugs=slugs,
        roles=admin.ROLES,
        stations=stations,
        users=users,
        covers={uid: ", ".join(sorted(names)) for uid, names in covers.items()},
        **extra,
    )


@router.get("/admin", response_class=HTMLResponse)
def admin_page(request: Request, v: Admin, s: DB) -> HTMLResponse:
    return _page(request, v, s)


@router.post("/admin/stations", response_class=HTMLResponse)
def station_add(
    request: Request,
    v: Admin,
    s: DB,
    csrf_token: Csrf,
    station_id: Annotated[str, Form(max_length=64)] = "",
    school: Annotated[str, Form(max_length=64)] = "",
) -> HTMLResponse:
    check_csrf(v, csrf_token)
    try:
        with s.begin_nested():
            issued = admin.add_station(s, station_id.strip(), school, now(request))
    except admin.AdminError as exc:
        return _page(request, v, s, 400, error=str(exc))
    return _page(
        request,
        v,
        s,
        issued={
            "title": f"Station {issued.station.station_id} added",
            "label": "Its credential (shown once; only a hash is kept, so copy it now)",
            "secret": issued.token,
        },
    )


@router.post("/admin/stations/{station_id}/revoke")
def station_revoke(
    request: Request, v: Admin, s: DB, station_id: str, csrf_token: Csrf
) -> Response:
    check_csrf(v, csrf_token)
    try:
        admin.revoke_station(s, station_id, now(request))
    except admin.AdminError as exc:
        return _page(request, v, s, 400, error=str(exc))
    return RedirectResponse("/admin#stations", status_code=303)


@router.post("/admin/users", response_class=HTMLResponse)
def user_add(
    request: Request,
    v: Admin,
    s: DB,
    csrf_token: Csrf,
    username: Annotated[str, Form(max_length=100)] = "",
    display_name: Annotated[str, Form(max_length=200)] = "",
    role: Annotated[str, Form(max_length=20)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
    schools: Annotated[list[str] | None, Form()] = None,
) -> HTMLResponse:
    check_csrf(v, csrf_token)
    try:
        with s.begin_nested():
            added = admin.add_user(
                s,
                username=username.strip(),
                display_name=display_name,
                role=role,
                password=password,
                school_slugs=schools or [],
                now=now(request),
                by=v.user,
            )
    except admin.AdminError as exc:
        return _page(request, v, s, 400, error=str(exc))
    issued = None
    if added.totp_uri:
        issued = {
            "title": f"User {added.user.username} added",
            "label": "Second factor: add this to their authenticator app now (shown once)",
            "secret": added.totp_uri,
        }
    return _page(request, v, s, issued=issued)


@router.post("/admin/users/{username}/schools")
def user_school(
    request: Request,
    v: Admin,
    s: DB,
    username: str,
    csrf_token: Csrf,
    school: Annotated[str, Form(max_length=64)] = "",
    change: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    check_csrf(v, csrf_token)
    try:
        with s.begin_nested():
            if change == "add":
                admin.add_user_school(s, username, school, now(request), by=v.user)
            elif change == "remove":
                admin.remove_user_school(s, username, school, now(request), by=v.user)
            else:
                raise admin.AdminError("choose to add or remove the school")
    except admin.AdminError as exc:
        return _page(request, v, s, 400, error=str(exc))
    return RedirectResponse("/admin#users", status_code=303)
