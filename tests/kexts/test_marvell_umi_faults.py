"""MarvellUMI.kext under the emulator's faults: each kind reaches the family as the
right completion (service response, status, sense, realized count); dropped commands
time out, and repeated timeouts or a chip that reads all ones end in a soft reset,
a new handshake and a bus-reset notice, after which I/O works again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kextlab.families.scsi.definitions import (
    kSCSIServiceResponse_SERVICE_DELIVERY_OR_TARGET_FAILURE,
    kSCSIServiceResponse_TASK_COMPLETE,
    kSCSITaskStatus_BUSY,
    kSCSITaskStatus_CHECK_CONDITION,
    kSCSITaskStatus_DeliveryFailure,
    kSCSITaskStatus_DeviceNotPresent,
    kSCSITaskStatus_GOOD,
    kSCSITaskStatus_TaskTimeoutOccurred,
)
from kextlab.families.scsi.parallel.characteristics import kSCSIControllerNotificationBusReset
from kextlab.kernel.clock import IOSleep
from kextlab.machine.pci import registers as pci_registers
from kextlab.machine.scsi.faults import FaultRule
from kextlab.sim.time import MILLISECOND, SECOND
from tests.kexts.marvell_umi_harness import (
    BLOCK,
    READ,
    TEST_UNIT_READY,
    Outcome,
    TaskRunner,
    controller,
    device,
    log_lines,
    machine_file,
    on_thread,
    pattern,
    read10,
    read_buffer,
    target_ids,
    umi_kernel,
    write_image,
)

DISK_SIZE = 8 << 20
LBA, BLOCKS = 100, 8
READ_10 = 0x28


def setup(tmp_path: Path, model: str = "mvumi9143", **faults: Any) -> tuple[str, bytes]:
    data = pattern(DISK_SIZE)
    write_image(tmp_path, "disk0.img", data)
    return machine_file(tmp_path, model=model, faults=faults), data


def inject(kernel: Any, **table: Any) -> FaultRule:
    """A rule as a ``[[scsi_faults.rule]]`` table would give it, added now that the
    driver and the storage stack above it have finished their own start-up I/O."""
    rule = FaultRule.from_table(table, "test rule")
    return kernel.machine.scsi_faults.add_rule(rule)


def faults_injected(kernel: Any) -> list[str]:
    return [record.fault for record in kernel.machine.scsi_faults.records]


def clear_unit_attention(kernel: Any) -> Outcome:
    """TEST UNIT READY to target 0: after a bus reset the disk reports it once (UNIT
    ATTENTION 29/02), as every SCSI device does; peripheral drivers retry on it."""
    with kernel.entered():
        runner = TaskRunner()
        outcome = on_thread(kernel, lambda: runner.run(device(kernel, 0), TEST_UNIT_READY))
        runner.close()
    assert outcome.sense_code == (0x6, 0x29, 0x02)
    return outcome


def read_once(kernel: Any, *, timeout_ms: int = 5_000) -> tuple[Outcome, bytes]:
    """One READ(10) of BLOCKS blocks at LBA to target 0: the outcome and the buffer."""
    with kernel.entered():
        runner = TaskRunner()
        buffer = read_buffer(BLOCKS * BLOCK)

        def work() -> Outcome:
            return runner.run(
                device(kernel, 0),
                read10(LBA, BLOCKS),
                buffer=buffer,
                direction=READ,
                timeout_ms=timeout_ms,
            )

        outcome = on_thread(kernel, work)
        data = bytes(buffer.getBytesNoCopy())
        buffer.release()
        runner.close()
    return outcome, data


def expected(data: bytes) -> bytes:
    return data[LBA * BLOCK : (LBA + BLOCKS) * BLOCK]


def test_a_medium_error_is_check_condition_with_its_sense_and_nothing_moved(
    tmp_path: Path,
) -> None:
    """MEDIUM ERROR 03/11/00 reaches the task as CHECK CONDITION, TASK_COMPLETE, with
    the 18 bytes of sense (the first bad LBA in INFORMATION) and no bytes realized."""
    path, _ = setup(tmp_path)
    with umi_kernel(path) as kernel:
        inject(kernel, action="medium-error", target=0, lba=102, count=1)
        outcome, _ = read_once(kernel)
    assert outcome.response == kSCSIServiceResponse_TASK_COMPLETE
    assert outcome.status == kSCSITaskStatus_CHECK_CONDITION
    assert outcome.sense_code == (0x3, 0x11, 0x00)
    assert outcome.sense is not None
    assert outcome.sense[0] & 0x80  # VALID: INFORMATION holds the LBA
    assert int.from_bytes(outcome.sense[3:7], "big") == 102
    assert outcome.realized == 0


def test_a_transport_error_is_aborted_command_sense(tmp_path: Path) -> None:
    """The bus loses the command (ACK/NAK timeout): ABORTED COMMAND 0B/4B/03, a
    retryable CHECK CONDITION, no data."""
    path, _ = setup(tmp_path)
    with umi_kernel(path) as kernel:
        inject(kernel, action="transport-error", target=0, opcode=READ_10, count=1)
        outcome, data = read_once(kernel)
    assert (outcome.response, outcome.status) == (
        kSCSIServiceResponse_TASK_COMPLETE,
        kSCSITaskStatus_CHECK_CONDITION,
    )
    assert outcome.sense_code == (0xB, 0x4B, 0x03)
    assert outcome.realized == 0
    assert data == b"\xee" * len(data)


def test_busy_passes_up_as_a_status_without_sense(tmp_path: Path) -> None:
    """BUSY is a SCSI status: TASK_COMPLETE with BUSY, no sense, for the client to
    retry."""
    path, _ = setup(tmp_path)
    with umi_kernel(path) as kernel:
        inject(kernel, action="busy", target=0, opcode=READ_10, count=1)
        outcome, _ = read_once(kernel)
    assert (outcome.response, outcome.status) == (
        kSCSIServiceResponse_TASK_COMPLETE,
        kSCSITaskStatus_BUSY,
    )
    assert outcome.sense is None
    assert outcome.realized == 0


def test_task_set_full_is_passed_up_and_the_family_resends(tmp_path: Path) -> None:
    """TASK SET FULL goes to the family as a status; its target nub resends the task,
    which then reads the image."""
    path, data = setup(tmp_path)
    with umi_kernel(path) as kernel:
        inject(kernel, action="task-set-full", target=0, opcode=READ_10, count=1)
        completions = controller(kernel).statistics["Completions"]
        outcome, read = read_once(kernel)
        injected = faults_injected(kernel)
        completions = controller(kernel).statistics["Completions"] - completions
    assert outcome.status == kSCSITaskStatus_GOOD
    assert read == expected(data)
    assert injected == ["rule: task-set-full"]
    assert completions == 2  # the TASK SET FULL answer and the resent command's


def test_a_recovered_error_delivers_the_data_and_reports_the_warning(tmp_path: Path) -> None:
    """RECOVERED ERROR 01/5D/00: the command completed, so every byte is realized and
    the data is the image's; the sense still reaches the client."""
    path, data = setup(tmp_path)
    with umi_kernel(path) as kernel:
        inject(kernel, action="recovered-error", target=0, opcode=READ_10, count=1)
        outcome, read = read_once(kernel)
    assert outcome.status == kSCSITaskStatus_CHECK_CONDITION
    assert outcome.sense_code == (0x1, 0x5D, 0x00)
    assert outcome.realized == BLOCKS * BLOCK
    assert read == expected(data)


