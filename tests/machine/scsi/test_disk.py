"""The disk unit at the SCSI level: every SBC command it answers, with its exact data
and sense, its write-back cache as the initiator sees it, thin provisioning, and
arbitrary CDBs (kextlab.machine.scsi.disk).

CDBs are built here byte by byte from SBC-3's tables, not with the model's own
layouts, so that an encoding mistake in the model cannot hide behind the test.
"""

from __future__ import annotations

import errno
import itertools
import random
import struct
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kextlab.machine.scsi import Direction, HostStatus, MemoryBuffer, SCSIRequest, SCSITarget
from kextlab.machine.scsi import sense as s
from kextlab.machine.scsi.constants import Opcode, Status
from kextlab.machine.scsi.disk import DiskUnit
from kextlab.machine.scsi.image import DiskImage
from kextlab.machine.scsi.sense import decode

from .initiator import assert_good, assert_sense, clear_power_on, data_of, issue

BLOCK = 512
BLOCKS = 2048  # a 1 MiB disk


def blocks_of(seed: int, count: int, block_size: int = BLOCK) -> bytes:
    return random.Random(seed).randbytes(count * block_size)


def on_medium(path: Path, lba: int, count: int, block_size: int = BLOCK) -> bytes:
    """What the image file holds (the medium, without the drive's cache)."""
    with path.open("rb") as file:
        file.seek(lba * block_size)
        return file.read(count * block_size)


# -- CDBs, from SBC-3 -----------------------------------------------------------------------


def rw6(opcode: int, lba: int, count: int) -> bytes:
    return bytes([opcode, lba >> 16 & 0x1F, lba >> 8 & 0xFF, lba & 0xFF, count & 0xFF, 0])


def rw10(opcode: int, lba: int, count: int, flags: int = 0) -> bytes:
    return struct.pack(">BBIBHB", opcode, flags, lba, 0, count, 0)


def rw12(opcode: int, lba: int, count: int, flags: int = 0) -> bytes:
    return struct.pack(">BBIIBB", opcode, flags, lba, count, 0, 0)


def rw16(opcode: int, lba: int, count: int, flags: int = 0) -> bytes:
    return struct.pack(">BBQIBB", opcode, flags, lba, count, 0, 0)


def inquiry(page: int | None = None, allocation: int = 255) -> bytes:
    if page is None:
        return struct.pack(">BBBHB", Opcode.INQUIRY, 0, 0, allocation, 0)
    return struct.pack(">BBBHB", Opcode.INQUIRY, 1, page, allocation, 0)


def read_capacity_16(allocation: int = 32, lba: int = 0, pmi: int = 0) -> bytes:
    return struct.pack(">BBQIBB", Opcode.SERVICE_ACTION_IN_16, 0x10, lba, allocation, pmi, 0)


def mode_sense_6(page: int, *, control: int = 0, dbd: bool = False, allocation: int = 255) -> bytes:
    return bytes([Opcode.MODE_SENSE_6, 0x08 if dbd else 0, control << 6 | page, 0, allocation, 0])


def mode_sense_10(
    page: int, *, control: int = 0, dbd: bool = False, allocation: int = 512
) -> bytes:
    return struct.pack(
        ">BBBBxxxHB",
        Opcode.MODE_SENSE_10,
        0x08 if dbd else 0,
        control << 6 | page,
        0,
        allocation,
        0,
    )


def mode_select_6(length: int, *, page_format: bool = True, save: bool = False) -> bytes:
    flags = (0x10 if page_format else 0) | (0x01 if save else 0)
    return bytes([Opcode.MODE_SELECT_6, flags, 0, 0, length, 0])


def mode_select_10(length: int) -> bytes:
    return struct.pack(">BBxxxxxHB", Opcode.MODE_SELECT_10, 0x10, length, 0)


def synchronize_cache_10(lba: int = 0, count: int = 0) -> bytes:
    return struct.pack(">BBIBHB", Opcode.SYNCHRONIZE_CACHE_10, 0, lba, 0, count, 0)


def start_stop(control: int) -> bytes:
    return bytes([Opcode.START_STOP_UNIT, 0, 0, 0, control, 0])


def unmap(descriptors: list[tuple[int, int]], *, anchor: bool = False) -> tuple[bytes, bytes]:
    """An UNMAP CDB and its parameter list (SBC-3)."""
    body = b"".join(struct.pack(">QI4x", lba, count) for lba, count in descriptors)
    data = struct.pack(">HH4x", 6 + len(body), len(body)) + body
    return struct.pack(">BBxxxxxHB", Opcode.UNMAP, 1 if anchor else 0, len(data), 0), data


# -- running commands ------------------------------------------------------------------------------


def read(disk: DiskUnit, cdb: bytes, length: int | None = None) -> SCSIRequest:
    return issue(disk, cdb, data_in=length if length is not None else _blocks(cdb) * BLOCK)


def write(disk: DiskUnit, cdb: bytes, data: bytes) -> SCSIRequest:
    return issue(disk, cdb, data_out=data)


def _blocks(cdb: bytes) -> int:
    if cdb[0] < 0x20:
        return cdb[4] or 256
    if cdb[0] < 0x60:
        return int.from_bytes(cdb[7:9], "big")
    if cdb[0] < 0xA0:
        return int.from_bytes(cdb[10:14], "big")
    return int.from_bytes(cdb[6:10], "big")


def read_blocks(disk: DiskUnit, lba: int, count: int) -> bytes:
    request = read(disk, rw16(Opcode.READ_16, lba, count), count * disk.block_size)
    assert_good(request)
    return data_of(request)


def write_blocks(disk: DiskUnit, lba: int, data: bytes, *, fua: bool = False) -> None:
    count = len(data) // disk.block_size
    assert_good(write(disk, rw16(Opcode.WRITE_16, lba, count, 0x08 if fua else 0), data))


def mode_pages(reply: bytes, header_length: int) -> dict[int, bytes]:
    """The pages of a MODE SENSE reply by code (page_0 format), after any block descriptors."""
    if header_length == 4:
        position = 4 + reply[3]
    else:
        position = 8 + int.from_bytes(reply[6:8], "big")
    pages = {}
    while position < len(reply):
        pages[reply[position] & 0x3F] = reply[position : position + 2 + reply[position + 1]]
        position += 2 + reply[position + 1]
    return pages


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "disk.img"


@pytest.fixture
def disk(path: Path) -> Iterator[DiskUnit]:
    """A 1 MiB disk with its write cache on and POWER ON already reported."""
    unit = DiskUnit.open("disk0", path, size=BLOCKS * BLOCK)
    clear_power_on(unit)
    yield unit
    unit.close()


@pytest.fixture
def thin(tmp_path: Path) -> Iterator[DiskUnit]:
    """A thin-provisioned 1 MiB disk."""
    unit = DiskUnit.open("thin0", tmp_path / "thin.img", size=BLOCKS * BLOCK, thin=True)
    clear_power_on(unit)
    yield unit
    unit.close()


# -- unit attentions and readiness -----------------------------------------------------------------


def test_a_new_disk_reports_power_on_occurred_once_then_is_ready(path: Path) -> None:
    """The first TEST UNIT READY gets 06/29/01; the next one is GOOD."""
    disk = DiskUnit.open("disk0", path, size=BLOCKS * BLOCK)
    assert_sense(issue(disk, bytes(6)), s.POWER_ON_OCCURRED)
    assert_good(issue(disk, bytes(6)))
    disk.close()


def test_unit_attentions_come_one_per_command_in_priority_order(path: Path) -> None:
    """Power on, bus reset and capacity change pending together are reported in SPC
    order, each once; INQUIRY answers meanwhile without consuming any."""
    disk = DiskUnit.open("disk0", path, size=BLOCKS * BLOCK)
    disk.image.grow(2 * BLOCKS * BLOCK)
    disk.reset(s.SCSI_BUS_RESET)
    assert_good(issue(disk, inquiry(), data_in=96))
    assert_sense(issue(disk, bytes(6)), s.POWER_ON_OCCURRED)
    assert_sense(issue(disk, rw10(Opcode.READ_10, 0, 1), data_in=BLOCK), s.SCSI_BUS_RESET)
    assert_sense(issue(disk, bytes(6)), s.CAPACITY_CHANGED)
    assert_good(issue(disk, bytes(6)))
    disk.close()


