"""The app uvicorn imports in each worker process: configured from the environment."""

from __future__ import annotations

import os

from central.app import create_app
from central.store import DEFAULT_URL

app = create_app(
    os.environ.get("KIOSK_CENTRAL_DATABASE", DEFAULT_URL),
    secure_cookies=os.environ.get("KIOSK_CENTRAL_INSECURE_COOKIES") != "1",
)
