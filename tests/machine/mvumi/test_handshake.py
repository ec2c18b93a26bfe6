"""The Marvell UMI HBA from reset to running: identity, firmware states and the handshake."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kextlab.machine.devices import DeviceCatalog
from kextlab.machine.devices.mvumi import registers as mv
from kextlab.machine.devices.mvumi.device import MarvellUMI9143, MarvellUMI9580
from kextlab.machine.devices.mvumi.firmware import FirmwareState
from kextlab.machine.pci import registers as r
from kextlab.sim.time import MICROSECOND, MILLISECOND
from kextlab.testing.umibench import UMIBench, hba_machine, inquiry, ram_disk_target

OK = mv.HandshakeStatus.HS_STATUS_OK
ERR = mv.HandshakeStatus.HS_STATUS_ERR
INVALID = mv.HandshakeStatus.HS_STATUS_INVALID
S = mv.HandshakeState


@pytest.fixture
def bench() -> Iterator[UMIBench]:
    with hba_machine() as built:
        yield built


@pytest.fixture
def ready(bench: UMIBench) -> UMIBench:
    """Bus master on, doorbells unmasked, firmware in READYSTATE: about to handshake."""
    bench.set_command(set_bits=r.COMMAND_MASTER)
    bench.prepare()
    bench.wait_for_firmware()
    return bench


def errors(bench: UMIBench) -> list[str]:
    return bench.machine.guest_errors.messages("hba0")


def test_the_catalog_offers_both_chips() -> None:
    """mvumi9143 and mvumi9580 are device models a machine file can name."""
    catalog = DeviceCatalog()
    assert catalog.load("mvumi9143") is MarvellUMI9143
    assert catalog.load("mvumi9580") is MarvellUMI9580


def test_config_space_identifies_a_marvell_raid_controller(bench: UMIBench) -> None:
    """Vendor 1B4B, device 9143, class 010400, INTA#, one 1 MiB memory BAR 0."""
    assert bench.config_read(r.VENDOR_ID, 2) == 0x1B4B
    assert bench.config_read(r.DEVICE_ID, 2) == 0x9143
    assert bench.config_read(r.REVISION_ID, 4) >> 8 == 0x010400
    assert bench.config_read(r.SUBSYSTEM_ID, 2) == 0x9143
    assert bench.config_read(r.INTERRUPT_PIN, 1) == r.INTA
    bench.config_write(0x10, 4, 0xFFFF_FFFF)
    assert bench.config_read(0x10, 4) == 0xFFF0_0000
    for offset in (0x14, 0x18, 0x1C, 0x20, 0x24):
        assert bench.config_read(offset, 4) == 0


def test_the_bench_follows_the_register_bar_when_the_host_moves_it(bench: UMIBench) -> None:
    """A BAR moved by a configuration write: the registers answer at the new address only."""
    bench.machine.run()  # the firmware has booted
    old = bench.registers_base
    window = bench.machine.pci.layout.memory_window
    new = window.base + window.size - mv.REGISTER_BAR_SIZE
    assert bench.machine.memory_space.lookup(new) is None
    assert bench.read("arm_to_pciea_msg1") == mv.HANDSHAKE_READYSTATE
    bench.config_write(r.BASE_ADDRESS_0, 4, new)
    assert bench.registers_base == new
    assert bench.read("arm_to_pciea_msg1") == mv.HANDSHAKE_READYSTATE
    offset = bench.offset("arm_to_pciea_msg1")
    assert bench.machine.read(old + offset, 4) == 0xFFFF_FFFF  # nothing decodes there now
    assert bench.machine.read(new + offset, 4) == mv.HANDSHAKE_READYSTATE


def test_firmware_boots_to_the_ready_signature() -> None:
    """msg1 reads 0 while the firmware boots and READYSTATE once it has (boot_time_ns)."""
    with hba_machine(boot_time_ns=5 * MILLISECOND) as slow:
        assert slow.read("arm_to_pciea_msg1") == 0
        assert slow.hba.firmware.state is FirmwareState.BOOTING
        slow.machine.run_for(5 * MILLISECOND)
        assert slow.read("arm_to_pciea_msg1") == mv.HANDSHAKE_READYSTATE
        assert slow.hba.firmware.state is FirmwareState.READY