def test_a_grown_image_raises_capacity_changed_and_the_new_capacity_is_reported(
    disk: DiskUnit,
) -> None:
    """Growing the image is a capacity change: 06/2A/09, then READ CAPACITY sees it."""
    disk.image.grow(4 * BLOCKS * BLOCK)
    assert_sense(issue(disk, read_capacity_16(), data_in=32), s.CAPACITY_CHANGED)
    reply = data_of(issue(disk, read_capacity_16(), data_in=32))
    assert struct.unpack_from(">QI", reply) == (4 * BLOCKS - 1, BLOCK)


def test_a_stopped_disk_refuses_medium_access_until_started(disk: DiskUnit) -> None:
    """START STOP UNIT with START=0 makes TUR and READ fail 02/04/02 (initializing
    command required); INQUIRY, READ CAPACITY and REQUEST SENSE still answer, the
    latter with that sense as data; START=1 makes it ready again."""
    assert_good(issue(disk, start_stop(0x00)))
    assert not disk.started
    assert_sense(issue(disk, bytes(6)), s.NOT_READY_INITIALIZING_REQUIRED)
    assert_sense(read(disk, rw10(Opcode.READ_10, 0, 1)), s.NOT_READY_INITIALIZING_REQUIRED)
    assert_sense(
        write(disk, rw10(Opcode.WRITE_10, 0, 1), bytes(BLOCK)), s.NOT_READY_INITIALIZING_REQUIRED
    )
    assert_good(issue(disk, inquiry(), data_in=96))
    assert_good(issue(disk, read_capacity_16(), data_in=32))
    request = issue(disk, bytes([Opcode.REQUEST_SENSE, 0, 0, 0, 18, 0]), data_in=18)
    assert_good(request)
    assert decode(data_of(request)).code == (s.NOT_READY_INITIALIZING_REQUIRED.key, 0x04, 0x02)
    assert_good(issue(disk, start_stop(0x01)))
    assert_good(issue(disk, bytes(6)))
    assert_good(read(disk, rw10(Opcode.READ_10, 0, 1)))


def test_stopping_the_unit_writes_the_cache_back_unless_no_flush(
    disk: DiskUnit, path: Path
) -> None:
    """SBC-3: START=0 synchronizes the cache first; NO_FLUSH skips that."""
    write_blocks(disk, 5, blocks_of(1, 1))
    assert_good(issue(disk, start_stop(0x04)))  # stop, NO_FLUSH
    assert on_medium(path, 5, 1) == bytes(BLOCK)
    assert_good(issue(disk, start_stop(0x01)))
    assert_good(issue(disk, start_stop(0x00)))  # stop, flushing
    assert on_medium(path, 5, 1) == blocks_of(1, 1)


def test_start_stop_power_conditions_are_accepted_and_reserved_ones_refused(
    disk: DiskUnit,
) -> None:
    """IDLE (0x2) and STANDBY (0x3) with START=0 leave the unit started (the START bit is
    ignored); a reserved power condition (0x5) is INVALID FIELD IN CDB."""
    assert_good(issue(disk, start_stop(0x20)))
    assert_good(issue(disk, start_stop(0x30)))
    assert disk.started
    assert_sense(issue(disk, start_stop(0x50)), s.INVALID_FIELD)


def test_prevent_allow_medium_removal_is_remembered_and_obsolete_values_refused(
    disk: DiskUnit,
) -> None:
    """PREVENT 01b sets the state, 00b clears it; 10b and 11b are INVALID FIELD."""
    cdb = [Opcode.PREVENT_ALLOW_MEDIUM_REMOVAL, 0, 0, 0, 1, 0]
    assert_good(issue(disk, cdb))
    assert disk.prevent_removal
    cdb[4] = 0
    assert_good(issue(disk, cdb))
    assert not disk.prevent_removal
    cdb[4] = 2
    assert_sense(issue(disk, cdb), s.INVALID_FIELD)


def test_power_loss_keeps_flushed_data_loses_the_rest_and_resets_the_unit(
    disk: DiskUnit, path: Path
) -> None:
    """Data written before SYNCHRONIZE CACHE survives a power loss and a reopen of the
    image; data written after it is gone.  The unit comes back with POWER ON OCCURRED
    and its default mode parameters."""
    write_blocks(disk, 0, blocks_of(2, 4))
    assert_good(issue(disk, synchronize_cache_10()))
    write_blocks(disk, 2, blocks_of(3, 4))  # half over flushed blocks, half new
    disk.descriptor_sense = True
    disk.power_loss()
    assert not disk.descriptor_sense
    assert_sense(issue(disk, bytes(6)), s.POWER_ON_OCCURRED)
    disk.close()
    reopened = DiskUnit.open("disk0", path)
    clear_power_on(reopened)
    assert read_blocks(reopened, 0, 6) == blocks_of(2, 4) + bytes(2 * BLOCK)
    reopened.close()


def test_a_reset_restores_mode_defaults_and_clears_prevent_but_keeps_the_cache(
    disk: DiskUnit, path: Path
) -> None:
    """SAM-5 logical unit reset: D_SENSE off and WCE back on (the defaults), PREVENT
    cleared, BUS RESET reported; cached data is neither lost nor written back (a reset
    is not a power loss)."""
    target = SCSITarget("t0", {0: disk})
    write_blocks(disk, 3, blocks_of(30, 1))
    disk.descriptor_sense = True
    disk.prevent_removal = True
    target.reset()
    assert (disk.descriptor_sense, disk.prevent_removal) == (False, False)
    assert_sense(issue(disk, bytes(6)), s.SCSI_BUS_RESET)
    assert read_blocks(disk, 3, 1) == blocks_of(30, 1)
    assert on_medium(path, 3, 1) == bytes(BLOCK)
    disk.image.set_write_cache(False)
    target.reset()
    assert_sense(issue(disk, bytes(6)), s.SCSI_BUS_RESET)
    assert disk.image.write_cache_enabled
    write_blocks(disk, 6, blocks_of(31, 1))
    assert on_medium(path, 6, 1) == bytes(BLOCK)


def test_closing_the_disk_writes_the_cache_back(disk: DiskUnit, path: Path) -> None:
    """An orderly shutdown (``close``) loses nothing, even without SYNCHRONIZE CACHE."""
    write_blocks(disk, 9, blocks_of(4, 3))
    assert on_medium(path, 9, 3) == bytes(3 * BLOCK)
    disk.close()
    assert on_medium(path, 9, 3) == blocks_of(4, 3)


# -- INQUIRY ---------------------------------------------------------------------------------------


def test_standard_inquiry_identifies_an_sbc3_disk(disk: DiskUnit) -> None:
    """Peripheral type 0, not removable, SPC-3, HiSup + format 2, KEXTLAB / KEXTLAB DISK,
    and the version descriptors SAM-5, SPC-4, SBC-3 (0x04C0)."""
    data = data_of(issue(disk, inquiry(allocation=96), data_in=96))
    assert len(data) == 96
    assert data[0] == 0x00
    assert data[1] == 0x00
    assert data[2] == 0x05
    assert data[3] == 0x12
    assert data[4] == 91
    assert data[8:16] == b"KEXTLAB "
    assert data[16:32] == b"KEXTLAB DISK    "
    assert struct.unpack_from(">3H", data, 58) == (0x00A0, 0x0460, 0x04C0)


def test_inquiry_stops_at_the_allocation_length_even_with_a_larger_buffer(
    disk: DiskUnit,
) -> None:
    """SPC-4's ALLOCATION LENGTH: 36 bytes asked for, 36 sent, though the buffer holds 96."""
    request = issue(disk, inquiry(allocation=36), data_in=96)
    assert_good(request)
    assert request.transferred == 36
    assert request.residual == 60


