"""The governors' termly report: anonymised counts, small numbers suppressed, charts, CSV.

Nothing on it comes from a name, an MIS id, a note or a free-text field: only category,
year group, week and outcome, each count of 1-4 shown as "<5" (seeds 001 and 003 §9:
incidents reviewed by governors, with anonymous reports).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from central import queries
from central.models import School
from central.web.common import DB, Viewer, render, require

router = APIRouter(include_in_schema=False)
Reader = Annotated[Viewer, Depends(require("governor", "dsl", "senior_leader", "trust_admin"))]
TERM = dt.timedelta(weeks=13)


def _range(request: Request, date_from: str | None, date_to: str | None) -> tuple[dt.date, dt.date]:
    today = request.app.state.clock().date()
    try:
        end = dt.date.fromisoformat(date_to) if date_to else today
    except ValueError:
        end = today
    try:
        start = dt.date.fromisoformat(date_from) if date_from else end - TERM
    except ValueError:
        start = end - TERM
    if start > end:
        start, end = end, start
    return start, end


def _report(
    request: Request, v: Viewer, s: DB, date_from: str | None, date_to: str | None
) -> tuple[queries.Report, str]:
    start, end = _range(request, date_from, date_to)
    report = queries.governors_report(s, v.schools, start, end)
    if v.schools is None:
        return report, "All schools in the trust"
    names = s.scalars(
        select(School.name).where(School.id.in_(sorted(v.schools))).order_by(School.name)
    )
    return report, ", ".join(names) or "No school"


@router.get("/report", response_class=HTMLResponse)
def report_page(
    request: Request,
    v: Reader,
    s: DB,
    date_from: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    date_to: Annotated[str | None, Query(alias="to", max_length=10)] = None,
) -> HTMLResponse:
    report, school = _report(request, v, s, date_from, date_to)
    return render(
        request,
        "report.html",
        v,
        report=report,
        school=school,
        charts=[(table, bars(table)) for table in report.tables],
    )


@router.get("/report.csv")
def report_csv(
    request: Request,
    v: Reader,
    s: DB,
    date_from: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    date_to: Annotated[str | None, Query(alias="to", max_length=10)] = None,
) -> Response:
    report, school = _report(request, v, s, date_from, date_to)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["school", "from", "to", "dimension", "value", "count"])
    for table in report.tables:
        for label, shown in table.shown:
            writer.writerow([school, report.date_from, report.date_to, table.title, label, shown])
        writer.writerow(
            [school, report.date_from, report.date_to, table.title, "Total", table.total]
        )
    name = f"governors-report-{report.date_from}-{report.date_to}.csv"
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def bars(table: queries.CountTable) -> list[dict[str, object]]:
    """Bar geometry for the inline SVG chart; a suppressed count draws no length."""
    numbers = [int(shown) for _, shown in table.shown if shown.isdigit()]
    top = max(numbers, default=0) or 1
    out = []
    for i, (label, shown) in enumerate(table.shown):
        width = round(200 * int(shown) / top) if shown.isdigit() else 0
        out.append({"y": 6 + i * 26, "label": label, "shown": shown, "width": width})
    return out
