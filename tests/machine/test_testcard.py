"""The test card at register level: no kernel, only config cycles, loads, stores and DMA."""

from __future__ import annotations

import io

import pytest

from kextlab.firmware.openfirmware import OpenFirmware
from kextlab.machine.description import INTERRUPT_CONTROLLER_BASE, parse_machine_description
from kextlab.machine.devices import testcard_registers as tc
from kextlab.machine.interrupts import ControllerRegister
from kextlab.machine.machine import Machine
from kextlab.machine.pci import registers as r
from kextlab.sim.trace import TraceRecorder
from tests.machine.cardbench import CardBench

SOURCE = 0x0010_0000
DESTINATION = 0x0020_0000
LIST = 0x0000_8000
HIGH_BUFFER = 0x1_0000_2000  # above 4 GiB: the default machine has RAM there


@pytest.fixture
def bench(booted: tuple[Machine, OpenFirmware]) -> CardBench:
    machine, _ = booted
    return CardBench.attach(machine)


def test_config_space_identifies_the_card(machine: Machine) -> None:
    """IDs, class and subsystem read back through config cycles; they are read-only."""
    bench = CardBench.attach(machine, "testcard1")
    assert bench.config_read(r.VENDOR_ID, 4) == tc.DEVICE_ID << 16 | tc.VENDOR_ID
    assert bench.config_read(r.REVISION_ID, 4) == tc.CLASS_CODE << 8 | tc.REVISION_ID
    assert bench.config_read(r.SUBSYSTEM_VENDOR_ID, 4) == 2 << 16 | tc.SUBSYSTEM_VENDOR_ID
    bench.config_write(r.VENDOR_ID, 4, 0)
    assert bench.config_read(r.VENDOR_ID, 2) == tc.VENDOR_ID
    assert bench.config_read(r.INTERRUPT_PIN, 1) == r.INTA


def test_bars_are_sized_by_writing_all_ones(machine: Machine) -> None:
    """Writing all ones to each BAR reads back its size mask with the type bits intact."""
    bench = CardBench.attach(machine, "testcard1")
    answers = {}
    for offset in (0x10, 0x14, 0x18, 0x1C, 0x20, 0x24, r.ROM_ADDRESS):
        bench.config_write(offset, 4, 0xFFFF_FFFF)
        answers[offset] = bench.config_read(offset, 4)
    assert answers[0x10] == 0xFFFF_F000  # 4 KiB, 32-bit memory, non-prefetchable
    assert answers[0x14] == 0xFFFF_FFE1  # 32 bytes of I/O
    assert answers[0x18] == 0xFFFF_0000 | r.BAR_MEM_TYPE_64 | r.BAR_MEM_PREFETCH  # 64 KiB
    assert answers[0x1C] == 0xFFFF_FFFF  # upper half of the 64-bit BAR
    assert answers[0x20] == 0  # unimplemented
    assert answers[0x24] == 0
    assert answers[r.ROM_ADDRESS] == 0xFFFF_C001  # 16 KiB ROM and its enable bit


def test_bar_programming_gates_decoding_on_the_command_register(machine: Machine) -> None:
    """A BAR decodes only once programmed and Memory Space is enabled; then it reaches the card."""
    bench = CardBench.attach(machine, "testcard1")  # on the root bus: no bridge to open
    base = 0x9000_0000
    bench.config_write(0x10, 4, base)
    assert machine.read(base, 4) == 0xFFFF_FFFF
    assert machine.guest_errors.messages("memory")[-1].endswith("nothing decodes this address")
    bench.set_command(set_bits=r.COMMAND_MEMORY)
    assert machine.read(base + tc.Register.IDENTIFICATION, 4) == tc.IDENTIFICATION_VALUE
    bench.config_write(0x10, 4, base + 0x1000)
    assert machine.read(base + 0x1000 + tc.Register.VERSION, 4) == tc.VERSION_VALUE
    bench.set_command(clear_bits=r.COMMAND_MEMORY)
    errors = machine.guest_errors.count()
    assert machine.read(base + 0x1000, 4) == 0xFFFF_FFFF
    assert machine.guest_errors.count() == errors + 1


