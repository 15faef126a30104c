"""Run a UI (the kiosk or a bare Textual app) in a child process under a pseudo-terminal.

Shared by bench/startup.py and bench/idle.py; see bench/ui_child.py for how first paint is
detected. The parent stays small (no SQLAlchemy, no Textual imported) so nothing of it
counts in the child's figures.
"""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHILD = Path(__file__).with_name("ui_child.py")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class UiProcess:
    proc: subprocess.Popen[bytes]
    master: int
    pipe: int
    started: float
    lines: list[dict[str, float]] = field(default_factory=list)

    def next_report(self, timeout: float = 60.0) -> dict[str, float]:
        """Block until the child writes its next JSON line (first paint, or exit)."""
        buf = b""
        deadline = time.monotonic() + timeout
        while not buf.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.pipe], [], [], left)[0]:
                self.proc.kill()
                raise TimeoutError("the UI did not report in time")
            chunk = os.read(self.pipe, 4096)
            if not chunk:
                raise RuntimeError(f"the UI exited ({self.proc.wait()}) before reporting")
            buf += chunk
        report = json.loads(buf.decode().splitlines()[0])
        self.lines.append(report)
        return dict(report)

    def cpu_s(self) -> float:
        """utime + stime of the whole process (all threads), from /proc/PID/stat."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def context_switches(self) -> int:
        """Voluntary + involuntary switches of every thread: a count of wake-ups."""
        total = 0
        for task in Path(f"/proc/{self.proc.pid}/task").iterdir():
            try:
                for line in (task / "status").read_text().splitlines():
                    if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                        total += int(line.split()[1])
            except FileNotFoundError:
                continue
        return total

    def quit(self) -> None:
        try:
            os.write(self.master, b"\x11")  # ctrl+q
            self.proc.wait(timeout=15)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        os.close(self.master)
        os.close(self.pipe)


def spawn(
    mode: str, config: Path | None = None, *, stay: bool = False, signins: int = 0
) -> UiProcess:
    """Start ``bench/ui_child.py MODE``; ``signins``: staff sign-ins after the station is
    ready (kiosk modes; see ui_child.py)."""
    master, slave = pty.openpty()
    read_end, write_end = os.pipe()
    env = dict(os.environ, TERM="xterm-256color", COLUMNS="100", LINES="30")
    env["BENCH_STAY"] = "1" if stay else "0"
    env["BENCH_SIGNINS"] = str(signins)
    env.pop("TEXTUAL", None)
    args = [sys.executable, str(CHILD), mode, str(write_end)]
    if config is not None:
        args.append(str(config))
    started = time.time()
    proc = subprocess.Popen(
        args,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=ROOT,
        env=env,
        pass_fds=(write_end,),
        start_new_session=True,
    )
    os.close(slave)
    os.close(write_end)
    # Drain the terminal so the UI never blocks writing its frames.
    threading.Thread(target=_drain, args=(master,), daemon=True).start()
    return UiProcess(proc, master, read_end, started)


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 65536):
            pass
    except OSError:
        return


def demo_station(folder: Path) -> Path:
    """A seeded demo station (in a child, so the parent stays small); returns its config."""
    config = folder / "kiosk.toml"
    if not config.exists():
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from pathlib import Path; "
                "from kiosk.demo import seed_demo; seed_demo(Path(sys.argv[1])).close()",
                str(folder),
            ],
            check=True,
            cwd=ROOT,
        )
    return config
