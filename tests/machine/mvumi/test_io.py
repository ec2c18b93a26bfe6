"""Commands through the Marvell UMI HBA: rings, scatter-gather, responses and interrupts."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kextlab.machine.devices.mvumi import registers as mv
from kextlab.machine.pci import registers as r
from kextlab.machine.scsi.bus import Timing
from kextlab.machine.scsi.constants import SenseKey, Status
from kextlab.machine.scsi.disk import DiskUnit
from kextlab.machine.scsi.request import SCSIRequest
from kextlab.machine.scsi.target import LogicalUnit, SCSITarget, command
from kextlab.sim.time import MICROSECOND, MILLISECOND
from kextlab.testing.umibench import (
    BLOCK,
    RamDisk,
    Response,
    UMIBench,
    hba_machine,
    inquiry,
    read10,
    write10,
)

DATA_IN = mv.CommandFlag.CMD_FLAG_DATA_IN
DATA_OUT = mv.CommandFlag.CMD_FLAG_DATA_OUT
GOOD = Status.GOOD
CHECK_CONDITION = Status.CHECK_CONDITION
BLOCKS_PER_COMMAND = 8  # 4 KiB per command
#: How each command's 4 KiB are scattered: three segments of unequal size.
SPLITS = ((1024, 2560, 512), (512, 512, 3072), (3000, 96, 1000))


@pytest.fixture
def bench() -> Iterator[UMIBench]:
    """A running HBA (handshake done) with no targets yet."""
    with hba_machine() as built:
        built.start()
        yield built


def pattern(seed: int, length: int) -> bytes:
    """Distinct, position-dependent bytes for command ``seed``."""
    return bytes((seed * 37 + index * 11 + (index >> 8)) & 0xFF for index in range(length))


def scatter(bench: UMIBench, index: int, length: int) -> list[tuple[int, int]]:
    """Segments of ``length`` bytes split per SPLITS, alternating below and above 4 GiB."""
    segments = []
    remaining = length
    for number, size in enumerate(SPLITS[index % len(SPLITS)]):
        size = min(size, remaining)
        arena = bench.high if (index + number) % 2 else bench.low
        segments.append((arena.allocate(size + 64, 64) + 16, size))  # gaps between pieces
        remaining -= size
    assert remaining == 0
    return segments


def put_scattered(bench: UMIBench, segments: list[tuple[int, int]], data: bytes) -> None:
    position = 0
    for address, size in segments:
        bench.put(address, data[position : position + size])
        position += size


def get_scattered(bench: UMIBench, segments: list[tuple[int, int]]) -> bytes:
    return b"".join(bench.get(address, size) for address, size in segments)


def check_responses(responses: list[Response], frames: dict[int, int], target: int = 0) -> None:
    """One GOOD response per tag, each echoing its request_id and device_id."""
    assert sorted(response.tag for response in responses) == sorted(frames)
    for response in responses:
        assert (response.status, response.rsp_flag) == (GOOD, mv.CL_RSP_FLAG_NODATA)
        assert response.request_id == frames[response.tag]
        assert response.device_id == target


Medium = Callable[[int, int], bytes]


@pytest.fixture(params=["ram-disk", "disk-unit"])
def disk(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[SCSITarget, Medium]]:
    """A 2 MiB disk target and a way to read its medium: the test double, then the real
    disk model on an image file."""
    if request.param == "ram-disk":
        ram = RamDisk("ram0", 4096)
        yield (
            SCSITarget("ram0", {0: ram}),
            lambda start, length: bytes(ram.data[start : start + length]),
        )
        return
    path = tmp_path / "disk0.img"
    unit = DiskUnit.open("disk0", path, size=4096 * BLOCK)

    def medium(start: int, length: int) -> bytes:
        unit.image.flush()
        with path.open("rb") as image:
            image.seek(start)
            return image.read(length)

    yield SCSITarget("disk0", {0: unit}), medium
    unit.close()


def test_sixty_four_commands_at_full_queue_depth_with_scatter_gather(
    bench: UMIBench, disk: tuple[SCSITarget, Medium]
) -> None:
    """64 WRITE(10)s then 64 READ(10)s in flight at once, scattered over three segments
    each: every completion GOOD with its tag and request_id, every byte where it belongs."""
    target, medium = disk
    bench.hba.scsi_bus.attach(0, target, queue_depth=64)
    assert bench.clear_unit_attention().status == CHECK_CONDITION  # power on occurred
    length = BLOCKS_PER_COMMAND * BLOCK
    depth = bench.list_depth
    assert depth == 64

    writes: dict[int, int] = {}
    frames = []
    for tag in range(depth):
        segments = scatter(bench, tag, length)
        put_scattered(bench, segments, pattern(tag, length))
        frame = bench.frame(
            write10(tag * 16, BLOCKS_PER_COMMAND), tag=tag, flag=DATA_OUT, segments=segments
        )
        writes[tag] = mv.MSG_FRAME.unpack_from(frame)[7]
        frames.append(frame)
    bench.submit(frames)
    bench.machine.run_for(5 * MICROSECOND)  # the firmware takes the whole list at once
    assert len(bench.hba.scsi_bus.in_flight(0)) == depth
    assert bench.read("inb_read_pointer") == bench.ib_cur_slot
    bench.machine.run()
    check_responses(bench.collect(), writes)
    for tag in range(depth):
        assert medium(tag * 16 * BLOCK, length) == pattern(tag, length), f"write {tag}"

    reads: dict[int, int] = {}
    buffers = {}
    frames = []
    for tag in range(depth):
        segments = scatter(bench, tag + 1, length)  # a different split from the write's
        put_scattered(bench, segments, b"\xa5" * length)
        buffers[tag] = segments
        frame = bench.frame(
            read10(tag * 16, BLOCKS_PER_COMMAND), tag=tag, flag=DATA_IN, segments=segments
        )
        reads[tag] = mv.MSG_FRAME.unpack_from(frame)[7]
        frames.append(frame)
    bench.submit(frames)
    bench.machine.run_for(5 * MICROSECOND)
    assert len(bench.hba.scsi_bus.in_flight(0)) == depth
    bench.machine.run()
    check_responses(bench.collect(), reads)
    for tag, segments in buffers.items():
        assert get_scattered(bench, segments) == pattern(tag, length), f"read {tag}"
    assert bench.machine.guest_errors.count() == 0


def test_toggle_bits_carry_the_rings_around_more_than_twice(bench: UMIBench) -> None:
    """300 commands through 64-entry lists in uneven batches: pointers, toggles, ob_shadow
    and every slot follow the wrap, and the data of each command is right."""
    bench.hba.scsi_bus.attach(0, SCSITarget("ram0", {0: RamDisk("ram0", 4096)}), queue_depth=64)
    bench.clear_unit_attention()
    done = 1  # the TEST UNIT READY
    toggle = bench.bits.cl_pointer_toggle
    total = 0
    for batch in (50, 64, 1, 63, 40, 64, 18):
        frames = []
        expected: dict[int, int] = {}
        buffers = {}
        for tag in range(batch):
            number = total + tag
            block = number % 512
            bench.put(0x0080_0000 + block * BLOCK, pattern(number, BLOCK))
            write = bench.frame(
                write10(block, 1),
                tag=tag,
                flag=DATA_OUT,
                segments=[(0x0080_0000 + block * BLOCK, BLOCK)],
            )
            frames.append(write)
            expected[tag] = mv.MSG_FRAME.unpack_from(write)[7]
        responses = bench.run(frames)
        check_responses(responses, expected)
        for response, position in zip(responses, range(done, done + batch), strict=True):
            assert response.slot == position % 64
        done += batch
        position = (127 + done) % 128  # (63 | toggle) is position 127 on the 128-step circle
        pointer = (position % 64) | (toggle if position >= 64 else 0)
        assert bench.read("outb_copy_pointer") == pointer
        assert bench.read("inb_read_pointer") == pointer
        assert bench.get32(bench.ob_shadow) == position % 64
        frames = []
        for tag in range(batch):
            number = total + tag
            buffer = bench.low.allocate(BLOCK, 64)
            buffers[tag] = (number, buffer)
            frames.append(
                bench.frame(
                    read10(number % 512, 1), tag=tag, flag=DATA_IN, segments=[(buffer, BLOCK)]
                )
            )
        for response in bench.run(frames):
            number, buffer = buffers[response.tag]
            assert response.status == GOOD
            assert bench.get(buffer, BLOCK) == pattern(number, BLOCK)
        done += batch
        total += batch
    assert done > 4 * 64
    assert bench.hba.firmware.responses_posted == done


def test_a_missing_target_answers_like_the_firmware_does(bench: UMIBench) -> None:
    """INQUIRY to an empty ID: CHECK CONDITION with fixed sense ILLEGAL REQUEST 25/00."""
    response, data = bench.data_in(inquiry(), 44, target=5)
    assert (response.status, response.rsp_flag, response.device_id) == (
        CHECK_CONDITION,
        mv.CL_RSP_FLAG_SENSEDATA,
        5,
    )
    assert len(response.sense) == 18
    assert response.sense[0] == 0x70
    assert response.sense_code == (SenseKey.ILLEGAL_REQUEST, 0x25, 0x00)
    assert data == b"\xee" * 44  # nothing was written to the buffer
    assert bench.machine.guest_errors.count() == 0


def test_a_target_id_beyond_max_devices_is_refused_and_logged(bench: UMIBench) -> None:
    """Target 16 of a 16-target firmware: 25/00, and the driver's mistake is logged."""
    response, _ = bench.data_in(inquiry(), 44, target=16)
    assert response.sense_code == (SenseKey.ILLEGAL_REQUEST, 0x25, 0x00)
    assert "command for target 16, beyond max_devices_support 16" in (
        bench.machine.guest_errors.messages("hba0")
    )


