"""The trust admin's page: stations and users, and no pupil data at all."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from central.models import School, Station, User, UserSchool
from central.web.common import DB, Viewer, render, require

router = APIRouter(include_in_schema=False)
Admin = Annotated[Viewer, Depends(require("trust_admin"))]


@router.get("/admin", response_class=HTMLResponse)
def admin_page(request: Request, v: Admin, s: DB) -> HTMLResponse:
    schools = {sc.id: sc.name for sc in s.scalars(select(School))}
    stations = list(s.scalars(select(Station).order_by(Station.station_id)))
    users = list(s.scalars(select(User).order_by(User.username)))
    covers: dict[int, list[str]] = {}
    for user_id, school_id in s.execute(select(UserSchool.user_id, UserSchool.school_id)):
        covers.setdefault(user_id, []).append(schools[school_id])
    return render(
        request,
        "admin.html",
        v,
        schools=schools,
        stations=stations,
        users=users,
        covers={uid: ", ".join(sorted(names)) for uid, names in covers.items()},
    )
