"""The disk: a SCSI direct-access block device (SBC-3) over a raw image file.

Owns ``DiskUnit``, a logical unit of peripheral type 0 whose medium is a
``DiskImage`` (``kextlab.machine.scsi.image``: the file and the drive's write-back
cache).  It mirrors QEMU's ``scsi-disk`` (``hw/scsi/scsi-disk.c``;
``shared/spec/scsi.md`` §4.1-§4.4): the same command set with the same sense codes,
answered as SBC-3 (T10/1799-D) and SPC-4 specify, written from those documents.
Its clients are Linux's ``sd`` and Apple's ``IOSCSIBlockCommandsDevice``.

Commands:

* TEST UNIT READY, INQUIRY, REQUEST SENSE, RESERVE/RELEASE (``target.LogicalUnit``),
  REPORT LUNS (``target.SCSITarget``);
* INQUIRY data: vendor KEXTLAB, the SBC-3 version descriptor (0x04C0), VPD pages
  0x00, 0x80, 0x83, 0xB0 Block Limits, 0xB1 Block Device Characteristics, and 0xB2
  Logical Block Provisioning on a thin disk;
* READ CAPACITY(10) (the last LBA clipped to 0xFFFFFFFF, which sends clients on to
  (16)) and READ CAPACITY(16), SERVICE ACTION IN(16) 0x10, with LBPME and LBPRZ on a
  thin disk;
* READ(6/10/12/16), WRITE(6/10/12/16) with FUA; DPO is accepted and ignored (there
  is no read cache to keep data out of);
* WRITE AND VERIFY(10/12/16): a write through to the medium (what it writes is what
  it would compare);
* VERIFY(10/12/16): BYTCHK 0 checks the range, 1 compares the data-out with the
  medium, 3 (SBC-4) compares one block with every block of the range; a difference
  is MISCOMPARE DURING VERIFY OPERATION (0E/1D/00) with the offset of the first
  differing byte in INFORMATION;
* SYNCHRONIZE CACHE(10/16): writes back the cached blocks of the range (all blocks
  from the LBA on when the count is 0);
* MODE SENSE(6/10) and MODE SELECT(6/10) (SPC-4; the framing is
  ``kextlab.machine.scsi.mode``) with one short block descriptor and the pages
  Read-Write Error Recovery 0x01, Rigid Disk Geometry 0x04 (a fictitious 16 heads
  and 63 sectors a track), Caching 0x08 (WCE changeable: it turns the image's
  write-back cache on and off) and Control 0x0A (D_SENSE changeable:
  descriptor-format sense); the device-specific parameter carries WP and DPOFUA;
* START STOP UNIT: a stopped unit answers medium access with NOT READY,
  INITIALIZING COMMAND REQUIRED (02/04/02) until started; stopping writes the cache
  back unless NO_FLUSH; PREVENT ALLOW MEDIUM REMOVAL (SPC-4) is remembered;
* FORMAT UNIT: accepted without changing the medium, as QEMU; SEEK(10): the LBA is
  range-checked;
* thin provisioning: UNMAP, and WRITE SAME(10/16) with the UNMAP bit, deallocate
  blocks, which read as zeros afterwards (LBPRZ).  WRITE SAME without UNMAP works on
  every disk.

Checks, in the order they are made: operation code and CDB length (the base class),
unit attention, NOT READY for medium access, then CDB fields (RDPROTECT / WRPROTECT /
VRPROTECT not zero, unsupported bits, a count above the Block Limits maxima: INVALID
FIELD IN CDB, 05/24/00), then WRITE PROTECTED (07/27/00) for commands that would
change the medium, then the range (LOGICAL BLOCK ADDRESS OUT OF RANGE, 05/21/00),
then parameter data (PARAMETER LIST LENGTH ERROR 05/1A/00, INVALID FIELD IN
PARAMETER LIST 05/26/00).  An allocation length above 65,536 in a 32-bit field is
INVALID FIELD, as QEMU.  A data transfer the initiator's buffer cannot hold, or in
the wrong direction, is a transport error (``HostStatus.TRANSPORT_ERROR``).  A host
I/O error becomes sense data as QEMU's ``scsi_sense_from_errno`` maps it.

Unit attentions: POWER ON OCCURRED at creation and after ``power_loss``, CAPACITY
DATA HAS CHANGED when the image grows.  MODE SELECT does not raise MODE PARAMETERS
CHANGED: SPC-4 establishes it for the *other* I_T nexuses, and kextlab models one
initiator.

Threading rules: ``execute`` runs in a scheduler event; it does host file I/O, which
blocks the host briefly and the virtual machine not at all.
"""