def test_check_condition_carries_fixed_sense_even_from_a_descriptor_sense_unit(
    bench: UMIBench,
) -> None:
    """LBA out of range: 05/21/00 in 18 bytes of fixed sense, also when the unit uses 0x72."""
    unit = RamDisk("ram0", 16)
    bench.hba.scsi_bus.attach(0, SCSITarget("ram0", {0: unit}))
    bench.clear_unit_attention()
    buffer = bench.low.allocate(BLOCK)
    for descriptor in (False, True):
        unit.descriptor_sense = descriptor
        response = bench.command(read10(16, 1), flag=DATA_IN, segments=[(buffer, BLOCK)])
        assert (response.status, response.rsp_flag) == (CHECK_CONDITION, 1)
        assert response.sense[0] == 0x70
        assert response.sense_code == (SenseKey.ILLEGAL_REQUEST, 0x21, 0x00)


class StatusUnit(LogicalUnit):
    """Answers vendor command C0 with the SAM status in CDB byte 1."""

    @command(0xC0)
    def status(self, request: SCSIRequest) -> None:
        request.status = Status(request.cdb[1])


@pytest.mark.parametrize("status", [Status.BUSY, Status.RESERVATION_CONFLICT, Status.TASK_SET_FULL])
def test_target_statuses_pass_through(bench: UMIBench, status: Status) -> None:
    """BUSY, RESERVATION CONFLICT, TASK SET FULL reach the host as the target said."""
    unit = StatusUnit("status0")
    unit.take_unit_attention()
    bench.hba.scsi_bus.attach(2, SCSITarget("status0", {0: unit}))
    response = bench.command(bytes([0xC0, status, 0, 0, 0, 0]), target=2)
    assert (response.status, response.rsp_flag, response.sense) == (status, 0, b"")


