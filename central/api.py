"""The ingest API, ``/api/v1``: JSON, versioned, described by OpenAPI from ``wire``.

Request and answer bodies are the ``wire`` models, the one definition the kiosk sends with.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from central.ingest import Ingestor, Refusal, authenticate
from wire import IngestAccepted, IngestBatch, IngestRefused

API_PREFIX = "/api/v1"
bearer = HTTPBearer(auto_error=False, description="the station's credential, as issued")
router = APIRouter(prefix=API_PREFIX, tags=["ingest"])

_REFUSED: dict[int | str, dict[str, Any]] = {
    400: {"model": IngestRefused, "description": "body is not JSON (e.g. not UTF-8)"},
    401: {"model": IngestRefused, "description": "no credential, or not one we issued"},
    403: {"model": IngestRefused, "description": "credential revoked or for another station"},
    409: {"model": IngestRefused, "description": "gap, chain break or rewritten event"},
    422: {"model": IngestRefused, "description": "invalid batch: which event and field"},
}


def _ingestor(request: Request) -> Ingestor:
    ingestor: Ingestor = request.app.state.ingestor
    return ingestor


def _credential(
    request: Request,
    station_id: str,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> str:
    """Checked before the body is validated, so a stranger learns nothing about the schema."""
    token = credentials.credentials if credentials else None
    with _ingestor(request).sessions() as s:
        authenticate(s, station_id, token)
    assert token is not None
    return token


@router.post(
    "/stations/{station_id}/events",
    response_model=IngestAccepted,
    responses=_REFUSED,
    summary="Store a batch of a station's hash-chained events",
)
def post_events(
    station_id: str,
    batch: IngestBatch,
    request: Request,
    token: Annotated[str, Depends(_credential)],
) -> IngestAccepted:
    """Idempotent by (station, seq) and hash. Answers the anchor: the newest (seq, hash) held."""
    return _ingestor(request).ingest(station_id, token, batch)


def refusal_response(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Refusal)
    return JSONResponse(exc.answer.model_dump(mode="json"), status_code=exc.status)


def validation_response(request: Request, exc: Exception) -> JSONResponse:
    """A 422 naming the event (its seq) and the field, in the wire's refusal shape."""
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
    loc = [str(part) for part in first.get("loc", ())]
    seq = None
    field = ".".join(loc[1:]) if loc[:1] == ["body"] else ".".join(loc) or None
    error = "invalid"
    if len(loc) >= 3 and loc[:2] == ["body", "events"] and loc[2].isdigit():
        seq = _seq_at(exc.body, int(loc[2]))
        field = ".".join(loc[3:]) or "events"
    elif loc[:2] == ["body", "wire_version"]:
        error = "unsupported_version"
    answer = IngestRefused(
        error=error,
        detail=f"{field or 'body'}: {first.get('msg', 'invalid')}"
        + (f" (event seq {seq})" if seq is not None else "")
        + (f"; {len(errors) - 1} more problem(s)" if len(errors) > 1 else ""),
        seq=seq,
        field=field,
    )
    return JSONResponse(answer.model_dump(mode="json"), status_code=422)


def _seq_at(body: Any, index: int) -> int | None:
    if isinstance(body, (bytes, str)):
        try:
            body = json.loads(body)
        except ValueError:
            return None
    try:
        seq = body["events"][index]["seq"]
    except (KeyError, IndexError, TypeError):
        return None
    return seq if isinstance(seq, int) else None
