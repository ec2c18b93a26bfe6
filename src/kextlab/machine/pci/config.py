"""A function's 256-byte configuration space with per-bit access masks.

Every byte carries three things, as in QEMU's ``PCIDevice`` (``config``, ``wmask``,
``w1cmask``): its value, which of its bits software may write, and which of its bits
are *write-1-to-clear* (status error bits: writing 1 clears them, writing 0 leaves
them).  Bits in neither mask are read-only.  A write therefore never needs special
cases::

    new = (old & ~writable) | (value & writable)
    new &= ~(value & write_1_to_clear)

BAR sizing falls out of the masks: a BAR's writable bits are its address bits above
its size, so writing all ones reads back ``~(size - 1)`` with the read-only type
bits intact, exactly as hardware answers.

Accesses are little-endian, 1, 2 or 4 bytes, naturally aligned (PCI config cycles
never cross a dword); the callers (``PCIFunction``) check that.  This module never
raises for guest behaviour.

``version`` counts the changes: every write and every device-side store through
these methods moves it on, so a value derived from configuration space can be kept
with the version it was computed at and trusted while the version is the same.  The
one store that does not count is ``PCIFunction.set_irq`` flipping Status.Interrupt
Status in ``data`` directly: a live status bit, which nothing derives values from,
that changes with every interrupt.
"""

from __future__ import annotations

from kextlab.machine.pci.registers import CONFIG_SPACE_SIZE


class ConfigSpace:
    """Configuration registers: values plus writable and write-1-to-clear masks."""

    __slots__ = ("data", "version", "writable", "write_1_to_clear")

    def __init__(self, size: int = CONFIG_SPACE_SIZE) -> None:
        self.data = bytearray(size)
        self.writable = bytearray(size)
        self.write_1_to_clear = bytearray(size)
        self.version = 0

    def __len__(self) -> int:
        return len(self.data)

    # -- guest-visible access ----------------------------------------------------------

    def read(self, offset: int, size: int) -> int:
        return int.from_bytes(self.data[offset : offset + size], "little")

    def write(self, offset: int, size: int, value: int) -> None:
        self.version += 1
        data = self.data
        writable = self.writable
        clear = self.write_1_to_clear
        for index in range(size):
            position = offset + index
            byte = (value >> (8 * index)) & 0xFF
            old = data[position]
            new = (old & ~writable[position]) | (byte & writable[position])
            data[position] = new & ~(byte & clear[position]) & 0xFF

    # -- set-up by the device model (no masks applied) --------------------------------------

    def set(self, offset: int, size: int, value: int) -> None:
        """Set a register's value directly (device side: read-only fields, status)."""
        self.version += 1
        self.data[offset : offset + size] = value.to_bytes(size, "little")

    def get(self, offset: int, size: int) -> int:
        return int.from_bytes(self.data[offset : offset + size], "little")

    def set_writable(self, offset: int, size: int, mask: int) -> None:
        self.version += 1
        self.writable[offset : offset + size] = mask.to_bytes(size, "little")

    def set_write_1_to_clear(self, offset: int, size: int, mask: int) -> None:
        self.version += 1
        self.write_1_to_clear[offset : offset + size] = mask.to_bytes(size, "little")

    def set_bits(self, offset: int, size: int, bits: int) -> None:
        self.set(offset, size, self.get(offset, size) | bits)

    def clear_bits(self, offset: int, size: int, bits: int) -> None:
        self.set(offset, size, self.get(offset, size) & ~bits)
