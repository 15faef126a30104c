"""The ingest API, ``/api/v1``: JSON, versioned, described by OpenAPI from ``wire``.

Request and answer bodies are the ``wire`` models, the one definition the kiosk sends with.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import ValidationError

from central.ingest import Ingestor, Refusal
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


async def _raw_body(request: Request) -> bytes:
    return await request.body()


_BATCH_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/IngestBatch"}}},
    }
}
"""The body is ``wire.IngestBatch``, documented here because the handler parses it itself
(see :func:`post_events`); :func:`install_batch_schema` puts the model in the components."""


@router.post(
    "/stations/{station_id}/events",
    response_model=IngestAccepted,
    responses=_REFUSED,
    summary="Store a batch of a station's hash-chained events",
    openapi_extra=_BATCH_BODY,
)
def post_events(
    station_id: str,
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    body: Annotated[bytes, Depends(_raw_body)],
) -> IngestAccepted:
    """Idempotent by (station, seq) and hash. Answers the anchor: the newest (seq, hash) held."""
    # The credential is checked first, in the transaction that stores the batch (one
    # connection, one statement that also takes the station's row lock); only then is the
    # body parsed, by pydantic straight from the bytes (model_validate_json: about half the
    # CPU of FastAPI's json.loads followed by validating the Python objects), so a
    # stranger's body is never even parsed.
    token = credentials.credentials if credentials else None
    content_type = request.headers.get("content-type")
    return _ingestor(request).ingest(station_id, token, lambda: parse_batch(body, content_type))


def parse_batch(body: bytes, content_type: str | None) -> IngestBatch:
    """The batch in ``body``, or the refusal FastAPI would have given for it.

    Not JSON at all (not UTF-8): 400. Malformed JSON, a content type that is not JSON, or
    a batch that does not validate: 422 naming the event and field, as for any body.
    """
    if content_type:
        kind = content_type.split(";", 1)[0].strip().lower()
        if kind != "application/json" and not kind.endswith("+json"):
            raise RequestValidationError(
                [
                    {
                        "type": "model_attributes_type",
                        "loc": ("body",),
                        "msg": "send JSON (Content-Type: application/json)",
                        "input": None,
                    }
                ],
                body=None,
            )
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Refusal(
            400, IngestRefused(error="invalid", detail=f"body: not UTF-8 JSON ({exc.reason})")
        ) from None
    try:
        return IngestBatch.model_validate_json(body)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors, body=body) from None


def install_batch_schema(app: FastAPI) -> None:
    """Put ``IngestBatch`` and the models it uses in the OpenAPI components."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = build()
            batch = IngestBatch.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas = spec.setdefault("components", {}).setdefault("schemas", {})
            for name, model in batch.pop("$defs", {}).items():
                schemas.setdefault(name, model)
            schemas.setdefault("IngestBatch", batch)
            app.openapi_schema = dict(sorted(spec.items()))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


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
