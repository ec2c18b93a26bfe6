"""The command-set objects build the CDBs the T10 standards lay out: checked against
python-scsi, an independent encoder, for SPC and SBC, and against MMC-6's tables for
the CD commands; a field out of range is refused, leaving the task unsent."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pyscsi.pyscsi.scsi_cdb_inquiry import Inquiry
from pyscsi.pyscsi.scsi_cdb_modesense6 import ModeSense6
from pyscsi.pyscsi.scsi_cdb_modesense10 import ModeSense10
from pyscsi.pyscsi.scsi_cdb_preventallow_mediumremoval import PreventAllowMediumRemoval
from pyscsi.pyscsi.scsi_cdb_read10 import Read10
from pyscsi.pyscsi.scsi_cdb_read16 import Read16
from pyscsi.pyscsi.scsi_cdb_readcapacity10 import ReadCapacity10
from pyscsi.pyscsi.scsi_cdb_readcapacity16 import ReadCapacity16
from pyscsi.pyscsi.scsi_cdb_testunitready import TestUnitReady as PyTestUnitReady
from pyscsi.pyscsi.scsi_cdb_write10 import Write10
from pyscsi.pyscsi.scsi_cdb_write16 import Write16
from pyscsi.pyscsi.scsi_enum_command import sbc, spc
from pyscsi.utils.converter import get_opcode

from kextlab.families.scsi.command_sets import (
    SCSIBlockCommands,
    SCSIMultimediaCommands,
    SCSIPrimaryCommands,
)
from kextlab.families.scsi.definitions import (
    kSCSIDataTransfer_FromInitiatorToTarget,
    kSCSIDataTransfer_FromTargetToInitiator,
    kSCSIDataTransfer_NoDataTransfer,
)
from kextlab.families.scsi.task import SCSITask
from kextlab.kernel.kernel import Kernel
from kextlab.kernel.memory.buffer import IOBufferMemoryDescriptor
from kextlab.kernel.memory.options import kIODirectionIn

BLOCK = 512


@pytest.fixture
def buffer(kernel: Kernel) -> Iterator[IOBufferMemoryDescriptor]:
    made = IOBufferMemoryDescriptor.withCapacity(1 << 20, kIODirectionIn)
    assert made is not None
    yield made
    made.release()


@pytest.fixture
def task(kernel: Kernel) -> Iterator[SCSITask]:
    made = SCSITask.create()
    yield made
    made.release()


def cdb(task: SCSITask) -> bytes:
    return task.command_bytes()


def test_spc_commands_are_encoded_as_python_scsi_encodes_them(
    task: SCSITask, buffer: IOBufferMemoryDescriptor
) -> None:
    """TEST UNIT READY, INQUIRY (standard and a VPD page), MODE SENSE(6)/(10) and
    PREVENT ALLOW MEDIUM REMOVAL, byte for byte."""
    spc_set = SCSIPrimaryCommands()
    assert spc_set.TEST_UNIT_READY(task, 0)
    assert cdb(task) == bytes(PyTestUnitReady(spc.TEST_UNIT_READY).cdb)
    assert task.GetDataTransferDirection() == kSCSIDataTransfer_NoDataTransfer
    assert spc_set.INQUIRY(task, buffer, 0, 0, 0, 36, 0)
    assert cdb(task) == bytes(Inquiry(spc.INQUIRY, alloclen=36).cdb)
    assert task.GetRequestedDataTransferCount() == 36
    assert spc_set.INQUIRY(task, buffer, 0, 1, 0x80, 255, 0)
    assert cdb(task) == bytes(Inquiry(spc.INQUIRY, evpd=1, page_code=0x80, alloclen=255).cdb)
    assert spc_set.MODE_SENSE_6(task, buffer, 1, 0, 0x08, 32, 0)
    assert cdb(task) == bytes(ModeSense6(spc.MODE_SENSE_6, 0x08, dbd=1, alloclen=32).cdb)
    assert spc_set.MODE_SENSE_10(task, buffer, 0, 0, 2, 0x2A, 300, 0)
    assert cdb(task) == bytes(ModeSense10(spc.MODE_SENSE_10, 0x2A, pc=2, alloclen=300).cdb)
    assert spc_set.PREVENT_ALLOW_MEDIUM_REMOVAL(task, 1, 0)
    assert cdb(task) == bytes(
        PreventAllowMediumRemoval(spc.PREVENT_ALLOW_MEDIUM_REMOVAL, prevent=1).cdb
    )
    spc_set.release()


def test_sbc_commands_are_encoded_as_python_scsi_encodes_them(
    task: SCSITask, buffer: IOBufferMemoryDescriptor
) -> None:
    """READ/WRITE (10) and (16) with FUA, READ CAPACITY (10) and (16), and the data
    direction and byte count each sets."""
    sbc_set = SCSIBlockCommands()
    assert sbc_set.READ_10(task, buffer, 8 * BLOCK, 0, 1, 0, 0x12345678, 8, 0)
    assert cdb(task) == bytes(Read10(sbc.READ_10, BLOCK, 0x12345678, 8, fua=1).cdb)
    assert task.GetDataTransferDirection() == kSCSIDataTransfer_FromTargetToInitiator
    assert task.GetRequestedDataTransferCount() == 8 * BLOCK
    data = bytes(16 * BLOCK)
    assert sbc_set.WRITE_10(task, buffer, 16 * BLOCK, 0, 1, 0, 0, 0xFFFF_FFFF, 16, 0)
    assert cdb(task) == bytes(Write10(sbc.WRITE_10, BLOCK, 0xFFFF_FFFF, 16, data, fua=1).cdb)
    assert task.GetDataTransferDirection() == kSCSIDataTransfer_FromInitiatorToTarget
    lba = (1 << 40) + 7
    assert sbc_set.READ_16(task, buffer, 2 * BLOCK, 0, 0, 0, 0, lba, 2, 0, 0)
    assert cdb(task) == bytes(Read16(sbc.READ_16, BLOCK, lba, 2).cdb)
    assert sbc_set.WRITE_16(task, buffer, 3 * BLOCK, 0, 0, 1, 0, lba, 3, 0, 0)
    assert cdb(task) == bytes(Write16(sbc.WRITE_16, BLOCK, lba, 3, bytes(3 * BLOCK), fua=1).cdb)
    assert sbc_set.READ_CAPACITY(task, buffer, 0, 0, 0, 0)
    assert cdb(task) == bytes(ReadCapacity10(sbc.READ_CAPACITY_10).cdb)
    assert sbc_set.READ_CAPACITY_16(task, buffer, 0, 32, 0, 0)
    assert cdb(task) == bytes(ReadCapacity16(next(get_opcode(sbc, "9E")), alloclen=32).cdb)
    sbc_set.release()


def test_mmc_commands_are_encoded_as_mmc_6_lays_them_out(
    task: SCSITask, buffer: IOBufferMemoryDescriptor
) -> None:
    """GET CONFIGURATION (RT, starting feature, allocation length) and READ
    TOC/PMA/ATIP with the format in byte 2, and for formats 0-2 also in the old
    SFF-8020i place (bits 7-6 of byte 9)."""
    mmc_set = SCSIMultimediaCommands()
    assert mmc_set.GET_CONFIGURATION(task, buffer, 2, 0x0000, 0x0104, 0)
    assert cdb(task) == bytes([0x46, 0x02, 0x00, 0x00, 0, 0, 0, 0x01, 0x04, 0])
    assert mmc_set.READ_TOC_PMA_ATIP(task, buffer, 1, 2, 0, 0xFFFE, 0)
    assert cdb(task) == bytes([0x43, 0x02, 0x02, 0, 0, 0, 0, 0xFF, 0xFE, 0x80])
    assert mmc_set.READ_TOC_PMA_ATIP(task, buffer, 0, 0, 1, 4, 0)
    assert cdb(task) == bytes([0x43, 0x00, 0x00, 0, 0, 0, 1, 0x00, 0x04, 0x00])
    assert mmc_set.READ_TOC_PMA_ATIP(task, buffer, 0, 4, 0, 12, 0)  # ATIP: new style only
    assert cdb(task) == bytes([0x43, 0x00, 0x04, 0, 0, 0, 0, 0x00, 0x0C, 0x00])
    assert mmc_set.READ_DISC_INFORMATION(task, buffer, 34, 0)
    assert cdb(task) == bytes([0x51, 0, 0, 0, 0, 0, 0, 0x00, 0x22, 0])
    mmc_set.release()


def test_a_field_out_of_range_is_refused_and_the_cdb_left_alone(
    task: SCSITask, buffer: IOBufferMemoryDescriptor
) -> None:
    """A 17-bit count for READ(10), a buffer smaller than the transfer, a page code
    with neither EVPD nor CMDDT: the builder answers False and changes nothing."""
    sbc_set = SCSIBlockCommands()
    assert sbc_set.TEST_UNIT_READY(task, 0)
    before = cdb(task)
    assert not sbc_set.READ_10(task, buffer, 0x10000 * BLOCK, 0, 0, 0, 0, 0x10000, 0)
    assert not sbc_set.READ_10(task, buffer, (2 << 20), 0, 0, 0, 0, 4096, 0)
    assert not sbc_set.READ_10(task, None, BLOCK, 0, 0, 0, 0, 1, 0)
    assert not sbc_set.INQUIRY(task, buffer, 0, 0, 0x80, 36, 0)
    assert not sbc_set.START_STOP_UNIT(task, 0, 16, 0, 1, 0)
    assert cdb(task) == before
    sbc_set.release()


def test_the_other_commands_are_encoded_as_spc_4_and_sbc_3_lay_them_out(
    task: SCSITask, buffer: IOBufferMemoryDescriptor
) -> None:
    """REQUEST SENSE, MODE SELECT (6)/(10) with PF, START STOP UNIT (LoEj, Start,
    power conditions), SYNCHRONIZE CACHE (10) and (16), byte for byte."""
    sbc_set = SCSIBlockCommands()
    assert sbc_set.REQUEST_SENSE(task, buffer, 18, 0)
    assert cdb(task) == bytes([0x03, 0, 0, 0, 18, 0])
    assert sbc_set.MODE_SELECT_6(task, buffer, 1, 0, 24, 0)
    assert cdb(task) == bytes([0x15, 0x10, 0, 0, 24, 0])
    assert task.GetDataTransferDirection() == kSCSIDataTransfer_FromInitiatorToTarget
    assert sbc_set.MODE_SELECT_10(task, buffer, 1, 0, 300, 0)
    assert cdb(task) == bytes([0x55, 0x10, 0, 0, 0, 0, 0, 0x01, 0x2C, 0])
    assert sbc_set.START_STOP_UNIT(task, 1, 0, 1, 0, 0)
    assert cdb(task) == bytes([0x1B, 0x01, 0, 0, 0x02, 0])
    assert sbc_set.START_STOP_UNIT(task, 0, 3, 0, 1, 0)
    assert cdb(task) == bytes([0x1B, 0x00, 0, 0, 0x31, 0])
    assert sbc_set.SYNCHRONIZE_CACHE(task, 0, 0, 0x01020304, 0x0506, 0)
    assert cdb(task) == bytes([0x35, 0, 1, 2, 3, 4, 0, 5, 6, 0])
    assert sbc_set.SYNCRONIZE_CACHE_16(task, 0, 1, 1 << 33, 7, 0, 0)
    assert cdb(task) == bytes([0x91, 0x02, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0])
    assert task.GetDataTransferDirection() == kSCSIDataTransfer_NoDataTransfer
    sbc_set.release()


def test_a_packed_read_or_write_cdb_fills_the_whole_16_byte_block(
    task: SCSITask, buffer: IOBufferMemoryDescriptor
) -> None:
    """READ(10) and WRITE(10) pack their CDB whole: after a 16-byte command, the
    block's unused six bytes are zero again, as ``SetCommandDescriptorBlock`` leaves
    them, and the size says 10."""
    sbc_set = SCSIBlockCommands()
    assert sbc_set.READ_16(task, buffer, BLOCK, 0, 0, 0, 0, (1 << 40) + 7, 1, 0, 0)
    assert sbc_set.READ_10(task, buffer, 8 * BLOCK, 0, 0, 0, 0x12345678, 8, 0)
    assert task.GetCommandDescriptorBlockSize() == 10
    assert task.GetCommandDescriptorBlock() == bytes(
        Read10(sbc.READ_10, BLOCK, 0x12345678, 8).cdb
    ) + bytes(6)
    assert sbc_set.WRITE_16(task, buffer, BLOCK, 0, 0, 0, 0, 9, 1, 0, 0)
    assert sbc_set.WRITE_10(task, buffer, BLOCK, 0, 0, 0, 0, 9, 1, 0)
    assert task.GetCommandDescriptorBlock() == (
        bytes(Write10(sbc.WRITE_10, BLOCK, 9, 1, bytes(BLOCK)).cdb) + bytes(6)
    )
    sbc_set.release()
