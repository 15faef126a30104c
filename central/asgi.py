"""The app uvicorn imports in each worker process: configured from the environment."""

from __future__ import annotations

import gc
import os
from datetime import timedelta

from central.app import DEFAULT_SESSION_IDLE, create_app
from central.store import DEFAULT_POOL_SIZE, DEFAULT_URL, make_engine

_url = os.environ.get("KIOSK_CENTRAL_DATABASE", DEFAULT_URL)
app = create_app(
    _url,
    engine=make_engine(
        _url, pool_size=int(os.environ.get("KIOSK_CENTRAL_POOL_SIZE", DEFAULT_POOL_SIZE))
    ),
    secure_cookies=os.environ.get("KIOSK_CENTRAL_INSECURE_COOKIES") != "1",
    session_idle=timedelta(minutes=float(os.environ["KIOSK_CENTRAL_SESSION_IDLE_MINUTES"]))
    if os.environ.get("KIOSK_CENTRAL_SESSION_IDLE_MINUTES")
    else DEFAULT_SESSION_IDLE,
)

# Everything built so far (FastAPI, SQLAlchemy, pydantic, the app's routes and models, about
# 120,000 objects) lives as long as the process: move it out of the collector's reach. Each
# batch allocates thousands of short-lived objects, and every full collection walked that
# whole heap again (70-100 ms each, here about once per 20 batches of 500 events).
gc.freeze()
