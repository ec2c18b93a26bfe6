"""The firmware's event log and the APICDB0_EVENT reply that hands events to the host.

The firmware records events (a device arrived or left, an error a fault injector
posts) in a bounded log and rings ``DRBL_EVENT_NOTIFY``.  The driver answers with
the internal command ``F4 00`` (``APICDB0_EVENT``, ``APICDB1_EVENT_GETEVENT``), a
DATA_IN of ``sizeof(struct mvumi_event_req)``: a count and up to six ``struct
mvumi_driver_event`` (``registers.EVENT_REQUEST``/``DRIVER_EVENT``).  Each reply
carries the oldest events, which leave the log once the reply has reached host
memory; if more remain the firmware rings again.  When the log is full the oldest
event is dropped, as a ring buffer in firmware RAM does.

Threading rules: none; called from the firmware's scheduler events.
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass

from kextlab.machine.devices.mvumi import registers as mv


@dataclass(frozen=True, slots=True)
class FirmwareEvent:
    """One ``struct mvumi_driver_event``."""

    sequence_no: int
    time_stamp: int
    event_id: int
    severity: int
    device_id: int
    params: tuple[int, ...] = ()
    sense_data: bytes = b""

    def pack_into(self, buffer: bytearray, offset: int) -> None:
        params = (*self.params[: mv.EVENT_PARAMETERS], 0, 0, 0, 0)[: mv.EVENT_PARAMETERS]
        sense = self.sense_data[: mv.EVENT_SENSE_LENGTH]
        mv.DRIVER_EVENT.pack_into(
            buffer,
            offset,
            self.time_stamp & 0xFFFF_FFFF,
            self.sequence_no & 0xFFFF_FFFF,
            self.event_id,
            self.severity,
            min(len(self.params), mv.EVENT_PARAMETERS),
            self.device_id,
            *params,
            len(sense),
            0,
            sense,
        )


class EventLog:
    """Events waiting for the host, oldest first."""

    def __init__(self, capacity: int = 64) -> None:
        self.capacity = capacity
        self._events: deque[FirmwareEvent] = deque()
        self._sequence = 0
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._events)

    def post(
        self,
        event_id: int,
        severity: int,
        device_id: int,
        *,
        time_stamp: int,
        params: tuple[int, ...] = (),
        sense_data: bytes = b"",
    ) -> FirmwareEvent:
        self._sequence += 1
        event = FirmwareEvent(
            self._sequence, time_stamp, event_id, severity, device_id, params, sense_data
        )
        if len(self._events) >= self.capacity:
            self._events.popleft()
            self.dropped += 1
        self._events.append(event)
        return event

    def peek(self, count: int = mv.MAX_EVENTS_RETURNED) -> list[FirmwareEvent]:
        """The oldest ``count`` events, left in the log."""
        return list(itertools.islice(self._events, count))

    def drop(self, count: int) -> None:
        """Remove the oldest ``count`` events (the host has them)."""
        for _ in range(min(count, len(self._events))):
            self._events.popleft()

    def clear(self) -> None:
        self._events.clear()


def event_request(events: list[FirmwareEvent]) -> bytes:
    """The ``struct mvumi_event_req`` carrying ``events`` (at most six)."""
    buffer = bytearray(mv.EVENT_REQUEST_SIZE)
    mv.EVENT_REQUEST.pack_into(buffer, 0, len(events))
    for index, event in enumerate(events[: mv.MAX_EVENTS_RETURNED]):
        event.pack_into(buffer, mv.EVENT_REQUEST.size + index * mv.DRIVER_EVENT.size)
    return bytes(buffer)
