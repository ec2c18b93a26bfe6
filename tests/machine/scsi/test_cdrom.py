"""The CD-ROM unit: MMC commands on an ISO image, the tray, prevent states, media
events and unit attentions (kextlab.machine.scsi.cdrom)."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyscsi.pyscsi.scsi import SCSI
from pyscsi.pyscsi.scsi_cdb_readcapacity10 import ReadCapacity10
from pyscsi.pyscsi.scsi_command import SCSICommand
from pyscsi.pyscsi.scsi_enum_command import mmc

from kextlab.machine.scsi import HostStatus, sense
from kextlab.machine.scsi.cdrom import CDROMUnit, lba_to_msf
from kextlab.machine.scsi.constants import Opcode, Status
from kextlab.machine.scsi.sense import decode
from kextlab.testing.pyscsi_backend import EmulatedTargetDevice

from .initiator import (
    assert_good,
    assert_sense,
    clear_power_on,
    data_of,
    issue,
    make_iso,
    pyscsi_device,
)

SECTORS = 64


@pytest.fixture
def iso(tmp_path: Path) -> Path:
    return make_iso(tmp_path / "disc.iso", SECTORS)


@pytest.fixture
def cd(iso: Path) -> Iterator[CDROMUnit]:
    """A drive with the 64-sector disc loaded, POWER ON already reported."""
    unit = CDROMUnit("cd0", iso)
    clear_power_on(unit)
    yield unit
    unit.close()


@pytest.fixture
def empty_drive() -> Iterator[CDROMUnit]:
    unit = CDROMUnit("cd0")
    clear_power_on(unit)
    yield unit
    unit.close()


def read_10(unit: CDROMUnit, lba: int, count: int, *, buffer: int | None = None) -> Any:
    cdb = struct.pack(">BBIBHB", Opcode.READ_10, 0, lba, 0, count, 0)
    return issue(unit, cdb, data_in=count * 2048 if buffer is None else buffer)


def read_toc(
    unit: CDROMUnit, data_format: int, *, msf: bool = False, number: int = 0, allocation: int = 1024
) -> Any:
    cdb = struct.pack(
        ">BBB3xBHB", Opcode.READ_TOC, 0x02 if msf else 0, data_format, number, allocation, 0
    )
    return issue(unit, cdb, data_in=allocation)


def start_stop(unit: CDROMUnit, byte4: int) -> Any:
    return issue(unit, [Opcode.START_STOP_UNIT, 0, 0, 0, byte4, 0])


def prevent(unit: CDROMUnit, field: int) -> Any:
    return issue(unit, [Opcode.PREVENT_ALLOW_MEDIUM_REMOVAL, 0, 0, 0, field, 0])


def unit_ready(unit: CDROMUnit) -> Any:
    return issue(unit, bytes(6))


def gesn(unit: CDROMUnit, classes: int = 0x10, allocation: int = 8, polled: int = 1) -> Any:
    cdb = struct.pack(
        ">BBxxBxxHB", Opcode.GET_EVENT_STATUS_NOTIFICATION, polled, classes, allocation, 0
    )
    return issue(unit, cdb, data_in=max(allocation, 1))


def get_configuration(unit: CDROMUnit, request_type: int, start: int = 0) -> Any:
    cdb = struct.pack(">BBH3xHB", Opcode.GET_CONFIGURATION, request_type, start, 1024, 0)
    return issue(unit, cdb, data_in=1024)


def features_of(data: bytes) -> dict[int, tuple[int, bytes]]:
    """{feature code: (version/persistent/current byte, additional data)} of a reply."""
    features = {}
    position = 8
    while position < len(data):
        code, flags, length = struct.unpack_from(">HBB", data, position)
        features[code] = (flags, data[position + 4 : position + 4 + length])
        position += 4 + length
    return features


def mode_sense_10(unit: CDROMUnit, page: int, page_control: int = 0, subpage: int = 0) -> Any:
    cdb = struct.pack(
        ">BBBB3xHB", Opcode.MODE_SENSE_10, 0, page_control << 6 | page, subpage, 1024, 0
    )
    return issue(unit, cdb, data_in=1024)


# -- identity and reading ------------------------------------------------------------------


def test_inquiry_reports_a_removable_mmc_device_named_kextlab_cd_rom(cd: CDROMUnit) -> None:
    """Peripheral type 5, RMB set, product "KEXTLAB CD-ROM", MMC-6 among the versions."""
    data = data_of(issue(cd, [Opcode.INQUIRY, 0, 0, 0, 96, 0], data_in=96))
    assert data[0] == 0x05
    assert data[1] == 0x80
    assert data[8:16] == b"KEXTLAB "
    assert data[16:32] == b"KEXTLAB CD-ROM  "
    descriptors = struct.unpack_from(">8H", data, 58)
    assert 0x04E0 in descriptors


def test_read_capacity_reports_the_last_sector_and_2048_byte_blocks(cd: CDROMUnit) -> None:
    """READ CAPACITY(10): last LBA 63 of a 64-sector image, block length 2048."""
    request = issue(cd, [Opcode.READ_CAPACITY_10] + [0] * 9, data_in=8)
    assert_good(request)
    assert struct.unpack(">II", data_of(request)) == (SECTORS - 1, 2048)


def test_read_capacity_with_an_lba_but_no_pmi_is_an_invalid_field(cd: CDROMUnit) -> None:
    """A non-zero LBA without PMI is ILLEGAL REQUEST, as SBC and QEMU say."""
    request = issue(cd, [Opcode.READ_CAPACITY_10, 0, 0, 0, 0, 5, 0, 0, 0, 0], data_in=8)
    assert_sense(request, sense.INVALID_FIELD)


def test_a_partial_last_sector_is_not_addressable(tmp_path: Path) -> None:
    """An image 100 bytes past 64 sectors still has 64 sectors, as in QEMU."""
    path = make_iso(tmp_path / "odd.iso", SECTORS)
    path.write_bytes(path.read_bytes() + bytes(100))
    unit = CDROMUnit("cd0", path)
    assert unit.sectors == SECTORS
    unit.close()


def test_read_10_returns_the_sectors_asked_for(cd: CDROMUnit) -> None:
    """READ(10) of sectors 5-7 returns exactly their contents, in order."""
    request = read_10(cd, 5, 3)
    assert_good(request)
    data = data_of(request)
    assert len(data) == 3 * 2048
    assert [data[i * 2048 : i * 2048 + 4] for i in range(3)] == [
        (lba).to_bytes(4, "big") for lba in (5, 6, 7)
    ]


def test_read_12_reads_the_primary_volume_descriptor(cd: CDROMUnit) -> None:
    """READ(12) of sector 16 finds the ISO 9660 primary volume descriptor."""
    cdb = struct.pack(">BBIIBB", Opcode.READ_12, 0, 16, 1, 0, 0)
    request = issue(cd, cdb, data_in=2048)
    assert_good(request)
    assert data_of(request)[:7] == b"\x01CD001\x01"


def test_reading_past_the_last_sector_is_lba_out_of_range(cd: CDROMUnit) -> None:
    """Sectors 63-64 of 64: ILLEGAL REQUEST, LBA OUT OF RANGE, nothing transferred."""
    request = read_10(cd, SECTORS - 1, 2)
    assert_sense(request, sense.LBA_OUT_OF_RANGE)
    assert request.transferred == 0


def test_a_zero_length_read_moves_nothing(cd: CDROMUnit) -> None:
    """A transfer length of 0 is not an error and transfers nothing."""
    request = read_10(cd, 0, 0, buffer=16)
    assert_good(request)
    assert request.transferred == 0


def test_rdprotect_is_an_invalid_field_on_a_cd(cd: CDROMUnit) -> None:
    """A CD has no protection information: RDPROTECT set is INVALID FIELD IN CDB."""
    request = issue(cd, struct.pack(">BBIBHB", Opcode.READ_10, 0x20, 0, 0, 1, 0), data_in=2048)
    assert_sense(request, sense.INVALID_FIELD)


def test_a_read_larger_than_the_buffer_is_a_transport_error(cd: CDROMUnit) -> None:
    """Two sectors into a one-sector buffer: the HBA cannot move it (host status)."""
    request = read_10(cd, 0, 2, buffer=2048)
    assert request.host_status is HostStatus.TRANSPORT_ERROR
    assert request.status is Status.GOOD


def test_an_image_that_shrank_under_the_drive_gives_a_medium_error(
    cd: CDROMUnit, iso: Path
) -> None:
    """A sector the file no longer holds: MEDIUM ERROR, UNRECOVERED READ ERROR
    (03/11/00) with the LBA in INFORMATION, never an exception."""
    with iso.open("r+b") as image:
        image.truncate(10 * 2048)
    decoded = assert_sense(read_10(cd, 20, 1), sense.READ_ERROR)
    assert decoded.information == 20


@pytest.mark.parametrize(
    "opcode",
    [Opcode.WRITE_6, Opcode.WRITE_10, Opcode.WRITE_12, Opcode.WRITE_16, Opcode.WRITE_AND_VERIFY_10],
)
def test_writes_are_invalid_operation_codes_on_a_cd_rom(cd: CDROMUnit, opcode: int) -> None:
    """A CD-ROM drive has no write commands: INVALID COMMAND OPERATION CODE."""
    length = {0: 6, 1: 10, 2: 10, 4: 16, 5: 12}[opcode >> 5]
    cdb = bytes([opcode]) + bytes(length - 1)
    request = issue(cd, cdb, data_out=bytes(2048))
    assert_sense(request, sense.INVALID_OPCODE)


# -- READ TOC -----------------------------------------------------------------------------


def test_read_toc_format_0_lists_track_1_and_the_lead_out_in_lba(cd: CDROMUnit) -> None:
    """One data track at LBA 0, lead-out (0xAA) at the sector count; ADR/CONTROL 0x14."""
    request = read_toc(cd, 0)
    assert_good(request)
    assert data_of(request) == (
        bytes([0x00, 0x12, 1, 1])
        + bytes([0, 0x14, 1, 0]) + (0).to_bytes(4, "big")
        + bytes([0, 0x14, 0xAA, 0]) + SECTORS.to_bytes(4, "big")
    )  # fmt: skip


def test_read_toc_format_0_in_msf_counts_the_two_second_pregap(cd: CDROMUnit) -> None:
    """MSF addresses: track 1 at 00:02:00, the lead-out at 150 + 64 frames = 00:02:64."""
    data = data_of(read_toc(cd, 0, msf=True))
    assert data[8:12] == bytes([0, 0, 2, 0])
    assert data[16:20] == bytes([0, 0, 2, 64])
    assert lba_to_msf(4500 - 150) == bytes([0, 1, 0, 0])


def test_read_toc_from_the_lead_out_returns_only_the_lead_out(cd: CDROMUnit) -> None:
    """Starting track 0xAA: the header and the lead-out descriptor alone."""
    data = data_of(read_toc(cd, 0, number=0xAA))
    assert data == bytes([0, 0x0A, 1, 1, 0, 0x14, 0xAA, 0]) + SECTORS.to_bytes(4, "big")


def test_read_toc_from_a_track_the_disc_does_not_have_is_an_invalid_field(cd: CDROMUnit) -> None:
    """Starting track 2 on a one-track disc: INVALID FIELD IN CDB."""
    assert_sense(read_toc(cd, 0, number=2), sense.INVALID_FIELD)


def test_read_toc_is_clipped_to_the_allocation_length(cd: CDROMUnit) -> None:
    """An allocation of 4 returns the header only, still announcing the full length."""
    request = read_toc(cd, 0, allocation=4)
    assert data_of(request) == bytes([0x00, 0x12, 1, 1])


def test_read_toc_format_1_reports_the_single_session(cd: CDROMUnit) -> None:
    """Session information: sessions 1-1, first track of the last session at LBA 0."""
    data = data_of(read_toc(cd, 1))
    assert data == bytes([0, 0x0A, 1, 1, 0, 0x14, 1, 0, 0, 0, 0, 0])


def test_read_toc_format_2_gives_the_raw_lead_in_points(cd: CDROMUnit) -> None:
    """Raw TOC: points A0 (first track 1, CD-ROM), A1 (last track 1), A2 (lead-out
    MSF) and track 1 at 00:02:00, each an 11-byte Q sub-channel entry."""
    data = data_of(read_toc(cd, 2))
    assert data[:4] == bytes([0, 2 + 44, 1, 1])
    entries = [data[4 + 11 * i : 15 + 11 * i] for i in range(4)]
    assert entries == [
        bytes([1, 0x14, 0, 0xA0, 0, 0, 0, 0, 1, 0x00, 0]),
        bytes([1, 0x14, 0, 0xA1, 0, 0, 0, 0, 1, 0, 0]),
        bytes([1, 0x14, 0, 0xA2, 0, 0, 0, 0, 0, 2, 64]),
        bytes([1, 0x14, 0, 0x01, 0, 0, 0, 0, 0, 2, 0]),
    ]


@pytest.mark.parametrize("data_format", [3, 4, 5, 0x0F])
def test_read_toc_formats_a_data_disc_lacks_are_invalid_fields(
    cd: CDROMUnit, data_format: int
) -> None:
    """PMA, ATIP, CD-TEXT and reserved formats: INVALID FIELD IN CDB."""
    assert_sense(read_toc(cd, data_format), sense.INVALID_FIELD)


class ReadToc(SCSICommand):
    """READ TOC/PMA/ATIP for python-scsi, which has no class for it (MMC-6 §6.26)."""

    _cdb_bits: ClassVar[dict[str, list[int]]] = {
        "opcode": [0xFF, 0],
        "msf": [0x02, 1],
        "format": [0x0F, 2],
        "track_session_number": [0xFF, 6],
        "alloc_len": [0xFFFF, 7],
    }

    def __init__(
        self, opcode: Any, msf: int = 0, data_format: int = 0, track: int = 0, alloclen: int = 804
    ) -> None:
        SCSICommand.__init__(self, opcode, 0, alloclen)
        self.cdb = self.build_cdb(
            opcode=self.opcode.value,
            msf=msf,
            format=data_format,
            track_session_number=track,
            alloc_len=alloclen,
        )

    @staticmethod
    def unmarshall_datain(data: bytearray) -> dict[str, Any]:
        length, first, last = struct.unpack_from(">HBB", data)
        tracks = []
        for offset in range(4, 2 + length, 8):
            _, adr_control, number, _, address = struct.unpack_from(">BBBBI", data, offset)
            tracks.append(
                {
                    "adr": adr_control >> 4,
                    "control": adr_control & 0x0F,
                    "track": number,
                    "address": address,
                }
            )
        return {"first_track": first, "last_track": last, "tracks": tracks}


def test_python_scsi_reads_the_toc_capacity_and_sectors_of_an_iso(cd: CDROMUnit) -> None:
    """An independent client: python-scsi sees an MMC device, reads the TOC (one data
    track and the lead-out), READ CAPACITY and the volume descriptor sectors."""
    client = SCSI(pyscsi_device(cd), blocksize=2048)
    assert client.device.devicetype == 0x05
    toc = ReadToc(mmc.READ_TOC_PMA_ATIP)
    client.execute(toc)
    toc.unmarshall()
    assert toc.result == {
        "first_track": 1,
        "last_track": 1,
        "tracks": [
            {"adr": 1, "control": 4, "track": 1, "address": 0},
            {"adr": 1, "control": 4, "track": 0xAA, "address": SECTORS},
        ],
    }
    capacity = ReadCapacity10(mmc.READ_CAPACITY)  # python-scsi's MMC table names it so
    client.execute(capacity)
    capacity.unmarshall()
    assert capacity.result == {"returned_lba": SECTORS - 1, "block_length": 2048}
    sectors = client.read10(16, 2).datain
    assert sectors[1:6] == b"CD001"
    assert sectors[2048] == 255
    assert client.read12(40, 1).datain[:4] == (40).to_bytes(4, "big")


def test_python_scsi_sees_no_medium_as_a_check_condition(empty_drive: CDROMUnit) -> None:
    """Without a disc python-scsi's READ TOC raises CheckCondition NOT READY 3A/00."""
    client = SCSI(pyscsi_device(empty_drive), blocksize=2048)
    with pytest.raises(EmulatedTargetDevice.CheckCondition) as caught:
        client.execute(ReadToc(mmc.READ_TOC_PMA_ATIP))
    assert caught.value.data["sense_key"] == 0x02
    assert (caught.value.asc, caught.value.ascq) == (0x3A, 0x00)


