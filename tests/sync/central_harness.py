"""The central log under test, behind a misbehaving TCP proxy: fake (contract) or real.

``kind`` is ``fake`` (the contract fake over ASGI), ``sqlite`` (the real central service on
its SQLite default) or ``postgres`` (the real central service on PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from fake_central import FakeCentral
from servers import FakeCentralASGI, Flaky, ServerThread
from tcp_proxy import TcpProxy


@dataclass
class CentralUnderTest:
    kind: str
    credential: str
    flaky: Flaky
    server: ServerThread
    proxy: TcpProxy
    _seqs: Callable[[str], list[int]]
    _cleanup: list[Callable[[], None]] = field(default_factory=list)

    @property
    def url(self) -> str:
        """Through the proxy, as the kiosk sees it."""
        return self.proxy.url

    def seqs(self, station: str) -> list[int]:
        """Every seq the central log stores for ``station`` (one row each: duplicates show)."""
        return self._seqs(station)

    def close(self) -> None:
        self.proxy.close()
        self.server.stop()
        for fn in reversed(self._cleanup):
            fn()


def start_fake() -> CentralUnderTest:
    fake = FakeCentral()
    flaky = Flaky(FakeCentralASGI(fake))
    server = ServerThread(flaky)
    return CentralUnderTest(
        "fake",
        fake.credential,
        flaky,
        server,
        TcpProxy(server.port),
        lambda st: sorted(seq for (s, seq) in fake.events if s == st),
    )


def start_central(kind: str, tmp_path, station: str) -> CentralUnderTest:
    if kind == "fake":
        return start_fake()
    import pytest

    pytest.skip("the real central service is not merged yet")
