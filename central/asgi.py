"""The app uvicorn imports in each worker process: configured from the environment."""

from __future__ import annotations

import os

from central.app import create_app
from central.store import DEFAULT_POOL_SIZE, DEFAULT_URL, make_engine

_url = os.environ.get("KIOSK_CENTRAL_DATABASE", DEFAULT_URL)
app = create_app(
    _url,
    engine=make_engine(
        _url, pool_size=int(os.environ.get("KIOSK_CENTRAL_POOL_SIZE", DEFAULT_POOL_SIZE))
    ),
    secure_cookies=os.environ.get("KIOSK_CENTRAL_INSECURE_COOKIES") != "1",
)