def test_full_handshake_exchanges_four_checksummed_pages(ready: UMIBench) -> None:
    """RESET, PAGE_ADDR, page 1 queried, pages 2-4 sent, END: each echoed OK; DONESTATE."""
    ready.handshake()
    assert ready.handshake_replies == [
        (OK, S.HS_S_RESET),
        (OK, S.HS_S_PAGE_ADDR),
        (OK, S.HS_S_QUERY_PAGE),
        (OK, S.HS_S_SEND_PAGE),
        (OK, S.HS_S_SEND_PAGE),
        (OK, S.HS_S_SEND_PAGE),
        (OK, S.HS_S_END),
    ]
    assert ready.capabilities is not None
    caps = ready.capabilities
    assert (caps.max_devices, caps.max_io, caps.max_transfer) == (16, 64, 1 << 20)
    assert (caps.inbound_entry_code, caps.outbound_entry_code) == (7, 5)
    assert (caps.list_depth, caps.total_pages, caps.capability) == (64, 4, 0)
    assert mv.max_sg_entries(mv.entry_size(caps.inbound_entry_code)) == 30
    assert ready.read("arm_to_pciea_msg1") == mv.HANDSHAKE_DONESTATE
    firmware = ready.hba.firmware
    assert firmware.state is FirmwareState.RUNNING
    assert firmware.handshake.host_info is not None
    assert firmware.handshake.host_info.host_type == mv.HOST_TYPE_LINUX
    assert firmware.handshake.host_info.host_version == (1, 1, 0, 1500)
    assert firmware.inbound is not None
    assert firmware.outbound is not None
    assert (firmware.inbound.base, firmware.inbound.entry_size) == (ready.ib_list, 512)
    assert (firmware.outbound.base, firmware.outbound.entry_size) == (ready.ob_list, 128)
    start = 63 | ready.bits.cl_pointer_toggle
    assert ready.read("inb_read_pointer") == start
    assert ready.read("outb_copy_pointer") == start
    assert errors(ready) == []


def test_page_address_high_word_travels_in_arm_to_pciea_msg1(ready: UMIBench) -> None:
    """A handshake page above 4 GiB: the firmware uses the high word the host wrote to msg1."""
    ready.step(S.HS_S_RESET, mv.HANDSHAKE_SIGNATURE)
    ready.page_address = 0x1_0000_4000
    assert ready.send_page_address() == (OK, S.HS_S_PAGE_ADDR)
    assert ready.hba.firmware.handshake.page_address == 0x1_0000_4000
    assert ready.query_capabilities() == (OK, S.HS_S_QUERY_PAGE)
    assert ready.get(0x1_0000_4000, 1) == bytes([mv.PageCode.HS_PAGE_FIRM_CAP])
    assert ready.get(0x4000, 4) == bytes(4)  # nothing landed at the low word alone


def test_each_step_rings_the_handshake_doorbell_and_raises_intx(ready: UMIBench) -> None:
    """The firmware's DRBL_HANDSHAKE is level INTx while enabled and unacknowledged."""
    controller = ready.machine.interrupt_controller
    line = ready.interrupt_input
    ready.write("pciea_to_arm_msg1", mv.HANDSHAKE_SIGNATURE)
    ready.write("pciea_to_arm_msg0", mv.handshake_message(OK, S.HS_S_RESET))
    ready.write("pciea_to_arm_drbl_reg", mv.Doorbell.DRBL_HANDSHAKE)
    assert not controller.is_pending(line)
    ready.machine.run()
    assert ready.read("arm_to_pciea_drbl_reg") == mv.Doorbell.DRBL_HANDSHAKE
    assert ready.read("main_int_cause_reg") == ready.bits.int_dl_cpu2pciea
    assert controller.is_pending(line)
    ready.write("arm_to_pciea_drbl_reg", mv.Doorbell.DRBL_HANDSHAKE)
    assert ready.read("main_int_cause_reg") == 0
    assert not controller.is_pending(line)
    assert ready.read("arm_to_pciea_msg0") == mv.handshake_message(OK, S.HS_S_RESET)


def test_firmware_acts_after_its_latency(ready: UMIBench) -> None:
    """A doorbell is served firmware_latency_ns later, not during the register write."""
    ready.write("pciea_to_arm_msg1", mv.HANDSHAKE_SIGNATURE)
    ready.write("pciea_to_arm_msg0", mv.handshake_message(OK, S.HS_S_RESET))
    rung = ready.machine.scheduler.now
    ready.write("pciea_to_arm_drbl_reg", mv.Doorbell.DRBL_HANDSHAKE)
    assert ready.hba.firmware.state is FirmwareState.READY
    ready.machine.run(until=rung + 2 * MICROSECOND - 1)
    assert ready.hba.firmware.state is FirmwareState.READY
    ready.machine.run()
    assert ready.hba.firmware.state is FirmwareState.HANDSHAKING
    assert ready.machine.scheduler.now == rung + 2 * MICROSECOND


