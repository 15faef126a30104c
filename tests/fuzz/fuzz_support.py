"""Shared settings and bookkeeping for the fuzzers.

Default suite: a modest number of examples per fuzzer, ``derandomize=True`` so every run (and
CI) tries the same inputs and a failure reproduces. ``HYPOTHESIS_PROFILE=long`` switches to a
random, long run (``FUZZ_EXAMPLES`` examples per fuzzer, default 5,000), for hunting.

Each fuzzer counts its examples by outcome in a :class:`Tally`; the fuzz conftest prints the
table at the end of the run, so a long run's figures (examples, refused with the documented
error, accepted, unhandled) come from the run itself.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings

LONG = os.environ.get("HYPOTHESIS_PROFILE") == "long"
LONG_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "5000"))
T = TypeVar("T")


def fuzz_settings(examples: int) -> settings:
    """``examples`` in the default suite (deterministic); many more, random, when long."""
    return settings(
        max_examples=LONG_EXAMPLES if LONG else examples,
        derandomize=not LONG,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


@dataclass
class Tally:
    """Outcomes of one fuzzer: accepted, refused with a documented error, unhandled."""

    name: str
    examples: int = 0
    accepted: int = 0
    refused: int = 0
    unhandled: int = 0
    first_unhandled: list[str] = field(default_factory=list)

    def run(self, fn: Callable[[], T], documented: tuple[type[BaseException], ...]) -> Any:
        """``fn()``'s result, or the documented exception it raised (returned, not raised).

        Anything else is counted as unhandled and re-raised, so the test fails on it.
        """
        self.examples += 1
        try:
            result = fn()
        except documented as exc:
            self.refused += 1
            return exc
        except Exception:
            self.unhandled += 1
            if len(self.first_unhandled) < 3:
                self.first_unhandled.append(traceback.format_exc(limit=4))
            raise
        self.accepted += 1
        return result


TALLIES: dict[str, Tally] = {}


def tally(name: str) -> Tally:
    return TALLIES.setdefault(name, Tally(name))
