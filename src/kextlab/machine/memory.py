"""Physical memory: sparse RAM regions in a 64-bit physical address space.

RAM is one or more regions, each an anonymous memory map: the host commits a page
only when it is first written, so a machine with 6 GiB of RAM costs almost nothing
until used.  A region can sit above 4 GiB, which is what makes 32-bit DMA limits
real: a buffer the kernel hands out at ``0x1_0000_0000`` is unreachable for a device
that drives only 32 address lines, and a driver that forgets it corrupts memory at
``0x0`` exactly as on a real 64-bit kernel.

Data moves zero-copy: ``view(address, length)`` returns a ``memoryview`` into the
map, which a device model can hand straight to ``os.preadv`` or slice-assign into.
A view never spans two regions (they are not contiguous).  ``view`` returns None
for a range that is not entirely RAM; the checked accessors ``read``/``write`` report
such accesses as guest errors (reads return all ones, writes are dropped), never as
exceptions.

Threading rules: none; all access happens on the scheduler's thread.
"""

from __future__ import annotations

import bisect
import itertools
import mmap
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kextlab.machine.guest_errors import GuestErrorLog

FOUR_GIB = 1 << 32
#: Linux's MAP_NORESERVE (the mmap module of Python 3.11 does not export it): do not
#: reserve swap for the whole region, so large sparse RAM maps under strict overcommit.
_MAP_NORESERVE = 0x4000 if sys.platform.startswith("linux") else 0


@dataclass(frozen=True, slots=True)
class RamRange:
    """Where a RAM region sits: ``[base, base + size)``."""

    base: int
    size: int

    @property
    def end(self) -> int:
        return self.base + self.size


class RamRegion:
    """One contiguous block of RAM backed by an anonymous map."""

    def __init__(self, base: int, size: int) -> None:
        if base < 0 or size <= 0 or base % 0x1000 or size % 0x1000:
            raise ValueError(
                f"RAM region [{base:#x}, +{size:#x}) must be 4 KiB-aligned and non-empty"
            )
        self.base = base
        self.size = size
        self.end = base + size
        flags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | _MAP_NORESERVE
        self._map: mmap.mmap | None = mmap.mmap(-1, size, flags=flags)
        self.view = memoryview(self._map)

    def close(self) -> bool:
        """Unmap; False (and the RAM left usable) while views of it are still held."""
        if self._map is None:
            return True
        self.view.release()
        try:
            self._map.close()
        except BufferError:
            self.view = memoryview(self._map)  # still mapped: keep serving accesses
            return False
        self._map = None
        return True


class PhysicalMemory:
    """The machine's RAM, addressed by physical address."""

    def __init__(self, ranges: list[RamRange], guest_errors: GuestErrorLog) -> None:
        ordered = sorted(ranges, key=lambda ram: ram.base)
        for before, after in itertools.pairwise(ordered):
            if before.end > after.base:
                raise ValueError(
                    f"RAM ranges [{before.base:#x}, {before.end:#x}) and "
                    f"[{after.base:#x}, {after.end:#x}) overlap"
                )
        self.regions = [RamRegion(ram.base, ram.size) for ram in ordered]
        self._bases = [region.base for region in self.regions]
        #: The regions highest first: ``view`` scans them (a machine has a few).
        self._descending = self.regions[::-1]
        self._guest_errors = guest_errors

    @property
    def size(self) -> int:
        """Total RAM in bytes."""
        return sum(region.size for region in self.regions)

    @property
    def ranges(self) -> list[RamRange]:
        return [RamRange(region.base, region.size) for region in self.regions]

    def region_at(self, address: int) -> RamRegion | None:
        index = bisect.bisect_right(self._bases, address) - 1
        if index >= 0:
            region = self.regions[index]
            if address < region.end:
                return region
        return None

    def contains(self, address: int, length: int) -> bool:
        """True when ``[address, address + length)`` is RAM, inside one region."""
        region = self.region_at(address)
        return region is not None and length >= 0 and address + length <= region.end

    def view(self, address: int, length: int) -> memoryview | None:
        """A zero-copy view of ``length`` bytes of RAM, or None if any of it is not RAM."""
        for region in self._descending:  # the first at or below ``address`` is region_at's
            base = region.base
            if base <= address:
                end = region.end
                if address >= end or length < 0 or address + length > end:
                    return None
                offset = address - base
                return region.view[offset : offset + length]
        return None

    # -- checked accessors: outside RAM is a guest error, never an exception -------------------

    def read(self, address: int, length: int, *, source: str = "memory") -> bytes:
        view = self.view(address, length)
        if view is None:
            self._out_of_range(source, "read", address, length)
            return b"\xff" * length
        return bytes(view)

    def write(
        self, address: int, data: bytes | bytearray | memoryview, *, source: str = "memory"
    ) -> bool:
        view = self.view(address, len(data))
        if view is None:
            self._out_of_range(source, "write", address, len(data))
            return False
        view[:] = data
        return True

    def read_int(self, address: int, size: int, *, source: str = "memory") -> int:
        """A little-endian integer of ``size`` bytes."""
        return int.from_bytes(self.read(address, size, source=source), "little")

    def write_int(self, address: int, size: int, value: int, *, source: str = "memory") -> bool:
        return self.write(address, value.to_bytes(size, "little"), source=source)

    def fill(self, address: int, length: int, byte: int, *, source: str = "memory") -> bool:
        view = self.view(address, length)
        if view is None:
            self._out_of_range(source, "fill", address, length)
            return False
        view[:] = bytes([byte]) * length
        return True

    def _out_of_range(self, source: str, kind: str, address: int, length: int) -> None:
        self._guest_errors.report(
            source,
            f"{kind} of {length} bytes at physical address {address:#x}: not RAM "
            f"(RAM is {self.describe()})",
        )

    def describe(self) -> str:
        return ", ".join(f"[{region.base:#x}, {region.end:#x})" for region in self.regions)

    def close(self) -> bool:
        """Unmap all RAM; False if views are still held somewhere (then GC frees it)."""
        closed = [region.close() for region in self.regions]  # try every region
        return all(closed)
