"""SPC conformance, written once and run against every target type.

What SPC-4 asks of any logical unit, checked on the disk, the CD-ROM and the tape
alike, mostly through python-scsi (an independent initiator): the power-on unit
attention first and only once, INQUIRY and REQUEST SENSE never blocked by it,
standard INQUIRY fields and the peripheral type, VPD pages 0x00/0x80/0x83, REPORT
LUNS, replies clipped to the ALLOCATION LENGTH, unknown operation codes and short
CDBs refused with ILLEGAL REQUEST, and every answer coming back through an HBA's bus
the same as directly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pyscsi.pyscsi.scsi import SCSI

from kextlab.machine.scsi import Direction, MemoryBuffer, SCSIBus, SCSIRequest, SCSITarget, sense
from kextlab.machine.scsi.cdrom import CDROMUnit
from kextlab.machine.scsi.constants import Opcode, PeripheralType, Status
from kextlab.machine.scsi.disk import DiskUnit
from kextlab.machine.scsi.tape import TapeUnit
from kextlab.machine.scsi.target import LogicalUnit
from kextlab.sim.scheduler import Scheduler
from kextlab.testing.pyscsi_backend import EmulatedTargetDevice

from .initiator import data_of, issue, make_iso

Maker = Callable[[Path], LogicalUnit]
MAKERS: dict[str, tuple[Maker, PeripheralType, bool]] = {
    "disk": (
        lambda path: DiskUnit.open("disk0", path / "disk.img", size=1 << 20, serial="D0"),
        PeripheralType.DISK,
        False,
    ),
    "cdrom": (
        lambda path: CDROMUnit("cd0", make_iso(path / "disc.iso"), serial="C0"),
        PeripheralType.CDROM,
        True,
    ),
    "tape": (
        lambda path: TapeUnit("tape0", path / "tape.aws", serial="T0"),
        PeripheralType.TAPE,
        True,
    ),
}


@dataclass
class Case:
    """A unit and what its kind must report in INQUIRY."""

    unit: LogicalUnit
    peripheral: PeripheralType
    removable: bool


@pytest.fixture(params=sorted(MAKERS))
def case(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Case]:
    maker, peripheral, removable = MAKERS[request.param]
    built = maker(tmp_path)
    yield Case(built, peripheral, removable)
    close = getattr(built, "close", None)
    if close is not None:
        close()


@pytest.fixture
def unit(case: Case) -> LogicalUnit:
    return case.unit


@pytest.fixture
def device(unit: LogicalUnit) -> EmulatedTargetDevice:
    return EmulatedTargetDevice(SCSITarget("target0", {0: unit}))


def test_the_power_on_unit_attention_comes_first_and_once(
    unit: LogicalUnit, device: EmulatedTargetDevice
) -> None:
    client = SCSI(device)  # its INQUIRY is not blocked by the unit attention
    with pytest.raises(device.CheckCondition) as caught:
        client.testunitready()
    assert (caught.value.data["sense_key"], caught.value.asc, caught.value.ascq) == (6, 0x29, 1)
    request = issue(unit, bytes(6))
    assert request.status is not Status.CHECK_CONDITION or (
        sense.decode(request.sense).key is not sense.SenseKey.UNIT_ATTENTION
    )


def test_request_sense_reports_and_clears_the_unit_attention(unit: LogicalUnit) -> None:
    reply = issue(unit, bytes([Opcode.REQUEST_SENSE, 0, 0, 0, 252, 0]), data_in=252)
    assert reply.status is Status.GOOD
    reported = sense.decode(data_of(reply))
    assert reported.code == (sense.SenseKey.UNIT_ATTENTION, 0x29, 0x01)
    assert not unit.pending_unit_attentions()


def test_standard_inquiry_names_the_peripheral_and_the_vendor(
    case: Case, device: EmulatedTargetDevice
) -> None:
    result = SCSI(device).inquiry().result
    assert result["peripheral_qualifier"] == 0
    assert result["peripheral_device_type"] == int(case.peripheral)
    assert result["rmb"] == int(case.removable)
    assert result["version"] == 5  # SPC-3, as QEMU reports
    assert result["response_data_format"] == 2
    assert bytes(result["t10_vendor_identification"]) == b"KEXTLAB "
    assert device.devicetype == int(case.peripheral)


def test_vpd_pages_list_serial_and_identification(
    unit: LogicalUnit, device: EmulatedTargetDevice
) -> None:
    client = SCSI(device)
    pages = client.inquiry(evpd=1, page_code=0x00).result["vpd_pages"]
    assert pages[:3] == [0x00, 0x80, 0x83]
    serial = client.inquiry(evpd=1, page_code=0x80).result["unit_serial_number"]
    assert bytes(serial).decode("ascii").strip() == unit.serial
    designators = client.inquiry(evpd=1, page_code=0x83).result["designator_descriptors"]
    assert designators


def test_report_luns_lists_lun_zero(device: EmulatedTargetDevice) -> None:
    luns = SCSI(device).reportluns().result["luns"]
    assert luns == [{"lun0": 0}]  # python-scsi's reading of one peripheral-addressed LUN 0


@pytest.mark.parametrize("allocation", [0, 5, 36])
def test_inquiry_is_clipped_to_the_allocation_length(unit: LogicalUnit, allocation: int) -> None:
    reply = issue(unit, bytes([Opcode.INQUIRY, 0, 0, 0, allocation, 0]), data_in=96)
    assert reply.status is Status.GOOD
    assert reply.transferred == allocation


def test_unknown_opcodes_and_short_cdbs_are_illegal_requests(unit: LogicalUnit) -> None:
    issue(unit, bytes([Opcode.REQUEST_SENSE, 0, 0, 0, 252, 0]), data_in=252)
    unknown = issue(unit, bytes([0xC7, 0, 0, 0, 0, 0]))
    assert sense.decode(unknown.sense).code == (sense.SenseKey.ILLEGAL_REQUEST, 0x20, 0x00)
    short = issue(unit, bytes([Opcode.INQUIRY, 0, 0]), data_in=36)
    assert sense.decode(short.sense).code == (sense.SenseKey.ILLEGAL_REQUEST, 0x24, 0x00)
    assert issue(unit, bytes([Opcode.INQUIRY, 0, 0, 0, 36, 0]), data_in=36).ok


def test_a_bus_delivers_the_same_answers_later(unit: LogicalUnit) -> None:
    """Through an HBA's bus, commands complete in virtual time, in order, with what
    the unit answers directly."""
    scheduler = Scheduler()
    bus = SCSIBus(scheduler, "scsi0")
    bus.attach(2, SCSITarget("t", {0: unit}))
    done: list[tuple[int, Status]] = []
    requests = [
        SCSIRequest(0, bytes(6), tag=1),
        SCSIRequest(0, bytes(6), tag=2),
        SCSIRequest(
            0, bytes([Opcode.INQUIRY, 0, 0, 0, 36, 0]), Direction.IN, MemoryBuffer(36), tag=3
        ),
    ]
    for request in requests:
        request.on_complete = lambda finished: done.append((finished.tag, finished.status))
        bus.submit(2, request)
    assert done == []
    scheduler.run()
    assert scheduler.now > 0
    assert done == [(1, Status.CHECK_CONDITION), (2, Status.GOOD), (3, Status.GOOD)]
    missing = SCSIRequest(0, bytes(6))
    bus.submit(5, missing)
    scheduler.run()
    assert missing.completed
    assert missing.host_status.value == "no target"
