"""IOBufferMemoryDescriptor: buffers from the kernel allocator, and back.

Where buffers land (above 4 GiB on the 64-bit kernel, within a physical mask when
one is given), zero-filled bytes through getBytesNoCopy, length and capacity, and
the books: a live buffer is listed until it is freed.
"""

from __future__ import annotations

from kextlab.errors import InterruptContextViolation
from kextlab.kernel.ioreturn import kIOReturnSuccess
from kextlab.kernel.kernel import Kernel
from kextlab.kernel.memory import (
    kernel_view,
    live_buffer_descriptors,
    memory_diagnostics,
    outstanding_allocations,
)
from kextlab.kernel.memory.buffer import IOBufferMemoryDescriptor
from kextlab.kernel.memory.descriptor import kernel_task
from kextlab.kernel.memory.options import (
    kIODirectionIn,
    kIODirectionInOut,
    kIODirectionOut,
    kIOMemoryPageable,
    kIOMemoryPhysicallyContiguous,
)
from kextlab.kernel.memory.physical import FOUR_GIB
from kextlab.kernel.memory.refs import ByteCountRef


def test_a_buffer_lands_above_4_gib_on_a_64_bit_kernel(kernel: Kernel) -> None:
    """withCapacity gives a wired, zero-filled buffer whose length is its capacity."""
    buffer = IOBufferMemoryDescriptor.withCapacity(10000, kIODirectionIn)
    assert buffer is not None
    assert buffer.getCapacity() == buffer.getLength() == 10000
    assert buffer.getDirection() == kIODirectionIn
    assert buffer.buffer_address() >= FOUR_GIB
    length = ByteCountRef()
    assert buffer.getPhysicalSegment(0, length) == buffer.buffer_address()
    assert length.value == 10000  # one physically contiguous run
    view = buffer.getBytesNoCopy()
    assert view is not None
    assert bytes(view) == bytes(10000)
    buffer.release()


def test_a_physical_mask_keeps_the_buffer_within_the_devices_reach(kernel: Kernel) -> None:
    """0xFFFFF000: page-aligned and below 4 GiB, the capacity rounded to pages."""
    buffer = IOBufferMemoryDescriptor.inTaskWithPhysicalMask(
        kernel_task, kIODirectionInOut, 100, 0xFFFF_F000
    )
    assert buffer is not None
    address = buffer.buffer_address()
    assert 0 < address < FOUR_GIB
    assert address % 4096 == 0
    assert buffer.getCapacity() == 100
    (booked,) = outstanding_allocations(kernel, include_owned=True)
    assert booked.reserved == 4096
    buffer.release()


def test_the_low_bits_of_a_mask_give_the_alignment(kernel: Kernel) -> None:
    """A mask of 0xFFFF0000 asks for 64 KiB alignment below 4 GiB."""
    buffer = IOBufferMemoryDescriptor.inTaskWithPhysicalMask(
        kernel_task, kIODirectionOut, 5000, 0xFFFF_0000
    )
    assert buffer is not None
    assert buffer.buffer_address() % (1 << 16) == 0
    assert buffer.buffer_address() < FOUR_GIB
    buffer.release()


def test_a_mask_nothing_can_satisfy_fails_cleanly(kernel: Kernel) -> None:
    """A 20-bit mask reaches only the firmware's first MiB: no buffer, no leak."""
    buffer = IOBufferMemoryDescriptor.inTaskWithPhysicalMask(
        kernel_task, kIODirectionOut, 4096, 0x000F_F000
    )
    assert buffer is None
    assert live_buffer_descriptors(kernel) == []
    assert outstanding_allocations(kernel, include_owned=True) == []


def test_options_alignment_and_contiguity(kernel: Kernel) -> None:
    """withOptions honours the alignment; contiguous withCapacity aligns to the size."""
    aligned = IOBufferMemoryDescriptor.withOptions(kIODirectionOut, 300, 256)
    contiguous = IOBufferMemoryDescriptor.withCapacity(8192, kIODirectionOut, True)
    assert aligned is not None
    assert contiguous is not None
    assert aligned.buffer_address() % 256 == 0
    assert contiguous.buffer_address() % 8192 == 0
    assert contiguous.getCapacity() == 8192
    aligned.release()
    contiguous.release()


