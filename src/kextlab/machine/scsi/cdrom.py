"""A CD-ROM drive: MMC-6's CD-ROM profile over an ISO image file.

Owns ``CDROMUnit``, a removable logical unit of peripheral type 5 whose disc is a
read-only image of 2048-byte sectors (a mode-1 data CD, as an ``.iso`` file is).  It
mirrors QEMU's ``scsi-cd`` (``hw/scsi/scsi-disk.c``; ``shared/spec/scsi.md`` §4):
the same MMC subset, answered as MMC-6 (T10/1836-D) specifies its commands (clause
6), features (clause 5) and mode pages (clause 7):

* TEST UNIT READY, INQUIRY, REQUEST SENSE (``target.LogicalUnit``);
* READ CAPACITY(10), READ(10), READ(12);
* READ TOC/PMA/ATIP formats 0 (TOC, LBA or MSF addresses), 1 (session information)
  and 2 (raw TOC: points A0, A1, A2 and the track) for one data track;
* GET CONFIGURATION with the CD-ROM profile and the Profile List, Core, Morphing,
  Removable Medium and Random Readable features;
* GET EVENT STATUS NOTIFICATION, polled, media class;
* READ DISC INFORMATION (standard disc information), MECHANISM STATUS;
* MODE SENSE(6)/(10) with the Read/Write Error Recovery (0x01), CD Audio Control
  (0x0E) and MM Capabilities (0x2A, MMC-3 layout) pages; nothing is changeable;
* START STOP UNIT with LoEj, PREVENT ALLOW MEDIUM REMOVAL.

The disc and the tray
---------------------

The drive has a tray and maybe a disc in it.  The disc is readable when it is there
and the tray is closed; otherwise every medium command (TEST UNIT READY, READ
CAPACITY, READ, READ TOC, READ DISC INFORMATION) fails NOT READY, MEDIUM NOT
PRESENT (02/3A/00), while INQUIRY, REQUEST SENSE, MODE SENSE, START STOP UNIT,
PREVENT ALLOW, GET CONFIGURATION, GET EVENT STATUS NOTIFICATION and MECHANISM
STATUS still answer, as in QEMU.  The runtime API is the operator's:

* ``insert(image)`` puts a disc in and closes the tray: the unit reports the unit
  attention NOT READY TO READY CHANGE, MEDIUM MAY HAVE CHANGED (06/28/00) and a
  NewMedia event;
* ``eject()`` is the eject button: refused while the initiator prevents removal
  (either prevent state; it then queues an EjectRequest event for the host to act
  on), otherwise the tray opens and the disc is gone (MediaRemoval).

START STOP UNIT with LoEj opens the tray (the disc stays in it) or closes it.
Opening is refused while PREVENT is set: ILLEGAL REQUEST, MEDIUM REMOVAL PREVENTED
(05/53/02) with a disc in the tray, NOT READY (02/53/02) without one, as QEMU does;
the persistent prevent state only blocks the button (MMC's PREVENT ALLOW MEDIUM
REMOVAL).  A reset clears both prevent states (SPC-4: a power on or hard reset
ends the prevention of medium removal).  GET CONFIGURATION and GET EVENT STATUS
NOTIFICATION neither report nor clear unit attentions (MMC; QEMU's
``scsi_req_new`` exempts them too), so that polling for events cannot eat them.

Writing: the drive is a reader with only the CD-ROM profile, so WRITE(6/10/12/16)
and WRITE AND VERIFY are INVALID COMMAND OPERATION CODE (05/20/00), as on a real
CD-ROM drive.  (QEMU answers them DATA PROTECT, WRITE PROTECTED on a read-only
backend: a disk's answer.)

Data reaches the initiator without copies: READ fills the request's memoryviews from
the image with ``os.preadv``.  A transfer that does not fit the initiator's buffer,
or arrives without one, is a transport error (``HostStatus.TRANSPORT_ERROR``).

Threading rules: ``execute`` runs in a scheduler event and does host file I/O
(``preadv``) without blocking the virtual machine; the runtime API runs in the
harness's context between events.
"""