def test_a_short_transfer_looks_complete_because_mvumi_reports_no_residual(
    tmp_path: Path,
) -> None:
    """The target moves half the blocks and says GOOD; the response frame has no
    residual field, so the driver can only report the whole count (as Linux's mvumi
    does).  The first half is the image's, the rest of the buffer is untouched."""
    path, data = setup(tmp_path)
    with umi_kernel(path) as kernel:
        inject(kernel, action="short-transfer", target=0, opcode=READ_10, count=1)
        outcome, read = read_once(kernel)
    assert outcome.status == kSCSITaskStatus_GOOD
    assert outcome.realized == BLOCKS * BLOCK
    half = BLOCKS // 2 * BLOCK
    assert read[:half] == expected(data)[:half]
    assert read[half:] == b"\xee" * half


def test_a_target_that_drops_off_the_bus_is_not_present_and_goes_away(tmp_path: Path) -> None:
    """The command meets an empty ID (the firmware says LUN 0 not supported): the task
    ends DeviceNotPresent, and the rescan the bus change asks for destroys the
    target."""
    path, _ = setup(tmp_path)
    with umi_kernel(path) as kernel:
        inject(kernel, action="drop-off-bus", target=0, opcode=READ_10, count=1)
        outcome, _ = read_once(kernel)
        kernel.machine.run_for(3 * SECOND)
        assert outcome.response == kSCSIServiceResponse_SERVICE_DELIVERY_OR_TARGET_FAILURE
        assert outcome.status == kSCSITaskStatus_DeviceNotPresent
        assert target_ids(kernel) == []
        assert controller(kernel).present == set()
        assert "MarvellUMI: target 0 is gone" in log_lines(kernel)


