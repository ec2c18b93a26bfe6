"""The guest-error and unimplemented channels (QEMU's ``LOG_GUEST_ERROR`` and ``LOG_UNIMP``).

A driver that misprograms a device (DMA with Bus Master off, a read from an address
nothing decodes, a doorbell before the handshake) is committing a *guest error*.
Hardware does not raise exceptions: it aborts the transaction, returns all ones,
sets an error bit.  The device models do that, and report here: each report is
counted per source, kept in a ring with its virtual time, traced, and logged on the
``kextlab.guest_error`` logger.  Tests assert on the counts and messages; a tester
reads them after a run.

The second channel, ``unimplemented``, is for guest requests the model does not
support (a feature of the real chip we left out), so that they are never confused
with driver bugs.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import TYPE_CHECKING

from kextlab.sim.log import LogRecord, LogRing

if TYPE_CHECKING:
    from kextlab.sim.scheduler import Scheduler

GUEST_ERROR_LOGGER = logging.getLogger("kextlab.guest_error")
UNIMPLEMENTED_LOGGER = logging.getLogger("kextlab.unimplemented")


class GuestErrorLog:
    """Counts and keeps guest errors and unimplemented-feature reports."""

    def __init__(self, scheduler: Scheduler, capacity: int = 1024) -> None:
        self._scheduler = scheduler
        self.errors = LogRing(lambda: scheduler.now, capacity)
        self.unimplemented_features = LogRing(lambda: scheduler.now, capacity)
        self._error_counts: Counter[str] = Counter()
        self._unimplemented_counts: Counter[str] = Counter()

    def report(self, source: str, message: str) -> None:
        """``source`` (a device name) was misprogrammed: ``message`` says how."""
        record = self.errors.append(source, message)
        self._error_counts[source] += 1
        self._scheduler.trace_point("guest_error", f"{source}: {message}")
        GUEST_ERROR_LOGGER.warning("%s", record.format())

    def unimplemented(self, source: str, message: str) -> None:
        """The guest asked ``source`` for something the model does not implement."""
        record = self.unimplemented_features.append(source, message)
        self._unimplemented_counts[source] += 1
        self._scheduler.trace_point("unimplemented", f"{source}: {message}")
        UNIMPLEMENTED_LOGGER.info("%s", record.format())

    def count(self, source: str | None = None) -> int:
        """Guest errors reported so far, by ``source`` or in all."""
        if source is None:
            return sum(self._error_counts.values())
        return self._error_counts[source]

    def unimplemented_count(self, source: str | None = None) -> int:
        if source is None:
            return sum(self._unimplemented_counts.values())
        return self._unimplemented_counts[source]

    def messages(self, source: str | None = None) -> list[str]:
        return [record.message for record in self._select(self.errors, source)]

    @staticmethod
    def _select(ring: LogRing, source: str | None) -> list[LogRecord]:
        return [record for record in ring if source is None or record.source == source]