# -- GET CONFIGURATION ---------------------------------------------------------------------


def test_get_configuration_lists_the_cd_rom_profile_and_features(cd: CDROMUnit) -> None:
    """All features: current profile CD-ROM (0x0008); profile list, core, morphing,
    removable medium and random readable (2048-byte blocks), in code order."""
    request = get_configuration(cd, 0)
    assert_good(request)
    data = data_of(request)
    length, _, profile = struct.unpack_from(">IHH", data)
    assert length == len(data) - 4
    assert profile == 0x0008
    features = features_of(data)
    assert list(features) == [0x0000, 0x0001, 0x0002, 0x0003, 0x0010]
    assert features[0x0000] == (0x03, bytes([0x00, 0x08, 0x01, 0x00]))
    assert features[0x0001] == (0x03, bytes([0, 0, 0, 1]))
    assert features[0x0002] == (0x07, bytes(4))
    assert features[0x0003] == (0x03, bytes([0x29, 0, 0, 0]))
    assert features[0x0010] == (0x01, struct.pack(">IHBB", 2048, 1, 1, 0))


def test_get_configuration_without_a_disc_has_no_current_profile(empty_drive: CDROMUnit) -> None:
    """No disc: current profile 0, CurrentP clear, random readable not current, so
    RT=1 (current features only) leaves it out."""
    data = data_of(get_configuration(empty_drive, 1))
    assert struct.unpack_from(">H", data, 6)[0] == 0
    features = features_of(data)
    assert list(features) == [0x0000, 0x0001, 0x0002, 0x0003]
    assert features[0x0000][1][2] == 0x00