def test_one_dropped_command_times_out_and_the_next_one_works(tmp_path: Path) -> None:
    """The firmware never answers one READ: after its 200 ms the task ends
    TaskTimeoutOccurred (a service-delivery failure); no reset for a single loss, the
    tag stays out of use, and the next READ reads the image."""
    path, data = setup(tmp_path)
    with umi_kernel(path) as kernel:
        inject(kernel, action="timeout", target=0, opcode=READ_10, count=1)
        start = kernel.scheduler.now
        outcome, _ = read_once(kernel, timeout_ms=200)
        waited = kernel.scheduler.now - start
        again, read = read_once(kernel)
        driver = controller(kernel)
        assert outcome.response == kSCSIServiceResponse_SERVICE_DELIVERY_OR_TARGET_FAILURE
        assert outcome.status == kSCSITaskStatus_TaskTimeoutOccurred
        assert waited == pytest.approx(200 * MILLISECOND, abs=60 * MILLISECOND)
        assert again.status == kSCSITaskStatus_GOOD
        assert read == expected(data)
        assert driver.statistics["Timeouts"] == 1
        assert driver.statistics["Resets"] == 0
        assert driver.path.lost_tags == 1
        assert "MarvellUMI: command 28 to target 0 timed out after 200 ms" in log_lines(kernel)


@pytest.mark.parametrize("model", ["mvumi9143", "mvumi9580"])
def test_repeated_timeouts_reset_the_controller_and_io_resumes(tmp_path: Path, model: str) -> None:
    """Two READs in a row are dropped: the second timeout escalates to a reset
    (DRBL_SOFT_RESET on the 9143, the reset registers on the 9580) and a new
    handshake, the lost tags come back, and the third READ reads the image."""
    path, data = setup(tmp_path, model)
    with umi_kernel(path) as kernel:
        inject(kernel, action="timeout", target=0, opcode=READ_10, count=2)
        first, _ = read_once(kernel, timeout_ms=200)
        second, _ = read_once(kernel, timeout_ms=200)
        kernel.machine.run_for(2 * SECOND)
        clear_unit_attention(kernel)
        third, read = read_once(kernel)
        driver = controller(kernel)
        lines = log_lines(kernel)
        assert first.status == second.status == kSCSITaskStatus_TaskTimeoutOccurred
        assert third.status == kSCSITaskStatus_GOOD
        assert read == expected(data)
        assert driver.statistics["Resets"] == 1
        assert driver.path.lost_tags == 0
        assert "MarvellUMI: resetting the controller: 2 commands timed out in a row" in lines
        assert "MarvellUMI: the controller is back (firmware 1.1.0.2011)" in lines
        assert target_ids(kernel) == [0]
        hba = kernel.machine.pci_function("hba0")
        assert hba.firmware.state.name == "RUNNING"


def test_a_reset_fails_what_the_firmware_held_and_sends_what_was_waiting(
    tmp_path: Path,
) -> None:
    """A reset while a slow command is in the firmware: that command ends
    DeliveryFailure (the firmware forgot it); one that arrives during the reset
    waits and goes out afterwards, meeting the disk's bus-reset unit attention;
    NotifyClientsOfBusReset tells the targets."""
    path, data = setup(tmp_path, delay_ns=50 * MILLISECOND)
    with umi_kernel(path) as kernel, kernel.entered():
        driver = controller(kernel)
        runner = TaskRunner()
        held = read_buffer(BLOCKS * BLOCK)
        later = read_buffer(BLOCKS * BLOCK)
        notified: list[int] = []
        target_device = device(kernel, 0)
        original = target_device.message

        def message(type: int, provider: Any, argument: object = None) -> int:
            notified.append(type)
            return int(original(type, provider, argument))

        target_device.message = message  # type: ignore[method-assign]

        def work() -> tuple[Outcome, Outcome, bool]:
            first = runner.start(target_device, read10(LBA, BLOCKS), buffer=held, direction=READ)
            driver.management.request_reset("test")
            IOSleep(10)
            resetting = driver.path.resetting
            second = runner.start(target_device, read10(LBA, BLOCKS), buffer=later, direction=READ)
            return runner.wait(first), runner.wait(second), resetting

        first, second, resetting = on_thread(kernel, work)
        assert resetting
        assert first.response == kSCSIServiceResponse_SERVICE_DELIVERY_OR_TARGET_FAILURE
        assert first.status == kSCSITaskStatus_DeliveryFailure
        assert second.response == kSCSIServiceResponse_TASK_COMPLETE
        assert second.sense_code == (0x6, 0x29, 0x02)
        assert kSCSIControllerNotificationBusReset in notified
        third, read = read_once(kernel)
        assert third.status == kSCSITaskStatus_GOOD
        assert read == expected(data)
        held.release()
        later.release()
        runner.close()


