"""MarvellUMI.kext: loading and matching on both chips, the handshake's values as
properties, the bus scan, and I/O through the family's SCSI tasks with the data
checked against the image, on 64-bit (buffers above 4 GiB, no bounce) and 32-bit
kernels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kextlab.families.scsi.definitions import (
    kSCSIServiceResponse_SERVICE_DELIVERY_OR_TARGET_FAILURE,
    kSCSIServiceResponse_TASK_COMPLETE,
    kSCSITaskStatus_GOOD,
)
from kextlab.kernel.libkern.convert import to_user
from kextlab.kernel.memory.descriptor import IOMemoryDescriptor
from kextlab.kernel.memory.kernel_memory import kernel_memory
from kextlab.kernel.memory.options import kIODirectionIn
from kextlab.testing.kernel import booted_kernel
from tests.kexts.marvell_umi_harness import (
    BLOCK,
    FOUR_GIB,
    READ,
    TEST_UNIT_READY,
    WRITE,
    Target,
    TaskRunner,
    controller,
    device,
    load_kext,
    log_lines,
    machine_file,
    on_thread,
    pattern,
    physical,
    read10,
    read_buffer,
    services,
    target_ids,
    umi_kernel,
    write10,
    write_buffer,
    write_image,
)

DISK_SIZE = 8 << 20


def disk_image(directory: Path, name: str = "disk0.img", seed: int = 0) -> bytes:
    """A disk image with a pattern in every block; its contents."""
    data = pattern(DISK_SIZE, seed)
    write_image(directory, name, data)
    return data


def prop(service: Any, key: str) -> Any:
    value = service.getProperty(key)
    assert value is not None, key
    return to_user(value)


@pytest.mark.parametrize("model", ["mvumi9143", "mvumi9580"])
def test_the_kext_matches_both_chips_and_scans_their_buses(tmp_path: Path, model: str) -> None:
    """IOPCIMatch takes the 9143 (registers in BAR0) and the 9580 (BAR2, other offsets,
    no ob_shadow): the handshake runs and the scan creates the disk's target."""
    disk_image(tmp_path)
    with umi_kernel(machine_file(tmp_path, model=model)) as kernel:
        driver = controller(kernel)
        assert driver.getProvider().getClassName() == "IOPCIDevice"
        assert target_ids(kernel) == [0]
        firmware = prop(driver, "Marvell UMI Firmware")
        assert firmware["Chip"] == ("88SE9143" if model == "mvumi9143" else "88SE9580")
        characteristics = prop(driver, "Controller Characteristics")
        assert characteristics["Vendor Name"] == "Marvell"
        assert characteristics["Product Name"] == firmware["Chip"]


def test_as_a_local_root_driver_it_loads_at_boot_when_its_hardware_is_there(
    tmp_path: Path,
) -> None:
    """OSBundleRequired = Local-Root: the standard boot loads the kext for the HBA it
    finds, and the targets are there by the time the machine is quiet."""
    disk_image(tmp_path)
    with booted_kernel(machine_file(tmp_path)) as kernel:
        assert kernel.kexts.find("com.kextlab.driver.MarvellUMI") is not None
        assert target_ids(kernel) == [0]


def test_every_report_comes_from_page_one_of_the_firmware(tmp_path: Path) -> None:
    """A firmware with other limits (8 devices, 32 commands, 256 KiB transfers,
    256-byte inbound entries): the initiator ID, the task pool, the segment and
    transfer limits and the published page all follow it."""
    disk_image(tmp_path)
    params = {
        "max_targets": 8,
        "queue_depth": 32,
        "max_transfer": "256K",
        "inbound_frame_size": "256",
        "outbound_frame_size": "64",
    }
    with umi_kernel(machine_file(tmp_path, params=params)) as kernel:
        driver = controller(kernel)
        assert prop(driver, "SCSI Initiator Identifier") == 8
        assert driver.ReportHighestSupportedDeviceID() == 7
        assert prop(driver, "IOCommandPoolSize") == 31  # max_io - 1
        assert prop(driver, "Manages Targets") is True
        assert prop(driver, "IOMaximumSegmentCountRead") == (256 - 32) // 16
        assert prop(driver, "IOMaximumSegmentCountWrite") == 14
        assert prop(driver, "IOMaximumSegmentByteCountRead") == 256 << 10
        assert prop(driver, "IOMaximumSegmentAddressableBitCount") == 64
        assert prop(driver, "IOMinimumSegmentAlignmentByteCount") == 4
        assert prop(driver, "IOMaximumByteCountRead") == 256 << 10
        assert prop(driver, "IOMaximumBlockCountWrite") == 512
        firmware = prop(driver, "Marvell UMI Firmware")
        assert firmware["Max Devices Support"] == 8
        assert firmware["Max IO Support"] == 32
        assert firmware["Inbound Entry Size"] == 256
        assert firmware["Outbound Entry Size"] == 64
        assert firmware["Firmware Version"] == "1.1.0.2011"
        started = [line for line in log_lines(kernel) if "firmware 1.1.0.2011" in line]
        assert started == [
            "MarvellUMI: Marvell 88SE9143, firmware 1.1.0.2011: 8 devices, 32 commands, "
            "262144-byte transfers, 14 SG entries"
        ]


