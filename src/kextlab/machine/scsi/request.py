"""A SCSI command in flight: the request an initiator port hands to a target.

This is the one interface between host bus adapters and targets (QEMU's
``SCSIRequest`` plays the same part).  The HBA model builds a ``SCSIRequest`` from
its hardware frame: the LUN, the CDB, the direction and a ``DataBuffer`` over the
initiator's memory.  The target fills in the outcome: the SAM ``status``, the
``sense`` bytes for CHECK CONDITION and the number of bytes ``transferred``.  A
failure below the SCSI layer (no device at the ID, a DMA fault in the HBA, an
aborted task) is a ``host_status``, never a sense code, as in every HBA driver
(``DID_NO_CONNECT``, ``DID_ERROR``, ``DID_ABORT``).

Data moves without copies on the hot path: ``DataBuffer.views`` hands a target
memoryviews straight into physical memory (the HBA's scatter-gather list resolved
by bus-master DMA), which the disk model passes to ``os.preadv``/``os.pwritev``.
Small replies (INQUIRY, MODE SENSE) use ``send``, which clips to the initiator's
buffer and to the CDB's ALLOCATION LENGTH, as SPC requires.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field

from kextlab.machine.scsi.constants import Status
from kextlab.machine.scsi.sense import SenseCode


class Direction(enum.Enum):
    NONE = "none"
    IN = "in"  # data to the initiator (reads)
    OUT = "out"  # data from the initiator (writes)


class HostStatus(enum.Enum):
    """How the command fared below the SCSI layer."""

    OK = "ok"
    NO_TARGET = "no target"  # selection timeout: nothing answers at that ID
    TRANSPORT_ERROR = "transport error"  # the HBA could not move the data (DMA fault)
    ABORTED = "aborted"  # ended by a task management function
    RESET = "reset"  # ended by a bus or target reset


class DataBuffer(ABC):
    """The initiator's memory for one command's data."""

    __slots__ = ()  # subclasses on the hot path (the HBAs' SG lists) declare theirs

    length: int

    @abstractmethod
    def views(self, offset: int, length: int) -> list[memoryview] | None:
        """Zero-copy views covering ``[offset, offset + length)``; None on a DMA fault."""

    def write(self, offset: int, data: bytes | bytearray | memoryview) -> bool:
        """Copy ``data`` into the buffer at ``offset`` (to the initiator)."""
        views = self.views(offset, len(data))
        if views is None:
            return False
        position = 0
        for view in views:
            view[:] = data[position : position + len(view)]
            position += len(view)
        return True

    def read(self, offset: int, length: int) -> bytes | None:
        """Copy ``length`` bytes out of the buffer (from the initiator)."""
        views = self.views(offset, length)
        if views is None:
            return None
        return b"".join(bytes(view) for view in views)


class MemoryBuffer(DataBuffer):
    """A buffer in Python memory: for tests, tools and internal commands."""

    def __init__(self, data: bytes | bytearray | int) -> None:
        self.data = bytearray(data)
        self.length = len(self.data)

    def views(self, offset: int, length: int) -> list[memoryview] | None:
        if offset < 0 or offset + length > self.length:
            return None
        return [memoryview(self.data)[offset : offset + length]]


@dataclass(eq=False, slots=True)
class SCSIRequest:
    """One command: what the initiator asked, and what the target answered (one per
    command an HBA starts, hence the slots)."""

    lun: int
    cdb: bytes
    direction: Direction = Direction.NONE
    buffer: DataBuffer | None = None
    tag: int = 0
    status: Status = Status.GOOD
    sense: bytes = b""
    transferred: int = 0
    host_status: HostStatus = HostStatus.OK
    completed: bool = False
    on_complete: Callable[[SCSIRequest], None] | None = field(default=None, repr=False)

    @property
    def opcode(self) -> int:
        return self.cdb[0] if self.cdb else -1

    @property
    def expected_length(self) -> int:
        """Bytes the initiator expects to move (its buffer's length)."""
        return self.buffer.length if self.buffer is not None else 0

    @property
    def residual(self) -> int:
        return self.expected_length - self.transferred

    @property
    def ok(self) -> bool:
        return self.host_status is HostStatus.OK and self.status is Status.GOOD

    # -- what targets call ------------------------------------------------------------

    def check_condition(
        self,
        code: SenseCode,
        *,
        descriptor: bool = False,
        information: int | None = None,
        filemark: bool = False,
        end_of_medium: bool = False,
        incorrect_length: bool = False,
    ) -> None:
        self.status = Status.CHECK_CONDITION
        self.sense = code.build(
            descriptor=descriptor,
            information=information,
            filemark=filemark,
            end_of_medium=end_of_medium,
            incorrect_length=incorrect_length,
        )

    def send(self, data: bytes | bytearray, allocation_length: int | None = None) -> bool:
        """Return ``data`` to the initiator, clipped to its buffer and to the CDB's
        ALLOCATION LENGTH (when given): SPC-4 forbids sending more than the allocation
        length even when the initiator's buffer is larger."""
        count = min(len(data), self.expected_length)
        if allocation_length is not None:
            count = min(count, allocation_length)
        if self.buffer is None or self.direction is not Direction.IN:
            return count == 0
        if not self.buffer.write(0, data[:count]):
            self.host_status = HostStatus.TRANSPORT_ERROR
            return False
        self.transferred = count
        return True

    def receive(self, length: int | None = None) -> bytes | None:
        """The data the initiator sent (all of it, or the first ``length`` bytes)."""
        wanted = self.expected_length if length is None else min(length, self.expected_length)
        if self.buffer is None or self.direction is not Direction.OUT:
            return b"" if wanted == 0 else None
        data = self.buffer.read(0, wanted)
        if data is None:
            self.host_status = HostStatus.TRANSPORT_ERROR
            return None
        self.transferred = wanted
        return data

    def data_views(self, offset: int, length: int) -> list[memoryview] | None:
        """Views into the initiator's memory for a bulk transfer; None after a DMA fault."""
        if self.buffer is None:
            return None
        views = self.buffer.views(offset, length)
        if views is None:
            self.host_status = HostStatus.TRANSPORT_ERROR
        return views

    def complete(self) -> None:
        """Hand the finished request back to the initiator (once)."""
        if self.completed:
            return
        self.completed = True
        if self.on_complete is not None:
            self.on_complete(self)
