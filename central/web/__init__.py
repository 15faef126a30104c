"""The pages: the DSL's tray, a case and its chronology, the governors' report, admin.

Server-rendered Jinja2, no build step and no CDN: the one script (the blank-screen key)
and the stylesheet are served from ``central/static``.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from central.web import admin_pages, auth, report, tray
from central.web.common import install_handlers

STATIC_DIR = Path(__file__).parent.parent / "static"


def mount_web(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for module in (auth, tray, report, admin_pages):
        app.include_router(module.router)
    install_handlers(app)
