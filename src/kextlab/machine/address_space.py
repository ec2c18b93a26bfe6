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

The CPU's loads and stores (``Machine.read``/``write``/``io_read``/``io_write``) are
``cpu_read``/``cpu_write``: the same access, then its bus time, ``consume(ns)`` on the
scheduler (a preemption point).  ``read``/``write`` cost nothing: they serve other
regions that forward into a space (the PCI I/O window) and tests.

Hot path: every access first looks up its 4 KiB page in ``_pages``, which keeps,
per page, the mapping last resolved there as one tuple of what an access needs
(bounds, accepted sizes, handlers), so a driver's register accesses cost a
dictionary lookup and four comparisons whichever device they go to; a miss takes
the general path (a bisection over the sorted bases and every check) and records
its mapping.  Anything that may change the flat view (``map_fixed``,
``set_dynamic_source``, ``invalidate``, a rebuild) empties ``_pages``.
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

#: ``_pages`` is keyed by ``address >> _PAGE_SHIFT``; it is emptied when it holds more
#: than ``_PAGES_KEPT`` pages (a test walking RAM through CPU loads stays bounded).
_PAGE_SHIFT = 12
_PAGES_KEPT = 256

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

    def __init__(
        self,
        name: str,
        guest_errors: GuestErrorLog,
        *,
        address_bits: int = 64,
        consume: Callable[[int], None] | None = None,
        cpu_read_ns: int = 0,
        cpu_write_ns: int = 0,
    ) -> None:
        """``consume(ns)`` charges a CPU access's bus time: ``cpu_read_ns`` per load,
        ``cpu_write_ns`` per store (without it, CPU accesses cost nothing)."""
        self.name = name
        self.limit = 1 << address_bits
        self._guest_errors = guest_errors
        self._consume = consume if consume is not None else _free
        self._cpu_read_ns = cpu_read_ns
        self._cpu_write_ns = cpu_write_ns
        self._fixed: list[Mapping] = []
        self._dynamic_source: Callable[[], list[Mapping]] | None = None
        self._dirty = True
        self._bases: list[int] = []
        self._mappings: list[Mapping] = []
        #: Page number -> (base, end, sizes, read, write) of the mapping last resolved
        #: in that page; empty whenever the view is dirty (see the module docstring).
        self._pages: dict[int, _Hit] = {}
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
        self._pages.clear()
        return mapping

    def set_dynamic_source(self, source: Callable[[], list[Mapping]]) -> None:
        """``source()`` lists the mappings that configuration currently enables."""
        self._dynamic_source = source
        self._dirty = True
        self._pages.clear()

    def invalidate(self) -> None:
        """The dynamic mappings may have changed; rebuild before the next access."""
        self._dirty = True
        self._pages.clear()

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
        self._pages.clear()

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
        """A load: the value, or all ones after a guest error."""
        hit = self._pages.get(address >> _PAGE_SHIFT)
        if hit is not None:
            base, end, sizes, read, _ = hit
            if (
                base <= address
                and address + size <= end
                and size in sizes
                and not address & (size - 1)
            ):
                return read(address - base, size)
        mapping = self._resolve(address, size, "read")
        if mapping is None:
            return ALL_ONES.get(size, 0)
        return mapping.region.read(address - mapping.base, size)

    def write(self, address: int, size: int, value: int) -> None:
        """A store of the low ``size`` bytes of ``value``; dropped after a guest error."""
        hit = self._pages.get(address >> _PAGE_SHIFT)
        if hit is not None:
            base, end, sizes, _, write = hit
            if (
                base <= address
                and address + size <= end
                and size in sizes
                and not address & (size - 1)
            ):
                write(address - base, size, value & ALL_ONES[size])
                return
        mapping = self._resolve(address, size, "write")
        if mapping is not None:
            mapping.region.write(address - mapping.base, size, value & ALL_ONES[size])

    def cpu_read(self, address: int, size: int) -> int:
        """``read`` by the CPU: the load, then its bus time."""
        value = self.read(address, size)
        self._consume(self._cpu_read_ns)
        return value

    def cpu_write(self, address: int, size: int, value: int) -> None:
        """``write`` by the CPU: the store, then its bus time."""
        self.write(address, size, value)
        self._consume(self._cpu_write_ns)

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
        pages = self._pages
        if len(pages) >= _PAGES_KEPT:
            pages.clear()
        pages[address >> _PAGE_SHIFT] = (
            mapping.base,
            mapping.end,
            region.access_sizes,
            region.read,
            region.write,
        )
        return mapping


def _free(duration: int) -> None:
    """The bus time of a space without a CPU clock: nothing."""


def _sizes(sizes: frozenset[int]) -> str:
    return "/".join(str(size) for size in sorted(sizes))
