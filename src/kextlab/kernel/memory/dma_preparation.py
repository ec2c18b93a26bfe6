"""One preparation of an IODMACommand: the runs its device sees, and the bounce
buffer behind them.

Mirrors the walking half of ``IODMACommand.cpp`` (xnu): ``walkAll`` with
``segmentOp`` (the preflight that finds misaligned or unreachable memory and the
copies in and out of bounce pages) and ``createCopyBuffer``.  The design is told in
``dma_command.py`` ("Bouncing"); this module carries it out:

* ``SegmentLimits``: what a command's specification allows, with ``cut`` (the
  segment-shortening steps 2-4 of the essay) and ``misaligned`` (the preflight);
* ``build_preparation``: from the memory's physical runs over the prepared range,
  the runs the device will see, with either nothing bounced, the bytes beyond the
  address limit moved to bounce pages (sparse), or the whole range in one copy
  buffer (double buffering);
* ``Preparation``: those runs (bisected by offset), the copy buffer (an
  ``IOBufferMemoryDescriptor``) and the list of bounced stretches, which it copies
  toward the device or back with ``memoryview`` slice assignment.

Threading rules: building allocates the copy buffer, so it may not run in interrupt
context (the buffer's creation raises there); copying never blocks.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from kextlab.kernel.ioreturn import kIOReturnDMAError, kIOReturnNoResources, kIOReturnSuccess
from kextlab.kernel.memory.buffer import IOBufferMemoryDescriptor
from kextlab.kernel.memory.kernel_memory import KernelMemory
from kextlab.kernel.memory.options import (
    PAGE_MASK,
    PAGE_SHIFT,
    PAGE_SIZE,
    kIODirectionIn,
    kIODirectionNone,
    kIODirectionOut,
)
from kextlab.kernel.memory.task import kernel_task

#: A stretch of bus-contiguous bytes: (offset in the prepared range, bus address, length).
Run = tuple[int, int, int]
#: xnu's ``createCopyBuffer`` mask: page-aligned, below 4 GiB.
COPY_BUFFER_MASK: Final = 0xFFFF_F000
#: Which way a copy goes (xnu's kWalkSyncIn / kWalkSyncOut).
TO_MEMORY: Final = kIODirectionIn
TO_DEVICE: Final = kIODirectionOut


def coalesce_runs(runs: Sequence[Run]) -> list[Run]:
    """Merge runs whose bus addresses follow each other."""
    merged: list[Run] = []
    for offset, address, length in runs:
        if merged:
            last_offset, last_address, last_length = merged[-1]
            if last_address + last_length == address:
                merged[-1] = (last_offset, last_address, last_length + length)
                continue
        merged.append((offset, address, length))
    return merged


def pages_spanned(address: int, length: int) -> int:
    return ((address & PAGE_MASK) + length + PAGE_MASK) >> PAGE_SHIFT


def extent_of(runs: list[Run], offsets: list[int], position: int, end: int) -> tuple[int, int]:
    """Bus address and contiguous length at ``position`` (not past ``end``)."""
    index = bisect.bisect_right(offsets, position) - 1
    run_offset, address, length = runs[index]
    inside = position - run_offset
    return address + inside, min(length - inside, end - position)


@dataclass(frozen=True, slots=True)
class SegmentLimits:
    """A command's limits on the segments it gives (masks are alignment - 1)."""

    max_address: int
    max_segment_size: int
    align_mask: int  # of the first segment's address
    align_mask_length: int  # of every segment's length
    align_mask_internal: int  # of the other segments' addresses

    def cut(self, address: int, length: int) -> int:
        """A segment's length after xnu's cuts: the maximum segment size, a whole
        number of length units, and (if it was cut) an aligned start for the next."""
        cut = False
        if length > self.max_segment_size:
            length = self.max_segment_size
            cut = True
        reduce = length & self.align_mask_length
        if reduce and length > reduce:
            length -= reduce
            cut = True
        if cut:
            reduce = (address + length) & self.align_mask_internal
            if reduce and length > reduce:
                length -= reduce
        return length

    def misaligned(self, runs: list[Run], length: int) -> bool:
        """Whether any segment of ``runs`` breaks the alignment (xnu's preflight)."""
        if not (self.align_mask or self.align_mask_length or self.align_mask_internal):
            return False
        if len(runs) > 1:
            runs = coalesce_runs(runs)
        # The runs cover [0, length) in order: walk them in turn, segment by segment.
        index = 0
        for run_offset, run_address, run_length in runs:
            inside = 0
            while inside < run_length and run_offset + inside < length:
                address = run_address + inside
                extent = min(run_length - inside, length - run_offset - inside)
                if extent > self.max_segment_size or extent & self.align_mask_length:
                    extent = self.cut(address, extent)  # (``cut`` changes nothing else)
                mask = self.align_mask_internal if index else self.align_mask
                if address & mask or extent & self.align_mask_length:
                    return True
                inside += extent
                index += 1
        return False


@dataclass(frozen=True, slots=True)
class Bounce:
    """Bytes of the prepared range that the device reaches in the copy buffer."""

    offset: int  # in the prepared range
    source: int  # the memory's physical address
    bounce: int  # the copy buffer's physical address
    length: int


