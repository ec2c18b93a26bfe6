"""The storage families on the whole SCSI stack: a Marvell UMI HBA with a GPT disk,
an MBR disk and a CD-ROM, booted as ``kextlab boot`` boots it.  The disks' partition
maps (built byte-exact by ``kextlab.testing.partitions``) appear as child media with
their BSD names, the media join the IODeviceTree plane under the HBA at their
targets, and an unaligned write and a read larger than the HBA's transfer limit
move the right bytes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import kextlab.machine.machines as machines
from kextlab.families.storage.cd.media import IOCDMedia
from kextlab.families.storage.media import IOMedia
from kextlab.families.storage.storage import (
    kIOStorageAccessReaderWriter,
    kIOStorageAccessSharedLock,
)
from kextlab.kernel.ioreturn import kIOReturnSuccess
from kextlab.kernel.kernel import Kernel
from kextlab.kernel.libkern.convert import to_user
from kextlab.kernel.memory.buffer import IOBufferMemoryDescriptor
from kextlab.kernel.memory.options import kIODirectionIn, kIODirectionOut
from kextlab.kernel.registry.registry import kIODeviceTreePlane, kIOServicePlane
from kextlab.kernel.service.service import IOService
from kextlab.testing.kernel import booted_kernel
from kextlab.testing.partitions import (
    APPLE_HFS_PLUS,
    EFI_SYSTEM,
    GPTPartition,
    MBRPartition,
    gpt,
    mbr,
)
from kextlab.testing.umibench import machine_text

GPT_DISK = 16 << 20
MBR_DISK = 8 << 20


@pytest.fixture
def kernel(tmp_path: Path) -> Iterator[Kernel]:
    (tmp_path / "gpt.img").write_bytes(
        gpt(
            [
                GPTPartition(EFI_SYSTEM, 40, 2087, "EFI"),
                GPTPartition(APPLE_HFS_PLUS, 2088, 30000, "Macintosh HD"),
            ],
            GPT_DISK,
        )
    )
    (tmp_path / "mbr.img").write_bytes(
        mbr([MBRPartition(0x0B, 2048, 4000)], MBR_DISK, logical=[MBRPartition(0x83, 6100, 1000)])
    )
    iso = Path(machines.__file__).parent / "kextlab-cd.iso"
    targets = [
        (0, "disk", tmp_path / "gpt.img"),
        (1, "disk", tmp_path / "mbr.img"),
        (2, "cdrom", iso),
    ]
    text = machine_text() + "".join(
        f'[[device.target]]\nid = {target}\ntype = "{kind}"\nimage = "{image}"\n'
        for target, kind, image in targets
    )
    machine = tmp_path / "stack.toml"
    machine.write_text(text)
    with booted_kernel(str(machine)) as booted:
        booted.wait_quiet()
        yield booted


def all_media(kernel: Kernel) -> dict[str, IOMedia]:
    plane = kernel.registry.plane(kIOServicePlane)
    return {
        str(to_user(entry.getProperty("BSD Name"))): entry
        for entry in kernel.registry.getRoot().iterate(plane, recursive=True)
        if isinstance(entry, IOMedia) and entry.getProperty("BSD Name") is not None
    }


def test_partition_maps_on_scsi_disks_appear_as_child_media(kernel: Kernel) -> None:
    """disk0 (target 0) is a GPT disk with disk0s1 and disk0s2, disk1 an MBR disk
    with a primary and a logical partition, disk2 the CD; each media sits in the
    IODeviceTree plane under the HBA at <target>:<partition>."""
    media = all_media(kernel)
    assert sorted(media) == ["disk0", "disk0s1", "disk0s2", "disk1", "disk1s1", "disk1s5", "disk2"]
    assert to_user(media["disk0"].getProperty("Content")) == "GUID_partition_scheme"
    assert media["disk0s2"].getName() == "Macintosh HD"
    assert to_user(media["disk0s2"].getProperty("Content Hint")) == APPLE_HFS_PLUS
    assert media["disk0s2"].getBase() == 2088 * 512
    assert to_user(media["disk1"].getProperty("Content")) == "FDisk_partition_scheme"
    assert to_user(media["disk1s1"].getProperty("Content Hint")) == "DOS_FAT_32"
    assert to_user(media["disk1s5"].getProperty("Content Hint")) == "Linux"
    assert isinstance(media["disk2"], IOCDMedia)
    assert media["disk2"].getPreferredBlockSize() == 2048
    plane = kernel.registry.plane(kIODeviceTreePlane)
    locations = {name: entry.getLocation(plane) for name, entry in media.items()}
    assert locations == {
        "disk0": "0:0",
        "disk0s1": "0:1",
        "disk0s2": "0:2",
        "disk1": "1:0",
        "disk1s1": "1:1",
        "disk1s5": "1:5",
        "disk2": "2:0",
    }


def test_unaligned_and_oversized_transfers_cross_the_whole_stack_intact(kernel: Kernel) -> None:
    """An unaligned write (read-modify-write through the SCSI disk) and a 3 MiB read
    (cut to the HBA's 1 MiB limit) return exactly the bytes the disk holds."""
    media = all_media(kernel)["disk0"]
    data = os.urandom(5000)
    start = 20 * 512 + 100
    with kernel.entered():
        client = IOService()
        client.init()
        assert media.open(client, 0, kIOStorageAccessReaderWriter | kIOStorageAccessSharedLock)
        source = IOBufferMemoryDescriptor.withCapacity(len(data), kIODirectionOut)
        target = IOBufferMemoryDescriptor.withCapacity(3 << 20, kIODirectionIn)
        assert source is not None
        assert target is not None
        source.getBytesNoCopy()[:] = data
        assert media.write(client, start, source) == (kIOReturnSuccess, len(data))
        assert media.read(client, 0, target) == (kIOReturnSuccess, 3 << 20)
        disk = target.getBytesNoCopy()
        assert bytes(disk[start : start + len(data)]) == data
        assert bytes(disk[512:520]) == b"EFI PART"
        source.release()
        target.release()
        media.close(client)
        client.release()
