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

Hot path: every register gets, at construction, one precomputed entry for the
access a driver makes (its own offset, its full width): a dictionary lookup and a
tuple then decide the access, with the access rule folded into two masks.  Every
other access (narrower, misaligned, unassigned, against the access rule) takes the
general path, which checks and reports as the table above says.  Device models may
read ``values`` (register values by name) directly on their own hot paths; stores
go through ``registers[name] = value``, which keeps a value within its register's
width, unless the value is known to fit.
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
        #: Register values by name (device-side reads may use it directly).
        self.values: dict[str, int] = {}
        #: Full-width accesses at a register's own offset: offset -> (size, name, on_read).
        self._fast_reads: dict[int, tuple[int, str, Callable[[], int] | None]] = {}
        #: The same for writes: offset -> (size, name, write-1-to-clear, keep, take,
        #: on_write); a store is ``old & ~value`` (W1C) or ``old & keep | value & take``.
        self._fast_writes: dict[
            int, tuple[int, str, bool, int, int, Callable[[int, int], None] | None]
        ] = {}
        for register in registers:
            for byte in range(register.offset, register.offset + register.size):
                if byte in self._by_offset:
                    raise ValueError(f"{owner}: register {register.name} overlaps another")
                self._by_offset[byte] = register
            self._by_name[register.name] = register
            self.values[register.name] = register.reset
            self._compile(register)

    def _compile(self, register: Register) -> None:
        """The precomputed full-width accesses of ``register`` (see the module docstring)."""
        access = register.access
        width = ALL_ONES[register.size]
        if access is not Access.WO:
            self._fast_reads[register.offset] = (register.size, register.name, register.on_read)
        if access is Access.RO:
            return
        if access is Access.RW and register.writable is not None:
            keep, take = width & ~register.writable, register.writable & width
        else:
            keep, take = 0, width
        self._fast_writes[register.offset] = (
            register.size,
            register.name,
            access is Access.W1C,
            keep,
            take,
            register.on_write,
        )

    def reset(self) -> None:
        for register in self._by_name.values():
            self.values[register.name] = register.reset

    def __getitem__(self, name: str) -> int:
        return self.values[name]

    def __setitem__(self, name: str, value: int) -> None:
        """Device-side store (no access rules): status bits, counters."""
        register = self._by_name[name]
        self.values[name] = value & ALL_ONES[register.size]

    def register(self, name: str) -> Register:
        return self._by_name[name]

    def set_on_write(self, name: str, on_write: Callable[[int, int], None] | None) -> None:
        """Replace the ``on_write`` hook of register ``name`` (a device model that
        creates its back end after its register table, as at realize)."""
        register = self._by_name[name]
        register.on_write = on_write
        self._compile(register)

    def region(self, name: str, access_sizes: Iterable[int] = (1, 2, 4, 8)) -> MmioRegion:
        return MmioRegion(
            name, self.size, self.read, self.write, access_sizes=access_sizes, owner=self.owner
        )

    # -- bus side ---------------------------------------------------------------------------

    def read(self, offset: int, size: int) -> int:
        fast = self._fast_reads.get(offset)
        if fast is not None and fast[0] == size:
            _, name, on_read = fast
            if on_read is None:
                return self.values[name] & ALL_ONES[size]
            return on_read() & ALL_ONES[size]
        return self._read(offset, size)

    def _read(self, offset: int, size: int) -> int:
        """Any read the precomputed entries do not cover: every check, every report."""
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
        value = register.on_read() if register.on_read is not None else self.values[register.name]
        return (value >> (8 * shift)) & ALL_ONES[size]

    def write(self, offset: int, size: int, value: int) -> None:
        fast = self._fast_writes.get(offset)
        if fast is not None and fast[0] == size:
            _, name, write_1_to_clear, keep, take, on_write = fast
            values = self.values
            old = values[name]
            new = old & ~value if write_1_to_clear else (old & keep) | (value & take)
            values[name] = new
            if on_write is not None:
                on_write(old, new)
            return
        self._write(offset, size, value)

    def _write(self, offset: int, size: int, value: int) -> None:
        """Any write the precomputed entries do not cover: every check, every report."""
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
        old = self.values[register.name]
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
        self.values[register.name] = new
        if register.on_write is not None:
            register.on_write(old, new if access is not Access.WO else value)

    def _write_narrow(self, register: Register, shift: int, size: int, value: int) -> None:
        if shift % size:
            self._report(f"misaligned {size}-byte write into {register.name}")
            return
        old = self.values[register.name]
        lane = ALL_ONES[size] << (8 * shift)
        merged = (old & ~lane) | (value << (8 * shift) & lane)
        if register.writable is not None:
            merged = (old & ~register.writable) | (merged & register.writable)
        self.values[register.name] = merged
        if register.on_write is not None:
            register.on_write(old, merged)