def test_targets_exist_for_the_disk_cd_and_tape_and_for_no_empty_id(tmp_path: Path) -> None:
    """INQUIRY to all sixteen IDs: targets 0 (disk), 3 (CD-ROM) and 5 (tape) are
    created, logged with their INQUIRY strings, and no other."""
    disk_image(tmp_path)
    targets = [Target(0), Target(3, "cdrom"), Target(5, "tape", image="tape5.aws")]
    with umi_kernel(machine_file(tmp_path, targets)) as kernel:
        assert target_ids(kernel) == [0, 3, 5]
        assert controller(kernel).present == {0, 3, 5}
        lines = log_lines(kernel)
        assert "MarvellUMI: target 0: KEXTLAB KEXTLAB DISK 0001" in lines
        assert "MarvellUMI: target 3: KEXTLAB KEXTLAB CD-ROM 0001" in lines
        assert "MarvellUMI: target 5: KEXTLAB KEXTLAB TAPE 0001" in lines
        units = services(kernel, "IOSCSILogicalUnitNub")
        assert sorted(to_user(unit.getProperty("Peripheral Device Type")) for unit in units) == [
            0,
            1,
            5,
        ]


def test_reads_of_every_size_return_the_image_from_buffers_above_4_gib(tmp_path: Path) -> None:
    """READ(10) of one block up to max_transfer_size (1 MiB) into buffers the 64-bit
    kernel placed above 4 GiB: the data is the image's, and nothing was bounced."""
    data = disk_image(tmp_path)
    with umi_kernel(machine_file(tmp_path)) as kernel, kernel.entered():
        runner = TaskRunner()
        bounced = kernel_memory().dma.bounced_prepares
        for lba, blocks in ((0, 1), (7, 3), (100, 64), (1000, 255), (2048, 2048)):
            buffer = read_buffer(blocks * BLOCK)
            assert physical(buffer) >= FOUR_GIB

            def work(lba: int = lba, blocks: int = blocks, buffer: Any = buffer) -> Any:
                return runner.run(
                    device(kernel, 0), read10(lba, blocks), buffer=buffer, direction=READ
                )

            outcome = on_thread(kernel, work)
            assert (outcome.response, outcome.status) == (
                kSCSIServiceResponse_TASK_COMPLETE,
                kSCSITaskStatus_GOOD,
            )
            assert outcome.realized == blocks * BLOCK
            expected = data[lba * BLOCK : (lba + blocks) * BLOCK]
            assert bytes(buffer.getBytesNoCopy()) == expected
            buffer.release()
        assert kernel_memory().dma.bounced_prepares == bounced
        statistics = prop(controller(kernel), "Statistics")
        assert statistics["Double Buffered"] == statistics["Timeouts"] == 0
        assert statistics["Completions"] >= 5
        runner.close()


def test_writes_reach_the_image_and_read_back(tmp_path: Path) -> None:
    """WRITE(10) of 256 KiB from above 4 GiB, read back through the driver, and found
    in the image file once the machine is closed."""
    disk_image(tmp_path)
    payload = pattern(256 << 10, seed=0x5A5A)
    with umi_kernel(machine_file(tmp_path)) as kernel, kernel.entered():
        runner = TaskRunner()
        source = write_buffer(payload)
        sink = read_buffer(len(payload))

        def work() -> tuple[Any, Any]:
            target = device(kernel, 0)
            wrote = runner.run(target, write10(512, 512), buffer=source, direction=WRITE)
            read = runner.run(target, read10(512, 512), buffer=sink, direction=READ)
            return wrote, read

        wrote, read = on_thread(kernel, work)
        assert wrote.status == read.status == kSCSITaskStatus_GOOD
        assert bytes(sink.getBytesNoCopy()) == payload
        source.release()
        sink.release()
        runner.close()
    image = (tmp_path / "disk0.img").read_bytes()
    assert image[512 * BLOCK : 1024 * BLOCK] == payload


