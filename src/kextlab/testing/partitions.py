"""Byte-exact disk images with partition maps: APM, MBR (with logical partitions), GPT.

For kextlab's tests and for kext authors who need a disk with a partition map and
no ``sgdisk``, ``parted`` or ``mtools`` at hand.  Each builder returns a whole image
(``bytes`` of ``disk_size``: write it to a disk image file or a RAM disk), written
from the published formats, not from kextlab's own parsers:

* ``apple_partition_map``: Inside Macintosh: Devices, "SCSI Manager" (the driver
  descriptor map ``Block0``, signature "ER", and partition map entries ``dpme``,
  signature "PM", as ``IOApplePartitionScheme.h`` declares them), big-endian; the
  first entry describes the map itself (``Apple_partition_map``);
* ``mbr``: the PC master boot record (446 bytes of boot code, four 16-byte entries,
  0x55AA), little-endian, CHS fields filled from LBA (255 heads, 63 sectors, the
  0xFE/0xFF/0xFF "beyond 8 GB" marker past 1023 cylinders); logical partitions in
  an extended partition (type 0x0F) as a chain of extended boot records, each EBR in
  the block before its logical partition, its link relative to the extended
  partition's start;
* ``gpt``: UEFI specification §5.3: a protective MBR (one 0xEE partition over the
  disk, capped at 0xFFFFFFFF blocks), the primary header at LBA 1 and entry array at
  LBA 2, the backup entry array and header at the end of the disk, each header with
  its CRC32 and the entries' CRC32 (zlib's CRC-32 is the one UEFI specifies), GUIDs
  in their mixed-endian on-disk form, names in UTF-16LE.

Defaults make one-line calls work: ``gpt([GPTPartition(HFS_PLUS, 40, 2087)],
disk_size=2 << 20)``.

Threading rules: pure functions.
"""

from __future__ import annotations

import struct
import uuid
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

__all__ = [
    "APPLE_APFS",
    "APPLE_HFS_PLUS",
    "EFI_SYSTEM",
    "LINUX_FILESYSTEM",
    "MICROSOFT_BASIC_DATA",
    "ApplePartition",
    "GPTPartition",
    "MBRPartition",
    "apple_partition_map",
    "gpt",
    "mbr",
]

# -- well-known GPT partition type GUIDs -----------------------------------------------------------
EFI_SYSTEM: Final = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
APPLE_HFS_PLUS: Final = "48465300-0000-11AA-AA11-00306543ECAC"
APPLE_APFS: Final = "7C3457EF-0000-11AA-AA11-00306543ECAC"
MICROSOFT_BASIC_DATA: Final = "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7"
LINUX_FILESYSTEM: Final = "0FC63DAF-8483-4772-8E79-3D69D8477DE4"

_MBR_ENTRY: Final = struct.Struct("<B3sB3sII")
_MBR_ENTRIES_OFFSET: Final = 446
_MBR_SIGNATURE: Final = b"\x55\xaa"

_GPT_HEADER: Final = struct.Struct("<8sIIII QQQQ 16s QIII")
_GPT_ENTRY: Final = struct.Struct("<16s16sQQQ72s")
_GPT_REVISION: Final = 0x00010000

_BLOCK0: Final = struct.Struct(">HHIHHIH")
_DPME: Final = struct.Struct(">HHIII32s32sIIIIIIIIII16s")
_DPME_FLAGS_DATA: Final = 0x00000037  # valid, allocated, in use, readable, writable


def _guid_bytes(value: str | uuid.UUID) -> bytes:
    return (value if isinstance(value, uuid.UUID) else uuid.UUID(value)).bytes_le


def _chs(lba: int) -> bytes:
    """The CHS triple of ``lba`` (255 heads, 63 sectors a track), or the marker past
    what CHS can address."""
    cylinder, rest = divmod(lba, 255 * 63)
    if cylinder > 1023:
        return b"\xfe\xff\xff"
    head, sector = divmod(rest, 63)
    sector += 1
    return bytes((head, ((cylinder >> 2) & 0xC0) | sector, cylinder & 0xFF))


