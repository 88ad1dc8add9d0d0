"""Deterministic seeds derived from names, identical in every process (unlike ``hash()``)."""

from __future__ import annotations

import hashlib


def derive_seed(*parts: object) -> int:
    """A 63-bit seed from any printable parts, e.g. ``derive_seed(cfg.seed, "dig-1", 7)``."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1
