"""IOMemoryDescriptor: a list of memory ranges an I/O will read or write.

Mirrors ``IOMemoryDescriptor.h`` and ``IOMemoryDescriptor.cpp`` (xnu): the abstract
``IOMemoryDescriptor`` with its factories, and ``IOGeneralMemoryDescriptor``, the
class those factories return, which describes either *virtual* ranges of a task
(``withAddressRange(address, length, options, kernel_task)``) or *physical* ranges
(``withPhysicalAddress``, or a ``task`` of None).  In xnu the abstract class has no
ranges of its own; here the range bookkeeping lives in ``IOMemoryDescriptor`` so
that ``IODeviceMemory``, its direct subclass as in Apple's class tree, shares it.

Wiring.  Virtual memory has physical addresses only while it is *prepared*
(wired): ``prepare`` translates the ranges through the task (``task.py``) and
counts, ``complete`` uncounts and forgets the translation at zero.  Prepares nest;
completing more than was prepared returns ``kIOReturnNotReady`` (xnu asserts and
returns success: a driver bug, reported here).  Physical descriptors are wired from
birth and ignore both calls, as in xnu.  Asking an unwired virtual descriptor for
physical addresses (``getPhysicalSegment``, ``readBytes``/``writeBytes``, an
``IODMACommand``) raises ``MemoryNotWiredError``, where xnu panics with "IOGMD: not
wired for the IODMACommand".  The last ``complete`` while an ``IODMACommand`` still
holds the memory raises ``DMAActiveError`` (xnu: "complete() while dma active").

Physical segments are maximal runs of physically contiguous bytes: adjacent ranges
whose addresses follow each other are one segment, as xnu coalesces them.

Bytes.  ``readBytes``/``writeBytes`` copy between the described RAM and a Python
buffer with ``memoryview`` slice assignment, one copy per physical segment; a range
that is not RAM (device memory) ends the copy, so the count returned is short (use a
map's ``ioRead``/``ioWrite`` for registers).  An I/O reaching past the end copies
nothing and returns 0, as xnu does.

Mapping.  ``map()``/``createMappingInTask`` give an ``IOMemoryMap``.  With no MMU a
mapping is the identity, so only memory that is one physically contiguous run can be
mapped; anything else returns None (a Mac's VM would stitch the pages together).
Only ``kernel_task`` can be mapped into for now (see ``task.py``).

Threading rules: any kernel thread or the entered host; ``prepare`` of virtual memory
may block on a real kernel (it faults pages in), so it is refused in interrupt
context.  Nothing here consumes virtual time.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kextlab.kernel.ioreturn import kIOReturnNotReady, kIOReturnSuccess, kIOReturnVMError
from kextlab.kernel.libkern.object import OSObject
from kextlab.kernel.memory.errors import DMAActiveError, MemoryNotWiredError
from kextlab.kernel.memory.kernel_memory import (
    MEMORY_EXTENSION,
    KernelMemory,
    check_may_allocate_in,
    current_machine,
    kernel_memory,
)
from kextlab.kernel.memory.options import (
    kIODirectionNone,
    kIOMapAnywhere,
    kIOMemoryAutoPrepare,
    kIOMemoryDirectionMask,
    kIOMemoryTypeMask,
    kIOMemoryTypePhysical,
    kIOMemoryTypePhysical64,
    kIOMemoryTypeVirtual,
    kIOMemoryTypeVirtual64,
)
from kextlab.kernel.memory.task import Task, kernel_task
from kextlab.sim.scheduler import current_scheduler

if TYPE_CHECKING:
    from kextlab.kernel.memory.map import IOMemoryMap
    from kextlab.kernel.memory.refs import ByteCountRef
    from kextlab.machine.memory import PhysicalMemory

__all__ = [
    "IOAddressRange",
    "IOGeneralMemoryDescriptor",
    "IOMemoryDescriptor",
    "Task",
    "coalesce",
    "kernel_task",
]

_PHYSICAL_TYPES = (kIOMemoryTypePhysical, kIOMemoryTypePhysical64)
_VIRTUAL_TYPES = (kIOMemoryTypeVirtual, kIOMemoryTypeVirtual64)


@dataclass(frozen=True)
class IOAddressRange:
    """One range of a descriptor (``IOAddressRange``: address and length)."""

    address: int
    length: int


RangeLike = IOAddressRange | tuple[int, int]


def coalesce(runs: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Merge runs whose addresses follow each other; drop empty ones."""
    merged: list[tuple[int, int]] = []
    for address, length in runs:
        if length <= 0:
            continue
        if merged and merged[-1][0] + merged[-1][1] == address:
            merged[-1] = (merged[-1][0], merged[-1][1] + length)
        else:
            merged.append((address, length))
    return merged


