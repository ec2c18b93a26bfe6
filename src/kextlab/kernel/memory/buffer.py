"""IOBufferMemoryDescriptor: a memory descriptor that allocates its own buffer.

Mirrors ``IOBufferMemoryDescriptor.h``/``.cpp`` (xnu).  The buffer comes from the
kernel's allocator (``physical.py``: a 64-bit kernel places it above 4 GiB when it
can), zero-filled, and goes back to it in ``free()``.  Like xnu's, a wired buffer is
prepared once at creation (``kIOMemoryAutoPrepare``), so it can be given to an
``IODMACommand`` without a ``prepare`` of its own; a pageable one is not.

The physical mask (``inTaskWithPhysicalMask``) works as in xnu: its low zero bits
give the alignment (at least a page) and its highest bit the limit, so
``0xFFFFF000`` means "page-aligned, below 4 GiB" and ``0xFFFFFFFF`` "below 4 GiB,
page-aligned" as well.  An explicit alignment above 1 makes xnu ignore the mask;
so does kextlab.  Alignments are rounded up to a power of two, and an alignment of
a page or more rounds the allocation up to whole pages.

Bytes: ``getBytesNoCopy()`` returns a zero-copy ``memoryview`` of the whole buffer
(xnu returns the kernel pointer); ``getBytesNoCopy(start, withLength)`` a view of
that part of the current length, or None when it is not inside it (a ``withLength``
of 0 gives the rest of the length).  ``buffer_address()`` is the kernel (and
physical) address.  ``setLength``/``appendBytes`` move the length within the
capacity, as in xnu.

Every live buffer is registered with the kernel's memory books (creation site and
time) so that a test can fail on one left behind (``live_buffer_descriptors``).

Only ``kernel_task`` buffers exist for now; a task of None (xnu: "memory unmapped in
any task, for use as a DMA buffer") is kernel memory here.

Threading rules: creation allocates and may block on a real kernel, so it is refused
in interrupt context (``InterruptContextViolation``); any kernel thread otherwise.
"""

from __future__ import annotations

from typing import overload

from kextlab.kernel.memory.descriptor import IOGeneralMemoryDescriptor
from kextlab.kernel.memory.kernel_memory import (
    caller_site,
    check_may_allocate,
    kernel_memory,
)
from kextlab.kernel.memory.options import (
    PAGE_SIZE,
    kIOBufferDescriptorMemoryFlags,
    kIOMapCacheMask,
    kIOMemoryAutoPrepare,
    kIOMemoryClearEncrypt,
    kIOMemoryPageable,
    kIOMemoryPhysicallyContiguous,
    kIOMemorySharingTypeMask,
    kIOMemoryTypeVirtual64,
    kIOMemoryUnshared,
)
from kextlab.kernel.memory.task import Task, kernel_task

_FUNCTION = "IOBufferMemoryDescriptor"