from __future__ import annotations

import os
import struct
from collections import deque
from collections.abc import Sequence

from kextlab.machine.scsi import mode, sense
from kextlab.machine.scsi.constants import Opcode, PeripheralType
from kextlab.machine.scsi.request import Direction, HostStatus, SCSIRequest
from kextlab.machine.scsi.target import LogicalUnit, command

SECTOR_SIZE = 2048
#: A CD's track 1 starts after the 2-second pregap: LBA 0 is MSF 00:02:00.
MSF_PREGAP_FRAMES = 150
FRAMES_PER_SECOND = 75
LEAD_OUT_TRACK = 0xAA
#: ADR 1 (Q sub-channel encodes the current position), CONTROL 4 (data track,
#: recorded uninterrupted).
ADR_CONTROL_DATA_TRACK = 0x14

PROFILE_CD_ROM = 0x0008
FEATURE_PROFILE_LIST = 0x0000
FEATURE_CORE = 0x0001
FEATURE_MORPHING = 0x0002
FEATURE_REMOVABLE_MEDIUM = 0x0003
FEATURE_RANDOM_READABLE = 0x0010
#: Core feature: the physical interface standard, 1 = SCSI family.
PHYSICAL_INTERFACE_SCSI = 0x0000_0001
#: Removable Medium feature and MM Capabilities byte 6: loading mechanism (tray).
LOADING_MECHANISM_TRAY = 0x20
EJECT_SUPPORTED = 0x08
LOCK_SUPPORTED = 0x01
LOCK_STATE = 0x02

#: GET EVENT STATUS NOTIFICATION: the media class (class 4, request bit 4).
NOTIFICATION_CLASS_MEDIA = 4
MEDIA_CLASS_REQUEST = 1 << NOTIFICATION_CLASS_MEDIA
SUPPORTED_EVENT_CLASSES = MEDIA_CLASS_REQUEST
NO_EVENT_AVAILABLE = 0x80
#: Media class event codes.
MEDIA_NO_CHANGE = 0
MEDIA_EJECT_REQUEST = 1
MEDIA_NEW_MEDIA = 2
MEDIA_REMOVAL = 3
#: Media status bits.
MEDIA_STATUS_TRAY_OPEN = 0x01
MEDIA_STATUS_PRESENT = 0x02
_PENDING_EVENTS = 8

#: Mode pages.
PAGE_READ_WRITE_ERROR_RECOVERY = 0x01
PAGE_CD_AUDIO_CONTROL = 0x0E
PAGE_MM_CAPABILITIES = 0x2A
#: 32x: 32 * 176.4 kB/s, as MMC counts read speeds, in kB/s.
READ_SPEED_KBS = 5645
BUFFER_SIZE_KB = 512

READ_10 = struct.Struct(">BBIBHB")  # opcode, flags, LBA, group, transfer length, control
READ_12 = struct.Struct(">BBIIBB")  # opcode, flags, LBA, transfer length, group, control
CAPACITY = struct.Struct(">II")  # last LBA, block length
TOC_HEADER = struct.Struct(">HBB")  # data length, first track/session, last track/session
TOC_DESCRIPTOR = struct.Struct(">BBBB4s")  # reserved, ADR/CONTROL, track, reserved, address
RAW_TOC_DESCRIPTOR = struct.Struct(">11B")  # session, ADR/CONTROL, TNO, POINT, MSF, 0, PMSF
FEATURE_HEADER = struct.Struct(">IHH")  # data length, reserved, current profile
FEATURE_DESCRIPTOR = struct.Struct(">HBB")  # code, version/persistent/current, length
PROFILE_DESCRIPTOR = struct.Struct(">HBB")  # profile, CurrentP, reserved
RANDOM_READABLE = struct.Struct(">IHBB")  # block size, blocking, PP, reserved
EVENT_HEADER = struct.Struct(">HBB")  # descriptor length, NEA/class, supported classes
DISC_INFORMATION = struct.Struct(">HBBBBBBBBBBIII8sBB")
MECHANISM_STATUS_HEADER = struct.Struct(">BB3sBH")
#: MM Capabilities bytes 2-21: capability bytes 2-7, maximum read speed, volume levels,
#: buffer size, current read speed, reserved, digital output, write speeds.
MM_CAPABILITIES = struct.Struct(">6B4H2B2H")