def test_get_configuration_rt_2_returns_the_one_feature_asked_for(cd: CDROMUnit) -> None:
    """RT=2 with starting feature 3: only the Removable Medium descriptor."""
    features = features_of(data_of(get_configuration(cd, 2, 0x0003)))
    assert list(features) == [0x0003]


def test_get_configuration_rt_1_starts_at_the_starting_feature(cd: CDROMUnit) -> None:
    """RT=1 from feature 2: morphing, removable medium and random readable."""
    features = features_of(data_of(get_configuration(cd, 1, 0x0002)))
    assert list(features) == [0x0002, 0x0003, 0x0010]


def test_get_configuration_with_reserved_rt_is_an_invalid_field(cd: CDROMUnit) -> None:
    """RT=3 is reserved: INVALID FIELD IN CDB."""
    assert_sense(get_configuration(cd, 3), sense.INVALID_FIELD)


# -- the tray, prevent states and unit attentions -------------------------------------------


def test_a_drive_without_a_disc_is_not_ready_for_medium_commands(empty_drive: CDROMUnit) -> None:
    """TEST UNIT READY, READ CAPACITY, READ, READ TOC, READ DISC INFORMATION: 02/3A/00."""
    for cdb, buffer in [
        (bytes(6), 0),
        (bytes([Opcode.READ_CAPACITY_10]) + bytes(9), 8),
        (struct.pack(">BBIBHB", Opcode.READ_10, 0, 0, 0, 1, 0), 2048),
        (bytes([Opcode.READ_TOC]) + bytes(6) + b"\x00\x0c\x00", 12),
        (bytes([Opcode.READ_DISC_INFORMATION]) + bytes(6) + b"\x00\x22\x00", 34),
    ]:
        assert_sense(issue(empty_drive, cdb, data_in=buffer), sense.NO_MEDIUM)