from __future__ import annotations

import errno
import logging
import os
from typing import Self

from kextlab.machine.scsi import mode, sbc, sense
from kextlab.machine.scsi.constants import (
    SERVICE_ACTION_READ_CAPACITY_16,
    Opcode,
    PeripheralType,
    Status,
)
from kextlab.machine.scsi.image import DiskImage, slice_views
from kextlab.machine.scsi.request import Direction, HostStatus, SCSIRequest
from kextlab.machine.scsi.target import LogicalUnit, allocation_length, command

LOGGER = logging.getLogger("kextlab.machine.scsi.disk")

#: The transfer directions of READ and WRITE as module constants (an enum member read
#: through its class costs a Python-level lookup on every command).
_IN = Direction.IN
_OUT = Direction.OUT

#: VERIFY reads and compares the medium in pieces of this many bytes.
VERIFY_CHUNK = 1 << 20

#: errno -> what the initiator sees, after QEMU's ``scsi_sense_from_errno``
#: (``shared/spec/scsi.md`` §4.4), plus EROFS (the host file became read-only) and
#: EDQUOT (like ENOSPC).  Anything else is I/O PROCESS TERMINATED (0B/00/06).
_ERRNO_SENSE: dict[int, sense.SenseCode] = {
    code: sense_code
    for name, sense_code in (
        ("ENODATA", sense.READ_ERROR),
        ("EREMOTEIO", sense.TARGET_FAILURE),
        ("ENOMEDIUM", sense.NO_MEDIUM),
        ("ENOMEM", sense.TARGET_FAILURE),
        ("EINVAL", sense.INVALID_FIELD),
        ("ENOSPC", sense.SPACE_ALLOC_FAILED),
        ("EDQUOT", sense.SPACE_ALLOC_FAILED),
        ("EROFS", sense.WRITE_PROTECTED),
    )
    if (code := getattr(errno, name, None)) is not None
}
_ERRNO_STATUS: dict[int, Status] = {
    code: status
    for name, status in (("EDOM", Status.TASK_SET_FULL), ("EBADE", Status.RESERVATION_CONFLICT))
    if (code := getattr(errno, name, None)) is not None
}