#: Disc status: complete session, finalized disc (byte 2 of disc information).
DISC_STATUS_COMPLETE = 0x0E
#: Unrestricted use (byte 7 of disc information).
DISC_UNRESTRICTED_USE = 0x20
MECHANISM_DOOR_OPEN = 0x10


class _Image:
    """An open ISO image: its file and its size in 2048-byte sectors."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        descriptor = os.open(self.path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        size = os.fstat(descriptor).st_size
        if size < SECTOR_SIZE:
            os.close(descriptor)
            raise ValueError(
                f"{self.path}: {size} bytes is not a CD image (at least one "
                f"{SECTOR_SIZE}-byte sector expected)"
            )
        self._descriptor = descriptor
        #: A partial last sector is not addressable, as in QEMU.
        self.sectors = size // SECTOR_SIZE

    def readinto(self, lba: int, views: Sequence[memoryview]) -> None:
        """Fill ``views`` from sector ``lba`` on; OSError if the file cannot give it."""
        position = lba * SECTOR_SIZE
        for start in range(0, len(views), 512):  # under IOV_MAX
            batch = views[start : start + 512]
            expected = sum(len(view) for view in batch)
            if os.preadv(self._descriptor, batch, position) != expected:
                raise OSError(f"{self.path}: short read at byte {position}")
            position += expected

    def close(self) -> None:
        if self._descriptor >= 0:
            os.close(self._descriptor)
            self._descriptor = -1


def lba_to_msf(lba: int) -> bytes:
    """The 4-byte MSF address field (reserved, minute, second, frame) of ``lba``."""
    frames = lba + MSF_PREGAP_FRAMES
    minute, rest = divmod(frames, 60 * FRAMES_PER_SECOND)
    second, frame = divmod(rest, FRAMES_PER_SECOND)
    if minute > 0xFF:  # past what a byte holds: MMC gives no meaning, report the maximum
        minute, second, frame = 0xFF, 59, FRAMES_PER_SECOND - 1
    return bytes([0, minute, second, frame])


def _allocation(cdb: bytes, offset: int) -> int:
    """The 16-bit ALLOCATION LENGTH at ``offset`` of an MMC CDB."""
    return int.from_bytes(cdb[offset : offset + 2], "big")


def _address(lba: int, msf: bool) -> bytes:
    return lba_to_msf(lba) if msf else lba.to_bytes(4, "big")


def _feature(code: int, version: int, persistent: bool, current: bool, data: bytes) -> bytes:
    flags = version << 2 | (0x02 if persistent else 0) | (0x01 if current else 0)
    return FEATURE_DESCRIPTOR.pack(code, flags, len(data)) + data


class CDROMUnit(LogicalUnit):
    """A CD-ROM drive with a tray, reading an ISO image."""

    peripheral_type = PeripheralType.CDROM
    removable = True
    #: SAM-5, SPC-4, MMC-6 (no version claimed).
    version_descriptors = (0x00A0, 0x0460, 0x04E0)

    def __init__(
        self,
        name: str,
        image: str | os.PathLike[str] | None = None,
        *,
        vendor: str = "KEXTLAB",
        product: str = "KEXTLAB CD-ROM",
        revision: str = "0001",
        serial: str | None = None,
        wwn: int | None = None,
    ) -> None:
        super().__init__(
            name, vendor=vendor, product=product, revision=revision, serial=serial, wwn=wwn
        )
        self._image = _Image(image) if image is not None else None
        self.tray_open = False
        self.prevent = False
        self.persistent_prevent = False
        self._events: deque[int] = deque(maxlen=_PENDING_EVENTS)

    # -- the operator's side ---------------------------------------------------------------

    @property
    def medium_present(self) -> bool:
        """A disc is in the tray and the tray is closed: the medium can be read."""
        return self._image is not None and not self.tray_open

    @property
    def sectors(self) -> int:
        """Sectors on the disc in the tray; 0 without one."""
        return self._image.sectors if self._image is not None else 0

    @property
    def image_path(self) -> str | None:
        return self._image.path if self._image is not None else None

    def insert(self, image: str | os.PathLike[str]) -> None:
        """Put the disc ``image`` in (replacing any) and close the tray.

        The unit then reports MEDIUM CHANGED (06/28/00) and a NewMedia event.
        """
        disc = _Image(image)  # fails before anything changes
        if self._image is not None:
            self._image.close()
        self._image = disc
        self.tray_open = False
        self.add_unit_attention(sense.MEDIUM_CHANGED)
        self._events.append(MEDIA_NEW_MEDIA)

    def eject(self, *, force: bool = False) -> bool:
        """Press the eject button; True if the disc came out.

        While removal is prevented the drive keeps the disc and queues an
        EjectRequest event instead (``force``: the operator's paperclip).
        """
        if (self.prevent or self.persistent_prevent) and not force:
            self._events.append(MEDIA_EJECT_REQUEST)
            return False
        had_disc = self.medium_present
        if self._image is not None:
            self._image.close()
            self._image = None
        self.tray_open = True
        if had_disc:
            self._events.append(MEDIA_REMOVAL)
        return True

    def close(self) -> None:
        """Release the image file (the unit is being destroyed)."""
        if self._image is not None:
            self._image.close()
            self._image = None

    def reset(self, code: sense.SenseCode = sense.POWER_ON_RESET) -> None:
        self.prevent = False
        self.persistent_prevent = False
        super().reset(code)

    def not_ready(self) -> sense.SenseCode | None:
        return None if self.medium_present else sense.NO_MEDIUM

    # -- reading ---------------------------------------------------------------------------

    @command(Opcode.READ_CAPACITY_10, medium_access=True)
    def read_capacity_10(self, request: SCSIRequest) -> None:
        cdb = request.cdb
        if not cdb[8] & 0x01 and int.from_bytes(cdb[2:6], "big"):  # LBA without PMI
            self.fail(request, sense.INVALID_FIELD)
            return
        request.send(CAPACITY.pack(min(self.sectors - 1, 0xFFFF_FFFF), SECTOR_SIZE))

    @command(Opcode.READ_10, Opcode.READ_12, medium_access=True)
    def read(self, request: SCSIRequest) -> None:
        if request.opcode == Opcode.READ_10:
            _, flags, lba, _, count, _ = READ_10.unpack_from(request.cdb)
        else:
            _, flags, lba, count, _, _ = READ_12.unpack_from(request.cdb)
        if flags & 0xE0:  # RDPROTECT: a CD has no protection information
            self.fail(request, sense.INVALID_FIELD)
            return
        if lba + count > self.sectors:
            self.fail(request, sense.LBA_OUT_OF_RANGE)
            return
        if count == 0:
            return
        length = count * SECTOR_SIZE
        if request.direction is not Direction.IN or request.buffer is None:
            request.host_status = HostStatus.TRANSPORT_ERROR
            return
        views = request.data_views(0, length)
        if views is None:
            return
        assert self._image is not None  # medium_access checked it
        try:
            self._image.readinto(lba, views)
        except OSError:
            self.fail(request, sense.READ_ERROR, information=lba)
            return
        request.transferred = length

    # -- READ TOC/PMA/ATIP -----------------------------------------------------------------

    @command(Opcode.READ_TOC, medium_access=True)
    def read_toc(self, request: SCSIRequest) -> None:
        cdb = request.cdb
        msf = bool(cdb[1] & 0x02)
        data_format = cdb[2] & 0x0F
        number = cdb[6]
        if data_format == 0:
            data = self._toc(msf, number)
        elif data_format == 1:
            data = self._session_information(msf)
        elif data_format == 2:
            data = self._raw_toc(number)
        else:  # PMA, ATIP, CD-TEXT: a pressed data disc has none
            data = None
        if data is None:
            self.fail(request, sense.INVALID_FIELD)
            return
        request.send(data, _allocation(cdb, 7))

    def _toc(self, msf: bool, starting_track: int) -> bytes | None:
        """Format 0: the track descriptors from ``starting_track`` on, then the lead-out."""
        if starting_track > 1 and starting_track != LEAD_OUT_TRACK:
            return None
        descriptors = b""
        if starting_track <= 1:
            descriptors += TOC_DESCRIPTOR.pack(0, ADR_CONTROL_DATA_TRACK, 1, 0, _address(0, msf))
        descriptors += TOC_DESCRIPTOR.pack(
            0, ADR_CONTROL_DATA_TRACK, LEAD_OUT_TRACK, 0, _address(self.sectors, msf)
        )
        return TOC_HEADER.pack(2 + len(descriptors), 1, 1) + descriptors

    def _session_information(self, msf: bool) -> bytes:
        """Format 1: the first track of the last (only) session."""
        descriptor = TOC_DESCRIPTOR.pack(0, ADR_CONTROL_DATA_TRACK, 1, 0, _address(0, msf))
        return TOC_HEADER.pack(2 + len(descriptor), 1, 1) + descriptor

    def _raw_toc(self, session: int) -> bytes | None:
        """Format 2: the lead-in's Q sub-channel entries, addresses always in MSF."""
        if session > 1:
            return None
        lead_out = lba_to_msf(self.sectors)[1:]
        track_start = lba_to_msf(0)[1:]
        entries = (
            (0xA0, (1, 0x00, 0)),  # first track number, disc type CD-DA/CD-ROM
            (0xA1, (1, 0, 0)),  # last track number
            (0xA2, tuple(lead_out)),  # start of the lead-out
            (0x01, tuple(track_start)),  # track 1
        )
        descriptors = b"".join(
            RAW_TOC_DESCRIPTOR.pack(1, ADR_CONTROL_DATA_TRACK, 0, point, 0, 0, 0, 0, *where)
            for point, where in entries
        )
        return TOC_HEADER.pack(2 + len(descriptors), 1, 1) + descriptors

    # -- GET CONFIGURATION -----------------------------------------------------------------

    @command(Opcode.GET_CONFIGURATION, reports_unit_attention=False)
    def get_configuration(self, request: SCSIRequest) -> None:
        cdb = request.cdb
        request_type = cdb[1] & 0x03
        starting_feature = int.from_bytes(cdb[2:4], "big")
        if request_type == 3:
            self.fail(request, sense.INVALID_FIELD)
            return
        chosen = []
        for code, current, descriptor in self._features():
            if request_type == 2:
                wanted = code == starting_feature
            else:
                wanted = code >= starting_feature and (current or request_type == 0)
            if wanted:
                chosen.append(descriptor)
        body = b"".join(chosen)
        profile = PROFILE_CD_ROM if self.medium_present else 0
        request.send(FEATURE_HEADER.pack(4 + len(body), 0, profile) + body, _allocation(cdb, 7))

    def _features(self) -> list[tuple[int, bool, bytes]]:
        """(feature code, current, descriptor) of every feature, in code order."""
        present = self.medium_present
        profiles = PROFILE_DESCRIPTOR.pack(PROFILE_CD_ROM, 1 if present else 0, 0)
        core = PHYSICAL_INTERFACE_SCSI.to_bytes(4, "big")
        morphing = bytes(4)  # neither asynchronous events nor operational change events
        removable = bytes([LOADING_MECHANISM_TRAY | EJECT_SUPPORTED | LOCK_SUPPORTED, 0, 0, 0])
        random_readable = RANDOM_READABLE.pack(SECTOR_SIZE, 1, 0x01, 0)  # PP: page 0x01
        return [
            (FEATURE_PROFILE_LIST, True, _feature(FEATURE_PROFILE_LIST, 0, True, True, profiles)),
            (FEATURE_CORE, True, _feature(FEATURE_CORE, 0, True, True, core)),
            (FEATURE_MORPHING, True, _feature(FEATURE_MORPHING, 1, True, True, morphing)),
            (
                FEATURE_REMOVABLE_MEDIUM,
                True,
                _feature(FEATURE_REMOVABLE_MEDIUM, 0, True, True, removable),
            ),
            (
                FEATURE_RANDOM_READABLE,
                present,
                _feature(FEATURE_RANDOM_READABLE, 0, False, present, random_readable),
            ),
        ]

    # -- GET EVENT STATUS NOTIFICATION -----------------------------------------------------

    @command(Opcode.GET_EVENT_STATUS_NOTIFICATION, reports_unit_attention=False)
    def get_event_status_notification(self, request: SCSIRequest) -> None:
        cdb = request.cdb
        if not cdb[1] & 0x01:  # asynchronous notification is not supported
            self.fail(request, sense.INVALID_FIELD)
            return
        if not cdb[4] & SUPPORTED_EVENT_CLASSES:
            header = EVENT_HEADER.pack(2, NO_EVENT_AVAILABLE, SUPPORTED_EVENT_CLASSES)
            request.send(header, _allocation(cdb, 7))
            return
        descriptor_fits = _allocation(cdb, 7) >= EVENT_HEADER.size + 4
        event = self._events[0] if self._events else MEDIA_NO_CHANGE
        if self._events and descriptor_fits:  # an event is cleared once reported
            self._events.popleft()
        descriptor = bytes([event, self._media_status(), 0, 0])
        header = EVENT_HEADER.pack(
            2 + len(descriptor), NOTIFICATION_CLASS_MEDIA, SUPPORTED_EVENT_CLASSES
        )
        request.send(header + descriptor, _allocation(cdb, 7))

    def _media_status(self) -> int:
        """The media status byte: Door or Tray Open, else Media Present."""
        if self.tray_open:
            return MEDIA_STATUS_TRAY_OPEN
        return MEDIA_STATUS_PRESENT if self._image is not None else 0

    # -- READ DISC INFORMATION, MECHANISM STATUS -------------------------------------------

    @command(Opcode.READ_DISC_INFORMATION, medium_access=True)
    def read_disc_information(self, request: SCSIRequest) -> None:
        cdb = request.cdb
        if cdb[1] & 0x07:  # only standard disc information (data type 0)
            self.fail(request, sense.INVALID_FIELD)
            return
        request.send(
            DISC_INFORMATION.pack(
                DISC_INFORMATION.size - 2,
                DISC_STATUS_COMPLETE,
                1,  # first track on the disc
                1,  # sessions (LSB)
                1,  # first track in the last session (LSB)
                1,  # last track in the last session (LSB)
                DISC_UNRESTRICTED_USE,
                0x00,  # disc type: CD-DA or CD-ROM
                0,
                0,
                0,  # MSBs of the three counts above
                0,  # disc identification
                0xFFFF_FFFF,  # last session lead-in start: none (a complete disc)
                0xFFFF_FFFF,  # last possible lead-out start: none
                bytes(8),  # disc bar code
                0,  # disc application code
                0,  # OPC tables
            ),
            _allocation(cdb, 7),
        )

    @command(Opcode.MECHANISM_STATUS)
    def mechanism_status(self, request: SCSIRequest) -> None:
        door = MECHANISM_DOOR_OPEN if self.tray_open else 0
        request.send(
            MECHANISM_STATUS_HEADER.pack(0, door, bytes(3), 0, 0), _allocation(request.cdb, 8)
        )

    # -- MODE SENSE ------------------------------------------------------------------------

    @command(Opcode.MODE_SENSE_6, Opcode.MODE_SENSE_10)
    def mode_sense(self, request: SCSIRequest) -> None:
        outcome = mode.requested_pages(request.cdb, self.mode_pages)
        if isinstance(outcome, sense.SenseCode):
            self.fail(request, outcome)
            return
        parsed, pages = outcome
        # MMC: no block descriptors, medium type and device-specific byte reserved.
        request.send(mode.parameter_list(parsed.ten, pages=pages), parsed.allocation_length)

    def mode_pages(self, page_control: mode.PageControl) -> dict[int, bytes]:
        """The pages by code, as MODE SENSE returns them for ``page_control``."""
        lock = LOCK_STATE if self.prevent or self.persistent_prevent else 0
        bodies = {
            PAGE_READ_WRITE_ERROR_RECOVERY: bytes([0x00, 5, 0, 0, 0, 0, 0, 0, 0, 0]),
            PAGE_CD_AUDIO_CONTROL: bytes([0x04, 0, 0, 0, 0, 0, 0x01, 0xFF, 0x02, 0xFF, 0, 0, 0, 0]),
            PAGE_MM_CAPABILITIES: MM_CAPABILITIES.pack(
                0x00,  # reads: CD-ROM only (no CD-R/RW, DVD, method 2)
                0x00,  # writes: none
                0x00,  # no audio play, no multi-session
                0x00,  # no CD-DA commands
                LOADING_MECHANISM_TRAY | EJECT_SUPPORTED | lock | LOCK_SUPPORTED,
                0x00,
                READ_SPEED_KBS,
                0,  # volume levels
                BUFFER_SIZE_KB,
                READ_SPEED_KBS,
                0,
                0,  # digital output format
                0,  # maximum write speed
                0,  # current write speed
            ),
        }
        if page_control is mode.PageControl.CHANGEABLE:  # nothing can be changed
            bodies = {code: bytes(len(body)) for code, body in bodies.items()}
        return {code: bytes([code, len(body)]) + body for code, body in bodies.items()}

    # -- the tray --------------------------------------------------------------------------

    @command(Opcode.START_STOP_UNIT)
    def start_stop_unit(self, request: SCSIRequest) -> None:
        cdb = request.cdb
        power_condition, load_eject, start = cdb[4] >> 4, cdb[4] & 0x02, cdb[4] & 0x01
        if power_condition or not load_eject:  # spinning up or down: nothing to model
            return
        if start:
            if self.tray_open:
                self.tray_open = False
                if self._image is not None:
                    self._events.append(MEDIA_NEW_MEDIA)
            return
        if self.prevent:
            code = (
                sense.ILLEGAL_REQ_REMOVAL_PREVENTED
                if self._image is not None
                else sense.NOT_READY_REMOVAL_PREVENTED
            )
            self.fail(request, code)
            return
        if not self.tray_open:
            self.tray_open = True
            if self._image is not None:
                self._events.append(MEDIA_REMOVAL)

    @command(Opcode.PREVENT_ALLOW_MEDIUM_REMOVAL)
    def prevent_allow_medium_removal(self, request: SCSIRequest) -> None:
        cdb = request.cdb
        field = cdb[4] & 0x03
        if field & 0x02:  # persistent prevent: 10b clears it, 11b sets it
            self.persistent_prevent = bool(field & 0x01)
        else:  # 00b allows, 01b prevents
            self.prevent = bool(field & 0x01)
