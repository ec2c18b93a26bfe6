"""MarvellUMI.kext over time: hot-plug while I/O runs on another target, the
firmware's event list in the kernel log, the power-safe stop (cache flushes), a
termination with commands in flight, and concurrent clients under seeded
preemption."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kextlab.families.scsi.definitions import kSCSITaskStatus_GOOD
from kextlab.kernel.clock import IOSleep
from kextlab.machine.devices.mvumi import registers as chip
from kextlab.sim.time import MILLISECOND, SECOND
from kextlab.testing.umibench import ram_disk_target
from tests.kexts.marvell_umi_harness import (
    BLOCK,
    READ,
    Outcome,
    Target,
    TaskRunner,
    controller,
    device,
    load_kext,
    log_lines,
    machine_file,
    on_thread,
    pattern,
    read10,
    read_buffer,
    services,
    target_ids,
    umi_kernel,
    write_image,
)

DISK_SIZE = 8 << 20


def disk(tmp_path: Path, name: str = "disk0.img") -> bytes:
    data = pattern(DISK_SIZE)
    write_image(tmp_path, name, data)
    return data


def test_a_target_plugged_in_and_out_appears_and_goes_while_another_is_busy(
    tmp_path: Path,
) -> None:
    """Target 2 arrives one second in and leaves three seconds later, while a client
    reads target 0 every 20 ms: each bus change brings a rescan that creates, then
    destroys, target 2; every read of target 0 succeeds with the image's data."""
    data = disk(tmp_path)
    with umi_kernel(machine_file(tmp_path)) as kernel, kernel.entered():
        hba = kernel.machine.pci_function("hba0")
        now = kernel.scheduler.now
        hba.scsi_bus.attach(2, ram_disk_target("hot2", 2048), at=now + SECOND)
        hba.scsi_bus.detach(2, at=now + 4 * SECOND)
        runner = TaskRunner()
        buffer = read_buffer(8 * BLOCK)
        seen: list[list[int]] = []

        def client() -> list[Outcome]:
            outcomes = []
            lba = 0
            while kernel.scheduler.now < now + 7 * SECOND:
                outcome = runner.run(
                    device(kernel, 0), read10(lba, 8), buffer=buffer, direction=READ
                )
                assert bytes(buffer.getBytesNoCopy()) == data[lba * BLOCK : (lba + 8) * BLOCK]
                outcomes.append(outcome)
                seen.append(target_ids(kernel))
                lba = (lba + 8) % 8192
                IOSleep(20)
            return outcomes

        outcomes = on_thread(kernel, client)
        assert outcomes
        assert {outcome.status for outcome in outcomes} == {kSCSITaskStatus_GOOD}
        assert [0, 2] in seen
        assert seen[0] == seen[-1] == [0]
        assert target_ids(kernel) == [0]
        lines = log_lines(kernel)
        assert "MarvellUMI: target 2: KEXTLAB RAM DISK 0001" in lines
        assert "MarvellUMI: target 2 is gone" in lines
        assert any("device arrival (0x1) on device 2" in line for line in lines)
        assert any("device removal (0x2) on device 2" in line for line in lines)
        driver = controller(kernel)
        assert driver.statistics["Bus Changes"] == 2
        buffer.release()
        runner.close()


def test_hot_plug_times_in_the_machine_file_come_after_boot(tmp_path: Path) -> None:
    """A target the machine file plugs in at 2 s is not there at boot: booting stops
    when the machine is quiet, without running to the plug.  Running on past 2 s
    plugs it in, and the bus-change doorbell brings a rescan once the bus has
    settled (1 s), which creates it; at 5 s it is pulled out, and gone a settle
    later."""
    disk(tmp_path)
    plug = Target(2, extra={"attach_at_ns": 2 * SECOND, "detach_at_ns": 5 * SECOND})
    with umi_kernel(machine_file(tmp_path, (Target(0), plug))) as kernel:
        assert kernel.scheduler.now < 2 * SECOND
        assert target_ids(kernel) == [0]
        kernel.machine.run(3 * SECOND + 500 * MILLISECOND)
        assert target_ids(kernel) == [0, 2]
        kernel.machine.run(6 * SECOND + 500 * MILLISECOND)
        assert target_ids(kernel) == [0]
        assert controller(kernel).statistics["Bus Changes"] == 2


