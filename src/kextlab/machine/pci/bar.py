"""Base Address Registers and expansion ROMs: what a function asks the firmware for.

A device model declares each BAR once (``BarSpec``): its index, space, size and the
register block it decodes.  From that the function derives the BAR's config-space
bits (the read-only type bits and the writable address mask that makes sizing work)
and, at run time, whether and where the BAR currently decodes.

Decoding rules (PCI 3.0 §6.2.5), as the host bridge applies them:

* a memory BAR decodes when Command.Memory is set, an I/O BAR when Command.IO is;
* an expansion ROM decodes when Command.Memory *and* the ROM's own enable bit are set;
* a BAR programmed to address 0 is treated as unassigned (QEMU does the same; no
  firmware hands out address 0);
* a 64-bit BAR takes two registers, the upper one holding address bits 63:32.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from functools import cached_property

from kextlab.machine.address_space import MmioRegion
from kextlab.machine.pci import registers as r


class BarKind(enum.Enum):
    IO = "io"
    MEMORY32 = "mem32"
    MEMORY64 = "mem64"


@dataclass(frozen=True)
class BarSpec:
    """One BAR of a function: ``index`` 0-5, its space, size and register block."""

    index: int
    kind: BarKind
    size: int
    region: MmioRegion
    prefetchable: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.index <= 5:
            raise ValueError(f"BAR index must be 0-5, not {self.index}")
        if self.kind is BarKind.MEMORY64 and self.index == 5:
            raise ValueError("a 64-bit BAR needs two registers and cannot be BAR 5")
        minimum = 4 if self.kind is BarKind.IO else 16
        if self.size < minimum or self.size & (self.size - 1):
            raise ValueError(
                f"BAR {self.index}: size {self.size:#x} must be a power of two of at least "
                f"{minimum} bytes"
            )
        if self.kind is BarKind.IO and self.size > 256:
            raise ValueError(f"BAR {self.index}: I/O BARs are at most 256 bytes")
        if self.kind is BarKind.IO and self.prefetchable:
            raise ValueError(f"BAR {self.index}: I/O BARs cannot be prefetchable")
        if self.region.size > self.size:
            raise ValueError(
                f"BAR {self.index}: region {self.region.name} ({self.region.size:#x} bytes) "
                f"is larger than the BAR ({self.size:#x} bytes)"
            )

    @cached_property  # asked on every access through the BAR's function
    def offset(self) -> int:
        """The config-space offset of the BAR's (first) register."""
        return r.BASE_ADDRESS_0 + 4 * self.index

    @cached_property  # asked on every access through the BAR's function
    def is_io(self) -> bool:
        return self.kind is BarKind.IO

    @cached_property  # asked on every access through the BAR's function
    def is_64bit(self) -> bool:
        return self.kind is BarKind.MEMORY64

    @property
    def type_bits(self) -> int:
        """The read-only low bits of the BAR register."""
        if self.kind is BarKind.IO:
            return r.BAR_SPACE_IO
        bits = r.BAR_MEM_TYPE_64 if self.kind is BarKind.MEMORY64 else r.BAR_MEM_TYPE_32
        return bits | (r.BAR_MEM_PREFETCH if self.prefetchable else 0)

    @property
    def address_mask(self) -> int:
        """The writable bits of the (64-bit) BAR value: address bits above the size."""
        width = 64 if self.kind is BarKind.MEMORY64 else 32
        return ((1 << width) - 1) & ~(self.size - 1)


@dataclass(frozen=True)
class ExpansionRom:
    """An expansion ROM image, decoded through the ROM BAR (0x30).

    ``size`` is the decoded size (a power of two, at least 2 KiB); ``image`` the
    bytes, padded with 0xFF up to ``size``.
    """

    image: bytes
    size: int

    def __post_init__(self) -> None:
        if self.size < 0x800 or self.size & (self.size - 1):
            raise ValueError(f"ROM size {self.size:#x} must be a power of two of at least 2 KiB")
        if len(self.image) > self.size:
            raise ValueError(f"ROM image ({len(self.image)} bytes) exceeds the ROM ({self.size})")

    @property
    def address_mask(self) -> int:
        return r.ROM_ADDRESS_MASK & ~(self.size - 1) & 0xFFFF_FFFF

    def region(self, name: str, owner: str) -> MmioRegion:
        padded = self.image + b"\xff" * (self.size - len(self.image))

        def read(offset: int, size: int) -> int:
            return int.from_bytes(padded[offset : offset + size], "little")

        def write(offset: int, size: int, value: int) -> None:
            pass  # ROM: writes are ignored, as by the chip

        return MmioRegion(name, self.size, read, write, access_sizes=(1, 2, 4), owner=owner)


@dataclass(frozen=True)
class DecodedRange:
    """A range a function decodes right now."""

    kind: BarKind
    base: int
    size: int
    region: MmioRegion
    prefetchable: bool
    register: int  # the config offset of the BAR (0x30/0x38 for the ROM)