def _mbr_entry(kind: int, first: int, count: int, bootable: bool = False) -> bytes:
    last = first + count - 1 if count else first
    return _MBR_ENTRY.pack(0x80 if bootable else 0, _chs(first), kind, _chs(last), first, count)


def _boot_sector(entries: Sequence[bytes], signature: int = 0) -> bytes:
    sector = bytearray(512)
    struct.pack_into("<I", sector, 440, signature)  # the disk signature
    for index, entry in enumerate(entries):
        offset = _MBR_ENTRIES_OFFSET + index * _MBR_ENTRY.size
        sector[offset : offset + _MBR_ENTRY.size] = entry
    sector[510:512] = _MBR_SIGNATURE
    return bytes(sector)


def _place(image: bytearray, offset: int, data: bytes) -> None:
    if offset < 0 or offset + len(data) > len(image):
        raise ValueError(
            f"{len(data)} bytes at offset {offset} do not fit a disk of {len(image)} bytes"
        )
    image[offset : offset + len(data)] = data


# -- MBR -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MBRPartition:
    """A partition of a PC partition map: its type byte and its blocks."""

    kind: int
    first_block: int
    block_count: int
    bootable: bool = False


def mbr(
    partitions: Sequence[MBRPartition],
    disk_size: int,
    *,
    logical: Sequence[MBRPartition] = (),
    block_size: int = 512,
    disk_signature: int = 0x4B4C5442,
    extended_kind: int = 0x0F,
) -> bytes:
    """A disk of ``disk_size`` bytes with a master boot record holding ``partitions``
    (at most 4, or 3 with ``logical`` ones) and, if any, ``logical`` partitions in an
    extended partition (each needs a free block before it, for its EBR)."""
    primary = list(partitions)
    if len(primary) + (1 if logical else 0) > 4:
        raise ValueError(f"an MBR holds 4 entries: {len(primary)} primary + an extended one")
    image = bytearray(disk_size)
    entries = [_mbr_entry(p.kind, p.first_block, p.block_count, p.bootable) for p in primary]
    if logical:
        ordered = sorted(logical, key=lambda partition: partition.first_block)
        extended_first = ordered[0].first_block - 1
        extended_end = ordered[-1].first_block + ordered[-1].block_count
        entries.append(_mbr_entry(extended_kind, extended_first, extended_end - extended_first))
        for index, partition in enumerate(ordered):
            ebr_block = partition.first_block - 1
            if (
                index
                and ebr_block < ordered[index - 1].first_block + ordered[index - 1].block_count
            ):
                raise ValueError(
                    f"logical partition at block {partition.first_block} leaves no block "
                    "for its extended boot record"
                )
            links = [_mbr_entry(partition.kind, 1, partition.block_count)]
            if index + 1 < len(ordered):
                following = ordered[index + 1]
                links.append(
                    _mbr_entry(
                        0x05,
                        following.first_block - 1 - extended_first,
                        following.block_count + 1,
                    )
                )
            _place(image, ebr_block * block_size, _boot_sector(links))
    _place(image, 0, _boot_sector(entries, disk_signature))
    return bytes(image)


# -- GPT -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GPTPartition:
    """A GPT entry: type GUID, first and last block (inclusive), name, GUID, attributes."""

    type_guid: str | uuid.UUID
    first_block: int
    last_block: int
    name: str = ""
    guid: str | uuid.UUID | None = None
    attributes: int = 0


