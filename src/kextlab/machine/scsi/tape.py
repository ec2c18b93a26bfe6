"""A tape drive: SSC-3's sequential-access device over an AWSTAPE file.

Owns ``TapeUnit``, a removable logical unit of peripheral type 1 whose cartridge is
an AWSTAPE file (``kextlab.machine.scsi.awstape``).  QEMU has no tape emulation
(``shared/spec/scsi.md`` §4.5); the command set is the minimal SSC the spec's §7
chooses (decision 4), after scsi_debug's SSC patches (§3.3), answered as SSC-3
(T10/1611-D) specifies its implicit-address commands (clause 6), common commands
(clause 7) and mode parameters (clause 8):

* READ BLOCK LIMITS; READ(6) and WRITE(6), fixed and variable; WRITE FILEMARKS(6);
  SPACE(6) over blocks, filemarks and to EOD; REWIND; LOCATE(10) and (16); READ
  POSITION, short form; LOAD UNLOAD; ERASE(6); PREVENT ALLOW MEDIUM REMOVAL;
* MODE SENSE/SELECT(6)/(10) with the block descriptor (block length 0: variable
  mode) and the device configuration page 0x10, of which nothing is changeable but
  the block length.

The design
----------

The tape is a list of *logical objects*: records and filemarks, numbered from 0 at
the beginning of partition (BOP); the number of objects is the position of
end-of-data (EOD).  The drive's state is one integer, ``position``: the object the
next READ, WRITE or SPACE meets.  So LOCATE and READ POSITION speak the same block
numbers as the AWSTAPE index (filemarks count as blocks: SSC-3's logical object
identifiers), and every command is a walk along that list:

* reading a record moves past it; a record shorter or longer than asked for is an
  incorrect-length condition (ILI, NO SENSE 00/00/00, INFORMATION = requested minus
  actual, in bytes, negative when the record was longer), except that SILI
  suppresses the short case in variable mode; in fixed mode (length in blocks of
  ``block_size``) a record of another length ends the command, INFORMATION = blocks
  not read;
* reading a filemark moves past it and reports NO SENSE, FILEMARK DETECTED
  (00/00/01) with the FILEMARK bit, INFORMATION = the residue; reading at EOD is
  BLANK CHECK, END-OF-DATA DETECTED (08/00/05) and does not move;
* SPACE over blocks stops at a filemark (past it going forward, before it going
  back: "the BOM side"), SPACE over filemarks counts them; both stop at EOD (BLANK
  CHECK) and at BOP (NO SENSE, BEGINNING-OF-PARTITION 00/00/04, EOM bit), with
  INFORMATION = requested count minus the count done, negative in reverse;
* writing (records, filemarks, ERASE) truncates the file at ``position`` first:
  what lay beyond is gone, as on a real tape, and EOD follows what was written.

Early warning (SSC-3's early-warning and end-of-partition rules) follows Hercules'
``MAXSIZE`` and ``EOTMARGIN``: the file may grow to ``capacity`` bytes (None:
without limit); a write whose end lies
past ``capacity - early_warning_margin`` succeeds with CHECK CONDITION, NO SENSE,
EOM bit, END-OF-PARTITION/MEDIUM DETECTED (00/00/02); a block that would not fit
at all is not written: VOLUME OVERFLOW (0D/00/02), EOM bit, INFORMATION = what was
not written (blocks in fixed mode and for filemarks, bytes in variable mode).
READ POSITION reports EOP past the early-warning point.

Medium states: without a cartridge every medium command is NOT READY, MEDIUM NOT
PRESENT (02/3A/00); after LOAD UNLOAD with LOAD=0 it is NOT READY, INITIALIZING
COMMAND REQUIRED (02/04/02) until a LOAD.  ``insert`` (the operator loading a
cartridge) reports MEDIUM CHANGED (06/28/00); ``eject`` refuses while removal is
prevented.  A read-only cartridge (``read_only``, Hercules' ``READONLY=1``) makes
writes DATA PROTECT, WRITE PROTECTED (07/27/00) and sets the WP bit of the mode
header.

The drive is unbuffered (buffered mode 0): every WRITE reaches the file before it
completes, so READ POSITION never has objects in a buffer.  Data moves without
copies: records go from the initiator's memoryviews to ``os.pwritev`` and back with
``os.preadv``.  A transfer larger than the initiator's buffer, or without one, is a
transport error (``HostStatus.TRANSPORT_ERROR``), and nothing moves.

Threading rules: ``execute`` runs in a scheduler event and does host file I/O
without blocking the virtual machine; the runtime API runs in the harness's context
between events.
"""

