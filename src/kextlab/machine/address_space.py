"""Address spaces: routing CPU loads and stores to RAM and device registers.

The machine has two: the 64-bit memory space and the I/O port space.  Each holds
*regions* (``MmioRegion``: a size and read/write handlers, QEMU's
``MemoryRegionOps``) mapped at base addresses.  Fixed mappings (RAM, the interrupt
controller, the host bridge's configuration registers) are added once; the PCI host
bridge supplies the *dynamic* ones (BARs, bridge windows) through a callback, and
calls ``invalidate()`` whenever configuration writes may have changed them.  The flat
view is rebuilt lazily on the next access, so a firmware probe that writes hundreds
of config registers costs one rebuild, not hundreds.

Accesses are 1, 2, 4 or 8 bytes, little-endian (the PCI byte order).  A region
states the sizes it accepts; an access of another size, a misaligned one, one that
crosses the end of a region, or one that hits nothing is a *guest error*: reads
return all ones (a master abort on PCI), writes are dropped, and the machine goes
on.

Hot path: ``read``/``write`` keep the last two mappings hit (a driver's interrupt
handler alternates between its device and the interrupt controller), each as one
tuple of what an access needs (bounds, accepted sizes, handlers), and fall back to
a bisection over the sorted bases.  Anything that may change the flat view forgets
them.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kextlab.machine.guest_errors import GuestErrorLog

ReadHandler = Callable[[int, int], int]
WriteHandler = Callable[[int, int, int], None]
_Hit = tuple[int, int, frozenset[int], ReadHandler, WriteHandler]

ALL_ONES = {1: 0xFF, 2: 0xFFFF, 4: 0xFFFF_FFFF, 8: 0xFFFF_FFFF_FFFF_FFFF}


class MmioRegion:
    """A block of registers (or RAM) that can be mapped into an address space.

    ``read(offset, size)`` and ``write(offset, size, value)`` receive the offset from
    the start of the region; the address space has already checked the size,
    alignment and bounds.  ``owner`` names the device in guest-error reports.
    """

    __slots__ = ("access_sizes", "name", "owner", "read", "size", "write")

    def __init__(
        self,
        name: str,
        size: int,
        read: ReadHandler,
        write: WriteHandler,
        *,
        access_sizes: Iterable[int] = (1, 2, 4),
        owner: str | None = None,
    ) -> None:
        if size <= 0:
            raise ValueError(f"region {name!r}: size must be positive, not {size}")
        self.name = name
        self.size = size
        self.read = read
        self.write = write
        self.access_sizes = frozenset(access_sizes)
        self.owner = owner or name

    def __repr__(self) -> str:
        return f"<MmioRegion {self.name!r} size {self.size:#x}>"


class Mapping:
    """A region at a base address: ``[base, end)``."""

    __slots__ = ("base", "end", "region")

    def __init__(self, base: int, region: MmioRegion) -> None:
        self.base = base
        self.end = base + region.size
        self.region = region

    def overlaps(self, other: Mapping) -> bool:
        return self.base < other.end and other.base < self.end

    def __repr__(self) -> str:
        return f"<Mapping {self.region.name!r} [{self.base:#x}, {self.end:#x})>"


class AddressSpace:
    """Routes accesses to mapped regions; reports everything else as a guest error."""

    def __init__(self, name: str, guest_errors: GuestErrorLog, *, address_bits: int = 64) -> None:
        self.name = name
        self.limit = 1 << address_bits
        self._guest_errors = guest_errors
        self._fixed: list[Mapping] = []
        self._dynamic_source: Callable[[], list[Mapping]] | None = None
        self._dirty = True
        self._bases: list[int] = []
        self._mappings: list[Mapping] = []
        #: The last two mappings accesses hit, most recent first, each as
        #: (base, end, sizes, read, write); None when there is none (or the view is dirty).
        self._last: _Hit | None = None
        self._previous: _Hit | None = None
        self.rebuilds = 0

    # -- mapping ----------------------------------------------------------------------------

    def map_fixed(self, base: int, region: MmioRegion) -> Mapping:
        """Map ``region`` at ``base`` for good; it must not overlap another fixed mapping."""
        mapping = Mapping(base, region)
        if mapping.end > self.limit:
            raise ValueError(f"{self.name}: {region.name} at {base:#x} ends beyond the space")
        for other in self._fixed:
            if mapping.overlaps(other):
                raise ValueError(
                    f"{self.name}: {region.name} at [{base:#x}, {mapping.end:#x}) overlaps "
                    f"{other.region.name} at [{other.base:#x}, {other.end:#x})"
                )
        self._fixed.append(mapping)
        self._dirty = True
        self._last = self._previous = None
        return mapping

    def set_dynamic_source(self, source: Callable[[], list[Mapping]]) -> None:
        """``source()`` lists the mappings that configuration currently enables."""
        self._dynamic_source = source
        self._dirty = True
        self._last = self._previous = None

    def invalidate(self) -> None:
        """The dynamic mappings may have changed; rebuild before the next access."""
        self._dirty = True
        self._last = self._previous = None

    def mappings(self) -> list[Mapping]:
        """The flat view, sorted by base."""
        if self._dirty:
            self._rebuild()
        return list(self._mappings)

    def _rebuild(self) -> None:
        self._dirty = False
        self.rebuilds += 1
        accepted = list(self._fixed)
        dynamic = self._dynamic_source() if self._dynamic_source is not None else []
        for mapping in dynamic:
            clash = next((other for other in accepted if mapping.overlaps(other)), None)
            if clash is not None:
                self._guest_errors.report(
                    mapping.region.owner,
                    f"{mapping.region.name} at [{mapping.base:#x}, {mapping.end:#x}) overlaps "
                    f"{clash.region.name} at [{clash.base:#x}, {clash.end:#x}) in {self.name}; "
                    f"{clash.region.name} decodes the range",
                )
                continue
            accepted.append(mapping)
        accepted.sort(key=lambda mapping: mapping.base)
        self._mappings = accepted
        self._bases = [mapping.base for mapping in accepted]
        self._last = self._previous = None

    def lookup(self, address: int) -> Mapping | None:
        if self._dirty:
            self._rebuild()
        index = bisect.bisect_right(self._bases, address) - 1
        if index >= 0:
            mapping = self._mappings[index]
            if address < mapping.end:
                return mapping
        return None

    # -- access ------------------------------------------------------------------------------

    def read(self, address: int, size: int) -> int:
        last = self._last  # None whenever the view is dirty
        if last is not None:
            base, end, sizes, read, _ = last
            if (
                base <= address
                and address + size <= end
                and size in sizes
                and not address & (size - 1)
            ):
                return read(address - base, size)
            previous = self._previous
            if previous is not None:
                base, end, sizes, read, _ = previous
                if (
                    base <= address
                    and address + size <= end
                    and size in sizes
                    and not address & (size - 1)
                ):
                    self._last, self._previous = previous, last
                    return read(address - base, size)
        mapping = self._resolve(address, size, "read")
        if mapping is None:
            return ALL_ONES.get(size, 0)
        return mapping.region.read(address - mapping.base, size)

    def write(self, address: int, size: int, value: int) -> None:
        last = self._last  # None whenever the view is dirty
        if last is not None:
            base, end, sizes, _, write = last
            if (
                base <= address
                and address + size <= end
                and size in sizes
                and not address & (size - 1)
            ):
                write(address - base, size, value & ALL_ONES[size])
                return
            previous = self._previous
            if previous is not None:
                base, end, sizes, _, write = previous
                if (
                    base <= address
                    and address + size <= end
                    and size in sizes
                    and not address & (size - 1)
                ):
                    self._last, self._previous = previous, last
                    write(address - base, size, value & ALL_ONES[size])
                    return
        mapping = self._resolve(address, size, "write")
        if mapping is not None:
            mapping.region.write(address - mapping.base, size, value & ALL_ONES[size])

    def _resolve(self, address: int, size: int, kind: str) -> Mapping | None:
        """The mapping an access goes to, after every check; None = guest error."""
        if size not in ALL_ONES:
            self._guest_errors.report(
                self.name, f"{kind} of {size} bytes at {address:#x}: not an access size"
            )
            return None
        mapping = self.lookup(address)
        if mapping is None:
            self._guest_errors.report(
                self.name, f"{kind} of {size} bytes at {address:#x}: nothing decodes this address"
            )
            return None
        region = mapping.region
        if size not in region.access_sizes:
            self._guest_errors.report(
                region.owner,
                f"{kind} of {size} bytes at {region.name}+{address - mapping.base:#x}: "
                f"the region accepts {_sizes(region.access_sizes)}-byte accesses",
            )
            return None
        if address & (size - 1):
            self._guest_errors.report(
                region.owner,
                f"misaligned {kind} of {size} bytes at {region.name}+{address - mapping.base:#x}",
            )
            return None
        if address + size > mapping.end:
            self._guest_errors.report(
                region.owner,
                f"{kind} of {size} bytes at {region.name}+{address - mapping.base:#x} crosses "
                f"the end of the region ({region.size:#x} bytes)",
            )
            return None
        hit = (mapping.base, mapping.end, region.access_sizes, region.read, region.write)
        if self._last is None or self._last[0] != hit[0]:
            self._previous = self._last
        self._last = hit
        return mapping


def _sizes(sizes: frozenset[int]) -> str:
    return "/".join(str(size) for size in sorted(sizes))