def test_io_bar_mirrors_the_first_registers(bench: CardBench) -> None:
    """BAR 1 (I/O space) answers port reads with the same registers, at every width."""
    machine = bench.machine
    port = bench.card.bar_address(bench.card.bars[tc.PORT_BAR])
    assert machine.io_read(port + tc.Register.IDENTIFICATION, 4) == tc.IDENTIFICATION_VALUE
    assert machine.io_read(port + tc.Register.IDENTIFICATION, 1) == 0x43
    machine.io_write(port + tc.Register.INTERRUPT_ENABLE, 4, tc.Interrupt.SOFTWARE)
    assert bench.read(tc.Register.INTERRUPT_ENABLE) == tc.Interrupt.SOFTWARE
    io_window = machine.description.host_bridge.io_cpu_base
    assert machine.read(io_window + port + tc.Register.VERSION, 4) == tc.VERSION_VALUE


def test_scratch_register_takes_every_access_width(bench: CardBench) -> None:
    """The 64-bit SCRATCH register reads back 8-, 16-, 32- and 64-bit accesses little-endian."""
    bench.write(tc.Register.SCRATCH, 0x0123_4567_89AB_CDEF, size=8)
    assert bench.read(tc.Register.SCRATCH, 8) == 0x0123_4567_89AB_CDEF
    assert bench.read(tc.Register.SCRATCH, 4) == 0x89AB_CDEF
    assert bench.read(tc.Register.SCRATCH + 4, 4) == 0x0123_4567
    assert bench.read(tc.Register.SCRATCH + 2, 2) == 0x89AB
    assert bench.read(tc.Register.SCRATCH + 7, 1) == 0x01
    bench.write(tc.Register.SCRATCH + 4, 0xFFFF_FFFF)
    bench.write(tc.Register.SCRATCH + 2, 0x0000, size=2)
    bench.write(tc.Register.SCRATCH, 0x77, size=1)
    assert bench.read(tc.Register.SCRATCH, 8) == 0xFFFF_FFFF_0000_CD77
    assert bench.machine.guest_errors.count() == 0


def test_register_misuse_is_a_guest_error_not_an_exception(bench: CardBench) -> None:
    """Writing a read-only register, a partial write, an unknown offset: logged, ignored."""
    errors = bench.machine.guest_errors
    bench.write(tc.Register.IDENTIFICATION, 0)
    bench.write(tc.Register.CONTROL, 1, size=2)
    assert bench.read(0x100) == 0xFFFF_FFFF
    assert bench.read(tc.Register.DOORBELL) == 0
    messages = errors.messages("testcard0")
    assert "write of 0x0 to read-only register IDENTIFICATION" in messages
    assert "2-byte write at 0x8: CONTROL takes 4-byte writes only" in messages
    assert "read of 4 bytes at unassigned register offset 0x100" in messages
    assert "read of write-only register DOORBELL" in messages
    assert bench.read(tc.Register.IDENTIFICATION) == tc.IDENTIFICATION_VALUE


def test_dma_copy_moves_data_with_bus_master_on(bench: CardBench) -> None:
    """COPY moves the bytes, writes the status back and takes virtual time for the transfer."""
    memory = bench.machine.memory
    payload = bytes(range(256)) * 256  # 64 KiB
    memory.write(SOURCE, payload)
    bench.enable_bus_master()
    start = bench.machine.scheduler.now
    completion = bench.run_list(
        LIST, [bench.descriptor(tc.Opcode.COPY, SOURCE, DESTINATION, len(payload))]
    )
    assert completion == tc.Completion.SUCCESS
    assert memory.read(DESTINATION, len(payload)) == payload
    assert bench.descriptor_status(LIST, 0) == tc.DESCRIPTOR_DONE | tc.Completion.SUCCESS
    assert bench.read(tc.Register.COMPLETED_DESCRIPTORS) == 1
    # 1 µs descriptor latency + 64 KiB at 1 GiB/s = 61 µs, plus the polling reads
    assert bench.machine.scheduler.now - start >= 62_000
    assert bench.card.dma_bytes_read == tc.DESCRIPTOR_SIZE + len(payload)


