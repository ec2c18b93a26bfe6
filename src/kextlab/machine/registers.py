"""Register files: a device's registers declared as a table, served as an ``MmioRegion``.

Device models describe their registers the way a datasheet does, one row each:
offset, width, access type, reset value, and optional hooks::

    Register("INTERRUPT_STATUS", 0x10, access=Access.W1C)
    Register("DOORBELL", 0x1C, access=Access.WO, on_write=self._ring_doorbell)

and ``RegisterFile`` does the bus side: decoding the offset, applying the access
type, and reporting misuse on the guest-error channel instead of raising:

========  ===========================================================  ================
access    write                                                        read
========  ===========================================================  ================
``RW``    stores the bits in ``writable`` (all bits by default)        the value
``RO``    guest error, ignored                                         the value
``WO``    stores the value and calls ``on_write``                      guest error, 0
``W1C``   clears the bits written as 1                                 the value
========  ===========================================================  ================

A read may be narrower than the register (a byte of a 32-bit register); a write must
cover the whole register, unless the register says ``narrow_writes``, in which case an
aligned narrower write replaces just the bytes it covers (a read-write register only).
An offset with no register reads as all ones and logs a guest error.  ``on_read``
computes a value at read time (counters, live status); ``on_write(old, new)`` runs
after the store.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from kextlab.machine.address_space import ALL_ONES, MmioRegion


class Access(enum.Enum):
    RW = "read-write"
    RO = "read-only"
    WO = "write-only"
    W1C = "write-1-to-clear"


@dataclass
class Register:
    """One row of a register table."""

    name: str
    offset: int
    size: int = 4
    access: Access = Access.RW
    reset: int = 0
    writable: int | None = None  # RW: bits software may change (default: all)
    on_read: Callable[[], int] | None = None
    on_write: Callable[[int, int], None] | None = None
    narrow_writes: bool = False  # RW only: aligned writes narrower than the register

    def __post_init__(self) -> None:
        if self.size not in (1, 2, 4, 8) or self.offset % self.size:
            raise ValueError(f"register {self.name}: bad size {self.size} or offset {self.offset}")


class RegisterFile:
    """The registers of one block (a BAR), with values and access rules."""

    def __init__(
        self,
        owner: str,
        size: int,
        registers: Iterable[Register],
        *,
        report: Callable[[str], None],
    ) -> None:
        self.owner = owner
        self.size = size
        self._report = report
        self._by_offset: dict[int, Register] = {}
        self._by_name: dict[str, Register] = {}
        self._values: dict[str, int] = {}
        for register in registers:
            for byte in range(register.offset, register.offset + register.size):
                if byte in self._by_offset:
                    raise ValueError(f"{owner}: register {register.name} overlaps another")
                self._by_offset[byte] = register
            self._by_name[register.name] = register
            self._values[register.name] = register.reset

    def reset(self) -> None:
        for register in self._by_name.values():
            self._values[register.name] = register.reset

    def __getitem__(self, name: str) -> int:
        return self._values[name]

    def __setitem__(self, name: str, value: int) -> None:
        """Device-side store (no access rules): status bits, counters."""
        register = self._by_name[name]
        self._values[name] = value & ALL_ONES[register.size]

    def register(self, name: str) -> Register:
        return self._by_name[name]

    def region(self, name: str, access_sizes: Iterable[int] = (1, 2, 4, 8)) -> MmioRegion:
        return MmioRegion(
            name, self.size, self.read, self.write, access_sizes=access_sizes, owner=self.owner
        )

    # -- bus side ---------------------------------------------------------------------------

    def read(self, offset: int, size: int) -> int:
        register = self._by_offset.get(offset)
        if register is None:
            self._report(f"read of {size} bytes at unassigned register offset {offset:#x}")
            return ALL_ONES[size]
        shift = offset - register.offset
        if shift + size > register.size:
            self._report(f"read of {size} bytes at {offset:#x} crosses the end of {register.name}")
            return ALL_ONES[size]
        if register.access is Access.WO:
            self._report(f"read of write-only register {register.name}")
            return 0
        value = register.on_read() if register.on_read is not None else self._values[register.name]
        return (value >> (8 * shift)) & ALL_ONES[size]

    def write(self, offset: int, size: int, value: int) -> None:
        register = self._by_offset.get(offset)
        if register is None:
            self._report(f"write of {size} bytes at unassigned register offset {offset:#x}")
            return
        if register.narrow_writes and register.access is Access.RW and size < register.size:
            self._write_narrow(register, offset - register.offset, size, value)
            return
        if offset != register.offset or size != register.size:
            self._report(
                f"{size}-byte write at {offset:#x}: {register.name} takes "
                f"{register.size}-byte writes only"
            )
            return
        old = self._values[register.name]
        access = register.access
        if access is Access.RO:
            self._report(f"write of {value:#x} to read-only register {register.name}")
            return
        if access is Access.W1C:
            new = old & ~value
        elif access is Access.RW and register.writable is not None:
            new = (old & ~register.writable) | (value & register.writable)
        else:
            new = value
        self._values[register.name] = new
        if register.on_write is not None:
            register.on_write(old, new if access is not Access.WO else value)

    def _write_narrow(self, register: Register, shift: int, size: int, value: int) -> None:
        if shift % size:
            self._report(f"misaligned {size}-byte write into {register.name}")
            return
        old = self._values[register.name]
        lane = ALL_ONES[size] << (8 * shift)
        merged = (old & ~lane) | (value << (8 * shift) & lane)
        if register.writable is not None:
            merged = (old & ~register.writable) | (merged & register.writable)
        self._values[register.name] = merged
        if register.on_write is not None:
            register.on_write(old, merged)
