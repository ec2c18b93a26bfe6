"""Kernel memory: allocation, memory descriptors, mappings and DMA.

One module per concept (mirrors in parentheses):

    physical.py        PhysicalAllocator: which RAM the kernel hands out (policy: a
                       64-bit kernel prefers RAM above 4 GiB, a 32-bit one stays below)
    kernel_memory.py   KernelMemory: one kernel's allocator, allocation books and
                       registries; kernel_view(); the leak-visibility functions
    malloc.py          IOMalloc, IOMallocZero, IOMallocAligned, IOMallocContiguous,
                       IOMallocPageable and their frees (IOLib.cpp)
    task.py            Task, kernel_task (task_t, as descriptors use it)
    descriptor.py      IOMemoryDescriptor, IOGeneralMemoryDescriptor (IOMemoryDescriptor.cpp)
    buffer.py          IOBufferMemoryDescriptor (IOBufferMemoryDescriptor.cpp)
    device_memory.py   IODeviceMemory (IODeviceMemory.cpp)
    map.py             IOMemoryMap, with register accessors
    dma_command.py     IODMACommand: the API, and the design essay (IODMACommand.cpp)
    dma_preparation.py one preparation: preflight, bounce buffers, copies (walkAll)
    dma_segments.py    Segment32/Segment64 and the Output* segment functions
    options.py         kIODirection*, kIOMemory*, kIOMap* (IOMemoryDescriptor.h,
                       IOBufferMemoryDescriptor.h, IOMapTypes.h)
    refs.py            out-parameters: ByteCountRef, PhysicalAddressRef, UInt64Ref, UInt32Ref
    errors.py          the misuse errors (BadFreeError, MemoryNotWiredError, ...)

Addresses are ints.  kextlab has no MMU: the kernel's memory is identity-mapped, so
the address ``IOMalloc`` returns is both the kernel virtual and the physical address,
and ``kernel_view(address, length)`` is a zero-copy ``memoryview`` of those bytes.

Leak visibility
---------------
Three functions report what a test (or a driver) left behind in a kernel.  Each takes
the ``Kernel`` (or, without one, the kernel the calling code runs in), never creates
state, and returns records with a readable ``str()`` (``format_records`` joins them):

``outstanding_allocations(kernel)`` -> ``list[Allocation]``
    IOMalloc-family memory not freed: address, size, alignment, the allocating
    function, ``file:line`` of the caller and the virtual time.  Memory owned by a
    buffer descriptor is reported with the descriptor (``include_owned=True`` lists it).
``live_buffer_descriptors(kernel)`` -> ``list[LiveBuffer]``
    ``IOBufferMemoryDescriptor``s not freed (bounce buffers of prepared DMA commands
    among them): capacity, address, retain count, creation site and time.
``prepared_commands(kernel)`` -> ``list[PreparedCommand]``
    ``IODMACommand``s prepared and not completed: the memory, range, bounced bytes,
    site and time of the prepare.

``memory_diagnostics(kernel)`` gives the ``"IOMalloc allocation"`` and ``"Pageable
allocation"`` figures of ``IOKitDiagnostics``; ``dma_statistics(kernel)`` counts
prepares, bounced prepares and bytes copied through bounce buffers.
"""

from kextlab.kernel.memory.kernel_memory import (
    Allocation,
    DMAStatistics,
    LiveBuffer,
    PreparedCommand,
    dma_statistics,
    format_records,
    kernel_view,
    live_buffer_descriptors,
    memory_diagnostics,
    outstanding_allocations,
    prepared_commands,
)

__all__ = [
    "Allocation",
    "DMAStatistics",
    "LiveBuffer",
    "PreparedCommand",
    "dma_statistics",
    "format_records",
    "kernel_view",
    "live_buffer_descriptors",
    "memory_diagnostics",
    "outstanding_allocations",
    "prepared_commands",
]
