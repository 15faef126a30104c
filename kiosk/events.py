"""Hardware event types, re-exported for the UI.

The UI must not import ``hardware`` (layer rule), yet it has to tell a badge tap from a
forced door. The station passes these objects up unchanged; this module is the UI's name
for them.
"""

from hardware.ports import (
    BadgeTapped,
    DoorClosed,
    DoorOpened,
    DoorState,
    ForcedOpen,
    LeftOpen,
    ReaderFault,
    ReaderRecovered,
    SensorFault,
    UnlockOutcome,
)

__all__ = [
    "BadgeTapped",
    "DoorClosed",
    "DoorOpened",
    "DoorState",
    "ForcedOpen",
    "LeftOpen",
    "ReaderFault",
    "ReaderRecovered",
    "SensorFault",
    "UnlockOutcome",
]
