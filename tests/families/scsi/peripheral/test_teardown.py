"""Taking the peripheral drivers down: terminating the HBA stops and frees every
driver, nub, task, command-set object and poll above it, even while the CD drive is
polling and a read is stuck in the disk, whose client gets an error, not a hang."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from kextlab.families.scsi.compact_disc_services import IOCompactDiscServices
from kextlab.families.scsi.definitions import kSCSICmd_READ_10, kSCSICmd_TEST_UNIT_READY
from kextlab.families.scsi.multimedia_commands import IOSCSIPeripheralDeviceType05
from kextlab.families.storage.media import IOMedia
from kextlab.families.storage.storage import IOStorageCompletion, kIOStorageAccessReader
from kextlab.kernel.ioreturn import kIOReturnSuccess
from kextlab.kernel.memory.buffer import IOBufferMemoryDescriptor
from kextlab.kernel.memory.options import kIODirectionIn
from kextlab.kernel.memory.refs import BoolRef
from kextlab.machine.scsi.cdrom import CDROMUnit
from kextlab.machine.scsi.disk import DiskUnit
from kextlab.sim.time import SECOND
from tests.families.scsi.peripheral.conftest import Bus, MediaClient
from tests.families.scsi.soft_hba import on_thread

PERIPHERAL_CLASSES = (
    "IOSCSIPeripheralDeviceType00",
    "IOSCSIPeripheralDeviceType05",
    "IOBlockStorageServices",
    "IOCompactDiscServices",
    "SCSIPrimaryCommands",
    "SCSIBlockCommands",
    "SCSIMultimediaCommands",
    "SCSITask",
)


def test_terminating_the_hba_frees_every_peripheral_object_with_a_read_in_flight(
    bus: Callable[..., Bus], tmp_path: Path
) -> None:
    """A disk with a READ the target never answers and an empty CD drive that is
    polling: terminating the HBA ends the READ with an error, stops the poll, and
    leaves no instance of any peripheral class, no pending thread call."""
    stack = bus(
        {0: DiskUnit.open("disk0", tmp_path / "disk.img", size=1 << 20), 1: CDROMUnit("cd0")}
    )
    kernel = stack.kernel
    counts = kernel.classes.instance_counts()
    assert all(counts[name] > 0 for name in PERIPHERAL_CLASSES[:6])
    media = stack.media()
    outcome: list[int] = []
    client = MediaClient()
    client.init()
    buffer = IOBufferMemoryDescriptor.withCapacity(4096, kIODirectionIn)
    assert buffer is not None
    stack.config.hang_opcodes.add(kSCSICmd_READ_10)

    def start_read() -> None:
        media.retain()
        assert media.open(client, 0, kIOStorageAccessReader)
        media.read(
            client,
            0,
            buffer,
            None,
            IOStorageCompletion(None, lambda _t, _p, status, _c: outcome.append(status)),
        )

    on_thread(kernel, start_read)
    kernel.scheduler.run(kernel.scheduler.now + SECOND)
    assert outcome == []  # stuck in the target
    assert stack.hba.terminate()
    kernel.scheduler.run(kernel.scheduler.now + SECOND)
    on_thread(kernel, lambda: media.close(client))  # the "file system" lets go
    kernel.scheduler.run(kernel.scheduler.now + 5 * SECOND)
    assert len(outcome) == 1
    assert outcome[0] != kIOReturnSuccess
    media.release()
    client.release()
    buffer.release()
    kernel.scheduler.run(kernel.scheduler.now + SECOND)
    counts = kernel.classes.instance_counts()
    assert {name: counts[name] for name in PERIPHERAL_CLASSES} == dict.fromkeys(
        PERIPHERAL_CLASSES, 0
    )
    assert stack.services(IOMedia) == []
    assert kernel.scheduler.pending() == []  # no poll left behind


def test_stop_waits_for_a_synchronous_command_in_flight_before_the_gate_goes(
    bus: Callable[..., Bus], tmp_path: Path
) -> None:
    """The CD poller is blocked in a TEST UNIT READY the drive never answers when the
    HBA is terminated: the driver's stop waits in the gate until the command ends (at
    its 10 s timeout), then finishes; nothing is left behind."""
    stack = bus({0: CDROMUnit("cd0")})
    kernel = stack.kernel
    driver = stack.one(IOSCSIPeripheralDeviceType05)
    stack.config.hang_opcodes.add(kSCSICmd_TEST_UNIT_READY)
    nub = stack.one(IOCompactDiscServices)
    on_thread(kernel, lambda: nub.reportMediaState(BoolRef()))  # polling again
    kernel.scheduler.run(kernel.scheduler.now + 2 * SECOND)  # a poll is now stuck
    assert driver._synchronous_waiters == 1
    started = kernel.scheduler.now
    assert stack.hba.terminate()
    kernel.scheduler.run(kernel.scheduler.now + 30 * SECOND)
    assert driver.isInactive()
    assert driver._synchronous_waiters == 0
    assert kernel.scheduler.now - started >= 8 * SECOND  # the stop did wait
    counts = kernel.classes.instance_counts()
    assert {name: counts[name] for name in PERIPHERAL_CLASSES} == dict.fromkeys(
        PERIPHERAL_CLASSES, 0
    )
    assert kernel.scheduler.pending() == []
