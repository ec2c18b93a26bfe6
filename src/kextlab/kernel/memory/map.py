"""IOMemoryMap: memory of a descriptor, mapped for the CPU.

Mirrors ``IOMemoryMap`` (``IOMemoryDescriptor.h``): what ``IOMemoryDescriptor::map``
and ``IOPCIDevice::mapDeviceMemoryWithIndex`` return.  A map covers one physically
contiguous run of its descriptor (kextlab has no MMU: the mapping is the identity,
so the virtual address equals the physical address), holds a reference to the
descriptor, and reports ``getVirtualAddress``/``getPhysicalAddress``/``getLength``.

It also carries the register accessors a driver uses on device memory:
``ioRead8/16/32/64`` and ``ioWrite8/16/32/64``, little-endian, at an offset into the
map (IOPCIFamily's ``ioRead32(offset, map)`` and Apple's ``OSReadLittleInt32`` on a
mapped address, in one).  Each access is a CPU access of the machine: it costs
virtual time and is a preemption point (ARCHITECTURE.md §2).  An access outside the
map, not naturally aligned, through a map that was unmapped, or a write through a
``kIOMapReadOnly`` map is a driver bug, reported at the access with
``DeviceMemoryAccessError``, where real hardware would fault.  Maps of RAM work the
same way; for bulk data use ``kernel_view(getVirtualAddress(), getLength())``.

Threading rules: any kernel thread; accesses are preemption points.  A map may not
be released from interrupt context.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kextlab.kernel.ioreturn import kIOReturnSuccess
from kextlab.kernel.libkern.object import OSObject
from kextlab.kernel.memory.errors import DeviceMemoryAccessError
from kextlab.kernel.memory.options import kIOMapReadOnly

if TYPE_CHECKING:
    from kextlab.kernel.memory.descriptor import IOMemoryDescriptor
    from kextlab.kernel.memory.refs import ByteCountRef
    from kextlab.machine.machine import Machine


class IOMemoryMap(OSObject):
    """A mapping of (part of) a memory descriptor, with register accessors."""

    def __init__(
        self,
        memory: IOMemoryDescriptor,
        machine: Machine,
        address: int,
        length: int,
        *,
        options: int = 0,
        offset: int = 0,
    ) -> None:
        super().__init__()
        memory.retain()
        self._memory = memory
        self._machine = machine
        self._base = address
        self._length = length
        self._offset = offset
        self._options = options
        self._mapped = True
        #: Whether writes are allowed: mapped and not ``kIOMapReadOnly`` (``unmap``
        #: and ``free`` clear it with ``_mapped``).
        self._writable = not options & kIOMapReadOnly
        io_space = memory.in_io_space()
        self._read = machine.io_read if io_space else machine.read
        self._write = machine.io_write if io_space else machine.write

    def __repr__(self) -> str:
        return f"<IOMemoryMap {self._base:#x}+{self._length:#x} of {self._memory!r}>"

    def getVirtualAddress(self) -> int:
        return self._base

    def getAddress(self) -> int:
        return self._base

    def getPhysicalAddress(self) -> int:
        return self._base

    def getLength(self) -> int:
        return self._length

    def getSize(self) -> int:
        return self._length

    def getMapOptions(self) -> int:
        return self._options

    def getMemoryDescriptor(self) -> IOMemoryDescriptor:
        return self._memory

    def getPhysicalSegment(
        self, offset: int, length: ByteCountRef | None = None, options: int = 0
    ) -> int:
        """The physical address at ``offset`` into the map (0 past its end)."""
        if offset < 0 or offset >= self._length:
            if length is not None:
                length.value = 0
            return 0
        address = self._memory.getPhysicalSegment(self._offset + offset, length, options)
        if length is not None:
            length.value = min(length.value, self._length - offset)
        return address

    def unmap(self) -> int:
        """Remove the mapping: later accesses through it are errors."""
        self._mapped = self._writable = False
        return kIOReturnSuccess

    def is_mapped(self) -> bool:
        return self._mapped

    # -- register accessors -------------------------------------------------------------------
    #
    # Every driver register access comes through here: each accessor checks the
    # access inline (mapped, inside, naturally aligned; writable for writes) and makes
    # one call, to the machine.  ``_check`` and ``_check_write`` name what is wrong.

    def _check(self, offset: int, size: int) -> int:
        if not self._mapped:
            raise DeviceMemoryAccessError(
                f"{size * 8}-bit access at offset {offset:#x} of the map at {self._base:#x}: "
                "the map was unmapped"
            )
        if offset < 0 or offset + size > self._length or offset % size:
            raise DeviceMemoryAccessError(
                f"{size * 8}-bit access at offset {offset:#x} of a {self._length:#x}-byte map "
                f"at {self._base:#x}: outside the map or misaligned"
            )
        return self._base + offset

    def _check_write(self, offset: int, size: int) -> int:
        address = self._check(offset, size)
        if self._options & kIOMapReadOnly:
            raise DeviceMemoryAccessError(
                f"{size * 8}-bit write at offset {offset:#x} of the map at {self._base:#x}: "
                "the map is read-only (kIOMapReadOnly)"
            )
        return address

    def ioRead8(self, offset: int) -> int:
        if self._mapped and 0 <= offset < self._length:
            return self._read(self._base + offset, 1)
        return self._read(self._check(offset, 1), 1)

    def ioRead16(self, offset: int) -> int:
        if self._mapped and 0 <= offset <= self._length - 2 and not offset & 1:
            return self._read(self._base + offset, 2)
        return self._read(self._check(offset, 2), 2)

    def ioRead32(self, offset: int) -> int:
        if self._mapped and 0 <= offset <= self._length - 4 and not offset & 3:
            return self._read(self._base + offset, 4)
        return self._read(self._check(offset, 4), 4)

    def ioRead64(self, offset: int) -> int:
        if self._mapped and 0 <= offset <= self._length - 8 and not offset & 7:
            return self._read(self._base + offset, 8)
        return self._read(self._check(offset, 8), 8)

    def ioWrite8(self, offset: int, value: int) -> None:
        if self._writable and 0 <= offset < self._length:
            self._write(self._base + offset, 1, value & 0xFF)
        else:
            self._write(self._check_write(offset, 1), 1, value & 0xFF)

    def ioWrite16(self, offset: int, value: int) -> None:
        if self._writable and 0 <= offset <= self._length - 2 and not offset & 1:
            self._write(self._base + offset, 2, value & 0xFFFF)
        else:
            self._write(self._check_write(offset, 2), 2, value & 0xFFFF)

    def ioWrite32(self, offset: int, value: int) -> None:
        if self._writable and 0 <= offset <= self._length - 4 and not offset & 3:
            self._write(self._base + offset, 4, value & 0xFFFF_FFFF)
        else:
            self._write(self._check_write(offset, 4), 4, value & 0xFFFF_FFFF)

    def ioWrite64(self, offset: int, value: int) -> None:
        mask = 0xFFFF_FFFF_FFFF_FFFF
        if self._writable and 0 <= offset <= self._length - 8 and not offset & 7:
            self._write(self._base + offset, 8, value & mask)
        else:
            self._write(self._check_write(offset, 8), 8, value & mask)

    def free(self) -> None:
        self._mapped = self._writable = False
        self._memory.release()
        super().free()
