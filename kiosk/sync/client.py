"""The HTTP client for the central log's ingest endpoint, with retries that back off.

``POST {central}/api/v1/stations/{station}/events`` with ``Authorization: Bearer <cred>``
and an :class:`wire.IngestBatch`; the answer is :class:`wire.IngestAccepted` (200) or
:class:`wire.IngestRefused` (4xx).

What is retried, with exponential backoff and jitter (tenacity): network errors of any kind
(refused, reset, cut mid-answer, timed out, proxy errors), 5xx, 408, 429, and answers that
are not the contract's (a captive portal's HTML page, a 404 from a mistyped URL). A
contract 4xx is *not* retried: it is the central log's verdict on the batch, and the relay
decides what to do with it. The wait function is injectable so tests never really wait.

The proxy environment variables (``HTTPS_PROXY``, ``NO_PROXY``, ...) are honoured
(``trust_env``), and a school's own CA bundle replaces the system trust store when given.
"""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from pydantic import ValidationError
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_never,
    wait_exponential,
    wait_random,
)
from tenacity.wait import wait_base

from wire import IngestAccepted, IngestBatch, IngestRefused

log = logging.getLogger(__name__)

RETRY_STATUS = frozenset({408, 425, 429})


class CentralUnavailable(Exception):
    """No usable answer after every attempt: network down, server erroring, or not the API."""


class _Retryable(Exception):
    """One attempt failed in a way worth trying again."""


@dataclass(frozen=True)
class Refusal:
    """The central log's 4xx verdict on a batch."""

    status: int
    refused: IngestRefused

    def __str__(self) -> str:
        where = f" at seq {self.refused.seq}" if self.refused.seq is not None else ""
        field = f" (field {self.refused.field})" if self.refused.field else ""
        return f"HTTP {self.status} {self.refused.error}{where}{field}: {self.refused.detail}"


@dataclass(frozen=True)
class RetryPolicy:
    """How long to keep trying one batch. ``attempts=None``: until it gets through."""

    attempts: int | None = 5
    initial: float = 1.0
    max_wait: float = 300.0
    jitter: float = 1.0
    sleep: Callable[[float], None] = time.sleep


def backoff_wait(policy: RetryPolicy) -> wait_base:
    """Exponential backoff (initial, 2x initial, 4x ... up to max_wait) plus random jitter,
    so a trust's kiosks coming back online together do not hit the central log in step."""
    return wait_exponential(multiplier=policy.initial, max=policy.max_wait) + wait_random(
        0, policy.jitter
    )


def tls_verify(ca_bundle: Path | None) -> ssl.SSLContext | bool:
    """The school's CA bundle as the trust store, or the system's (``True``)."""
    if ca_bundle is None:
        return True
    return ssl.create_default_context(cafile=str(ca_bundle))


class CentralClient:
    """Sends batches for one station. Owns an :class:`httpx.Client` (close it)."""

    def __init__(
        self,
        base_url: str,
        credential: str,
        *,
        timeout: float = 30.0,
        ca_bundle: Path | None = None,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.retry = retry or RetryPolicy()
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            timeout=httpx.Timeout(timeout),
            verify=tls_verify(ca_bundle),
            trust_env=True,
            transport=transport,
            headers={"Authorization": f"Bearer {credential}", "User-Agent": "kiosk-sync/1"},
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> CentralClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, batch: IngestBatch) -> IngestAccepted | Refusal:
        """Deliver ``batch``; retries what is worth retrying, else raises CentralUnavailable."""
        policy = self.retry
        retrying = Retrying(
            retry=retry_if_exception_type(_Retryable),
            wait=backoff_wait(policy),
            stop=stop_never if policy.attempts is None else stop_after_attempt(policy.attempts),
            sleep=policy.sleep,
            before_sleep=_log_retry,
            reraise=True,
        )
        try:
            return retrying(self._attempt, batch)
        except _Retryable as exc:
            raise CentralUnavailable(str(exc)) from exc

    def _attempt(self, batch: IngestBatch) -> IngestAccepted | Refusal:
        first, last = batch.events[0], batch.events[-1]
        try:
            answer = self._http.post(
                f"/api/v1/stations/{batch.station_id}/events",
                content=batch.model_dump_json(),
                headers={
                    "Content-Type": "application/json",
                    # The events' own idempotency keys are (station, seq, hash); this names
                    # the batch for the server's and proxies' logs.
                    "Idempotency-Key": f"{batch.station_id}:{first.seq}-{last.seq}:{last.hash}",
                },
            )
        except httpx.TransportError as exc:
            raise _Retryable(f"network: {type(exc).__name__}: {exc}") from exc
        status = answer.status_code
        if status == 200:
            try:
                return IngestAccepted.model_validate_json(answer.content)
            except ValidationError as exc:
                raise _Retryable(f"HTTP 200 but not an ingest answer: {_snippet(answer)}") from exc
        if status >= 500 or status in RETRY_STATUS:
            raise _Retryable(f"HTTP {status}: {_snippet(answer)}")
        if 400 <= status < 500:
            try:
                return Refusal(status, IngestRefused.model_validate_json(answer.content))
            except ValidationError:
                pass
        raise _Retryable(f"HTTP {status}, not the central log's API: {_snippet(answer)}")


def _snippet(answer: httpx.Response) -> str:
    text = answer.text.strip().replace("\n", " ")
    return text[:200] or "(empty answer)"


def _log_retry(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    wait = state.next_action.sleep if state.next_action else 0.0
    log.warning(
        "central log: attempt %d failed (%s); next in %.1fs", state.attempt_number, exc, wait
    )
