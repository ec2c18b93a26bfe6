"""How the disk driver meets failures: each SCSI outcome reaches the client as the
IOReturn that says what happened, naming the device in the log, after the retries
that can help and none of those that cannot; a unit that is slow to become ready or
stopped is brought up; every scenario ends in bounded virtual time."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kextlab.families.scsi.block_commands import IOSCSIPeripheralDeviceType00
from kextlab.families.scsi.definitions import (
    kSCSICmd_READ_10,
    kSCSICmd_START_STOP_UNIT,
    kSCSICmd_TEST_UNIT_READY,
)
from kextlab.kernel.ioreturn import (
    kIOReturnBadArgument,
    kIOReturnBusy,
    kIOReturnIOError,
    kIOReturnNoDevice,
    kIOReturnSuccess,
    kIOReturnTimeout,
)
from kextlab.machine.scsi import sense
from kextlab.machine.scsi.constants import Status
from kextlab.machine.scsi.disk import DiskUnit
from kextlab.machine.scsi.request import SCSIRequest
from kextlab.sim.time import MILLISECOND, SECOND
from tests.families.scsi.peripheral.conftest import Bus, pattern, transfer

MIB = 1 << 20
BLOCK = 512


class FaultyDisk(DiskUnit):
    """A disk whose commands can be made to fail: ``bad_blocks`` fail every READ that
    touches them with MEDIUM ERROR (the first bad LBA in INFORMATION); ``answers``
    gives, per operation code, outcomes to use instead of running the next commands
    (a sense code for CHECK CONDITION, or a status)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.bad_blocks: range = range(0)
        self.answers: dict[int, deque[sense.SenseCode | Status]] = {}

    def execute(self, request: SCSIRequest) -> None:
        queue = self.answers.get(request.opcode)
        if queue:
            answer = queue.popleft()
            if isinstance(answer, Status):
                request.status = answer
            else:
                self.fail(request, answer)
            return
        if request.opcode == kSCSICmd_READ_10 and self.bad_blocks:
            lba = int.from_bytes(request.cdb[2:6], "big")
            count = int.from_bytes(request.cdb[7:9], "big")
            first = max(lba, self.bad_blocks.start)
            if first < min(lba + count, self.bad_blocks.stop):
                self.fail(request, sense.READ_ERROR, information=first)
                return
        super().execute(request)

    @classmethod
    def on(cls, path: Path, size: int = MIB) -> FaultyDisk:
        disk = cls.open("faulty", path, size=size)
        assert isinstance(disk, FaultyDisk)
        return disk


@pytest.fixture
def faulty(bus: Callable[..., Bus], tmp_path: Path) -> tuple[Bus, FaultyDisk]:
    unit = FaultyDisk.on(tmp_path / "disk.img")
    return bus({0: unit}), unit


def read(stack: Bus, block: int, blocks: int = 8) -> tuple[int, int, bytes]:
    return transfer(stack.kernel, stack.media(), block * BLOCK, blocks * BLOCK)


def test_a_medium_error_fails_the_read_with_an_io_error_naming_the_device(
    faulty: tuple[Bus, FaultyDisk],
) -> None:
    """MEDIUM ERROR (03/11/00) is retried four times, as Apple's services do, then
    reaches the client as kIOReturnIOError; the log names the device, the command
    and the LBA; the driver's statistics count the retries and the error."""
    stack, unit = faulty
    unit.bad_blocks = range(100, 104)
    before = len(stack.cdbs(kSCSICmd_READ_10))
    status, count, _ = read(stack, 96)
    assert (status, count) == (kIOReturnIOError, 0)
    assert len(stack.cdbs(kSCSICmd_READ_10)) - before == 5
    logged = [line for line in stack.log() if "MEDIUM ERROR" in line]
    assert len(logged) == 5
    assert logged[0] == (
        "IOSCSIPeripheralDeviceType00 (target 0, LUN 0: KEXTLAB KEXTLAB DISK): READ(10) of "
        "8 blocks at LBA 96: CHECK CONDITION, MEDIUM ERROR 03/11/00 (kIOReturnIOError)"
    )
    statistics = stack.statistics()
    assert statistics["Retries (Read)"] == 4
    assert statistics["Errors (Read)"] == 1
    assert read(stack, 200)[0] == kIOReturnSuccess  # the rest of the disk reads


@pytest.mark.parametrize(
    "answer",
    [
        sense.POWER_ON_RESET,  # UNIT ATTENTION 06/29/00
        sense.SCSI_BUS_RESET,  # UNIT ATTENTION 06/29/02
        sense.TRANSPORT_ERROR,  # ABORTED COMMAND 0B/4B/03
        sense.NOT_READY_BECOMING_READY,  # NOT READY 02/04/01
        Status.BUSY,
    ],
    ids=["power-on", "bus-reset", "transport", "becoming-ready", "busy"],
)
def test_a_transient_failure_is_retried_and_the_read_succeeds(
    faulty: tuple[Bus, FaultyDisk], answer: sense.SenseCode | Status
) -> None:
    """A unit attention, a transport error, a unit becoming ready or BUSY fails one
    READ; the retry succeeds and the client never sees it (one retry counted)."""
    stack, unit = faulty
    data = pattern(8 * BLOCK, seed=5)
    assert transfer(stack.kernel, stack.media(), 40 * BLOCK, data)[0] == kIOReturnSuccess
    unit.answers[kSCSICmd_READ_10] = deque([answer])
    status, count, got = read(stack, 40)
    assert (status, count, got) == (kIOReturnSuccess, len(data), data)
    assert stack.statistics()["Retries (Read)"] == 1