def test_supported_vpd_pages_are_ascending_with_b2_only_on_a_thin_disk(
    disk: DiskUnit, thin: DiskUnit
) -> None:
    """0x00, 0x80, 0x83, 0xB0, 0xB1, and 0xB2 when the disk is thin provisioned; asking
    a fully provisioned disk for 0xB2 is INVALID FIELD IN CDB."""
    assert data_of(issue(disk, inquiry(0x00), data_in=255))[4:] == bytes(
        [0x00, 0x80, 0x83, 0xB0, 0xB1]
    )
    assert data_of(issue(thin, inquiry(0x00), data_in=255))[4:] == bytes(
        [0x00, 0x80, 0x83, 0xB0, 0xB1, 0xB2]
    )
    assert_sense(issue(disk, inquiry(0xB2), data_in=255), s.INVALID_FIELD)
    assert_sense(issue(disk, inquiry(0x89), data_in=255), s.INVALID_FIELD)


def test_block_limits_vpd_reports_the_limits_the_disk_enforces(
    disk: DiskUnit, thin: DiskUnit
) -> None:
    """VPD 0xB0 (SBC-3 Block Limits): page length 0x3C, WSNZ, maximum transfer 0xFFFF blocks,
    an 8-byte maximum WRITE SAME length at byte 36, unmap limits only when thin."""
    data = data_of(issue(disk, inquiry(0xB0), data_in=255))
    assert data[:4] == bytes([0x00, 0xB0, 0x00, 0x3C])
    assert len(data) == 64
    assert data[4] & 0x01
    assert struct.unpack_from(">I", data, 8)[0] == 0xFFFF
    assert struct.unpack_from(">II", data, 20) == (0, 0)
    assert struct.unpack_from(">Q", data, 36)[0] == 0xFFFF
    thin_data = data_of(issue(thin, inquiry(0xB0), data_in=255))
    assert struct.unpack_from(">III", thin_data, 20) == (0xFFFF_FFFF, 255, 1)


def test_block_device_characteristics_vpd_reports_a_non_rotating_medium(disk: DiskUnit) -> None:
    """VPD 0xB1: MEDIUM ROTATION RATE 0001h, which makes Linux mark the queue non-rotational."""
    data = data_of(issue(disk, inquiry(0xB1), data_in=255))
    assert data[:4] == bytes([0x00, 0xB1, 0x00, 0x3C])
    assert struct.unpack_from(">H", data, 4)[0] == 1


def test_logical_block_provisioning_vpd_reports_thin_provisioning(thin: DiskUnit) -> None:
    """VPD 0xB2: LBPU, LBPWS, LBPWS10 and LBPRZ set, provisioning type 2 (thin)."""
    data = data_of(issue(thin, inquiry(0xB2), data_in=255))
    assert data == bytes([0x00, 0xB2, 0x00, 0x04, 0x00, 0xE4, 0x02, 0x00])


def test_device_identification_and_serial_vpd_pages(path: Path) -> None:
    """VPD 0x80 carries the serial; 0x83 a T10 vendor ID designator and the NAA WWN."""
    disk = DiskUnit.open(
        "disk0", path, size=BLOCKS * BLOCK, serial="SN42", wwn=0x5000_C500_1234_5678
    )
    assert data_of(issue(disk, inquiry(0x80), data_in=255)) == b"\x00\x80\x00\x04SN42"
    data = data_of(issue(disk, inquiry(0x83), data_in=255))
    assert data[4:8] == bytes([0x02, 0x01, 0x00, 12])
    assert data[8:20] == b"KEXTLAB SN42"
    assert data[20:24] == bytes([0x01, 0x03, 0x00, 0x08])
    assert data[24:32] == (0x5000_C500_1234_5678).to_bytes(8, "big")
    disk.close()


# -- READ CAPACITY ---------------------------------------------------------------------------------


@pytest.mark.parametrize("block_size", [512, 4096])
def test_read_capacity_reports_the_last_lba_and_the_block_size(
    tmp_path: Path, block_size: int
) -> None:
    """READ CAPACITY(10) and (16) agree: last LBA = blocks - 1, block length as configured."""
    disk = DiskUnit.open("disk0", tmp_path / "d.img", size=1 << 20, block_size=block_size)
    clear_power_on(disk)
    blocks = (1 << 20) // block_size
    data = data_of(issue(disk, rw10(Opcode.READ_CAPACITY_10, 0, 0), data_in=8))
    assert struct.unpack(">II", data) == (blocks - 1, block_size)
    data = data_of(issue(disk, read_capacity_16(), data_in=32))
    assert struct.unpack_from(">QI", data) == (blocks - 1, block_size)
    assert data[12:] == bytes(20)
    disk.close()


def test_read_capacity_10_clips_at_0xffffffff_beyond_2_tib(tmp_path: Path) -> None:
    """A disk of 2**32 + 8 blocks (a sparse 2 TiB file): READ CAPACITY(10) says
    0xFFFFFFFF, sending the initiator to (16), which has the real last LBA; the mode
    block descriptor's block count saturates the same way."""
    disk = DiskUnit.open("big", tmp_path / "big.img", size=((1 << 32) + 8) * BLOCK)
    clear_power_on(disk)
    data = data_of(issue(disk, rw10(Opcode.READ_CAPACITY_10, 0, 0), data_in=8))
    assert struct.unpack(">II", data) == (0xFFFF_FFFF, BLOCK)
    data = data_of(issue(disk, read_capacity_16(), data_in=32))
    assert struct.unpack_from(">Q", data)[0] == (1 << 32) + 7
    reply = data_of(issue(disk, mode_sense_6(0x08), data_in=255))
    assert struct.unpack_from(">I", reply, 4)[0] == 0xFFFF_FFFF
    write_blocks(disk, (1 << 32) + 7, blocks_of(5, 1))
    assert read_blocks(disk, (1 << 32) + 7, 1) == blocks_of(5, 1)
    disk.close()


def test_read_capacity_10_with_an_lba_but_no_pmi_is_invalid_field(disk: DiskUnit) -> None:
    """SBC-3 READ CAPACITY(10): a non-zero LBA needs PMI; with PMI it is accepted."""
    cdb = bytearray(rw10(Opcode.READ_CAPACITY_10, 5, 0))
    assert_sense(issue(disk, cdb, data_in=8), s.INVALID_FIELD)
    cdb[8] = 0x01
    assert_good(issue(disk, cdb, data_in=8))


def test_read_capacity_16_sets_lbpme_and_lbprz_only_on_a_thin_disk(
    disk: DiskUnit, thin: DiskUnit
) -> None:
    """Byte 14: LBPME (0x80) and LBPRZ (0x40) tell sd and libiscsi to use UNMAP."""
    assert data_of(issue(disk, read_capacity_16(), data_in=32))[14] == 0x00
    assert data_of(issue(thin, read_capacity_16(), data_in=32))[14] == 0xC0


def test_read_capacity_16_sends_no_more_than_the_allocation_length(disk: DiskUnit) -> None:
    """Allocation length 12 with a 32-byte buffer: 12 bytes move; 0 moves none, GOOD."""
    request = issue(disk, read_capacity_16(allocation=12), data_in=32)
    assert_good(request)
    assert request.transferred == 12
    request = issue(disk, read_capacity_16(allocation=0), data_in=32)
    assert_good(request)
    assert request.transferred == 0


def test_an_allocation_length_above_65536_is_invalid_field(disk: DiskUnit) -> None:
    """QEMU's rule for 32-bit allocation lengths, kept: 65536 is fine, 65537 is not."""
    assert_good(issue(disk, read_capacity_16(allocation=65536), data_in=32))
    assert_sense(issue(disk, read_capacity_16(allocation=65537), data_in=32), s.INVALID_FIELD)


def test_other_service_actions_of_service_action_in_16_are_invalid_field(disk: DiskUnit) -> None:
    """Only READ CAPACITY(16) is implemented: GET LBA STATUS (0x12) is INVALID FIELD."""
    cdb = bytearray(read_capacity_16())
    cdb[1] = 0x12
    assert_sense(issue(disk, cdb, data_in=32), s.INVALID_FIELD)


# -- READ and WRITE --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("read_cdb", "write_cdb"),
    [
        (lambda lba, n: rw6(Opcode.READ_6, lba, n), lambda lba, n: rw6(Opcode.WRITE_6, lba, n)),
        (lambda lba, n: rw10(Opcode.READ_10, lba, n), lambda lba, n: rw10(Opcode.WRITE_10, lba, n)),
        (lambda lba, n: rw12(Opcode.READ_12, lba, n), lambda lba, n: rw12(Opcode.WRITE_12, lba, n)),
        (lambda lba, n: rw16(Opcode.READ_16, lba, n), lambda lba, n: rw16(Opcode.WRITE_16, lba, n)),
    ],
    ids=["6", "10", "12", "16"],
)
def test_data_written_reads_back_with_every_cdb_length(
    tmp_path: Path,
    read_cdb: Callable[[int, int], bytes],
    write_cdb: Callable[[int, int], bytes],
) -> None:
    """WRITE(n) then READ(n) at an LBA using all three LBA bytes of READ(6) returns
    the data, and only there."""
    disk = DiskUnit.open("disk0", tmp_path / "big.img", size=1 << 27)
    clear_power_on(disk)
    lba = 0x1_0203
    data = blocks_of(6, 5)
    request = write(disk, write_cdb(lba, 5), data)
    assert_good(request)
    assert request.transferred == 5 * BLOCK
    request = read(disk, read_cdb(lba, 5), 5 * BLOCK)
    assert_good(request)
    assert data_of(request) == data
    assert read_blocks(disk, lba - 1, 1) == bytes(BLOCK)
    assert read_blocks(disk, lba + 5, 1) == bytes(BLOCK)
    assert read_blocks(disk, lba & 0xFFFF, 5) == bytes(5 * BLOCK)
    disk.close()


def test_read_6_with_a_transfer_length_of_zero_reads_256_blocks(disk: DiskUnit) -> None:
    """SBC-3: in READ(6) a TRANSFER LENGTH of 0 means 256 blocks."""
    write_blocks(disk, 0, blocks_of(7, 256))
    request = issue(disk, rw6(Opcode.READ_6, 0, 0), data_in=256 * BLOCK)
    assert_good(request)
    assert data_of(request) == blocks_of(7, 256)


def test_a_zero_block_transfer_is_good_and_moves_nothing_but_the_lba_is_checked(
    disk: DiskUnit,
) -> None:
    """READ(10) of 0 blocks is not an error, even at LBA = capacity; past it, it is."""
    for lba in (0, BLOCKS):
        request = issue(disk, rw10(Opcode.READ_10, lba, 0), data_in=BLOCK)
        assert_good(request)
        assert request.transferred == 0
    assert_sense(issue(disk, rw10(Opcode.READ_10, BLOCKS + 1, 0)), s.LBA_OUT_OF_RANGE)


@pytest.mark.parametrize("opcode", [Opcode.READ_16, Opcode.WRITE_16, Opcode.VERIFY_16])
def test_blocks_past_the_end_are_lba_out_of_range(disk: DiskUnit, opcode: int) -> None:
    """The last block plus one more: 05/21/00, and nothing moves."""
    length = 2 * BLOCK
    if opcode == Opcode.READ_16:
        request = issue(disk, rw16(opcode, BLOCKS - 1, 2), data_in=length)
    else:
        request = issue(disk, rw16(opcode, BLOCKS - 1, 2), data_out=bytes(length))
    assert_sense(request, s.LBA_OUT_OF_RANGE)
    assert request.transferred == 0
    huge = issue(disk, rw16(Opcode.READ_16, 2**64 - 1, 1), data_in=BLOCK)
    assert_sense(huge, s.LBA_OUT_OF_RANGE)


def test_a_transfer_above_the_maximum_transfer_length_is_invalid_field(path: Path) -> None:
    """Block Limits says 0xFFFF blocks; READ(16) of 0x10000 is INVALID FIELD IN CDB,
    and a unit with a smaller maximum enforces its own."""
    disk = DiskUnit("disk0", DiskImage(path, size=1 << 26), max_transfer_blocks=0xFFFF)
    clear_power_on(disk)
    assert_sense(issue(disk, rw16(Opcode.READ_16, 0, 0x10000), data_in=BLOCK), s.INVALID_FIELD)
    assert_good(issue(disk, rw16(Opcode.READ_16, 0, 0xFFFF), data_in=0xFFFF * BLOCK))
    disk.max_transfer_blocks = 8
    assert_sense(
        issue(disk, rw10(Opcode.WRITE_10, 0, 9), data_out=bytes(9 * BLOCK)), s.INVALID_FIELD
    )
    disk.close()


@pytest.mark.parametrize(
    ("opcode", "direction"),
    [
        (Opcode.READ_10, "in"),
        (Opcode.READ_16, "in"),
        (Opcode.WRITE_12, "out"),
        (Opcode.WRITE_AND_VERIFY_16, "out"),
        (Opcode.VERIFY_10, "none"),
        (Opcode.WRITE_SAME_16, "out"),
    ],
)
def test_protection_information_fields_are_invalid_field(
    disk: DiskUnit, opcode: int, direction: str
) -> None:
    """RDPROTECT / WRPROTECT / VRPROTECT non-zero: this disk has no protection information."""
    builders = {0x28: rw10, 0x2A: rw10, 0x2F: rw10, 0xA8: rw12, 0xAA: rw12}
    cdb = builders.get(opcode, rw16)(opcode, 0, 1, 0x20)
    if direction == "in":
        request = issue(disk, cdb, data_in=BLOCK)
    elif direction == "out":
        request = issue(disk, cdb, data_out=bytes(BLOCK))
    else:
        request = issue(disk, cdb)
    assert_sense(request, s.INVALID_FIELD)


def test_dpo_is_accepted_and_ignored(disk: DiskUnit) -> None:
    """DPO (0x10) on READ and WRITE changes nothing."""
    assert_good(write(disk, rw10(Opcode.WRITE_10, 3, 1, 0x10), blocks_of(8, 1)))
    request = read(disk, rw10(Opcode.READ_10, 3, 1, 0x10))
    assert data_of(request) == blocks_of(8, 1)


def test_a_transfer_the_initiator_cannot_hold_or_in_the_wrong_direction_is_a_transport_error(
    disk: DiskUnit,
) -> None:
    """Host status TRANSPORT_ERROR, no sense, no data moved: a buffer shorter than the
    transfer, a READ with a data-out buffer, a WRITE with no buffer."""
    short = issue(disk, rw10(Opcode.READ_10, 0, 4), data_in=3 * BLOCK)
    wrong_way = issue(disk, rw10(Opcode.READ_10, 0, 1), data_out=bytes(BLOCK))
    missing = issue(disk, rw10(Opcode.WRITE_10, 0, 1))
    for request in (short, wrong_way, missing):
        assert request.host_status is HostStatus.TRANSPORT_ERROR
        assert request.status is Status.GOOD
        assert request.transferred == 0
    assert read_blocks(disk, 0, 1) == bytes(BLOCK)


def test_a_larger_buffer_than_the_transfer_leaves_a_residual(disk: DiskUnit) -> None:
    """Two blocks into a four-block buffer: 1024 bytes moved, 1024 residual."""
    request = issue(disk, rw10(Opcode.READ_10, 0, 2), data_in=4 * BLOCK)
    assert_good(request)
    assert (request.transferred, request.residual) == (2 * BLOCK, 2 * BLOCK)


def test_a_read_lands_in_every_segment_of_a_scattered_buffer(disk: DiskUnit) -> None:
    """A scatter-gather list of odd sizes (as an HBA's PRD table) receives the data in order."""

    class Scattered(MemoryBuffer):
        def views(self, offset: int, length: int) -> list[memoryview] | None:
            if (offset, length) != (0, self.length):
                return None
            cuts = [0, 100, 513, 1500, self.length]
            return [memoryview(self.data)[a:b] for a, b in itertools.pairwise(cuts)]

    data = blocks_of(9, 4)
    write_blocks(disk, 20, data)
    request = SCSIRequest(0, rw10(Opcode.READ_10, 20, 4), Direction.IN, Scattered(4 * BLOCK))
    disk.execute(request)
    assert_good(request)
    assert isinstance(request.buffer, MemoryBuffer)
    assert bytes(request.buffer.data) == data


# -- write protection ------------------------------------------------------------------------------


def test_a_write_protected_disk_refuses_every_write_but_reads(path: Path) -> None:
    """WRITE, WRITE AND VERIFY, WRITE SAME, UNMAP and FORMAT UNIT are DATA PROTECT,
    WRITE PROTECTED (07/27/00); reads work; MODE SENSE shows WP in the device-specific
    parameter.  A read-only image makes the unit write-protected the same way."""
    DiskImage(path, size=BLOCKS * BLOCK).close()
    protected = DiskUnit.open("wp", path, write_protect=True, thin=True)
    read_only = DiskUnit.open("ro", path, read_only=True, thin=True)
    for disk in (protected, read_only):
        clear_power_on(disk)
        unmap_cdb, unmap_data = unmap([(0, 1)])
        for request in (
            write(disk, rw10(Opcode.WRITE_10, 0, 1), bytes(BLOCK)),
            write(disk, rw16(Opcode.WRITE_AND_VERIFY_16, 0, 1), bytes(BLOCK)),
            write(disk, rw16(Opcode.WRITE_SAME_16, 0, 8), bytes(BLOCK)),
            write(disk, unmap_cdb, unmap_data),
            issue(disk, [Opcode.FORMAT_UNIT, 0, 0, 0, 0, 0]),
        ):
            assert_sense(request, s.WRITE_PROTECTED)
        assert read_blocks(disk, 0, 1) == bytes(BLOCK)
        assert data_of(issue(disk, mode_sense_6(0x3F), data_in=255))[2] == 0x90  # WP | DPOFUA
        disk.close()


def test_write_protection_comes_before_the_range_check(disk: DiskUnit) -> None:
    """A write both protected and out of range reports WRITE PROTECTED (QEMU's order)."""
    disk.write_protect = True
    request = write(disk, rw10(Opcode.WRITE_10, BLOCKS, 1), bytes(BLOCK))
    assert_sense(request, s.WRITE_PROTECTED)


# -- the write cache -------------------------------------------------------------------------------


def test_writes_reach_the_file_only_at_synchronize_cache(disk: DiskUnit, path: Path) -> None:
    """With WCE=1 a completed WRITE is in the cache: the file has it after SYNCHRONIZE
    CACHE(10) with NUMBER OF BLOCKS 0 (to the end)."""
    data = blocks_of(10, 8)
    write_blocks(disk, 100, data)
    assert read_blocks(disk, 100, 8) == data
    assert on_medium(path, 100, 8) == bytes(8 * BLOCK)
    assert_good(issue(disk, synchronize_cache_10()))
    assert on_medium(path, 100, 8) == data


def test_synchronize_cache_writes_back_only_its_range(disk: DiskUnit, path: Path) -> None:
    """SYNCHRONIZE CACHE(16) of blocks 0-9 writes block 0 but not block 500; a power
    loss then keeps the first and loses the second."""
    write_blocks(disk, 0, blocks_of(11, 1))
    write_blocks(disk, 500, blocks_of(12, 1))
    assert_good(issue(disk, rw16(Opcode.SYNCHRONIZE_CACHE_16, 0, 10)))
    assert on_medium(path, 0, 1) == blocks_of(11, 1)
    assert on_medium(path, 500, 1) == bytes(BLOCK)
    disk.power_loss()
    clear_power_on(disk)
    assert read_blocks(disk, 0, 1) == blocks_of(11, 1)
    assert read_blocks(disk, 500, 1) == bytes(BLOCK)


def test_synchronize_cache_past_the_end_is_lba_out_of_range(disk: DiskUnit) -> None:
    """A range that runs past the last block, or starts past it, is 05/21/00."""
    assert_sense(issue(disk, synchronize_cache_10(BLOCKS - 1, 2)), s.LBA_OUT_OF_RANGE)
    assert_sense(issue(disk, synchronize_cache_10(BLOCKS + 1, 0)), s.LBA_OUT_OF_RANGE)


def test_fua_writes_reach_the_file_at_once(disk: DiskUnit, path: Path) -> None:
    """WRITE(10) with FUA (0x08): on the medium when the command completes."""
    assert_good(write(disk, rw10(Opcode.WRITE_10, 7, 2, 0x08), blocks_of(13, 2)))
    assert on_medium(path, 7, 2) == blocks_of(13, 2)


def test_a_fua_read_writes_back_the_cached_blocks_it_reads(disk: DiskUnit, path: Path) -> None:
    """READ(16) with FUA takes its blocks from the medium, so they are written first."""
    write_blocks(disk, 30, blocks_of(14, 2))
    request = read(disk, rw16(Opcode.READ_16, 30, 2, 0x08), 2 * BLOCK)
    assert data_of(request) == blocks_of(14, 2)
    assert on_medium(path, 30, 2) == blocks_of(14, 2)


def test_write_and_verify_writes_through_to_the_medium(disk: DiskUnit, path: Path) -> None:
    """WRITE AND VERIFY(10/12/16) completes with the data on the medium; BYTCHK 1 is fine."""
    for index, cdb in enumerate(
        (
            rw10(Opcode.WRITE_AND_VERIFY_10, 40, 1),
            rw12(Opcode.WRITE_AND_VERIFY_12, 41, 1, 0x02),
            rw16(Opcode.WRITE_AND_VERIFY_16, 42, 1),
        )
    ):
        assert_good(write(disk, cdb, blocks_of(20 + index, 1)))
        assert on_medium(path, 40 + index, 1) == blocks_of(20 + index, 1)
    assert_sense(
        write(disk, rw10(Opcode.WRITE_AND_VERIFY_10, 40, 1, 0x04), bytes(BLOCK)), s.INVALID_FIELD
    )


# -- VERIFY ----------------------------------------------------------------------------------------


def test_verify_without_bytchk_only_checks_the_range(disk: DiskUnit) -> None:
    """BYTCHK 0: no data moves; GOOD inside the disk, LBA OUT OF RANGE past it."""
    for opcode, builder in (
        (Opcode.VERIFY_10, rw10),
        (Opcode.VERIFY_12, rw12),
        (Opcode.VERIFY_16, rw16),
    ):
        assert_good(issue(disk, builder(opcode, 0, BLOCKS)))
        assert_sense(issue(disk, builder(opcode, 1, BLOCKS)), s.LBA_OUT_OF_RANGE)


def test_verify_with_bytchk_compares_and_reports_the_first_differing_byte(disk: DiskUnit) -> None:
    """BYTCHK 1: equal data is GOOD; one changed byte is MISCOMPARE DURING VERIFY
    OPERATION (0E/1D/00) with its offset in the data-out in INFORMATION."""
    data = blocks_of(15, 16)
    write_blocks(disk, 60, data)
    assert_good(write(disk, rw10(Opcode.VERIFY_10, 60, 16, 0x02), data))
    changed = bytearray(data)
    changed[5000] ^= 0x01
    changed[7000] ^= 0x01
    request = write(disk, rw16(Opcode.VERIFY_16, 60, 16, 0x02), bytes(changed))
    decoded = assert_sense(request, s.MISCOMPARE_DURING_VERIFY)
    assert decoded.information == 5000


def test_verify_with_bytchk_3_compares_one_block_with_every_block(disk: DiskUnit) -> None:
    """SBC-4's BYTCHK 11b: the one block sent must equal each block of the range."""
    block = blocks_of(16, 1)
    assert_good(issue(disk, rw16(Opcode.WRITE_SAME_16, 70, 5), data_out=block))
    assert_good(write(disk, rw10(Opcode.VERIFY_10, 70, 5, 0x06), block))
    write_blocks(disk, 73, bytes(BLOCK))
    decoded = assert_sense(
        write(disk, rw10(Opcode.VERIFY_10, 70, 5, 0x06), block), s.MISCOMPARE_DURING_VERIFY
    )
    assert decoded.information == 3 * BLOCK + next(i for i, b in enumerate(block) if b)
    assert_sense(write(disk, rw10(Opcode.VERIFY_10, 70, 5, 0x04), block), s.INVALID_FIELD)


def test_verify_compares_ranges_longer_than_its_one_megabyte_pieces(tmp_path: Path) -> None:
    """VERIFY reads the medium a megabyte at a time; a difference beyond the first
    piece is still found, at its offset in the whole range (BYTCHK 1 and 3)."""
    disk = DiskUnit.open("disk0", tmp_path / "big.img", size=8192 * BLOCK)
    clear_power_on(disk)
    block = blocks_of(40, 1)
    assert_good(issue(disk, rw16(Opcode.WRITE_SAME_16, 0, 8192), data_out=block))
    write_blocks(disk, 5000, bytes(BLOCK))
    first = next(index for index, byte in enumerate(block) if byte)
    decoded = assert_sense(
        write(disk, rw16(Opcode.VERIFY_16, 0, 8192, 0x06), block), s.MISCOMPARE_DURING_VERIFY
    )
    assert decoded.information == 5000 * BLOCK + first
    data = blocks_of(41, 3000)
    write_blocks(disk, 100, data)
    assert_good(write(disk, rw16(Opcode.VERIFY_16, 100, 3000, 0x02), data))
    changed = bytearray(data)
    changed[2900 * BLOCK + 7] ^= 0x80
    decoded = assert_sense(
        write(disk, rw16(Opcode.VERIFY_16, 100, 3000, 0x02), bytes(changed)),
        s.MISCOMPARE_DURING_VERIFY,
    )
    assert decoded.information == 2900 * BLOCK + 7
    disk.close()


# -- MODE SENSE and MODE SELECT --------------------------------------------------------------------


def test_mode_sense_6_returns_every_page_after_a_block_descriptor(disk: DiskUnit) -> None:
    """Page 0x3F: header (DPOFUA set), one 8-byte descriptor (blocks, 512), then pages
    0x01, 0x04, 0x08, 0x0A in ascending order with their SBC-3 lengths; WCE is on and
    the geometry page counts 16 heads and the rotation rate."""
    reply = data_of(issue(disk, mode_sense_6(0x3F), data_in=255))
    assert reply[0] == len(reply) - 1
    assert reply[1:4] == bytes([0x00, 0x10, 0x08])
    assert struct.unpack_from(">IB3s", reply, 4) == (BLOCKS, 0, (BLOCK).to_bytes(3, "big"))
    pages = mode_pages(reply, 4)
    assert list(pages) == [0x01, 0x04, 0x08, 0x0A]
    assert [len(page) for page in pages.values()] == [12, 24, 20, 12]
    assert pages[0x08][2] & 0x04
    assert pages[0x04][5] == 16
    assert int.from_bytes(pages[0x04][2:5], "big") == -(-BLOCKS // (16 * 63))
    assert pages[0x04][20:22] == b"\x00\x01"
    assert pages[0x0A][2] & 0x04 == 0


def test_mode_sense_10_returns_one_page_and_dbd_drops_the_descriptor(disk: DiskUnit) -> None:
    """MODE SENSE(10) page 0x08: 8-byte header, descriptor length 8; with DBD: 0."""
    reply = data_of(issue(disk, mode_sense_10(0x08), data_in=512))
    assert int.from_bytes(reply[0:2], "big") == len(reply) - 2
    assert reply[3] == 0x10
    assert int.from_bytes(reply[6:8], "big") == 8
    assert list(mode_pages(reply, 8)) == [0x08]
    reply = data_of(issue(disk, mode_sense_10(0x08, dbd=True), data_in=512))
    assert int.from_bytes(reply[6:8], "big") == 0
    assert reply[8] == 0x08


def test_mode_sense_changeable_values_show_wce_and_d_sense_only(disk: DiskUnit) -> None:
    """PC=01b: only the caching page's WCE bit and the control page's D_SENSE are ones."""
    reply = data_of(issue(disk, mode_sense_6(0x3F, control=1, dbd=True), data_in=255))
    pages = mode_pages(reply, 4)
    assert pages[0x08][2:] == bytes([0x04]) + bytes(17)
    assert pages[0x0A][2:] == bytes([0x04]) + bytes(9)
    assert pages[0x01][2:] == bytes(10)
    assert pages[0x04][2:] == bytes(22)


def test_mode_sense_default_values_differ_from_current_after_a_change(disk: DiskUnit) -> None:
    """PC=10b returns the defaults (WCE on) while the current value is off."""
    disk.image.set_write_cache(False)
    current = mode_pages(data_of(issue(disk, mode_sense_6(0x08), data_in=255)), 4)
    default = mode_pages(data_of(issue(disk, mode_sense_6(0x08, control=2), data_in=255)), 4)
    assert current[0x08][2] & 0x04 == 0
    assert default[0x08][2] & 0x04


def test_mode_sense_saved_values_are_saving_parameters_not_supported(disk: DiskUnit) -> None:
    """PC=11b: ILLEGAL REQUEST, SAVING PARAMETERS NOT SUPPORTED (05/39/00)."""
    assert_sense(
        issue(disk, mode_sense_6(0x08, control=3), data_in=255), s.SAVING_PARAMS_NOT_SUPPORTED
    )


def test_mode_sense_of_a_page_the_disk_does_not_have_is_invalid_field(disk: DiskUnit) -> None:
    """Page 0x2A (a CD's) and subpage 0x01 of page 0x08 are INVALID FIELD IN CDB."""
    assert_sense(issue(disk, mode_sense_6(0x2A), data_in=255), s.INVALID_FIELD)
    cdb = bytearray(mode_sense_6(0x08))
    cdb[3] = 0x01
    assert_sense(issue(disk, cdb, data_in=255), s.INVALID_FIELD)


def test_mode_sense_stops_at_the_allocation_length(disk: DiskUnit) -> None:
    """Linux's first MODE SENSE(6) asks for 4 bytes: it gets the header, which still
    gives the full mode data length."""
    request = issue(disk, mode_sense_6(0x3F, allocation=4), data_in=255)
    assert request.transferred == 4
    full = data_of(issue(disk, mode_sense_6(0x3F), data_in=255))
    assert data_of(request) == full[:4]


def control_page(disk: DiskUnit, *, d_sense: bool) -> bytes:
    """A MODE SELECT(6) parameter list: the current control page with D_SENSE set or not."""
    page = bytearray(
        mode_pages(data_of(issue(disk, mode_sense_6(0x0A, dbd=True), data_in=255)), 4)[0x0A]
    )
    page[2] = page[2] | 0x04 if d_sense else page[2] & ~0x04
    return bytes(4) + bytes(page)


def test_mode_select_of_d_sense_switches_errors_to_descriptor_format(disk: DiskUnit) -> None:
    """After MODE SELECT sets D_SENSE, CHECK CONDITION sense is descriptor format (0x72)
    with the same key/ASC/ASCQ; clearing it brings fixed format (0x70) back."""
    data = control_page(disk, d_sense=True)
    assert_good(issue(disk, mode_select_6(len(data)), data_out=data))
    assert disk.descriptor_sense
    request = issue(disk, rw10(Opcode.READ_10, BLOCKS, 1), data_in=BLOCK)
    assert request.sense[0] == 0x72
    assert_sense(request, s.LBA_OUT_OF_RANGE)
    page = mode_pages(data_of(issue(disk, mode_sense_6(0x0A), data_in=255)), 4)[0x0A]
    assert page[2] & 0x04
    data = control_page(disk, d_sense=False)
    assert_good(issue(disk, mode_select_6(len(data)), data_out=data))
    assert issue(disk, rw10(Opcode.READ_10, BLOCKS, 1), data_in=BLOCK).sense[0] == 0x70


def test_mode_select_of_wce_turns_the_write_cache_off_and_on(disk: DiskUnit, path: Path) -> None:
    """MODE SELECT(10) clearing WCE writes the cache back and makes writes go through;
    setting it again caches them; no MODE PARAMETERS CHANGED for the one initiator."""
    write_blocks(disk, 200, blocks_of(17, 1))
    caching = bytearray(
        mode_pages(data_of(issue(disk, mode_sense_10(0x08, dbd=True), data_in=512)), 8)[0x08]
    )
    caching[2] &= ~0x04
    data = bytes(8) + bytes(caching)
    assert_good(issue(disk, mode_select_10(len(data)), data_out=data))
    assert on_medium(path, 200, 1) == blocks_of(17, 1)
    write_blocks(disk, 201, blocks_of(18, 1))
    assert on_medium(path, 201, 1) == blocks_of(18, 1)
    caching[2] |= 0x04
    data = bytes(8) + bytes(caching)
    assert_good(issue(disk, mode_select_10(len(data)), data_out=data))
    write_blocks(disk, 202, blocks_of(19, 1))
    assert on_medium(path, 202, 1) == bytes(BLOCK)
    assert disk.pending_unit_attentions() == []


def test_mode_select_with_a_block_descriptor_of_the_right_block_length_is_accepted(
    disk: DiskUnit,
) -> None:
    """A block descriptor that repeats the block length is fine; another length is
    INVALID FIELD IN PARAMETER LIST (changing it would need FORMAT UNIT)."""
    page = control_page(disk, d_sense=False)[4:]
    good = bytes([0, 0, 0, 8]) + struct.pack(">IB3s", 0, 0, (512).to_bytes(3, "big")) + page
    assert_good(issue(disk, mode_select_6(len(good)), data_out=good))
    bad = bytes([0, 0, 0, 8]) + struct.pack(">IB3s", 0, 0, (4096).to_bytes(3, "big")) + page
    assert_sense(issue(disk, mode_select_6(len(bad)), data_out=bad), s.INVALID_PARAM)


def test_mode_select_errors(disk: DiskUnit) -> None:
    """A changed unchangeable bit, a wrong page length or an unknown page: INVALID
    FIELD IN PARAMETER LIST; a list shorter than its header, or shorter than the CDB
    says: PARAMETER LIST LENGTH ERROR; SP=1: SAVING PARAMETERS NOT SUPPORTED; PF=0:
    INVALID FIELD IN CDB.  Nothing changes."""
    good = control_page(disk, d_sense=True)
    unchangeable = bytearray(good)
    unchangeable[4 + 3] ^= 0x10  # QAM
    wrong_length = bytearray(good[:5]) + bytes([good[5] + 2]) + good[6:] + bytes(2)
    unknown = bytes(4) + bytes([0x1C, 0x0A]) + bytes(10)
    for data in (bytes(unchangeable), bytes(wrong_length), unknown):
        assert_sense(issue(disk, mode_select_6(len(data)), data_out=data), s.INVALID_PARAM)
    assert_sense(issue(disk, mode_select_6(3), data_out=bytes(3)), s.INVALID_PARAM_LEN)
    assert_sense(issue(disk, mode_select_6(len(good) + 4), data_out=good), s.INVALID_PARAM_LEN)
    assert_sense(
        issue(disk, mode_select_6(len(good), save=True), data_out=good),
        s.SAVING_PARAMS_NOT_SUPPORTED,
    )
    assert_sense(
        issue(disk, mode_select_6(len(good), page_format=False), data_out=good), s.INVALID_FIELD
    )
    assert not disk.descriptor_sense
    assert_good(issue(disk, mode_select_6(0)))


# -- FORMAT UNIT, SEEK, REPORT LUNS, opcodes -------------------------------------------------------


def test_format_unit_is_accepted_and_leaves_the_data(disk: DiskUnit) -> None:
    """FORMAT UNIT with or without a parameter header is GOOD and changes no block;
    FMTPINFO non-zero is INVALID FIELD; a short header is PARAMETER LIST LENGTH ERROR."""
    write_blocks(disk, 0, blocks_of(21, 1))
    assert_good(issue(disk, [Opcode.FORMAT_UNIT, 0, 0, 0, 0, 0]))
    assert_good(issue(disk, [Opcode.FORMAT_UNIT, 0x10, 0, 0, 0, 0], data_out=bytes(4)))
    assert read_blocks(disk, 0, 1) == blocks_of(21, 1)
    assert_sense(issue(disk, [Opcode.FORMAT_UNIT, 0x40, 0, 0, 0, 0]), s.INVALID_FIELD)
    assert_sense(
        issue(disk, [Opcode.FORMAT_UNIT, 0x30, 0, 0, 0, 0], data_out=bytes(4)), s.INVALID_PARAM_LEN
    )


def test_seek_10_checks_the_lba(disk: DiskUnit) -> None:
    """SEEK(10) to the last block is GOOD; one past it is LBA OUT OF RANGE."""
    assert_good(issue(disk, rw10(Opcode.SEEK_10, BLOCKS - 1, 0)))
    assert_sense(issue(disk, rw10(Opcode.SEEK_10, BLOCKS, 0)), s.LBA_OUT_OF_RANGE)


def test_report_luns_through_the_target_lists_lun_0(disk: DiskUnit) -> None:
    """REPORT LUNS (answered by the target) lists the disk as LUN 0."""
    target = SCSITarget("t0", {0: disk})
    request = SCSIRequest(
        0, struct.pack(">BBBxxxIxx", Opcode.REPORT_LUNS, 0, 0, 16), Direction.IN, MemoryBuffer(64)
    )
    target.execute(request)
    assert_good(request)
    assert data_of(request) == struct.pack(">I4x", 8) + bytes(8)


def test_unknown_operation_codes_are_invalid_command_operation_code(disk: DiskUnit) -> None:
    """LOG SENSE, READ DEFECT DATA(10) and a vendor code: 05/20/00."""
    for opcode in (Opcode.LOG_SENSE, 0x37, 0xC0):
        assert_sense(issue(disk, bytes([opcode]) + bytes(15), data_in=64), s.INVALID_OPCODE)


def test_a_cdb_shorter_than_its_group_length_is_invalid_field(disk: DiskUnit) -> None:
    """A READ(16) cut to 10 bytes is INVALID FIELD IN CDB, not a crash."""
    assert_sense(issue(disk, rw16(Opcode.READ_16, 0, 1)[:10], data_in=BLOCK), s.INVALID_FIELD)
    assert_sense(issue(disk, bytes([Opcode.READ_6, 0, 0])), s.INVALID_FIELD)


# -- thin provisioning -----------------------------------------------------------------------------


def test_unmap_deallocates_blocks_that_then_read_as_zeros(thin: DiskUnit, tmp_path: Path) -> None:
    """UNMAP of two ranges, one over flushed and one over cached data: both read as
    zeros; the blocks around them keep their data."""
    write_blocks(thin, 0, blocks_of(22, 64), fua=True)
    write_blocks(thin, 100, blocks_of(23, 8))
    cdb, data = unmap([(8, 16), (102, 4)])
    assert_good(issue(thin, cdb, data_out=data))
    assert (
        read_blocks(thin, 0, 64)
        == blocks_of(22, 64)[: 8 * BLOCK] + bytes(16 * BLOCK) + blocks_of(22, 64)[24 * BLOCK :]
    )
    assert (
        read_blocks(thin, 100, 8)
        == blocks_of(23, 8)[: 2 * BLOCK] + bytes(4 * BLOCK) + blocks_of(23, 8)[6 * BLOCK :]
    )
    assert on_medium(tmp_path / "thin.img", 8, 16) == bytes(16 * BLOCK)


def test_unmap_on_a_fully_provisioned_disk_is_an_invalid_operation_code(disk: DiskUnit) -> None:
    """LBPU is 0 there: UNMAP is not a command this unit has."""
    cdb, data = unmap([(0, 1)])
    assert_sense(issue(disk, cdb, data_out=data), s.INVALID_OPCODE)


def test_unmap_with_no_parameter_list_is_good(thin: DiskUnit) -> None:
    """SBC-3 UNMAP: a PARAMETER LIST LENGTH of 0 is not an error."""
    cdb, _ = unmap([])
    cdb = cdb[:7] + bytes(3)
    assert_good(issue(thin, cdb))


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("anchor", s.INVALID_FIELD),
        ("short header", s.INVALID_PARAM_LEN),
        ("descriptor length not a multiple of 16", s.INVALID_PARAM_LEN),
        ("descriptors past the list", s.INVALID_PARAM_LEN),
        ("list shorter than the CDB says", s.INVALID_PARAM_LEN),
        ("too many descriptors", s.INVALID_PARAM),
        ("too many blocks", s.INVALID_PARAM),
        ("out of range", s.LBA_OUT_OF_RANGE),
    ],
)
def test_unmap_parameter_list_errors_change_nothing(
    thin: DiskUnit, case: str, expected: s.SenseCode
) -> None:
    """Each malformed UNMAP gets its own sense, and no block is deallocated by it."""
    write_blocks(thin, 0, blocks_of(24, 4), fua=True)
    cdb, data = unmap([(0, 2), (2, 2)])
    if case == "anchor":
        cdb, data = unmap([(0, 2)], anchor=True)
    elif case == "short header":
        data = data[:6]
        cdb = cdb[:7] + struct.pack(">H", 6) + cdb[9:]
    elif case == "descriptor length not a multiple of 16":
        data = data[:2] + struct.pack(">H", 20) + data[4:]
    elif case == "descriptors past the list":
        data = data[:2] + struct.pack(">H", 48) + data[4:]
    elif case == "list shorter than the CDB says":
        cdb = cdb[:7] + struct.pack(">H", len(data) + 16) + cdb[9:]
    elif case == "too many descriptors":
        thin.max_unmap_descriptors = 1
    elif case == "too many blocks":
        thin.max_unmap_blocks = 3
    elif case == "out of range":
        cdb, data = unmap([(0, 2), (BLOCKS - 1, 2)])
    assert_sense(issue(thin, cdb, data_out=data), expected)
    assert read_blocks(thin, 0, 4) == blocks_of(24, 4)


