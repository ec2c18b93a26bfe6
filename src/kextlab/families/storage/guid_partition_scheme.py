"""IOGUIDPartitionScheme: GUID partition tables (GPT).

Mirrors ``IOGUIDPartitionScheme.h``/``.cpp`` of IOStorageFamily, and the GPT layout
of the UEFI specification (§5.3: ``gpt_hdr``, ``gpt_ent``).  Matched on whole media
(``IOPropertyMatch = {"Whole" = Yes}``, score 4000: before FDisk, whose map a GPT
disk also carries as its protective MBR); ``Content Mask`` =
``"GUID_partition_scheme"``.

The scan, as Apple's: block 0 must be an MBR (signature 0xAA55) with exactly one
partition of type 0xEE (the protective partition); block 1 the header ("EFI PART",
a header size between 92 bytes and a block, its CRC32 over that size with the CRC
field zeroed); the entry array (at ``hdr_lba_table``, ``hdr_entries`` entries of
``hdr_entsz`` bytes, at least 128 and at most 65535 each, at most 65535 of them) must
match ``hdr_crc_table``.  Used entries (a type GUID that is not null) become
partitions numbered from 1 by their slot: ``Content Hint`` is the type GUID (upper
case, as ``uuid_unparse`` writes it), ``UUID`` the entry's GUID, ``GPT Attributes``
its attribute bits, the name its UTF-16 name (else ``"Untitled <n>"``).  A placeholder
entry (first block = last block) and one that leaves the media are skipped.  The
scheme publishes the disk GUID as its own ``UUID``.  As in Apple's scheme, the backup
header is not read.

GUIDs on disk are mixed-endian (the first three fields little-endian), which
``uuid.UUID(bytes_le=...)`` undoes as ``uuid_unswap`` does.

Threading rules: as ``IOPartitionScheme``: the scan runs on a config thread and blocks.
"""

from __future__ import annotations

import struct
import uuid
import zlib
from typing import TYPE_CHECKING, Final

from kextlab.families.storage.fdisk_partition_scheme import (
    DISK_NPART,
    DISK_SIGNATURE,
    FDISK_PART,
    FDISK_PARTS_OFFSET,
    FDISK_SIGNATURE,
)
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
    "GPT_ENT",
    "GPT_HDR",
    "GPT_HDR_SIG",
    "IOGUIDPartitionScheme",
    "kIOGUIDPartitionSchemeClass",
    "kIOGUIDPartitionSchemeUUIDKey",
    "kIOMediaGPTPartitionAttributesKey",
]

kIOGUIDPartitionSchemeClass: Final = "IOGUIDPartitionScheme"
kIOGUIDPartitionSchemeUUIDKey: Final = "UUID"
kIOMediaGPTPartitionAttributesKey: Final = "GPT Attributes"
GPT_HDR_SIG: Final = b"EFI PART"
GPT_HDR_REVISION: Final = 0x00010000
GPT_ENT_ATTR_PLATFORM: Final = 0x00000001

#: ``struct gpt_hdr`` up to ``padding``: signature, revision, header size, header
#: CRC, reserved, this LBA, alternate LBA, first and last usable LBA, disk GUID,
#: entries LBA, entry count, entry size, entries CRC.
GPT_HDR: Final = struct.Struct("<8sIIII QQQQ 16s QIII")
#: ``struct gpt_ent``: type GUID, GUID, first LBA, last LBA, attributes, UTF-16LE name.
GPT_ENT: Final = struct.Struct("<16s16sQQQ72s")
_HDR_CRC_OFFSET: Final = 16
_NULL_GUID: Final = bytes(16)


def guid_string(raw: bytes) -> str:
    """A GUID as stored on disk (mixed-endian) in ``uuid_unparse``'s upper case."""
    return str(uuid.UUID(bytes_le=raw)).upper()


class IOGUIDPartitionScheme(IOPartitionScheme):
    """The GPT partition scheme."""

    def scan(self, score: ScoreRef) -> list[IOMedia] | None:
        media = self.getProvider()
        if media is None or not media.isFormatted():
            return None
        block = media.getPreferredBlockSize()
        if block % 512:
            return None
        if not self.open(self, 0, kIOStorageAccessReader):
            return None
        try:
            return self._scan(media, block)
        finally:
            self.close(self)

    def _scan(self, media: IOMedia, block: int) -> list[IOMedia] | None:
        buffer = self.read_map(0, round_up(512, block))
        if buffer is None:
            return None
        try:
            data = bytes(buffer.getBytesNoCopy())
        finally:
            buffer.release()
        if struct.unpack_from("<H", data, FDISK_SIGNATURE)[0] != DISK_SIGNATURE:
            return None
        protective = 0
        for index in range(DISK_NPART):
            systid = FDISK_PART.unpack_from(data, FDISK_PARTS_OFFSET + index * FDISK_PART.size)[4]
            if systid == 0xEE:
                if protective:
                    return None
                protective = index + 1
        if not protective:
            return None
        buffer = self.read_map(block, round_up(512, block))
        if buffer is None:
            return None
        try:
            header = bytearray(buffer.getBytesNoCopy()[:block])
        finally:
            buffer.release()
        fields = GPT_HDR.unpack_from(header)
        signature, _, header_size, header_crc = fields[:4]
        disk_guid, table_lba, count, entry_size, table_crc = fields[9:]
        if signature != GPT_HDR_SIG or not GPT_HDR.size <= header_size <= block:
            return None
        struct.pack_into("<I", header, _HDR_CRC_OFFSET, 0)
        if zlib.crc32(header[:header_size]) != header_crc:
            return None
        if not GPT_ENT.size <= entry_size <= 0xFFFF or count > 0xFFFF:
            return None
        self.setProperty(kIOGUIDPartitionSchemeUUIDKey, guid_string(disk_guid))
        table_size = round_up(count * entry_size, block)
        if table_size == 0:
            return None
        buffer = self.read_map(table_lba * block, table_size)
        if buffer is None:
            return None
        try:
            table = bytes(buffer.getBytesNoCopy()[: count * entry_size])
        finally:
            buffer.release()
        if zlib.crc32(table) != table_crc:
            return None
        partitions: list[IOMedia] = []
        for partition_id in range(1, count + 1):
            entry = GPT_ENT.unpack_from(table, (partition_id - 1) * entry_size)
            if entry[0] == _NULL_GUID:
                continue
            partition = self._partition(media, block, entry, partition_id)
            if partition is not None:
                partitions.append(partition)
        return partitions

    def _partition(
        self,
        media: IOMedia,
        block: int,
        entry: tuple[bytes, bytes, int, int, int, bytes],
        partition_id: int,
    ) -> IOMedia | None:
        """``isPartitionInvalid`` then ``instantiateMediaObject``."""
        type_guid, guid, first, last, attributes, raw_name = entry
        if first == last:
            return None  # a placeholder
        base = first * block
        size = (last - first + 1) * block
        if base + size > media.getSize():
            return None
        name = raw_name.decode("utf-16-le", errors="replace").split("\0", 1)[0]
        partition = new_partition(self, base, size, guid_string(type_guid), name, partition_id)
        if partition is not None:
            partition.setProperty("UUID", guid_string(guid))
            partition.setProperty(kIOMediaGPTPartitionAttributesKey, attributes, 64)
        return partition
