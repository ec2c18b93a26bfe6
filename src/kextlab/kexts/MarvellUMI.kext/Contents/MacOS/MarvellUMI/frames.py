"""Frames: command frames written into inbound entries, their SG lists, responses, events.

Mirrors Linux ``mvumi_build_frame``/``mvumi_make_sgl`` (a command frame and its
scatter/gather list), ``mvumi_complete_cmd`` (what a response means) and
``mvumi_notification``/``mvumi_get_event`` (the event list); ``shared/spec/scsi.md``
§2.4 and §2.6.  The layouts are in ``registers``.

Design
------
A frame is written straight into its inbound entry, a ``memoryview`` of the list
(``MSG_FRAME.pack_into``); nothing is built elsewhere and copied.  The SG list is
written the same way, by the ``IODMACommand`` itself: ``OutputMarvellSGL`` is a
segment function (xnu's ``SegmentFunction``, like ``OutputLittle64`` but in the
chip's ``struct mvumi_sgl`` layout: address low, address high, flags, size), so
``gen64IOVMSegments`` turns each segment into an SG entry in place, where the seed's
table maps ``scsi_sglist``.  The last entry then gets ``SGD_EOT``.

Responses are read in place too (``RSP_FRAME.unpack_from``); only the 18 bytes of
sense, when present, are copied out, since the family keeps them with the task.

Threading rules: plain functions; any context.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from . import registers as mv

if TYPE_CHECKING:
    from kextlab.kernel.memory.dma_command import IODMACommand, Segment64

_SGL_ENTRY: Final = mv.SGL_ENTRY
_SGL_FLAGS: Final = mv.SGL_FLAGS
_MSG_FRAME: Final = mv.MSG_FRAME
_FRAME_HEADER: Final = mv.MSG_FRAME.size
_SGL_SIZE: Final = mv.SGL_ENTRY.size
_MAX_SEGMENT: Final = 0xFFFF_FFFF  # the size field is 32 bits
_SENSE_START: Final = mv.RSP_FRAME.size
_SENSE_END: Final = mv.RSP_FRAME.size + mv.MVUMI_SENSE_DATA_LENGTH


def OutputMarvellSGL(
    target: IODMACommand, segment: Segment64, vSegList: Any, outSegIndex: int
) -> bool:
    """An ``IODMACommand`` segment function writing ``struct mvumi_sgl`` entries
    (EOT clear) into ``vSegList``, a view of the SG area after a frame header."""
    address = segment.fIOVMAddr
    length = segment.fLength
    if length > _MAX_SEGMENT:
        return False
    _SGL_ENTRY.pack_into(
        vSegList, outSegIndex * _SGL_SIZE, address & 0xFFFF_FFFF, address >> 32, 0, length
    )
    return True


def sg_area(entry: memoryview) -> memoryview:
    """The part of an inbound entry after the frame header, for the SG list."""
    return entry[_FRAME_HEADER:]


def mark_end_of_table(entry: memoryview, count: int) -> None:
    """Set ``SGD_EOT`` on the last of ``count`` SG entries of a frame."""
    _SGL_FLAGS.pack_into(
        entry, _FRAME_HEADER + (count - 1) * _SGL_SIZE + mv.SGL_FLAGS_OFFSET, mv.SGD_EOT
    )


def write_frame(
    entry: memoryview,
    device_id: int,
    tag: int,
    cmd_flag: int,
    cdb: bytes,
    cdb_length: int,
    sg_counts: int,
    data_transfer_length: int,
    request_id: int,
) -> None:
    """``struct mvumi_msg_frame`` at the start of an inbound entry."""
    _MSG_FRAME.pack_into(
        entry,
        0,
        device_id,
        tag,
        cmd_flag,
        mv.CL_FUN_SCSI_CMD,
        cdb_length,
        sg_counts,
        data_transfer_length,
        request_id,
        0,
        cdb,
    )


def response_sense(entry: memoryview) -> bytes:
    """The fixed-format sense after a response header."""
    return bytes(entry[_SENSE_START:_SENSE_END])


@dataclass(frozen=True, slots=True)
class DriverEvent:
    """One ``struct mvumi_driver_event`` from the firmware's event list."""

    time_stamp: int
    sequence_no: int
    event_id: int
    severity: int
    device_id: int
    params: tuple[int, ...]
    sense_data: bytes


#: Severity names, for the log (the firmware's codes, ordered like syslog's).
SEVERITY_NAMES: Final = {1: "info", 2: "warning", 3: "error", 4: "critical"}
#: Event codes the firmware is known to send (Marvell's list is not public).
EVENT_NAMES: Final = {0x0001: "device arrival", 0x0002: "device removal", 0x0010: "device error"}


def decode_events(data: memoryview | bytes) -> Iterator[DriverEvent]:
    """The events of a ``struct mvumi_event_req`` (F4 00 reply)."""
    (count,) = mv.EVENT_REQUEST_HEADER.unpack_from(data)
    count = min(count, mv.MAX_EVENTS_RETURNED)
    for index in range(count):
        offset = mv.EVENT_REQUEST_HEADER.size + index * mv.DRIVER_EVENT.size
        fields = mv.DRIVER_EVENT.unpack_from(data, offset)
        time_stamp, sequence_no, event_id, severity, param_count, device_id = fields[:6]
        params = fields[6:10][: min(param_count, 4)]
        sense_length = min(fields[10], len(fields[12]))
        yield DriverEvent(
            time_stamp,
            sequence_no,
            event_id,
            severity,
            device_id,
            tuple(params),
            bytes(fields[12][:sense_length]),
        )
