"""The partition map builders of ``kextlab.testing.partitions``, checked against the
published layouts by parsers written here from the specifications (struct and zlib
only), independent of the partition schemes that read them in the other tests."""

from __future__ import annotations

import struct
import uuid
import zlib

import pytest

from kextlab.testing.partitions import (
    APPLE_HFS_PLUS,
    EFI_SYSTEM,
    ApplePartition,
    GPTPartition,
    MBRPartition,
    apple_partition_map,
    gpt,
    mbr,
)

DISK = 4 << 20


def entry_at(sector: bytes, offset: int) -> tuple[int, int, int]:
    """An MBR entry's type, first block and block count."""
    fields = struct.unpack_from("<B3sB3sII", sector, offset)
    return fields[2], fields[4], fields[5]


def test_gpt_has_a_protective_mbr_and_consistent_primary_and_backup_tables() -> None:
    """UEFI §5.3: protective MBR of one 0xEE partition; headers at LBA 1 and at the
    last LBA pointing at each other; both header CRCs and the entry CRC verify; the
    backup entries sit just before the backup header; GUIDs mixed-endian; names
    UTF-16LE."""
    image = gpt(
        [
            GPTPartition(EFI_SYSTEM, 40, 2087, "EFI"),
            GPTPartition(
                APPLE_HFS_PLUS, 2088, 4000, "Mac", guid="11111111-2222-3333-4444-555555555555"
            ),
        ],
        DISK,
    )
    blocks = DISK // 512
    assert image[510:512] == b"\x55\xaa"
    boot, _, kind, _, first, count = struct.unpack_from("<B3sB3sII", image, 446)
    assert (boot, kind, first, count) == (0, 0xEE, 1, blocks - 1)
    assert image[446 + 16 : 510] == bytes(48)
    headers = {}
    for lba in (1, blocks - 1):
        header = bytearray(image[lba * 512 : lba * 512 + 92])
        fields = struct.unpack("<8sIIIIQQQQ16sQIII", header)
        assert fields[0] == b"EFI PART"
        assert fields[1] == 0x00010000
        assert fields[2] == 92
        crc = fields[3]
        header[16:20] = bytes(4)
        assert zlib.crc32(header) == crc
        headers[lba] = fields
    primary, backup = headers[1], headers[blocks - 1]
    assert (primary[5], primary[6]) == (1, blocks - 1)
    assert (backup[5], backup[6]) == (blocks - 1, 1)
    assert primary[7] == backup[7] == 34
    assert primary[8] == backup[8] == blocks - 34
    assert primary[10] == 2
    assert backup[10] == blocks - 33
    assert primary[11:14] == backup[11:14]
    assert primary[11] == 128
    assert primary[12] == 128
    for table_lba in (primary[10], backup[10]):
        table = image[table_lba * 512 : table_lba * 512 + 128 * 128]
        assert zlib.crc32(table) == primary[13]
        entry = struct.unpack_from("<16s16sQQQ72s", table, 128)
        assert str(uuid.UUID(bytes_le=entry[0])).upper() == APPLE_HFS_PLUS
        assert str(uuid.UUID(bytes_le=entry[1])) == "11111111-2222-3333-4444-555555555555"
        assert entry[2:4] == (2088, 4000)
        assert entry[5].decode("utf-16-le").rstrip("\0") == "Mac"
        assert table[2 * 128 :] == bytes(len(table) - 256)


def test_mbr_entries_and_extended_boot_records_follow_the_pc_layout() -> None:
    """Little-endian entries with CHS filled in; an extended partition (0x0F) over
    the logical ones; each EBR in the block before its partition, holding it
    relative to itself and a link (0x05) relative to the extended partition."""
    image = mbr(
        [MBRPartition(0x0B, 63, 1000, bootable=True)],
        DISK,
        logical=[MBRPartition(0x83, 2049, 100), MBRPartition(0x82, 2200, 300)],
    )
    assert image[510:512] == b"\x55\xaa"
    boot, chs, kind, _, first, count = struct.unpack_from("<B3sB3sII", image, 446)
    assert (boot, kind, first, count) == (0x80, 0x0B, 63, 1000)
    assert chs == bytes((1, 1, 0))  # LBA 63: cylinder 0, head 1, sector 1
    _, _, kind, _, extended, length = struct.unpack_from("<B3sB3sII", image, 446 + 16)
    assert (kind, extended, length) == (0x0F, 2048, 2500 - 2048)
    first_ebr = image[2048 * 512 : 2049 * 512]
    assert first_ebr[510:512] == b"\x55\xaa"
    assert entry_at(first_ebr, 446) == (0x83, 1, 100)
    assert entry_at(first_ebr, 462) == (0x05, 2199 - 2048, 301)
    second_ebr = image[2199 * 512 : 2200 * 512]
    assert entry_at(second_ebr, 446) == (0x82, 1, 300)
    assert second_ebr[462:478] == bytes(16)


def test_an_apple_partition_map_has_its_driver_map_and_entries_in_big_endian() -> None:
    """Block 0 "ER" with the block size and count; entries "PM" from block 1, the first
    describing the map, each carrying the entry count."""
    image = apple_partition_map([ApplePartition("Untitled", "Apple_HFS", 64, 1000)], DISK)
    signature, block_size, block_count = struct.unpack_from(">HHI", image, 0)
    assert (signature, block_size, block_count) == (0x4552, 512, DISK // 512)
    for index, (name, kind, start, count) in enumerate(
        (("Apple", "Apple_partition_map", 1, 63), ("Untitled", "Apple_HFS", 64, 1000))
    ):
        entry = image[(index + 1) * 512 : (index + 2) * 512]
        fields = struct.unpack_from(">HHIII32s32s", entry)
        assert fields[0] == 0x504D
        assert fields[2] == 2
        assert (fields[3], fields[4]) == (start, count)
        assert fields[5].rstrip(b"\0").decode() == name
        assert fields[6].rstrip(b"\0").decode() == kind


def test_the_builders_refuse_what_does_not_fit() -> None:
    """Partitions outside the usable blocks, five MBR entries and a logical partition
    without room for its EBR are errors naming the problem."""
    with pytest.raises(ValueError, match="outside the usable blocks"):
        gpt([GPTPartition(APPLE_HFS_PLUS, 10, 100)], DISK)
    with pytest.raises(ValueError, match="4 entries"):
        mbr([MBRPartition(0x83, 64 * index + 64, 10) for index in range(5)], DISK)
    with pytest.raises(ValueError, match="extended boot record"):
        mbr([], DISK, logical=[MBRPartition(0x83, 100, 50), MBRPartition(0x83, 150, 10)])
