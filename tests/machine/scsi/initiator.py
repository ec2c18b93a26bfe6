"""A minimal in-process initiator for logical units, and a python-scsi backend over it.

``issue`` runs one CDB on a unit the way an HBA would hand it over (a
``SCSIRequest`` with a buffer in the right direction) and returns the finished
request; ``data_of`` and ``sense_of`` read its outcome.  ``pyscsi_device`` wraps a
unit in ``kextlab.testing.pyscsi_backend``'s python-scsi device (spec §5.2), so that
an independent client builds the CDBs and decodes the answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from kextlab.machine.scsi import Direction, LogicalUnit, MemoryBuffer, SCSIRequest, SCSITarget
from kextlab.machine.scsi.constants import Opcode, Status
from kextlab.machine.scsi.sense import DecodedSense, SenseCode, decode
from kextlab.testing.pyscsi_backend import EmulatedTargetDevice


def issue(
    unit: LogicalUnit,
    cdb: bytes | Sequence[int],
    *,
    data_in: int = 0,
    data_out: bytes = b"",
) -> SCSIRequest:
    """Run ``cdb`` on ``unit``: ``data_in`` bytes of buffer for a read, or ``data_out``."""
    if data_out:
        request = SCSIRequest(0, bytes(cdb), Direction.OUT, MemoryBuffer(data_out))
    elif data_in:
        request = SCSIRequest(0, bytes(cdb), Direction.IN, MemoryBuffer(data_in))
    else:
        request = SCSIRequest(0, bytes(cdb))
    unit.execute(request)
    return request


def data_of(request: SCSIRequest) -> bytes:
    """The bytes the target moved into the initiator's buffer."""
    assert isinstance(request.buffer, MemoryBuffer)
    return bytes(request.buffer.data[: request.transferred])


def sense_of(request: SCSIRequest) -> DecodedSense:
    """The decoded sense of a command that ended in CHECK CONDITION."""
    assert request.status is Status.CHECK_CONDITION, f"status {request.status!r}, not CHECK"
    return decode(request.sense)


def assert_sense(request: SCSIRequest, code: SenseCode) -> DecodedSense:
    """The command ended in CHECK CONDITION with ``code``; its decoded sense."""
    decoded = sense_of(request)
    assert decoded.code == (code.key, code.asc, code.ascq), f"{decoded} is not {code}"
    return decoded


def assert_good(request: SCSIRequest) -> None:
    detail = decode(request.sense) if request.sense else ""
    assert request.ok, f"{request.status!r} {request.host_status!r} {detail}"


def clear_power_on(unit: LogicalUnit) -> None:
    """Consume the POWER ON OCCURRED unit attention every new unit starts with."""
    issue(unit, [Opcode.REQUEST_SENSE, 0, 0, 0, 252, 0], data_in=252)
    assert not unit.pending_unit_attentions()


def make_iso(path: Path, sectors: int = 64, volume_id: str = "KEXTLAB") -> Path:
    """A small ISO 9660 image: a primary volume descriptor at sector 16 and the set
    terminator at 17 (ECMA-119 §8.4, §8.3); every other sector holds its own LBA as
    big-endian words, so a test can tell which sector it read."""
    assert sectors > 17
    image = bytearray()
    for lba in range(sectors):
        image += lba.to_bytes(4, "big") * 512
    descriptor = bytearray(2048)
    descriptor[0] = 1  # primary volume descriptor
    descriptor[1:6] = b"CD001"
    descriptor[6] = 1
    descriptor[40:72] = volume_id.encode("ascii").ljust(32)
    descriptor[80:84] = sectors.to_bytes(4, "little")  # volume space size, both-endian
    descriptor[84:88] = sectors.to_bytes(4, "big")
    descriptor[128:130] = (2048).to_bytes(2, "little")  # logical block size, both-endian
    descriptor[130:132] = (2048).to_bytes(2, "big")
    descriptor[881] = 1  # file structure version
    terminator = bytearray(2048)
    terminator[0] = 255
    terminator[1:7] = b"CD001\x01"
    image[16 * 2048 : 17 * 2048] = descriptor
    image[17 * 2048 : 18 * 2048] = terminator
    path.write_bytes(bytes(image))
    return path


def pyscsi_device(unit: LogicalUnit) -> EmulatedTargetDevice:
    """python-scsi's device for ``unit``, as LUN 0 of a target of its own."""
    return EmulatedTargetDevice(SCSITarget(unit.name, {0: unit}))
