"""The signage web page for a second screen: right notices, escaped text, atomic files."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import stat
import subprocess
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from kiosk.cli import main
from kiosk.config import parse_config
from kiosk.context import open_context
from kiosk.signage import SignageFeed
from kiosk.signage_page import FEED, PAGE, write_page
from kiosk.views import ExamSessionState, ExamSessionView

NOW = datetime(2026, 3, 2, 13, 40, tzinfo=UTC)
HOSTILE = '<script>alert("x")</script> & <b>Maths</b> [bold red]P1[/]'


def _feed(sessions: list[ExamSessionView]) -> SignageFeed:
    return SignageFeed("default", lambda: sessions, clock=lambda: NOW)


def _exam(name: str, starts: datetime, ends: datetime) -> ExamSessionView:
    return ExamSessionView(id=7, name=name, room="Hall", starts_at=starts, ends_at=ends)


def test_exam_in_progress_first_and_hostile_names_stay_text(tmp_path: Path) -> None:
    feed = _feed([_exam(HOSTILE, NOW - timedelta(minutes=10), NOW + timedelta(hours=1))])
    page = write_page(tmp_path, feed, NOW)
    text = page.read_text()
    assert "<script>alert" not in text and "<b>Maths</b>" not in text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;Maths" in text
    sections = re.findall(r'<section class="(\w+)"', text)
    assert sections[0] == "exam_now"
    assert sections.count("zone") == len(feed.profile.zones)
    assert "Policy: " in text and 'http-equiv="refresh"' in text
    data = json.loads((tmp_path / FEED).read_text())
    assert data["notices"][0]["kind"] == "exam_now"
    assert HOSTILE in data["notices"][0]["text"]  # JSON keeps the raw text; renderers escape
    for name in (PAGE, FEED):
        mode = stat.S_IMODE((tmp_path / name).stat().st_mode)
        assert mode == 0o644, "public content, readable by the browser's user"
    assert sorted(p.name for p in tmp_path.iterdir()) == [PAGE, FEED]  # no partial files left


def test_ended_exam_is_gone_on_the_next_write(tmp_path: Path) -> None:
    sessions = [_exam("French", NOW - timedelta(minutes=10), NOW + timedelta(hours=1))]
    feed = _feed(sessions)
    write_page(tmp_path, feed, NOW)
    assert "French" in (tmp_path / PAGE).read_text()
    # the exams officer ends the session
    sessions[0] = dataclasses.replace(sessions[0], state=ExamSessionState.ENDED)
    write_page(tmp_path, feed, NOW)
    assert "French" not in (tmp_path / PAGE).read_text()


def test_cli_writes_the_page_once_from_the_ledger(tmp_path: Path) -> None:
    data = tmp_path / "station"
    data.mkdir()
    cfg = data / "kiosk.toml"
    cfg.write_text('[station]\nid = "page-test"\ndata_dir = "."\n')
    open_context(parse_config({"station": {"data_dir": str(data)}}), migrate=True).close()
    out = tmp_path / "public"
    result = CliRunner().invoke(
        main, ["--config", str(cfg), "signage-page", "--out", str(out), "--once"]
    )
    assert result.exit_code == 0, result.output
    assert f"wrote {out / PAGE}" in result.output
    assert "<section" in (out / PAGE).read_text()


AS_NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
SWAY_CONF = Path(__file__).resolve().parents[2] / "systemd" / "public-screen" / "sway.conf"


@pytest.mark.skipif(
    shutil.which("sway") is None or shutil.which("setpriv") is None or os.geteuid() != 0,
    reason="needs sway (apt-get install sway), setpriv and root to run it as nobody",
)
@pytest.mark.parametrize("broken", [False, True])
def test_two_screen_sway_config_is_valid(broken: bool) -> None:
    """sway parses the example (headless backend, as user nobody); a broken copy fails."""
    folder = Path(tempfile.mkdtemp(prefix="kiosk-sway-"))
    try:
        folder.chmod(0o755)
        runtime = folder / "xdg"
        runtime.mkdir(mode=0o700)
        os.chown(runtime, 65534, 65534)
        conf = folder / "sway.conf"
        text = SWAY_CONF.read_text()
        conf.write_text(text + ("output HDMI-A-2 sideways\n" if broken else ""))
        conf.chmod(0o644)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(folder),
            "XDG_RUNTIME_DIR": str(runtime),
            "WLR_BACKENDS": "headless",
            "WLR_LIBINPUT_NO_DEVICES": "1",
            "WLR_RENDERER": "pixman",
        }
        proc = subprocess.run(
            [*AS_NOBODY, "sway", "--validate", "--config", str(conf)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if broken:
            assert proc.returncode != 0 and "sideways" in proc.stderr
        else:
            assert proc.returncode == 0, proc.stderr
    finally:
        shutil.rmtree(folder)
