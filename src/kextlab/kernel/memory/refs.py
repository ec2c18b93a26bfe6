"""Out-parameters: the boxes that stand for C's pointer arguments.

Apple's memory API returns second results through pointers: ``getPhysicalSegment``
fills an ``IOByteCount *length``, ``IOMallocContiguous`` an ``IOPhysicalAddress *``,
``genIOVMSegments`` reads *and* advances a ``UInt64 *offset`` and a
``UInt32 *numSegments``.  Python has no pointers, so a caller passes a small mutable
box and reads ``.value`` afterwards, in the house style of ``ScoreRef``
(``kernel/service/service.py``)::

    length = ByteCountRef()
    address = memory.getPhysicalSegment(0, length)
    offset, count = UInt64Ref(0), UInt32Ref(len(segments))
    command.gen64IOVMSegments(offset, segments, count)

The storage family's device API answers through ``BoolRef`` (``bool *``) and
``UInt64Ref`` (``reportBlockSize``, ``reportMaxValidBlock``).

Passing None where Apple accepts NULL means "not interested".

Threading rules: plain values.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ByteCountRef:
    """An ``IOByteCount *`` (a segment length, a byte count)."""

    value: int = 0


@dataclass
class PhysicalAddressRef:
    """An ``IOPhysicalAddress *`` (``IOMallocContiguous``'s physical address)."""

    value: int = 0


@dataclass
class UInt64Ref:
    """A ``UInt64 *`` (``genIOVMSegments``' offset, ``getPreparedOffsetAndLength``)."""

    value: int = 0


@dataclass
class UInt32Ref:
    """A ``UInt32 *`` (``genIOVMSegments``' segment count: room in, produced out)."""

    value: int = 0


@dataclass
class BoolRef:
    """A ``bool *`` (``IOBlockStorageDevice::reportRemovability`` and its siblings)."""

    value: bool = False
