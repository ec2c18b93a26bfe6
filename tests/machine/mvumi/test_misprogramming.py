"""Driver mistakes: each is a guest error, answered as firmware would, never an exception."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from kextlab.machine.devices.mvumi import registers as mv
from kextlab.machine.pci import registers as r
from kextlab.machine.scsi.constants import SenseKey, Status
from kextlab.machine.scsi.target import SCSITarget
from kextlab.testing.umibench import RamDisk, UMIBench, hba_machine, read10

DATA_IN = mv.CommandFlag.CMD_FLAG_DATA_IN
DATA_OUT = mv.CommandFlag.CMD_FLAG_DATA_OUT
NON_DATA = mv.CommandFlag.CMD_FLAG_NON_DATA
ILLEGAL = SenseKey.ILLEGAL_REQUEST


@pytest.fixture
def bench() -> Iterator[UMIBench]:
    """A running HBA with a RAM disk at target 0 (its power-on attention taken)."""
    with hba_machine() as built:
        built.start()
        unit = RamDisk("ram0", 64)
        unit.take_unit_attention()
        built.hba.scsi_bus.attach(0, SCSITarget("ram0", {0: unit}))
        built.machine.run()
        built.write("arm_to_pciea_drbl_reg", built.read("arm_to_pciea_drbl_reg"))  # bus change
        yield built


def errors(bench: UMIBench) -> list[str]:
    return bench.machine.guest_errors.messages("hba0")


def buffer(bench: UMIBench) -> int:
    return bench.low.allocate(4096)


FrameMaker = Callable[[UMIBench], bytes]

BAD_FRAMES: list[tuple[str, FrameMaker, tuple[int, int, int], str]] = [
    (
        "unknown-function",
        lambda b: b.frame(bytes(6), tag=1, function=2),
        (ILLEGAL, 0x20, 0x00),
        "req_function 0x2 is not SCSI_CMD",
    ),
    (
        "empty-cdb",
        lambda b: b.frame(b"", tag=1),
        (ILLEGAL, 0x24, 0x00),
        "cdb_length 0",
    ),
    (
        "both-directions",
        lambda b: b.frame(
            read10(0, 1), tag=1, flag=DATA_IN | DATA_OUT, segments=[(buffer(b), 512)]
        ),
        (ILLEGAL, 0x24, 0x00),
        "both DATA_IN and DATA_OUT",
    ),
    (
        "length-without-direction",
        lambda b: b.frame(read10(0, 1), tag=1, flag=0, segments=[(buffer(b), 512)]),
        (ILLEGAL, 0x24, 0x00),
        "without DATA_IN or DATA_OUT",
    ),
    (
        "length-with-non-data",
        lambda b: b.frame(
            read10(0, 1), tag=1, flag=NON_DATA | DATA_IN, segments=[(buffer(b), 512)]
        ),
        (ILLEGAL, 0x24, 0x00),
        "with CMD_FLAG_NON_DATA",
    ),
    (
        "too-many-sg-entries",
        lambda b: b.frame(
            read10(0, 31), tag=1, flag=DATA_IN, segments=[(buffer(b), 512) for _ in range(31)]
        ),
        (ILLEGAL, 0x24, 0x00),
        "sg_counts 31 exceeds 30 entries",
    ),
    (
        "no-sg-list",
        lambda b: b.frame(read10(0, 1), tag=1, flag=DATA_IN, length=512),
        (ILLEGAL, 0x24, 0x00),
        "with an empty SG list",
    ),
    (
        "missing-eot",
        lambda b: b.frame(
            read10(0, 2),
            tag=1,
            flag=DATA_IN,
            segments=[(buffer(b), 512), (buffer(b), 512)],
            eot_on=-1,
        ),
        (ILLEGAL, 0x24, 0x00),
        "EOT flag missing on the last entry",
    ),
    (
        "missing-eot-on-the-only-entry",
        lambda b: b.frame(
            read10(0, 1), tag=1, flag=DATA_IN, segments=[(buffer(b), 512)], eot_on=-1
        ),
        (ILLEGAL, 0x24, 0x00),
        "EOT flag missing on the last entry",
    ),
    (
        "early-eot",
        lambda b: b.frame(
            read10(0, 2),
            tag=1,
            flag=DATA_IN,
            segments=[(buffer(b), 512), (buffer(b), 512)],
            eot_on=0,
        ),
        (ILLEGAL, 0x24, 0x00),
        "EOT flag on entry 0",
    ),
    (
        "short-sg-list",
        lambda b: b.frame(
            read10(0, 2), tag=1, flag=DATA_IN, segments=[(buffer(b), 512)], length=1024
        ),
        (ILLEGAL, 0x24, 0x00),
        "SG list covers 512 bytes, data_transfer_length is 1024",
    ),
    (
        "beyond-max-transfer",
        lambda b: b.frame(
            read10(0, 1), tag=1, flag=DATA_IN, segments=[(buffer(b), (1 << 20) + 512)]
        ),
        (ILLEGAL, 0x24, 0x00),
        "exceeds max_transfer_size 1048576",
    ),
]


@pytest.mark.parametrize(
    ("make", "code", "reason"),
    [pytest.param(make, code, reason, id=name) for name, make, code, reason in BAD_FRAMES],
)
def test_a_malformed_frame_is_answered_with_check_condition(
    bench: UMIBench, make: FrameMaker, code: tuple[int, int, int], reason: str
) -> None:
    """The firmware checks every frame: refused with the sense for it, the tag echoed."""
    (response,) = bench.run([make(bench)])
    assert (response.tag, response.status) == (1, Status.CHECK_CONDITION)
    assert response.sense_code == code
    assert any(reason in message for message in errors(bench)), errors(bench)
    assert bench.hba.scsi_bus.commands_submitted == 0
    assert bench.command(bytes(6)).status == Status.GOOD  # and carries on


def test_the_inbound_doorbell_before_the_handshake_is_ignored() -> None:
    """inb_write_pointer written to a READY firmware: logged, nothing read from memory."""
    with hba_machine() as bench:
        bench.set_command(set_bits=r.COMMAND_MASTER)
        bench.wait_for_firmware()
        bench.write("inb_write_pointer", 0)
        bench.machine.run()
        assert any("before the handshake completed" in message for message in errors(bench))
        assert bench.hba.dma_bytes_read == 0


def test_a_malformed_write_pointer_is_ignored(bench: UMIBench) -> None:
    """A slot beyond the list or stray bits: logged, the register keeps its old value."""
    before = bench.read("inb_write_pointer")
    for pointer in (64, 0x1_0000 | 3):
        bench.write("inb_write_pointer", pointer)
    assert bench.read("inb_write_pointer") == before
    assert sum("is not a slot of the 64-entry inbound list" in m for m in errors(bench)) == 2
    assert bench.command(bytes(6)).status == Status.GOOD


def test_an_inbound_overrun_raises_the_list_error_interrupt(bench: UMIBench) -> None:
    """A write pointer 70 entries ahead in a 64-entry list: clic_in_err, int_comaerr and
    INTx; the entries are dropped and the lists stay usable."""
    bits = bench.bits
    pointer = bench.ib_cur_slot
    for _ in range(70):
        pointer = bench.advance(pointer)
    bench.write("inb_write_pointer", pointer)
    bench.machine.run()
    assert bench.read("outb_isr_cause") == bits.clic_in_err
    assert bench.read("main_int_cause_reg") == bits.int_comaerr
    assert bench.machine.interrupt_controller.is_pending(bench.interrupt_input)
    assert bench.read("inb_read_pointer") == pointer
    assert any("inbound list overrun" in message for message in errors(bench))
    assert bench.hba.scsi_bus.commands_submitted == 0
    cause, _ = bench.clear_interrupt()
    assert cause == bits.int_comaerr
    assert bench.read("outb_isr_cause") == 0
    assert not bench.machine.interrupt_controller.is_pending(bench.interrupt_input)
    bench.ib_cur_slot = pointer
    assert bench.command(bytes(6)).status == Status.GOOD


def test_bus_master_off_loses_the_command_with_a_list_error(bench: UMIBench) -> None:
    """The inbound entry cannot be read: master abort, clic_in_err, no response at all."""
    bench.set_command(clear_bits=r.COMMAND_MASTER)
    bench.submit([bench.frame(bytes(6), tag=1)])
    bench.machine.run()
    assert bench.config_read(r.STATUS, 2) & r.STATUS_REC_MASTER_ABORT
    assert bench.read("outb_isr_cause") == bench.bits.clic_in_err
    assert any("cannot be read; the command is lost" in message for message in errors(bench))
    assert bench.hba.firmware.in_flight == 0
    bench.set_command(set_bits=r.COMMAND_MASTER)
    assert bench.receive() == []


def test_an_outbound_list_outside_ram_loses_responses_with_a_list_error() -> None:
    """Page 4 puts the outbound list where no RAM is: clic_out_err, the pointer stays."""
    with hba_machine() as bench:
        bench.set_command(set_bits=r.COMMAND_MASTER)
        bench.prepare()
        bench.wait_for_firmware()
        S = mv.HandshakeState
        bench.step(S.HS_S_RESET, mv.HANDSHAKE_SIGNATURE)
        bench.send_page_address()
        bench.query_capabilities()
        bench.allocate_lists()
        bench.ob_list = 0x7_0000_0000
        for code in (2, 3, 4):
            bench.put(bench.page_address, bench.host_page(code))
            bench.step(S.HS_S_SEND_PAGE)
        assert bench.step(S.HS_S_END) == (mv.HandshakeStatus.HS_STATUS_OK, S.HS_S_END)
        bench.finish_handshake()
        bench.submit([bench.frame(bytes(6), tag=1, target=9)])
        bench.machine.run()
        assert bench.read("outb_isr_cause") == bench.bits.clic_out_err
        assert bench.read("outb_copy_pointer") == 63 | bench.bits.cl_pointer_toggle
        assert any("the response to tag 1 is lost" in message for message in errors(bench))


def test_shadows_outside_ram_are_list_errors_but_responses_still_arrive(bench: UMIBench) -> None:
    """ib_shadow and ob_shadow where no RAM is: clic_in_err | clic_out_err; the response
    itself is posted."""
    for name in ("inb_aval_count_baseh", "outb_copy_baseh"):
        bench.write(name, 7)
    bench.submit([bench.frame(bytes(6), tag=1)])
    bench.machine.run()
    assert bench.read("outb_isr_cause") == (
        bench.bits.clic_in_err | bench.bits.clic_out_err | bench.bits.clic_irq
    )
    assert bench.read("outb_copy_pointer") == 0
    messages = errors(bench)
    assert any("ib_shadow at 0x7" in message for message in messages)
    assert any("ob_shadow at 0x7" in message for message in messages)


def test_an_outbound_read_pointer_past_the_copy_pointer_is_ignored(bench: UMIBench) -> None:
    """The host claims responses the firmware never wrote: logged, register unchanged."""
    bench.command(bytes(6))
    before = bench.read("outb_read_pointer")
    bench.write("outb_read_pointer", 5)
    assert bench.read("outb_read_pointer") == before
    assert any("is not between the last one" in message for message in errors(bench))


def test_an_outbound_read_pointer_before_the_handshake_is_ignored() -> None:
    """outb_read_pointer written before the lists exist: logged."""
    with hba_machine() as bench:
        bench.write("outb_read_pointer", 3)
        assert any("outb_read_pointer written (0x3)" in message for message in errors(bench))


def test_doorbell_bits_only_the_firmware_rings_are_refused(bench: UMIBench) -> None:
    """The host ringing DRBL_BUS_CHANGE: logged, ignored, the firmware still running."""
    bench.write("pciea_to_arm_drbl_reg", mv.Doorbell.DRBL_BUS_CHANGE)
    bench.machine.run()
    assert any("which mean nothing to the firmware" in message for message in errors(bench))
    assert bench.command(bytes(6)).status == Status.GOOD


def test_register_misuse_is_logged_not_raised(bench: UMIBench) -> None:
    """Writes to read-only registers and accesses to unassigned offsets."""
    base = bench.registers_base
    bench.write("main_int_cause_reg", 0xFFFF_FFFF)
    bench.write("inb_read_pointer", 0)
    assert bench.machine.read(base + 0x100, 4) == 0xFFFF_FFFF
    messages = errors(bench)
    assert "write of 0xffffffff to read-only register main_int_cause_reg" in messages
    assert "write of 0x0 to read-only register inb_read_pointer" in messages
    assert "read of 4 bytes at unassigned register offset 0x100" in messages


def test_registers_without_a_model_report_on_the_unimplemented_channel(bench: UMIBench) -> None:
    """Interrupt coalescing and the ARM control registers: accepted, reported, no effect."""
    bench.write("outb_coal_cfg", 0x10)
    bench.write("sys_soft_rst_reg", 1)
    assert bench.machine.guest_errors.unimplemented_count("hba0") == 2
    assert bench.command(bytes(6)).status == Status.GOOD