class DiskUnit(LogicalUnit):
    """A disk: ``image`` is its medium, ``thin`` enables logical block provisioning.

    ``write_protect`` makes the unit write-protected (a read-only image always is);
    the Block Limits maxima bound what one command may ask for.
    """

    peripheral_type = PeripheralType.DISK
    version_descriptors = (sbc.SAM_5, sbc.SPC_4, sbc.SBC_3)

    def __init__(
        self,
        name: str,
        image: DiskImage,
        *,
        thin: bool = False,
        write_protect: bool = False,
        vendor: str = "KEXTLAB",
        product: str = "KEXTLAB DISK",
        revision: str = "0001",
        serial: str | None = None,
        wwn: int | None = None,
        rotation_rate: int = sbc.NON_ROTATING_MEDIUM,
        max_transfer_blocks: int = 0xFFFF,
        optimal_transfer_blocks: int = 0,
        max_write_same_blocks: int = 0xFFFF,
        max_unmap_blocks: int = 0xFFFF_FFFF,
        max_unmap_descriptors: int = 255,
    ) -> None:
        super().__init__(
            name, vendor=vendor, product=product, revision=revision, serial=serial, wwn=wwn
        )
        self.image = image
        self.thin = thin
        self.write_protect = write_protect
        self.rotation_rate = rotation_rate
        self.max_transfer_blocks = max_transfer_blocks
        self.optimal_transfer_blocks = optimal_transfer_blocks
        self.max_write_same_blocks = max_write_same_blocks
        self.max_unmap_blocks = max_unmap_blocks
        self.max_unmap_descriptors = max_unmap_descriptors
        #: START STOP UNIT state: a stopped unit refuses medium access.
        self.started = True
        #: PREVENT ALLOW MEDIUM REMOVAL state (kept, though a fixed disk has no medium
        #: to remove).
        self.prevent_removal = False
        self._default_write_cache = image.write_cache_enabled
        image.on_resize.append(self._capacity_changed)

    @classmethod
    def open(
        cls,
        name: str,
        path: str | os.PathLike[str],
        *,
        size: int | None = None,
        block_size: int = 512,
        read_only: bool = False,
        write_cache: bool = True,
        thin: bool = False,
        write_protect: bool = False,
        product: str = "KEXTLAB DISK",
        serial: str | None = None,
        wwn: int | None = None,
    ) -> Self:
        """A disk on the image at ``path``, created with ``size`` bytes if missing."""
        image = DiskImage(
            path, block_size=block_size, size=size, read_only=read_only, write_cache=write_cache
        )
        return cls(
            name,
            image,
            thin=thin,
            write_protect=write_protect,
            product=product,
            serial=serial,
            wwn=wwn,
        )

    def close(self) -> None:
        """Write the cache back and close the image (the unit is being destroyed)."""
        self.image.close()

    # -- state -------------------------------------------------------------------------------

    @property
    def block_size(self) -> int:
        return self.image.block_size

    @property
    def blocks(self) -> int:
        return self.image.blocks

    @property
    def write_protected(self) -> bool:
        return self.write_protect or self.image.read_only

    def not_ready(self) -> sense.SenseCode | None:
        return None if self.started else sense.NOT_READY_INITIALIZING_REQUIRED

    def power_loss(self) -> None:
        """The drive lost power and came back: unflushed writes are gone, mode
        parameters are back at their defaults, and only POWER ON OCCURRED is pending."""
        self.image.power_loss()
        self._restore_defaults()
        self.started = True
        while self.take_unit_attention() is not None:
            pass
        self.add_unit_attention(sense.POWER_ON_OCCURRED)

    def reset(self, code: sense.SenseCode = sense.POWER_ON_RESET) -> None:
        """A logical unit reset (SAM-5): mode parameters return to their defaults
        and the prevent state clears; the cache keeps its data (no power was lost)."""
        self._restore_defaults()
        super().reset(code)

    def _restore_defaults(self) -> None:
        self.descriptor_sense = False
        self.prevent_removal = False
        try:
            self.image.set_write_cache(self._default_write_cache)
        except OSError as error:  # turning the cache off wrote it back, and failed
            LOGGER.warning("%s: writing the cache back at reset failed: %s", self.name, error)

    def _capacity_changed(self, blocks: int) -> None:
        self.add_unit_attention(sense.CAPACITY_CHANGED)

    # -- INQUIRY -----------------------------------------------------------------------------

    def supported_vpd_pages(self) -> list[int]:
        pages = [
            *super().supported_vpd_pages(),
            sbc.VPD_BLOCK_LIMITS,
            sbc.VPD_BLOCK_DEVICE_CHARACTERISTICS,
        ]
        if self.thin:
            pages.append(sbc.VPD_LOGICAL_BLOCK_PROVISIONING)
        return pages

    def vpd_page(self, page: int) -> bytes | None:
        if page == sbc.VPD_BLOCK_LIMITS:
            return self._block_limits()
        if page == sbc.VPD_BLOCK_DEVICE_CHARACTERISTICS:
            return sbc.BLOCK_DEVICE_CHARACTERISTICS.pack(self.rotation_rate, 0, 0, 0)
        if page == sbc.VPD_LOGICAL_BLOCK_PROVISIONING and self.thin:
            flags = sbc.LBPU | sbc.LBPWS | sbc.LBPWS10 | sbc.VPD_LBPRZ
            return sbc.LOGICAL_BLOCK_PROVISIONING.pack(0, flags, sbc.PROVISIONING_THIN)
        return super().vpd_page(page)

    def _block_limits(self) -> bytes:
        return sbc.BLOCK_LIMITS.pack(
            sbc.WSNZ,
            0,  # no COMPARE AND WRITE
            1,  # optimal transfer length granularity: any block
            self.max_transfer_blocks,
            self.optimal_transfer_blocks,
            0,  # no PRE-FETCH
            self.max_unmap_blocks if self.thin else 0,
            self.max_unmap_descriptors if self.thin else 0,
            1 if self.thin else 0,  # optimal unmap granularity: any block
            0,  # UGAVALID 0: no unmap granularity alignment
            self.max_write_same_blocks,
        )

    # -- READ CAPACITY -------------------------------------------------------------------------

    @command(Opcode.READ_CAPACITY_10)
    def read_capacity_10(self, request: SCSIRequest) -> None:
        cdb = request.cdb
        if not cdb[8] & 0x01 and int.from_bytes(cdb[2:6], "big"):  # an LBA without PMI
            self.fail(request, sense.INVALID_FIELD)
            return
        request.send(sbc.READ_CAPACITY_10.pack(min(self.blocks - 1, 0xFFFF_FFFF), self.block_size))

    @command(Opcode.SERVICE_ACTION_IN_16)
    def service_action_in_16(self, request: SCSIRequest) -> None:
        """Only READ CAPACITY(16) (service action 0x10), as QEMU."""
        cdb = request.cdb
        allocation = allocation_length(cdb, 10, 4)
        if (
            cdb[1] & 0x1F != SERVICE_ACTION_READ_CAPACITY_16
            or allocation > sbc.MAXIMUM_ALLOCATION_LENGTH
            or (not cdb[14] & 0x01 and int.from_bytes(cdb[2:10], "big"))  # LBA without PMI
        ):
            self.fail(request, sense.INVALID_FIELD)
            return
        provisioning = sbc.LBPME | sbc.LBPRZ if self.thin else 0
        data = sbc.READ_CAPACITY_16.pack(self.blocks - 1, self.block_size, 0, 0, provisioning)
        request.send(data, allocation)

    # -- reading and writing -------------------------------------------------------------------

    @command(Opcode.READ_6, Opcode.READ_10, Opcode.READ_12, Opcode.READ_16, medium_access=True)
    def read(self, request: SCSIRequest) -> None:
        flags, lba, count = sbc.decode_transfer(request.cdb)
        if not self._check_transfer(request, flags, lba, count, writes=False):
            return
        length = count * self.image.block_size
        views = self._views(request, _IN, length)
        if views is None:
            return
        try:
            self.image.read(lba, count, views, force_unit_access=bool(flags & sbc.FUA))
        except OSError as error:
            self._fail_io(request, error, lba)
            return
        request.transferred = length

    @command(Opcode.WRITE_6, Opcode.WRITE_10, Opcode.WRITE_12, Opcode.WRITE_16, medium_access=True)
    def write(self, request: SCSIRequest) -> None:
        flags, lba, count = sbc.decode_transfer(request.cdb)
        if self._check_transfer(request, flags, lba, count, writes=True):
            self._write(request, lba, count, force_unit_access=bool(flags & sbc.FUA))

    @command(
        Opcode.WRITE_AND_VERIFY_10,
        Opcode.WRITE_AND_VERIFY_12,
        Opcode.WRITE_AND_VERIFY_16,
        medium_access=True,
    )
    def write_and_verify(self, request: SCSIRequest) -> None:
        """Written through to the medium; the verification cannot fail, as the data
        compared is the data just written."""
        flags, lba, count = sbc.decode_transfer(request.cdb)
        if (flags & sbc.BYTCHK) >> 1 > 1:  # BYTCHK 10b and 11b are reserved here
            self.fail(request, sense.INVALID_FIELD)
            return
        if self._check_transfer(request, flags, lba, count, writes=True):
            self._write(request, lba, count, force_unit_access=True)

    def _write(
        self, request: SCSIRequest, lba: int, count: int, *, force_unit_access: bool
    ) -> None:
        length = count * self.image.block_size
        views = self._views(request, _OUT, length)
        if views is None:
            return
        try:
            self.image.write(lba, count, views, force_unit_access=force_unit_access)
        except OSError as error:
            self._fail_io(request, error, lba)
            return
        request.transferred = length

    @command(Opcode.VERIFY_10, Opcode.VERIFY_12, Opcode.VERIFY_16, medium_access=True)
    def verify(self, request: SCSIRequest) -> None:
        flags, lba, count = sbc.decode_transfer(request.cdb)
        byte_check = (flags & sbc.BYTCHK) >> 1
        if (
            flags & sbc.PROTECT
            or byte_check == 2
            or (byte_check and count > self.max_transfer_blocks)
        ):
            self.fail(request, sense.INVALID_FIELD)
            return
        if not self._check_range(request, lba, count) or not byte_check or not count:
            return
        size = self.block_size
        expected = self._views(request, Direction.OUT, count * size if byte_check == 1 else size)
        if expected is None:
            return
        request.transferred = sum(view.nbytes for view in expected)
        pattern = memoryview(b"".join(expected)) if byte_check == 3 else None
        # The medium is read and compared a megabyte at a time: with 64 KiB blocks and
        # BYTCHK 3, one block of data-out may stand for gigabytes of medium.
        per_chunk = max(1, VERIFY_CHUNK // size)
        medium = memoryview(bytearray(min(count, per_chunk) * size))
        for done in range(0, count, per_chunk):
            blocks = min(per_chunk, count - done)
            piece = medium[: blocks * size]
            try:
                self.image.read(lba + done, blocks, [piece])
            except OSError as error:
                self._fail_io(request, error, lba + done)
                return
            if pattern is None:
                wanted = slice_views(expected, done * size, blocks * size)
            else:
                wanted = [pattern] * blocks
            mismatch = _first_difference(piece, wanted)
            if mismatch is not None:
                self.fail(
                    request, sense.MISCOMPARE_DURING_VERIFY, information=done * size + mismatch
                )
                return

    def _check_transfer(
        self, request: SCSIRequest, flags: int, lba: int, count: int, *, writes: bool
    ) -> bool:
        """The checks every READ/WRITE makes before moving data: True when the command
        goes on to move data, False when it failed (or has no blocks to move)."""
        if flags & sbc.PROTECT or count > self.max_transfer_blocks:
            self.fail(request, sense.INVALID_FIELD)
            return False
        if writes and self.write_protected:
            self.fail(request, sense.WRITE_PROTECTED)
            return False
        if lba + count > self.image.blocks:  # self._check_range, inlined
            self.fail(request, sense.LBA_OUT_OF_RANGE)
            return False
        return count > 0

    def _check_range(self, request: SCSIRequest, lba: int, count: int) -> bool:
        if lba + count > self.image.blocks:  # self.blocks, one property call fewer
            self.fail(request, sense.LBA_OUT_OF_RANGE)
            return False
        return True

    def _views(
        self, request: SCSIRequest, direction: Direction, length: int
    ) -> list[memoryview] | None:
        """The initiator's memory for a ``length``-byte transfer in ``direction``; None
        (a transport error) when its buffer is missing, too short or the wrong way."""
        buffer = request.buffer
        if request.direction is not direction or buffer is None:
            request.host_status = HostStatus.TRANSPORT_ERROR
            return None
        views = buffer.views(0, length)  # request.data_views(0, length), inlined
        if views is None:
            request.host_status = HostStatus.TRANSPORT_ERROR
        return views

    def _receive(self, request: SCSIRequest, length: int) -> bytes | None:
        """A parameter list of ``length`` bytes (fewer if the initiator sent fewer)."""
        if request.direction is not Direction.OUT or request.buffer is None:
            request.host_status = HostStatus.TRANSPORT_ERROR
            return None
        return request.receive(length)

    def _fail_io(self, request: SCSIRequest, error: OSError, lba: int) -> None:
        """A host I/O error, as the initiator sees it."""
        LOGGER.warning("%s: host I/O error at LBA %d: %s", self.name, lba, error)
        code = error.errno if error.errno is not None else errno.EIO
        status = _ERRNO_STATUS.get(code)
        if status is not None:
            request.status = status
            return
        sense_code = _ERRNO_SENSE.get(code, sense.IO_ERROR)
        information = lba if sense_code is sense.READ_ERROR else None
        self.fail(request, sense_code, information=information)

    # -- the cache -----------------------------------------------------------------------------

    @command(Opcode.SYNCHRONIZE_CACHE_10, Opcode.SYNCHRONIZE_CACHE_16, medium_access=True)
    def synchronize_cache(self, request: SCSIRequest) -> None:
        _, lba, count = sbc.decode_transfer(request.cdb)
        count = count or max(self.blocks - lba, 0)  # 0: every block from the LBA on
        if not self._check_range(request, lba, count):
            return
        try:
            self.image.flush(lba, count)
        except OSError as error:
            self._fail_io(request, error, lba)

    # -- mode parameters -----------------------------------------------------------------------

    @command(Opcode.MODE_SENSE_6, Opcode.MODE_SENSE_10)
    def mode_sense(self, request: SCSIRequest) -> None:
        outcome = mode.requested_pages(request.cdb, self.mode_pages)
        if isinstance(outcome, sense.SenseCode):
            self.fail(request, outcome)
            return
        parsed, pages = outcome
        descriptor = b""
        if not parsed.disable_block_descriptors:
            descriptor = self._block_descriptor(parsed.page_control)
        data = mode.parameter_list(
            parsed.ten,
            device_specific=(sbc.WRITE_PROTECT if self.write_protected else 0) | sbc.DPOFUA,
            block_descriptors=descriptor,
            pages=pages,
        )
        request.send(data, parsed.allocation_length)

    def mode_pages(self, page_control: mode.PageControl) -> dict[int, bytes]:
        """Every mode page, in SPC page_0 format, as ``page_control`` asks for it."""
        cylinders = -(-self.blocks // (sbc.GEOMETRY_HEADS * sbc.GEOMETRY_SECTORS_PER_TRACK))
        geometry = bytearray(22)
        geometry[0:3] = min(cylinders, 0xFF_FFFF).to_bytes(3, "big")
        geometry[3] = sbc.GEOMETRY_HEADS
        geometry[18:20] = self.rotation_rate.to_bytes(2, "big")
        default = {
            sbc.PAGE_READ_WRITE_ERROR_RECOVERY: bytes([sbc.AUTOMATIC_REALLOCATION]) + bytes(9),
            sbc.PAGE_RIGID_DISK_GEOMETRY: bytes(geometry),
            sbc.PAGE_CACHING: bytes([sbc.WCE if self._default_write_cache else 0]) + bytes(17),
            sbc.PAGE_CONTROL: bytes([sbc.GLTSD, sbc.QUEUE_ALGORITHM_UNRESTRICTED]) + bytes(8),
        }
        if page_control is mode.PageControl.CHANGEABLE:
            bodies = {code: bytes(len(body)) for code, body in default.items()}
            bodies[sbc.PAGE_CACHING] = bytes([sbc.WCE]) + bytes(17)
            bodies[sbc.PAGE_CONTROL] = bytes([sbc.D_SENSE]) + bytes(9)
        elif page_control is mode.PageControl.CURRENT:
            bodies = dict(default)
            wce = sbc.WCE if self.image.write_cache_enabled else 0
            bodies[sbc.PAGE_CACHING] = bytes([wce]) + default[sbc.PAGE_CACHING][1:]
            d_sense = sbc.D_SENSE if self.descriptor_sense else 0
            bodies[sbc.PAGE_CONTROL] = bytes([sbc.GLTSD | d_sense]) + default[sbc.PAGE_CONTROL][1:]
        else:
            bodies = default
        return {code: bytes([code, len(body)]) + body for code, body in bodies.items()}

    def _block_descriptor(self, page_control: mode.PageControl) -> bytes:
        if page_control is mode.PageControl.CHANGEABLE:  # neither field can be changed
            return bytes(sbc.BLOCK_DESCRIPTOR.size)
        return sbc.BLOCK_DESCRIPTOR.pack(
            min(self.blocks, 0xFFFF_FFFF), 0, self.block_size.to_bytes(3, "big")
        )

    @command(Opcode.MODE_SELECT_6, Opcode.MODE_SELECT_10)
    def mode_select(self, request: SCSIRequest) -> None:
        """Changes WCE and D_SENSE; any other bit must be sent back as it is."""
        parsed = mode.parse_mode_select_cdb(request.cdb)
        if isinstance(parsed, sense.SenseCode):
            self.fail(request, parsed)
            return
        length, page_format = parsed
        if not length:
            return
        if not page_format:  # vendor-specific page formats: this unit has none
            self.fail(request, sense.INVALID_FIELD)
            return
        data = self._receive(request, length)
        if data is None:
            return
        if len(data) < length:
            self.fail(request, sense.INVALID_PARAM_LEN)
            return
        parameters = mode.parse_mode_select(request.opcode == Opcode.MODE_SELECT_10, data)
        if isinstance(parameters, sense.SenseCode):
            self.fail(request, parameters)
            return
        if len(parameters.block_descriptors) > 1 or any(
            block_length != self.block_size for _, _, block_length in parameters.block_descriptors
        ):
            self.fail(request, sense.INVALID_PARAM)
            return
        current = self.mode_pages(mode.PageControl.CURRENT)
        changeable = self.mode_pages(mode.PageControl.CHANGEABLE)
        for code, page in parameters.pages:
            if code not in current or len(page) != len(current[code]):
                self.fail(request, sense.INVALID_PARAM)
                return
            if any(
                (new ^ old) & ~mask
                for new, old, mask in zip(page, current[code], changeable[code], strict=True)
            ):
                self.fail(request, sense.INVALID_PARAM)
                return
        for code, page in parameters.pages:
            if code == sbc.PAGE_CONTROL:
                self.descriptor_sense = bool(page[2] & sbc.D_SENSE)
            elif code == sbc.PAGE_CACHING:
                try:
                    self.image.set_write_cache(bool(page[2] & sbc.WCE))
                except OSError as error:
                    self._fail_io(request, error, 0)
                    return

    # -- power, removal, format ----------------------------------------------------------------

    @command(Opcode.START_STOP_UNIT)
    def start_stop_unit(self, request: SCSIRequest) -> None:
        """START or stop; non-zero power conditions are accepted and change nothing."""
        control = request.cdb[4]
        power_condition = control >> 4
        if power_condition not in sbc.POWER_CONDITIONS:
            self.fail(request, sense.INVALID_FIELD)
            return
        if power_condition:  # SBC-3: START and LOEJ are then ignored
            return
        if control & sbc.START:
            self.started = True
            return
        if not control & sbc.NO_FLUSH:
            try:
                self.image.flush()
            except OSError as error:
                self._fail_io(request, error, 0)
                return
        self.started = False

    @command(Opcode.PREVENT_ALLOW_MEDIUM_REMOVAL)
    def prevent_allow_medium_removal(self, request: SCSIRequest) -> None:
        prevent = request.cdb[4] & 0x03
        if prevent > 1:  # the obsolete persistent prevent values
            self.fail(request, sense.INVALID_FIELD)
            return
        self.prevent_removal = bool(prevent)

    @command(Opcode.FORMAT_UNIT, medium_access=True)
    def format_unit(self, request: SCSIRequest) -> None:
        """Accepted, leaving the data as it is (QEMU does the same)."""
        flags = request.cdb[1]
        if flags & sbc.FORMAT_PROTECTION:
            self.fail(request, sense.INVALID_FIELD)
            return
        if self.write_protected:
            self.fail(request, sense.WRITE_PROTECTED)
            return
        if flags & sbc.FORMAT_DATA:
            header_length = 8 if flags & sbc.FORMAT_LONG_LIST else 4
            header = self._receive(request, header_length)
            if header is None:
                return
            if len(header) < header_length:
                self.fail(request, sense.INVALID_PARAM_LEN)

    @command(Opcode.SEEK_10, medium_access=True)
    def seek_10(self, request: SCSIRequest) -> None:
        if int.from_bytes(request.cdb[2:6], "big") >= self.blocks:
            self.fail(request, sense.LBA_OUT_OF_RANGE)

    # -- thin provisioning -----------------------------------------------------------------------

    @command(Opcode.UNMAP, medium_access=True)
    def unmap(self, request: SCSIRequest) -> None:
        if not self.thin:
            self.fail(request, sense.INVALID_OPCODE)
            return
        cdb = request.cdb
        length = int.from_bytes(cdb[7:9], "big")  # PARAMETER LIST LENGTH
        if cdb[1] & sbc.UNMAP_ANCHOR:
            self.fail(request, sense.INVALID_FIELD)
            return
        if self.write_protected:
            self.fail(request, sense.WRITE_PROTECTED)
            return
        if not length:
            return
        data = self._receive(request, length)
        if data is None:
            return
        if length < sbc.UNMAP_HEADER.size or len(data) < length:
            self.fail(request, sense.INVALID_PARAM_LEN)
            return
        data_length, descriptors_length = sbc.UNMAP_HEADER.unpack_from(data)
        if (
            data_length + 2 > length
            or descriptors_length % sbc.UNMAP_DESCRIPTOR.size
            or sbc.UNMAP_HEADER.size + descriptors_length > length
        ):
            self.fail(request, sense.INVALID_PARAM_LEN)
            return
        ranges = [
            sbc.UNMAP_DESCRIPTOR.unpack_from(data, offset)
            for offset in range(
                sbc.UNMAP_HEADER.size,
                sbc.UNMAP_HEADER.size + descriptors_length,
                sbc.UNMAP_DESCRIPTOR.size,
            )
        ]
        if (
            len(ranges) > self.max_unmap_descriptors
            or sum(count for _, count in ranges) > self.max_unmap_blocks
        ):
            self.fail(request, sense.INVALID_PARAM)
            return
        if not all(self._check_range(request, lba, count) for lba, count in ranges):
            return
        for lba, count in ranges:
            try:
                self.image.unmap(lba, count)
            except OSError as error:
                self._fail_io(request, error, lba)
                return

    @command(Opcode.WRITE_SAME_10, Opcode.WRITE_SAME_16, medium_access=True)
    def write_same(self, request: SCSIRequest) -> None:
        """One block of data-out written to every block of the range, or, with the
        UNMAP bit on a thin disk and a block of zeros, the range deallocated."""
        flags, lba, count = sbc.decode_transfer(request.cdb)
        if (
            flags & (sbc.PROTECT | sbc.WRITE_SAME_UNSUPPORTED)
            or (flags & sbc.WRITE_SAME_UNMAP and not self.thin)
            or not 0 < count <= self.max_write_same_blocks  # WSNZ: 0 blocks is not allowed
        ):
            self.fail(request, sense.INVALID_FIELD)
            return
        if self.write_protected:
            self.fail(request, sense.WRITE_PROTECTED)
            return
        if not self._check_range(request, lba, count):
            return
        views = self._views(request, Direction.OUT, self.block_size)
        if views is None:
            return
        pattern = b"".join(views)
        request.transferred = len(pattern)
        try:
            if flags & sbc.WRITE_SAME_UNMAP and not pattern.strip(b"\0"):
                self.image.unmap(lba, count)
            else:
                self.image.write_same(lba, count, pattern)
        except OSError as error:
            self._fail_io(request, error, lba)


def _first_difference(medium: memoryview, expected: list[memoryview]) -> int | None:
    """The offset of the first byte where ``expected`` (concatenated) and ``medium``
    differ, or None where they are equal."""
    position = 0
    for view in expected:
        size = view.nbytes
        if medium[position : position + size] != view:
            for start in range(0, size, 4096):  # find the 4 KiB piece, then the byte
                piece = view[start : start + 4096]
                if medium[position + start : position + start + piece.nbytes] != piece:
                    for index in range(piece.nbytes):
                        if medium[position + start + index] != piece[index]:
                            return position + start + index
        position += size
    return None