def test_a_32_bit_kernel_runs_the_same_driver_below_4_gib(tmp_path: Path) -> None:
    """kernel_bits = 32: lists and buffers sit below 4 GiB, the 64-bit SG entries carry
    zero high words, and reads and writes work as on the 64-bit kernel."""
    data = disk_image(tmp_path)
    path = machine_file(tmp_path, [Target(0), Target(2, "cdrom")], kernel_bits=32)
    with umi_kernel(path) as kernel, kernel.entered():
        assert kernel.machine.description.kernel_bits == 32
        assert target_ids(kernel) == [0, 2]
        driver = controller(kernel)
        assert driver.lists.base < FOUR_GIB
        runner = TaskRunner()
        buffer = read_buffer(128 << 10)
        assert physical(buffer) < FOUR_GIB
        source = write_buffer(pattern(4096, seed=7))

        def work() -> tuple[Any, Any]:
            target = device(kernel, 0)
            read = runner.run(target, read10(64, 256), buffer=buffer, direction=READ)
            wrote = runner.run(target, write10(0, 8), buffer=source, direction=WRITE)
            return read, wrote

        read, wrote = on_thread(kernel, work)
        assert read.status == wrote.status == kSCSITaskStatus_GOOD
        assert bytes(buffer.getBytesNoCopy()) == data[64 * BLOCK : 320 * BLOCK]
        buffer.release()
        source.release()
        runner.close()


@pytest.mark.parametrize(("pieces", "double_buffered"), [(30, 0), (31, 1), (64, 1)])
def test_memory_too_scattered_for_one_frame_is_double_buffered(
    tmp_path: Path, pieces: int, double_buffered: int
) -> None:
    """A read into separate 512-byte pieces: 30 fit an inbound entry's SG list; 31 or
    more do not, and the driver forces a double buffer.  Either way every piece gets
    its block and the gaps stay untouched."""
    data = disk_image(tmp_path)
    with umi_kernel(machine_file(tmp_path)) as kernel, kernel.entered():
        runner = TaskRunner()
        backing = read_buffer(2 * pieces * BLOCK)
        base = physical(backing)
        ranges = [(base + index * 2 * BLOCK, BLOCK) for index in range(pieces)]
        scattered = IOMemoryDescriptor.withAddressRanges(ranges, len(ranges), kIODirectionIn, None)
        assert scattered is not None

        def work() -> Any:
            return runner.run(
                device(kernel, 0), read10(10, pieces), buffer=scattered, direction=READ
            )

        outcome = on_thread(kernel, work)
        assert outcome.status == kSCSITaskStatus_GOOD
        view = backing.getBytesNoCopy()
        for index in range(pieces):
            got = bytes(view[index * 2 * BLOCK : index * 2 * BLOCK + BLOCK])
            assert got == data[(10 + index) * BLOCK : (11 + index) * BLOCK]
            gap = bytes(view[(index * 2 + 1) * BLOCK : (index * 2 + 2) * BLOCK])
            assert gap == b"\xee" * BLOCK
        assert controller(kernel).statistics["Double Buffered"] == double_buffered
        scattered.release()
        backing.release()
        runner.close()


def test_a_full_queue_waits_for_tags_and_every_command_completes(tmp_path: Path) -> None:
    """A firmware with 8 commands: 40 reads started at once wait for tags on the
    driver's list, go out as others complete, and all return their blocks."""
    data = disk_image(tmp_path)
    path = machine_file(tmp_path, params={"queue_depth": 8})
    with umi_kernel(path) as kernel, kernel.entered():
        runner = TaskRunner()
        buffers = [read_buffer(8 * BLOCK) for _ in range(40)]

        def work() -> list[Any]:
            target = device(kernel, 0)
            tasks = [
                runner.start(target, read10(index * 8, 8), buffer=buffer, direction=READ)
                for index, buffer in enumerate(buffers)
            ]
            return [runner.wait(task) for task in tasks]

        outcomes = on_thread(kernel, work)
        assert [outcome.status for outcome in outcomes] == [kSCSITaskStatus_GOOD] * 40
        for index, buffer in enumerate(buffers):
            expected = data[index * 8 * BLOCK : (index + 1) * 8 * BLOCK]
            assert bytes(buffer.getBytesNoCopy()) == expected
            buffer.release()
        runner.close()


