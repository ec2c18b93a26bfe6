"""User space on the whole storage stack: a machine with the Marvell UMI HBA, its
driver kext, the SCSI families and IOStorageFamily.  python-scsi drives logical units
through SCSITaskUserClient (the initer leaves only the units without an in-kernel
driver to user space: the tape and a write-once SBC device), and /dev/rdiskN moves
data through IOMedia, IOBlockStorageDriver, the SCSI disk driver and the HBA."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from pyscsi.pyscsi.scsi import SCSI
from pyscsi.pyscsi.scsi_enum_command import sbc

from kextlab.firmware.openfirmware import OpenFirmware
from kextlab.kernel.kernel import Kernel
from kextlab.machine.description import parse_machine_description
from kextlab.machine.devices.mvumi.device import MarvellUMI
from kextlab.machine.machine import Machine
from kextlab.machine.scsi.constants import PeripheralType
from kextlab.machine.scsi.disk import DiskUnit
from kextlab.machine.scsi.target import SCSITarget
from kextlab.testing.pyscsi_backend import UserClientDevice
from kextlab.testing.umibench import machine_text
from kextlab.userland import iokitlib as io
from kextlab.userland.devices import list_disks, open_device
from kextlab.userland.system import start_kernel
from kextlab.userland.user_task import UserTask

BLOCK = 512
DISK_ID, TAPE_ID, WORM_ID = 0, 3, 5
WORM_BLOCKS = 4096


class WriteOnceDisk(DiskUnit):
    """An SBC device that reports peripheral device type 0x04 (write-once): no
    in-kernel driver takes it, so it is left to user space."""

    peripheral_type: ClassVar[PeripheralType] = 0x04  # type: ignore[assignment]


@pytest.fixture
def kernel(tmp_path: Path) -> Iterator[Kernel]:
    """The HBA with a disk, a tape and (plugged in before power-on) a write-once
    device, booted and quiet."""
    text = machine_text() + "\n".join(
        [
            "[[device.target]]",
            f"id = {DISK_ID}",
            'type = "disk"',
            f'image = "{tmp_path / "disk0.img"}"',
            'size = "8M"',
            "[[device.target]]",
            f"id = {TAPE_ID}",
            'type = "tape"',
            f'image = "{tmp_path / "tape.aws"}"',
            "",
        ]
    )
    description = parse_machine_description(text, str(tmp_path / "stack.toml"), "stack")
    worm = WriteOnceDisk.open("worm0", tmp_path / "worm.img", size=WORM_BLOCKS * BLOCK)
    with Machine(description) as machine:
        hba = machine.device("hba0")
        assert isinstance(hba, MarvellUMI)
        hba.scsi_bus.attach(WORM_ID, SCSITarget("worm0", {0: worm}))
        tree = OpenFirmware(machine).power_on()
        machine.run()
        booted = start_kernel(machine, tree)
        booted.wait_quiet()
        yield booted
    worm.close()


def logical_units(kernel: Kernel) -> dict[int, io.io_service_t]:
    """The logical-unit nubs by peripheral device type."""
    port = io.IOMainPort(kernel.registry, kernel)
    _, iterator = io.IOServiceGetMatchingServices(
        port, {"IOProviderClass": "IOSCSIPeripheralDeviceNub"}
    )
    found = {}
    while (handle := iterator.next()) is not None:
        device_type = io.IORegistryEntryCreateCFProperty(handle, "Peripheral Device Type")
        assert isinstance(device_type, int)
        found[device_type] = handle
    return found


def test_only_units_without_a_driver_are_left_to_user_space(kernel: Kernel) -> None:
    """The tape and the write-once device carry IOUserClientClass = SCSITaskUserClient
    and SCSITaskDeviceCategory = SCSITaskUserClientDevice; the disk, driven in the
    kernel, does not."""
    units = logical_units(kernel)
    assert {0x00, 0x01, 0x04} <= set(units)
    for device_type in (0x01, 0x04):
        properties = io.IORegistryEntryCreateCFProperties(units[device_type])[1]
        assert properties["IOUserClientClass"] == "SCSITaskUserClient"
        assert properties["SCSITaskDeviceCategory"] == "SCSITaskUserClientDevice"
    disk = io.IORegistryEntryCreateCFProperties(units[0x00])[1]
    assert "IOUserClientClass" not in disk


def test_pyscsi_reads_and_writes_a_write_once_unit_through_the_whole_stack(
    kernel: Kernel, tmp_path: Path
) -> None:
    """python-scsi, SCSITaskUserClient, the LUN nub, the parallel family, the Marvell
    driver, the emulated HBA, the target: INQUIRY picks SBC, READ CAPACITY(16) and
    WRITE(16) with FUA and READ(16) round-trip, the bytes are in the image, and a read
    past the end is a CHECK CONDITION with its sense."""
    service = logical_units(kernel)[0x04]
    payload = bytes((index * 29 + 3) & 0xFF for index in range(16 * BLOCK))
    with UserTask(kernel, "pyscsi") as task:
        device = UserClientDevice(service, task)
        scsi = SCSI(device, blocksize=BLOCK)
        assert device.devicetype == 0x04
        assert device.opcodes is sbc
        capacity = scsi.readcapacity16().result
        assert (capacity["returned_lba"], capacity["block_length"]) == (WORM_BLOCKS - 1, BLOCK)
        scsi.write16(1000, 16, payload, fua=1)  # through the unit's cache to the image
        assert scsi.read16(1000, 16).datain == payload
        with pytest.raises(device.CheckCondition) as caught:
            scsi.read16(WORM_BLOCKS, 1)
        assert (caught.value.data["sense_key"], caught.value.asc) == (5, 0x21)
        device.close()
    with open(tmp_path / "worm.img", "rb") as image:
        image.seek(1000 * BLOCK)
        assert image.read(16 * BLOCK) == payload


def test_pyscsi_inquires_of_the_tape(kernel: Kernel) -> None:
    """The tape answers INQUIRY as a sequential-access device through the user client."""
    service = logical_units(kernel)[0x01]
    with UserTask(kernel, "mt") as task:
        device = UserClientDevice(service, task)
        SCSI(device)
        assert device.devicetype == 0x01
        device.close()


def test_the_disk_is_a_device_node_with_its_data_on_the_image(
    kernel: Kernel, tmp_path: Path
) -> None:
    """list_disks names the SCSI disk; /dev/rdiskN writes (32 at once) and reads land
    on the disk image after fsync."""
    port = io.IOMainPort(kernel.registry, kernel)
    disks = [disk for disk in list_disks(port) if disk.whole]
    assert len(disks) == 1
    disk = disks[0]
    assert disk.size == 8 << 20
    assert disk.block_size == BLOCK
    with (
        UserTask(kernel, "dd", administrator=True) as task,
        open_device(task, disk.raw_path, os.O_RDWR) as device,
    ):
        if True:
            buffers = [task.vm_allocate(4096) for _ in range(32)]
            for index, buffer in enumerate(buffers):
                buffer.write(bytes([index]) * 4096)

            def main() -> None:
                ios = [
                    device.submit_write(buffer, (index + 10) * 4096)
                    for index, buffer in enumerate(buffers)
                ]
                task.wait_all(ios)
                assert [item.result() for item in ios] == [4096] * 32

            task.run(main)
            device.fsync()
            assert device.pread(4096, 20 * 4096) == bytes([10]) * 4096
    with open(tmp_path / "disk0.img", "rb") as image:
        image.seek(10 * 4096)
        assert image.read(32 * 4096) == b"".join(bytes([index]) * 4096 for index in range(32))
