"""IODeviceMemory: a device's registers, SRAM or port range, as a physical range.

Mirrors ``IODeviceMemory.h``/``IODeviceMemory.cpp`` (xnu): "a simple subclass of
IOMemoryDescriptor that uses its methods to describe a single range of physical
memory on a device".  Bus families create them (IOPCIFamily one per BAR, from
``assigned-addresses``), drivers get them from their nub
(``getDeviceMemoryWithIndex``) and map them (``map()``, or the nub's
``mapDeviceMemoryWithIndex``) to reach the registers through the map's
``ioRead32``/``ioWrite32`` (``map.py``).  kextlab adds two facts a PCI range
carries: ``io`` (the range is in I/O port space, so its map issues port cycles)
and ``register`` (the configuration offset of the BAR it came from).

In xnu ``withRange`` returns an ``IOGeneralMemoryDescriptor`` cast to
``IODeviceMemory``; here the object really is an ``IODeviceMemory`` (a direct
subclass of ``IOMemoryDescriptor``, as in Apple's class tree), so ``ioclasscount``
shows device memory under its own name.

A kernel without hardware (``kextmatch``) has device memory ranges but cannot map
them: ``map()`` returns None there.

``IOMemoryMap`` and ``DeviceMemoryAccessError`` are importable from here, where
they used to live.

Threading rules: as ``IOMemoryDescriptor``; any kernel thread.
"""

from __future__ import annotations

from kextlab.kernel.memory.descriptor import IOMemoryDescriptor
from kextlab.kernel.memory.errors import DeviceMemoryAccessError
from kextlab.kernel.memory.map import IOMemoryMap
from kextlab.kernel.memory.options import kIOMemoryMapperNone, kIOMemoryTypePhysical64

__all__ = ["DeviceMemoryAccessError", "IODeviceMemory", "IOMemoryMap"]


class IODeviceMemory(IOMemoryDescriptor):
    """A physical range of device memory (or I/O space)."""

    def __init__(
        self, address: int = 0, length: int = 0, *, io: bool = False, register: int = 0
    ) -> None:
        super().__init__()
        self._init_ranges([(address, length)], None, kIOMemoryTypePhysical64 | kIOMemoryMapperNone)
        #: Whether the range is in I/O (port) space rather than memory space.
        self.io = io
        #: For a PCI range: the configuration offset of the BAR it came from.
        self.register = register

    @classmethod
    def withRange(cls, start: int, length: int) -> IODeviceMemory:
        return cls(start, length)

    @classmethod
    def withSubRange(cls, of: IODeviceMemory, offset: int, length: int) -> IODeviceMemory | None:
        """``length`` bytes of ``of`` from ``offset`` (None if they are not inside it)."""
        if offset < 0 or length <= 0 or offset + length > of.getLength():
            return None
        return cls(of.getPhysicalAddress() + offset, length, io=of.io, register=of.register)

    def in_io_space(self) -> bool:
        return self.io

    def __repr__(self) -> str:
        space = "io" if self.io else "mem"
        address, length = self._ranges[0]
        return f"<IODeviceMemory {space} {address:#x}+{length:#x} bar {self.register:#x}>"
