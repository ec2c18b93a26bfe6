"""IOApplePartitionScheme: Apple partition maps (APM).

Mirrors ``IOApplePartitionScheme.h``/``.cpp`` of IOStorageFamily (the ``Block0``
driver descriptor map and ``dpme`` entries of Inside Macintosh: Devices).  Matched on
whole media, or on read-only CD data tracks (``IOPropertyMatch`` = ``{"Whole" =
Yes}``, ``{"Content Hint" = "CD_ROM_Mode_1", "Writable" = No}``, ...), score 2000;
``Content Mask`` = ``"Apple_partition_scheme"``.

The scan, as Apple's: block 0 may hold a driver descriptor map (signature "ER"); if
so, its block size is the map's block size and the probe score rises by 2000 (more
confidence: it beats FDisk on a disk that has both).  An "old school" map with a
2048-byte driver map block but entries every 512 bytes is recognised.  Entry 1 sits
one map block in; every entry must carry the signature "PM"; the entry of type
``Apple_partition_map`` gives the number of entries (``dpme_map_entries``), and a
map without one is rejected, as is a map holding a ``CD_ROM_Mode_1`` entry.
Partitions are numbered by entry: ``Content Hint`` is the entry's type, the name its
name (else ``"Untitled <n>"``); ``Apple_Free`` entries are not published, empty
ones and ones starting past the end are skipped, ones running past the end clipped;
the map itself and entries marked valid but not writable are read-only.  All
fields are big-endian.

Threading rules: as ``IOPartitionScheme``: the scan runs on a config thread and blocks.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Final

from kextlab.families.storage.partition_scheme import (
    IOPartitionScheme,
    new_partition,
    round_up,
)
from kextlab.families.storage.storage import kIOStorageAccessReader

if TYPE_CHECKING:
    from kextlab.families.storage.media import IOMedia
    from kextlab.kernel.service.service import ScoreRef

__all__ = [
    "BLOCK0",
    "BLOCK0_SIGNATURE",
    "DPME",
    "DPME_SIGNATURE",
    "IOApplePartitionScheme",
    "kIOApplePartitionSchemeClass",
]

kIOApplePartitionSchemeClass: Final = "IOApplePartitionScheme"
BLOCK0_SIGNATURE: Final = 0x4552  # "ER"
DPME_SIGNATURE: Final = 0x504D  # "PM"
DPISTRLEN: Final = 32
DPME_FLAGS_VALID: Final = 0x00000001
DPME_FLAGS_ALLOCATED: Final = 0x00000002
DPME_FLAGS_IN_USE: Final = 0x00000004
DPME_FLAGS_BOOTABLE: Final = 0x00000008
DPME_FLAGS_READABLE: Final = 0x00000010
DPME_FLAGS_WRITABLE: Final = 0x00000020
#: ``Block0`` up to its driver descriptor count: sbSig, sbBlkSize, sbBlkCount,
#: sbDevType, sbDevId, sbDrvrData, sbDrvrCount (then 8 ``DDMap`` and 430 reserved bytes).
BLOCK0: Final = struct.Struct(">HHIHHIH")
#: ``dpme`` up to its flags: signature, reserved, map entries, physical start and
#: count, name, type, logical start and count, flags (the rest is boot code
#: information and reserved space, 512 bytes in all).
DPME: Final = struct.Struct(">HHIII32s32sIII")
DPME_SIZE: Final = 512

_MAP_TYPES: Final = (b"Apple_partition_map", b"Apple_Partition_Map", b"Apple_patition_map")
_DRIVER_TYPES: Final = (
    b"Apple_Driver",
    b"Apple_Driver43",
    b"Apple_Driver43_CD",
    b"Apple_Driver_ATA",
    b"Apple_Driver_ATAPI",
    b"Apple_Patches",
)


def _c_string(raw: bytes) -> bytes:
    return raw.split(b"\0", 1)[0]


class IOApplePartitionScheme(IOPartitionScheme):
    """The Apple partition map scheme."""

    def scan(self, score: ScoreRef) -> list[IOMedia] | None:
        media = self.getProvider()
        if media is None or not media.isFormatted():
            return None
        block = media.getPreferredBlockSize()
        if block % DPME_SIZE:
            return None
        if not self.open(self, 0, kIOStorageAccessReader):
            return None
        partitions: list[IOMedia] = []
        try:
            if self._scan(media, block, score, partitions):
                return partitions
        finally:
            self.close(self)
        for partition in partitions:
            partition.release()
        return None

    def _read(self, byteStart: int, length: int) -> bytes | None:
        buffer = self.read_map(byteStart, length)
        if buffer is None:
            return None
        try:
            return bytes(buffer.getBytesNoCopy())
        finally:
            buffer.release()

    def _scan(self, media: IOMedia, block: int, score: ScoreRef, partitions: list[IOMedia]) -> bool:
        buffer_size = round_up(DPME_SIZE, block)
        data = self._read(0, buffer_size)
        if data is None:
            return False
        read_at = 0
        map_block = block
        old_school = False
        if BLOCK0.unpack_from(data)[0] == BLOCK0_SIGNATURE:
            map_block = BLOCK0.unpack_from(data)[1]
            score.value += 2000
        if map_block == 2048:
            if buffer_size >= 2 * DPME_SIZE:
                probe = data[DPME_SIZE : 2 * DPME_SIZE]
            else:
                probe_data = self._read(DPME_SIZE, buffer_size)
                if probe_data is None:
                    return False
                probe = probe_data
            if DPME.unpack_from(probe)[0] == DPME_SIGNATURE:
                map_block = DPME_SIZE
                old_school = True
        if map_block == 0:
            return False
        count, max_count, entry_id = 1, 0, 1
        while entry_id <= count:
            partition_block = map_block
            offset = entry_id * map_block
            if offset + DPME_SIZE > read_at + buffer_size:
                read_at = offset
                fresh = self._read(read_at, buffer_size)
                if fresh is None:
                    return False
                data = fresh
            fields = DPME.unpack_from(data, offset - read_at)
            signature, _, entries, start, blocks, raw_name, raw_type, _, _, flags = fields
            if signature != DPME_SIGNATURE:
                return False
            kind = _c_string(raw_type)
            if kind in _MAP_TYPES:
                count, max_count = entries, blocks
            elif count == 1:
                count = entries
            if old_school and entry_id % 4 == 0 and kind in _DRIVER_TYPES:
                partition_block = 2048
            if kind == b"CD_ROM_Mode_1":
                return False  # corrupt
            base, size = start * partition_block, blocks * partition_block
            if size and base < media.getSize() and kind != b"Apple_Free":
                size = min(size, media.getSize() - base)
                writable = media.isWritable() and not (
                    kind in _MAP_TYPES
                    or flags & (DPME_FLAGS_WRITABLE | DPME_FLAGS_VALID) == DPME_FLAGS_VALID
                )
                name = _c_string(raw_name).decode("mac_roman")
                partition = new_partition(
                    self, base, size, kind.decode("mac_roman"), name, entry_id, writable
                )
                if partition is not None:
                    partitions.append(partition)
            entry_id += 1
        return max_count != 0
