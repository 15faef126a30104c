"""How long `kiosk ... --badge UID` takes to answer: wrong PIN, unknown badge, right PIN.

Issue 9 asks for the same message *and the same time* for an unknown badge and a wrong PIN,
on the command line as at the kiosk. This runs the real `kiosk holdings --badge` command
(click's CliRunner, in process, the demo school with its production Argon2 parameters) in
interleaved rounds and prints the median wall time of each answer; the right PIN (a real
sign-in plus the listing) is the peer from the same run.

    .venv/bin/python bench/cli_sign_in.py [--rounds 15]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from click.testing import CliRunner

from kiosk.cli import main
from kiosk.demo import DEMO_BADGES, seed_demo


def main_() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-cli-sign-in-"))
    seed_demo(folder).close()
    cfg = str(folder / "kiosk.toml")
    badge, pin = DEMO_BADGES["office"]
    other_badge, other_pin = DEMO_BADGES["teacher"]
    cases = {
        # Different badges for the failures so the lockout (5 wrong PINs) never engages.
        "wrong PIN (real badge)": lambda i: (other_badge if i % 2 else badge, "000000"),
        "unknown badge": lambda i: (f"FFFF{i:04X}", pin),
        "right PIN (peer)": lambda i: (badge, pin),
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    runner = CliRunner()
    for i in range(args.rounds):
        for name, make in cases.items():
            b, p = make(i)
            if name.startswith("wrong") and i % 4 == 3:
                # Reset the two real badges' failure counts with a good sign-in (not timed).
                runner.invoke(
                    main, ["--config", cfg, "holdings", "--badge", badge], input=f"{pin}\n"
                )
                runner.invoke(
                    main,
                    ["--config", cfg, "holdings", "--badge", other_badge],
                    input=f"{other_pin}\n",
                )
            started = time.perf_counter()
            result = runner.invoke(
                main, ["--config", cfg, "holdings", "--badge", b], input=f"{p}\n"
            )
            times[name].append(time.perf_counter() - started)
            want = 0 if name.startswith("right") else 2
            assert result.exit_code == want, (name, result.output)
    print(f"kiosk holdings --badge, {args.rounds} interleaved rounds, median wall time:")
    for name, values in times.items():
        print(f"  {name:<24} {statistics.median(values) * 1000:7.1f} ms")
    wrong = statistics.median(times["wrong PIN (real badge)"])
    unknown = statistics.median(times["unknown badge"])
    print(f"  unknown / wrong ratio    {unknown / wrong:7.2f}")


if __name__ == "__main__":
    main_()