def gpt(
    partitions: Sequence[GPTPartition],
    disk_size: int,
    *,
    block_size: int = 512,
    disk_guid: str | uuid.UUID = "5B1F4D4E-3C2A-4B8E-9D6F-0A1B2C3D4E5F",
    entry_count: int = 128,
    entry_size: int = 128,
) -> bytes:
    """A disk of ``disk_size`` bytes with a protective MBR and primary and backup GUID
    partition tables holding ``partitions`` (in slots 1, 2 ...).  Partitions without
    a GUID get a deterministic one from the disk GUID and their slot."""
    blocks = disk_size // block_size
    if len(partitions) > entry_count:
        raise ValueError(f"{len(partitions)} partitions do not fit {entry_count} entries")
    table_blocks = -(-entry_count * entry_size // block_size)
    first_usable = 2 + table_blocks
    last_usable = blocks - 2 - table_blocks
    if last_usable < first_usable:
        raise ValueError(f"a disk of {disk_size} bytes is too small for a GPT")
    disk = uuid.UUID(str(disk_guid))
    table = bytearray(entry_count * entry_size)
    for slot, partition in enumerate(partitions):
        if not first_usable <= partition.first_block <= partition.last_block <= last_usable:
            raise ValueError(
                f"partition {slot + 1} (blocks {partition.first_block}-{partition.last_block}) "
                f"is outside the usable blocks {first_usable}-{last_usable}"
            )
        guid = partition.guid or uuid.uuid5(disk, f"partition {slot + 1}")
        name = partition.name.encode("utf-16-le")
        if len(name) > 72:
            raise ValueError(f"partition name {partition.name!r} is longer than 36 UTF-16 units")
        _GPT_ENTRY.pack_into(
            table,
            slot * entry_size,
            _guid_bytes(partition.type_guid),
            _guid_bytes(guid),
            partition.first_block,
            partition.last_block,
            partition.attributes,
            name,
        )
    table_crc = zlib.crc32(table)
    image = bytearray(disk_size)
    protective = min(blocks - 1, 0xFFFFFFFF)
    _place(image, 0, _boot_sector([_mbr_entry(0xEE, 1, protective)]))
    backup_table = blocks - 1 - table_blocks
    for header_block, alternate, table_block in (
        (1, blocks - 1, 2),
        (blocks - 1, 1, backup_table),
    ):
        header = bytearray(
            _GPT_HEADER.pack(
                b"EFI PART",
                _GPT_REVISION,
                _GPT_HEADER.size,
                0,
                0,
                header_block,
                alternate,
                first_usable,
                last_usable,
                disk.bytes_le,
                table_block,
                entry_count,
                entry_size,
                table_crc,
            )
        )
        struct.pack_into("<I", header, 16, zlib.crc32(header))
        _place(image, header_block * block_size, bytes(header))
        _place(image, table_block * block_size, bytes(table))
    return bytes(image)


# -- APM -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApplePartition:
    """An Apple partition map entry: name, type (``Apple_HFS`` ...), its blocks."""

    name: str
    kind: str
    first_block: int
    block_count: int
    flags: int = _DPME_FLAGS_DATA


def apple_partition_map(
    partitions: Sequence[ApplePartition],
    disk_size: int,
    *,
    block_size: int = 512,
    map_blocks: int = 63,
    driver_map: bool = True,
) -> bytes:
    """A disk of ``disk_size`` bytes with a driver descriptor map (unless
    ``driver_map`` is False) in block 0 and an Apple partition map from block 1: its
    own entry (``Apple_partition_map``, ``map_blocks`` long), then ``partitions``."""
    entries = [
        ApplePartition("Apple", "Apple_partition_map", 1, map_blocks, 0x00000003),
        *partitions,
    ]
    if len(entries) > map_blocks:
        raise ValueError(f"{len(entries)} entries do not fit a map of {map_blocks} blocks")
    blocks = disk_size // block_size
    image = bytearray(disk_size)
    if driver_map:
        block0 = _BLOCK0.pack(0x4552, block_size, blocks, 0, 0, 0, 0)
        _place(image, 0, block0)
    for index, entry in enumerate(entries):
        if entry.first_block + entry.block_count > blocks:
            raise ValueError(f"{entry.name!r} runs past the end of a {blocks}-block disk")
        name = entry.name.encode("mac_roman")
        kind = entry.kind.encode("mac_roman")
        if len(name) > 32 or len(kind) > 32:
            raise ValueError(
                f"names and types are at most 32 bytes: {entry.name!r}, {entry.kind!r}"
            )
        dpme = _DPME.pack(
            0x504D,
            0,
            len(entries),
            entry.first_block,
            entry.block_count,
            name,
            kind,
            0,
            entry.block_count,
            entry.flags,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            b"",
        )
        _place(image, (index + 1) * block_size, dpme)
    return bytes(image)
