"""IOMalloc and its siblings on a booted kernel: placement, bytes, books, misuse.

Every allocation is booked with its size, the function that made it and the
caller's ``file:line``; frees are checked against the books.
"""

from __future__ import annotations

import pytest

from kextlab.errors import InterruptContextViolation
from kextlab.kernel.kernel import Kernel
from kextlab.kernel.memory import (
    format_records,
    kernel_view,
    live_buffer_descriptors,
    memory_diagnostics,
    outstanding_allocations,
)
from kextlab.kernel.memory.errors import BadFreeError, KernelAddressError
from kextlab.kernel.memory.malloc import (
    IOFree,
    IOFreeAligned,
    IOFreeContiguous,
    IOFreePageable,
    IOMalloc,
    IOMallocAligned,
    IOMallocContiguous,
    IOMallocPageable,
    IOMallocZero,
)
from kextlab.kernel.memory.physical import FOUR_GIB
from kextlab.kernel.memory.refs import PhysicalAddressRef


def test_a_64_bit_kernel_allocates_above_4_gib(kernel: Kernel) -> None:
    """On the default machine, IOMalloc memory lies above 4 GiB, as on a big Mac."""
    address = IOMalloc(256)
    assert address >= FOUR_GIB
    IOFree(address, 256)


def test_a_32_bit_kernel_allocates_below_4_gib(kernel32: Kernel) -> None:
    """The same machine with a 32-bit kernel keeps every allocation below 4 GiB."""
    addresses = [IOMalloc(4096), IOMallocAligned(4096, 4096), IOMallocZero(64)]
    assert all(0 < address < FOUR_GIB for address in addresses)
    IOFree(addresses[0], 4096)
    IOFreeAligned(addresses[1], 4096)
    IOFree(addresses[2], 64)


def test_the_bytes_are_reached_through_a_kernel_view(kernel: Kernel) -> None:
    """kernel_view is a zero-copy window on the RAM the address names."""
    address = IOMalloc(64)
    view = kernel_view(address, 64)
    view[:5] = b"hello"
    assert kernel.machine.memory.read(address, 5) == b"hello"
    view.release()
    IOFree(address, 64)


def test_iomalloczero_zeroes_memory_that_held_data(kernel: Kernel) -> None:
    """Freed memory keeps its bytes; IOMallocZero hands it back cleared."""
    address = IOMalloc(128)
    kernel_view(address, 128)[:] = b"\xa5" * 128
    IOFree(address, 128)
    again = IOMalloc(128)
    assert again == address
    assert bytes(kernel_view(again, 4)) == b"\xa5" * 4  # IOMalloc: contents undefined
    IOFree(again, 128)
    zeroed = IOMallocZero(128)
    assert zeroed == address
    assert bytes(kernel_view(zeroed, 128)) == bytes(128)
    IOFree(zeroed, 128)


def test_every_allocation_is_booked_with_its_site_and_time(kernel: Kernel) -> None:
    """The books name the function, the size, the caller's file:line and the time."""
    address = IOMalloc(100)
    (allocation,) = outstanding_allocations(kernel)
    assert allocation.address == address
    assert allocation.size == 100
    assert allocation.reserved == 112  # kalloc's 16-byte granule
    assert allocation.function == "IOMalloc"
    assert allocation.site.startswith("test_malloc.py:")
    assert allocation.time == kernel.scheduler.now
    assert f"IOMalloc(100) at {address:#x}, from test_malloc.py:" in format_records([allocation])
    IOFree(address, 100)
    assert outstanding_allocations(kernel) == []


def test_iofree_with_the_wrong_size_names_both_sizes(kernel: Kernel) -> None:
    """A wrong size is a driver bug: the error names the address and both sizes."""
    address = IOMalloc(64)
    with pytest.raises(BadFreeError, match=r"wrong size, 32 bytes given but 64 allocated"):
        IOFree(address, 32)
    IOFree(address, 64)


def test_a_double_free_is_reported_as_one(kernel: Kernel) -> None:
    """Freeing twice names the first allocation and says it was freed already."""
    address = IOMalloc(48)
    IOFree(address, 48)
    with pytest.raises(BadFreeError, match=rf"IOFree\({address:#x}, 48\): double free"):
        IOFree(address, 48)


def test_freeing_an_unknown_address_is_reported(kernel: Kernel) -> None:
    """An address no allocation starts at (here: inside a block) is refused."""
    address = IOMalloc(64)
    with pytest.raises(BadFreeError, match="no allocation starts at"):
        IOFree(address + 8, 48)  # allocations start on 16-byte boundaries
    IOFree(address, 64)


def test_memory_must_be_freed_by_the_matching_function(kernel: Kernel) -> None:
    """IOFree of IOMallocAligned memory is refused, naming the right function."""
    address = IOMallocAligned(64, 64)
    with pytest.raises(BadFreeError, match="IOMallocAligned memory is not freed by IOFree"):
        IOFree(address, 64)
    IOFreeAligned(address, 64)


