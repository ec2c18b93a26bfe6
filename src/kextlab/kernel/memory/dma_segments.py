"""DMA segments and the output functions that write them where a driver wants them.

Mirrors the segment half of ``IODMACommand.h``/``IODMACommand.cpp`` (xnu):
``Segment32`` and ``Segment64`` (an I/O bus address and a length, ``fIOVMAddr`` and
``fLength``) and the nine-ish "SegmentFunction"s that turn each generated
``Segment64`` into an entry of the caller's scatter/gather list.  ``IODMACommand``
exposes them as its static members (``IODMACommand.OutputHost64``...).

* ``OutputHost32``/``OutputHost64`` fill a Python ``list`` of ``Segment32``/
  ``Segment64`` objects: entry ``index`` is updated in place when it is already a
  segment of that width (a driver may pre-allocate ``[Segment64() for _ in ...]``),
  replaced otherwise, and appended when ``index`` is the list's length.
* ``OutputBig32``/``OutputLittle32``/``OutputBig64``/``OutputLittle64`` write raw
  entries (address then length, 8 or 16 bytes each) into a writable buffer (a
  ``bytearray`` or a ``memoryview``, such as a buffer descriptor's
  ``getBytesNoCopy()``) in that byte order, so a driver can build its hardware's
  scatter/gather table directly in DMA memory.

The 32-bit functions keep the low 32 bits of address and length, as xnu's casts do
(``IODMACommand`` never hands them a segment above 4 GiB: choosing one sets the
address width to 32 bits).  A segment function returns True when it stored the
segment; ``IODMACommand`` turns False into ``kIOReturnMessageTooLarge``.

Threading rules: plain functions; any context.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, MutableSequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from kextlab.kernel.memory.dma_command import IODMACommand

_MASK32: Final = 0xFFFF_FFFF
_MASK64: Final = 0xFFFF_FFFF_FFFF_FFFF
_BIG32: Final = struct.Struct(">II")
_LITTLE32: Final = struct.Struct("<II")
_BIG64: Final = struct.Struct(">QQ")
_LITTLE64: Final = struct.Struct("<QQ")


@dataclass(slots=True)
class Segment32:
    """A 32-bit I/O bus address/length pair."""

    fIOVMAddr: int = 0
    fLength: int = 0


@dataclass(slots=True)
class Segment64:
    """A 64-bit I/O bus address/length pair."""

    fIOVMAddr: int = 0
    fLength: int = 0


#: ``bool (*SegmentFunction)(IODMACommand *target, Segment64 segment, void *segments,
#: UInt32 segmentIndex)``.
SegmentFunction = Callable[["IODMACommand", Segment64, Any, int], bool]


def _store(
    segments: MutableSequence[Any], index: int, kind: type[Segment32 | Segment64], segment: Any
) -> None:
    address, length = segment
    if index < len(segments):
        entry = segments[index]
        if type(entry) is kind:
            entry.fIOVMAddr = address
            entry.fLength = length
        else:
            segments[index] = kind(address, length)
    elif index == len(segments):
        segments.append(kind(address, length))
    else:
        raise IndexError(
            f"segment {index} of a list of {len(segments)}: the list must have room for it"
        )


def OutputHost32(target: IODMACommand, segment: Segment64, vSegList: Any, outSegIndex: int) -> bool:
    """Store a ``Segment32`` into a list of segments."""
    pair = (segment.fIOVMAddr & _MASK32, segment.fLength & _MASK32)
    _store(vSegList, outSegIndex, Segment32, pair)
    return True


def OutputBig32(target: IODMACommand, segment: Segment64, vSegList: Any, outSegIndex: int) -> bool:
    """Write a big-endian 32-bit entry into a buffer."""
    _BIG32.pack_into(
        vSegList, outSegIndex * _BIG32.size, segment.fIOVMAddr & _MASK32, segment.fLength & _MASK32
    )
    return True


def OutputLittle32(
    target: IODMACommand, segment: Segment64, vSegList: Any, outSegIndex: int
) -> bool:
    """Write a little-endian 32-bit entry into a buffer."""
    _LITTLE32.pack_into(
        vSegList,
        outSegIndex * _LITTLE32.size,
        segment.fIOVMAddr & _MASK32,
        segment.fLength & _MASK32,
    )
    return True


def OutputHost64(target: IODMACommand, segment: Segment64, vSegList: Any, outSegIndex: int) -> bool:
    """Store a ``Segment64`` into a list of segments."""
    pair = (segment.fIOVMAddr & _MASK64, segment.fLength & _MASK64)
    _store(vSegList, outSegIndex, Segment64, pair)
    return True


def OutputBig64(target: IODMACommand, segment: Segment64, vSegList: Any, outSegIndex: int) -> bool:
    """Write a big-endian 64-bit entry into a buffer."""
    _BIG64.pack_into(vSegList, outSegIndex * _BIG64.size, segment.fIOVMAddr, segment.fLength)
    return True


def OutputLittle64(
    target: IODMACommand, segment: Segment64, vSegList: Any, outSegIndex: int
) -> bool:
    """Write a little-endian 64-bit entry into a buffer."""
    _LITTLE64.pack_into(vSegList, outSegIndex * _LITTLE64.size, segment.fIOVMAddr, segment.fLength)
    return True


#: The output functions whose segments are 32 bits wide.
OUTPUT_32: Final[tuple[SegmentFunction, ...]] = (OutputHost32, OutputBig32, OutputLittle32)

kIODMACommandOutputHost32: Final = OutputHost32
kIODMACommandOutputBig32: Final = OutputBig32
kIODMACommandOutputLittle32: Final = OutputLittle32
kIODMACommandOutputHost64: Final = OutputHost64
kIODMACommandOutputBig64: Final = OutputBig64
kIODMACommandOutputLittle64: Final = OutputLittle64
