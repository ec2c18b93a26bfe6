"""IOBreaker: a request sent to the device as successive pieces that fit its limits.

Mirrors ``IOBreaker`` and ``IOBreaker::getBreakSize`` of ``IOBlockStorageDriver.cpp``
(IOStorageFamily).  A device publishes its limits on its provider chain (the
``kIOMaximum*`` keys of ``block_storage_device``), gathered per direction in a
``TransferLimits``; ``getBreakSize`` walks the physical segments of the buffer from
an offset, folding physically contiguous segments together, trimming each to the
segment byte count, alignment and addressable width, and stopping at the maximum
byte (or block) count or segment count: the bytes the next piece may carry, in
whole blocks (0: not even one block fits).  Each piece is a physical sub-range of
the client's buffer (``deblocker.physical_sub_range``); ``getRequestCompletion``
adds the bytes of the pieces already done.

Threading rules: built on the client's kernel thread (it allocates a thread call);
``getNextStage`` runs in the device's completion context.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kextlab.families.storage.deblocker import physical_sub_range
from kextlab.kernel.libkern.object import OSObject
from kextlab.kernel.memory.options import PAGE_SIZE
from kextlab.kernel.threads import (
    thread_call_allocate,
    thread_call_free,
    thread_call_func_t,
    thread_call_t,
)

if TYPE_CHECKING:
    from kextlab.families.storage.storage import IOStorageAttributes, IOStorageCompletion
    from kextlab.kernel.memory.descriptor import IOMemoryDescriptor

__all__ = ["IOBreaker", "TransferLimits"]


class TransferLimits:
    """One direction's transfer constraints (the ``kIOMaximum*`` keys; 0: none)."""

    __slots__ = (
        "maximumBlockCount",
        "maximumByteCount",
        "maximumSegmentByteCount",
        "maximumSegmentCount",
        "maximumSegmentWidthByteCount",
        "minimumSegmentAlignmentByteCount",
    )

    def __init__(self) -> None:
        self.maximumBlockCount = 0
        self.maximumByteCount = 0
        self.maximumSegmentCount = 0
        self.maximumSegmentByteCount = 0
        self.minimumSegmentAlignmentByteCount = 4
        self.maximumSegmentWidthByteCount = 0

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)}" for name in self.__slots__)
        return f"TransferLimits({fields})"


