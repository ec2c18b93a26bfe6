"""SCSI targets and logical units: what every device answers, whatever its type.

A ``SCSITarget`` is the device at one SCSI ID; it holds ``LogicalUnit`` objects by
LUN and answers the commands addressed to the target as a whole (SPC-4):

* REPORT LUNS lists its LUNs (peripheral addressing);
* a command for a LUN it does not have gets LOGICAL UNIT NOT SUPPORTED, except
  INQUIRY, which answers with peripheral qualifier 3 / type 0x1F, and REQUEST
  SENSE, which returns that sense as data (QEMU's ``scsi_target_send_command``).

A ``LogicalUnit`` subclass (disk, CD-ROM, tape) declares its commands with the
``@command(opcode, ...)`` decorator; the base class implements what SPC requires of
every unit: TEST UNIT READY, INQUIRY (standard data and the VPD pages 0x00, 0x80
and 0x83), REQUEST SENSE, RESERVE/RELEASE (accepted, no state, as QEMU) and the
unit-attention rules:

* unit attentions queue per unit and are reported in SPC priority order
  (``sense.UNIT_ATTENTION_PRIORITY``), one per command, each once;
* INQUIRY, REPORT LUNS and REQUEST SENSE do not report them (REQUEST SENSE returns
  and clears the highest one);
* a new unit starts with POWER ON OCCURRED pending.

Sense data is fixed-format unless the unit is in descriptor mode (the control mode
page's D_SENSE bit; ``descriptor_sense``), or a REQUEST SENSE asks with DESC.

An unknown operation code is INVALID COMMAND OPERATION CODE, and a CDB shorter than
its operation code's group length (``constants.cdb_length``) is INVALID FIELD IN CDB
before any unit attention is reported (QEMU's ``scsi_req_parse_cdb`` fails such a
request first), so handlers may unpack their fixed-length CDBs without checking the
length.  Nothing a CDB contains raises an exception: every handler checks its fields
and answers ILLEGAL REQUEST.

Threading rules: ``execute`` runs in an event callback of the machine's scheduler
and never blocks; timing belongs to the bus (``kextlab.machine.scsi.bus``).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, TypeVar

from kextlab.machine.scsi import sense
from kextlab.machine.scsi.constants import (
    PERIPHERAL_QUALIFIER_NOT_SUPPORTED,
    SPC_VERSION,
    Opcode,
    PeripheralType,
    cdb_length,
)
from kextlab.machine.scsi.request import SCSIRequest

Handler = Callable[["LogicalUnit", SCSIRequest], None]
#: What ``@command`` decorates: a method of some ``LogicalUnit`` subclass, whose ``self``
#: is narrower than ``Handler``'s, so the bound cannot name the first parameter.
H = TypeVar("H", bound=Callable[..., None])

_REPORT_LUNS = int(Opcode.REPORT_LUNS)
STANDARD_INQUIRY_LENGTH = 96
VPD_SUPPORTED_PAGES = 0x00
VPD_UNIT_SERIAL_NUMBER = 0x80
VPD_DEVICE_IDENTIFICATION = 0x83


@dataclass(frozen=True)
class CommandInfo:
    """How the base class treats a command before its handler runs."""

    handler: Handler
    name: str
    reports_unit_attention: bool = True  # False: INQUIRY, REPORT LUNS, REQUEST SENSE
    medium_access: bool = False  # touches the medium (for NOT READY and MAC faults)
    #: ``constants.cdb_length`` of the operation code, worked out once with the table.
    cdb_length: int | None = None


def command(
    *opcodes: int, reports_unit_attention: bool = True, medium_access: bool = False
) -> Callable[[H], H]:
    """Declare a ``LogicalUnit`` method as the handler of ``opcodes``."""

    def register(handler: H) -> H:
        handler.scsi_opcodes = (  # type: ignore[attr-defined]
            opcodes,
            reports_unit_attention,
            medium_access,
        )
        return handler

    return register


def allocation_length(cdb: bytes, offset: int, size: int) -> int:
    return int.from_bytes(cdb[offset : offset + size], "big")


class LogicalUnit:
    """One logical unit.  Subclasses set ``peripheral_type`` and add commands."""

    peripheral_type: ClassVar[PeripheralType] = PeripheralType.NO_LUN
    removable: ClassVar[bool] = False
    #: T10 version descriptors for the standard INQUIRY data (SAM-5, SPC-4, ...).
    version_descriptors: ClassVar[tuple[int, ...]] = (0x00A0, 0x0460)
    commands: ClassVar[dict[int, CommandInfo]] = {}

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        cls.commands = _collect_commands(cls)

    def __init__(
        self,
        name: str,
        *,
        vendor: str = "KEXTLAB",
        product: str = "",
        revision: str = "0001",
        serial: str | None = None,
        wwn: int | None = None,
    ) -> None:
        self.name = name
        self.vendor = vendor
        self.product = product
        self.revision = revision
        self.serial = serial if serial is not None else name.upper()
        self.wwn = wwn
        self.descriptor_sense = False
        self._unit_attentions: set[sense.SenseCode] = {sense.POWER_ON_OCCURRED}
        self.commands_executed = 0

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"

    # -- unit attentions ---------------------------------------------------------------

    def add_unit_attention(self, code: sense.SenseCode) -> None:
        self._unit_attentions.add(code)

    def pending_unit_attentions(self) -> list[sense.SenseCode]:
        return [code for code in sense.UNIT_ATTENTION_PRIORITY if code in self._unit_attentions]

    def take_unit_attention(self) -> sense.SenseCode | None:
        if not self._unit_attentions:  # the usual case, asked before every command
            return None
        pending = self.pending_unit_attentions()
        if not pending:
            return None
        self._unit_attentions.discard(pending[0])
        return pending[0]

    def reset(self, code: sense.SenseCode = sense.POWER_ON_RESET) -> None:
        """A reset reached the unit: it reports ``code`` as a unit attention."""
        self.add_unit_attention(code)

    # -- dispatch ------------------------------------------------------------------------

    def execute(self, request: SCSIRequest) -> None:
        """Run one command; the outcome is left in ``request``."""
        self.commands_executed += 1
        cdb = request.cdb
        opcode = cdb[0] if cdb else -1  # request.opcode, without the property call
        info = self.commands.get(opcode)
        if info is None:
            self.fail(request, sense.INVALID_OPCODE)
            return
        length = info.cdb_length
        if length is not None and len(cdb) < length:
            self.fail(request, sense.INVALID_FIELD)
            return
        if info.reports_unit_attention and self._unit_attentions:  # usually none pending
            attention = self.take_unit_attention()
            if attention is not None:
                self.fail(request, attention)
                return
        if info.medium_access:
            not_ready = self.not_ready()
            if not_ready is not None:
                self.fail(request, not_ready)
                return
        info.handler(self, request)

    def fail(
        self,
        request: SCSIRequest,
        code: sense.SenseCode,
        *,
        information: int | None = None,
        filemark: bool = False,
        end_of_medium: bool = False,
        incorrect_length: bool = False,
    ) -> None:
        """CHECK CONDITION with ``code``, in the unit's sense format."""
        request.check_condition(
            code,
            descriptor=self.descriptor_sense,
            information=information,
            filemark=filemark,
            end_of_medium=end_of_medium,
            incorrect_length=incorrect_length,
        )

    def not_ready(self) -> sense.SenseCode | None:
        """Why the unit cannot access its medium now (None: it can)."""
        return None

    # -- SPC commands every unit has ---------------------------------------------------------

    @command(Opcode.TEST_UNIT_READY)
    def test_unit_ready(self, request: SCSIRequest) -> None:
        not_ready = self.not_ready()
        if not_ready is not None:
            self.fail(request, not_ready)

    @command(Opcode.INQUIRY, reports_unit_attention=False)
    def inquiry(self, request: SCSIRequest) -> None:
        cdb = request.cdb
        if len(cdb) < 6:
            self.fail(request, sense.INVALID_FIELD)
            return
        evpd = cdb[1] & 0x01
        page = cdb[2]
        if cdb[1] & 0x02 or (not evpd and page):  # CmdDt, or a page without EVPD
            self.fail(request, sense.INVALID_FIELD)
            return
        allocation = allocation_length(cdb, 3, 2)
        if not evpd:
            request.send(self.standard_inquiry(), allocation)
            return
        data = self.vpd_page(page)
        if data is None:
            self.fail(request, sense.INVALID_FIELD)
            return
        header = bytes([int(self.peripheral_type), page]) + struct.pack(">H", len(data))
        request.send(header + data, allocation)

    def standard_inquiry(self) -> bytes:
        data = bytearray(STANDARD_INQUIRY_LENGTH)
        data[0] = int(self.peripheral_type)
        data[1] = 0x80 if self.removable else 0
        data[2] = SPC_VERSION
        data[3] = 0x12  # HiSup, response data format 2
        data[4] = STANDARD_INQUIRY_LENGTH - 5
        data[7] = 0x02  # CmdQue: tagged command queuing
        data[8:16] = self.vendor.encode("ascii")[:8].ljust(8)
        data[16:32] = self.product.encode("ascii")[:16].ljust(16)
        data[32:36] = self.revision.encode("ascii")[:4].ljust(4)
        for index, descriptor in enumerate(self.version_descriptors[:8]):
            struct.pack_into(">H", data, 58 + 2 * index, descriptor)
        return bytes(data)

    def supported_vpd_pages(self) -> list[int]:
        return [VPD_SUPPORTED_PAGES, VPD_UNIT_SERIAL_NUMBER, VPD_DEVICE_IDENTIFICATION]

    def vpd_page(self, page: int) -> bytes | None:
        """The body of VPD page ``page`` (after its 4-byte header), or None."""
        if page not in self.supported_vpd_pages():
            return None
        if page == VPD_SUPPORTED_PAGES:
            return bytes(self.supported_vpd_pages())
        if page == VPD_UNIT_SERIAL_NUMBER:
            return self.serial.encode("ascii")[:36]
        if page == VPD_DEVICE_IDENTIFICATION:
            return self.device_identification()
        return None

    def device_identification(self) -> bytes:
        """VPD 0x83: a T10 vendor ID designator, and an NAA one when the unit has a WWN."""
        t10 = self.vendor.encode("ascii")[:8].ljust(8) + self.serial.encode("ascii")
        descriptors = bytes([0x02, 0x01, 0x00, len(t10)]) + t10  # ASCII, LU, T10 vendor ID
        if self.wwn is not None:
            descriptors += bytes([0x01, 0x03, 0x00, 0x08]) + self.wwn.to_bytes(8, "big")
        return descriptors

    @command(Opcode.REQUEST_SENSE, reports_unit_attention=False)
    def request_sense(self, request: SCSIRequest) -> None:
        descriptor = bool(request.cdb[1] & 0x01)
        attention = self.take_unit_attention()
        code = attention if attention is not None else (self.not_ready() or sense.NO_SENSE)
        request.send(code.build(descriptor=descriptor), request.cdb[4])

    @command(Opcode.RESERVE_6, Opcode.RELEASE_6, Opcode.RESERVE_10, Opcode.RELEASE_10)
    def reserve_release(self, request: SCSIRequest) -> None:
        """Accepted without state, as QEMU does."""


