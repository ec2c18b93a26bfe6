"""Frames: reading inbound command frames and SG lists, writing response frames.

The firmware reads each inbound entry by DMA as a 32-byte ``struct
mvumi_msg_frame`` followed by ``sg_counts`` 16-byte ``struct mvumi_sgl`` entries
(``registers.MSG_FRAME``/``SGL_ENTRY``), checks it the way firmware must before it
trusts host memory, and turns the SG list into a ``DataBuffer`` for the SCSI
request: ``ScatterGatherBuffer`` resolves each segment with the PCI function's
``dma_view``, so targets move data straight between their store and host RAM, and
a segment outside RAM (or Bus Master off) is a master abort, which the request
records as a transport error.

Responses go the other way as ``struct mvumi_rsp_frame`` plus 18 bytes of
fixed-format sense (``pack_response``); sense a target gave in descriptor format
is rewritten as fixed, since that is all the frame has room for.

Every command passes through here, so the flag tests use plain integers (an
``IntFlag`` operand costs a Python-level call per ``&``), a frame is one
``unpack_from`` turned into an ``InboundFrame`` (a named tuple) in C, an SG list of
one entry (a 4 KiB read) takes a short path, and a response is one ``pack_into``.

Threading rules: none; called from the firmware's scheduler events.
"""

from __future__ import annotations

import bisect
import struct
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, NamedTuple, Protocol

from kextlab.machine.devices.mvumi import registers as mv
from kextlab.machine.scsi import sense as scsi_sense
from kextlab.machine.scsi.request import DataBuffer, Direction


class DmaView(Protocol):
    """``PCIFunction.dma_view``: a view of host RAM for a bus-master transfer, or None."""

    def __call__(self, address: int, length: int, *, writing: bool) -> memoryview | None: ...


_DATA_IN = int(mv.CommandFlag.CMD_FLAG_DATA_IN)
_DATA_OUT = int(mv.CommandFlag.CMD_FLAG_DATA_OUT)
_NON_DATA = int(mv.CommandFlag.CMD_FLAG_NON_DATA)
_DATA_FLAGS = _DATA_IN | _DATA_OUT
_MSG_FRAME = mv.MSG_FRAME
#: ``MSG_FRAME`` with reserved1 skipped: the fields of ``InboundFrame``, in order.
_FRAME_FIELDS = struct.Struct(mv.MSG_FRAME.format.replace("HH16s", "H2x16s"))
assert _FRAME_FIELDS.size == _MSG_FRAME.size
_SGL_ENTRY = mv.SGL_ENTRY
#: A whole response entry, header and sense area, for one ``pack_into``.
_RESPONSE = struct.Struct(mv.RSP_FRAME.format + f"{mv.SENSE_DATA_LENGTH}s")
assert _RESPONSE.size == mv.RESPONSE_LENGTH
_SENSEDATA = mv.CL_RSP_FLAG_SENSEDATA
_NODATA = mv.CL_RSP_FLAG_NODATA
_EOT = mv.SGD_EOT
_NO_SENSE = bytes(mv.SENSE_DATA_LENGTH)
_SCSI_CMD = mv.CL_FUN_SCSI_CMD
_MAX_COMMAND_SIZE = mv.MAX_COMMAND_SIZE


class InboundFrame(NamedTuple):
    """One command frame as the host wrote it (a named tuple: ``unpack`` builds it
    straight from ``unpack_from``'s tuple, without a Python-level constructor)."""

    device_id: int
    tag: int
    cmd_flag: int
    req_function: int
    cdb_length: int
    sg_counts: int
    data_transfer_length: int
    request_id: int
    cdb_field: bytes

    @classmethod
    def unpack(cls, view: memoryview) -> InboundFrame:
        return _new_frame(_FRAME_FIELDS.unpack_from(view))

    @property
    def target(self) -> int:
        return self.device_id & 0xFF

    @property
    def lun(self) -> int:
        return self.device_id >> 8

    @property
    def cdb(self) -> bytes:
        return self.cdb_field[: self.cdb_length]

    @property
    def opcode(self) -> int:
        return self.cdb_field[0]

    @property
    def direction(self) -> Direction:
        flag = self.cmd_flag
        if flag & _DATA_IN:
            return Direction.IN
        if flag & _DATA_OUT:
            return Direction.OUT
        return Direction.NONE


