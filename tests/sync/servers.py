"""Serving an ASGI app (the central log) on 127.0.0.1 from a thread, for end-to-end tests.

The listening socket is bound before the thread starts, so a client can connect at once
(the kernel queues it until uvicorn accepts): no waiting for start-up.
"""

from __future__ import annotations

import socket
import threading
from typing import Any

import httpx
import uvicorn
from fake_central import FakeCentral

Scope = dict[str, Any]


class ServerThread:
    def __init__(self, app: Any, **tls: Any) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False, **tls)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.sock.close()


class FakeCentralASGI:
    """:class:`FakeCentral` behind ASGI, for the wire-level tests before the real service."""

    def __init__(self, fake: FakeCentral) -> None:
        self.fake = fake

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path = scope["path"]
        if "://" in path:  # absolute-form, as sent to a forward proxy (ours forwards as-is)
            path = "/" + path.split("://", 1)[1].split("/", 1)[1]
        request = httpx.Request(
            scope["method"],
            f"http://central{path}",
            headers=[(k.decode(), v.decode()) for k, v in scope["headers"]],
            content=body,
        )
        answer = self.fake.handle(request)
        await send(
            {
                "type": "http.response.start",
                "status": answer.status_code,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": answer.content})


class Flaky:
    """Wraps the central app: the next ``before`` requests get a 500 without reaching it;
    the next ``after`` requests reach it (and are stored) but are answered with a 500."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.before = 0
        self.after = 0

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            if self.before:
                self.before -= 1
                await _error(send)
                return
            if self.after:
                self.after -= 1

                async def swallow(message: dict[str, Any]) -> None:
                    if message["type"] == "http.response.body" and not message.get("more_body"):
                        await _error(send)

                async def drop(message: dict[str, Any]) -> None:
                    if message["type"] == "http.response.start":
                        return
                    await swallow(message)

                await self.app(scope, receive, drop)
                return
        await self.app(scope, receive, send)


async def _error(send: Any) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 500,
            "headers": [(b"content-type", b"text/plain")],
        }
    )
    await send({"type": "http.response.body", "body": b"Internal Server Error"})
