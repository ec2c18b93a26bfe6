"""The trace recorder: one line per scheduler event and per trace point.

``kextlab boot --trace FILE`` writes every event the scheduler dispatches and every
trace point a device or the firmware emits, each stamped with its virtual time::

    0.000001500 thread.start firmware
    0.000004000 pci.config write 00:0d.0 0x04 size 2 value 0x0007

Two runs of the same machine with the same seed produce byte-identical traces, so a
trace is also a regression artefact: diff two of them to see where runs diverge.
Nothing in a line may depend on the host (object ids, wall time, file paths).

Tracing costs one attribute test when off: emitters check ``trace.enabled`` before
they format anything.
"""

from __future__ import annotations

from typing import TextIO

from kextlab.sim.time import format_seconds


class TraceRecorder:
    """Writes trace lines to a text stream, or discards them when ``stream`` is None."""

    __slots__ = ("_stream", "enabled", "lines_written")

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream
        self.enabled = stream is not None
        self.lines_written = 0

    def record(self, time_ns: int, category: str, message: str = "") -> None:
        """Write one line; callers on hot paths test ``enabled`` first."""
        if self._stream is None:
            return
        line = (
            f"{format_seconds(time_ns)} {category} {message}"
            if message
            else (f"{format_seconds(time_ns)} {category}")
        )
        self._stream.write(line + "\n")
        self.lines_written += 1

    def flush(self) -> None:
        if self._stream is not None:
            self._stream.flush()
