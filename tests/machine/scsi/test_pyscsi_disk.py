"""python-scsi against the disk: an independent initiator builds the CDBs and decodes
the answers (INQUIRY and VPD, READ CAPACITY, MODE SENSE, sense data), through
``kextlab.testing.pyscsi_backend``, as issue 6 asks."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyscsi.pyscsi.scsi import SCSI
from pyscsi.pyscsi.scsi_cdb_modesense6 import ModeSelect6
from pyscsi.pyscsi.scsi_cdb_read16 import Read16
from pyscsi.pyscsi.scsi_enum_command import sbc
from pyscsi.pyscsi.scsi_sense import SCSICheckCondition

from kextlab.machine.scsi import SCSITarget
from kextlab.machine.scsi.disk import DiskUnit
from kextlab.machine.scsi.sense import decode
from kextlab.testing.pyscsi_backend import CommandStatusError, EmulatedTargetDevice

BLOCK = 512
BLOCKS = 4096


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[DiskUnit]:
    unit = DiskUnit.open(
        "disk0", tmp_path / "disk.img", size=BLOCKS * BLOCK, thin=True, serial="KL0001"
    )
    yield unit
    unit.close()


@pytest.fixture
def device(disk: DiskUnit) -> EmulatedTargetDevice:
    return EmulatedTargetDevice(SCSITarget("target0", {0: disk}))


@pytest.fixture
def scsi(device: EmulatedTargetDevice) -> SCSI:
    """python-scsi's front end, past the disk's POWER ON OCCURRED unit attention."""
    front = SCSI(device, blocksize=BLOCK)
    with pytest.raises(device.CheckCondition) as caught:
        front.testunitready()
    assert (caught.value.data["sense_key"], caught.value.asc, caught.value.ascq) == (6, 0x29, 1)
    front.testunitready()
    return front


def test_pyscsi_picks_the_sbc_opcodes_from_the_disks_inquiry(
    device: EmulatedTargetDevice, scsi: SCSI
) -> None:
    """SCSI() issues INQUIRY (unit attentions do not block it) and chooses SBC."""
    assert device.devicetype == 0
    assert device.opcodes is sbc


def test_pyscsi_reads_the_standard_inquiry_data(scsi: SCSI) -> None:
    """Vendor, product, revision, SPC-3 version, HiSup and CmdQue as python-scsi decodes them."""
    result = scsi.inquiry().result
    assert result["peripheral_qualifier"] == 0
    assert result["peripheral_device_type"] == 0
    assert result["rmb"] == 0
    assert result["version"] == 5
    assert result["hisup"] == 1
    assert result["response_data_format"] == 2
    assert result["cmdque"] == 1
    assert bytes(result["t10_vendor_identification"]) == b"KEXTLAB "
    assert bytes(result["product_identification"]) == b"KEXTLAB DISK    "
    assert bytes(result["product_revision_level"]) == b"0001"


def test_pyscsi_reads_the_supported_serial_and_identification_vpd_pages(scsi: SCSI) -> None:
    """VPD 0x00 lists 0x00 0x80 0x83 0xB0 0xB1 0xB2; 0x80 the serial; 0x83 a T10
    vendor ID designator (code set ASCII, LU association)."""
    assert scsi.inquiry(evpd=1, page_code=0x00).result["vpd_pages"] == [
        0x00,
        0x80,
        0x83,
        0xB0,
        0xB1,
        0xB2,
    ]
    assert bytes(scsi.inquiry(evpd=1, page_code=0x80).result["unit_serial_number"]) == b"KL0001"
    (designator,) = scsi.inquiry(evpd=1, page_code=0x83).result["designator_descriptors"]
    assert (designator["code_set"], designator["association"], designator["designator_type"]) == (
        2,
        0,
        1,
    )
    assert bytes(designator["designator"]["t10_vendor_id"]) == b"KEXTLAB "
    assert bytes(designator["designator"]["vendor_specific_id"]) == b"KL0001"


def test_pyscsi_reads_the_block_limits_and_provisioning_vpd_pages(scsi: SCSI) -> None:
    """VPD 0xB0 and 0xB2 as python-scsi decodes them.  (python-scsi reads MAXIMUM WRITE
    SAME LENGTH as 4 bytes at byte 36, an SBC-3 draft's layout; SBC-3 made it 8 bytes,
    as the disk and Linux have it, so python-scsi sees its high half: 0.)"""
    limits = scsi.inquiry(evpd=1, page_code=0xB0).result
    assert limits["wsnz"] == 1
    assert limits["max_xfer_len"] == 0xFFFF
    assert limits["max_unmap_lba_count"] == 0xFFFF_FFFF
    assert limits["max_unmap_bd_count"] == 255
    assert limits["opt_unmap_gran"] == 1
    assert limits["max_ws_len"] == 0
    provisioning = scsi.inquiry(evpd=1, page_code=0xB2).result
    assert (provisioning["lbpu"], provisioning["lpbws"], provisioning["lbpws10"]) == (1, 1, 1)
    assert provisioning["lbprz"] == 1
    assert provisioning["provisioning_type"] == 2
    characteristics = scsi.inquiry(evpd=1, page_code=0xB1).result
    assert characteristics["medium_rotation_rate"] == 1


def test_pyscsi_reads_capacity_16_and_10(scsi: SCSI) -> None:
    """Last LBA 4095, 512-byte blocks, LBPME and LBPRZ set, no protection."""
    result = scsi.readcapacity16().result
    assert result["returned_lba"] == BLOCKS - 1
    assert result["block_length"] == BLOCK
    assert (result["lbpme"], result["lbprz"]) == (1, 1)
    assert (result["prot_en"], result["p_type"], result["lbppbe"]) == (0, 0, 0)
    assert scsi.readcapacity10().result == {"returned_lba": BLOCKS - 1, "block_length": BLOCK}


def test_pyscsi_reads_mode_sense_6_and_10(scsi: SCSI, device: EmulatedTargetDevice) -> None:
    """MODE SENSE(6) of all pages and (10) of the control page: header fields (DPOFUA,
    not write-protected), the first page of the list, the control page's bits."""
    result = scsi.modesense6(0x3F).result
    assert result["medium_type"] == 0
    assert result["device_specific_parameter"] == 0x10
    assert result["mode_pages"][0]["page_code"] == 0x01
    result = scsi.modesense10(0x0A).result
    assert result["longlba"] == 0
    (control,) = result["mode_pages"]
    assert control["page_code"] == 0x0A
    assert (control["d_sense"], control["gltsd"], control["queue_algorithm_modifier"]) == (0, 1, 1)
    result = scsi.modesense6(0x0A, pc=1).result
    assert result["mode_pages"][0]["d_sense"] == 1
    assert result["mode_pages"][0]["queue_algorithm_modifier"] == 0


def test_pyscsi_mode_select_6_turns_descriptor_sense_on(
    scsi: SCSI, device: EmulatedTargetDevice, disk: DiskUnit
) -> None:
    """python-scsi's own ModeSelect6 encoding of the control page with D_SENSE set is
    accepted; errors then come as descriptor sense (0x72), which python-scsi does not
    parse, so the test reads it from the request."""
    current = scsi.modesense6(0x0A).result
    page = dict(current["mode_pages"][0], d_sense=1)
    data = {"medium_type": 0, "device_specific_parameter": 0, "mode_pages": [page]}
    device.execute(ModeSelect6(sbc.MODE_SELECT_6, data))
    assert disk.descriptor_sense
    with pytest.raises(device.CheckCondition):
        scsi.read16(BLOCKS, 1)
    assert device.last_request is not None
    assert device.last_request.sense[0] == 0x72
    assert decode(device.last_request.sense).code[1:] == (0x21, 0x00)


def test_pyscsi_round_trips_data_with_write16_and_read16(scsi: SCSI) -> None:
    """Writes at several LBAs and lengths (one with FUA) read back exactly."""
    rng = random.Random(16)
    written = {}
    for lba, count in ((0, 1), (7, 8), (1000, 64), (BLOCKS - 3, 3)):
        data = bytearray(rng.randbytes(count * BLOCK))
        scsi.write16(lba, count, data, fua=int(lba == 7))
        written[lba] = (count, bytes(data))
    for lba, (count, data) in written.items():
        assert bytes(scsi.read16(lba, count).datain) == data
    assert bytes(scsi.read16(1, 6).datain) == bytes(6 * BLOCK)
    assert bytes(scsi.read10(7, 8).datain) == written[7][1]
    assert bytes(scsi.read12(1000, 64).datain) == written[1000][1]


def test_pyscsi_write_same_16_with_unmap_deallocates_on_the_thin_disk(scsi: SCSI) -> None:
    """WRITE SAME(16) with data writes it; with UNMAP and a zero block the range reads zeros."""
    block = bytearray(random.Random(17).randbytes(BLOCK))
    scsi.writesame16(100, 10, block)
    assert bytes(scsi.read16(100, 10).datain) == bytes(block) * 10
    scsi.writesame16(102, 4, bytearray(BLOCK), unmap=1)
    assert (
        bytes(scsi.read16(100, 10).datain) == bytes(block) * 2 + bytes(4 * BLOCK) + bytes(block) * 4
    )


def test_pyscsi_sees_check_condition_for_bad_commands(
    scsi: SCSI, device: EmulatedTargetDevice
) -> None:
    """A READ(16) past the end is ILLEGAL REQUEST / LBA OUT OF RANGE, a WRITE(16) with
    WRPROTECT is INVALID FIELD IN CDB, GET LBA STATUS (not implemented) too: raised as
    python-scsi's CheckCondition with its decoded fields, and ``cmd.sense`` set."""
    with pytest.raises(SCSICheckCondition) as caught:
        scsi.read16(BLOCKS - 1, 2)
    assert (caught.value.data["sense_key"], caught.value.asc, caught.value.ascq) == (5, 0x21, 0)
    with pytest.raises(device.CheckCondition) as caught:
        scsi.write16(0, 1, bytearray(BLOCK), wrprotect=1)
    assert (caught.value.asc, caught.value.ascq) == (0x24, 0)
    with pytest.raises(device.CheckCondition) as caught:
        scsi.getlbastatus(0)
    assert (caught.value.data["sense_key"], caught.value.asc) == (5, 0x24)


def test_pyscsi_reports_luns_through_the_target(scsi: SCSI) -> None:
    """REPORT LUNS, answered by the target: one LUN, 0."""
    result = scsi.reportluns().result
    assert result["luns"] == [{"lun0": 0}]


def test_a_transport_failure_raises_command_status_error(
    scsi: SCSI, device: EmulatedTargetDevice
) -> None:
    """A READ whose buffer cannot hold the data never reaches python-scsi as GOOD."""
    read = Read16(sbc.READ_16, BLOCK, 0, 2)
    read.datain = bytearray(BLOCK)  # one block of buffer for two blocks of data
    with pytest.raises(CommandStatusError, match="host status transport error"):
        device.execute(read)