def test_commands_that_need_no_disc_still_answer_without_one(empty_drive: CDROMUnit) -> None:
    """INQUIRY, MODE SENSE, GET CONFIGURATION, GESN, MECHANISM STATUS, PREVENT ALLOW
    and START STOP UNIT succeed with the drive empty."""
    for request in [
        issue(empty_drive, [Opcode.INQUIRY, 0, 0, 0, 36, 0], data_in=36),
        mode_sense_10(empty_drive, 0x2A),
        get_configuration(empty_drive, 0),
        gesn(empty_drive),
        issue(
            empty_drive,
            bytes([Opcode.MECHANISM_STATUS]) + bytes(7) + b"\x00\x08\x00\x00",
            data_in=8,
        ),
        prevent(empty_drive, 0),
        start_stop(empty_drive, 0x03),
    ]:
        assert_good(request)


def test_request_sense_without_a_disc_reports_medium_not_present(empty_drive: CDROMUnit) -> None:
    """REQUEST SENSE returns NOT READY, MEDIUM NOT PRESENT as data, with GOOD status."""
    request = issue(empty_drive, [Opcode.REQUEST_SENSE, 0, 0, 0, 18, 0], data_in=18)
    assert_good(request)
    assert decode(data_of(request)).code == (sense.K.NOT_READY, 0x3A, 0x00)