def test_a_burst_of_bus_changes_is_one_scan(tmp_path: Path) -> None:
    """Five targets plugged in within half a second: the rescan waits for the bus to
    settle and creates all five in one pass."""
    disk(tmp_path)
    with umi_kernel(machine_file(tmp_path)) as kernel:
        hba = kernel.machine.pci_function("hba0")
        management = controller(kernel).management
        scans = management.scans
        now = kernel.scheduler.now
        for index, target in enumerate((4, 6, 7, 9, 12)):
            hba.scsi_bus.attach(
                target, ram_disk_target(f"burst{target}", 64), at=now + index * 100 * MILLISECOND
            )
        kernel.machine.run_for(3 * SECOND)
        assert target_ids(kernel) == [0, 4, 6, 7, 9, 12]
        assert management.scans == scans + 1


def test_firmware_events_are_read_and_logged(tmp_path: Path) -> None:
    """An event the firmware posts rings DRBL_EVENT_NOTIFY; the driver fetches the
    list with F4 00 and logs each event with its name and severity (the arrival of
    target 0 at power-on was still in the list: nothing rang for it then)."""
    disk(tmp_path)
    with umi_kernel(machine_file(tmp_path)) as kernel:
        hba = kernel.machine.pci_function("hba0")
        hba.firmware.post_event(chip.EventId.DEVICE_ERROR, chip.EventSeverity.ERROR, 3)
        kernel.machine.run_for(SECOND)
        assert controller(kernel).statistics["Events"] == 2
        events = [line for line in log_lines(kernel) if line.startswith("MarvellUMI: event ")]
        assert events == [
            "MarvellUMI: event 1: device arrival (0x1) on device 0, info",
            "MarvellUMI: event 2: device error (0x10) on device 3, error",
        ]
        assert len(hba.firmware.events) == 0


def test_stopping_flushes_every_present_target_and_masks_the_chip(tmp_path: Path) -> None:
    """Terminating the driver sends E1 01 0B to each target it created, then masks the
    chip's causes; no command is left in flight and the firmware holds none."""
    disk(tmp_path)
    targets = [Target(0), Target(4, "cdrom"), Target(6, "tape", image="tape6.aws")]
    with umi_kernel(machine_file(tmp_path, targets)) as kernel:
        driver = controller(kernel)
        statistics = driver.statistics
        hba = kernel.machine.pci_function("hba0")
        with kernel.entered():
            assert driver.terminate()
        kernel.machine.run_for(SECOND)
        assert statistics["Cache Flushes"] == 3
        assert hba.registers["enpointa_mask_reg"] == 0
        assert hba.firmware.unit is not None
        assert hba.firmware.unit.in_flight == 0
        assert target_ids(kernel) == []


