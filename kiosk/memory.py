"""glibc malloc settings for the long-running station (issue 15, "Start-up and memory").

Why: every sign-in verifies an Argon2 hash, and libargon2 ``malloc``s its whole memory cost
(7 MiB by default, ``auth.argon2_memory_kib``; it was 19 MiB when this was measured) for
each hash and frees it after. glibc serves a block that big with ``mmap`` and gives it back
on ``free``, but it then raises its *dynamic* mmap threshold to the block's size (and its
trim threshold to twice that), so the next hash is carved from a malloc heap instead and
stays resident after ``free``. Sign-ins run on worker threads and glibc gives each new
thread its own arena (up to 8 per core), so the station kept one more 19 MiB block per
arena: measured with ``bench/startup.py``'s probe, resident memory went 85 -> 106 -> 125 MB
over three sign-ins. Setting the threshold explicitly turns the dynamic adjustment off
(``mallopt(3)``): a hash's block is always mapped and unmapped, so the 19 MiB is resident
only while the hash runs. The price is the kernel zero-filling 19 MiB of fresh pages per
hash: +5.5 to +6.6 ms CPU on a ~20 ms verify here (bench/argon2_release.py); a sign-in is
not a hot path, and the peak at a sign- in is the same either way (the block must be touched
once per hash).

Fewer arenas: the station runs about ten threads (Textual's, the door monitor, the reader
poll, the anchor writer, workers) that mostly hold the GIL, so one arena per thread buys no
parallelism but keeps each arena's free space apart. Two arenas let the C code that runs
without the GIL (SQLite, Argon2) overlap with the UI thread.

The same values can be given in the environment (``MALLOC_MMAP_THRESHOLD_``,
``MALLOC_ARENA_MAX``; the systemd units do), which also covers what is allocated before
Python starts; :func:`tune_malloc` applies them from inside ``kiosk run`` however it was
started. Not glibc (musl, macOS): nothing is done.
"""

from __future__ import annotations

import ctypes
import logging

log = logging.getLogger(__name__)

#: ``mallopt`` parameters (glibc ``malloc.h``).
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8

#: glibc's own default threshold, now fixed: blocks from 128 KiB up are mapped on their own.
MMAP_THRESHOLD = 128 * 1024
#: Arenas for the whole process (glibc's default is 8 per core).
ARENA_MAX = 2


def tune_malloc(*, mmap_threshold: int = MMAP_THRESHOLD, arena_max: int = ARENA_MAX) -> bool:
    """Fix glibc's mmap threshold and cap its arenas; call before the station's threads start.

    Returns False where it cannot apply (not glibc, or ``mallopt`` refused).
    """
    try:
        # The running process's own symbols (libc among them): no library search, which
        # would start ldconfig.
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    ok = bool(mallopt(M_MMAP_THRESHOLD, mmap_threshold)) and bool(mallopt(M_ARENA_MAX, arena_max))
    if not ok:
        log.warning("mallopt refused the station's malloc settings; memory may grow per sign-in")
    return ok


def freeze_startup_heap() -> int:
    """Move everything alive now out of the garbage collector's reach; return how many objects.

    Why: once the station has started, nearly every object in the process (SQLAlchemy and
    its mappers, pydantic, the policy profile, Textual's CSS) lives until it exits. CPython's
    full collections walk them all while holding the GIL, and one that falls on a tap stops
    the hatch for its length (``bench/gc_pause.py`` prints it beside the frozen figure).
    ``gc.freeze()`` puts them in a permanent generation that is never walked; they are still
    freed by reference counting, so nothing leaks that would not have leaked. Called by the
    process entry points (``kiosk run``, UI and headless), never by library code, so tests that
    start many stations in one process do not pin each other's objects.
    """
    import gc

    gc.collect()  # what is garbage now is freed first, not frozen
    gc.freeze()
    return gc.get_freeze_count()
