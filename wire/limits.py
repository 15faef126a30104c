"""The wire format's plain constants, apart from its pydantic models (``wire.schema``).

Here so that reading a kiosk config (``kiosk.sync.config`` bounds ``batch_size`` by
:data:`MAX_BATCH`) does not build the ten wire models before the first frame (issue 15).
Standard library only.
"""

from __future__ import annotations

WIRE_VERSION = 1
MAX_BATCH = 500
"""Most events in one batch: bounds a request's size and the central log's transaction."""
