"""Print each fuzzer's figures (examples, accepted, refused, unhandled) after the run."""

from __future__ import annotations

from fuzz_support import LONG, TALLIES


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # type: ignore[no-untyped-def]
    if not TALLIES:
        return
    mode = "long (random)" if LONG else "default (derandomized)"
    terminalreporter.section(f"fuzz figures, {mode}")
    terminalreporter.write_line(
        f"{'fuzzer':<28}{'examples':>10}{'accepted':>10}{'refused':>10}{'unhandled':>11}"
    )
    for t in sorted(TALLIES.values(), key=lambda t: t.name):
        terminalreporter.write_line(
            f"{t.name:<28}{t.examples:>10}{t.accepted:>10}{t.refused:>10}{t.unhandled:>11}"
        )
        for text in t.first_unhandled:
            terminalreporter.write_line(text)