class IOBreaker(OSObject):
    """The request-level state of a transfer sent as successive pieces."""

    def __init__(self) -> None:
        super().__init__()
        self._breakSize = 0
        self._limits = TransferLimits()
        self._requestBlockSize = 0
        self._requestBuffer: IOMemoryDescriptor | None = None
        self._requestAttributes: IOStorageAttributes | None = None
        self._requestCompletion: IOStorageCompletion | None = None
        self._requestContext: Any = None
        self._requestCount = 0
        self._requestStart = 0
        self._start = 0
        self._length = 0
        self._byteStart = 0
        self._stageBuffer: IOMemoryDescriptor | None = None
        self._threadCallback: thread_call_t | None = None

    @staticmethod
    def getBreakSize(
        limits: TransferLimits,
        withRequestBlockSize: int,
        withRequestBuffer: IOMemoryDescriptor,
        withRequestBufferOffset: int,
    ) -> int:
        """How many bytes (whole blocks) the next piece from
        ``withRequestBufferOffset`` may carry under ``limits``: 0 if not even one
        block fits (the request cannot be sent)."""
        maximum_bytes = limits.maximumByteCount
        if limits.maximumBlockCount:
            in_bytes = limits.maximumBlockCount * withRequestBlockSize
            maximum_bytes = min(in_bytes, maximum_bytes) if maximum_bytes else in_bytes
        alignment_mask = max(limits.minimumSegmentAlignmentByteCount - 1, 0)
        maximum_segment_bytes = limits.maximumSegmentByteCount
        maximum_segments = limits.maximumSegmentCount
        width = limits.maximumSegmentWidthByteCount
        buffer = withRequestBuffer
        buffer_length = buffer.getLength()
        offset = withRequestBufferOffset
        # The physical segments from the offset on, all at once: what successive
        # getPhysicalSegment calls would give (maximal runs), in one call.
        segments = (
            buffer.physical_runs(offset, buffer_length - offset)
            if 0 <= offset < buffer_length
            else []
        )
        next_segment = 0
        break_size = 0
        chunk = chunk_size = 0
        segment = segment_size = 0
        segment_count = 0
        while segment or offset < buffer_length:
            if segment == 0:  # obtain a new segment
                if next_segment == len(segments):
                    break
                segment, segment_size = segments[next_segment]
                next_segment += 1
                offset += segment_size
                if segment_size == 0:
                    break
            if chunk == 0:  # fold it in
                break_size += segment_size
                chunk, chunk_size = segment, segment_size
                segment = segment_size = 0
                segment_count += 1
            elif chunk + chunk_size == segment:
                break_size += segment_size
                chunk_size += segment_size
                segment = segment_size = 0
            if segment == 0:  # trim the chunk to the segment constraints
                if maximum_segment_bytes and chunk_size > maximum_segment_bytes:
                    segment_size = chunk_size - maximum_segment_bytes
                misaligned = chunk & alignment_mask or chunk_size & alignment_mask
                if alignment_mask and misaligned and chunk_size > PAGE_SIZE:
                    segment_size = max(chunk_size - PAGE_SIZE, segment_size)
                if width:
                    if chunk >= width:
                        if chunk_size > PAGE_SIZE:
                            segment_size = max(chunk_size - PAGE_SIZE, segment_size)
                    elif chunk + chunk_size > width:
                        segment_size = max(chunk + chunk_size - width, segment_size)
                if segment_size:
                    segment = chunk + chunk_size - segment_size
                    break_size -= segment_size
                    chunk_size -= segment_size
                if maximum_bytes and break_size >= maximum_bytes:
                    break_size = maximum_bytes
                    break
            if segment:  # commit the chunk: the next segment starts a new one
                if maximum_segments and segment_count == maximum_segments:
                    break
                chunk = chunk_size = 0
        return break_size - break_size % withRequestBlockSize

    @classmethod
    def withBreakSize(
        cls,
        breakSize: int,
        limits: TransferLimits,
        withRequestBlockSize: int,
        withRequestStart: int,
        withRequestBuffer: IOMemoryDescriptor,
        withRequestAttributes: IOStorageAttributes | None,
        withRequestCompletion: IOStorageCompletion | None,
        withRequestContext: Any,
    ) -> IOBreaker:
        breaker = cls()
        breaker._breakSize = breakSize
        breaker._limits = limits
        breaker._requestBlockSize = withRequestBlockSize
        withRequestBuffer.retain()
        breaker._requestBuffer = withRequestBuffer
        breaker._requestAttributes = withRequestAttributes
        breaker._requestCompletion = withRequestCompletion
        breaker._requestContext = withRequestContext
        breaker._requestCount = withRequestBuffer.getLength()
        breaker._requestStart = withRequestStart
        return breaker

    def getNextStage(self) -> bool:
        """Aim at the next piece; False when the whole request has been sent."""
        if self._stageBuffer is not None:
            self._stageBuffer.release()
            self._stageBuffer = None
        if self._start + self._length >= self._requestCount:
            return False
        buffer = self._requestBuffer
        assert buffer is not None
        self._start += self._length
        self._length = min(self._breakSize, self._requestCount - self._start)
        self._breakSize = IOBreaker.getBreakSize(
            self._limits, self._requestBlockSize, buffer, self._start + self._length
        )
        self._byteStart = self._requestStart + self._start
        self._stageBuffer = physical_sub_range(
            buffer, self._start, self._length, buffer.getDirection()
        )
        return self._stageBuffer is not None

    def getStageBuffer(self) -> IOMemoryDescriptor:
        assert self._stageBuffer is not None
        return self._stageBuffer

    def getLength(self) -> int:
        return self._length

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
        """The client's completion, and the bytes moved so far in all pieces."""
        return self._requestCompletion, actualByteCount + self._start

    def getThreadCallback(self) -> thread_call_t | None:
        return self._threadCallback

    def setThreadCallback(self, callback: thread_call_func_t) -> bool:
        self._threadCallback = thread_call_allocate(callback, self)
        return True

    def free(self) -> None:
        for name in ("_stageBuffer", "_requestBuffer"):
            held = getattr(self, name)
            if held is not None:
                held.release()
                setattr(self, name, None)
        if self._threadCallback is not None:
            thread_call_free(self._threadCallback)
            self._threadCallback = None
        super().free()