def test_a_host_page_with_a_bad_checksum_fails_its_step(ready: UMIBench) -> None:
    """Page 2 with a wrong checksum: HS_STATUS_ERR, a guest error; a new handshake works."""
    assert ready.step(S.HS_S_RESET, mv.HANDSHAKE_SIGNATURE) == (OK, S.HS_S_RESET)
    ready.send_page_address()
    ready.query_capabilities()
    ready.allocate_lists()
    good = ready.host_page(2)
    ready.put(ready.page_address, ready.host_page(2, checksum=good[1] ^ 0x55))
    assert ready.step(S.HS_S_SEND_PAGE) == (ERR, S.HS_S_SEND_PAGE)
    assert any("page 2 checksum" in message for message in errors(ready))
    assert ready.step(S.HS_S_END) == (ERR, S.HS_S_END)
    assert ready.hba.firmware.state is FirmwareState.HANDSHAKING
    ready.handshake()
    assert ready.hba.firmware.state is FirmwareState.RUNNING


@pytest.mark.parametrize(
    ("steps", "expected", "message"),
    [
        pytest.param(
            [(S.HS_S_PAGE_ADDR, 0x1000)],
            (ERR, S.HS_S_PAGE_ADDR),
            "before HS_S_RESET",
            id="page-address-first",
        ),
        pytest.param(
            [(S.HS_S_RESET, 0x1234_5678)],
            (ERR, S.HS_S_RESET),
            "not the signature",
            id="reset-without-signature",
        ),
        pytest.param(
            [(S.HS_S_RESET, mv.HANDSHAKE_SIGNATURE), (S.HS_S_QUERY_PAGE, None)],
            (ERR, S.HS_S_QUERY_PAGE),
            "before HS_S_PAGE_ADDR",
            id="query-before-address",
        ),
        pytest.param(
            [
                (S.HS_S_RESET, mv.HANDSHAKE_SIGNATURE),
                (S.HS_S_PAGE_ADDR, 0x2000),
                (S.HS_S_END, None),
            ],
            (ERR, S.HS_S_END),
            "HS_S_END before the host sent pages 2, 3, 4",
            id="end-before-pages",
        ),
        pytest.param(
            [
                (S.HS_S_RESET, mv.HANDSHAKE_SIGNATURE),
                (S.HS_S_PAGE_ADDR, 0x2000),
                (S.HS_S_SEND_PAGE, None),
            ],
            (ERR, S.HS_S_SEND_PAGE),
            "before the host queried page 1",
            id="send-before-query",
        ),
        pytest.param(
            [(S.HS_S_START, None)],
            (INVALID, S.HS_S_START),
            "not one the firmware knows",
            id="start-is-host-internal",
        ),
        pytest.param(
            [(0x42, None)],
            (INVALID, 0x42),
            "not one the firmware knows",
            id="unknown-step",
        ),
    ],
)
def test_out_of_order_or_unknown_steps_are_refused(
    ready: UMIBench, steps: list[tuple[int, int | None]], expected: tuple[int, int], message: str
) -> None:
    """A step the handshake cannot take now answers ERR (unknown: INVALID) and is logged."""
    reply = (0, 0)
    for state, message1 in steps:
        reply = ready.step(state, message1)
    assert reply == expected
    assert any(message in line for line in errors(ready))
    assert ready.hba.firmware.state is not FirmwareState.RUNNING


def test_page_four_asking_more_than_page_one_offered_is_refused(ready: UMIBench) -> None:
    """Lists deeper than cl_inout_list_depth: page 4 is refused, the handshake cannot end."""
    ready.step(S.HS_S_RESET, mv.HANDSHAKE_SIGNATURE)
    ready.send_page_address()
    ready.query_capabilities()
    ready.allocate_lists()
    for code in (2, 3):
        ready.put(ready.page_address, ready.host_page(code))
        assert ready.step(S.HS_S_SEND_PAGE) == (OK, S.HS_S_SEND_PAGE)
    ready.put(ready.page_address, ready.host_page(4, ob_depth=65))
    assert ready.step(S.HS_S_SEND_PAGE) == (ERR, S.HS_S_SEND_PAGE)
    assert "page 4 refused: ob_depth 65 outside 1-64" in errors(ready)
    assert ready.step(S.HS_S_END) == (ERR, S.HS_S_END)


def test_a_page_the_firmware_cannot_reach_fails_the_step(ready: UMIBench) -> None:
    """A page address outside RAM: master abort, HS_STATUS_ERR; nothing raises."""
    ready.step(S.HS_S_RESET, mv.HANDSHAKE_SIGNATURE)
    ready.write("arm_to_pciea_msg1", 0x7)
    assert ready.step(S.HS_S_PAGE_ADDR, 0) == (OK, S.HS_S_PAGE_ADDR)
    assert ready.step(S.HS_S_QUERY_PAGE) == (ERR, S.HS_S_QUERY_PAGE)
    assert ready.hba.master_aborts == 1
    assert "handshake: the handshake page at 0x700000000 is not reachable" in errors(ready)


def test_a_handshake_doorbell_while_booting_is_ignored() -> None:
    """DRBL_HANDSHAKE before READYSTATE: logged, no echo, no doorbell back."""
    with hba_machine(boot_time_ns=MILLISECOND) as bench:
        bench.write("pciea_to_arm_msg1", mv.HANDSHAKE_SIGNATURE)
        bench.write("pciea_to_arm_msg0", mv.handshake_message(OK, S.HS_S_RESET))
        bench.write("pciea_to_arm_drbl_reg", mv.Doorbell.DRBL_HANDSHAKE)
        bench.machine.run_for(10 * MICROSECOND)
        assert bench.read("arm_to_pciea_drbl_reg") == 0
        assert bench.read("arm_to_pciea_msg0") == 0
        assert "DRBL_HANDSHAKE rung while the firmware boots; ignored" in errors(bench)


def test_a_new_reset_step_while_running_starts_over(ready: UMIBench) -> None:
    """HS_S_RESET on a running firmware: out of RUNNING until a full handshake again."""
    ready.handshake()
    ready.handshake_replies.clear()
    assert ready.step(S.HS_S_RESET, mv.HANDSHAKE_SIGNATURE) == (OK, S.HS_S_RESET)
    assert ready.hba.firmware.state is FirmwareState.HANDSHAKING
    assert ready.read("arm_to_pciea_msg1") == mv.HANDSHAKE_READYSTATE
    ready.handshake()
    assert ready.hba.firmware.state is FirmwareState.RUNNING


def test_abort_returns_a_handshaking_firmware_to_ready(ready: UMIBench) -> None:
    """HS_S_ABORT mid-handshake: READY again, the pages forgotten."""
    ready.step(S.HS_S_RESET, mv.HANDSHAKE_SIGNATURE)
    ready.send_page_address()
    assert ready.step(S.HS_S_ABORT) == (OK, S.HS_S_ABORT)
    assert ready.hba.firmware.state is FirmwareState.READY
    assert ready.read("arm_to_pciea_msg1") == mv.HANDSHAKE_READYSTATE
    assert ready.step(S.HS_S_QUERY_PAGE) == (ERR, S.HS_S_QUERY_PAGE)


def test_the_9580_variant_runs_the_same_protocol_at_its_offsets() -> None:
    """9580: registers in BAR2 at the 9580 offsets and bits, no ob_shadow; I/O works."""
    with hba_machine("mvumi9580") as bench:
        assert bench.config_read(r.DEVICE_ID, 2) == 0x9580
        assert bench.hba.bars.keys() == {2}
        bench.start()
        assert bench.read("arm_to_pciea_msg1") == mv.HANDSHAKE_DONESTATE
        bench.hba.scsi_bus.attach(0, ram_disk_target())
        response, data = bench.data_in(inquiry(), 44)
        assert (response.status, data[8:15]) == (0, b"KEXTLAB")
        assert response.slot == 0
        assert bench.read("outb_copy_pointer") == 0  # toggle bit 14 clear after the wrap
        assert bench.get32(bench.ob_shadow) == 0  # never programmed, never written
        assert bench.get32(bench.ib_shadow) == 64  # inbound entries free again
        bench.write("reset_enable", mv.RESET_9580_BIT)
        bench.write("reset_request", mv.RESET_9580_BIT)
        assert bench.hba.firmware.state is FirmwareState.BOOTING
        assert bench.wait_for_firmware() == mv.HANDSHAKE_READYSTATE
        assert errors(bench) == []
