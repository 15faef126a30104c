"""The ``[sync]`` table of the kiosk TOML, and the station credential file.

Why a model of its own: the relay is the only reader, and its checks (batch size within
the wire limit, a credential file only the kiosk user can read) belong beside it.
``kiosk.config`` embeds :class:`SyncConfig` as its ``sync`` key so a wrong key is refused
with the rest of the file; :func:`load_sync_config` reads the table from the TOML directly
for tools that only need this part.

Example::

    [sync]
    central_url = "https://incidents.example-trust.org.uk"
    credential_file = "/etc/kiosk/central.credential"   # chmod 600, owned by kiosk
    batch_size = 500                 # events per request, at most wire.MAX_BATCH
    ca_bundle = "/etc/kiosk/school-ca.pem"   # the school's TLS-inspecting proxy CA
    backlog_alert_minutes = 240      # staff banner when the oldest unsent event is older
"""

from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from wire import MAX_BATCH


class SyncConfigError(Exception):
    """The sync settings or the credential cannot be used; the message says what to do."""


class SyncConfig(BaseModel):
    """Where the central log is and how to talk to it. Empty ``central_url``: sync is off."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    central_url: str = ""
    credential_file: Path = Path("central.credential")
    batch_size: int = Field(MAX_BATCH, ge=1, le=MAX_BATCH)
    #: PEM bundle of the CA(s) to trust instead of the system's (e.g. the school's proxy).
    ca_bundle: Path | None = None
    #: The staff screen shows a banner when the oldest unsent event is older than this.
    backlog_alert_minutes: int = Field(240, ge=1, le=60 * 24 * 31)
    #: Seconds to wait for the central log's answer to one request.
    timeout_seconds: float = Field(30.0, gt=0, le=600)
    #: Attempts per batch before ``kiosk sync --once`` gives up (the daemon never gives up).
    attempts: int = Field(5, ge=1, le=100)
    #: Seconds between looks at the outbox when there is nothing to send.
    poll_seconds: float = Field(5.0, gt=0, le=3600)

    @field_validator("central_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and not value.startswith(("https://", "http://")):
            raise ValueError("must start with https:// (or http:// on a test bench)")
        return value

    def resolved(self, base: Path) -> SyncConfig:
        """Relative paths are relative to the config file's folder (as ``data_dir`` is)."""
        update: dict[str, Any] = {}
        if not self.credential_file.is_absolute():
            update["credential_file"] = (base / self.credential_file).resolve()
        if self.ca_bundle is not None and not self.ca_bundle.is_absolute():
            update["ca_bundle"] = (base / self.ca_bundle).resolve()
        return self.model_copy(update=update)

    def require_enabled(self, origin: str) -> None:
        if not self.central_url:
            raise SyncConfigError(
                f"{origin}: no [sync] central_url: add the central log's address to the "
                "[sync] table (see docs/sync.md)"
            )
        if self.ca_bundle is not None and not self.ca_bundle.is_file():
            raise SyncConfigError(
                f"{origin}: sync.ca_bundle {self.ca_bundle} is not a file: put the school's "
                "CA certificate (PEM) there or remove the key"
            )


def load_sync_config(path: Path) -> SyncConfig:
    """The ``[sync]`` table of the kiosk TOML at ``path``, paths resolved beside it."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SyncConfigError(f"{path}: cannot read the kiosk config ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise SyncConfigError(f"{path}: not valid TOML: {exc}") from None
    try:
        cfg = SyncConfig.model_validate(data.get("sync", {}))
    except ValidationError as err:
        problems = "; ".join(
            f"sync.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors()
        )
        raise SyncConfigError(f"{path}: {problems}") from None
    return cfg.resolved(path.parent)


def read_credential(path: Path) -> str:
    """The station's bearer credential, refused unless only its owner can read it.

    The credential lets anyone append to this station's record at the central log, so a
    file the office's other accounts can read is refused rather than used.
    """
    try:
        info = path.stat()
    except FileNotFoundError:
        raise SyncConfigError(
            f"credential file {path} does not exist: put the credential printed by "
            "`kiosk-central station add` there (chmod 600, owned by the kiosk user)"
        ) from None
    except OSError as exc:
        raise SyncConfigError(f"credential file {path}: cannot read it ({exc.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        raise SyncConfigError(f"credential file {path} is not a regular file")
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SyncConfigError(
            f"credential file {path} is readable or writable by others "
            f"(mode {stat.filemode(info.st_mode)}): run `chmod 600 {path}` and make the kiosk "
            "user its owner"
        )
    if hasattr(os, "geteuid") and info.st_uid != os.geteuid():
        raise SyncConfigError(
            f"credential file {path} belongs to uid {info.st_uid}, not to this user "
            f"(uid {os.geteuid()}): `chown` it to the kiosk user"
        )
    try:
        token = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SyncConfigError(f"credential file {path}: cannot read it ({exc.strerror})") from None
    if not token or any(c.isspace() for c in token):
        raise SyncConfigError(f"credential file {path} must hold the credential alone on one line")
    return token