def test_terminating_with_commands_in_flight_finishes_every_one_cleanly(
    tmp_path: Path,
) -> None:
    """Twenty slow reads in flight when the driver is terminated: every client's task
    completes (none hangs), the firmware answers everything it holds before the
    cache flush, the driver and its targets go, and the leak check at the end finds
    nothing left behind."""
    disk(tmp_path)
    path = machine_file(tmp_path, faults={"delay_ns": 20 * MILLISECOND})
    with umi_kernel(path) as kernel, kernel.entered():
        driver = controller(kernel)
        runner = TaskRunner()
        buffers = [read_buffer(8 * BLOCK) for _ in range(20)]
        target = device(kernel, 0)
        tasks = [
            runner.start(target, read10(index * 8, 8), buffer=buffer, direction=READ)
            for index, buffer in enumerate(buffers)
        ]
        unit = kernel.machine.pci_function("hba0").firmware.unit
        at_flush: list[int] = []
        marvell_command = unit._marvell_command

        def flush_spy(frame: Any) -> None:
            at_flush.append(unit.in_flight - 1)  # besides the flush itself
            marvell_command(frame)

        unit._marvell_command = flush_spy
        kernel.machine.run_for(5 * MILLISECOND)
        assert driver.terminate()

        def wait_all() -> list[Outcome]:
            return [runner.wait(task) for task in tasks]

        outcomes = on_thread(kernel, wait_all)
        assert len(outcomes) == 20
        kernel.machine.run_for(SECOND)
        assert target_ids(kernel) == []
        assert driver.isInactive()
        assert driver.path is None  # stopped and terminated
        assert driver.statistics["Cache Flushes"] == 1
        assert at_flush == [0]
        assert unit.in_flight == 0
        for buffer in buffers:
            buffer.release()
        runner.close()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_concurrent_clients_under_seeded_preemption_get_their_own_data(
    tmp_path: Path, seed: int
) -> None:
    """Four client threads read different parts of two disks at once, with the
    scheduler preempting at random (seeded) points: every read returns its blocks."""
    first = disk(tmp_path, "disk0.img")
    second = pattern(DISK_SIZE, seed=0x77)
    write_image(tmp_path, "disk1.img", second)
    path = machine_file(tmp_path, [Target(0), Target(1)])
    with umi_kernel(path, seed=seed, preemption="seeded") as kernel, kernel.entered():
        runner = TaskRunner()
        images = {0: first, 1: second}

        def client(number: int) -> int:
            target_id = number % 2
            image = images[target_id]
            buffer = read_buffer(16 * BLOCK)
            good = 0
            for round_ in range(15):
                lba = (number * 997 + round_ * 64) % 8000
                outcome: Any = runner.run(
                    device(kernel, target_id), read10(lba, 16), buffer=buffer, direction=READ
                )
                if (
                    outcome.status == kSCSITaskStatus_GOOD
                    and bytes(buffer.getBytesNoCopy()) == image[lba * BLOCK : (lba + 16) * BLOCK]
                ):
                    good += 1
            buffer.release()
            return good

        threads = [
            kernel.scheduler.spawn(lambda n=number: client(n), name=f"client {number}")
            for number in range(4)
        ]
        assert all(thread.join() for thread in threads)
        assert [thread.result for thread in threads] == [15] * 4
        runner.close()


def test_terminating_in_the_middle_of_the_first_scan_waits_for_it_and_leaves_nothing(
    tmp_path: Path,
) -> None:
    """The driver is terminated while its thread is still scanning (creating target
    0's nub): willTerminate lets the thread finish that step and stop, the family
    then destroys what was made, no later target is created, and nothing is left
    (the leak check at the end)."""
    disk(tmp_path)
    targets = [Target(0), Target(7, "cdrom"), Target(13, "disk", image="disk13.img")]
    with umi_kernel(machine_file(tmp_path, targets), load=False) as kernel:
        terminated: list[Any] = []

        def terminator() -> None:
            while not services(kernel, "MarvellUMI"):
                IOSleep(1)
            IOSleep(30)  # the scan is creating target 0
            driver = controller(kernel)
            assert driver.management.scans == 1
            assert 0 not in driver.present
            assert driver.terminate()
            terminated.append(driver)

        with kernel.entered():
            kernel.scheduler.spawn(terminator, name="terminator")
        load_kext(kernel)
        kernel.machine.run_for(5 * SECOND)
        (driver,) = terminated
        assert driver.isInactive()
        assert driver.path is None
        assert target_ids(kernel) == []
        lines = log_lines(kernel)
        assert not any(
            line.startswith(("MarvellUMI: target 7", "MarvellUMI: target 13")) for line in lines
        )
