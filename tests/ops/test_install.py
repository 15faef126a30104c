"""systemd/install.sh: its dry run prints every step, runs anywhere and changes nothing."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "systemd" / "install.sh"


def dry_run(tmp_path: Path, *options: str, **env: str) -> str:
    proc = subprocess.run(
        ["bash", str(SCRIPT), "--dry-run", *options],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "KIOSK_INSTALL_ROOT": str(tmp_path / "root"), **env},
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def commands(out: str) -> list[str]:
    return [line[2:] for line in out.splitlines() if line.startswith("+ ")]


def test_dry_run_prints_every_step_and_changes_nothing(tmp_path: Path) -> None:
    (tmp_path / "root").mkdir()
    out = dry_run(tmp_path, KIOSK_INSTALL_USER="nobody-kiosk-test")
    steps = [line[4:] for line in out.splitlines() if line.startswith("==> ")]
    assert steps[:2] == [
        "packages",
        "SPI on (RC522 reader), serial port free for the RS-485 adapter",
    ]
    assert any(s.startswith("database") for s in steps)
    assert steps[-1] == "services"
    cmds = commands(out)
    apt = next(c for c in cmds if c.startswith("apt-get install"))
    # every tool the README's and the day-one guide's commands use
    for package in ("sqlite3", "rsync", "git", "python3-venv", "fonts-terminus"):
        assert package in apt.split()
    assert any(c.startswith("useradd --system") for c in cmds)
    assert any(c.endswith("kiosk db upgrade") for c in cmds)
    assert (
        f"install -m 0755 {REPO}/systemd/kiosk-cli.sh {tmp_path}/root/usr/local/bin/kiosk" in cmds
    )
    install_units = next(c for c in cmds if c.startswith("install -m 0644"))
    for unit in sorted((REPO / "systemd").glob("kiosk*.service")):
        assert str(unit) in install_units.split()
    assert (
        "systemctl enable kiosk.service kiosk-signage.service kiosk-signage-page.service "
        "kiosk-purge.timer kiosk-backup.timer" in cmds
    )
    assert "systemctl disable --now kiosk-station.service" in cmds
    # nothing was created, in the stand-in root or the real one
    assert list((tmp_path / "root").iterdir()) == []


def test_headless_enables_the_headless_station_instead(tmp_path: Path) -> None:
    """--headless: kiosk-station.service (no screen) is the station; kiosk.service is off."""
    (tmp_path / "root").mkdir()
    cmds = commands(dry_run(tmp_path, "--headless", KIOSK_INSTALL_USER="nobody-kiosk-test"))
    install_units = next(c for c in cmds if c.startswith("install -m 0644")).split()
    assert f"{REPO}/systemd/kiosk-station.service" in install_units
    assert "systemctl disable --now kiosk.service" in cmds
    assert (
        "systemctl enable kiosk-station.service kiosk-signage.service "
        "kiosk-signage-page.service kiosk-purge.timer kiosk-backup.timer" in cmds
    )
    restart = next(c for c in cmds if c.startswith("systemctl restart"))
    assert restart.split()[2] == "kiosk-station.service" and "kiosk.service" not in restart


def test_second_run_skips_what_is_done(tmp_path: Path) -> None:
    """Idempotent: an existing user, venv and (school-edited) config are kept."""
    root = tmp_path / "root"
    (root / "opt/kiosk/.venv/bin").mkdir(parents=True)
    python = root / "opt/kiosk/.venv/bin/python"
    python.write_text("#!/bin/sh\n")
    python.chmod(0o755)
    (root / "etc/kiosk").mkdir(parents=True)
    (root / "etc/kiosk/kiosk.toml").write_text("# the school's own\n")
    out = dry_run(tmp_path, KIOSK_INSTALL_USER="root")  # a user that exists
    cmds = commands(out)
    assert not any(c.startswith("useradd") for c in cmds)
    assert "= useradd root  (already done)" in out
    assert not any(c.startswith("python3 -m venv") for c in cmds)
    assert not any(c.endswith("/etc/kiosk/kiosk.toml") for c in cmds)
    assert "(kept: yours)" in out
    assert (root / "etc/kiosk/kiosk.toml").read_text() == "# the school's own\n"


def test_refuses_unknown_options() -> None:
    proc = subprocess.run(
        ["bash", str(SCRIPT), "--dryrun"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2 and "unknown option '--dryrun'" in proc.stderr


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None,
    reason="needs root and setpriv to drop to an unprivileged user",
)
def test_dry_run_needs_no_root_and_a_real_run_does() -> None:
    """As user nobody: the dry run completes, the real run refuses before touching anything."""
    folder = Path(tempfile.mkdtemp(prefix="kiosk-install-"))
    try:
        folder.chmod(0o755)
        shutil.copytree(REPO / "systemd", folder / "systemd")
        shutil.copytree(REPO / "docs", folder / "docs")
        for path in folder.rglob("*"):
            path.chmod(0o755 if path.is_dir() or path.suffix == ".sh" else 0o644)
        nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "bash"]
        script = str(folder / "systemd" / "install.sh")
        dry = subprocess.run(
            [*nobody, script, "--dry-run"], capture_output=True, text=True, timeout=120
        )
        assert dry.returncode == 0, dry.stderr
        assert "+ systemctl daemon-reload" in dry.stdout
        real = subprocess.run([*nobody, script], capture_output=True, text=True, timeout=120)
        assert real.returncode == 1
        assert "run with sudo" in real.stderr
        assert real.stdout == ""
    finally:
        shutil.rmtree(folder)


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck not installed")
def test_shellcheck_clean() -> None:
    shellcheck = shutil.which("shellcheck")
    assert shellcheck is not None
    proc = subprocess.run([shellcheck, str(SCRIPT)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout
