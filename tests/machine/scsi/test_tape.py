"""The tape unit: SSC commands on an AWSTAPE file, fixed and variable blocks,
filemarks, positioning, early warning, load states and mode parameters
(kextlab.machine.scsi.tape)."""

from __future__ import annotations

import struct
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyscsi.pyscsi.scsi import SCSI
from pyscsi.pyscsi.scsi_command import SCSICommand
from pyscsi.pyscsi.scsi_enum_command import ssc

from kextlab.machine.scsi import HostStatus, sense
from kextlab.machine.scsi.awstape import AWSTape
from kextlab.machine.scsi.constants import Opcode, Status
from kextlab.machine.scsi.sense import decode
from kextlab.machine.scsi.tape import TapeUnit
from kextlab.testing.pyscsi_backend import EmulatedTargetDevice

from .initiator import assert_good, assert_sense, clear_power_on, data_of, issue, pyscsi_device


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "tape.aws"


@pytest.fixture
def drive(path: Path) -> Iterator[TapeUnit]:
    """A drive with a blank cartridge, variable-block mode, POWER ON already reported."""
    unit = TapeUnit("st0", path)
    clear_power_on(unit)
    yield unit
    unit.close()


def write(unit: TapeUnit, data: bytes, *, fixed: bool = False) -> Any:
    length = len(data) // unit.block_size if fixed else len(data)
    cdb = bytes([Opcode.WRITE_6, int(fixed)]) + length.to_bytes(3, "big") + b"\x00"
    return issue(unit, cdb, data_out=data)


def read(
    unit: TapeUnit,
    length: int,
    *,
    fixed: bool = False,
    sili: bool = False,
    buffer: int | None = None,
) -> Any:
    flags = (0x01 if fixed else 0) | (0x02 if sili else 0)
    cdb = bytes([Opcode.READ_6, flags]) + length.to_bytes(3, "big") + b"\x00"
    size = length * (unit.block_size if fixed else 1) if buffer is None else buffer
    return issue(unit, cdb, data_in=max(size, 1))


def write_filemarks(unit: TapeUnit, count: int, flags: int = 0) -> Any:
    return issue(unit, bytes([Opcode.WRITE_FILEMARKS, flags]) + count.to_bytes(3, "big") + b"\x00")


def space(unit: TapeUnit, code: int, count: int) -> Any:
    cdb = bytes([Opcode.SPACE, code]) + (count & 0xFF_FFFF).to_bytes(3, "big") + b"\x00"
    return issue(unit, cdb)


def rewind(unit: TapeUnit) -> Any:
    return issue(unit, bytes([Opcode.REWIND]) + bytes(5))


def locate_10(
    unit: TapeUnit, address: int, *, change_partition: bool = False, partition: int = 0
) -> Any:
    cdb = struct.pack(
        ">BBxIxBB", Opcode.LOCATE_10, 0x02 if change_partition else 0, address, partition, 0
    )
    return issue(unit, cdb)


def locate_16(unit: TapeUnit, destination: int, identifier: int) -> Any:
    cdb = struct.pack(">BBBBQ2xBB", Opcode.LOCATE_16, destination << 3, 0, 0, identifier, 0, 0)
    return issue(unit, cdb)


def read_position(unit: TapeUnit, service_action: int = 0) -> Any:
    return issue(unit, bytes([Opcode.READ_POSITION, service_action]) + bytes(8), data_in=20)


def position_of(unit: TapeUnit) -> tuple[int, int, int]:
    """(flags, first block, last block) from READ POSITION's short form."""
    request = read_position(unit)
    assert_good(request)
    flags, _, first, last = struct.unpack_from(">BBxxII", data_of(request))
    return flags, first, last


def load_unload(unit: TapeUnit, byte4: int) -> Any:
    return issue(unit, [Opcode.START_STOP_UNIT, 0, 0, 0, byte4, 0])


def mode_select_6(unit: TapeUnit, parameters: bytes, flags: int = 0x10) -> Any:
    cdb = [Opcode.MODE_SELECT_6, flags, 0, 0, len(parameters), 0]
    return issue(unit, cdb, data_out=parameters)


def block_size_parameters(block_size: int, density: int = 0) -> bytes:
    """A MODE SELECT(6) list: header, one block descriptor with ``block_size``."""
    return bytes([0, 0, 0, 8, density, 0, 0, 0, 0]) + block_size.to_bytes(3, "big")


def set_block_size(unit: TapeUnit, block_size: int) -> None:
    assert_good(mode_select_6(unit, block_size_parameters(block_size)))
    assert unit.block_size == block_size


def record(index: int, length: int) -> bytes:
    return bytes([index % 256]) * length


def hand_headers(raw: bytes) -> list[tuple[int, int, int, int]]:
    """(curblkl, prvblkl, flags1, flags2) of each header, read from the file by hand."""
    found = []
    offset = 0
    while offset < len(raw):
        length = raw[offset] | raw[offset + 1] << 8
        previous = raw[offset + 2] | raw[offset + 3] << 8
        found.append((length, previous, raw[offset + 4], raw[offset + 5]))
        offset += 6 + length
    return found


# -- python-scsi SSC commands (it has none of its own) -----------------------------------


class Write6(SCSICommand):
    """WRITE(6), variable or fixed (SSC-3 §6.8)."""

    _cdb_bits: ClassVar[dict[str, list[int]]] = {
        "opcode": [0xFF, 0],
        "fixed": [0x01, 1],
        "transfer_length": [0xFF_FFFF, 2],
    }

    def __init__(self, opcode: Any, data: bytes, fixed: int = 0, blocks: int = 0) -> None:
        SCSICommand.__init__(self, opcode, len(data), 0)
        self.dataout[:] = data
        self.cdb = self.build_cdb(
            opcode=opcode.value, fixed=fixed, transfer_length=blocks if fixed else len(data)
        )