def test_write_same_writes_one_block_over_a_range(disk: DiskUnit, path: Path) -> None:
    """WRITE SAME(10) and (16) copy the data-out block to every block, cached like writes."""
    block = blocks_of(25, 1)
    request = issue(disk, rw10(Opcode.WRITE_SAME_10, 10, 20), data_out=block)
    assert_good(request)
    assert request.transferred == BLOCK
    assert read_blocks(disk, 9, 22) == bytes(BLOCK) + block * 20 + bytes(BLOCK)
    assert_good(issue(disk, rw16(Opcode.WRITE_SAME_16, 1000, 3), data_out=block))
    assert read_blocks(disk, 1000, 3) == block * 3
    assert on_medium(path, 1000, 3) == bytes(3 * BLOCK)


def test_write_same_with_unmap_deallocates_zero_blocks_on_a_thin_disk(
    thin: DiskUnit, tmp_path: Path
) -> None:
    """UNMAP bit and a zero block: the range is deallocated at once (on the medium);
    UNMAP bit with non-zero data writes the data instead."""
    write_blocks(thin, 0, blocks_of(26, 32), fua=True)
    assert_good(issue(thin, rw16(Opcode.WRITE_SAME_16, 4, 8, 0x08), data_out=bytes(BLOCK)))
    assert on_medium(tmp_path / "thin.img", 4, 8) == bytes(8 * BLOCK)
    assert read_blocks(thin, 3, 1) == blocks_of(26, 32)[3 * BLOCK : 4 * BLOCK]
    block = blocks_of(27, 1)
    assert_good(issue(thin, rw10(Opcode.WRITE_SAME_10, 20, 2, 0x08), data_out=block))
    assert read_blocks(thin, 20, 2) == block * 2


@pytest.mark.parametrize(
    ("flags", "count"),
    [(0x00, 0), (0x10, 1), (0x04, 1), (0x02, 1), (0x01, 1), (0x08, 1), (0x00, 0x10000)],
    ids=["zero blocks", "anchor", "pbdata", "lbdata", "ndob", "unmap on a full disk", "too long"],
)
def test_write_same_field_errors_are_invalid_field(disk: DiskUnit, flags: int, count: int) -> None:
    """WSNZ: 0 blocks is refused; ANCHOR, PBDATA, LBDATA and NDOB are not supported;
    the UNMAP bit needs a thin disk; more than the maximum WRITE SAME length is refused."""
    request = issue(disk, rw16(Opcode.WRITE_SAME_16, 0, count, flags), data_out=blocks_of(28, 1))
    assert_sense(request, s.INVALID_FIELD)
    assert read_blocks(disk, 0, 1) == bytes(BLOCK)


# -- host errors and arbitrary CDBs ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "expected", "information"),
    [
        (errno.ENOSPC, s.SPACE_ALLOC_FAILED, None),
        (errno.ENODATA, s.READ_ERROR, 12),
        (errno.EIO, s.IO_ERROR, None),
    ],
)
def test_host_io_errors_become_the_sense_qemu_gives_them(
    disk: DiskUnit,
    monkeypatch: pytest.MonkeyPatch,
    error: int,
    expected: s.SenseCode,
    information: int | None,
) -> None:
    """ENOSPC -> 07/27/07, ENODATA -> 03/11/00 with the LBA, anything else -> 0B/00/06."""

    def fail(*arguments: object, **options: object) -> None:
        raise OSError(error, "injected")

    monkeypatch.setattr(disk.image, "read", fail)
    decoded = assert_sense(read(disk, rw10(Opcode.READ_10, 12, 1)), expected)
    assert decoded.information == information


def test_busy_host_errors_become_task_set_full_status(
    disk: DiskUnit, monkeypatch: pytest.MonkeyPatch
) -> None:
    """EDOM from the backend is TASK SET FULL, a status without sense (QEMU's mapping)."""

    def fail(*arguments: object, **options: object) -> None:
        raise OSError(errno.EDOM, "injected")

    monkeypatch.setattr(disk.image, "write", fail)
    request = write(disk, rw10(Opcode.WRITE_10, 0, 1), bytes(BLOCK))
    assert request.status is Status.TASK_SET_FULL
    assert request.sense == b""


_OPCODES = sorted(DiskUnit.commands)


@settings(
    max_examples=400,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    cdb=st.one_of(
        st.binary(max_size=20),
        st.builds(
            lambda opcode, tail: bytes([opcode]) + tail,
            st.sampled_from(_OPCODES),
            st.binary(max_size=19),
        ),
    ),
    direction=st.sampled_from(list(Direction)),
    length=st.sampled_from([0, 1, 17, BLOCK, 4 * BLOCK, 70000]),
    thin_disk=st.booleans(),
)
def test_arbitrary_cdbs_never_raise(
    disk: DiskUnit, thin: DiskUnit, cdb: bytes, direction: Direction, length: int, thin_disk: bool
) -> None:
    """Any bytes as a CDB, any buffer: the disk answers with a status (and decodable
    sense for CHECK CONDITION) or a host status, never an exception."""
    unit = thin if thin_disk else disk
    buffer = None
    if direction is not Direction.NONE:
        buffer = MemoryBuffer(random.Random(length).randbytes(length))
    request = SCSIRequest(0, cdb, direction, buffer)
    unit.execute(request)
    assert isinstance(request.status, Status)
    assert bool(request.sense) == (request.status is Status.CHECK_CONDITION)
    if request.sense:
        decode(request.sense)
    assert 0 <= request.transferred <= request.expected_length
    unit.started = True  # a START STOP UNIT may have stopped it: the next example needs it