def test_inserting_a_disc_reports_medium_changed_once_then_ready(
    empty_drive: CDROMUnit, iso: Path
) -> None:
    """insert(): the next command gets UNIT ATTENTION 06/28/00, the one after succeeds."""
    empty_drive.insert(iso)
    assert_sense(unit_ready(empty_drive), sense.MEDIUM_CHANGED)
    assert_good(unit_ready(empty_drive))
    assert_good(read_10(empty_drive, 0, 1))


def test_a_unit_attention_comes_before_the_read_it_interrupts(cd: CDROMUnit, iso: Path) -> None:
    """After a disc change the first READ fails with the UA and moves no data."""
    cd.insert(iso)
    first = read_10(cd, 0, 1)
    assert_sense(first, sense.MEDIUM_CHANGED)
    assert first.transferred == 0
    assert_good(read_10(cd, 0, 1))


def test_swapping_discs_shows_the_new_capacity(cd: CDROMUnit, tmp_path: Path) -> None:
    """insert() over a loaded disc replaces it; READ CAPACITY then sees the new size."""
    cd.insert(make_iso(tmp_path / "big.iso", 100))
    capacity = [Opcode.READ_CAPACITY_10] + [0] * 9
    assert_sense(issue(cd, capacity, data_in=8), sense.MEDIUM_CHANGED)
    assert struct.unpack(">II", data_of(issue(cd, capacity, data_in=8))) == (99, 2048)