class Read6(SCSICommand):
    """READ(6), variable or fixed (SSC-3 §6.4)."""

    _cdb_bits: ClassVar[dict[str, list[int]]] = {
        "opcode": [0xFF, 0],
        "sili": [0x02, 1],
        "fixed": [0x01, 1],
        "transfer_length": [0xFF_FFFF, 2],
    }

    def __init__(self, opcode: Any, length: int, sili: int = 0) -> None:
        SCSICommand.__init__(self, opcode, 0, length)
        self.cdb = self.build_cdb(opcode=opcode.value, sili=sili, fixed=0, transfer_length=length)


class WriteFilemarks6(SCSICommand):
    """WRITE FILEMARKS(6) (SSC-3 §6.9)."""

    _cdb_bits: ClassVar[dict[str, list[int]]] = {
        "opcode": [0xFF, 0],
        "immed": [0x01, 1],
        "count": [0xFF_FFFF, 2],
    }

    def __init__(self, opcode: Any, count: int) -> None:
        SCSICommand.__init__(self, opcode, 0, 0)
        self.cdb = self.build_cdb(opcode=opcode.value, count=count)


class Space6(SCSICommand):
    """SPACE(6) (SSC-3 §6.7); the count is 24-bit two's complement."""

    _cdb_bits: ClassVar[dict[str, list[int]]] = {
        "opcode": [0xFF, 0],
        "code": [0x0F, 1],
        "count": [0xFF_FFFF, 2],
    }

    def __init__(self, opcode: Any, code: int, count: int) -> None:
        SCSICommand.__init__(self, opcode, 0, 0)
        self.cdb = self.build_cdb(opcode=opcode.value, code=code, count=count & 0xFF_FFFF)


class Rewind(SCSICommand):
    """REWIND (SSC-3 §7.11)."""

    _cdb_bits: ClassVar[dict[str, list[int]]] = {"opcode": [0xFF, 0]}

    def __init__(self, opcode: Any) -> None:
        SCSICommand.__init__(self, opcode, 0, 0)
        self.cdb = self.build_cdb(opcode=opcode.value)


def test_records_and_filemarks_written_through_python_scsi_read_back_and_open_as_awstape(
    drive: TapeUnit, path: Path
) -> None:
    """The issue's scenario: python-scsi writes records and filemarks, rewinds, spaces
    and reads them back; the file opens with the AWSTAPE reader and its headers,
    checked byte by byte, are Hercules'."""
    client = SCSI(pyscsi_device(drive))
    assert client.device.devicetype == 0x01
    for data in (b"HDR1", b"payload-one", b"payload-two!"):
        client.execute(Write6(ssc.WRITE_6, data))
    client.execute(WriteFilemarks6(ssc.WRITE_FILEMARKS_6, 1))
    client.execute(Write6(ssc.WRITE_6, b"EOF1"))
    client.execute(WriteFilemarks6(ssc.WRITE_FILEMARKS_6, 2))

    client.execute(Rewind(ssc.REWIND))
    first = Read6(ssc.READ_6, 4)
    client.execute(first)
    assert first.datain == b"HDR1"
    client.execute(Space6(ssc.SPACE_6, 1, 1))  # past the first filemark
    label = Read6(ssc.READ_6, 4)
    client.execute(label)
    assert label.datain == b"EOF1"
    with pytest.raises(EmulatedTargetDevice.CheckCondition) as stopped:
        client.execute(Space6(ssc.SPACE_6, 0, -3))  # back over EOF1, then the filemark
    assert stopped.value.data["filemark"] == 1
    assert stopped.value.data["information"] == (-2) & 0xFFFF_FFFF
    assert drive.position == 3  # on the filemark's BOM side
    client.execute(Space6(ssc.SPACE_6, 0, -1))
    again = Read6(ssc.READ_6, 12)
    client.execute(again)
    assert again.datain == b"payload-two!"
    with pytest.raises(EmulatedTargetDevice.CheckCondition) as caught:
        client.execute(Read6(ssc.READ_6, 64))
    assert caught.value.data["filemark"] == 1
    assert caught.value.data["sense_key"] == 0x00
    assert caught.value.data["information"] == 64
    drive.close()

    with AWSTape.open(path, read_only=True) as tape:
        contents = [tape.read(index) for index in range(len(tape))]
    assert contents == [b"HDR1", b"payload-one", b"payload-two!", None, b"EOF1", None, None]
    assert hand_headers(path.read_bytes()) == [
        (4, 0, 0xA0, 0),
        (11, 4, 0xA0, 0),
        (12, 11, 0xA0, 0),
        (0, 12, 0x40, 0),
        (4, 0, 0xA0, 0),
        (0, 4, 0x40, 0),
        (0, 0, 0x40, 0),
    ]
    assert path.read_bytes()[6:10] == b"HDR1"


# -- identity ---------------------------------------------------------------------------


def test_inquiry_reports_a_removable_sequential_access_device(drive: TapeUnit) -> None:
    """Peripheral type 1, RMB set, product "KEXTLAB TAPE", SSC-3 among the versions."""
    data = data_of(issue(drive, [Opcode.INQUIRY, 0, 0, 0, 96, 0], data_in=96))
    assert data[0] == 0x01
    assert data[1] == 0x80
    assert data[16:32] == b"KEXTLAB TAPE    "
    assert 0x0400 in struct.unpack_from(">8H", data, 58)


def test_read_block_limits_reports_one_byte_to_the_24_bit_maximum(drive: TapeUnit) -> None:
    """Granularity 0, maximum 0xFFFFFF, minimum 1."""
    request = issue(drive, [Opcode.READ_BLOCK_LIMITS, 0, 0, 0, 0, 0], data_in=6)
    assert data_of(request) == bytes([0x00, 0xFF, 0xFF, 0xFF, 0x00, 0x01])


def test_read_block_limits_with_mloi_is_an_invalid_field(drive: TapeUnit) -> None:
    """MLOI (SSC-4) is not supported: INVALID FIELD IN CDB."""
    assert_sense(
        issue(drive, [Opcode.READ_BLOCK_LIMITS, 1, 0, 0, 0, 0], data_in=20), sense.INVALID_FIELD
    )