class Preparation:
    """The bus view of one prepared range."""

    __slots__ = (
        "bounce_bytes",
        "bounces",
        "copy",
        "cursor",
        "double_buffer",
        "length",
        "offset",
        "run_offsets",
        "runs",
    )

    def __init__(
        self,
        offset: int,
        length: int,
        runs: list[Run],
        *,
        cursor: bool,
        copy: IOBufferMemoryDescriptor | None = None,
        bounces: Sequence[Bounce] = (),
        double_buffer: bool = False,
    ) -> None:
        self.offset = offset
        self.length = length
        if len(runs) == 1:  # the usual I/O: one run, nothing to merge
            self.runs = runs
            self.run_offsets = [runs[0][0]]
        else:
            self.runs = coalesce_runs(runs)
            self.run_offsets = [run_offset for run_offset, _, _ in self.runs]
        #: Generated straight from the memory, with the limits checked as errors
        #: rather than bounced around (nothing needed bouncing, or kIterateOnly).
        self.cursor = cursor
        self.copy = copy
        self.bounces = list(bounces)
        self.double_buffer = double_buffer
        #: Bytes the device reaches through the copy buffer.
        self.bounce_bytes = 0
        for bounce in self.bounces:
            self.bounce_bytes += bounce.length

    def extent(self, position: int, end: int) -> tuple[int, int]:
        return extent_of(self.runs, self.run_offsets, position, end)

    def synchronize(
        self, memory: KernelMemory, toward: int, direction: int, *, always: bool
    ) -> None:
        """Copy every bounced stretch ``toward`` the memory or the device, if the
        memory's ``direction`` calls for it (xnu's ``SHOULD_COPY_DIR``; ``always``
        for an explicit ``synchronize``)."""
        if not self.bounces:
            return
        if not (always or direction == kIODirectionNone or direction & toward):
            return
        view = memory.view
        for bounce in self.bounces:
            source, copy = view(bounce.source, bounce.length), view(bounce.bounce, bounce.length)
            if toward == TO_DEVICE:
                copy[:] = source
            else:
                source[:] = copy
            memory.dma.bytes_bounced += bounce.length

    def release(self) -> None:
        """Free the copy buffer."""
        if self.copy is not None:
            self.copy.release()
            self.copy = None


def build_preparation(
    memory: KernelMemory,
    physical: list[tuple[int, int]],
    offset: int,
    length: int,
    limits: SegmentLimits,
    *,
    direction: int,
    iterate_only: bool,
    force_double_buffer: bool,
) -> tuple[int, Preparation | None]:
    """The preparation of ``[offset, +length)`` whose ``physical`` runs are given:
    an IOReturn, and the preparation on success.  Nothing is copied yet."""
    limit = limits.max_address
    runs: list[Run] = []
    position = 0
    out_of_reach = False
    for address, run_length in physical:
        runs.append((position, address, run_length))
        if address + run_length - 1 > limit:
            out_of_reach = True
        position += run_length
    misaligned = not iterate_only and limits.misaligned(runs, length)
    if iterate_only or not (out_of_reach or misaligned or force_double_buffer):
        return kIOReturnSuccess, Preparation(offset, length, runs, cursor=True)
    if misaligned or force_double_buffer:
        preparation = _double_buffered(offset, length, runs, limit, direction)
    else:
        preparation = _sparsely_bounced(offset, length, runs, limit, direction)
    if preparation is None:
        return kIOReturnNoResources, None
    if not all(memory.physical.contains(b.source, b.length) for b in preparation.bounces):
        preparation.release()
        return kIOReturnDMAError, None  # only RAM can be bounced
    return kIOReturnSuccess, preparation


def _copy_buffer(length: int, limit: int, direction: int) -> IOBufferMemoryDescriptor | None:
    """xnu's ``createCopyBuffer``: page-aligned memory within the device's reach."""
    return IOBufferMemoryDescriptor.inTaskWithPhysicalMask(
        kernel_task, direction, length, COPY_BUFFER_MASK & limit
    )


def _double_buffered(
    offset: int, length: int, runs: list[Run], limit: int, direction: int
) -> Preparation | None:
    copy = _copy_buffer(length, limit, direction)
    if copy is None:
        return None
    base = copy.buffer_address()
    bounces = [Bounce(at, address, base + at, size) for at, address, size in runs]
    return Preparation(
        offset,
        length,
        [(0, base, length)],
        cursor=False,
        copy=copy,
        bounces=bounces,
        double_buffer=True,
    )


def _sparsely_bounced(
    offset: int, length: int, runs: list[Run], limit: int, direction: int
) -> Preparation | None:
    pieces: list[tuple[int, int, int, bool]] = []  # offset, address, length, bounced
    pages = 0
    for at, address, size in runs:
        if address + size - 1 <= limit:
            pieces.append((at, address, size, False))
            continue
        if address <= limit:  # the head is within reach, the tail is not
            head = limit + 1 - address
            pieces.append((at, address, head, False))
            at, address, size = at + head, limit + 1, size - head
        pieces.append((at, address, size, True))
        pages += pages_spanned(address, size)
    copy = _copy_buffer(pages * PAGE_SIZE, limit, direction)
    if copy is None:
        return None
    page = copy.buffer_address()
    bus_runs: list[Run] = []
    bounces: list[Bounce] = []
    for at, address, size, bounced in pieces:
        if not bounced:
            bus_runs.append((at, address, size))
            continue
        bounce = page + (address & PAGE_MASK)  # same offset in its page, as xnu
        bounces.append(Bounce(at, address, bounce, size))
        bus_runs.append((at, bounce, size))
        page += pages_spanned(address, size) * PAGE_SIZE
    return Preparation(offset, length, bus_runs, cursor=False, copy=copy, bounces=bounces)
