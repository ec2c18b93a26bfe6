"""Hot-plug, the firmware's event log, its own commands, and resets with re-handshake."""

from __future__ import annotations

import struct
from collections.abc import Iterator

import pytest

from kextlab.machine.devices.mvumi import registers as mv
from kextlab.machine.devices.mvumi.events import FirmwareEvent, event_request
from kextlab.machine.devices.mvumi.firmware import FirmwareState
from kextlab.machine.scsi.bus import Timing
from kextlab.machine.scsi.constants import SenseKey, Status
from kextlab.machine.scsi.target import SCSITarget
from kextlab.sim.time import MICROSECOND, MILLISECOND, SECOND
from kextlab.testing.umibench import (
    RamDisk,
    UMIBench,
    hba_machine,
    inquiry,
    ram_disk_target,
)

D = mv.Doorbell
DATA_IN = mv.CommandFlag.CMD_FLAG_DATA_IN
GET_EVENTS = bytes([mv.APICDB0_EVENT, mv.APICDB1_EVENT_GETEVENT]) + bytes(14)
FLUSH = bytes([mv.SCSI_CMD_MARVELL_SPECIFIC, mv.CDB_CORE_MODULE, mv.CDB_CORE_SHUTDOWN]) + bytes(13)


@pytest.fixture
def bench() -> Iterator[UMIBench]:
    with hba_machine() as built:
        built.start()
        yield built


def get_events(bench: UMIBench) -> tuple[int, list[tuple[int, ...]]]:
    """The driver's F4 00: the status and (sequence, id, severity, device, time) per event."""
    response, data = bench.data_in(GET_EVENTS, mv.EVENT_REQUEST_SIZE)
    count = data[0]
    events = []
    for index in range(count):
        fields = mv.DRIVER_EVENT.unpack_from(data, 4 + index * mv.DRIVER_EVENT.size)
        time_stamp, sequence, event_id, severity, _, device_id = fields[:6]
        events.append((sequence, event_id, severity, device_id, time_stamp))
    return response.status, events


def errors(bench: UMIBench) -> list[str]:
    return bench.machine.guest_errors.messages("hba0")


def test_hot_plug_rings_bus_change_and_inquiry_follows_the_bus(bench: UMIBench) -> None:
    """Attach and detach while running: DRBL_BUS_CHANGE each time, INQUIRY GOOD only while
    the target is there, as the driver's rescan expects."""
    response, _ = bench.data_in(inquiry(), 44, target=1)
    assert response.sense_code == (SenseKey.ILLEGAL_REQUEST, 0x25, 0x00)
    bench.hba.scsi_bus.attach(
        1, ram_disk_target("hot1"), at=bench.machine.scheduler.now + 10 * MICROSECOND
    )
    bench.machine.run()  # a hot-plug is external: the quiet machine does not wait for it
    assert bench.read("arm_to_pciea_drbl_reg") == 0
    bench.machine.run_for(MILLISECOND)
    rung = bench.read("arm_to_pciea_drbl_reg")
    assert rung == D.DRBL_BUS_CHANGE | D.DRBL_EVENT_NOTIFY
    assert bench.read("main_int_cause_reg") & bench.bits.int_dl_cpu2pciea
    assert bench.machine.interrupt_controller.is_pending(bench.interrupt_input)
    bench.write("arm_to_pciea_drbl_reg", rung)
    response, data = bench.data_in(inquiry(), 44, target=1)
    assert (response.status, data[16:24]) == (Status.GOOD, b"RAM DISK")
    bench.hba.scsi_bus.detach(1)
    bench.machine.run()
    assert bench.read("arm_to_pciea_drbl_reg") & D.DRBL_BUS_CHANGE
    response, _ = bench.data_in(inquiry(), 44, target=1)
    assert response.sense_code == (SenseKey.ILLEGAL_REQUEST, 0x25, 0x00)


def test_a_bus_change_before_the_handshake_rings_nothing() -> None:
    """Targets plugged in before the driver runs: logged as events, no doorbell."""
    with hba_machine() as bench:
        bench.hba.scsi_bus.attach(0, ram_disk_target())
        bench.machine.run()
        assert bench.read("arm_to_pciea_drbl_reg") == 0
        assert len(bench.hba.firmware.events) == 1


