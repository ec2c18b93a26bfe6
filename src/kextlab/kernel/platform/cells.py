"""Reading Open Firmware cells out of device-tree properties.

A device-tree property copied into the registry is an ``OSData`` of the firmware's
bytes (``kextlab.kernel.platform.device_tree``): numbers are 32-bit *cells*,
big-endian, as IEEE 1275 stores them.  xnu reads them with ``GetUInt32`` and raw
``UInt32 *`` pointers (``iokit/Kernel/IODeviceTreeSupport.cpp``); kextlab's device
tree keeps Open Firmware's byte order on every architecture, so these helpers read
big-endian (what a PowerPC Mac's host order gives xnu for free).

Pure functions: safe from any context, never blocking.
"""

from __future__ import annotations

from kextlab.kernel.libkern.values import OSData
from kextlab.kernel.registry.entry import IORegistryEntry

CELL_SIZE = 4


def cells_of(data: bytes) -> list[int]:
    """``data`` as 32-bit big-endian cells (a trailing partial cell is ignored)."""
    return [
        int.from_bytes(data[start : start + CELL_SIZE], "big")
        for start in range(0, len(data) - CELL_SIZE + 1, CELL_SIZE)
    ]


def cells_to_bytes(cells: list[int]) -> bytes:
    """Cells back into the device tree's bytes."""
    return b"".join((cell & 0xFFFF_FFFF).to_bytes(CELL_SIZE, "big") for cell in cells)


def property_cells(entry: IORegistryEntry, key: str) -> list[int] | None:
    """Property ``key`` of ``entry`` as cells, or None when it is not data."""
    value = entry.getProperty(key)
    if not isinstance(value, OSData):
        return None
    return cells_of(value.getBytesNoCopy())


def property_uint32(entry: IORegistryEntry, key: str) -> int | None:
    """xnu's ``GetUInt32``: the property when it is exactly one cell, else None."""
    value = entry.getProperty(key)
    if not isinstance(value, OSData) or value.getLength() != CELL_SIZE:
        return None
    return int.from_bytes(value.getBytesNoCopy(), "big")