#: ``InboundFrame`` from the unpacked fields, in C (``tuple.__new__``).
_new_frame: Callable[[tuple[Any, ...]], InboundFrame] = partial(tuple.__new__, InboundFrame)


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why the firmware refuses a frame: the sense it answers with and a message."""

    code: scsi_sense.SenseCode
    reason: str


def check_frame(frame: InboundFrame, *, max_sg: int, max_transfer: int) -> Rejection | None:
    """The checks the firmware makes on a frame header before acting on it."""
    if frame.req_function != _SCSI_CMD:
        return Rejection(
            scsi_sense.INVALID_OPCODE, f"req_function {frame.req_function:#x} is not SCSI_CMD"
        )
    if not 1 <= frame.cdb_length <= _MAX_COMMAND_SIZE:
        return Rejection(scsi_sense.INVALID_FIELD, f"cdb_length {frame.cdb_length}")
    flags = frame.cmd_flag
    if flags & _DATA_FLAGS == _DATA_FLAGS:
        return Rejection(scsi_sense.INVALID_FIELD, "cmd_flag has both DATA_IN and DATA_OUT")
    length = frame.data_transfer_length
    if length and not flags & _DATA_FLAGS:
        return Rejection(
            scsi_sense.INVALID_FIELD,
            f"data_transfer_length {length} without DATA_IN or DATA_OUT in cmd_flag",
        )
    if length and flags & _NON_DATA:
        return Rejection(
            scsi_sense.INVALID_FIELD, f"data_transfer_length {length} with CMD_FLAG_NON_DATA"
        )
    if length > max_transfer:
        return Rejection(
            scsi_sense.INVALID_FIELD,
            f"data_transfer_length {length} exceeds max_transfer_size {max_transfer}",
        )
    if frame.sg_counts > max_sg:
        return Rejection(
            scsi_sense.INVALID_FIELD, f"sg_counts {frame.sg_counts} exceeds {max_sg} entries"
        )
    if length and not frame.sg_counts:
        return Rejection(
            scsi_sense.INVALID_FIELD, f"data_transfer_length {length} with an empty SG list"
        )
    return None


def parse_sg_list(view: memoryview, count: int, length: int) -> list[tuple[int, int]] | Rejection:
    """The (address, size) segments of an SG list, or why it is malformed.

    The last entry must carry EOT and no other may; the segments must cover
    ``length`` bytes (extra bytes at the end are not used).
    """
    if count == 1:
        low, high, flags, size = _SGL_ENTRY.unpack_from(view)
        if flags & _EOT and size >= length:
            return [(high << 32 | low, size)] if size else []
    segments: list[tuple[int, int]] = []
    total = 0
    last = count - 1
    for index, (low, high, flags, size) in enumerate(_SGL_ENTRY.iter_unpack(view)):
        end_of_table = bool(flags & _EOT)
        if end_of_table != (index == last):
            where = "missing on the last entry" if index == last else f"on entry {index}"
            return Rejection(scsi_sense.INVALID_FIELD, f"SG list EOT flag {where}")
        if size:
            segments.append((high << 32 | low, size))
            total += size
    if total < length:
        return Rejection(
            scsi_sense.INVALID_FIELD,
            f"SG list covers {total} bytes, data_transfer_length is {length}",
        )
    return segments


class ScatterGatherBuffer(DataBuffer):
    """A command's data in host memory, as its SG list describes it.

    ``dma`` is the PCI function's ``dma_view``; ``writing`` says which way data
    moves (True: into host memory, a DATA_IN command).
    """

    __slots__ = ("_dma", "_segments", "_starts", "_writing", "length")

    def __init__(
        self, dma: DmaView, segments: list[tuple[int, int]], length: int, *, writing: bool
    ) -> None:
        self._dma = dma
        self._writing = writing
        self._segments = segments
        starts = []
        position = 0
        for _, size in segments:
            starts.append(position)
            position += size
        self._starts = starts
        self.length = length

    def views(self, offset: int, length: int) -> list[memoryview] | None:
        if offset < 0 or length <= 0 or offset + length > self.length:
            return [] if length == 0 and 0 <= offset <= self.length else None
        address, size = self._segments[0]
        if offset + length <= size:  # within the first segment (every one-entry list)
            view = self._dma(address + offset, length, writing=self._writing)
            return None if view is None else [view]
        views: list[memoryview] = []
        index = bisect.bisect_right(self._starts, offset) - 1
        segments = self._segments
        position = offset
        end = offset + length
        while position < end:
            address, size = segments[index]
            within = position - self._starts[index]
            count = min(size - within, end - position)
            view = self._dma(address + within, count, writing=self._writing)
            if view is None:
                return None
            views.append(view)
            position += count
            index += 1
        return views


def fixed_sense(sense: bytes) -> bytes:
    """18 bytes of fixed-format sense, whatever format the target used."""
    if not sense:
        return _NO_SENSE
    if sense[0] & 0x7F in (0x72, 0x73):
        try:
            decoded = scsi_sense.decode(sense)
        except ValueError:
            return _NO_SENSE
        code = scsi_sense.SenseCode(decoded.key, decoded.asc, decoded.ascq)
        return code.build(
            information=decoded.information,
            filemark=decoded.filemark,
            end_of_medium=decoded.end_of_medium,
            incorrect_length=decoded.incorrect_length,
        )
    return sense[: mv.SENSE_DATA_LENGTH].ljust(mv.SENSE_DATA_LENGTH, b"\0")


def pack_response(
    view: memoryview,
    *,
    device_id: int,
    tag: int,
    status: int,
    request_id: int,
    sense: bytes,
) -> None:
    """Write a response frame (header and sense area) into ``view``.

    With sense the frame says CL_RSP_FLAG_SENSEDATA; without, the sense area is
    zeroed so that no stale bytes of an earlier response remain.
    """
    if sense:
        _RESPONSE.pack_into(
            view, 0, device_id, tag, status, _SENSEDATA, request_id, fixed_sense(sense)
        )
    else:
        _RESPONSE.pack_into(view, 0, device_id, tag, status, _NODATA, request_id, _NO_SENSE)
