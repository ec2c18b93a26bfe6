"""IOMalloc and its siblings: the kernel's general-purpose memory.

Mirrors ``IOLib.h``/``IOLib.cpp`` (xnu): ``IOMalloc``/``IOMallocZero``/``IOFree``,
``IOMallocAligned``/``IOFreeAligned``, ``IOMallocContiguous``/``IOFreeContiguous``,
``IOMallocPageable``/``IOFreePageable``.

Apple returns ``void *``; kextlab returns the address as an ``int``.  The kernel's
memory is identity-mapped (no MMU), so that number is the kernel virtual address
and the physical address at once; ``kernel_view(address, length)`` gives the bytes
as a zero-copy ``memoryview``.  NULL is 0, and it is what every allocator returns
when memory is short (or for a size of 0), never an exception.

What each call gives (policy of the allocator in ``physical.py``: a 64-bit kernel
prefers RAM above 4 GiB):

* ``IOMalloc(size)``: 16-byte aligned (kalloc's granule), contents undefined
  (whatever the RAM held); ``IOMallocZero`` zeroes it.
* ``IOMallocAligned(size, alignment)``: the alignment rounded up to a power of two.
* ``IOMallocContiguous(size, alignment, physicalAddress)``: without
  ``physicalAddress``, contiguous memory anywhere; with it, as xnu does it, a
  buffer descriptor with the physical mask ``0xFFFFFFFF ^ (alignment - 1)`` (below
  4 GiB), its physical address stored in ``physicalAddress.value``.
* ``IOMallocPageable(size, alignment)``: accounted as pageable; kextlab never pages.

Every kextlab allocation is physically contiguous (there is no MMU to stitch pages
together); on macOS only the contiguous variants promise that.

Accounting: each allocation is booked (``kernel_memory.py``) with its size, the
function that made it and the caller's ``file:line``.  The matching free must name
the same address, the same size and the matching function: anything else raises
``BadFreeError`` naming the address, the size given and the size allocated (on
macOS: a panic, or a corrupted zone found much later).  ``IOFree(0, n)`` does
nothing, as in C.

Threading rules: allocation may block on a real kernel, so the allocating calls
raise ``InterruptContextViolation`` in interrupt context or with interrupts
disabled; freeing never blocks.  Kernel threads and the entered host.
"""

from __future__ import annotations

from typing import Final

from kextlab.kernel.memory.errors import BadFreeError
from kextlab.kernel.memory.kernel_memory import (
    MALLOC_GRANULE,
    caller_site,
    check_may_allocate,
    kernel_memory,
)
from kextlab.kernel.memory.options import kIOMemoryPhysicallyContiguous
from kextlab.kernel.memory.refs import PhysicalAddressRef

_IOFREE_KINDS: Final = ("IOMalloc", "IOMallocZero")


def _power_of_two_at_least(value: int) -> int:
    """``log2up`` of IOLib: the smallest power of two >= ``value`` (1 for 0 or 1)."""
    return 1 << max(value - 1, 0).bit_length()


def IOMalloc(size: int) -> int:
    """``size`` bytes of kernel memory (contents undefined), or 0."""
    check_may_allocate("IOMalloc")
    if size <= 0:
        return 0
    return kernel_memory().allocate(size, function="IOMalloc", site=caller_site())


def IOMallocZero(size: int) -> int:
    """``size`` bytes of zeroed kernel memory, or 0."""
    check_may_allocate("IOMallocZero")
    if size <= 0:
        return 0
    return kernel_memory().allocate(size, function="IOMallocZero", zero=True, site=caller_site())


def IOFree(address: int, size: int) -> None:
    """Free memory from ``IOMalloc``/``IOMallocZero``; ``size`` must be the size asked."""
    if address:
        kernel_memory().release(address, size, function="IOFree", frees=_IOFREE_KINDS)


def IOMallocAligned(size: int, alignment: int) -> int:
    """``size`` bytes aligned to ``alignment`` (rounded up to a power of two), or 0."""
    check_may_allocate("IOMallocAligned")
    if size <= 0:
        return 0
    alignment = _power_of_two_at_least(max(alignment, MALLOC_GRANULE))
    return kernel_memory().allocate(
        size, function="IOMallocAligned", alignment=alignment, site=caller_site()
    )


def IOFreeAligned(address: int, size: int) -> None:
    if address:
        kernel_memory().release(address, size, function="IOFreeAligned", frees=("IOMallocAligned",))


def IOMallocContiguous(
    size: int, alignment: int, physicalAddress: PhysicalAddressRef | None = None
) -> int:
    """``size`` physically contiguous bytes aligned to ``alignment``, or 0.

    With ``physicalAddress``, the memory lies below 4 GiB (xnu builds it from a
    buffer descriptor with a 32-bit physical mask) and its physical address is
    stored there.  Free it with ``IOFreeContiguous``.
    """
    check_may_allocate("IOMallocContiguous")
    if size <= 0:
        return 0
    alignment = max(alignment, 1)
    if physicalAddress is None:
        return kernel_memory().allocate(
            size,
            function="IOMallocContiguous",
            alignment=_power_of_two_at_least(alignment),
            site=caller_site(),
        )
    from kextlab.kernel.memory.buffer import IOBufferMemoryDescriptor
    from kextlab.kernel.memory.task import kernel_task

    mask = 0xFFFF_FFFF ^ (alignment - 1)
    buffer = IOBufferMemoryDescriptor.inTaskWithPhysicalMask(
        kernel_task, kIOMemoryPhysicallyContiguous, size, mask
    )
    if buffer is None:
        return 0
    address = buffer.buffer_address()
    physicalAddress.value = address
    kernel_memory().contiguous_buffers[address] = buffer
    return address


def IOFreeContiguous(address: int, size: int) -> None:
    """Free memory from ``IOMallocContiguous``."""
    if not address:
        return
    memory = kernel_memory()
    buffer = memory.contiguous_buffers.get(address)
    if buffer is None:
        memory.release(address, size, function="IOFreeContiguous", frees=("IOMallocContiguous",))
        return
    if buffer.getCapacity() != size:
        raise BadFreeError(
            f"IOFreeContiguous({address:#x}, {size}): wrong size, {size} bytes given but "
            f"{buffer.getCapacity()} allocated (by IOMallocContiguous with a physical address)"
        )
    del memory.contiguous_buffers[address]
    buffer.release()


def IOMallocPageable(size: int, alignment: int) -> int:
    """``size`` bytes of pageable kernel memory (never paged out here), or 0."""
    check_may_allocate("IOMallocPageable")
    if size <= 0:
        return 0
    alignment = _power_of_two_at_least(max(alignment, 1))
    return kernel_memory().allocate(
        size,
        function="IOMallocPageable",
        alignment=alignment,
        pageable=True,
        site=caller_site(),
    )


def IOFreePageable(address: int, size: int) -> None:
    if address:
        kernel_memory().release(
            address, size, function="IOFreePageable", frees=("IOMallocPageable",)
        )