def _collect_commands(cls: type[LogicalUnit]) -> dict[int, CommandInfo]:
    """The command table of ``cls``: every ``@command`` method along its MRO, the most
    derived class winning."""
    table: dict[int, CommandInfo] = {}
    for klass in reversed(cls.__mro__):
        for name, member in vars(klass).items():
            declared = getattr(member, "scsi_opcodes", None)
            if declared is not None:
                opcodes, reports, medium = declared
                for opcode in opcodes:
                    table[opcode] = CommandInfo(member, name, reports, medium, cdb_length(opcode))
    return table


LogicalUnit.commands = _collect_commands(LogicalUnit)


class SCSITarget:
    """The device at one SCSI target ID: its logical units by LUN."""

    def __init__(self, name: str, units: dict[int, LogicalUnit]) -> None:
        if not units:
            raise ValueError(f"target {name!r} needs at least one logical unit")
        self.name = name
        self.units = dict(sorted(units.items()))

    def __repr__(self) -> str:
        return f"<SCSITarget {self.name!r} luns {list(self.units)}>"

    @property
    def unit(self) -> LogicalUnit:
        """LUN 0 (or the lowest LUN)."""
        return next(iter(self.units.values()))

    def execute(self, request: SCSIRequest) -> None:
        cdb = request.cdb
        if cdb and cdb[0] == _REPORT_LUNS:
            self.report_luns(request)
            return
        unit = self.units.get(request.lun)
        if unit is not None:
            unit.execute(request)
            return
        if request.opcode == Opcode.INQUIRY:
            data = bytearray(36)
            data[0] = PERIPHERAL_QUALIFIER_NOT_SUPPORTED | PeripheralType.NO_LUN
            data[4] = 31
            request.send(bytes(data))
        elif request.opcode == Opcode.REQUEST_SENSE:
            request.send(sense.LUN_NOT_SUPPORTED.build())
        else:
            request.check_condition(sense.LUN_NOT_SUPPORTED)

    def report_luns(self, request: SCSIRequest) -> None:
        cdb = request.cdb
        if len(cdb) < 12 or allocation_length(cdb, 6, 4) < 16 or cdb[2] > 2:
            request.check_condition(sense.INVALID_FIELD)
            return
        body = b"".join(_lun_address(lun) for lun in self.units)
        request.send(struct.pack(">I", len(body)) + bytes(4) + body, allocation_length(cdb, 6, 4))

    def reset(self, code: sense.SenseCode = sense.SCSI_BUS_RESET) -> None:
        for unit in self.units.values():
            unit.reset(code)


def _lun_address(lun: int) -> bytes:
    """SAM peripheral device addressing for LUNs below 256, flat space above."""
    if lun < 256:
        return bytes([0, lun]) + bytes(6)
    return bytes([0x40 | (lun >> 8 & 0x3F), lun & 0xFF]) + bytes(6)
