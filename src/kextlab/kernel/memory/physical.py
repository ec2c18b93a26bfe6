"""The kernel's physical memory allocator: which RAM a buffer gets.

Every byte the kernel hands out (``IOMalloc`` and its siblings, buffer descriptors,
DMA bounce buffers) is carved from the machine's RAM (``machine.memory.regions``)
by one ``PhysicalAllocator`` per kernel.  kextlab has no MMU: the kernel's memory
is identity-mapped, so a kernel virtual address *is* the physical address, and the
allocator's answer is both.

Policy
------
* **A 64-bit kernel prefers RAM above 4 GiB** when the machine has some: buffers
  land there first, exactly as on a real 64-bit kernel with lots of RAM, so a driver
  that gives a 32-bit device a raw address corrupts memory as it would on a Mac.
  Below 4 GiB is used when the RAM above is full, or when the caller asks for it.
* **A 32-bit kernel hands out only RAM below 4 GiB** (its addresses are 32 bits).
* Any allocation may be constrained by an alignment and by a limit on its end
  (``limit``: every byte below that address; a physical mask of 32 bits is a limit
  of 4 GiB).
* The first 1 MiB belongs to the firmware and is never handed out, so neither is
  address 0: no allocation can look like NULL.
* Deterministic: first fit in address order within the preferred part of memory
  (the lowest suitable address above 4 GiB, then the lowest below), no hashing.

An allocation never spans two RAM regions, even adjacent ones: a region is one
host mapping, and a zero-copy view (``PhysicalMemory.view``) cannot cross it.

Design
------
The free memory is a sorted list of disjoint extents (two parallel lists of starts
and ends).  Allocation bisects to the preferred part and takes the first extent the
aligned request fits in, splitting it; freeing bisects to the neighbours, checks the
range is not already free, and coalesces.  Both are O(log n) plus the extents too
small to use (allocation) and a list insertion, which is a memmove; in practice the
free list stays short.  The allocator trusts its caller for sizes (the IOMalloc
layer keeps the records and reports misuse); freeing memory that is already free is
reported as an ``InternalError``.

Threading rules: called from kernel code in any context that may allocate; it never
blocks (exhaustion returns None).  One machine, one thread: no locking.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable

from kextlab.errors import InternalError

FOUR_GIB = 1 << 32
#: What the firmware keeps for itself at the bottom of RAM.
FIRMWARE_RESERVED = 1 << 20
KERNEL_BITS = (32, 64)


def align_up(value: int, alignment: int) -> int:
    """``value`` rounded up to a multiple of ``alignment``."""
    return -(-value // alignment) * alignment


class PhysicalAllocator:
    """Free RAM of one kernel, handed out by the policy above."""

    def __init__(
        self,
        ram: Iterable[tuple[int, int]],
        *,
        kernel_bits: int,
        reserved_below: int = FIRMWARE_RESERVED,
    ) -> None:
        """``ram``: the machine's RAM regions as ``(base, size)`` pairs."""
        if kernel_bits not in KERNEL_BITS:
            raise ValueError(f"kernel_bits must be 32 or 64, not {kernel_bits}")
        self.kernel_bits = kernel_bits
        self._starts: list[int] = []
        self._ends: list[int] = []
        barriers: set[int] = set()
        for base, size in sorted(ram):
            barriers.add(base)
            start = max(base, reserved_below)
            end = base + size
            if kernel_bits == 32:
                end = min(end, FOUR_GIB)
            if start < end:
                self._starts.append(start)
                self._ends.append(end)
        #: Region boundaries: free extents never merge across them.
        self._barriers = frozenset(barriers)
        self.total_bytes = sum(end - start for start, end in self.extents())
        self.free_bytes = self.total_bytes
        self._prefer_high = kernel_bits == 64 and any(end > FOUR_GIB for end in self._ends)

    def __repr__(self) -> str:
        return (
            f"<PhysicalAllocator {self.kernel_bits}-bit kernel, {self.free_bytes:#x} of "
            f"{self.total_bytes:#x} bytes free in {len(self._starts)} extents>"
        )

    def extents(self) -> list[tuple[int, int]]:
        """The free extents as ``(start, end)`` pairs, in address order."""
        return list(zip(self._starts, self._ends, strict=True))

    @property
    def allocated_bytes(self) -> int:
        return self.total_bytes - self.free_bytes

    # -- allocation ---------------------------------------------------------------------------

    def allocate(self, size: int, *, alignment: int = 1, limit: int | None = None) -> int | None:
        """The address of ``size`` free bytes aligned to ``alignment`` and ending at or
        below ``limit``, now allocated; None when no free extent can hold them."""
        if size <= 0:
            raise ValueError(f"allocation of {size} bytes: the size must be positive")
        if alignment <= 0:
            raise ValueError(f"alignment {alignment} must be positive")
        found = None
        if self._prefer_high:
            high = bisect.bisect_right(self._ends, FOUR_GIB)
            found = self._first_fit(high, len(self._starts), FOUR_GIB, size, alignment, limit)
            if found is None:
                low_end = bisect.bisect_left(self._starts, FOUR_GIB)
                found = self._first_fit(0, low_end, 0, size, alignment, limit)
        else:
            found = self._first_fit(0, len(self._starts), 0, size, alignment, limit)
        if found is None:
            return None
        index, address = found
        self._carve(index, address, address + size)
        self.free_bytes -= size
        return address

    def _first_fit(
        self, first: int, stop: int, floor: int, size: int, alignment: int, limit: int | None
    ) -> tuple[int, int] | None:
        starts, ends = self._starts, self._ends
        for index in range(first, stop):
            start = starts[index]
            if limit is not None and start + size > limit:
                return None  # extents are sorted: nothing further fits under the limit
            address = align_up(max(start, floor), alignment)
            end = address + size
            if end <= ends[index] and (limit is None or end <= limit):
                return index, address
        return None

    def _carve(self, index: int, start: int, end: int) -> None:
        """Remove ``[start, end)`` from the free extent at ``index``."""
        extent_start, extent_end = self._starts[index], self._ends[index]
        pieces = []
        if extent_start < start:
            pieces.append((extent_start, start))
        if end < extent_end:
            pieces.append((end, extent_end))
        self._starts[index : index + 1] = [piece[0] for piece in pieces]
        self._ends[index : index + 1] = [piece[1] for piece in pieces]

    # -- freeing ------------------------------------------------------------------------------

    def free(self, address: int, size: int) -> None:
        """Return ``[address, address + size)`` to the free list, coalescing."""
        if size <= 0:
            raise ValueError(f"free of {size} bytes at {address:#x}: the size must be positive")
        end = address + size
        starts, ends = self._starts, self._ends
        index = bisect.bisect_right(starts, address)
        overlaps_before = index > 0 and ends[index - 1] > address
        overlaps_after = index < len(starts) and starts[index] < end
        if overlaps_before or overlaps_after:
            raise InternalError(
                f"physical free of [{address:#x}, {end:#x}): part of it is already free"
            )
        merge_before = index > 0 and ends[index - 1] == address and address not in self._barriers
        merge_after = index < len(starts) and starts[index] == end and end not in self._barriers
        if merge_before and merge_after:
            ends[index - 1] = ends[index]
            del starts[index], ends[index]
        elif merge_before:
            ends[index - 1] = end
        elif merge_after:
            starts[index] = address
        else:
            starts.insert(index, address)
            ends.insert(index, end)
        self.free_bytes += size

    def is_free(self, address: int, size: int) -> bool:
        """True when the whole range is free (for tests and consistency checks)."""
        index = bisect.bisect_right(self._starts, address) - 1
        return index >= 0 and address + size <= self._ends[index]