def _round_page(size: int) -> int:
    return -(-size // PAGE_SIZE) * PAGE_SIZE


def _power_of_two_at_least(value: int) -> int:
    return 1 << max(value - 1, 0).bit_length()


class IOBufferMemoryDescriptor(IOGeneralMemoryDescriptor):
    """A descriptor over a buffer of its own."""

    def __init__(self) -> None:
        super().__init__()
        self._capacity = 0
        self._buffer = 0
        self._alignment = 1
        self._options = 0

    def __repr__(self) -> str:
        if not self._buffer:
            return f"<{self.getClassName()} (no buffer)>"
        return (
            f"<{self.getClassName()} {self._buffer:#x} length {self._length:#x} "
            f"capacity {self._capacity:#x}>"
        )

    # -- factories ------------------------------------------------------------------------------

    @classmethod
    def inTaskWithOptions(
        cls, inTask: Task | None, options: int, capacity: int, alignment: int = 1
    ) -> IOBufferMemoryDescriptor | None:
        """A buffer of ``capacity`` bytes aligned to ``alignment``, or None."""
        check_may_allocate(f"{_FUNCTION}::inTaskWithOptions")
        buffer = cls()
        if not buffer.initWithPhysicalMask(inTask, options, capacity, alignment, 0):
            buffer.release()
            return None
        return buffer

    @classmethod
    def inTaskWithPhysicalMask(
        cls, inTask: Task | None, options: int, capacity: int, physicalMask: int
    ) -> IOBufferMemoryDescriptor | None:
        """A buffer whose physical addresses only use the bits of ``physicalMask``."""
        check_may_allocate(f"{_FUNCTION}::inTaskWithPhysicalMask")
        buffer = cls()
        if not buffer.initWithPhysicalMask(inTask, options, capacity, 1, physicalMask):
            buffer.release()
            return None
        return buffer

    @classmethod
    def withOptions(  # type: ignore[override]
        cls, options: int, capacity: int, alignment: int = 1
    ) -> IOBufferMemoryDescriptor | None:
        return cls.inTaskWithOptions(kernel_task, options, capacity, alignment)

    @classmethod
    def withCapacity(
        cls, capacity: int, withDirection: int, withContiguousMemory: bool = False
    ) -> IOBufferMemoryDescriptor | None:
        """A buffer of ``capacity`` bytes for I/O in ``withDirection``; its length
        starts at the capacity."""
        contiguous = kIOMemoryPhysicallyContiguous if withContiguousMemory else 0
        return cls.withOptions(
            withDirection | kIOMemoryUnshared | contiguous,
            capacity,
            capacity if withContiguousMemory else 1,
        )

    @classmethod
    def withBytes(
        cls,
        bytes: bytes | bytearray | memoryview,
        withLength: int,
        withDirection: int,
        withContiguousMemory: bool = False,
    ) -> IOBufferMemoryDescriptor | None:
        """A buffer holding a copy of the first ``withLength`` bytes of ``bytes``."""
        contiguous = kIOMemoryPhysicallyContiguous if withContiguousMemory else 0
        alignment = withLength if withLength <= PAGE_SIZE else PAGE_SIZE
        check_may_allocate(f"{_FUNCTION}::withBytes")
        buffer = cls()
        if not buffer.initWithPhysicalMask(
            kernel_task, withDirection | kIOMemoryUnshared | contiguous, withLength, alignment, 0
        ):
            buffer.release()
            return None
        buffer.setLength(0)
        buffer.appendBytes(bytes, withLength)
        return buffer

    # -- initialisation ---------------------------------------------------------------------------

    def initWithPhysicalMask(
        self,
        inTask: Task | None,
        options: int,
        capacity: int,
        alignment: int,
        physicalMask: int,
    ) -> bool:
        """Allocate the buffer and describe it (xnu's one real initialiser)."""
        if capacity <= 0 or self._buffer:
            return False
        if inTask is None:
            inTask = kernel_task
        if inTask is not kernel_task:
            return False  # user tasks come with user clients (see task.py)
        check_may_allocate(f"{_FUNCTION}::initWithPhysicalMask")
        alignment = max(alignment, 1)
        highest_mask = 0
        if physicalMask and alignment <= 1:
            low_bits = ~physicalMask & (physicalMask - 1)
            highest_mask = physicalMask | low_bits
            alignment = max(low_bits + 1, PAGE_SIZE)
        if options & (kIOMemorySharingTypeMask | kIOMapCacheMask | kIOMemoryClearEncrypt):
            alignment = max(alignment, PAGE_SIZE)
        alignment = _power_of_two_at_least(alignment)
        size = capacity
        if alignment >= PAGE_SIZE or highest_mask:
            size = _round_page(capacity)
        if alignment > PAGE_SIZE:
            options |= kIOMemoryPhysicallyContiguous
        pageable = bool(options & kIOMemoryPageable)
        memory = kernel_memory()
        address = memory.allocate(
            size,
            function=_FUNCTION,
            alignment=alignment,
            limit=highest_mask + 1 if highest_mask else None,
            zero=True,
            pageable=pageable,
            owner=self.getClassName(),
            site=caller_site(),
        )
        if not address:
            return False
        self._buffer = address
        self._capacity = capacity
        self._alignment = alignment
        self._options = options
        descriptor_options = kIOMemoryTypeVirtual64 | (options & kIOBufferDescriptorMemoryFlags)
        if not pageable:
            descriptor_options |= kIOMemoryAutoPrepare
        if not self.initWithOptions([(address, capacity)], 1, 0, kernel_task, descriptor_options):
            self._free_buffer()
            return False
        memory.buffer_created(self, caller_site())
        return True

    def free(self) -> None:
        super().free()
        self._free_buffer()

    def _free_buffer(self) -> None:
        if self._buffer:
            memory = kernel_memory()
            allocation = memory.allocation_at(self._buffer)
            size = allocation.size if allocation is not None else self._capacity
            memory.release(self._buffer, size, function=f"{_FUNCTION}::free", frees=(_FUNCTION,))
            memory.buffer_freed(self)
            self._buffer = 0

    # -- the buffer -------------------------------------------------------------------------------

    def getCapacity(self) -> int:
        return self._capacity

    def buffer_address(self) -> int:
        """The buffer's kernel address (= physical address; xnu's ``getBytesNoCopy()``
        pointer)."""
        return self._buffer

    def setLength(self, length: int) -> None:
        """Set the length the descriptor describes (at most the capacity)."""
        if 0 <= length <= self._capacity:
            self._length = length
            self._ranges = [(self._buffer, length)]
            if self._physical is not None:
                self._set_physical([(self._buffer, length)])

    def appendBytes(self, bytes: bytes | bytearray | memoryview, withLength: int) -> bool:
        """Copy ``withLength`` bytes to the end of the length (as many as fit) and
        extend the length by them."""
        count = min(withLength, self._capacity - self._length)
        if count > 0:
            source = memoryview(bytes).cast("B")
            kernel_memory().view(self._buffer + self._length, count)[:] = source[:count]
            self.setLength(self._length + count)
        return True

    @overload
    def getBytesNoCopy(self) -> memoryview: ...

    @overload
    def getBytesNoCopy(self, start: int, withLength: int = 0) -> memoryview | None: ...

    def getBytesNoCopy(self, start: int | None = None, withLength: int = 0) -> memoryview | None:
        """The buffer's bytes, zero-copy: all of the capacity, or ``withLength`` bytes
        from ``start`` within the length (None if they are not inside it)."""
        if not self._buffer:
            return None if start is not None else memoryview(b"")
        memory = kernel_memory()
        if start is None:
            return memory.view(self._buffer, self._capacity)
        if withLength == 0:
            withLength = self._length - start
        if start < 0 or withLength < 0 or start >= self._length:
            return None
        if start + withLength > self._length:
            return None
        return memory.view(self._buffer + start, withLength)