from __future__ import annotations

import os
import struct

from kextlab.machine.scsi import mode, sense
from kextlab.machine.scsi.awstape import HEADER_LENGTH, AWSTape, encoded_size
from kextlab.machine.scsi.constants import Opcode, PeripheralType
from kextlab.machine.scsi.request import Direction, HostStatus, SCSIRequest
from kextlab.machine.scsi.target import LogicalUnit, command

#: READ BLOCK LIMITS: what one record may hold (the 24-bit transfer length's range).
MINIMUM_BLOCK_LENGTH = 1
MAXIMUM_BLOCK_LENGTH = 0xFF_FFFF
#: Hercules' default EOTMARGIN.
DEFAULT_EARLY_WARNING_MARGIN = 128 * 1024

#: SPACE(6) codes.
SPACE_BLOCKS = 0
SPACE_FILEMARKS = 1
SPACE_END_OF_DATA = 3
#: LOCATE(16) destination types.
DESTINATION_OBJECT = 0
DESTINATION_FILE = 1
DESTINATION_END_OF_DATA = 3
#: READ POSITION service actions with the short form.
SHORT_FORM_BLOCK_ID = 0x00
SHORT_FORM_VENDOR_SPECIFIC = 0x01
#: READ POSITION short form, byte 0.
POSITION_BOP = 0x80
POSITION_EOP = 0x40
POSITION_PERR = 0x02

#: Mode parameters.
PAGE_DEVICE_CONFIGURATION = 0x10
DENSITY_DEFAULT = 0x00
DENSITY_NO_CHANGE = 0x7F
WRITE_PROTECT = 0x80
#: Device configuration byte 8: LOIS (logical object identifiers supported).
CONFIGURATION_LOIS = 0x40
#: Device configuration byte 10: EEG (generate EOD) and SEW (synchronize at early
#: warning).
CONFIGURATION_EEG_SEW = 0x18

BLOCK_LIMITS = struct.Struct(">B3sH")  # granularity, maximum (24 bits), minimum
LOCATE_10 = struct.Struct(">BBxIxBB")  # opcode, BT/CP/IMMED, address, partition, control
LOCATE_16 = struct.Struct(">BBBBQ2xBB")  # opcode, DEST_TYPE/CP/IMMED, BAM, partition, id
#: READ POSITION short form: flags, partition, first and last object, objects and
#: bytes in the buffer.
POSITION_SHORT = struct.Struct(">BBxxIIx3sI")


def _transfer_length(cdb: bytes) -> int:
    """The 24-bit TRANSFER LENGTH (or COUNT) at bytes 2-4 of a 6-byte SSC CDB."""
    return int.from_bytes(cdb[2:5], "big")


class TapeUnit(LogicalUnit):
    """A tape drive whose cartridge is an AWSTAPE file."""

    peripheral_type = PeripheralType.TAPE
    removable = True
    #: SAM-5, SPC-4, SSC-3 (no version claimed).
    version_descriptors = (0x00A0, 0x0460, 0x0400)

    def __init__(
        self,
        name: str,
        medium: str | os.PathLike[str] | AWSTape | None = None,
        *,
        read_only: bool = False,
        capacity: int | None = None,
        early_warning_margin: int = DEFAULT_EARLY_WARNING_MARGIN,
        block_size: int = 0,
        vendor: str = "KEXTLAB",
        product: str = "KEXTLAB TAPE",
        revision: str = "0001",
        serial: str | None = None,
        wwn: int | None = None,
    ) -> None:
        super().__init__(
            name, vendor=vendor, product=product, revision=revision, serial=serial, wwn=wwn
        )
        if capacity is not None and capacity <= 0:
            raise ValueError(f"tape {name!r}: capacity {capacity} must be positive or None")
        if block_size and not MINIMUM_BLOCK_LENGTH <= block_size <= MAXIMUM_BLOCK_LENGTH:
            raise ValueError(f"tape {name!r}: block size {block_size} is outside the limits")
        self.capacity = capacity
        self.early_warning_margin = early_warning_margin
        #: The mode block descriptor's block length; 0 is variable-block mode.
        self.block_size = block_size
        self.position = 0
        self.loaded = False
        self.prevent = False
        self._tape: AWSTape | None = None
        if medium is not None:
            self._mount(medium, read_only)

    # -- the operator's side ---------------------------------------------------------------

    @property
    def medium(self) -> AWSTape | None:
        """The cartridge's file, loaded or not."""
        return self._tape

    def insert(self, medium: str | os.PathLike[str] | AWSTape, *, read_only: bool = False) -> None:
        """Load a cartridge (replacing any): ready at BOP, reporting MEDIUM CHANGED."""
        self._mount(medium, read_only)
        self.add_unit_attention(sense.MEDIUM_CHANGED)

    def eject(self, *, force: bool = False) -> bool:
        """Take the cartridge out; False (and nothing happens) while removal is prevented."""
        if self.prevent and not force:
            return False
        self.close()
        return True

    def close(self) -> None:
        """Close the cartridge's file; the drive is then empty."""
        if self._tape is not None:
            self._tape.close()
            self._tape = None
        self.loaded = False
        self.position = 0

    def _mount(self, medium: str | os.PathLike[str] | AWSTape, read_only: bool) -> None:
        tape = medium if isinstance(medium, AWSTape) else AWSTape.open(medium, read_only=read_only)
        if self._tape is not None and self._tape is not tape:
            self._tape.close()
        self._tape = tape
        self.loaded = True
        self.position = 0

    def reset(self, code: sense.SenseCode = sense.POWER_ON_RESET) -> None:
        self.prevent = False
        super().reset(code)

    def not_ready(self) -> sense.SenseCode | None:
        if self._tape is None:
            return sense.NO_MEDIUM
        if not self.loaded:
            return sense.NOT_READY_INITIALIZING_REQUIRED
        return None

    @property
    def write_protected(self) -> bool:
        return self._tape is not None and self._tape.read_only

    @property
    def early_warning_point(self) -> int | None:
        """The file size past which writes report early warning (None: no capacity)."""
        if self.capacity is None:
            return None
        return max(self.capacity - self.early_warning_margin, 0)

    def _loaded_tape(self) -> AWSTape:
        """The loaded tape, for handlers that ``medium_access`` already vetted."""
        assert self._tape is not None
        return self._tape

    # -- READ BLOCK LIMITS -----------------------------------------------------------------

    @command(Opcode.READ_BLOCK_LIMITS)
    def read_block_limits(self, request: SCSIRequest) -> None:
        if request.cdb[1] & 0x01:  # MLOI (SSC-4's maximum logical object identifier)
            self.fail(request, sense.INVALID_FIELD)
            return
        request.send(
            BLOCK_LIMITS.pack(0, MAXIMUM_BLOCK_LENGTH.to_bytes(3, "big"), MINIMUM_BLOCK_LENGTH)
        )

    # -- READ ------------------------------------------------------------------------------

    @command(Opcode.READ_6, medium_access=True)
    def read_6(self, request: SCSIRequest) -> None:
        cdb = request.cdb
        fixed, suppress_incorrect_length = cdb[1] & 0x01, cdb[1] & 0x02
        count = _transfer_length(cdb)
        if fixed and (suppress_incorrect_length or not self.block_size):
            self.fail(request, sense.INVALID_FIELD)
            return
        if count == 0:
            return
        length = count * self.block_size if fixed else count
        if not self._transfer_possible(request, Direction.IN, length):
            return
        if fixed:
            self._read_fixed(request, count)
        else:
            self._read_variable(request, count, bool(suppress_incorrect_length))

    def _read_variable(self, request: SCSIRequest, length: int, suppress: bool) -> None:
        tape = self._loaded_tape()
        if self._stopped_reading(request, tape, length):
            return
        block = tape[self.position]
        count = min(length, block.length)
        if not self._read_block(request, tape, 0, count):
            return
        request.transferred = count
        residue = length - block.length
        if residue < 0 or (residue > 0 and not suppress):
            self.fail(request, sense.NO_SENSE, information=residue, incorrect_length=True)

    def _read_fixed(self, request: SCSIRequest, count: int) -> None:
        tape = self._loaded_tape()
        size = self.block_size
        for done in range(count):
            if self._stopped_reading(request, tape, count - done):
                return
            if tape[self.position].length != size:  # passed over, not transferred
                self.position += 1
                self.fail(request, sense.NO_SENSE, information=count - done, incorrect_length=True)
                return
            if not self._read_block(request, tape, done * size, size):
                return
            request.transferred = (done + 1) * size

    def _stopped_reading(self, request: SCSIRequest, tape: AWSTape, residue: int) -> bool:
        """At EOD or a filemark: report it (moving past the filemark) and say so."""
        if self.position == len(tape):
            self.fail(request, sense.END_OF_DATA_DETECTED, information=residue)
            return True
        if tape[self.position].tape_mark:
            self.position += 1
            self.fail(request, sense.FILEMARK_DETECTED, information=residue, filemark=True)
            return True
        return False

    def _read_block(self, request: SCSIRequest, tape: AWSTape, offset: int, length: int) -> bool:
        """Copy the head of the record at ``position`` into the initiator's buffer at
        ``offset`` and move past it; False if that failed (the outcome is set)."""
        views = request.data_views(offset, length)
        if views is None:
            return False
        try:
            tape.readinto(self.position, views)
        except (OSError, ValueError):
            self.fail(request, sense.READ_ERROR, information=self.position)
            return False
        self.position += 1
        return True

    def _transfer_possible(self, request: SCSIRequest, direction: Direction, length: int) -> bool:
        """The initiator's buffer can carry ``length`` bytes in ``direction``; if not,
        the command ends with a transport error."""
        if (
            request.direction is not direction
            or request.buffer is None
            or request.expected_length < length
        ):
            request.host_status = HostStatus.TRANSPORT_ERROR
            return False
        return True

    # -- WRITE, WRITE FILEMARKS, ERASE -----------------------------------------------------

    @command(Opcode.WRITE_6, medium_access=True)
    def write_6(self, request: SCSIRequest) -> None:
        cdb = request.cdb
        fixed = cdb[1] & 0x01
        count = _transfer_length(cdb)
        if fixed and not self.block_size:
            self.fail(request, sense.INVALID_FIELD)
            return
        if self.write_protected:
            self.fail(request, sense.WRITE_PROTECTED)
            return
        if count == 0:
            return
        block_length, blocks = (self.block_size, count) if fixed else (count, 1)
        if not self._transfer_possible(request, Direction.OUT, block_length * blocks):
            return
        tape = self._loaded_tape()
        for done in range(blocks):
            residue = blocks - done if fixed else count
            size = encoded_size(block_length, tape.segment_length)
            if self._overflows(tape, size):
                self.fail(request, sense.VOLUME_OVERFLOW, information=residue, end_of_medium=True)
                return
            views = request.data_views(done * block_length, block_length)
            if views is None:
                return
            try:
                tape.write_record(self.position, views)
            except OSError:
                self.fail(request, sense.WRITE_ERROR, information=residue)
                return
            self.position += 1
            request.transferred = (done + 1) * block_length
        self._report_early_warning(request, tape)

    @command(Opcode.WRITE_FILEMARKS, medium_access=True)
    def write_filemarks(self, request: SCSIRequest) -> None:
        cdb = request.cdb
        if cdb[1] & 0x02:  # WSMK: setmarks are obsolete
            self.fail(request, sense.INVALID_FIELD)
            return
        if self.write_protected:
            self.fail(request, sense.WRITE_PROTECTED)
            return
        count = _transfer_length(cdb)
        if count == 0:  # "flush the buffer": an unbuffered drive has nothing to do
            return
        tape = self._loaded_tape()
        for done in range(count):
            if self._overflows(tape, HEADER_LENGTH):
                self.fail(
                    request, sense.VOLUME_OVERFLOW, information=count - done, end_of_medium=True
                )
                return
            try:
                tape.write_tape_mark(self.position)
            except OSError:
                self.fail(request, sense.WRITE_ERROR, information=count - done)
                return
            self.position += 1
        self._report_early_warning(request, tape)

    @command(Opcode.ERASE, medium_access=True)
    def erase(self, request: SCSIRequest) -> None:
        """Short and long erase both end the data here (SSC-3 lets a short erase
        write an EOD; erasing to the end of the partition leaves the same tape)."""
        if self.write_protected:
            self.fail(request, sense.WRITE_PROTECTED)
            return
        try:
            self._loaded_tape().truncate(self.position)
        except OSError:
            self.fail(request, sense.WRITE_ERROR)

    def _overflows(self, tape: AWSTape, size: int) -> bool:
        """Writing ``size`` file bytes at ``position`` would pass the capacity."""
        return self.capacity is not None and tape.offset_of(self.position) + size > self.capacity

    def _report_early_warning(self, request: SCSIRequest, tape: AWSTape) -> None:
        point = self.early_warning_point
        if point is not None and tape.size > point:
            self.fail(request, sense.EARLY_WARNING, information=0, end_of_medium=True)

    # -- SPACE, REWIND, LOCATE -------------------------------------------------------------

    @command(Opcode.SPACE, medium_access=True)
    def space(self, request: SCSIRequest) -> None:
        cdb = request.cdb
        code = cdb[1] & 0x0F
        count = int.from_bytes(cdb[2:5], "big", signed=True)
        tape = self._loaded_tape()
        if code == SPACE_END_OF_DATA:
            self.position = len(tape)
        elif code == SPACE_BLOCKS:
            self._space_blocks(request, tape, count)
        elif code == SPACE_FILEMARKS:
            self._space_filemarks(request, tape, count)
        else:  # sequential filemarks, setmarks: not supported
            self.fail(request, sense.INVALID_FIELD)

    def _space_blocks(self, request: SCSIRequest, tape: AWSTape, count: int) -> None:
        done = 0
        if count > 0:
            while done < count:
                if self.position == len(tape):
                    self.fail(request, sense.END_OF_DATA_DETECTED, information=count - done)
                    return
                self.position += 1
                if tape[self.position - 1].tape_mark:  # now on its EOM side
                    self.fail(
                        request, sense.FILEMARK_DETECTED, information=count - done, filemark=True
                    )
                    return
                done += 1
        else:
            while done < -count:
                if self.position == 0:
                    self._beginning_of_partition(request, count + done)
                    return
                self.position -= 1
                if tape[self.position].tape_mark:  # now on its BOM side
                    self.fail(
                        request, sense.FILEMARK_DETECTED, information=count + done, filemark=True
                    )
                    return
                done += 1

    def _space_filemarks(self, request: SCSIRequest, tape: AWSTape, count: int) -> None:
        done = 0
        if count > 0:
            while done < count:
                if self.position == len(tape):
                    self.fail(request, sense.END_OF_DATA_DETECTED, information=count - done)
                    return
                self.position += 1
                done += tape[self.position - 1].tape_mark
        else:
            while done < -count:
                if self.position == 0:
                    self._beginning_of_partition(request, count + done)
                    return
                self.position -= 1
                done += tape[self.position].tape_mark

    def _beginning_of_partition(self, request: SCSIRequest, residue: int) -> None:
        self.fail(request, sense.BEGINNING_OF_PARTITION, information=residue, end_of_medium=True)

    @command(Opcode.REWIND, medium_access=True)
    def rewind(self, request: SCSIRequest) -> None:
        self.position = 0

    @command(Opcode.LOCATE_10, medium_access=True)
    def locate_10(self, request: SCSIRequest) -> None:
        _, flags, address, partition, _ = LOCATE_10.unpack_from(request.cdb)
        if flags & 0x02 and partition:  # CP: there is only partition 0
            self.fail(request, sense.INVALID_FIELD)
            return
        self._locate(request, address)

    @command(Opcode.LOCATE_16, medium_access=True)
    def locate_16(self, request: SCSIRequest) -> None:
        _, flags, _, partition, identifier, _, _ = LOCATE_16.unpack_from(request.cdb)
        destination = flags >> 3 & 0x03
        if flags & 0x02 and partition:
            self.fail(request, sense.INVALID_FIELD)
            return
        tape = self._loaded_tape()
        if destination == DESTINATION_OBJECT:
            self._locate(request, identifier)
        elif destination == DESTINATION_FILE:
            self._locate(request, self._file_start(tape, identifier))
        elif destination == DESTINATION_END_OF_DATA:
            self.position = len(tape)
        else:
            self.fail(request, sense.INVALID_FIELD)

    def _locate(self, request: SCSIRequest, target: int) -> None:
        tape = self._loaded_tape()
        if target > len(tape):
            self.position = len(tape)
            self.fail(request, sense.END_OF_DATA_DETECTED)
            return
        self.position = target

    @staticmethod
    def _file_start(tape: AWSTape, file_number: int) -> int:
        """The object after the ``file_number``-th filemark (0: BOP); past EOD if absent."""
        if file_number == 0:
            return 0
        seen = 0
        for index, block in enumerate(tape):
            seen += block.tape_mark
            if seen == file_number:
                return index + 1
        return len(tape) + 1

    # -- READ POSITION ---------------------------------------------------------------------

    @command(Opcode.READ_POSITION, medium_access=True)
    def read_position(self, request: SCSIRequest) -> None:
        if request.cdb[1] & 0x1F not in (SHORT_FORM_BLOCK_ID, SHORT_FORM_VENDOR_SPECIFIC):
            self.fail(request, sense.INVALID_FIELD)  # long and extended forms
            return
        tape = self._loaded_tape()
        flags = POSITION_BOP if self.position == 0 else 0
        point = self.early_warning_point
        if point is not None and tape.offset_of(self.position) > point:
            flags |= POSITION_EOP
        if self.position > 0xFFFF_FFFF:
            flags |= POSITION_PERR
        location = self.position & 0xFFFF_FFFF
        request.send(POSITION_SHORT.pack(flags, 0, location, location, bytes(3), 0))

    # -- LOAD UNLOAD, PREVENT ALLOW --------------------------------------------------------

    @command(Opcode.START_STOP_UNIT)  # LOAD UNLOAD shares the operation code
    def load_unload(self, request: SCSIRequest) -> None:
        field = request.cdb[4]
        load, end_of_tape = field & 0x01, field & 0x04
        if load and end_of_tape:
            self.fail(request, sense.INVALID_FIELD)
            return
        if self._tape is None:
            self.fail(request, sense.NO_MEDIUM)
            return
        if not load and self.prevent:
            self.fail(request, sense.ILLEGAL_REQ_REMOVAL_PREVENTED)
            return
        # LOAD (with or without RETEN, HOLD) leaves the tape ready at BOP; UNLOAD
        # rewinds it and leaves it not ready until the next LOAD.
        self.position = 0
        self.loaded = bool(load)

    @command(Opcode.PREVENT_ALLOW_MEDIUM_REMOVAL)
    def prevent_allow_medium_removal(self, request: SCSIRequest) -> None:
        field = request.cdb[4] & 0x03
        if field & 0x02:  # the persistent values are MMC's; obsolete in SPC-4
            self.fail(request, sense.INVALID_FIELD)
            return
        self.prevent = bool(field)

    # -- MODE SENSE, MODE SELECT -----------------------------------------------------------

    @command(Opcode.MODE_SENSE_6, Opcode.MODE_SENSE_10)
    def mode_sense(self, request: SCSIRequest) -> None:
        outcome = mode.requested_pages(
            request.cdb,
            lambda control: self.mode_pages(control is mode.PageControl.CHANGEABLE),
        )
        if isinstance(outcome, sense.SenseCode):
            self.fail(request, outcome)
            return
        parsed, pages = outcome
        changeable = parsed.page_control is mode.PageControl.CHANGEABLE
        descriptors = b""
        if not parsed.disable_block_descriptors:
            if changeable:  # only the block length can be changed
                descriptors = mode.block_descriptor(0, 0, MAXIMUM_BLOCK_LENGTH)
            else:  # the default is variable-block mode
                default = parsed.page_control is mode.PageControl.DEFAULT
                descriptors = mode.block_descriptor(
                    DENSITY_DEFAULT, 0, 0 if default else self.block_size
                )
        device_specific = WRITE_PROTECT if self.write_protected and not changeable else 0
        data = mode.parameter_list(
            parsed.ten,
            device_specific=device_specific,
            block_descriptors=descriptors,
            pages=pages,
        )
        request.send(data, parsed.allocation_length)

    def mode_pages(self, changeable: bool = False) -> dict[int, bytes]:
        """The mode pages by code; ``changeable``: their changeable-bits masks."""
        body = bytearray(14)
        if not changeable:
            body[6] = CONFIGURATION_LOIS
            body[8] = CONFIGURATION_EEG_SEW
        return {PAGE_DEVICE_CONFIGURATION: bytes([PAGE_DEVICE_CONFIGURATION, 14]) + body}

    @command(Opcode.MODE_SELECT_6, Opcode.MODE_SELECT_10)
    def mode_select(self, request: SCSIRequest) -> None:
        fields = mode.parse_mode_select_cdb(request.cdb)
        if isinstance(fields, sense.SenseCode):
            self.fail(request, fields)
            return
        length, _ = fields
        if length == 0:
            return
        if not self._transfer_possible(request, Direction.OUT, length):
            return
        data = request.receive(length)
        if data is None:
            return
        parsed = mode.parse_mode_select(request.opcode == Opcode.MODE_SELECT_10, data)
        if isinstance(parsed, sense.SenseCode):
            self.fail(request, parsed)
            return
        block_size = self.block_size
        if len(parsed.block_descriptors) > 1:
            self.fail(request, sense.INVALID_PARAM)
            return
        for density, _, block_length in parsed.block_descriptors:
            if density not in (DENSITY_DEFAULT, DENSITY_NO_CHANGE) or (
                block_length and not MINIMUM_BLOCK_LENGTH <= block_length <= MAXIMUM_BLOCK_LENGTH
            ):
                self.fail(request, sense.INVALID_PARAM)
                return
            block_size = block_length
        current = self.mode_pages()
        for code, page in parsed.pages:
            if current.get(code) != page:  # unknown page, or a field that cannot change
                self.fail(request, sense.INVALID_PARAM)
                return
        self.block_size = block_size