def test_the_event_command_returns_the_event_list(bench: UMIBench) -> None:
    """F4 00 returns the logged events (arrival, removal) once; the host clock of page 2
    stamps them."""
    bench.machine.run_for(3 * SECOND)
    bench.hba.scsi_bus.attach(4, ram_disk_target("hot4"))
    bench.hba.scsi_bus.detach(4)
    status, events = get_events(bench)
    assert status == Status.GOOD
    assert [event[:4] for event in events] == [
        (1, mv.EventId.DEVICE_ARRIVAL, mv.EventSeverity.INFO, 4),
        (2, mv.EventId.DEVICE_REMOVAL, mv.EventSeverity.INFO, 4),
    ]
    assert events[0][4] == 1_300_000_000 + 3  # page 2's seconds_since1970, three seconds on
    assert get_events(bench) == (Status.GOOD, [])


def test_more_events_than_one_reply_holds_ring_event_notify_again(bench: UMIBench) -> None:
    """Eight events: the first reply carries six and the firmware rings again for the rest."""
    firmware = bench.hba.firmware
    for device in range(8):
        firmware.post_event(
            mv.EventId.DEVICE_ERROR,
            mv.EventSeverity.ERROR,
            device,
            params=(device, 2),
            sense_data=b"\x70\x00\x03",
        )
    bench.machine.run()
    bench.write("arm_to_pciea_drbl_reg", bench.read("arm_to_pciea_drbl_reg"))
    status, first = get_events(bench)
    assert status == Status.GOOD
    assert [event[3] for event in first] == [0, 1, 2, 3, 4, 5]
    assert bench.read("arm_to_pciea_drbl_reg") == D.DRBL_EVENT_NOTIFY
    _, rest = get_events(bench)
    assert [event[3] for event in rest] == [6, 7]


def test_events_stay_logged_when_their_reply_cannot_be_delivered(bench: UMIBench) -> None:
    """F4 00 into a buffer outside RAM: data phase error, and the events are still there."""
    bench.hba.firmware.post_event(mv.EventId.DEVICE_ERROR, mv.EventSeverity.WARNING, 0)
    response = bench.command(GET_EVENTS, flag=DATA_IN, segments=[(0x7_0000_0000, 388)])
    assert response.sense_code == (SenseKey.ABORTED_COMMAND, 0x4B, 0x00)
    assert len(bench.hba.firmware.events) == 1


@pytest.mark.parametrize(
    ("cdb", "flag", "channel"),
    [
        pytest.param(bytes([0xF4, 1]) + bytes(14), DATA_IN, "unimplemented", id="host-getevent"),
        pytest.param(GET_EVENTS, mv.CommandFlag.CMD_FLAG_NON_DATA, "guest", id="no-data-in"),
        pytest.param(bytes([0xF4, 9]) + bytes(14), DATA_IN, "guest", id="unknown-function"),
    ],
)
def test_event_commands_the_firmware_does_not_offer_are_refused(
    bench: UMIBench, cdb: bytes, flag: int, channel: str
) -> None:
    """Other event functions, or F4 00 without DATA_IN: ILLEGAL REQUEST 24/00, reported."""
    segments = [(bench.low.allocate(512), 388)] if flag == DATA_IN else []
    response = bench.command(cdb, flag=flag, segments=segments)
    assert response.sense_code == (SenseKey.ILLEGAL_REQUEST, 0x24, 0x00)
    log = bench.machine.guest_errors
    if channel == "guest":
        assert log.count("hba0") == 1
    else:
        assert log.unimplemented_count("hba0") == 1


def test_the_event_reply_layout_matches_the_driver_structures() -> None:
    """sizeof(mvumi_event_req) is 388 and an event packs into 64 bytes, little-endian."""
    event = FirmwareEvent(7, 1000, mv.EventId.DEVICE_ARRIVAL, 1, 3, (9,), b"\x70")
    reply = event_request([event])
    assert len(reply) == 388
    assert reply[0] == 1
    assert struct.unpack_from("<IIIBBH", reply, 4) == (1000, 7, 1, 1, 1, 3)
    assert struct.unpack_from("<4I", reply, 20) == (9, 0, 0, 0)
    assert (reply[36], reply[37], reply[38]) == (1, 0, 0x70)


def test_the_shutdown_flush_answers_per_target(bench: UMIBench) -> None:
    """E1 01 0B: GOOD for a present target, 25/00 for an empty ID; other E1 refused."""
    bench.hba.scsi_bus.attach(0, ram_disk_target())
    assert bench.command(FLUSH, target=0).status == Status.GOOD
    assert bench.command(FLUSH, target=7).sense_code == (SenseKey.ILLEGAL_REQUEST, 0x25, 0)
    other = bytes([mv.SCSI_CMD_MARVELL_SPECIFIC, 2, 1]) + bytes(13)
    assert bench.command(other).sense_code == (SenseKey.ILLEGAL_REQUEST, 0x24, 0)
    assert bench.machine.guest_errors.unimplemented_count("hba0") == 1


def test_soft_reset_drops_commands_resets_the_bus_and_needs_a_new_handshake(
    bench: UMIBench,
) -> None:
    """DRBL_SOFT_RESET as mvumi_reset sends it: in-flight commands vanish, the firmware
    reboots to READYSTATE, nothing works until a new handshake, the disk reports the
    bus reset."""
    unit = RamDisk("ram0", 64)
    unit.take_unit_attention()
    bench.hba.scsi_bus.attach(0, SCSITarget("ram0", {0: unit}), timing=Timing(MILLISECOND))
    bench.submit([bench.frame(bytes(6), tag=tag) for tag in range(4)])
    bench.machine.run_for(10 * MICROSECOND)
    assert len(bench.hba.scsi_bus.in_flight(0)) == 4
    posted = bench.hba.firmware.responses_posted

    bench.write("enpointa_mask_reg", 0)
    assert bench.read("arm_to_pciea_msg1") == mv.HANDSHAKE_DONESTATE
    bench.write("pciea_to_arm_drbl_reg", D.DRBL_SOFT_RESET)
    bench.machine.run_for(10 * MICROSECOND)
    assert bench.hba.firmware.state is FirmwareState.BOOTING
    assert bench.read("arm_to_pciea_msg1") == 0
    assert bench.hba.scsi_bus.in_flight(0) == []
    bench.write("inb_write_pointer", 0)
    assert any("before the handshake completed" in message for message in errors(bench))

    bench.machine.run()
    assert bench.hba.firmware.responses_posted == posted  # the old commands never answer
    assert bench.read("outb_copy_pointer") == 0
    bench.handshake_replies.clear()
    bench.start()
    assert bench.hba.firmware.state is FirmwareState.RUNNING
    response = bench.command(bytes(6))
    assert response.sense_code == (SenseKey.UNIT_ATTENTION, 0x29, 0x02)
    assert bench.command(bytes(6)).status == Status.GOOD


def test_message_unit_reset_returns_to_ready_at_once(bench: UMIBench) -> None:
    """DRBL_MU_RESET on a running firmware: READYSTATE after the firmware latency (no boot),
    the bus reset, then a handshake brings it back."""
    unit = RamDisk("ram0", 64)
    unit.take_unit_attention()
    bench.hba.scsi_bus.attach(0, SCSITarget("ram0", {0: unit}))
    bench.write("pciea_to_arm_drbl_reg", D.DRBL_MU_RESET)
    bench.machine.run_for(3 * MICROSECOND)
    assert bench.hba.firmware.state is FirmwareState.READY
    assert bench.read("arm_to_pciea_msg1") == mv.HANDSHAKE_READYSTATE
    assert unit.pending_unit_attentions()[0].asc == 0x29
    bench.start()
    assert bench.command(bytes(6)).sense_code == (SenseKey.UNIT_ATTENTION, 0x29, 0x02)


def test_a_pci_reset_reboots_the_firmware(bench: UMIBench) -> None:
    """The function's reset(): registers at reset values, the firmware booting again."""
    bench.hba.reset()
    assert bench.hba.firmware.state is FirmwareState.BOOTING
    assert bench.hba.registers["enpointa_mask_reg"] == 0
    bench.machine.run()
    assert bench.hba.firmware.state is FirmwareState.READY
