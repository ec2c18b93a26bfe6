"""The partition schemes on RAM disks holding byte-exact GPT, MBR and APM images
(``kextlab.testing.partitions``): which scheme wins, the child media with their
bases, sizes, names, hints and BSD names, I/O through a partition, opens through
the scheme, and a rescan after a writer rewrote the map."""

from __future__ import annotations

from typing import Any

from kextlab.families.storage.media import IOMedia
from kextlab.families.storage.storage import (
    kIOStorageAccessReader,
    kIOStorageAccessReaderWriter,
    kIOStorageAccessSharedLock,
)
from kextlab.kernel.ioreturn import kIOReturnBadArgument, kIOReturnSuccess
from kextlab.kernel.libkern.convert import to_user
from kextlab.kernel.registry.registry import kIOServicePlane
from kextlab.kernel.service.service import IOService
from kextlab.testing.partitions import (
    APPLE_HFS_PLUS,
    EFI_SYSTEM,
    LINUX_FILESYSTEM,
    ApplePartition,
    GPTPartition,
    MBRPartition,
    apple_partition_map,
    gpt,
    mbr,
)
from tests.families.storage.ramdisk import Bench, Buffers, pattern

DISK = 8 << 20  # bytes
BLOCKS = DISK // 512


def scheme_of(storage: Bench, media: IOMedia) -> IOService | None:
    plane = storage.kernel.registry.plane(kIOServicePlane)
    schemes = [
        client
        for client in media.getChildren(plane)
        if isinstance(client, IOService)
        and to_user(client.getProperty("IOMatchCategory")) == "IOStorage"
        and not client.isInactive()
    ]
    return schemes[0] if schemes else None


def partitions(storage: Bench, disk: IOService) -> list[dict[str, Any]]:
    """The partition media below ``disk``: their registry name and location and the
    properties user space would see, by partition ID."""
    found = []
    for media in storage.media(disk):
        if media.isWhole():
            continue
        properties = to_user(media.getPropertyTable())
        assert isinstance(properties, dict)
        properties["name"] = media.getName()
        properties["location"] = media.getLocation()
        found.append(properties)
    return sorted(found, key=lambda p: p["Partition ID"])


def test_a_gpt_disk_gets_the_guid_scheme_and_a_media_per_partition(storage: Bench) -> None:
    """IOGUIDPartitionScheme wins over FDisk; the whole media's Content becomes
    GUID_partition_scheme; each partition has its base, size, type GUID hint, UUID,
    name, location and diskNsM name, as the real dump shows them."""
    image = gpt(
        [
            GPTPartition(EFI_SYSTEM, 40, 40 + 2047, "EFI System Partition"),
            GPTPartition(APPLE_HFS_PLUS, 4096, 12287, "Macintosh HD", attributes=1 << 60),
        ],
        DISK,
    )
    disk = storage.publish(blocks=BLOCKS, image=image)
    whole = storage.whole(disk)
    scheme = scheme_of(storage, whole)
    assert scheme is not None
    assert scheme.getClassName() == "IOGUIDPartitionScheme"
    assert to_user(scheme.getProperty("Content Mask")) == "GUID_partition_scheme"
    assert to_user(scheme.getProperty("UUID")) == "5B1F4D4E-3C2A-4B8E-9D6F-0A1B2C3D4E5F"
    assert to_user(whole.getProperty("Content")) == "GUID_partition_scheme"
    assert to_user(whole.getProperty("Content Hint")) == ""
    assert to_user(whole.getProperty("Leaf")) is False
    efi, hfs = partitions(storage, disk)
    assert efi["name"] == "EFI System Partition"
    assert efi["location"] == "1"
    assert (efi["Base"], efi["Size"]) == (40 * 512, 2048 * 512)
    assert efi["Content"] == efi["Content Hint"] == EFI_SYSTEM
    assert efi["Partition ID"] == 1
    assert efi["Whole"] is False
    assert efi["Leaf"] is True
    assert efi["BSD Name"] == "disk0s1"
    assert efi["BSD Unit"] == 0
    assert efi["BSD Major"] == 1
    assert len(efi["UUID"]) == 36
    assert efi["UUID"] == efi["UUID"].upper()
    assert hfs["name"] == "Macintosh HD"
    assert hfs["BSD Name"] == "disk0s2"
    assert (hfs["Base"], hfs["Size"]) == (4096 * 512, 8192 * 512)
    assert hfs["GPT Attributes"] == 1 << 60
    assert hfs["Writable"] is True
    assert hfs["Preferred Block Size"] == 512


