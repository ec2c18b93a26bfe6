"""IODeblocker: a request rounded out to block boundaries, and the physical
sub-range descriptors the request pipeline sends devices.

Mirrors ``IODeblocker`` of ``IOBlockStorageDriver.cpp`` (IOStorageFamily); the
pipeline that uses it, and why its stage memory is a fresh physical descriptor, is
described in ``request_pipeline``.

Stages.  A read is one stage: [scratch head] + client buffer + [scratch tail] from
the block before the request's start (``excessCountStart`` bytes before it,
``excessCountFinal`` after its end), the head and tail bytes discarded.  A write is
a read-modify-write: read the first block into the scratch buffer (if the request
starts inside a block), read the last block (if it ends inside one, unless the whole
request lies in the first block, already read), then write [scratch head] + client
buffer + [scratch tail].  ``getRequestCompletion`` turns the last stage's byte count
into bytes of the client's buffer (0 if a preparatory read failed).

Threading rules: built on the client's kernel thread (it allocates a scratch buffer
and a thread call); ``getNextStage`` runs in the device's completion context and
allocates only the stage's descriptor object (no memory).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from kextlab.kernel.libkern.object import OSObject
from kextlab.kernel.memory.buffer import IOBufferMemoryDescriptor
from kextlab.kernel.memory.descriptor import IOMemoryDescriptor
from kextlab.kernel.memory.options import kIODirectionIn, kIODirectionNone
from kextlab.kernel.threads import (
    thread_call_allocate,
    thread_call_free,
    thread_call_func_t,
    thread_call_t,
)

if TYPE_CHECKING:
    from kextlab.families.storage.storage import IOStorageAttributes, IOStorageCompletion

__all__ = ["IODeblocker", "physical_descriptor", "physical_sub_range"]

# IODeblocker stages (IOBlockStorageDriver.cpp).
kStageInit: Final = 0
kStagePrepareExcessStart: Final = 1
kStagePrepareExcessFinal: Final = 2
kStageLast: Final = 3
kStageDone: Final = 4


def physical_descriptor(runs: list[tuple[int, int]], direction: int) -> IOMemoryDescriptor | None:
    """A wired descriptor of the physical ``runs``, for I/O in ``direction``."""
    return IOMemoryDescriptor.withAddressRanges(runs, len(runs), direction, None)


def physical_sub_range(
    buffer: IOMemoryDescriptor, offset: int, length: int, direction: int
) -> IOMemoryDescriptor | None:
    """``IOSubMemoryDescriptor::withSubRange`` for a wired ``buffer``: its bytes
    ``[offset, offset + length)`` as a physical descriptor of their own."""
    return physical_descriptor(buffer.physical_runs(offset, length), direction)


class IODeblocker(OSObject):
    """The request-level state of a transfer rounded out to block boundaries."""

    def __init__(self) -> None:
        super().__init__()
        self._blockSize = 0
        self._requestBuffer: IOMemoryDescriptor | None = None
        self._requestAttributes: IOStorageAttributes | None = None
        self._requestCompletion: IOStorageCompletion | None = None
        self._requestContext: Any = None
        self._requestCount = 0
        self._requestStart = 0
        self._excessCountStart = 0
        self._excessCountFinal = 0
        self._requestIsOneBlock = False
        self._excessBuffer: IOBufferMemoryDescriptor | None = None
        self._stage = kStageInit
        self._stageBuffer: IOMemoryDescriptor | None = None
        self._byteStart = 0
        self._threadCallback: thread_call_t | None = None

    @classmethod
    def withBlockSize(
        cls,
        blockSize: int,
        withRequestStart: int,
        withRequestBuffer: IOMemoryDescriptor,
        withRequestAttributes: IOStorageAttributes | None,
        withRequestCompletion: IOStorageCompletion | None,
        withRequestContext: Any,
    ) -> IODeblocker | None:
        deblocker = cls()
        if not deblocker.initWithBlockSize(
            blockSize,
            withRequestStart,
            withRequestBuffer,
            withRequestAttributes,
            withRequestCompletion,
            withRequestContext,
        ):
            deblocker.release()
            return None
        return deblocker

    def initWithBlockSize(
        self,
        blockSize: int,
        withRequestStart: int,
        withRequestBuffer: IOMemoryDescriptor,
        withRequestAttributes: IOStorageAttributes | None,
        withRequestCompletion: IOStorageCompletion | None,
        withRequestContext: Any,
    ) -> bool:
        self._blockSize = blockSize
        withRequestBuffer.retain()
        self._requestBuffer = withRequestBuffer
        self._requestAttributes = withRequestAttributes
        self._requestCompletion = withRequestCompletion
        self._requestContext = withRequestContext
        self._requestCount = withRequestBuffer.getLength()
        self._requestStart = withRequestStart
        self._excessCountStart = withRequestStart % blockSize
        final = (withRequestStart + self._requestCount) % blockSize
        self._excessCountFinal = blockSize - final if final else 0
        self._requestIsOneBlock = self._excessCountStart + self._requestCount <= blockSize
        if withRequestBuffer.getDirection() == kIODirectionIn:
            size = max(self._excessCountStart, self._excessCountFinal)
        else:
            size = (blockSize if self._excessCountStart else 0) + (
                blockSize if self._excessCountFinal else 0
            )
            if self._excessCountStart and self._excessCountFinal and self._requestIsOneBlock:
                size -= blockSize
        if size:
            self._excessBuffer = IOBufferMemoryDescriptor.withCapacity(size, kIODirectionNone)
            if self._excessBuffer is None:
                return False
        return True

    # -- stages -----------------------------------------------------------------------------------

    def getNextStage(self) -> bool:
        """Aim at the next stage (its buffer: ``getStageBuffer``, its offset:
        ``getByteStart``); False when the request is done."""
        self._release_stage()
        request = self._requestBuffer
        assert request is not None
        block = self._blockSize
        start = self._requestStart
        head, tail = self._excessCountStart, self._excessCountFinal
        chunks: list[tuple[IOMemoryDescriptor, int, int]] = []
        direction = request.getDirection()
        if direction == kIODirectionIn:
            if self._stage == kStageInit:
                self._stage = kStageLast
                self._byteStart = start - head
                chunks = self._around(request, head, 0, tail, 0)
            else:
                self._stage = kStageDone
        else:
            stage = self._stage
            if stage == kStageInit and head:
                self._stage = kStagePrepareExcessStart
                direction = kIODirectionIn
                self._byteStart = start - head
                chunks = [(self._scratch(), 0, block)]
            elif stage in (kStageInit, kStagePrepareExcessStart) and (
                tail and (not head or not self._requestIsOneBlock)
            ):
                self._stage = kStagePrepareExcessFinal
                direction = kIODirectionIn
                self._byteStart = start + self._requestCount + tail - block
                chunks = [(self._scratch(), self._tail_block_offset(), block)]
            elif stage in (kStageInit, kStagePrepareExcessStart, kStagePrepareExcessFinal):
                self._stage = kStageLast
                self._byteStart = start - head
                tail_offset = self._tail_block_offset() + block - tail
                chunks = self._around(request, head, 0, tail, tail_offset)
            else:
                self._stage = kStageDone
        if not chunks:
            return False
        runs: list[tuple[int, int]] = []
        for memory, offset, length in chunks:
            runs.extend(memory.physical_runs(offset, length))
        self._stageBuffer = physical_descriptor(runs, direction)
        return self._stageBuffer is not None

    def _around(
        self,
        request: IOMemoryDescriptor,
        head: int,
        head_offset: int,
        tail: int,
        tail_offset: int,
    ) -> list[tuple[IOMemoryDescriptor, int, int]]:
        chunks: list[tuple[IOMemoryDescriptor, int, int]] = []
        if head:
            chunks.append((self._scratch(), head_offset, head))
        chunks.append((request, 0, self._requestCount))
        if tail:
            chunks.append((self._scratch(), tail_offset, tail))
        return chunks

    def _tail_block_offset(self) -> int:
        """Where the last block sits in the scratch buffer (writes)."""
        if self._requestIsOneBlock or not self._excessCountStart:
            return 0
        return self._blockSize

    def _scratch(self) -> IOBufferMemoryDescriptor:
        assert self._excessBuffer is not None
        return self._excessBuffer

    def _release_stage(self) -> None:
        if self._stageBuffer is not None:
            self._stageBuffer.release()
            self._stageBuffer = None

    # -- accessors (Apple's names) ----------------------------------------------------------------

    def getStageBuffer(self) -> IOMemoryDescriptor:
        """The memory of the current stage (Apple's deblocker *is* this memory)."""
        assert self._stageBuffer is not None
        return self._stageBuffer

    def getLength(self) -> int:
        return self._stageBuffer.getLength() if self._stageBuffer is not None else 0

    def getByteStart(self) -> int:
        return self._byteStart

    def getRequestAttributes(self) -> IOStorageAttributes | None:
        return self._requestAttributes

    def getRequestBuffer(self) -> IOMemoryDescriptor:
        assert self._requestBuffer is not None
        return self._requestBuffer

    def getRequestContext(self) -> Any:
        return self._requestContext

    def getRequestCompletion(self, actualByteCount: int) -> tuple[IOStorageCompletion | None, int]:
        """The client's completion, and ``actualByteCount`` of the current stage
        turned into bytes of the client's buffer."""
        if self._stage in (kStageLast, kStageDone):
            count = max(actualByteCount - self._excessCountStart, 0)
            count = min(count, self._requestCount)
        else:
            count = 0
        return self._requestCompletion, count

    def getThreadCallback(self) -> thread_call_t | None:
        return self._threadCallback

    def setThreadCallback(self, callback: thread_call_func_t) -> bool:
        self._threadCallback = thread_call_allocate(callback, self)
        return True

    def free(self) -> None:
        self._release_stage()
        for name in ("_requestBuffer", "_excessBuffer"):
            held = getattr(self, name)
            if held is not None:
                held.release()
                setattr(self, name, None)
        if self._threadCallback is not None:
            thread_call_free(self._threadCallback)
            self._threadCallback = None
        super().free()