def test_iofree_of_null_does_nothing(kernel: Kernel) -> None:
    """IOFree(0, n) is a no-op, as in C; IOMalloc(0) returns NULL."""
    IOFree(0, 16)
    assert IOMalloc(0) == 0


def test_iomallocaligned_rounds_the_alignment_to_a_power_of_two(kernel: Kernel) -> None:
    """An alignment of 3000 gives a 4096-byte boundary."""
    IOMalloc(16)  # move the allocator off the 4 GiB boundary
    address = IOMallocAligned(100, 3000)
    assert address % 4096 == 0
    (_, aligned) = outstanding_allocations(kernel)
    assert aligned.alignment == 4096
    IOFreeAligned(address, 100)
    IOFree(outstanding_allocations(kernel)[0].address, 16)


def test_iomalloccontiguous_with_a_physical_address_lies_below_4_gib(kernel: Kernel) -> None:
    """As in xnu, asking for the physical address gets a 32-bit buffer descriptor."""
    physical = PhysicalAddressRef()
    address = IOMallocContiguous(10000, 256, physical)
    assert 0 < address < FOUR_GIB
    assert physical.value == address
    assert address % 4096 == 0
    (live,) = live_buffer_descriptors(kernel)
    assert live.address == address
    assert live.site.startswith("test_malloc.py:")
    with pytest.raises(BadFreeError, match="wrong size"):
        IOFreeContiguous(address, 100)
    IOFreeContiguous(address, 10000)
    assert live_buffer_descriptors(kernel) == []
    assert outstanding_allocations(kernel, include_owned=True) == []


def test_iomalloccontiguous_without_a_physical_address_is_plain_memory(kernel: Kernel) -> None:
    """Without the out-parameter it is an aligned allocation anywhere (above 4 GiB)."""
    address = IOMallocContiguous(8192, 8192)
    assert address >= FOUR_GIB
    assert address % 8192 == 0
    assert outstanding_allocations(kernel)[0].function == "IOMallocContiguous"
    with pytest.raises(BadFreeError):
        IOFree(address, 8192)
    IOFreeContiguous(address, 8192)


def test_pageable_memory_is_accounted_apart(kernel: Kernel) -> None:
    """IOKitDiagnostics' two figures: wired IOMalloc bytes and pageable bytes."""
    wired = IOMalloc(1000)
    pageable = IOMallocPageable(5000, 4096)
    assert memory_diagnostics(kernel) == {
        "IOMalloc allocation": 1000,
        "Pageable allocation": 5000,
    }
    IOFreePageable(pageable, 5000)
    IOFree(wired, 1000)
    assert memory_diagnostics(kernel) == {"IOMalloc allocation": 0, "Pageable allocation": 0}


def test_running_out_of_memory_returns_null(kernel: Kernel) -> None:
    """A request bigger than the RAM left gets 0, never an exception."""
    assert IOMalloc(8 << 30) == 0
    assert IOMallocAligned(8 << 30, 4096) == 0
    assert IOMallocContiguous(8 << 30, 4096, PhysicalAddressRef()) == 0
    assert outstanding_allocations(kernel, include_owned=True) == []


def test_allocating_in_interrupt_context_is_a_violation(kernel: Kernel) -> None:
    """IOMalloc may block, so an interrupt handler calling it is stopped at once."""
    raised: list[BaseException] = []

    def handler() -> None:
        try:
            IOMalloc(16)
        except InterruptContextViolation as error:
            raised.append(error)

    kernel.scheduler.run_in_interrupt_context(handler)
    assert raised
    assert "IOMalloc" in str(raised[0])


def test_a_kernel_view_of_memory_that_is_not_ram_is_refused(kernel: Kernel) -> None:
    """The PCI hole has no RAM: touching it is a page fault, reported as such."""
    with pytest.raises(KernelAddressError, match="not RAM"):
        kernel_view(0x9000_0000, 16)


def test_kernels_keep_separate_books(kernel: Kernel) -> None:
    """Another machine's kernel has its own allocator and books."""
    from kextlab.testing.kernel import booted_kernel

    here = IOMalloc(32)
    # Booted as the fixture's kernel is (no extensions), so both start from the same state.
    with booted_kernel(extensions=()) as other, other.entered():
        there = IOMalloc(32)
        assert there == here  # same policy, separate RAM
        assert len(outstanding_allocations(other)) == 1
        IOFree(there, 32)
    assert len(outstanding_allocations(kernel)) == 1
    IOFree(here, 32)


def test_ioreg_shows_the_iomalloc_figure_in_iokit_diagnostics(kernel: Kernel) -> None:
    """The registry root's IOKitDiagnostics carries "IOMalloc allocation", as on a Mac."""
    from kextlab.kernel.libkern.convert import to_user

    def figure() -> int:
        diagnostics = to_user(kernel.registry.getRoot().getProperty("IOKitDiagnostics"))
        assert isinstance(diagnostics, dict)
        value = diagnostics["IOMalloc allocation"]
        assert isinstance(value, int)
        return value

    address = IOMalloc(1000)
    before = figure()
    assert before >= 1000
    IOFree(address, 1000)
    assert figure() == before - 1000