def test_a_bad_image_leaves_the_loaded_disc_alone(cd: CDROMUnit, tmp_path: Path) -> None:
    """insert() of a missing or too-small file raises and changes nothing."""
    with pytest.raises(FileNotFoundError):
        cd.insert(tmp_path / "missing.iso")
    (tmp_path / "tiny.iso").write_bytes(bytes(100))
    with pytest.raises(ValueError, match=r"tiny\.iso"):
        cd.insert(tmp_path / "tiny.iso")
    assert cd.sectors == SECTORS
    assert_good(unit_ready(cd))


def test_the_eject_button_removes_the_disc_without_a_unit_attention(cd: CDROMUnit) -> None:
    """eject(): the disc is gone, the tray open, commands fail NOT READY 3A/00."""
    assert cd.eject() is True
    assert cd.tray_open
    assert cd.image_path is None
    assert_sense(unit_ready(cd), sense.NO_MEDIUM)
    assert_sense(read_10(cd, 0, 1), sense.NO_MEDIUM)


def test_start_stop_unit_opens_and_closes_the_tray(cd: CDROMUnit) -> None:
    """LoEj with Start=0 opens the tray (NOT READY); LoEj with Start=1 closes it and the
    disc, still in the tray, reads again without a unit attention."""
    assert_good(start_stop(cd, 0x02))
    assert cd.tray_open
    assert_sense(unit_ready(cd), sense.NO_MEDIUM)
    assert_good(start_stop(cd, 0x03))
    assert not cd.tray_open
    assert_good(unit_ready(cd))


def test_start_stop_without_loej_or_with_a_power_condition_leaves_the_tray(cd: CDROMUnit) -> None:
    """Start/stop alone and any power condition spin the disc only: the tray stays shut."""
    for byte4 in (0x00, 0x01, 0x12, 0x22):
        assert_good(start_stop(cd, byte4))
        assert not cd.tray_open


def test_ejecting_while_prevented_is_removal_prevented(cd: CDROMUnit) -> None:
    """PREVENT, then START STOP eject: ILLEGAL REQUEST 05/53/02 and the disc stays."""
    assert_good(prevent(cd, 0x01))
    assert_sense(start_stop(cd, 0x02), sense.ILLEGAL_REQ_REMOVAL_PREVENTED)
    assert not cd.tray_open
    assert_good(unit_ready(cd))


def test_ejecting_an_empty_prevented_drive_is_not_ready_removal_prevented(cd: CDROMUnit) -> None:
    """Without a disc the same refusal is NOT READY 02/53/02, as QEMU reports it."""
    cd.eject()
    assert_good(prevent(cd, 0x01))
    assert_sense(start_stop(cd, 0x02), sense.NOT_READY_REMOVAL_PREVENTED)


def test_allowing_removal_again_lets_the_tray_open(cd: CDROMUnit) -> None:
    """PREVENT then ALLOW: START STOP eject succeeds."""
    prevent(cd, 0x01)
    assert_good(prevent(cd, 0x00))
    assert_good(start_stop(cd, 0x02))
    assert cd.tray_open


def test_the_eject_button_is_refused_while_prevented(cd: CDROMUnit) -> None:
    """With removal prevented eject() keeps the disc and returns False."""
    prevent(cd, 0x01)
    assert cd.eject() is False
    assert cd.medium_present
    assert cd.eject(force=True) is True
    assert not cd.medium_present


def test_persistent_prevent_blocks_the_button_but_not_the_host(cd: CDROMUnit) -> None:
    """Persistent prevent (11b): eject() is refused, START STOP eject is obeyed; 10b
    clears it."""
    assert_good(prevent(cd, 0x03))
    assert cd.eject() is False
    assert_good(start_stop(cd, 0x02))
    assert cd.tray_open
    assert_good(prevent(cd, 0x02))
    assert cd.eject() is True


