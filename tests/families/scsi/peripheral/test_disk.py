"""The SCSI disk driver end to end: a DiskUnit on an image file behind the software
HBA, up to IOMedia -- capacity, data, write protection, the write cache, FUA, and the
2 TiB boundary where READ CAPACITY(16) and the 16-byte commands take over."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from kextlab.families.scsi.block_storage_services import IOBlockStorageServices
from kextlab.families.scsi.definitions import (
    kSCSICmd_MODE_SELECT_6,
    kSCSICmd_READ_10,
    kSCSICmd_READ_16,
    kSCSICmd_READ_CAPACITY,
    kSCSICmd_SERVICE_ACTION_IN,
    kSCSICmd_SYNCHRONIZE_CACHE,
    kSCSICmd_WRITE_10,
    kSCSICmd_WRITE_16,
)
from kextlab.families.storage.storage import (
    IOStorageAttributes,
    IOStorageCompletion,
    kIOStorageOptionForceUnitAccess,
)
from kextlab.kernel.ioreturn import kIOReturnNotWritable, kIOReturnSuccess
from kextlab.kernel.libkern.convert import to_user
from kextlab.kernel.memory.buffer import IOBufferMemoryDescriptor
from kextlab.kernel.memory.options import kIODirectionOut
from kextlab.machine.scsi.disk import DiskUnit
from tests.families.scsi.peripheral.conftest import Bus, pattern, transfer
from tests.families.scsi.soft_hba import on_thread

MIB = 1 << 20


def test_a_disk_appears_as_whole_disk_media_of_its_capacity(
    bus: Callable[..., Bus], tmp_path: Path
) -> None:
    """READ CAPACITY sizes the media; the services nub carries the real dumps'
    characteristics; the driver publishes the transfer limits on the provider chain."""
    stack = bus({0: DiskUnit.open("disk0", tmp_path / "disk.img", size=8 * MIB)})
    media = stack.media()
    properties = to_user(media.getPropertyTable())
    assert isinstance(properties, dict)
    assert {
        "Size": 8 * MIB,
        "Preferred Block Size": 512,
        "Whole": True,
        "Writable": True,
        "Removable": False,
        "Ejectable": False,
    }.items() <= properties.items()
    nub = stack.services_nub()
    assert to_user(nub.getProperty("Device Characteristics")) == {
        "Vendor Name": "KEXTLAB",
        "Product Name": "KEXTLAB DISK",
        "Product Revision Level": "0001",
    }
    protocol = to_user(nub.getProperty("Protocol Characteristics"))
    assert isinstance(protocol, dict)
    assert protocol["Physical Interconnect"] == "SCSI Parallel Interface"
    assert to_user(nub.getProperty("device-type")) == "Generic"
    disk = stack.disk()
    assert to_user(disk.getProperty("IOMaximumBlockCountRead")) == 65535
    assert to_user(disk.getProperty("IOMaximumBlockCountWrite")) == 65535
    assert stack.cdbs(kSCSICmd_SERVICE_ACTION_IN) == []  # a small disk needs no (16)


def test_data_written_through_the_media_reads_back_and_reaches_the_image_on_a_flush(
    bus: Callable[..., Bus], kernel: object, tmp_path: Path
) -> None:
    """A write of 64 KiB at an odd block goes out as WRITE(10), reads back the same
    through READ(10), and is in the image file once SYNCHRONIZE CACHE is sent."""
    image = tmp_path / "disk.img"
    stack = bus({0: DiskUnit.open("disk0", image, size=8 * MIB)})
    media = stack.media()
    data = pattern(64 << 10, seed=3)
    offset = 12345 * 512
    assert transfer(stack.kernel, media, offset, data)[:2] == (kIOReturnSuccess, len(data))
    status, count, read = transfer(stack.kernel, media, offset, len(data))
    assert (status, count) == (kIOReturnSuccess, len(data))
    assert read == data
    write = stack.cdbs(kSCSICmd_WRITE_10)[-1]
    assert int.from_bytes(write[2:6], "big") == 12345
    assert int.from_bytes(write[7:9], "big") == 128
    assert stack.cdbs(kSCSICmd_READ_10)

    nub = stack.services_nub()
    assert on_thread(stack.kernel, nub.doSynchronizeCache) == kIOReturnSuccess
    assert stack.cdbs(kSCSICmd_SYNCHRONIZE_CACHE)
    with open(image, "rb") as stored:
        stored.seek(offset)
        assert stored.read(len(data)) == data


def test_a_write_asking_for_force_unit_access_sets_fua(
    bus: Callable[..., Bus], tmp_path: Path
) -> None:
    """kIOStorageOptionForceUnitAccess becomes the FUA bit of WRITE(10)."""
    stack = bus({0: DiskUnit.open("disk0", tmp_path / "disk.img", size=MIB)})
    attributes = IOStorageAttributes(options=kIOStorageOptionForceUnitAccess)
    result = transfer(stack.kernel, stack.media(), 0, pattern(4096), attributes=attributes)
    assert result[0] == kIOReturnSuccess
    assert stack.cdbs(kSCSICmd_WRITE_10)[-1][1] & 0x08
    transfer(stack.kernel, stack.media(), 4096, pattern(4096))
    assert not stack.cdbs(kSCSICmd_WRITE_10)[-1][1] & 0x08


def test_a_disk_over_2_tib_is_sized_by_read_capacity_16_and_reached_with_16_byte_commands(
    bus: Callable[..., Bus], tmp_path: Path
) -> None:
    """A 3 TiB sparse image answers READ CAPACITY(10) with 0xFFFFFFFF; the driver
    asks READ CAPACITY(16), and a transfer beyond block 2^32 uses READ(16)/WRITE(16)."""
    size = 3 << 40
    stack = bus({0: DiskUnit.open("big", tmp_path / "big.img", size=size)})
    media = stack.media()
    assert to_user(media.getProperty("Size")) == size
    assert stack.cdbs(kSCSICmd_READ_CAPACITY)
    assert stack.cdbs(kSCSICmd_SERVICE_ACTION_IN)[0][1] & 0x1F == 0x10
    offset = ((1 << 32) + 10) * 512
    data = pattern(8192, seed=9)
    assert transfer(stack.kernel, media, offset, data)[:2] == (kIOReturnSuccess, len(data))
    assert transfer(stack.kernel, media, offset, len(data))[2] == data
    write = stack.cdbs(kSCSICmd_WRITE_16)[-1]
    assert int.from_bytes(write[2:10], "big") == (1 << 32) + 10
    assert int.from_bytes(write[10:14], "big") == 16
    assert stack.cdbs(kSCSICmd_READ_16)
    assert os.stat(tmp_path / "big.img").st_blocks * 512 < 64 * MIB  # still sparse


def test_a_write_protected_disk_is_read_only_media_and_a_write_is_not_writable(
    bus: Callable[..., Bus], tmp_path: Path
) -> None:
    """The WP bit of MODE SENSE makes the media unwritable; a write that reaches the
    device anyway fails DATA PROTECT, kIOReturnNotWritable, and is not retried."""
    unit = DiskUnit.open("ro", tmp_path / "ro.img", size=MIB, write_protect=True)
    stack = bus({0: unit})
    assert to_user(stack.media().getProperty("Writable")) is False
    nub = stack.services_nub()
    status = write_through_services(stack, nub, 0, pattern(512))
    assert status == kIOReturnNotWritable
    assert len(stack.cdbs(kSCSICmd_WRITE_10)) == 1
    assert any("DATA PROTECT 07/27/00 (kIOReturnNotWritable)" in line for line in stack.log())


def test_a_disk_whose_write_cache_is_off_gets_it_switched_on(
    bus: Callable[..., Bus], tmp_path: Path
) -> None:
    """The caching page says WCE=0: the driver turns it on with MODE SELECT(6), as
    Apple's does, and the disk's cache is then on."""
    unit = DiskUnit.open("disk0", tmp_path / "disk.img", size=MIB, write_cache=False)
    stack = bus({0: unit})
    assert stack.cdbs(kSCSICmd_MODE_SELECT_6)
    assert unit.image.write_cache_enabled
    assert stack.disk().fWriteCacheEnabled
    assert to_user(stack.services_nub().getProperty("WriteCacheState")) is True


def write_through_services(stack: Bus, nub: IOBlockStorageServices, block: int, data: bytes) -> int:
    """A write sent straight to the services nub (below IOMedia's checks); its status."""
    outcome: list[int] = []
    buffer = IOBufferMemoryDescriptor.withCapacity(len(data), kIODirectionOut)
    assert buffer is not None
    buffer.getBytesNoCopy()[:] = data

    def done(target: object, parameter: object, status: int, count: int) -> None:
        outcome.append(status)

    def work() -> None:
        buffer.prepare()
        started = nub.doAsyncReadWrite(
            buffer, block, len(data) // 512, None, IOStorageCompletion(None, done)
        )
        assert started == kIOReturnSuccess

    on_thread(stack.kernel, work)
    stack.kernel.scheduler.run(stack.kernel.scheduler.now + 10**9)
    buffer.complete()
    buffer.release()
    assert len(outcome) == 1
    return outcome[0]
