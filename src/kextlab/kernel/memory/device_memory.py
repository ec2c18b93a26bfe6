"""IODeviceMemory and IOMemoryMap: a device's registers as a driver reaches them.

Mirrors ``IODeviceMemory`` (a physical range: a BAR, an I/O window) and the parts
of ``IOMemoryMap`` a driver uses on device memory (``IOMemoryMap.h``): a map covers
the range, reports its physical and "virtual" address (kextlab has no MMU: they
are the same number) and length, and reads and writes registers little-endian,
8 to 64 bits wide.  Each access is a CPU access of the machine: it costs virtual
time and is a preemption point (ARCHITECTURE.md §2), and an access outside the
map, or misaligned, is a driver bug reported at the access, where real hardware
would fault.

The map holds the ``Machine`` it reaches; a kernel without hardware (``kextmatch``)
has device memory ranges but cannot map them.

Threading rules: any kernel thread; not interrupt-safe only in that a map may not
be released from interrupt context.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kextlab.errors import KextlabError
from kextlab.kernel.libkern.object import OSObject

if TYPE_CHECKING:
    from kextlab.machine.machine import Machine


class DeviceMemoryAccessError(KextlabError, IndexError):
    """A register access outside its map, or not naturally aligned."""


class IODeviceMemory(OSObject):
    """A physical range of device memory (or I/O space)."""

    def __init__(self, address: int, length: int, *, io: bool = False, register: int = 0) -> None:
        super().__init__()
        self._address = address
        self._length = length
        #: Whether the range is in I/O (port) space rather than memory space.
        self.io = io
        #: For a PCI range: the configuration offset of the BAR it came from.
        self.register = register

    @classmethod
    def withRange(cls, start: int, length: int) -> IODeviceMemory:
        return cls(start, length)

    def getPhysicalAddress(self) -> int:
        return self._address

    def getLength(self) -> int:
        return self._length

    def __repr__(self) -> str:
        space = "io" if self.io else "mem"
        return (
            f"<IODeviceMemory {space} {self._address:#x}+{self._length:#x} bar {self.register:#x}>"
        )

    def map(self, machine: Machine | None) -> IOMemoryMap | None:
        """A mapping of the whole range (``IOMemoryDescriptor::map``)."""
        if machine is None:
            return None
        return IOMemoryMap(self, machine)


class IOMemoryMap(OSObject):
    """A mapping of device memory, with register accessors."""

    def __init__(self, memory: IODeviceMemory, machine: Machine) -> None:
        super().__init__()
        memory.retain()
        self._memory = memory
        self._machine = machine
        self._base = memory.getPhysicalAddress()
        self._length = memory.getLength()
        self._read = machine.io_read if memory.io else machine.read
        self._write = machine.io_write if memory.io else machine.write

    def getPhysicalAddress(self) -> int:
        return self._base

    def getVirtualAddress(self) -> int:
        return self._base

    def getAddress(self) -> int:
        return self._base

    def getLength(self) -> int:
        return self._length

    def getSize(self) -> int:
        return self._length

    def getMemoryDescriptor(self) -> IODeviceMemory:
        return self._memory

    def _check(self, offset: int, size: int) -> int:
        if offset < 0 or offset + size > self._length or offset % size:
            raise DeviceMemoryAccessError(
                f"{size * 8}-bit access at offset {offset:#x} of a {self._length:#x}-byte map "
                f"at {self._base:#x}: outside the map or misaligned"
            )
        return self._base + offset

    def ioRead8(self, offset: int) -> int:
        return self._read(self._check(offset, 1), 1)

    def ioRead16(self, offset: int) -> int:
        return self._read(self._check(offset, 2), 2)

    def ioRead32(self, offset: int) -> int:
        return self._read(self._check(offset, 4), 4)

    def ioRead64(self, offset: int) -> int:
        return self._read(self._check(offset, 8), 8)

    def ioWrite8(self, offset: int, value: int) -> None:
        self._write(self._check(offset, 1), 1, value & 0xFF)

    def ioWrite16(self, offset: int, value: int) -> None:
        self._write(self._check(offset, 2), 2, value & 0xFFFF)

    def ioWrite32(self, offset: int, value: int) -> None:
        self._write(self._check(offset, 4), 4, value & 0xFFFF_FFFF)

    def ioWrite64(self, offset: int, value: int) -> None:
        self._write(self._check(offset, 8), 8, value & 0xFFFF_FFFF_FFFF_FFFF)

    def unmap(self) -> int:
        return 0

    def free(self) -> None:
        self._memory.release()
        super().free()