def test_a_chip_that_reads_all_ones_is_reset_and_comes_back(tmp_path: Path) -> None:
    """Memory decoding switched off behind the driver's back: registers read all
    ones, the command times out, the driver sees a dead chip, re-enables the device,
    resets it and shakes hands again; I/O works afterwards."""
    path, data = setup(tmp_path)
    with umi_kernel(path) as kernel:
        hba = kernel.machine.pci_function("hba0")
        assert hba.bus is not None
        address = (hba.bus.number, hba.device_number, hba.function_number)
        command = kernel.machine.config_read(*address, pci_registers.COMMAND, 2)
        kernel.machine.config_write(
            *address, pci_registers.COMMAND, 2, command & ~pci_registers.COMMAND_MEMORY
        )
        lost, _ = read_once(kernel, timeout_ms=100)
        kernel.machine.run_for(2 * SECOND)
        clear_unit_attention(kernel)
        back, read = read_once(kernel)
        assert lost.status == kSCSITaskStatus_TaskTimeoutOccurred
        assert back.status == kSCSITaskStatus_GOOD
        assert read == expected(data)
        assert "MarvellUMI: resetting the controller: the chip reads all ones" in log_lines(kernel)


def test_a_firmware_slow_to_reboot_is_waited_for_by_a_second_attempt(tmp_path: Path) -> None:
    """The firmware reboots (45 s) just as a reset begins: the first handshake gives up
    after 30 s, the second catches the firmware when it is ready, and I/O resumes."""
    path, data = setup(tmp_path)
    with umi_kernel(path) as kernel:
        driver = controller(kernel)
        hba = kernel.machine.pci_function("hba0")
        hba.firmware.settings = type(hba.firmware.settings)(
            hba.firmware.settings.capabilities, hba.firmware.settings.latency_ns, 45 * SECOND
        )
        with kernel.entered():
            hba.firmware.soft_reset("the test")
            driver.management.request_reset("the firmware rebooted")
        kernel.machine.run_for(60 * SECOND)
        clear_unit_attention(kernel)
        outcome, read = read_once(kernel)
        lines = log_lines(kernel)
        assert outcome.status == kSCSITaskStatus_GOOD
        assert read == expected(data)
        not_ready = "the firmware is not ready after 30 s (msg1 0x00000000)"
        assert lines.count(f"MarvellUMI: handshake failed: {not_ready}") == 1
        assert "MarvellUMI: the controller is back (firmware 1.1.0.2011)" in lines
        assert not driver.path.failed


def test_a_controller_that_never_comes_back_fails_every_task_cleanly(tmp_path: Path) -> None:
    """A firmware that keeps rebooting: three reset attempts fail, the controller is
    out of service, and tasks fail at once with a delivery failure instead of
    hanging."""
    path, _ = setup(tmp_path)
    with umi_kernel(path) as kernel:
        driver = controller(kernel)
        hba = kernel.machine.pci_function("hba0")
        hba.firmware.settings = type(hba.firmware.settings)(
            hba.firmware.settings.capabilities, hba.firmware.settings.latency_ns, 20 * SECOND
        )
        scheduler = kernel.scheduler
        for index in range(8):  # a reboot every 15 s: never READY for two minutes
            scheduler.at(
                scheduler.now + index * 15 * SECOND,
                lambda: hba.firmware.soft_reset("crash loop"),
                "firmware crash",
            )
        with kernel.entered():
            driver.management.request_reset("the firmware crashed")
        kernel.machine.run_for(120 * SECOND)
        assert driver.path.failed
        assert "MarvellUMI: the controller did not come back; it is out of service" in log_lines(
            kernel
        )
        start = kernel.scheduler.now
        outcome, _ = read_once(kernel)
        assert outcome.response == kSCSIServiceResponse_SERVICE_DELIVERY_OR_TARGET_FAILURE
        assert kernel.scheduler.now - start < MILLISECOND


def test_a_firmware_that_crashed_is_found_by_its_silence_and_reset(tmp_path: Path) -> None:
    """The firmware reboots on its own (it forgets the lists and rings nothing): the
    next commands go unanswered, two timeouts bring the reset and the handshake, and
    I/O works again."""
    path, data = setup(tmp_path)
    with umi_kernel(path) as kernel:
        with kernel.entered():
            kernel.machine.pci_function("hba0").firmware.soft_reset("a firmware crash")
        first, _ = read_once(kernel, timeout_ms=100)
        second, _ = read_once(kernel, timeout_ms=100)
        kernel.machine.run_for(2 * SECOND)
        clear_unit_attention(kernel)
        third, read = read_once(kernel)
        assert first.status == second.status == kSCSITaskStatus_TaskTimeoutOccurred
        assert third.status == kSCSITaskStatus_GOOD
        assert read == expected(data)
        assert controller(kernel).statistics["Resets"] == 1
