"""The machine's seeded random number source.

A machine has one seed.  Every consumer (a device's latency jitter, a fault rule, a
schedule explorer) draws from its own named stream derived from that seed, so adding
a consumer never changes the numbers another one sees, and a run is reproducible from
``(machine description, seed)`` alone.  Streams are derived with SHA-256, never with
Python's ``hash()``, which is salted per process.
"""

from __future__ import annotations

import hashlib
import random


class DeterministicRandom:
    """Hands out independent, reproducible ``random.Random`` streams by name."""

    def __init__(self, seed: int) -> None:
        if seed < 0:
            raise ValueError(f"seed must be a non-negative integer, not {seed}")
        self.seed = seed
        self._streams: dict[str, random.Random] = {}

    def stream(self, name: str) -> random.Random:
        """The stream called ``name``; the same object on every call."""
        stream = self._streams.get(name)
        if stream is None:
            digest = hashlib.sha256(f"kextlab:{self.seed}:{name}".encode()).digest()
            stream = random.Random(int.from_bytes(digest[:16], "big"))
            self._streams[name] = stream
        return stream