def test_dma_is_refused_with_a_master_abort_while_bus_master_is_off(bench: CardBench) -> None:
    """With Bus Master off nothing moves; Status records Received Master Abort; logged."""
    memory = bench.machine.memory
    memory.write(SOURCE, b"x" * 512)
    completion = bench.run_list(LIST, [bench.descriptor(tc.Opcode.COPY, SOURCE, DESTINATION, 512)])
    assert completion == tc.Completion.DESCRIPTOR_ABORT
    assert memory.read(DESTINATION, 512) == bytes(512)
    assert bench.config_read(r.STATUS, 2) & r.STATUS_REC_MASTER_ABORT
    messages = bench.machine.guest_errors.messages("testcard0")
    assert any("refused: Bus Master Enable is off" in message for message in messages)
    assert bench.read(tc.Register.STATUS) & tc.Status.ERROR
    bench.config_write(r.STATUS, 2, r.STATUS_REC_MASTER_ABORT)  # write 1 to clear
    assert not bench.config_read(r.STATUS, 2) & r.STATUS_REC_MASTER_ABORT


def test_a_bridge_without_bus_master_blocks_dma_from_behind_it(bench: CardBench) -> None:
    """DMA from a card behind a bridge needs the bridge's Bus Master bit too."""
    machine = bench.machine
    bench.enable_bus_master()
    machine.config_write(0, 13, 0, r.COMMAND, 2, r.COMMAND_MEMORY | r.COMMAND_IO)
    completion = bench.run_list(LIST, [bench.descriptor(tc.Opcode.FILL, 0xAA, DESTINATION, 64)])
    assert completion == tc.Completion.DESCRIPTOR_ABORT
    machine.config_write(0, 13, 0, r.COMMAND, 2, r.COMMAND_MEMORY | r.COMMAND_IO | r.COMMAND_MASTER)
    completion = bench.run_list(LIST, [bench.descriptor(tc.Opcode.FILL, 0xAA, DESTINATION, 64)])
    assert completion == tc.Completion.SUCCESS
    assert machine.memory.read(DESTINATION, 64) == b"\xaa" * 64


def test_fill_and_compare_report_the_first_mismatch(bench: CardBench) -> None:
    """FILL writes the pattern; COMPARE finds equal buffers equal and locates a difference."""
    memory = bench.machine.memory
    bench.enable_bus_master()
    descriptors = [
        bench.descriptor(tc.Opcode.FILL, 0x5A, SOURCE, 10_000),
        bench.descriptor(tc.Opcode.FILL, 0x5A, DESTINATION, 10_000),
        bench.descriptor(tc.Opcode.COMPARE, SOURCE, DESTINATION, 10_000),
    ]
    assert bench.run_list(LIST, descriptors) == tc.Completion.SUCCESS
    assert memory.read(SOURCE, 10_000) == b"\x5a" * 10_000
    memory.write(DESTINATION + 6789, b"\x00")
    completion = bench.run_list(
        LIST, [bench.descriptor(tc.Opcode.COMPARE, SOURCE, DESTINATION, 10_000)]
    )
    assert completion == tc.Completion.MISMATCH
    assert bench.read(tc.Register.MISMATCH_OFFSET) == 6789
    assert bench.descriptor_status(LIST, 0) == tc.DESCRIPTOR_DONE | tc.Completion.MISMATCH


def test_a_list_stops_at_its_first_bad_descriptor(bench: CardBench) -> None:
    """Unknown opcodes and over-long transfers end the list with their code and index."""
    bench.enable_bus_master()
    descriptors = [
        bench.descriptor(tc.Opcode.FILL, 1, SOURCE, 16),
        bench.descriptor(9, 0, 0, 16),
        bench.descriptor(tc.Opcode.FILL, 2, SOURCE, 16),
    ]
    assert bench.run_list(LIST, descriptors) == tc.Completion.BAD_OPCODE
    assert bench.read(tc.Register.ERROR_DESCRIPTOR) == 1
    assert bench.read(tc.Register.COMPLETED_DESCRIPTORS) == 1
    assert bench.machine.memory.read(SOURCE, 16) == b"\x01" * 16
    too_long = bench.descriptor(tc.Opcode.FILL, 0, SOURCE, (16 << 20) + 1)
    assert bench.run_list(LIST, [too_long]) == tc.Completion.TOO_LONG
    bench.write(tc.Register.DESCRIPTOR_LENGTH, 33)
    bench.write(tc.Register.DOORBELL, 1)
    assert bench.read(tc.Register.COMPLETION_STATUS) == tc.Completion.BAD_DESCRIPTOR_LIST


