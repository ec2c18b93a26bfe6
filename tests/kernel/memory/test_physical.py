"""The kernel's physical allocator: where memory goes, and that it comes back.

Pure unit tests on ``PhysicalAllocator`` with made-up RAM layouts (no machine): the
word-size policy, limits and alignment, coalescing, region boundaries, exhaustion.
"""

from __future__ import annotations

import pytest

from kextlab.errors import InternalError
from kextlab.kernel.memory.physical import FIRMWARE_RESERVED, FOUR_GIB, PhysicalAllocator

GIB = 1 << 30
MIB = 1 << 20
#: The default machine's RAM: 2 GiB below the PCI hole, 1 GiB at 4 GiB.
DEFAULT_RAM = [(0, 2 * GIB), (FOUR_GIB, GIB)]


def test_a_64_bit_kernel_hands_out_ram_above_4_gib_first() -> None:
    """With RAM above 4 GiB, a 64-bit kernel's first allocations land there."""
    allocator = PhysicalAllocator(DEFAULT_RAM, kernel_bits=64)
    first = allocator.allocate(4096)
    second = allocator.allocate(100)
    assert first == FOUR_GIB
    assert second == FOUR_GIB + 4096


def test_a_64_bit_kernel_falls_back_below_4_gib_when_the_high_ram_is_full() -> None:
    """Once the RAM above 4 GiB is used up, allocations come from below."""
    allocator = PhysicalAllocator(DEFAULT_RAM, kernel_bits=64)
    assert allocator.allocate(GIB) == FOUR_GIB
    assert allocator.allocate(4096) == FIRMWARE_RESERVED


def test_a_64_bit_kernel_without_high_ram_allocates_low() -> None:
    """A machine with RAM only below 4 GiB serves a 64-bit kernel from there."""
    allocator = PhysicalAllocator([(0, GIB)], kernel_bits=64)
    assert allocator.allocate(64) == FIRMWARE_RESERVED


def test_a_32_bit_kernel_never_hands_out_ram_above_4_gib() -> None:
    """A 32-bit kernel sees only RAM below 4 GiB, and runs out when that is gone."""
    allocator = PhysicalAllocator(DEFAULT_RAM, kernel_bits=32)
    assert allocator.total_bytes == 2 * GIB - FIRMWARE_RESERVED
    assert allocator.allocate(4096) == FIRMWARE_RESERVED
    assert allocator.allocate(2 * GIB) is None
    assert all(end <= FOUR_GIB for _, end in allocator.extents())


def test_the_first_mebibyte_and_address_zero_are_never_handed_out() -> None:
    """The firmware's first 1 MiB is reserved, so no allocation can look like NULL."""
    allocator = PhysicalAllocator([(0, 2 * MIB)], kernel_bits=32)
    addresses = [allocator.allocate(4096) for _ in range(256)]
    assert None not in addresses
    assert min(a for a in addresses if a is not None) == FIRMWARE_RESERVED
    assert allocator.allocate(1) is None


def test_a_limit_keeps_the_allocation_below_it() -> None:
    """A limit (a physical mask's reach) forces a 64-bit kernel below 4 GiB."""
    allocator = PhysicalAllocator(DEFAULT_RAM, kernel_bits=64)
    address = allocator.allocate(8192, limit=FOUR_GIB)
    assert address is not None
    assert address + 8192 <= FOUR_GIB
    assert allocator.allocate(8192, limit=FIRMWARE_RESERVED) is None


def test_alignment_is_honoured_and_the_skipped_bytes_stay_free() -> None:
    """An aligned allocation starts on its boundary; the gap before it is reusable."""
    allocator = PhysicalAllocator(DEFAULT_RAM, kernel_bits=64)
    assert allocator.allocate(16) == FOUR_GIB
    aligned = allocator.allocate(4096, alignment=1 << 16)
    assert aligned == FOUR_GIB + (1 << 16)
    assert allocator.allocate(32) == FOUR_GIB + 16
    assert allocator.is_free(FOUR_GIB + 48, (1 << 16) - 48)


def test_freed_memory_coalesces_back_into_one_extent() -> None:
    """Freeing in any order merges neighbours: the free list returns to its start."""
    allocator = PhysicalAllocator(DEFAULT_RAM, kernel_bits=64)
    before = allocator.extents()
    blocks = [allocator.allocate(4096) for _ in range(5)]
    assert all(block is not None for block in blocks)
    for index in (1, 3, 0, 4, 2):
        block = blocks[index]
        assert block is not None
        allocator.free(block, 4096)
    assert allocator.extents() == before
    assert allocator.free_bytes == allocator.total_bytes


def test_a_freed_hole_is_reused_first_in_address_order() -> None:
    """First fit in address order: the lowest suitable hole is taken."""
    allocator = PhysicalAllocator(DEFAULT_RAM, kernel_bits=64)
    first = allocator.allocate(4096)
    allocator.allocate(4096)
    assert first is not None
    allocator.free(first, 4096)
    assert allocator.allocate(1024) == first


def test_adjacent_ram_regions_are_never_merged_into_one_allocation() -> None:
    """Two regions that touch are still two mappings: no allocation spans both."""
    allocator = PhysicalAllocator([(0, 2 * MIB), (2 * MIB, MIB)], kernel_bits=32)
    assert allocator.allocate(MIB + 4096) is None
    low = allocator.allocate(MIB)
    high = allocator.allocate(MIB)
    assert (low, high) == (MIB, 2 * MIB)
    assert low is not None
    assert high is not None
    allocator.free(low, MIB)
    allocator.free(high, MIB)
    assert allocator.extents() == [(MIB, 2 * MIB), (2 * MIB, 3 * MIB)]


def test_exhaustion_returns_none_and_frees_make_room_again() -> None:
    """Running out is an answer (None), not an exception."""
    allocator = PhysicalAllocator([(0, 2 * MIB)], kernel_bits=64)
    whole = allocator.allocate(MIB)
    assert whole is not None
    assert allocator.allocate(16) is None
    allocator.free(whole, MIB)
    assert allocator.allocate(MIB) == whole


def test_freeing_memory_that_is_already_free_is_an_internal_error() -> None:
    """The allocator refuses a double free rather than corrupting its list."""
    allocator = PhysicalAllocator(DEFAULT_RAM, kernel_bits=64)
    address = allocator.allocate(4096)
    assert address is not None
    allocator.free(address, 4096)
    with pytest.raises(InternalError, match="already free"):
        allocator.free(address, 4096)


def test_allocation_is_deterministic() -> None:
    """The same requests give the same addresses, run after run."""

    def run() -> list[int | None]:
        allocator = PhysicalAllocator(DEFAULT_RAM, kernel_bits=64)
        addresses = [allocator.allocate(size, alignment=64) for size in (100, 5000, 64, 1 << 20)]
        first = addresses[1]
        assert first is not None
        allocator.free(first, 5000)
        addresses.append(allocator.allocate(300))
        return addresses

    assert run() == run()


def test_invalid_requests_are_refused_with_a_message() -> None:
    """Sizes and alignments must be positive; the word size 32 or 64."""
    allocator = PhysicalAllocator(DEFAULT_RAM, kernel_bits=64)
    with pytest.raises(ValueError, match="positive"):
        allocator.allocate(0)
    with pytest.raises(ValueError, match="alignment"):
        allocator.allocate(16, alignment=0)
    with pytest.raises(ValueError, match="32 or 64"):
        PhysicalAllocator(DEFAULT_RAM, kernel_bits=16)
