"""What giving Argon2's memory back costs: CPU per verify and resident size, glibc's default
malloc against ``kiosk.memory.tune_malloc`` (issue 15, memory).

Run: .venv/bin/python bench/argon2_release.py [--verifies 40] [--rounds 2]

Each mode runs in a fresh process (mallopt settings are per process), alternated round by
round. A process verifies one hash at the kiosk's default cost (``kiosk.config`` AuthConfig)
``--verifies`` times, each on a new thread as the staff UI's sign-ins are, and prints the
median and p90 CPU time of one verify (thread CPU time) and the process's resident size and
peak at the end. With the default malloc, glibc's dynamic mmap threshold keeps the block in an
arena after the first hash (resident stays up by the memory cost per arena in use); tuned,
every hash maps and unmaps its block, so the kernel zero-fills it with fresh pages per verify:
that is the CPU difference.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import sys, threading, time
if sys.argv[1] == "tuned":
    from kiosk.memory import tune_malloc
    assert tune_malloc()
import argon2
from kiosk.config import AuthConfig

auth = AuthConfig()
hasher = argon2.PasswordHasher(
    memory_cost=auth.argon2_memory_kib,
    time_cost=auth.argon2_time_cost,
    parallelism=auth.argon2_parallelism,
)
stored = hasher.hash("3917")
cpu = []


def verify():
    start = time.thread_time()
    hasher.verify(stored, "3917")
    cpu.append(time.thread_time() - start)


for _ in range(int(sys.argv[2])):
    thread = threading.Thread(target=verify)
    thread.start()
    thread.join()
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
cpu.sort()
print(
    f"{sys.argv[1]:8} m={auth.argon2_memory_kib} KiB: CPU per verify median "
    f"{1000 * cpu[len(cpu) // 2]:5.1f} ms, p90 {1000 * cpu[int(len(cpu) * 0.9)]:5.1f} ms; "
    f"resident at the end {int(status['VmRSS'].split()[0]) / 1024:5.1f} MB, "
    f"peak {int(status['VmHWM'].split()[0]) / 1024:5.1f} MB"
)
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--verifies", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    for _ in range(args.rounds):
        for mode in ("default", "tuned"):
            subprocess.run(
                [sys.executable, "-c", CHILD, mode, str(args.verifies)], check=True, cwd=ROOT
            )


if __name__ == "__main__":
    main()