def test_a_full_target_queue_answers_task_set_full(bench: UMIBench) -> None:
    """Two commands for a target that queues one: the second is TASK SET FULL."""
    unit = RamDisk("ram0", 16)
    unit.take_unit_attention()
    bench.hba.scsi_bus.attach(0, SCSITarget("ram0", {0: unit}), queue_depth=1)
    responses = bench.run([bench.frame(bytes(6), tag=1), bench.frame(bytes(6), tag=2)])
    assert {response.tag: response.status for response in responses} == {
        1: GOOD,
        2: Status.TASK_SET_FULL,
    }


def test_commands_beyond_max_io_wait_in_the_inbound_list() -> None:
    """With 8 commands held, 8 more stay in the list (inb_read_pointer still) until
    completions free command slots; then all 16 complete."""
    with hba_machine(queue_depth=8) as bench:
        bench.start()
        slow = Timing(command_ns=MILLISECOND)
        unit = RamDisk("ram0", 16)
        unit.take_unit_attention()
        bench.hba.scsi_bus.attach(0, SCSITarget("ram0", {0: unit}), timing=slow, queue_depth=64)
        bench.submit([bench.frame(bytes(6), tag=tag) for tag in range(8)])
        bench.machine.run_for(10 * MICROSECOND)
        taken = bench.read("inb_read_pointer")
        assert taken == bench.ib_cur_slot
        bench.submit([bench.frame(bytes(6), tag=tag) for tag in range(8, 16)])
        bench.machine.run_for(100 * MICROSECOND)
        assert bench.read("inb_read_pointer") == taken
        assert len(bench.hba.scsi_bus.in_flight(0)) == 8
        assert bench.get32(bench.ib_shadow) == 0xFFFF  # nothing taken: nothing reported
        responses: list[Response] = []
        while len(responses) < 16:  # the 8-entry outbound list takes two rounds
            bench.machine.run()
            responses += bench.collect()
        assert sorted(response.tag for response in responses) == list(range(16))
        assert all(response.status == GOOD for response in responses)
        assert bench.read("inb_read_pointer") == bench.ib_cur_slot
        assert bench.get32(bench.ib_shadow) == 8


def test_responses_wait_for_room_in_the_outbound_list() -> None:
    """A 4-entry outbound list: responses beyond it are posted as the host takes entries."""
    with hba_machine() as bench:
        bench.start(ob_depth=4)
        unit = RamDisk("ram0", 16)
        unit.take_unit_attention()
        bench.hba.scsi_bus.attach(0, SCSITarget("ram0", {0: unit}))
        bench.submit([bench.frame(bytes(6), tag=tag) for tag in range(10)])
        bench.machine.run()
        seen = []
        for expected in (4, 4, 2):
            assert bench.hba.firmware.outbound is not None
            assert bench.hba.firmware.outbound.outstanding == expected
            responses = bench.collect()
            assert len(responses) == expected
            seen += [response.tag for response in responses]
            bench.machine.run()
        assert seen == list(range(10))