def test_an_outcome_no_retry_can_change_is_not_retried(faulty: tuple[Bus, FaultyDisk]) -> None:
    """ILLEGAL REQUEST (an LBA out of range) goes straight to the client as
    kIOReturnBadArgument: one READ, no retry."""
    stack, unit = faulty
    unit.answers[kSCSICmd_READ_10] = deque([sense.LBA_OUT_OF_RANGE])
    before = len(stack.cdbs(kSCSICmd_READ_10))
    assert read(stack, 0)[0] == kIOReturnBadArgument
    assert len(stack.cdbs(kSCSICmd_READ_10)) - before == 1
    assert stack.statistics()["Retries (Read)"] == 0


def test_a_persistently_busy_disk_fails_with_busy_after_the_retries(
    faulty: tuple[Bus, FaultyDisk],
) -> None:
    """BUSY five times in a row: four retries, then kIOReturnBusy."""
    stack, unit = faulty
    unit.answers[kSCSICmd_READ_10] = deque([Status.BUSY] * 5)
    assert read(stack, 0)[0] == kIOReturnBusy


def test_a_read_the_disk_never_answers_times_out_and_fails_with_timeout(
    faulty: tuple[Bus, FaultyDisk],
) -> None:
    """A READ that never completes ends at its 30 s timeout
    (TaskTimeoutOccurred), is retried four times, and fails kIOReturnTimeout after
    five timeouts of virtual time, no hang."""
    stack, _ = faulty
    stack.config.hang_opcodes.add(kSCSICmd_READ_10)
    start = stack.kernel.scheduler.now
    assert read(stack, 0)[0] == kIOReturnTimeout
    elapsed = stack.kernel.scheduler.now - start
    assert 5 * 30 * SECOND <= elapsed < 5 * 30 * SECOND + SECOND
    assert any("service delivery failure (task timeout)" in line for line in stack.log())
    stack.config.hang_opcodes.clear()
    assert read(stack, 0)[0] == kIOReturnSuccess  # the disk still works


def test_a_read_on_a_target_that_has_gone_fails_with_no_device_at_once(
    faulty: tuple[Bus, FaultyDisk],
) -> None:
    """The target vanishes (DeviceNotPresent): kIOReturnNoDevice, without retries."""
    stack, _ = faulty
    del stack.config.targets[0]
    before = len(stack.cdbs(kSCSICmd_READ_10))
    assert read(stack, 0)[0] == kIOReturnNoDevice
    assert len(stack.cdbs(kSCSICmd_READ_10)) - before == 1


def test_a_unit_becoming_ready_is_waited_for_at_start(
    bus: Callable[..., Bus], tmp_path: Path
) -> None:
    """TEST UNIT READY says NOT READY, BECOMING READY three times: the driver asks
    again every 200 ms and starts when the unit is ready."""
    unit = FaultyDisk.on(tmp_path / "disk.img")
    unit.answers[kSCSICmd_TEST_UNIT_READY] = deque([sense.NOT_READY_BECOMING_READY] * 4)
    stack = bus({0: unit})
    assert stack.media() is not None
    turs = stack.cdbs(kSCSICmd_TEST_UNIT_READY)
    assert len(turs) >= 4
    assert not unit.answers[kSCSICmd_TEST_UNIT_READY]


def test_a_stopped_unit_is_started_with_start_stop_unit(
    bus: Callable[..., Bus], tmp_path: Path
) -> None:
    """A stopped disk answers NOT READY, INITIALIZING COMMAND REQUIRED (02/04/02):
    the driver sends START STOP UNIT (START) and the disk comes up."""
    unit = DiskUnit.open("stopped", tmp_path / "disk.img", size=MIB)
    unit.started = False
    stack = bus({0: unit})
    assert unit.started
    start = stack.cdbs(kSCSICmd_START_STOP_UNIT)
    assert start
    assert start[0][4] & 0x01
    assert stack.media() is not None


def test_a_unit_that_never_becomes_ready_gets_no_driver_and_no_hang(
    bus: Callable[..., Bus], tmp_path: Path
) -> None:
    """NOT READY, BECOMING READY for ever: the driver gives up after its 30 s limit,
    logs it, and does not start; the machine is quiet, not stuck."""
    unit = FaultyDisk.on(tmp_path / "disk.img")
    unit.answers[kSCSICmd_TEST_UNIT_READY] = deque([sense.NOT_READY_BECOMING_READY] * 10_000)
    stack = bus({0: unit})
    assert stack.services(IOSCSIPeripheralDeviceType00) == []
    assert any("never became ready" in line for line in stack.log())
    assert stack.kernel.scheduler.now < 60 * SECOND + 100 * MILLISECOND
