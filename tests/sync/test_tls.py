"""A school's own CA bundle: the central log's certificate is signed by a CA the system does
not trust (as behind a TLS-inspecting school proxy); with ``ca_bundle`` the relay trusts it,
without it the relay refuses to talk (and says so), and nothing is marked sent."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from fake_central import FakeCentral
from servers import FakeCentralASGI, ServerThread
from sync_testing import STATION, kiosk_counts

from kiosk.context import KioskContext
from kiosk.sync.client import CentralClient, CentralUnavailable, RetryPolicy
from kiosk.sync.config import SyncConfig, SyncConfigError
from kiosk.sync.relay import Relay

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI")


def make_ca_and_cert(folder: Path) -> tuple[Path, Path, Path]:
    """A school CA, and a certificate for 127.0.0.1 signed by it (openssl CLI)."""

    def ossl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    ossl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=Test School Proxy CA",
    )
    ossl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    )
    (folder / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
    ossl(
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    )
    return folder / "ca.pem", folder / "server.pem", folder / "server.key"


def test_school_ca_bundle_is_trusted_and_the_system_store_alone_is_not(
    kiosk: KioskContext, tmp_path: Path
) -> None:
    ca, cert, key = make_ca_and_cert(tmp_path)
    fake = FakeCentral()
    server = ServerThread(FakeCentralASGI(fake), ssl_certfile=str(cert), ssl_keyfile=str(key))
    url = f"https://127.0.0.1:{server.port}"
    data_dir = kiosk.config.station.data_dir
    try:
        plain = CentralClient(url, fake.credential, retry=RetryPolicy(attempts=1))
        with pytest.raises(CentralUnavailable, match="CERTIFICATE_VERIFY_FAILED"):
            Relay(kiosk.sessions, plain, station_id=STATION, data_dir=data_dir).drain()
        plain.close()
        assert kiosk_counts(kiosk)[1] == 0
        school = CentralClient(url, fake.credential, ca_bundle=ca, retry=RetryPolicy(attempts=1))
        Relay(kiosk.sessions, school, station_id=STATION, data_dir=data_dir).drain()
        school.close()
        assert fake.count(STATION) == kiosk_counts(kiosk)[0] == kiosk_counts(kiosk)[1]
    finally:
        server.stop()


def test_missing_ca_bundle_is_refused_naming_it(tmp_path: Path) -> None:
    cfg = SyncConfig(central_url="https://c.test", ca_bundle=tmp_path / "nope.pem")
    with pytest.raises(SyncConfigError, match=r"sync.ca_bundle .*nope.pem is not a file"):
        cfg.require_enabled("kiosk.toml")