def test_a_dma_fault_on_the_data_is_a_data_phase_error(bench: UMIBench) -> None:
    """An SG segment outside RAM: master abort logged; CHECK CONDITION ABORTED COMMAND 4B/00."""
    unit = RamDisk("ram0", 16)
    unit.take_unit_attention()
    bench.hba.scsi_bus.attach(0, SCSITarget("ram0", {0: unit}))
    good = bench.low.allocate(BLOCK)
    for cdb, flag in ((read10(0, 2), DATA_IN), (write10(0, 2), DATA_OUT)):
        response = bench.command(cdb, flag=flag, segments=[(good, BLOCK), (0x7_0000_0000, BLOCK)])
        assert response.status == CHECK_CONDITION
        assert response.sense_code == (SenseKey.ABORTED_COMMAND, 0x4B, 0x00)
    messages = bench.machine.guest_errors.messages("hba0")
    assert sum("no RAM answers (master abort)" in message for message in messages) == 2


# -- interrupts -----------------------------------------------------------------------------------


def test_completion_interrupts_are_acknowledged_by_writing_clic_irq_back(bench: UMIBench) -> None:
    """The driver's ISR: int_comaout in main_int_cause, W1C clic_irq, take the entries; the
    line drops and every response arrives through the interrupt path."""
    unit = RamDisk("ram0", 16)
    unit.take_unit_attention()
    bench.hba.scsi_bus.attach(0, SCSITarget("ram0", {0: unit}))
    bench.take_interrupts()
    bench.submit([bench.frame(bytes(6), tag=tag) for tag in range(5)])
    bench.machine.run()
    assert sorted(response.tag for response in bench.responses) == list(range(5))
    assert bench.interrupts_taken >= 1
    assert bench.read("outb_isr_cause") == 0
    assert bench.read("main_int_cause_reg") == 0
    assert not bench.hba.irq_requested
    assert not bench.machine.interrupt_controller.is_pending(bench.interrupt_input)


def test_intx_follows_the_cause_and_enable_masks(bench: UMIBench) -> None:
    """main_int_cause shows only enabled causes; INTx is their level; W1C drops it."""
    bits = bench.bits
    controller = bench.machine.interrupt_controller
    line = bench.interrupt_input
    bench.submit(
        [
            bench.frame(
                inquiry(), tag=0, target=3, flag=DATA_IN, segments=[(bench.low.allocate(64), 44)]
            )
        ]
    )
    bench.machine.run()
    assert bench.read("outb_isr_cause") == bits.clic_irq
    assert bench.read("main_int_cause_reg") == bits.int_comaout
    assert controller.is_pending(line)
    enabled = bench.read("enpointa_mask_reg")
    bench.write("enpointa_mask_reg", enabled & ~bits.int_comaout)
    assert bench.read("main_int_cause_reg") == 0
    assert not controller.is_pending(line)
    bench.write("enpointa_mask_reg", enabled)
    assert controller.is_pending(line)
    bench.set_command(set_bits=r.COMMAND_INTX_DISABLE)
    assert not controller.is_pending(line)
    assert bench.config_read(r.STATUS, 2) & r.STATUS_INTERRUPT
    bench.set_command(clear_bits=r.COMMAND_INTX_DISABLE)
    assert controller.is_pending(line)
    bench.write("outb_isr_cause", bits.clic_irq)
    assert not controller.is_pending(line)

    bench.write("arm_to_pciea_mask_reg", 0)  # doorbells masked at their own register
    bench.hba.scsi_bus.attach(1, SCSITarget("late", {0: RamDisk("late", 16)}))
    bench.machine.run()
    assert bench.read("arm_to_pciea_drbl_reg") & mv.Doorbell.DRBL_BUS_CHANGE
    assert bench.read("main_int_cause_reg") == 0
    assert not controller.is_pending(line)
    bench.write("arm_to_pciea_mask_reg", bits.int_drbl_int_mask)
    assert bench.read("main_int_cause_reg") == bits.int_dl_cpu2pciea
    assert controller.is_pending(line)
    bench.write("arm_to_pciea_drbl_reg", bench.read("arm_to_pciea_drbl_reg"))
    assert not controller.is_pending(line)


def test_registers_take_only_32_bit_accesses(bench: UMIBench) -> None:
    """A 16-bit read of a register is refused by the BAR (all ones) and logged."""
    base = bench.registers_base + bench.offset("main_int_cause_reg")
    assert bench.machine.read(base, 2) == 0xFFFF
    assert bench.machine.guest_errors.count() == 1