def test_a_gpt_with_a_broken_checksum_is_left_to_the_fdisk_scheme(storage: Bench) -> None:
    """A header whose CRC32 does not match is not a GPT; the protective MBR is then
    an MBR with one partition of type 0xEE, as on a Mac."""
    image = bytearray(gpt([GPTPartition(APPLE_HFS_PLUS, 40, 1000)], DISK))
    image[512 + 24] ^= 0xFF  # the header's own LBA, under its CRC
    disk = storage.publish(blocks=BLOCKS, image=bytes(image))
    whole = storage.whole(disk)
    scheme = scheme_of(storage, whole)
    assert scheme is not None
    assert scheme.getClassName() == "IOFDiskPartitionScheme"
    (protective,) = partitions(storage, disk)
    assert protective["Content Hint"] == "0xEE"
    assert protective["Base"] == 512


def test_an_mbr_disk_gets_primary_and_logical_partitions_with_apples_content_table(
    storage: Bench,
) -> None:
    """Primaries keep their slot numbers, logical partitions are 5, 6...; content
    hints come from the Content Table, unknown types as 0x%02X; names are Untitled N."""
    image = mbr(
        [MBRPartition(0xAF, 2048, 4096, bootable=True), MBRPartition(0xDA, 6144, 1024)],
        DISK,
        logical=[MBRPartition(0x83, 8192, 2048), MBRPartition(0x0B, 10241, 1000)],
    )
    disk = storage.publish(blocks=BLOCKS, image=image)
    whole = storage.whole(disk)
    scheme = scheme_of(storage, whole)
    assert scheme is not None
    assert scheme.getClassName() == "IOFDiskPartitionScheme"
    assert to_user(whole.getProperty("Content")) == "FDisk_partition_scheme"
    found = partitions(storage, disk)
    assert [
        (p["Partition ID"], p["Content Hint"], p["Base"] // 512, p["Size"] // 512) for p in found
    ] == [
        (1, "Apple_HFS", 2048, 4096),
        (2, "0xDA", 6144, 1024),
        (5, "Linux", 8192, 2048),
        (6, "DOS_FAT_32", 10241, 1000),
    ]
    assert [p["name"] for p in found] == ["Untitled 1", "Untitled 2", "Untitled 5", "Untitled 6"]
    assert [p["BSD Name"] for p in found] == ["disk0s1", "disk0s2", "disk0s5", "disk0s6"]


def test_an_apple_partition_map_gets_the_apple_scheme_with_its_names_and_types(
    storage: Bench,
) -> None:
    """The driver map makes the Apple scheme win; the map's own entry is a read-only
    partition 1; Apple_Free is not published; names and types come from the map."""
    image = apple_partition_map(
        [
            ApplePartition("Macintosh HD", "Apple_HFS", 64, 8000),
            ApplePartition("Extra", "Apple_Free", 8064, 100),
            ApplePartition("Scratch", "Apple_UNIX_SVR2", 8164, 4000),
        ],
        DISK,
    )
    disk = storage.publish(blocks=BLOCKS, image=image)
    whole = storage.whole(disk)
    scheme = scheme_of(storage, whole)
    assert scheme is not None
    assert scheme.getClassName() == "IOApplePartitionScheme"
    assert to_user(scheme.getProperty("IOProbeScore")) == 4000  # 2000 + the driver map's 2000
    assert to_user(whole.getProperty("Content")) == "Apple_partition_scheme"
    found = partitions(storage, disk)
    assert [(p["Partition ID"], p["name"], p["Content Hint"], p["Writable"]) for p in found] == [
        (1, "Apple", "Apple_partition_map", False),
        (2, "Macintosh HD", "Apple_HFS", True),
        (4, "Scratch", "Apple_UNIX_SVR2", True),
    ]
    assert (found[1]["Base"], found[1]["Size"]) == (64 * 512, 8000 * 512)


def test_a_blank_disk_has_no_scheme_and_stays_a_leaf(storage: Bench) -> None:
    """No map of any kind: every scheme's probe fails; the media keeps its hint."""
    disk = storage.publish(blocks=BLOCKS)
    whole = storage.whole(disk)
    assert scheme_of(storage, whole) is None
    assert to_user(whole.getProperty("Leaf")) is True
    assert to_user(whole.getProperty("Content")) == ""


def test_io_through_a_partition_lands_at_its_base_and_stays_inside_it(
    storage: Bench, buffers: Buffers
) -> None:
    """A partition's byte 0 is the disk's byte Base; a write there reaches the disk
    there; a transfer past the partition's end is refused."""
    image = bytearray(gpt([GPTPartition(LINUX_FILESYSTEM, 2048, 4095, "data")], DISK))
    image[2048 * 512 : 2049 * 512] = pattern(512, seed=4)
    disk = storage.publish(blocks=BLOCKS, image=bytes(image))
    (partition,) = [media for media in storage.media(disk) if not media.isWhole()]
    client = storage.client()
    with storage.kernel.entered():
        assert partition.open(client, 0, kIOStorageAccessReaderWriter)
        target = buffers.reading(512)
        assert partition.read(client, 0, target) == (kIOReturnSuccess, 512)
        assert bytes(target.getBytesNoCopy()) == pattern(512, seed=4)
        data = pattern(1000, seed=6)
        assert (
            partition.write(client, 2048 * 512 - 1000, buffers.writing(data))[0] == kIOReturnSuccess
        )
        assert disk.data[4096 * 512 - 1000 : 4096 * 512] == data
        assert (
            partition.read(client, 2048 * 512 - 512, buffers.reading(1024))[0]
            == kIOReturnBadArgument
        )
        partition.close(client)
        client.release()


def test_partitions_share_the_disk_but_keep_out_an_exclusive_writer_of_the_whole(
    storage: Bench,
) -> None:
    """Two partitions open for writing at once (the scheme opens the disk with a
    shared lock); a plain writer of the whole disk is refused meanwhile, and ``Open``
    shows the whole media in use."""
    image = gpt(
        [GPTPartition(LINUX_FILESYSTEM, 2048, 4095), GPTPartition(LINUX_FILESYSTEM, 4096, 6143)],
        DISK,
    )
    disk = storage.publish(blocks=BLOCKS, image=image)
    whole = storage.whole(disk)
    first, second = [media for media in storage.media(disk) if not media.isWhole()]
    one, two, three = storage.client(), storage.client(), storage.client()
    with storage.kernel.entered():
        assert first.open(one, 0, kIOStorageAccessReaderWriter)
        assert second.open(two, 0, kIOStorageAccessReaderWriter)
        assert to_user(whole.getProperty("Open")) is True
        assert not whole.open(three, 0, kIOStorageAccessReaderWriter)
        assert whole.open(three, 0, kIOStorageAccessReader)  # readers are welcome
        whole.close(three)
        first.close(one)
        second.close(two)
        assert to_user(whole.getProperty("Open")) is False
        for client in (one, two, three):
            client.release()


def test_a_writer_of_the_whole_disk_tears_the_map_down_and_its_new_map_is_scanned(
    storage: Bench, buffers: Buffers
) -> None:
    """Opening the whole disk for writing terminates the scheme (no partition in
    use); writing a new map and closing re-registers the media, and the new
    partitions appear with fresh BSD names."""
    disk = storage.publish(blocks=BLOCKS, image=mbr([MBRPartition(0x0B, 2048, 2048)], DISK))
    whole = storage.whole(disk)
    assert [p["Content Hint"] for p in partitions(storage, disk)] == ["DOS_FAT_32"]
    client = storage.client()
    with storage.kernel.entered():
        assert whole.open(client, 0, kIOStorageAccessReaderWriter)
    storage.kernel.wait_quiet()
    assert partitions(storage, disk) == []
    assert to_user(whole.getProperty("Content")) == ""
    new_map = gpt(
        [
            GPTPartition(APPLE_HFS_PLUS, 40, 2047, "one"),
            GPTPartition(EFI_SYSTEM, 2048, 4095, "two"),
        ],
        DISK,
    )
    with storage.kernel.entered():
        head = buffers.writing(new_map[: 34 * 512])
        tail = buffers.writing(new_map[-33 * 512 :])
        assert whole.write(client, 0, head)[0] == kIOReturnSuccess
        assert whole.write(client, DISK - 33 * 512, tail)[0] == kIOReturnSuccess
        whole.close(client)
        client.release()
    storage.kernel.wait_quiet()
    found = partitions(storage, disk)
    assert [(p["name"], p["BSD Name"]) for p in found] == [("one", "disk0s1"), ("two", "disk0s2")]
    assert to_user(whole.getProperty("Content")) == "GUID_partition_scheme"


def test_a_shared_writer_closing_makes_the_scheme_rescan_its_map(
    storage: Bench, buffers: Buffers
) -> None:
    """A writer with a shared lock leaves the scheme in place; when it closes, the
    media asks the scheme to rescan (requestProbe), and the map it wrote replaces
    the old partitions."""
    disk = storage.publish(blocks=BLOCKS, image=mbr([MBRPartition(0x0B, 2048, 2048)], DISK))
    whole = storage.whole(disk)
    client = storage.client()
    with storage.kernel.entered():
        assert whole.open(client, 0, kIOStorageAccessReaderWriter | kIOStorageAccessSharedLock)
    storage.kernel.wait_quiet()
    assert [p["Partition ID"] for p in partitions(storage, disk)] == [1]  # still there
    new_map = mbr([MBRPartition(0x83, 2048, 1024), MBRPartition(0xAF, 4096, 1024)], DISK)
    with storage.kernel.entered():
        assert whole.write(client, 0, buffers.writing(new_map[:512]))[0] == kIOReturnSuccess
        whole.close(client)
        client.release()
    storage.kernel.wait_quiet()
    found = partitions(storage, disk)
    assert [(p["Partition ID"], p["Content Hint"]) for p in found] == [
        (1, "Linux"),
        (2, "Apple_HFS"),
    ]
