"""Per-station credentials: 32 random bytes, shown once, stored as SHA-256.

Why not Argon2 as for passwords? Argon2 is slow *on purpose*, to make guessing a
low-entropy human password expensive; that cost would be paid on every ingest request
(hundreds a second from a trust's stations) for no gain. A token of 256 random bits cannot
be guessed, so one SHA-256 is enough to keep a database leak from yielding usable
credentials, and it lets the database look the station up by an indexed hash.
"""

from __future__ import annotations

import hashlib
import secrets

TOKEN_PREFIX = "kcs_"
"""Marks a string as a kiosk-central station credential (easy to spot in a leaked log)."""


def new_token() -> str:
    """A fresh credential: the prefix and 32 random bytes, URL-safe base64."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What the store keeps and looks the station up by."""
    return hashlib.sha256(token.encode()).hexdigest()
