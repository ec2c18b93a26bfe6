"""IOFDiskPartitionScheme: PC (MBR, "fdisk") partition maps, with extended partitions.

Mirrors ``IOFDiskPartitionScheme.h``/``.cpp`` of IOStorageFamily.  Matched on whole
media (``{"Whole" = Yes}``, score 3000); ``Content Mask`` =
``"FDisk_partition_scheme"``; the personality's ``Content Table`` maps partition
types to content hints (``"0xAF"`` -> ``"Apple_HFS"``); a type not in it is hinted
as ``"0x%02X"``.

The map (``disk_blk0``): 446 bytes of boot code, four 16-byte entries (boot
indicator, CHS start, type, CHS end, first block and block count, little-endian,
relative to the map's own block) and the signature 0xAA55.  The scan, as Apple's:
primary entries are partitions 1-4 by slot; the first extended entry (type 0x05,
0x0F or 0x85) leads to a chain of extended boot records, each holding one logical
partition (numbered from 5 on) and a link to the next, relative to the start of the
extended partition; a boot indicator other than 0x00/0x80 rejects the map; an entry
whose start is its map's block or beyond the end of the media is skipped; a
partition running past the end is clipped.  A chain of extended boot records
that loops back on itself ends the scan (Apple's would go round for ever).

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
from kextlab.kernel.libkern.collections import OSDictionary
from kextlab.kernel.libkern.values import OSString

if TYPE_CHECKING:
    from kextlab.families.storage.media import IOMedia
    from kextlab.kernel.service.service import ScoreRef

__all__ = [
    "DISK_BOOTSZ",
    "DISK_NPART",
    "DISK_SIGNATURE",
    "FDISK_PART",
    "IOFDiskPartitionScheme",
    "kIOFDiskPartitionSchemeClass",
]

kIOFDiskPartitionSchemeClass: Final = "IOFDiskPartitionScheme"
kIOFDiskPartitionSchemeContentTable: Final = "Content Table"
DISK_BOOTSZ: Final = 446
DISK_NPART: Final = 4
DISK_SIGNATURE: Final = 0xAA55
#: ``struct fdisk_part``: bootid, beghead, begsect, begcyl, systid, endhead, endsect,
#: endcyl, relsect, numsect.
FDISK_PART: Final = struct.Struct("<BBBBBBBBII")
FDISK_PARTS_OFFSET: Final = DISK_BOOTSZ
FDISK_SIGNATURE: Final = DISK_BOOTSZ + DISK_NPART * FDISK_PART.size
_EXTENDED_TYPES: Final = (0x05, 0x0F, 0x85)


class IOFDiskPartitionScheme(IOPartitionScheme):
    """The MBR partition scheme."""

    def scan(self, score: ScoreRef) -> list[IOMedia] | None:
        media = self.getProvider()
        if media is None or not media.isFormatted():
            return None
        block = media.getPreferredBlockSize()
        if block % 512:
            return None
        if not self.open(self, 0, kIOStorageAccessReader):
            return None
        partitions: list[IOMedia] = []
        try:
            if self._scan(media, block, partitions):
                return partitions
        finally:
            self.close(self)
        for partition in partitions:
            partition.release()
        return None

    def _scan(self, media: IOMedia, block: int, partitions: list[IOMedia]) -> bool:
        map_block = extended_start = 0
        partition_id = 0
        seen: set[int] = set()
        while True:
            seen.add(map_block)
            buffer = self.read_map(map_block * block, round_up(512, block))
            if buffer is None:
                return False
            try:
                data = bytes(buffer.getBytesNoCopy()[:512])
            finally:
                buffer.release()
            if struct.unpack_from("<H", data, FDISK_SIGNATURE)[0] != DISK_SIGNATURE:
                return False
            next_block = 0
            for index in range(DISK_NPART):
                entry = FDISK_PART.unpack_from(data, FDISK_PARTS_OFFSET + index * FDISK_PART.size)
                bootid, systid, relsect, numsect = entry[0], entry[4], entry[8], entry[9]
                if systid in _EXTENDED_TYPES:
                    if next_block == 0:
                        next_block = extended_start + relsect
                        if next_block * block >= media.getSize():
                            next_block = 0
                elif systid != 0 and numsect != 0:
                    partition_id = index + 1 if map_block == 0 else partition_id + 1
                    if bootid & 0x7F:
                        return False  # corrupt
                    partition = self._partition(
                        media, block, systid, relsect + map_block, numsect, partition_id, map_block
                    )
                    if partition is not None:
                        partitions.append(partition)
            if map_block == 0:
                partition_id = DISK_NPART
                extended_start = next_block
            if next_block == 0 or next_block in seen:
                return True
            map_block = next_block

    def _partition(
        self,
        media: IOMedia,
        block: int,
        systid: int,
        first: int,
        count: int,
        partition_id: int,
        map_block: int,
    ) -> IOMedia | None:
        """``isPartitionInvalid`` then ``instantiateMediaObject``."""
        base, size = first * block, count * block
        if base == map_block * block or base >= media.getSize():
            return None
        size = min(size, media.getSize() - base)
        hint = f"0x{systid:02X}"
        table = self.getProperty(kIOFDiskPartitionSchemeContentTable)
        if isinstance(table, OSDictionary):
            named = table.getObject(hint)
            if isinstance(named, OSString):
                hint = named.getCStringNoCopy()
        return new_partition(self, base, size, hint, "", partition_id)