# -- variable-block reading ------------------------------------------------------------------


def test_a_variable_read_of_the_exact_length_returns_the_record(drive: TapeUnit) -> None:
    """Write 100 bytes, rewind, read 100: GOOD, the data, position 1."""
    assert_good(write(drive, record(7, 100)))
    rewind(drive)
    request = read(drive, 100)
    assert_good(request)
    assert data_of(request) == record(7, 100)
    assert drive.position == 1


def test_reading_a_shorter_record_reports_ili_with_a_positive_residue(drive: TapeUnit) -> None:
    """A 60-byte record read with length 100: NO SENSE 00/00/00, ILI, INFORMATION 40;
    the 60 bytes arrive and the tape moves past the record."""
    write(drive, record(1, 60))
    rewind(drive)
    request = read(drive, 100)
    decoded = assert_sense(request, sense.NO_SENSE)
    assert decoded.incorrect_length
    assert decoded.information == 40
    assert data_of(request) == record(1, 60)
    assert drive.position == 1


def test_sili_suppresses_the_short_record_condition(drive: TapeUnit) -> None:
    """The same short read with SILI: GOOD, 60 bytes transferred, residual 40."""
    write(drive, record(1, 60))
    rewind(drive)
    request = read(drive, 100, sili=True)
    assert_good(request)
    assert request.transferred == 60
    assert request.residual == 40


@pytest.mark.parametrize("sili", [False, True])
def test_reading_a_longer_record_reports_ili_with_a_negative_residue(
    drive: TapeUnit, sili: bool
) -> None:
    """A 100-byte record read with length 30 (SILI or not): ILI, INFORMATION -70 as a
    32-bit two's complement; 30 bytes arrive; the rest of the record is skipped."""
    write(drive, record(2, 100))
    write(drive, record(3, 10))
    rewind(drive)
    request = read(drive, 30, sili=sili)
    decoded = assert_sense(request, sense.NO_SENSE)
    assert decoded.incorrect_length
    assert decoded.information == (-70) & 0xFFFF_FFFF
    assert data_of(request) == record(2, 30)
    assert data_of(read(drive, 10)) == record(3, 10)


def test_descriptor_sense_carries_a_negative_residue_sign_extended(drive: TapeUnit) -> None:
    """In descriptor format the 8-byte INFORMATION of -70 is sign-extended."""
    drive.descriptor_sense = True
    write(drive, record(2, 100))
    rewind(drive)
    request = read(drive, 30)
    assert request.sense[0] == 0x72
    decoded = decode(request.sense)
    assert decoded.information == (-70) & 0xFFFF_FFFF_FFFF_FFFF
    assert decoded.incorrect_length


def test_reading_a_filemark_reports_it_and_moves_past_it(drive: TapeUnit) -> None:
    """READ at a filemark: NO SENSE, FILEMARK DETECTED (00/00/01), FILEMARK bit,
    INFORMATION = the requested length; the next READ gets the record after it."""
    write_filemarks(drive, 1)
    write(drive, b"after")
    rewind(drive)
    request = read(drive, 512)
    decoded = assert_sense(request, sense.FILEMARK_DETECTED)
    assert decoded.filemark
    assert decoded.information == 512
    assert request.transferred == 0
    assert drive.position == 1
    assert data_of(read(drive, 5)) == b"after"


def test_reading_at_end_of_data_is_blank_check_and_does_not_move(drive: TapeUnit) -> None:
    """READ at EOD: BLANK CHECK, END-OF-DATA DETECTED (08/00/05), INFORMATION = length."""
    write(drive, b"only")
    request = read(drive, 10)
    decoded = assert_sense(request, sense.END_OF_DATA_DETECTED)
    assert decoded.information == 10
    assert drive.position == 1


def test_a_zero_length_read_or_write_does_nothing(drive: TapeUnit, path: Path) -> None:
    """Transfer length 0: GOOD, no data, no block written, no movement."""
    assert_good(issue(drive, bytes([Opcode.WRITE_6, 0, 0, 0, 0, 0])))
    assert_good(issue(drive, bytes([Opcode.READ_6, 0, 0, 0, 0, 0])))
    assert drive.position == 0
    assert path.read_bytes() == b""


def test_a_read_larger_than_the_initiators_buffer_is_a_transport_error(drive: TapeUnit) -> None:
    """READ of 100 bytes into a 10-byte buffer: host TRANSPORT_ERROR, nothing moves."""
    write(drive, record(1, 100))
    rewind(drive)
    request = read(drive, 100, buffer=10)
    assert request.host_status is HostStatus.TRANSPORT_ERROR
    assert drive.position == 0


def test_a_write_with_less_data_than_announced_writes_nothing(drive: TapeUnit, path: Path) -> None:
    """WRITE of 100 bytes with a 10-byte buffer: transport error, the file stays empty."""
    request = issue(drive, bytes([Opcode.WRITE_6, 0, 0, 0, 100, 0]), data_out=bytes(10))
    assert request.host_status is HostStatus.TRANSPORT_ERROR
    assert path.read_bytes() == b""


def test_a_file_that_shrank_under_the_drive_gives_a_medium_error(
    drive: TapeUnit, path: Path
) -> None:
    """A record whose data is gone from the file: MEDIUM ERROR 03/11/00 with the block
    number in INFORMATION, and the tape does not move."""
    write(drive, record(1, 100))
    rewind(drive)
    with path.open("r+b") as tape_file:
        tape_file.truncate(50)
    decoded = assert_sense(read(drive, 100), sense.READ_ERROR)
    assert decoded.information == 0
    assert drive.position == 0


def test_a_record_larger_than_a_segment_round_trips_through_the_drive(
    drive: TapeUnit, path: Path
) -> None:
    """A 200,000-byte record is stored as four AWSTAPE segments and reads back whole."""
    data = bytes(range(256)) * 781 + bytes(64)
    assert_good(write(drive, data))
    rewind(drive)
    assert data_of(read(drive, len(data))) == data
    flags = [flags1 for _, _, flags1, _ in hand_headers(path.read_bytes())]
    assert flags == [0x80, 0x00, 0x00, 0x20]


# -- fixed-block mode ----------------------------------------------------------------------


def test_fixed_writes_store_one_record_per_block(drive: TapeUnit, path: Path) -> None:
    """Block size 512, WRITE fixed 3: three 512-byte records in the file."""
    set_block_size(drive, 512)
    data = record(1, 512) + record(2, 512) + record(3, 512)
    request = write(drive, data, fixed=True)
    assert_good(request)
    assert request.transferred == 1536
    assert drive.position == 3
    assert [h[0] for h in hand_headers(path.read_bytes())] == [512, 512, 512]


def test_fixed_reads_return_whole_blocks_and_stop_at_a_filemark(drive: TapeUnit) -> None:
    """Three blocks, a filemark: READ fixed 5 returns three blocks, then FILEMARK with
    INFORMATION 2 (blocks not read), positioned after the filemark."""
    set_block_size(drive, 512)
    data = record(1, 512) + record(2, 512) + record(3, 512)
    write(drive, data, fixed=True)
    write_filemarks(drive, 1)
    rewind(drive)
    request = read(drive, 5, fixed=True)
    decoded = assert_sense(request, sense.FILEMARK_DETECTED)
    assert decoded.filemark
    assert decoded.information == 2
    assert data_of(request) == data
    assert drive.position == 4


def test_a_fixed_read_meeting_a_record_of_another_length_reports_ili(drive: TapeUnit) -> None:
    """A 100-byte record in 512-byte mode: ILI, INFORMATION = blocks not read (2 of 3
    after one good block), the odd record passed over."""
    set_block_size(drive, 512)
    write(drive, record(1, 512), fixed=True)
    set_block_size(drive, 0)
    write(drive, record(2, 100))
    write(drive, record(3, 512))
    rewind(drive)
    set_block_size(drive, 512)
    request = read(drive, 3, fixed=True)
    decoded = assert_sense(request, sense.NO_SENSE)
    assert decoded.incorrect_length
    assert decoded.information == 2
    assert data_of(request) == record(1, 512)
    assert drive.position == 2


def test_fixed_reads_at_end_of_data_report_the_blocks_not_read(drive: TapeUnit) -> None:
    """Two blocks on tape, READ fixed 4: BLANK CHECK with INFORMATION 2."""
    set_block_size(drive, 256)
    write(drive, record(1, 512), fixed=True)
    rewind(drive)
    request = read(drive, 4, fixed=True)
    decoded = assert_sense(request, sense.END_OF_DATA_DETECTED)
    assert decoded.information == 2
    assert request.transferred == 512


@pytest.mark.parametrize(
    ("cdb", "block_size"),
    [
        (bytes([Opcode.READ_6, 0x01, 0, 0, 1, 0]), 0),  # fixed in variable mode
        (bytes([Opcode.WRITE_6, 0x01, 0, 0, 1, 0]), 0),
        (bytes([Opcode.READ_6, 0x03, 0, 0, 1, 0]), 512),  # fixed with SILI
    ],
)
def test_impossible_fixed_transfers_are_invalid_fields(
    drive: TapeUnit, cdb: bytes, block_size: int
) -> None:
    """FIXED with block length 0, and FIXED with SILI: INVALID FIELD IN CDB."""
    if block_size:
        set_block_size(drive, block_size)
    request = (
        issue(drive, cdb, data_in=512)
        if cdb[0] == Opcode.READ_6
        else issue(drive, cdb, data_out=bytes(512))
    )
    assert_sense(request, sense.INVALID_FIELD)


# -- writing in the middle, filemarks, erase ------------------------------------------------------


def test_writing_in_the_middle_discards_everything_after(drive: TapeUnit, path: Path) -> None:
    """Five records, LOCATE 2, WRITE: the tape now ends after the new record."""
    for index in range(5):
        write(drive, record(index, 10))
    assert_good(locate_10(drive, 2))
    write(drive, b"replacement")
    assert_sense(read(drive, 10), sense.END_OF_DATA_DETECTED)
    assert drive.position == 3
    with AWSTape.open(path, read_only=True) as tape:
        assert len(tape) == 3
        assert tape.read(2) == b"replacement"


def test_write_filemarks_writes_that_many_tape_marks(drive: TapeUnit, path: Path) -> None:
    """WRITE FILEMARKS 3 after a record: three 0x40 headers, position 4."""
    write(drive, b"x")
    assert_good(write_filemarks(drive, 3))
    assert drive.position == 4
    assert [h[2] for h in hand_headers(path.read_bytes())] == [0xA0, 0x40, 0x40, 0x40]


def test_write_filemarks_zero_writes_nothing(drive: TapeUnit, path: Path) -> None:
    """A count of 0 only flushes: no tape mark, and the data after the position stays."""
    write(drive, b"a")
    write(drive, b"b")
    rewind(drive)
    assert_good(write_filemarks(drive, 0))
    assert len(hand_headers(path.read_bytes())) == 2


def test_setmarks_are_an_invalid_field(drive: TapeUnit) -> None:
    """WSMK set: INVALID FIELD IN CDB."""
    assert_sense(write_filemarks(drive, 1, flags=0x02), sense.INVALID_FIELD)


def test_erase_ends_the_data_at_the_position(drive: TapeUnit, path: Path) -> None:
    """ERASE at block 1 of 3: one record remains; a READ there is at EOD."""
    for index in range(3):
        write(drive, record(index, 8))
    locate_10(drive, 1)
    assert_good(issue(drive, [Opcode.ERASE, 1, 0, 0, 0, 0]))
    assert len(hand_headers(path.read_bytes())) == 1
    assert_sense(read(drive, 8), sense.END_OF_DATA_DETECTED)


def test_a_write_protected_cartridge_refuses_every_write(path: Path) -> None:
    """A read-only cartridge: WRITE, WRITE FILEMARKS and ERASE are DATA PROTECT 07/27/00;
    MODE SENSE sets WP; reading still works."""
    with AWSTape.open(path) as tape:
        tape.append_record(b"archived")
    unit = TapeUnit("st0", path, read_only=True)
    clear_power_on(unit)
    assert_sense(write(unit, b"new"), sense.WRITE_PROTECTED)
    assert_sense(write_filemarks(unit, 1), sense.WRITE_PROTECTED)
    assert_sense(issue(unit, [Opcode.ERASE, 0, 0, 0, 0, 0]), sense.WRITE_PROTECTED)
    header = data_of(issue(unit, [Opcode.MODE_SENSE_6, 0, 0x10, 0, 255, 0], data_in=255))
    assert header[2] & 0x80
    assert data_of(read(unit, 8)) == b"archived"
    unit.close()


# -- SPACE, REWIND, LOCATE, READ POSITION ---------------------------------------------


@pytest.fixture
def layout(drive: TapeUnit) -> TapeUnit:
    """Blocks: 0 r, 1 r, 2 FM, 3 r, 4 r, 5 r, 6 FM, 7 r (EOD at 8), positioned at BOP."""
    for item in ["r", "r", "F", "r", "r", "r", "F", "r"]:
        if item == "F":
            write_filemarks(drive, 1)
        else:
            write(drive, b"rec")
    rewind(drive)
    return drive


def test_spacing_forward_over_blocks_stops_past_a_filemark(layout: TapeUnit) -> None:
    """SPACE 5 blocks from BOP: two blocks, then the filemark: FILEMARK DETECTED,
    INFORMATION 3, positioned after the filemark."""
    decoded = assert_sense(space(layout, 0, 5), sense.FILEMARK_DETECTED)
    assert decoded.filemark
    assert decoded.information == 3
    assert layout.position == 3


def test_spacing_back_over_blocks_stops_before_a_filemark(layout: TapeUnit) -> None:
    """From block 5, SPACE -4: two blocks back, then the filemark at 2: stop on its BOM
    side (position 2), INFORMATION -2."""
    locate_10(layout, 5)
    decoded = assert_sense(space(layout, 0, -4), sense.FILEMARK_DETECTED)
    assert decoded.information == (-2) & 0xFFFF_FFFF
    assert layout.position == 2


def test_spacing_back_past_the_beginning_reports_bop_with_eom(layout: TapeUnit) -> None:
    """From block 2, SPACE -5: two blocks, then BOP: NO SENSE 00/00/04, EOM bit,
    INFORMATION -3."""
    locate_10(layout, 2)
    decoded = assert_sense(space(layout, 0, -5), sense.BEGINNING_OF_PARTITION)
    assert decoded.end_of_medium
    assert decoded.information == (-3) & 0xFFFF_FFFF
    assert layout.position == 0


def test_spacing_forward_into_end_of_data_is_blank_check(layout: TapeUnit) -> None:
    """From block 7, SPACE 3 blocks: one, then EOD: BLANK CHECK, INFORMATION 2."""
    locate_10(layout, 7)
    decoded = assert_sense(space(layout, 0, 3), sense.END_OF_DATA_DETECTED)
    assert decoded.information == 2
    assert layout.position == 8


def test_spacing_over_filemarks_lands_after_the_last_one(layout: TapeUnit) -> None:
    """SPACE 2 filemarks from BOP: position 7, just past the second."""
    assert_good(space(layout, 1, 2))
    assert layout.position == 7


def test_spacing_back_over_filemarks_lands_before_the_last_one(layout: TapeUnit) -> None:
    """From EOD, SPACE -2 filemarks: on the BOM side of the filemark at 2."""
    space(layout, 3, 0)
    assert_good(space(layout, 1, -2))
    assert layout.position == 2


def test_spacing_over_more_filemarks_than_exist_stops_at_eod_or_bop(layout: TapeUnit) -> None:
    """SPACE 3 filemarks: EOD, INFORMATION 1; SPACE -3 from EOD: BOP, INFORMATION -1."""
    assert assert_sense(space(layout, 1, 3), sense.END_OF_DATA_DETECTED).information == 1
    assert layout.position == 8
    decoded = assert_sense(space(layout, 1, -3), sense.BEGINNING_OF_PARTITION)
    assert decoded.information == (-1) & 0xFFFF_FFFF
    assert layout.position == 0


def test_spacing_to_end_of_data_and_by_zero(layout: TapeUnit) -> None:
    """Code 3 goes to EOD whatever the count; a count of 0 does not move."""
    assert_good(space(layout, 3, 0))
    assert layout.position == 8
    assert_good(space(layout, 0, 0))
    assert layout.position == 8


def test_unsupported_space_codes_are_invalid_fields(layout: TapeUnit) -> None:
    """Sequential filemarks (2) and setmarks (4): INVALID FIELD IN CDB."""
    assert_sense(space(layout, 2, 1), sense.INVALID_FIELD)
    assert_sense(space(layout, 4, 1), sense.INVALID_FIELD)


def test_rewind_returns_to_the_beginning(layout: TapeUnit) -> None:
    """REWIND from EOD: position 0, READ POSITION reports BOP."""
    space(layout, 3, 0)
    assert_good(rewind(layout))
    assert position_of(layout) == (0x80, 0, 0)


def test_locate_counts_filemarks_as_blocks(layout: TapeUnit) -> None:
    """LOCATE(10) to 3 puts the record after the first filemark next; READ POSITION
    agrees and has BOP clear."""
    assert_good(locate_10(layout, 3))
    assert position_of(layout) == (0x00, 3, 3)
    assert data_of(read(layout, 3)) == b"rec"


def test_locate_past_end_of_data_is_blank_check_at_eod(layout: TapeUnit) -> None:
    """LOCATE to 20 on an 8-block tape: BLANK CHECK 08/00/05, positioned at EOD."""
    assert_sense(locate_10(layout, 20), sense.END_OF_DATA_DETECTED)
    assert layout.position == 8
    assert_good(locate_10(layout, 8))


def test_locate_to_another_partition_is_an_invalid_field(layout: TapeUnit) -> None:
    """CP with partition 1 on a one-partition tape: INVALID FIELD IN CDB."""
    assert_sense(locate_10(layout, 0, change_partition=True, partition=1), sense.INVALID_FIELD)
    assert_good(locate_10(layout, 4, change_partition=True, partition=0))


def test_locate_16_by_object_file_and_end_of_data(layout: TapeUnit) -> None:
    """DEST_TYPE 0: object 5; 1: file 2 begins after the second filemark (7); 3: EOD;
    a missing file is EOD with BLANK CHECK; DEST_TYPE 2 is an invalid field."""
    assert_good(locate_16(layout, 0, 5))
    assert layout.position == 5
    assert_good(locate_16(layout, 1, 2))
    assert layout.position == 7
    assert_good(locate_16(layout, 1, 0))
    assert layout.position == 0
    assert_good(locate_16(layout, 3, 0))
    assert layout.position == 8
    assert_sense(locate_16(layout, 1, 3), sense.END_OF_DATA_DETECTED)
    assert_sense(locate_16(layout, 2, 0), sense.INVALID_FIELD)


def test_read_position_short_form_layout(layout: TapeUnit) -> None:
    """20 bytes: flags, partition 0, first = last = the position, nothing buffered;
    the long form (service action 6) is an invalid field."""
    locate_10(layout, 6)
    data = data_of(read_position(layout))
    assert data == bytes([0, 0, 0, 0]) + (6).to_bytes(4, "big") * 2 + bytes(8)
    assert_sense(read_position(layout, 6), sense.INVALID_FIELD)


# -- early warning and end of medium ---------------------------------------------------------------


@pytest.fixture
def small(path: Path) -> Iterator[TapeUnit]:
    """A 1,000-byte cartridge with the early warning 200 bytes before its end."""
    unit = TapeUnit("st0", path, capacity=1000, early_warning_margin=200)
    clear_power_on(unit)
    yield unit
    unit.close()


def test_writes_past_early_warning_succeed_with_eom_set(small: TapeUnit, path: Path) -> None:
    """A record ending past byte 800: written, but CHECK CONDITION NO SENSE 00/00/02
    with EOM; READ POSITION then reports EOP."""
    assert_good(write(small, record(1, 394)))  # ends at 400
    assert_good(write(small, record(2, 394)))  # ends at 800: not past the warning
    request = write(small, record(3, 94))  # ends at 900
    decoded = assert_sense(request, sense.EARLY_WARNING)
    assert decoded.end_of_medium
    assert request.transferred == 94
    assert len(path.read_bytes()) == 900
    assert position_of(small)[0] & 0x40


def test_a_record_past_the_end_of_medium_is_volume_overflow(small: TapeUnit, path: Path) -> None:
    """A variable record that would end past byte 1000 is not written: VOLUME OVERFLOW
    0D/00/02, EOM, INFORMATION = its length."""
    write(small, record(1, 894))  # ends at 900
    request = write(small, record(2, 200))
    decoded = assert_sense(request, sense.VOLUME_OVERFLOW)
    assert decoded.end_of_medium
    assert decoded.information == 200
    assert len(path.read_bytes()) == 900
    assert small.position == 1


def test_fixed_writes_at_end_of_medium_write_the_blocks_that_fit(small: TapeUnit) -> None:
    """Block size 100 (106 bytes each in the file): of 12 blocks 9 fit in 1,000 bytes;
    VOLUME OVERFLOW with INFORMATION 3."""
    set_block_size(small, 100)
    request = write(small, bytes(1200), fixed=True)
    decoded = assert_sense(request, sense.VOLUME_OVERFLOW)
    assert decoded.information == 3
    assert request.transferred == 900
    assert small.position == 9


def test_filemarks_past_early_warning_and_end_of_medium(small: TapeUnit) -> None:
    """Filemarks past the warning report EOM; one past the end overflows, INFORMATION
    counting the filemarks not written."""
    write(small, record(1, 800))  # ends at 806
    assert assert_sense(write_filemarks(small, 1), sense.EARLY_WARNING).end_of_medium
    write(small, record(2, 176))  # ends at 994
    decoded = assert_sense(write_filemarks(small, 2), sense.VOLUME_OVERFLOW)
    assert decoded.information == 1  # the first ends exactly at byte 1000 and fits
    assert small.position == 4


def test_rewriting_from_the_start_clears_early_warning(small: TapeUnit) -> None:
    """After REWIND a write truncates the tape, so it is no longer past the warning."""
    write(small, record(1, 900))
    rewind(small)
    assert_good(write(small, record(2, 10)))


# -- load states and the cartridge ---------------------------------------------------------------


def test_an_empty_drive_is_not_ready_with_medium_not_present() -> None:
    """No cartridge: TEST UNIT READY, READ and REWIND fail 02/3A/00; READ BLOCK LIMITS
    and INQUIRY still answer."""
    unit = TapeUnit("st0")
    clear_power_on(unit)
    assert_sense(issue(unit, bytes(6)), sense.NO_MEDIUM)
    assert_sense(read(unit, 10), sense.NO_MEDIUM)
    assert_sense(rewind(unit), sense.NO_MEDIUM)
    assert_sense(load_unload(unit, 0x01), sense.NO_MEDIUM)
    assert_good(issue(unit, [Opcode.READ_BLOCK_LIMITS, 0, 0, 0, 0, 0], data_in=6))
    assert_good(issue(unit, [Opcode.INQUIRY, 0, 0, 0, 36, 0], data_in=36))


def test_inserting_a_cartridge_reports_medium_changed(path: Path) -> None:
    """insert(): UNIT ATTENTION 06/28/00 once, then ready at BOP."""
    unit = TapeUnit("st0")
    clear_power_on(unit)
    unit.insert(path)
    assert_sense(issue(unit, bytes(6)), sense.MEDIUM_CHANGED)
    assert_good(issue(unit, bytes(6)))
    assert position_of(unit)[0] == 0x80
    unit.close()


def test_unload_makes_the_drive_not_ready_until_load(layout: TapeUnit) -> None:
    """UNLOAD rewinds and leaves 02/04/02 (initializing command required) for TUR and
    READ; LOAD brings it back at BOP."""
    locate_10(layout, 4)
    assert_good(load_unload(layout, 0x00))
    assert_sense(issue(layout, bytes(6)), sense.NOT_READY_INITIALIZING_REQUIRED)
    assert_sense(read(layout, 3), sense.NOT_READY_INITIALIZING_REQUIRED)
    request = issue(layout, [Opcode.REQUEST_SENSE, 0, 0, 0, 18, 0], data_in=18)
    assert decode(data_of(request)).code == (sense.K.NOT_READY, 0x04, 0x02)
    assert_good(load_unload(layout, 0x01))
    assert_good(issue(layout, bytes(6)))
    assert layout.position == 0


def test_load_with_retension_rewinds_and_load_with_eot_is_invalid(layout: TapeUnit) -> None:
    """LOAD+RETEN: ready at BOP; LOAD+EOT: INVALID FIELD IN CDB."""
    locate_10(layout, 3)
    assert_good(load_unload(layout, 0x03))
    assert layout.position == 0
    assert_sense(load_unload(layout, 0x05), sense.INVALID_FIELD)


def test_prevent_blocks_unload_and_eject(layout: TapeUnit) -> None:
    """PREVENT: UNLOAD is ILLEGAL REQUEST 05/53/02 and eject() refuses; ALLOW undoes it."""
    prevent_cdb = [Opcode.PREVENT_ALLOW_MEDIUM_REMOVAL, 0, 0, 0, 1, 0]
    assert_good(issue(layout, prevent_cdb))
    assert_sense(load_unload(layout, 0x00), sense.ILLEGAL_REQ_REMOVAL_PREVENTED)
    assert layout.eject() is False
    assert layout.medium is not None
    assert_good(issue(layout, [Opcode.PREVENT_ALLOW_MEDIUM_REMOVAL, 0, 0, 0, 0, 0]))
    assert layout.eject() is True
    assert_sense(issue(layout, bytes(6)), sense.NO_MEDIUM)


def test_persistent_prevent_values_are_invalid_on_a_tape(drive: TapeUnit) -> None:
    """PREVENT field 10b/11b are MMC's: INVALID FIELD IN CDB here."""
    request = issue(drive, [Opcode.PREVENT_ALLOW_MEDIUM_REMOVAL, 0, 0, 0, 3, 0])
    assert_sense(request, sense.INVALID_FIELD)


# -- mode parameters ---------------------------------------------------------------------------


def test_mode_sense_returns_the_block_descriptor_and_device_configuration(
    drive: TapeUnit,
) -> None:
    """MODE SENSE(6) page 0x10: header, an 8-byte block descriptor with the block
    length, and the 16-byte device configuration page with LOIS, EEG and SEW."""
    set_block_size(drive, 1024)
    data = data_of(issue(drive, [Opcode.MODE_SENSE_6, 0, 0x10, 0, 255, 0], data_in=255))
    assert data[:4] == bytes([3 + 8 + 16, 0, 0, 8])
    assert data[4:12] == bytes([0, 0, 0, 0, 0]) + (1024).to_bytes(3, "big")
    assert data[12:14] == bytes([0x10, 0x0E])
    assert data[12 + 8] == 0x40
    assert data[12 + 10] == 0x18


def test_mode_sense_10_with_dbd_omits_the_block_descriptor(drive: TapeUnit) -> None:
    """DBD set: block descriptor length 0, the page right after the 8-byte header."""
    cdb = [Opcode.MODE_SENSE_10, 0x08, 0x3F, 0, 0, 0, 0, 1, 0, 0]
    data = data_of(issue(drive, cdb, data_in=256))
    assert struct.unpack_from(">HBBBBH", data) == (6 + 16, 0, 0, 0, 0, 0)
    assert data[8] == 0x10


def test_mode_sense_changeable_and_default_values(drive: TapeUnit) -> None:
    """Changeable: only the block length (all ones); default: variable (0)."""
    set_block_size(drive, 512)
    changeable = data_of(issue(drive, [Opcode.MODE_SENSE_6, 0, 0x50, 0, 255, 0], data_in=255))
    assert changeable[4:12] == bytes(5) + b"\xff\xff\xff"
    assert changeable[14:28] == bytes(14)
    default = data_of(issue(drive, [Opcode.MODE_SENSE_6, 0, 0x90, 0, 255, 0], data_in=255))
    assert default[9:12] == bytes(3)


@pytest.mark.parametrize(
    ("byte2", "code"),
    [(0xD0, sense.SAVING_PARAMS_NOT_SUPPORTED), (0x01, sense.INVALID_FIELD)],
)
def test_mode_sense_refuses_saved_values_and_unknown_pages(
    drive: TapeUnit, byte2: int, code: sense.SenseCode
) -> None:
    """Saved values: 05/39/00; a page the drive lacks: 05/24/00."""
    assert_sense(issue(drive, [Opcode.MODE_SENSE_6, 0, byte2, 0, 255, 0], data_in=255), code)


def test_mode_select_10_sets_the_block_size(drive: TapeUnit) -> None:
    """MODE SELECT(10) with a 2048-byte block descriptor switches to fixed 2048."""
    parameters = bytes([0, 0, 0, 0, 0, 0, 0, 8]) + bytes(5) + (2048).to_bytes(3, "big")
    cdb = [Opcode.MODE_SELECT_10, 0x10, 0, 0, 0, 0, 0, 0, len(parameters), 0]
    assert_good(issue(drive, cdb, data_out=parameters))
    assert drive.block_size == 2048


def test_mode_select_accepts_the_unchanged_configuration_page(drive: TapeUnit) -> None:
    """Sending back the page MODE SENSE returned (with PS set) is accepted."""
    current = data_of(issue(drive, [Opcode.MODE_SENSE_6, 0x08, 0x10, 0, 255, 0], data_in=255))
    page = bytes([current[4] | 0x80]) + current[5:]
    assert_good(mode_select_6(drive, bytes([0, 0, 0, 0]) + page))


@pytest.mark.parametrize(
    ("parameters", "flags", "code"),
    [
        (block_size_parameters(0), 0x10, None),
        (
            bytes([0, 0, 0, 0, 0x10, 14, 0, 0, 0, 0, 0, 0, 0xFF] + [0] * 9),
            0x10,
            sense.INVALID_PARAM,
        ),
        (bytes([0, 0, 0, 0, 0x0A, 10] + [0] * 10), 0x10, sense.INVALID_PARAM),
        (block_size_parameters(512, density=0x42), 0x10, sense.INVALID_PARAM),
        (bytes([0, 0, 0, 7]) + bytes(7), 0x10, sense.INVALID_PARAM),
        (bytes([0, 0]), 0x10, sense.INVALID_PARAM_LEN),
        (block_size_parameters(512), 0x11, sense.SAVING_PARAMS_NOT_SUPPORTED),
    ],
    ids=[
        "variable",
        "changed page field",
        "unknown page",
        "density",
        "odd descriptor",
        "short list",
        "save pages",
    ],
)
def test_mode_select_checks_its_parameter_list(
    drive: TapeUnit, parameters: bytes, flags: int, code: sense.SenseCode | None
) -> None:
    """Block length 0 is accepted; a changed unchangeable field, an unknown page, a
    density, a descriptor that is not 8 bytes are INVALID FIELD IN PARAMETER LIST; a
    list shorter than its header is PARAMETER LIST LENGTH ERROR; SP is refused.
    A refused list changes nothing."""
    set_block_size(drive, 4096)
    request = mode_select_6(drive, parameters, flags)
    if code is None:
        assert_good(request)
        assert drive.block_size == 0
    else:
        assert_sense(request, code)
        assert drive.block_size == 4096


def test_mode_select_with_a_zero_length_list_changes_nothing(drive: TapeUnit) -> None:
    """Parameter list length 0: GOOD, the block size unchanged."""
    assert_good(issue(drive, [Opcode.MODE_SELECT_6, 0x10, 0, 0, 0, 0]))
    assert drive.block_size == 0


# -- random CDBs and a model check ---------------------------------------------------------------


cdbs = st.tuples(
    st.one_of(st.sampled_from(sorted(TapeUnit.commands)), st.integers(0, 255)),
    st.binary(max_size=15),
    st.sampled_from(["in", "out", "none"]),
    st.integers(0, 4096),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(cdbs, min_size=1, max_size=8))
def test_random_cdbs_get_an_answer_and_leave_a_valid_awstape_file(
    commands: list[tuple[int, bytes, str, int]],
) -> None:
    """Any CDB and buffer: GOOD or CHECK CONDITION with decodable sense (or a transport
    error), never an exception; afterwards the file still opens as AWSTAPE."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "t.aws"
        unit = TapeUnit("st0", path, capacity=64 * 1024, early_warning_margin=4096)
        try:
            write(unit, b"seed")
            write_filemarks(unit, 1)
            for opcode, rest, direction, length in commands:
                cdb = bytes([opcode]) + rest
                if direction == "in":
                    request = issue(unit, cdb, data_in=max(length, 1))
                elif direction == "out":
                    request = issue(unit, cdb, data_out=bytes([0x5A]) * max(length, 1))
                else:
                    request = issue(unit, cdb)
                assert request.status in (Status.GOOD, Status.CHECK_CONDITION)
                assert request.transferred <= request.expected_length
                if request.status is Status.CHECK_CONDITION:
                    decode(request.sense)
                if unit.medium is not None:
                    assert 0 <= unit.position <= len(unit.medium)
        finally:
            unit.close()
        with AWSTape.open(path, read_only=True) as tape:
            assert tape.size == path.stat().st_size


operations = st.lists(
    st.one_of(
        st.tuples(st.just("write"), st.binary(min_size=1, max_size=40)),
        st.tuples(st.just("filemarks"), st.integers(0, 3)),
        st.tuples(st.just("locate"), st.integers(0, 30)),
        st.tuples(st.just("space"), st.integers(-5, 5)),
        st.tuples(st.just("erase"), st.none()),
    ),
    max_size=25,
)


@settings(max_examples=150, deadline=None)
@given(operations)
def test_the_drive_behaves_like_a_list_of_blocks(
    steps: list[tuple[str, Any]],
) -> None:
    """Writes, filemarks, LOCATE, SPACE and ERASE against a list model: the position
    and the reopened file always match the model's blocks."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "t.aws"
        unit = TapeUnit("st0", path)
        clear_power_on(unit)
        model: list[bytes | None] = []
        position = 0
        try:
            for action, argument in steps:
                if action == "write":
                    write(unit, argument)
                    model[position:] = [argument]
                    position += 1
                elif action == "filemarks":
                    write_filemarks(unit, argument)
                    if argument:
                        model[position:] = [None] * argument
                        position += argument
                elif action == "locate":
                    locate_10(unit, argument)
                    position = min(argument, len(model))
                elif action == "space":
                    space(unit, 0, argument)
                    step = 1 if argument > 0 else -1
                    for _ in range(abs(argument)):
                        if step > 0 and position == len(model):
                            break
                        if step < 0 and position == 0:
                            break
                        position += step
                        if model[position if step < 0 else position - 1] is None:
                            break
                else:
                    issue(unit, [Opcode.ERASE, 1, 0, 0, 0, 0])
                    del model[position:]
                assert unit.position == position
        finally:
            unit.close()
        with AWSTape.open(path, read_only=True) as tape:
            assert [tape.read(index) for index in range(len(tape))] == model