def test_a_reset_clears_the_prevent_states(cd: CDROMUnit) -> None:
    """After a reset (which reports 06/29/00) the tray opens again."""
    prevent(cd, 0x01)
    prevent(cd, 0x03)
    cd.reset()
    assert_sense(unit_ready(cd), sense.POWER_ON_RESET)
    assert cd.eject() is True


# -- GET EVENT STATUS NOTIFICATION -----------------------------------------------------------


def media_event(request: Any) -> tuple[int, int]:
    """(event code, media status) from a GESN reply with a media descriptor."""
    data = data_of(request)
    assert data[:4] == bytes([0, 6, 0x04, 0x10])
    return data[4] & 0x0F, data[5]


def test_gesn_reports_new_media_once_then_no_change(empty_drive: CDROMUnit, iso: Path) -> None:
    """After insert(): NewMedia (2) with Media Present, then NoChg (0)."""
    assert media_event(gesn(empty_drive)) == (0, 0x00)
    empty_drive.insert(iso)
    assert media_event(gesn(empty_drive)) == (2, 0x02)
    assert media_event(gesn(empty_drive)) == (0, 0x02)


def test_gesn_reports_media_removal_with_the_tray_open(cd: CDROMUnit) -> None:
    """START STOP eject: MediaRemoval (3), status Door/Tray Open; closing: NewMedia."""
    start_stop(cd, 0x02)
    assert media_event(gesn(cd)) == (3, 0x01)
    start_stop(cd, 0x03)
    assert media_event(gesn(cd)) == (2, 0x02)


def test_gesn_reports_an_eject_request_when_the_button_is_refused(cd: CDROMUnit) -> None:
    """A pressed button under PREVENT becomes an EjectRequest (1) event for the host."""
    prevent(cd, 0x01)
    cd.eject()
    assert media_event(gesn(cd)) == (1, 0x02)


def test_gesn_neither_reports_nor_consumes_unit_attentions(cd: CDROMUnit, iso: Path) -> None:
    """Polling for events after a disc change leaves MEDIUM CHANGED for the next command."""
    cd.insert(iso)
    assert_good(gesn(cd))
    assert_good(get_configuration(cd, 0))
    assert_sense(unit_ready(cd), sense.MEDIUM_CHANGED)


def test_gesn_keeps_the_event_when_the_allocation_cannot_hold_it(cd: CDROMUnit, iso: Path) -> None:
    """An allocation of 4 bytes returns the header only and the event stays queued."""
    cd.insert(iso)
    assert data_of(gesn(cd, allocation=4)) == bytes([0, 6, 0x04, 0x10])
    assert media_event(gesn(cd)) == (2, 0x02)


def test_gesn_without_the_media_class_says_no_event_available(cd: CDROMUnit) -> None:
    """Asking only for classes the drive lacks: NEA set, supported classes = media."""
    assert data_of(gesn(cd, classes=0x42)) == bytes([0, 2, 0x80, 0x10])


def test_gesn_asynchronous_mode_is_an_invalid_field(cd: CDROMUnit) -> None:
    """Polled=0 asks for asynchronous notification, which the drive lacks."""
    assert_sense(gesn(cd, polled=0), sense.INVALID_FIELD)


# -- READ DISC INFORMATION, MECHANISM STATUS, MODE SENSE ----------------------------------------


def test_read_disc_information_describes_a_finalized_single_session_disc(cd: CDROMUnit) -> None:
    """34 bytes: complete disc and session, one track and session, unrestricted use,
    CD-ROM disc type, no lead-in or lead-out addresses."""
    cdb = bytes([Opcode.READ_DISC_INFORMATION]) + bytes(6) + b"\x00\x40\x00"
    data = data_of(issue(cd, cdb, data_in=64))
    assert len(data) == 34
    assert data[:12] == bytes([0, 32, 0x0E, 1, 1, 1, 1, 0x20, 0x00, 0, 0, 0])
    assert data[16:24] == b"\xff" * 8


def test_read_disc_information_other_data_types_are_invalid_fields(cd: CDROMUnit) -> None:
    """Data type 1 (track resources) is not supported: INVALID FIELD."""
    cdb = bytes([Opcode.READ_DISC_INFORMATION, 0x01]) + bytes(5) + b"\x00\x40\x00"
    assert_sense(issue(cd, cdb, data_in=64), sense.INVALID_FIELD)