def test_dma_outside_ram_is_a_data_abort(bench: CardBench) -> None:
    """A transfer to an address no RAM answers ends in a master abort, not an exception."""
    bench.enable_bus_master()
    outside = 0x2_0000_0000  # beyond the 1 GiB above 4 GiB
    completion = bench.run_list(LIST, [bench.descriptor(tc.Opcode.FILL, 0, outside, 4096)])
    assert completion == tc.Completion.DATA_ABORT
    assert bench.card.master_aborts == 1
    assert "no RAM answers" in bench.machine.guest_errors.messages("testcard0")[-1]


def test_a_32_bit_card_truncates_dma_addresses_and_corrupts_low_memory(
    booted: tuple[Machine, OpenFirmware],
) -> None:
    """testcard1 drives 32 address lines: a buffer above 4 GiB lands at its low 32 bits."""
    machine, _ = booted
    bench = CardBench.attach(machine, "testcard1")
    bench.enable_bus_master()
    machine.memory.write(SOURCE, b"payload!" * 8)
    completion = bench.run_list(LIST, [bench.descriptor(tc.Opcode.COPY, SOURCE, HIGH_BUFFER, 64)])
    assert completion == tc.Completion.SUCCESS
    assert machine.memory.read(HIGH_BUFFER, 64) == bytes(64)
    assert machine.memory.read(HIGH_BUFFER & 0xFFFF_FFFF, 64) == b"payload!" * 8
    wide = CardBench.attach(machine, "testcard0")
    wide.enable_bus_master()
    assert (
        wide.run_list(LIST + 0x100, [wide.descriptor(tc.Opcode.COPY, SOURCE, HIGH_BUFFER, 64)])
        == tc.Completion.SUCCESS
    )
    assert machine.memory.read(HIGH_BUFFER, 64) == b"payload!" * 8


def test_completion_raises_an_interrupt_that_is_acknowledged(bench: CardBench) -> None:
    """DONE asserts INTx through the controller; the handler acks and the line drops."""
    machine = bench.machine
    bench.take_interrupts()
    bench.enable_bus_master()
    bench.write(tc.Register.INTERRUPT_ENABLE, tc.Interrupt.DONE)
    machine.interrupt_controller.unmask(18)
    bench.run_list(LIST, [bench.descriptor(tc.Opcode.FILL, 0, SOURCE, 64)], wait=False)
    assert bench.interrupts_taken == []
    machine.run()
    assert bench.interrupts_taken == [18]
    assert bench.read(tc.Register.INTERRUPT_STATUS) == 0
    assert not bench.card.irq_requested
    assert not machine.interrupt_controller.is_pending(18)
    assert machine.interrupt_controller.in_service == 0


def test_interrupt_disable_in_the_command_register_masks_intx(bench: CardBench) -> None:
    """Command.InterruptDisable keeps INTx low while Status.InterruptStatus still shows it."""
    machine = bench.machine
    bench.set_command(set_bits=r.COMMAND_INTX_DISABLE)
    bench.write(tc.Register.INTERRUPT_ENABLE, tc.Interrupt.SOFTWARE)
    bench.write(tc.Register.INTERRUPT_SET, tc.Interrupt.SOFTWARE)
    assert bench.config_read(r.STATUS, 2) & r.STATUS_INTERRUPT
    assert not machine.interrupt_controller.is_pending(18)
    bench.set_command(clear_bits=r.COMMAND_INTX_DISABLE)
    assert machine.interrupt_controller.is_pending(18)


def test_two_cards_share_one_level_triggered_line(booted: tuple[Machine, OpenFirmware]) -> None:
    """Both cards reach input 18; the line stays high until the last one is quieted."""
    machine, _ = booted
    first = CardBench.attach(machine, "testcard0")
    second = CardBench.attach(machine, "testcard1")
    controller = machine.interrupt_controller
    line = controller.line(18)
    for bench in (first, second):
        assert bench.config_read(r.INTERRUPT_LINE, 1) == 18
        bench.write(tc.Register.INTERRUPT_ENABLE, tc.Interrupt.SOFTWARE)
        bench.write(tc.Register.INTERRUPT_SET, tc.Interrupt.SOFTWARE)
    assert line.sources() == ["testcard0", "testcard1"]
    controller.unmask(18)
    assert controller.acknowledge() == 18
    first.write(tc.Register.INTERRUPT_STATUS, tc.Interrupt.SOFTWARE)
    controller.end_of_interrupt(18)
    assert line.asserted
    assert controller.deliverable == 1 << 18
    assert controller.acknowledge() == 18
    second.write(tc.Register.INTERRUPT_STATUS, tc.Interrupt.SOFTWARE)
    controller.end_of_interrupt(18)
    assert not line.asserted
    assert controller.acknowledge() == 0xFF  # spurious: nothing left