def test_a_transfer_larger_than_the_firmware_takes_is_refused_at_once(tmp_path: Path) -> None:
    """2 MiB against a 1 MiB max_transfer_size: the driver does not accept the task
    (a delivery failure), sends nothing, and the next command works."""
    disk_image(tmp_path)
    with umi_kernel(machine_file(tmp_path)) as kernel, kernel.entered():
        runner = TaskRunner()
        big = read_buffer(2 << 20)
        small = read_buffer(BLOCK)
        commands = controller(kernel).statistics["Commands"]

        def work() -> tuple[Any, Any]:
            target = device(kernel, 0)
            refused = runner.run(target, read10(0, 4096), buffer=big, direction=READ)
            fine = runner.run(target, TEST_UNIT_READY)
            return refused, fine

        refused, fine = on_thread(kernel, work)
        assert refused.response == kSCSIServiceResponse_SERVICE_DELIVERY_OR_TARGET_FAILURE
        assert fine.response == kSCSIServiceResponse_TASK_COMPLETE
        assert controller(kernel).statistics["Commands"] == commands + 1
        big.release()
        small.release()
        runner.close()


def test_an_idle_controller_keeps_its_thread_asleep(tmp_path: Path) -> None:
    """After the scan, the management thread sleeps: no scans, no commands while
    nothing happens on the bus."""
    disk_image(tmp_path)
    with umi_kernel(machine_file(tmp_path)) as kernel:
        driver = controller(kernel)
        before = dict(driver.statistics), driver.management.scans
        kernel.machine.run_for(30 * 1_000_000_000)
        assert (dict(driver.statistics), driver.management.scans) == before


def test_a_firmware_that_never_gets_ready_fails_the_start_cleanly(tmp_path: Path) -> None:
    """Firmware still booting after FW_MAX_DELAY (30 s): InitializeController says
    why and fails, the family gives up on the controller, and whatever the driver
    had taken is given back (the leak check at the end would say otherwise)."""
    disk_image(tmp_path)
    path = machine_file(tmp_path, params={"boot_time_ns": 45 * 1_000_000_000})
    with umi_kernel(path, load=False) as kernel:
        kernel.machine.pci_function("hba0").firmware.soft_reset("the test")
        load_kext(kernel)
        assert services(kernel, "MarvellUMI") == []
        assert (
            "MarvellUMI: handshake failed: the firmware is not ready after 30 s (msg1 0x00000000)"
            in log_lines(kernel)
        )


def test_responses_are_given_back_to_the_firmware_before_their_tasks_complete(
    tmp_path: Path,
) -> None:
    """Linux's order (spec §2.5, ``mvumi_receive_ob_list_entry`` then ``mvumi_handle_clob``):
    when a task's completion runs, the driver has already moved ``outb_read_pointer``
    past its response, so the firmware's outbound list holds nothing the host has not
    taken."""
    disk_image(tmp_path)
    with umi_kernel(machine_file(tmp_path)) as kernel, kernel.entered():
        unit = kernel.machine.pci_function("hba0").firmware.unit
        assert unit is not None
        outstanding_at_completion: list[int] = []

        class Recording(TaskRunner):
            def _completed(self, task: Any) -> None:
                outstanding_at_completion.append(unit.outbound.outstanding)
                super()._completed(task)

        runner = Recording()
        buffer = read_buffer(8 * BLOCK)

        def work() -> list[Any]:
            target = device(kernel, 0)
            return [
                runner.run(target, read10(lba, 8), buffer=buffer, direction=READ)
                for lba in (0, 64, 128)
            ]

        outcomes = on_thread(kernel, work)
        assert [outcome.status for outcome in outcomes] == [kSCSITaskStatus_GOOD] * 3
        assert outstanding_at_completion == [0, 0, 0]
        buffer.release()
        runner.close()
