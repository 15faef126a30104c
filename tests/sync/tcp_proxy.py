"""A small TCP proxy between the kiosk and the central log that misbehaves on request.

What a school network does to a long sync: refuses connections (central down), cuts a
connection after the central log got the request but before its answer arrives, or holds
an answer for a long time. Threads, plain sockets; every decision is per HTTP response, in
order, so a test can say "pass the first, cut the second, hold the third".

Synchronisation is by events (``held`` is set when an answer is being held; the test sets
``release``), never by sleeping.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable


class TcpProxy:
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        #: One action per response, consumed in order: "pass", "cut" (close the client's
        #: connection instead of answering), "hold" (wait for ``release``, then pass).
        self.actions: list[str] = []
        self.held = threading.Event()
        self.release = threading.Event()
        self.responses = 0
        self.requests = 0
        self.cuts = 0
        self._lock = threading.Lock()
        self._conns: list[socket.socket] = []
        self._closing = False
        self._accepting: threading.Thread | None = None
        self._start_accepting()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --------------------------------------------------------------- down / up
    def _start_accepting(self) -> None:
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    def down(self) -> None:
        """Stop listening and drop every connection: the central log is unreachable."""
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        self._listener.close()
        if self._accepting is not None:
            self._accepting.join(timeout=30)
        self._drop_all()

    def up(self) -> None:
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", self.port))
        self._listener.listen()
        self._start_accepting()

    def close(self) -> None:
        self._closing = True
        self.release.set()
        self.down()

    def _drop_all(self) -> None:
        with self._lock:
            conns, self._conns = self._conns, []
        for c in conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)
            c.close()

    # --------------------------------------------------------------- plumbing
    def _accept(self) -> None:
        listener = self._listener
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            threading.Thread(
                target=self._pump, args=(client, upstream, self._up), daemon=True
            ).start()
            threading.Thread(
                target=self._pump, args=(upstream, client, self._down), daemon=True
            ).start()

    def _up(self, chunk: bytes) -> str:
        if chunk.startswith(b"POST "):
            with self._lock:
                self.requests += 1
        return "pass"

    def _down(self, chunk: bytes) -> str:
        if not chunk.startswith(b"HTTP/"):
            return "pass"
        with self._lock:
            self.responses += 1
            action = self.actions.pop(0) if self.actions else "pass"
        if action == "hold":
            self.held.set()
            self.release.wait(timeout=120)  # failure bound only; the test releases it
            return "pass"
        if action == "cut":
            with self._lock:
                self.cuts += 1
        return action

    def _pump(self, src: socket.socket, dst: socket.socket, decide: Callable[[bytes], str]) -> None:
        try:
            while True:
                chunk = src.recv(65536)
                if not chunk:
                    break
                if decide(chunk) == "cut":
                    break
                dst.sendall(chunk)
        except OSError:
            pass
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()