def test_soft_reset_cancels_a_running_list(bench: CardBench) -> None:
    """CONTROL.SOFT_RESET stops the engine mid-list; no event of it fires afterwards."""
    machine = bench.machine
    bench.enable_bus_master()
    descriptors = [
        bench.descriptor(tc.Opcode.FILL, 0xEE, DESTINATION + 4096 * index, 4096)
        for index in range(4)
    ]
    bench.run_list(LIST, descriptors, wait=False)
    assert bench.read(tc.Register.STATUS) & tc.Status.BUSY
    bench.write(tc.Register.CONTROL, tc.Control.SOFT_RESET)
    assert bench.read(tc.Register.STATUS) == 0
    assert bench.read(tc.Register.CONTROL) == 0
    machine.run()
    assert machine.memory.read(DESTINATION, 16) == bytes(16)
    assert bench.card.lists_completed == 0


def test_abort_stops_after_the_descriptor_in_progress(bench: CardBench) -> None:
    """CONTROL.ABORT lets the current descriptor finish and ends the list as ABORTED."""
    bench.enable_bus_master()
    descriptors = [
        bench.descriptor(tc.Opcode.FILL, 0x11, DESTINATION + 4096 * index, 4096)
        for index in range(3)
    ]
    bench.run_list(LIST, descriptors, wait=False)
    bench.write(tc.Register.CONTROL, tc.Control.ABORT)
    bench.wait_idle()
    assert bench.read(tc.Register.COMPLETION_STATUS) == tc.Completion.ABORTED
    assert bench.read(tc.Register.COMPLETED_DESCRIPTORS) == 1
    assert bench.machine.memory.read(DESTINATION, 4096) == b"\x11" * 4096
    assert bench.machine.memory.read(DESTINATION + 4096, 16) == bytes(16)


def test_a_doorbell_while_busy_is_ignored_and_reported(bench: CardBench) -> None:
    """Ringing during a running list is a driver bug: the card ignores it and says so."""
    bench.enable_bus_master()
    bench.run_list(LIST, [bench.descriptor(tc.Opcode.FILL, 0, SOURCE, 1 << 20)], wait=False)
    bench.write(tc.Register.DOORBELL, 1)
    assert "doorbell rung while a descriptor list is running; ignored" in (
        bench.machine.guest_errors.messages("testcard0")
    )
    bench.wait_idle()
    assert bench.card.lists_completed == 1


def test_expansion_rom_decodes_only_when_enabled(bench: CardBench) -> None:
    """The ROM answers with a PCI expansion ROM header once its enable bit is set."""
    machine = bench.machine
    rom_base = bench.config_read(r.ROM_ADDRESS, 4) & r.ROM_ADDRESS_MASK
    assert rom_base
    assert machine.read(rom_base, 2) == 0xFFFF
    bench.config_write(r.ROM_ADDRESS, 4, rom_base | r.ROM_ENABLE)
    assert machine.read(rom_base, 2) == 0xAA55
    pcir = machine.read(rom_base + 0x18, 2)
    assert machine.read(rom_base + pcir, 4) == int.from_bytes(b"PCIR", "little")
    assert machine.read(rom_base + pcir + 4, 2) == tc.VENDOR_ID
    assert machine.read(rom_base + pcir + 0x14, 1) == 1  # code type: Open Firmware


def test_power_management_capability_is_on_the_list(bench: CardBench) -> None:
    """The capability list holds PCI PM; its PowerState field is writable."""
    assert bench.config_read(r.STATUS, 2) & r.STATUS_CAP_LIST
    pointer = bench.config_read(r.CAPABILITY_LIST, 1)
    assert bench.config_read(pointer, 1) == r.CAPABILITY_ID_POWER_MANAGEMENT
    assert bench.config_read(pointer + 1, 1) == 0
    bench.config_write(pointer + r.PM_CONTROL_STATUS, 2, 0xFFFF)
    assert bench.config_read(pointer + r.PM_CONTROL_STATUS, 2) == 3
    assert list(bench.card.capabilities()) == [(r.CAPABILITY_ID_POWER_MANAGEMENT, pointer)]