def test_mechanism_status_reports_the_door_state(cd: CDROMUnit) -> None:
    """The 8-byte header has Door Open clear, then set once the tray opens."""
    cdb = bytes([Opcode.MECHANISM_STATUS]) + bytes(7) + b"\x00\x08\x00\x00"
    assert data_of(issue(cd, cdb, data_in=8)) == bytes(8)
    start_stop(cd, 0x02)
    assert data_of(issue(cd, cdb, data_in=8))[1] == 0x10


def test_mode_sense_returns_the_mm_capabilities_page(cd: CDROMUnit) -> None:
    """MODE SENSE(10) page 0x2A: no block descriptors, page length 0x14, a tray that
    ejects and locks; the lock state follows PREVENT."""
    data = data_of(mode_sense_10(cd, 0x2A))
    assert struct.unpack_from(">HBBBBH", data) == (6 + 22, 0, 0, 0, 0, 0)
    page = data[8:]
    assert page[:2] == bytes([0x2A, 0x14])
    assert len(page) == 22
    assert page[6] == 0x29
    assert struct.unpack_from(">H", page, 8)[0] == 5645
    prevent(cd, 0x01)
    assert data_of(mode_sense_10(cd, 0x2A))[8 + 6] == 0x2B


def test_mode_sense_6_all_pages_come_in_ascending_order(cd: CDROMUnit) -> None:
    """Page 0x3F: pages 0x01, 0x0E, 0x2A, and a mode data length that covers them."""
    data = data_of(issue(cd, [Opcode.MODE_SENSE_6, 0, 0x3F, 0, 255, 0], data_in=255))
    assert data[0] == len(data) - 1
    assert data[3] == 0  # block descriptor length
    codes = []
    position = 4
    while position < len(data):
        codes.append(data[position])
        position += 2 + data[position + 1]
    assert codes == [0x01, 0x0E, 0x2A]


def test_mode_sense_changeable_values_are_all_zero(cd: CDROMUnit) -> None:
    """Page control 1: the same pages with every parameter unchangeable."""
    page = data_of(mode_sense_10(cd, 0x0E, page_control=1))[8:]
    assert page == bytes([0x0E, 0x0E]) + bytes(14)


@pytest.mark.parametrize(
    ("page", "page_control", "subpage", "code"),
    [
        (0x2A, 3, 0, sense.SAVING_PARAMS_NOT_SUPPORTED),
        (0x08, 0, 0, sense.INVALID_FIELD),
        (0x2A, 0, 1, sense.INVALID_FIELD),
    ],
)
def test_mode_sense_refuses_saved_values_unknown_pages_and_subpages(
    cd: CDROMUnit, page: int, page_control: int, subpage: int, code: sense.SenseCode
) -> None:
    """Saved values: 05/39/00; a page or subpage the drive lacks: 05/24/00."""
    assert_sense(mode_sense_10(cd, page, page_control, subpage), code)


# -- random CDBs -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shared_iso(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_iso(tmp_path_factory.mktemp("cd") / "disc.iso", 40)


cdbs = st.tuples(
    st.one_of(st.sampled_from(sorted(CDROMUnit.commands)), st.integers(0, 255)),
    st.binary(max_size=15),
    st.sampled_from(["in", "out", "none"]),
    st.integers(0, 3 * 2048),
    st.booleans(),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(cdbs, min_size=1, max_size=6))
def test_random_cdbs_get_an_answer_never_an_exception(
    shared_iso: Path, commands: list[tuple[int, bytes, str, int, bool]]
) -> None:
    """Any CDB, any buffer, with or without a disc: GOOD or CHECK CONDITION with
    decodable sense (or a transport error), and never more data than the buffer."""
    unit = CDROMUnit("cd0", shared_iso)
    try:
        for opcode, rest, direction, length, eject_first in commands:
            if eject_first:
                unit.eject(force=True)
            cdb = bytes([opcode]) + rest
            if direction == "in":
                request = issue(unit, cdb, data_in=max(length, 1))
            elif direction == "out":
                request = issue(unit, cdb, data_out=bytes(max(length, 1)))
            else:
                request = issue(unit, cdb)
            assert request.status in (Status.GOOD, Status.CHECK_CONDITION)
            assert request.transferred <= request.expected_length
            if request.status is Status.CHECK_CONDITION:
                decode(request.sense)
    finally:
        unit.close()