def test_length_moves_within_the_capacity(kernel: Kernel) -> None:
    """setLength and appendBytes change what is described, never past the capacity."""
    buffer = IOBufferMemoryDescriptor.withCapacity(16, kIODirectionOut)
    assert buffer is not None
    buffer.setLength(0)
    assert buffer.appendBytes(b"hello ", 6)
    assert buffer.appendBytes(b"world, and more", 15)  # only 10 fit
    assert buffer.getLength() == 16
    assert bytes(buffer.getBytesNoCopy() or b"") == b"hello world, and"
    buffer.setLength(5)
    assert buffer.getLength() == 5
    buffer.setLength(17)  # beyond the capacity: ignored, as xnu does
    assert buffer.getLength() == 5
    assert buffer.getPhysicalSegment(5) == 0
    part = buffer.getBytesNoCopy(1, 3)
    assert part is not None
    assert bytes(part) == b"ell"
    assert buffer.getBytesNoCopy(4, 2) is None  # not inside the length
    rest = buffer.getBytesNoCopy(2)
    assert rest is not None
    assert bytes(rest) == b"llo"
    buffer.release()


def test_withbytes_copies_the_data_in(kernel: Kernel) -> None:
    """withBytes: a buffer of exactly the data, aligned as xnu aligns it."""
    buffer = IOBufferMemoryDescriptor.withBytes(b"\x01\x02\x03" * 100, 300, kIODirectionOut)
    assert buffer is not None
    assert buffer.getLength() == buffer.getCapacity() == 300
    assert buffer.buffer_address() % 512 == 0  # alignment 300, rounded to a power of two
    target = bytearray(300)
    assert buffer.readBytes(0, target, 300) == 300
    assert target == b"\x01\x02\x03" * 100
    buffer.release()


def test_live_buffers_are_listed_until_freed(kernel: Kernel) -> None:
    """The registry names each live buffer with its creation site; free empties it."""
    first = IOBufferMemoryDescriptor.withCapacity(64, kIODirectionOut)
    second = IOBufferMemoryDescriptor.withCapacity(128, kIODirectionIn)
    assert first is not None
    assert second is not None
    live = live_buffer_descriptors(kernel)
    assert [record.capacity for record in live] == [64, 128]
    assert all(record.site.startswith("test_buffer.py:") for record in live)
    assert "64 bytes at" in str(live[0])
    assert memory_diagnostics(kernel)["IOMalloc allocation"] == 64 + 128
    assert outstanding_allocations(kernel) == []  # owned memory is the buffer's
    first.release()
    second.retain()
    second.release()
    assert [record.capacity for record in live_buffer_descriptors(kernel)] == [128]
    second.release()
    assert live_buffer_descriptors(kernel) == []
    assert memory_diagnostics(kernel)["IOMalloc allocation"] == 0


def test_freed_buffer_memory_is_reused(kernel: Kernel) -> None:
    """Memory of a freed buffer returns to the allocator and comes out zeroed."""
    first = IOBufferMemoryDescriptor.withCapacity(4096, kIODirectionOut)
    assert first is not None
    address = first.buffer_address()
    view = first.getBytesNoCopy()
    assert view is not None
    view[:4] = b"junk"
    view.release()
    first.release()
    second = IOBufferMemoryDescriptor.withCapacity(4096, kIODirectionOut)
    assert second is not None
    assert second.buffer_address() == address
    assert bytes(kernel_view(address, 4)) == bytes(4)
    second.release()


def test_a_pageable_buffer_is_not_wired_until_prepared(kernel: Kernel) -> None:
    """kIOMemoryPageable: counted as pageable, and prepare() is needed for DMA."""
    buffer = IOBufferMemoryDescriptor.withOptions(kIODirectionOut | kIOMemoryPageable, 4096)
    assert buffer is not None
    assert not buffer.is_wired()
    assert memory_diagnostics(kernel)["Pageable allocation"] == 4096
    assert buffer.prepare() == kIOReturnSuccess
    assert buffer.getPhysicalAddress() == buffer.buffer_address()
    buffer.complete()
    buffer.release()


def test_buffers_are_refused_in_interrupt_context(kernel: Kernel) -> None:
    """Creating a buffer allocates, which may block: not from an interrupt handler."""
    raised: list[BaseException] = []

    def handler() -> None:
        try:
            IOBufferMemoryDescriptor.withOptions(kIOMemoryPhysicallyContiguous, 64)
        except InterruptContextViolation as error:
            raised.append(error)

    kernel.scheduler.run_in_interrupt_context(handler)
    assert raised
    assert live_buffer_descriptors(kernel) == []


def test_a_buffer_of_no_bytes_is_refused(kernel: Kernel) -> None:
    """A capacity of 0 is invalid, as in xnu."""
    assert IOBufferMemoryDescriptor.withCapacity(0, kIODirectionOut) is None
    assert live_buffer_descriptors(kernel) == []
