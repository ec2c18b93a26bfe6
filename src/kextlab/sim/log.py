"""A bounded ring of log messages stamped with virtual time.

The machine keeps one for its console (firmware messages, the boot log) and one for
guest errors; the kernel will keep one for ``IOLog`` (read with ``kextlab dmesg``).
When the ring is full the oldest messages are dropped and counted, as a kernel's
message buffer does.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from kextlab.sim.time import format_log_stamp


@dataclass(frozen=True, slots=True)
class LogRecord:
    time_ns: int
    source: str
    message: str

    def format(self) -> str:
        """``[    0.000123] source: message``."""
        return f"{format_log_stamp(self.time_ns)} {self.source}: {self.message}"


class LogRing:
    """Keeps the newest ``capacity`` records; ``clock`` supplies the virtual time."""

    def __init__(self, clock: Callable[[], int], capacity: int = 4096) -> None:
        self._clock = clock
        self._records: deque[LogRecord] = deque(maxlen=capacity)
        self.dropped = 0

    def append(self, source: str, message: str) -> LogRecord:
        if len(self._records) == self._records.maxlen:
            self.dropped += 1
        record = LogRecord(self._clock(), source, message)
        self._records.append(record)
        return record

    def __iter__(self) -> Iterator[LogRecord]:
        return iter(tuple(self._records))

    def __len__(self) -> int:
        return len(self._records)

    def lines(self) -> list[str]:
        return [record.format() for record in self._records]