def test_seeded_jitter_changes_timing_but_not_results() -> None:
    """latency_jitter_ns draws from the seed: timing varies by seed, data never does."""
    text = """
        [memory]
        size = "256M"
        [[device]]
        model = "testcard"
        slot = 1
        [device.params]
        latency_jitter_ns = 100000
    """
    times = []
    for seed in (1, 1, 2):
        with Machine(
            parse_machine_description(text, "jitter.toml", "jitter"), seed=seed
        ) as machine:
            OpenFirmware(machine).power_on()
            bench = CardBench.attach(machine)
            bench.enable_bus_master()
            machine.memory.write(SOURCE, b"abc" * 100)
            completion = bench.run_list(
                LIST, [bench.descriptor(tc.Opcode.COPY, SOURCE, DESTINATION, 300) for _ in range(5)]
            )
            assert completion == tc.Completion.SUCCESS
            assert machine.memory.read(DESTINATION, 300) == b"abc" * 100
            times.append(machine.scheduler.now)
    assert times[0] == times[1]
    assert times[0] != times[2]


def test_the_controller_registers_match_its_python_api(bench: CardBench) -> None:
    """MASK/PENDING/ACKNOWLEDGE/END_OF_INTERRUPT registers drive the same state."""
    machine = bench.machine
    base = INTERRUPT_CONTROLLER_BASE
    bench.write(tc.Register.INTERRUPT_ENABLE, tc.Interrupt.SOFTWARE)
    bench.write(tc.Register.INTERRUPT_SET, tc.Interrupt.SOFTWARE)
    assert machine.read(base + ControllerRegister.PENDING, 4) == 1 << 18
    assert machine.read(base + ControllerRegister.ACKNOWLEDGE, 4) == 0xFF  # still masked
    machine.write(base + ControllerRegister.MASK_CLEAR, 4, 1 << 18)
    assert not machine.interrupt_controller.is_masked(18)
    assert machine.read(base + ControllerRegister.ACKNOWLEDGE, 4) == 18
    assert machine.read(base + ControllerRegister.IN_SERVICE, 4) == 1 << 18
    bench.write(tc.Register.INTERRUPT_STATUS, tc.Interrupt.SOFTWARE)
    machine.write(base + ControllerRegister.END_OF_INTERRUPT, 4, 18)
    assert machine.read(base + ControllerRegister.IN_SERVICE, 4) == 0
    assert machine.read(base + ControllerRegister.PENDING, 4) == 0


def test_with_tracing_on_every_interrupt_request_is_on_the_record() -> None:
    """A request that changes nothing still drives the wire when tracing is on (the trace
    shows it); off, it is skipped, and the wire and the controller end up the same."""
    levels = []
    for stream in (io.StringIO(), None):
        trace = TraceRecorder(stream) if stream is not None else None
        with Machine.from_name("default", trace=trace) as machine:
            OpenFirmware(machine).power_on()
            bench = CardBench.attach(machine)
            before = stream.getvalue().count("irq.level") if stream is not None else 0
            for _ in range(3):  # INTERRUPT_ENABLE's hook asks for the same (no) interrupt
                bench.write(tc.Register.INTERRUPT_ENABLE, 0)
            if stream is not None:
                assert stream.getvalue().count("irq.level") - before == 3
            bench.write(tc.Register.INTERRUPT_ENABLE, tc.Interrupt.SOFTWARE)
            bench.write(tc.Register.INTERRUPT_SET, tc.Interrupt.SOFTWARE)
            bench.write(tc.Register.INTERRUPT_SET, tc.Interrupt.SOFTWARE)  # asked again
            levels.append((bench.card.irq_requested, machine.interrupt_controller.is_pending(18)))
            bench.write(tc.Register.INTERRUPT_STATUS, tc.Interrupt.SOFTWARE)
            bench.write(tc.Register.INTERRUPT_STATUS, tc.Interrupt.SOFTWARE)
            levels.append((bench.card.irq_requested, machine.interrupt_controller.is_pending(18)))
    assert levels == [(True, True), (False, False)] * 2