class IOMemoryDescriptor(OSObject):
    """Memory ranges and what an I/O needs of them (the abstract class's API)."""

    # One is made for every system call's transfer: slots keep that cheap.
    __slots__ = (
        "_flags",
        "_is_physical",
        "_length",
        "_physical",
        "_physical_offsets",
        "_ranges",
        "_tag",
        "_task",
        "_wire_count",
        "dma_references",
    )

    def __init__(self) -> None:
        super().__init__()
        self._flags = 0
        self._tag = 0
        self._length = 0
        self._ranges: list[tuple[int, int]] = []
        self._task: Task | None = None
        #: ``is_physical()``, kept: set with the memory type by ``_init_ranges``, the
        #: only place the type changes (``setDirection`` keeps it).
        self._is_physical = False
        #: Maximal physical runs while wired, with the offset each starts at.
        self._physical: list[tuple[int, int]] | None = None
        self._physical_offsets: list[int] = []
        self._wire_count = 0
        #: IODMACommands that have this memory set (xnu's ``_dmaReferences``).
        self.dma_references = 0

    def __repr__(self) -> str:
        where = f" in {self._task.name}" if self._task is not None else " physical"
        ranges = ", ".join(f"{address:#x}+{length:#x}" for address, length in self._ranges[:4])
        more = ", ..." if len(self._ranges) > 4 else ""
        return f"<{self.getClassName()} {ranges}{more}{where}>"

    # -- factories ------------------------------------------------------------------------------

    @staticmethod
    def withAddressRange(
        address: int, length: int, options: int, task: Task | None
    ) -> IOMemoryDescriptor | None:
        """A descriptor of one range: virtual in ``task``, or physical if it is None."""
        # withAddressRanges -> withOptions -> initWithOptions for one range, in one:
        # every synchronous transfer of a user program makes one of these.
        memory_type = kIOMemoryTypeVirtual64 if task is not None else kIOMemoryTypePhysical64
        descriptor = IOGeneralMemoryDescriptor()
        if (
            address < 0
            or length < 0
            or not descriptor._init_with_ranges(
                [(address, length)], task, (options & ~kIOMemoryTypeMask) | memory_type
            )
        ):
            descriptor.release()
            return None
        return descriptor

    @staticmethod
    def withAddressRanges(
        ranges: Sequence[RangeLike], rangeCount: int, options: int, task: Task | None
    ) -> IOMemoryDescriptor | None:
        """A descriptor of the first ``rangeCount`` of ``ranges``."""
        memory_type = kIOMemoryTypeVirtual64 if task is not None else kIOMemoryTypePhysical64
        return IOMemoryDescriptor.withOptions(
            ranges, rangeCount, 0, task, (options & ~kIOMemoryTypeMask) | memory_type
        )

    @staticmethod
    def withPhysicalAddress(address: int, length: int, direction: int) -> IOMemoryDescriptor | None:
        """A descriptor of physical memory (device memory, or RAM by its address)."""
        return IOMemoryDescriptor.withAddressRange(address, length, direction, None)

    @staticmethod
    def withOptions(
        buffers: Sequence[RangeLike],
        count: int,
        offset: int,
        task: Task | None,
        options: int,
        mapper: object = None,
    ) -> IOMemoryDescriptor | None:
        descriptor = IOGeneralMemoryDescriptor()
        if not descriptor.initWithOptions(buffers, count, offset, task, options, mapper):
            descriptor.release()
            return None
        return descriptor

    def _init_ranges(self, ranges: list[tuple[int, int]], task: Task | None, flags: int) -> None:
        self._ranges = ranges
        self._task = task
        self._flags = flags
        total = 0
        for _, length in ranges:
            total += length
        self._length = total
        self._physical = None
        self._physical_offsets = []
        self._wire_count = 0
        self._is_physical = (flags & kIOMemoryTypeMask) in _PHYSICAL_TYPES
        if self._is_physical:
            self._set_physical(ranges)

    # -- attributes -----------------------------------------------------------------------------

    def getLength(self) -> int:
        return self._length

    def getDirection(self) -> int:
        return self._flags & kIOMemoryDirectionMask

    def setDirection(self, direction: int) -> None:
        self._flags = (self._flags & ~kIOMemoryDirectionMask) | (direction & kIOMemoryDirectionMask)

    def getTag(self) -> int:
        return self._tag

    def setTag(self, tag: int) -> None:
        self._tag = tag

    def getFlags(self) -> int:
        return self._flags

    def is_physical(self) -> bool:
        """True for physical ranges (no task), which are wired from birth."""
        return self._is_physical

    def in_io_space(self) -> bool:
        """True for ranges in I/O (port) space (only device memory can be)."""
        return False

    def ranges(self) -> list[tuple[int, int]]:
        """The ranges as given (virtual for a task's memory), ``(address, length)``."""
        return list(self._ranges)

    def task(self) -> Task | None:
        """The task whose addresses the ranges are in (None: physical ranges)."""
        return self._task

    # -- wiring ---------------------------------------------------------------------------------

    def prepare(self, forDirection: int = kIODirectionNone) -> int:
        """Wire the memory for an I/O: its physical addresses stay valid until the
        matching ``complete``.  ``kIOReturnVMError`` if part of it is not mapped."""
        if self._is_physical:
            return kIOReturnSuccess
        if self._wire_count == 0:
            scheduler = current_scheduler()
            check_may_allocate_in(scheduler, self.getClassName() + "::prepare")
            # kernel_memory(scheduler), for the usual case of books already made
            state = scheduler.extensions.get(MEMORY_EXTENSION) if scheduler is not None else None
            if not isinstance(state, KernelMemory):
                state = kernel_memory(scheduler)
            task = self._task
            assert task is not None
            memory = state.physical
            ranges = self._ranges
            if len(ranges) == 1:
                address, length = ranges[0]
                runs = task.translate(memory, address, length)
                if runs is None:
                    return kIOReturnVMError
            else:
                runs = []
                for address, length in ranges:
                    translated = task.translate(memory, address, length)
                    if translated is None:
                        return kIOReturnVMError
                    runs.extend(translated)
            if len(runs) == 1 and runs[0][1] > 0:  # _set_physical's one-run case, inline
                self._physical = [runs[0]]
                self._physical_offsets = [0]
            else:
                self._set_physical(runs)
        self._wire_count += 1
        return kIOReturnSuccess

    def complete(self, forDirection: int = kIODirectionNone) -> int:
        """Undo one ``prepare``; ``kIOReturnNotReady`` if there is none to undo."""
        if self._is_physical:
            return kIOReturnSuccess
        if self._wire_count == 0:
            return kIOReturnNotReady
        if self._wire_count == 1 and self.dma_references:
            raise DMAActiveError(
                f"{self!r}: complete() while an IODMACommand still has the memory set "
                "(call clearMemoryDescriptor first)"
            )
        self._wire_count -= 1
        if self._wire_count == 0:
            self._physical = None
            self._physical_offsets = []
        return kIOReturnSuccess

    def is_wired(self) -> bool:
        return self._physical is not None

    def _set_physical(self, runs: Sequence[tuple[int, int]]) -> None:
        if len(runs) == 1 and runs[0][1] > 0:  # one run: nothing to merge
            self._physical = [runs[0]]
            self._physical_offsets = [0]
            return
        self._physical = coalesce(runs)
        offsets = []
        offset = 0
        for _, length in self._physical:
            offsets.append(offset)
            offset += length
        self._physical_offsets = offsets

    def _not_wired(self, operation: str) -> MemoryNotWiredError:
        return MemoryNotWiredError(
            f"{operation} of {self!r}: the memory is not wired; call prepare() first "
            '(xnu panics: "IOGMD: not wired for the IODMACommand")'
        )

    # -- physical segments ----------------------------------------------------------------------

    def getPhysicalSegment(
        self, offset: int, length: ByteCountRef | None = None, options: int = 0
    ) -> int:
        """The physical address at ``offset`` and, in ``length``, how many bytes are
        physically contiguous from there; 0 (and a length of 0) past the end."""
        if length is not None:
            length.value = 0
        if offset < 0 or offset >= self._length:
            return 0
        runs = self._physical
        if runs is None:
            raise self._not_wired("getPhysicalSegment")
        index = bisect.bisect_right(self._physical_offsets, offset) - 1
        address, run_length = runs[index]
        inside = offset - self._physical_offsets[index]
        if length is not None:
            length.value = run_length - inside
        return address + inside

    def getPhysicalAddress(self) -> int:
        """The physical address of the first byte (``getPhysicalSegment(0, NULL)``)."""
        return self.getPhysicalSegment(0)

    def physical_runs(self, offset: int, length: int) -> list[tuple[int, int]]:
        """The maximal physical runs covering ``[offset, offset + length)``."""
        runs = self._physical
        if runs is None:
            raise self._not_wired("physical_runs")
        if length <= 0:
            return []
        offsets = self._physical_offsets
        if len(runs) == 1:  # one run: the range itself, if it lies inside
            address, run_length = runs[0]
            if offset >= 0 and offset < run_length:
                return [(address + offset, min(offset + length, run_length) - offset)]
        index = bisect.bisect_right(offsets, offset) - 1
        result = []
        end = offset + length
        while index < len(runs) and offsets[index] < end:
            address, run_length = runs[index]
            start = max(offset, offsets[index])
            stop = min(end, offsets[index] + run_length)
            result.append((address + start - offsets[index], stop - start))
            index += 1
        return result

    # -- bytes -------------------------------------------------------------------------------

    def readBytes(self, offset: int, bytes: bytearray | memoryview, length: int) -> int:
        """Copy ``length`` bytes at ``offset`` into ``bytes``; the count copied."""
        if offset < 0 or length < 0 or offset + length > self._length or offset >= self._length:
            return 0
        target = memoryview(bytes).cast("B")
        if target.readonly:
            raise TypeError(f"readBytes into a read-only buffer ({type(bytes).__name__})")
        if len(target) < length:
            raise ValueError(f"readBytes of {length} bytes into a buffer of {len(target)}")
        return self._copy(offset, length, target, into_memory=False)

    def writeBytes(
        self, offset: int, bytes: bytes | bytearray | memoryview | None, length: int
    ) -> int:
        """Copy ``length`` bytes of ``bytes`` to ``offset`` (zeros if ``bytes`` is None);
        the count copied."""
        if offset < 0 or length < 0 or offset + length > self._length or offset >= self._length:
            return 0
        if bytes is None:
            source = memoryview(b"")
        else:
            source = memoryview(bytes).cast("B")
            if len(source) < length:
                raise ValueError(f"writeBytes of {length} bytes from a buffer of {len(source)}")
        return self._copy(offset, length, source, into_memory=True, zero=bytes is None)

    def _copy(
        self,
        offset: int,
        length: int,
        buffer: memoryview,
        *,
        into_memory: bool,
        zero: bool = False,
    ) -> int:
        state = kernel_memory()
        done = 0
        for address, run_length in self.physical_runs(offset, length):
            view = state.physical.view(address, run_length)
            if view is None:
                break
            if not into_memory:
                buffer[done : done + run_length] = view
            elif zero:
                state.zero(address, run_length)
            else:
                view[:] = buffer[done : done + run_length]
            done += run_length
        return done

    # -- mapping ------------------------------------------------------------------------------

    def map(self, options: int = 0) -> IOMemoryMap | None:
        """A mapping of the whole memory into the kernel (the caller releases it)."""
        return self.createMappingInTask(kernel_task, 0, options | kIOMapAnywhere, 0, 0)

    def createMappingInTask(
        self, intoTask: Task, atAddress: int, options: int, offset: int = 0, length: int = 0
    ) -> IOMemoryMap | None:
        """A mapping of ``[offset, offset + length)`` (all of it past ``offset`` for a
        length of 0) into ``intoTask``; None if it cannot be made."""
        from kextlab.kernel.memory.map import IOMemoryMap

        if length == 0:
            length = self._length - offset
        if intoTask is not kernel_task or offset < 0 or length <= 0:
            return None
        if offset + length > self._length:
            return None
        machine = current_machine()
        if machine is None:
            return None
        runs = self._mappable_runs(machine.memory, offset, length)
        if runs is None or len(runs) != 1:
            return None
        address = runs[0][0]
        if not options & kIOMapAnywhere and atAddress != address:
            return None
        return IOMemoryMap(self, machine, address, length, options=options, offset=offset)

    def _mappable_runs(
        self, memory: PhysicalMemory, offset: int, length: int
    ) -> list[tuple[int, int]] | None:
        """The physical runs a mapping of the range would cover (no wiring needed)."""
        if self._physical is not None:
            return self.physical_runs(offset, length)
        task = self._task
        assert task is not None
        runs: list[tuple[int, int]] = []
        position = 0
        end = offset + length
        for address, range_length in self._ranges:
            start, stop = max(offset, position), min(end, position + range_length)
            if start < stop:
                translated = task.translate(memory, address + start - position, stop - start)
                if translated is None:
                    return None
                runs.extend(translated)
            position += range_length
        return coalesce(runs)


class IOGeneralMemoryDescriptor(IOMemoryDescriptor):
    """The descriptor ``withAddressRange`` and its siblings return."""

    __slots__ = ()

    def initWithOptions(
        self,
        buffers: Sequence[RangeLike],
        count: int,
        offset: int,
        task: Task | None,
        options: int,
        mapper: object = None,
    ) -> bool:
        """(Re)initialise with ``count`` ranges of ``buffers``; ``options`` carries the
        memory type (``kIOMemoryTypeVirtual64`` needs a task, ``...Physical64`` none)
        and the direction.  ``offset`` (for UPLs) and ``mapper`` (kextlab has no IOMMU)
        are unused.  A descriptor still held by an ``IODMACommand`` cannot be re-set."""
        if count < 0 or count > len(buffers):
            return False
        ranges = []
        for entry in buffers[:count]:
            address, length = (
                (entry.address, entry.length) if isinstance(entry, IOAddressRange) else entry
            )
            if address < 0 or length < 0:
                return False
            ranges.append((address, length))
        return self._init_with_ranges(ranges, task, options)

    def _init_with_ranges(
        self, ranges: list[tuple[int, int]], task: Task | None, options: int
    ) -> bool:
        """``initWithOptions`` once the ranges are read and checked."""
        memory_type = options & kIOMemoryTypeMask
        if memory_type in _VIRTUAL_TYPES:
            if task is None:
                return False
        elif memory_type in _PHYSICAL_TYPES:
            if task is not None:
                return False
        else:
            return False
        if self.dma_references:
            return False
        self._init_ranges(ranges, task, options & ~kIOMemoryAutoPrepare)
        if options & kIOMemoryAutoPrepare:
            return self.prepare() == kIOReturnSuccess
        return True

    def free(self) -> None:
        while self._wire_count:
            self.complete()
        super().free()
