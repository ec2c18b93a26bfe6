"""Fault injection in Linux ``scsi_debug``'s vocabulary, deterministic.

A ``FaultInjector`` is the ``FaultPolicy`` of one or more ``SCSIBus``es (one per
machine: its command counter is global, as scsi_debug's is).  It offers the three
ways scsi_debug does (``shared/spec/scsi.md`` §3; ``drivers/scsi/scsi_debug.c``):

**``every_nth`` and ``opts``.**  Every command counts; a command whose count is a
multiple of ``|every_nth|`` is a *hit*.  The ``Opts`` bits say what a hit does:

=================  =========================================================
``HOST_BUSY``      the command is refused with BUSY status
``TIMEOUT``        the command is dropped: it never completes
``MAC_TIMEOUT``    the same, for medium-access commands only
``RECOVERED_ERR``  the next READ or WRITE succeeds but reports RECOVERED ERROR
                   01/5D/00 (failure prediction threshold exceeded)
``TRANSPORT_ERR``  the next READ or WRITE fails ABORTED COMMAND 0B/4B/03 (ACK/NAK
                   timeout), moving no data
``SHORT_TRANSFER`` the next READ moves half its blocks; the rest is residual
``RARE_TSF``       every ``|every_nth|``-th command that would fill a target's
                   queue is refused with TASK SET FULL
=================  =========================================================

A hit on a command the bit does not apply to stays *pending* and is taken by the
next READ or WRITE, as scsi_debug's ``sdeb_inject_pending``.  A negative
``every_nth`` below -1 becomes -1 at its first hit: every later command hits (a
dying device).  ``MEDIUM_ERR`` needs no hit: every READ overlapping
``[medium_error_start, +medium_error_count)`` fails MEDIUM ERROR 03/11/00 with the
first bad LBA in the INFORMATION field and no data moved.  The logging bits
(``NOISE``, ``Q_NOISE``, ``RESET_NOISE``, ``NO_CDB_NOISE``) write trace points;
``ALL_TSF`` is accepted and ignored, as by scsi_debug.  Bits for features kextlab's
targets lack (``DIF_ERR``, ``DIX_ERR``: no protection information; ``N_WCE``: a disk
parameter; ``CMD_ABORT``: a block-layer abort) are refused by name.

**Rules** (scsi_debug's per-device error list): "for this target and LUN, on this
operation code or any, for N hits or always, do this".  A rule is a ``FaultRule``;
``FaultRule.parse`` reads scsi_debug's own line format
(``"2 -10 0x88 0 0 0x2 0x3 0x11 0x0"``: READ(16) fails MEDIUM ERROR/UNRECOVERED READ
ERROR ten times) and ``FaultRule.from_table`` a machine description's table.  The
first active matching rule fires; its count goes down.  Actions, with their effect:

==================  ===============================================================
``timeout``         never complete (scsi_debug code 0)
``busy``            BUSY status at once (code 1, ``queuecommand`` returning busy)
``fail``            complete with this status, sense key/ASC/ASCQ and host status
                    (code 2)
``abort-fails``     ABORT TASK of the matching command fails (code 3)
``reset-fails``     a target reset fails (code 4)
``medium-error``    medium-access commands overlapping an LBA range fail MEDIUM
                    ERROR (03/11/00 reading, 03/0C/00 writing), INFORMATION = first
                    bad LBA, no data moved
``transport-error`` ABORTED COMMAND 0B/4B/03, no data moved
``recovered-error`` the command runs, then reports RECOVERED ERROR 01/5D/00
``short-transfer``  a READ or WRITE moves half its blocks
``task-set-full``   TASK SET FULL status
``drop-off-bus``    the target leaves the bus: this command meets an empty ID and the
                    HBA sees a bus change
``delay``           the command takes ``delay_ns`` longer
==================  ===============================================================

**Delay.**  ``delay_ns`` is added to every command, and with ``random_delay`` it is
the bound of a uniform delay drawn from the machine's seeded stream ``scsi-faults``
(scsi_debug's ``delay``/``ndelay``/``random``).  Targets' own latency is the bus's
``Timing``.

**Hot-plug** is the bus's ``attach``/``detach`` with ``at=`` a virtual time.

Every injected fault is appended to ``records`` (virtual time, bus, target, LUN,
operation code, what was done) and written as a trace point, so a test or a report
can say exactly what happened.  Same machine, seed and commands: same faults.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from kextlab.machine.scsi import sbc, sense
from kextlab.machine.scsi.bus import FaultDecision, SCSIBus
from kextlab.machine.scsi.constants import Opcode, SenseKey, Status, cdb_length
from kextlab.machine.scsi.request import HostStatus, SCSIRequest
from kextlab.machine.scsi.target import SCSITarget

if TYPE_CHECKING:
    from kextlab.sim.scheduler import Scheduler

#: scsi_debug's defaults for the medium-error range (``OPT_MEDIUM_ERR_ADDR/NUM``).
MEDIUM_ERROR_START = 0x1234
MEDIUM_ERROR_COUNT = 10
#: ABORTED COMMAND, ACK/NAK TIMEOUT: what scsi_debug reports for a transport error.
TRANSPORT_PROBLEM = sense.SenseCode(SenseKey.ABORTED_COMMAND, 0x4B, 0x03, "ACK/NAK timeout")


class FaultError(ValueError):
    """A fault setting or rule that cannot be used; the message names it."""


class Opts(enum.IntFlag):
    """scsi_debug's ``opts`` bits (``SDEBUG_OPT_*``)."""

    NOISE = 0x1
    MEDIUM_ERR = 0x2
    TIMEOUT = 0x4
    RECOVERED_ERR = 0x8
    TRANSPORT_ERR = 0x10
    DIF_ERR = 0x20
    DIX_ERR = 0x40
    MAC_TIMEOUT = 0x80
    SHORT_TRANSFER = 0x100
    Q_NOISE = 0x200
    ALL_TSF = 0x400
    RARE_TSF = 0x800
    N_WCE = 0x1000
    RESET_NOISE = 0x2000
    NO_CDB_NOISE = 0x4000
    HOST_BUSY = 0x8000
    CMD_ABORT = 0x10000


NO_OPTS = Opts(0)
UNSUPPORTED_OPTS: Mapping[Opts, str] = {
    Opts.DIF_ERR: "kextlab's targets have no protection information",
    Opts.DIX_ERR: "kextlab's targets have no protection information",
    Opts.N_WCE: "set the disk's write cache in its parameters instead",
    Opts.CMD_ABORT: "kextlab's buses have no block-layer abort",
}
#: Commands that read or write the medium, for the READ/WRITE-only injections.
READS = frozenset({Opcode.READ_6, Opcode.READ_10, Opcode.READ_12, Opcode.READ_16})
WRITES = frozenset(
    {
        Opcode.WRITE_6,
        Opcode.WRITE_10,
        Opcode.WRITE_12,
        Opcode.WRITE_16,
        Opcode.WRITE_AND_VERIFY_10,
        Opcode.WRITE_AND_VERIFY_12,
        Opcode.WRITE_AND_VERIFY_16,
    }
)
VERIFIES = frozenset({Opcode.VERIFY_10, Opcode.VERIFY_12, Opcode.VERIFY_16})


class Action(enum.Enum):
    TIMEOUT = "timeout"
    BUSY = "busy"
    FAIL = "fail"
    ABORT_FAILS = "abort-fails"
    RESET_FAILS = "reset-fails"
    MEDIUM_ERROR = "medium-error"
    TRANSPORT_ERROR = "transport-error"
    RECOVERED_ERROR = "recovered-error"
    SHORT_TRANSFER = "short-transfer"
    TASK_SET_FULL = "task-set-full"
    DROP_OFF_BUS = "drop-off-bus"
    DELAY = "delay"


#: scsi_debug's rule codes (``enum sdebug_err_type``).
SCSI_DEBUG_CODES: Mapping[int, Action] = {
    0: Action.TIMEOUT,
    1: Action.BUSY,
    2: Action.FAIL,
    3: Action.ABORT_FAILS,
    4: Action.RESET_FAILS,
}
#: Linux host bytes (``DID_*``) a ``fail`` rule may give, as kextlab's host statuses.
HOST_BYTES: Mapping[int, HostStatus] = {
    0x00: HostStatus.OK,
    0x01: HostStatus.NO_TARGET,  # DID_NO_CONNECT
    0x05: HostStatus.ABORTED,  # DID_ABORT
    0x07: HostStatus.TRANSPORT_ERROR,  # DID_ERROR
    0x08: HostStatus.RESET,  # DID_RESET
}
TASK_MANAGEMENT = {"abort": Action.ABORT_FAILS, "reset": Action.RESET_FAILS}


def transfer_of(cdb: bytes) -> tuple[int, int] | None:
    """``(LBA, blocks)`` of a READ, WRITE, WRITE AND VERIFY or VERIFY CDB, else None
    (``sbc.decode_transfer``: a 0 count in READ(6)/WRITE(6) means 256)."""
    if not cdb or (cdb[0] not in READS and cdb[0] not in WRITES and cdb[0] not in VERIFIES):
        return None
    length = cdb_length(cdb[0])
    if length is None or len(cdb) < length:
        return None
    _, lba, blocks = sbc.decode_transfer(cdb)
    return lba, blocks


def with_block_count(cdb: bytes, blocks: int) -> bytes:
    """``cdb`` asking for ``blocks`` blocks instead (a READ/WRITE/VERIFY CDB)."""
    edited = bytearray(cdb)
    group = cdb[0] >> 5
    if group == 0:
        edited[4] = blocks & 0xFF
    elif group in (1, 2):
        edited[7:9] = blocks.to_bytes(2, "big")
    elif group == 5:
        edited[6:10] = blocks.to_bytes(4, "big")
    else:
        edited[10:14] = blocks.to_bytes(4, "big")
    return bytes(edited)


@dataclass
class FaultRule:
    """One rule of a target's error list (see the module docstring for the actions).

    ``bus``/``target``/``lun``/``opcode`` None match any (``bus`` is a ``SCSIBus``
    name: one HBA's bus); ``count`` None fires always, N fires
    the next N matching commands (0: inactive).  ``status``, ``sense_code`` and
    ``host_status`` are the outcome of ``fail``; ``lba``/``blocks`` the range of
    ``medium-error``; ``delay_ns`` the latency of ``delay``.
    """

    action: Action
    target: int | None = None
    lun: int | None = None
    bus: str | None = None
    opcode: int | None = None
    count: int | None = None
    status: Status = Status.CHECK_CONDITION
    sense_code: sense.SenseCode | None = None
    host_status: HostStatus = HostStatus.OK
    lba: int = 0
    blocks: int = 1
    delay_ns: int = 0
    fired: int = 0

    def __post_init__(self) -> None:
        if self.count is not None and self.count < 0:
            raise FaultError(f"count {self.count}: expected a number of hits, 0 or more")
        if self.blocks < 1:
            raise FaultError(f"blocks {self.blocks}: expected 1 or more")
        if self.delay_ns < 0:
            raise FaultError(f"delay_ns {self.delay_ns}: expected 0 or more")
        if self.action is Action.DELAY and not self.delay_ns:
            raise FaultError("a delay rule needs delay_ns")

    @property
    def active(self) -> bool:
        return self.count is None or self.count > 0

    def matches(self, bus: str, target_id: int, request: SCSIRequest) -> bool:
        if not self.active:
            return False
        if self.bus is not None and self.bus != bus:
            return False
        if self.target is not None and self.target != target_id:
            return False
        if self.lun is not None and self.lun != request.lun:
            return False
        if self.opcode is not None and self.opcode != request.opcode:
            return False
        if self.action is Action.MEDIUM_ERROR:
            span = transfer_of(request.cdb)
            if span is None:
                return False
            lba, blocks = span
            return lba < self.lba + self.blocks and lba + blocks > self.lba
        if self.action is Action.SHORT_TRANSFER:
            span = transfer_of(request.cdb)
            return span is not None and request.opcode not in VERIFIES and span[1] > 1
        return True

    def fire(self) -> None:
        self.fired += 1
        if self.count is not None:
            self.count -= 1

    # -- reading rules ---------------------------------------------------------------

    @classmethod
    def parse(cls, line: str, *, target: int | None = None, lun: int | None = None) -> FaultRule:
        """A rule from scsi_debug's error-list line ``"<code> <count> <opcode> …"``.

        ``count`` > 0 fires always, < 0 fires ``-count`` times, 0 is inactive;
        ``opcode`` 0xff matches any.  Code 1 takes the ``queuecommand`` return value
        (any non-zero value is a busy refusal here); code 2 takes host, driver and
        status bytes, then sense key, ASC and ASCQ (the driver byte is obsolete in
        Linux and ignored).
        """
        words = line.split()
        if len(words) < 3:
            raise FaultError(f"rule {line!r}: expected '<code> <count> <opcode> ...'")

        def number(index: int, what: str) -> int:
            try:
                return int(words[index], 0)
            except (ValueError, IndexError):
                raise FaultError(
                    f"rule {line!r}: field {index + 1} ({what}) must be a number"
                ) from None

        code = number(0, "code")
        if code not in SCSI_DEBUG_CODES:
            raise FaultError(f"rule {line!r}: unknown code {code}; expected 0 to 4")
        action = SCSI_DEBUG_CODES[code]
        hits = number(1, "count")
        opcode = number(2, "opcode")
        if not 0 <= opcode <= 0xFF:
            raise FaultError(f"rule {line!r}: opcode {opcode:#x} is not a byte")
        expected = {Action.BUSY: 4, Action.FAIL: 9}.get(action, 3)
        if len(words) != expected:
            raise FaultError(f"rule {line!r}: code {code} takes {expected} fields")
        rule = cls(
            action,
            target=target,
            lun=lun,
            opcode=None if opcode == 0xFF else opcode,
            count=None if hits > 0 else -hits,
        )
        if action is Action.BUSY and number(3, "queuecommand return") == 0:
            rule.count = 0  # a zero return is no refusal at all
        if action is Action.FAIL:
            host = number(3, "host byte")
            if host not in HOST_BYTES:
                raise FaultError(
                    f"rule {line!r}: host byte {host:#x} has no kextlab equivalent; expected "
                    "0, 1 (DID_NO_CONNECT), 5 (DID_ABORT), 7 (DID_ERROR) or 8 (DID_RESET)"
                )
            rule.host_status = HOST_BYTES[host]
            rule.status = _status(number(5, "status byte"), line)
            rule.sense_code = _sense(
                number(6, "sense key"), number(7, "asc"), number(8, "ascq"), line
            )
        return rule

    @classmethod
    def from_table(cls, table: Mapping[str, object], where: str) -> FaultRule:
        """A rule from a machine description's table, e.g. ``{action = "medium-error",
        target = 0, lba = 4096, blocks = 8, count = 3}``; errors name ``where``."""
        known = {
            "action",
            "target",
            "lun",
            "opcode",
            "count",
            "status",
            "sense",
            "host_status",
            "lba",
            "blocks",
            "delay_ns",
        }
        for key in table:
            if key not in known:
                raise FaultError(
                    f"{where}.{key}: unknown key; expected one of {', '.join(sorted(known))}"
                )
        action_name = table.get("action")
        actions = [action.value for action in Action]
        if action_name not in actions:
            raise FaultError(
                f"{where}.action: expected one of {', '.join(actions)}, got {action_name!r}"
            )
        values: dict[str, object] = {"action": Action(action_name)}
        for key in ("target", "lun", "opcode", "count", "lba", "blocks", "delay_ns"):
            if key in table:
                value = table[key]
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    raise FaultError(f"{where}.{key}: expected a whole number, got {value!r}")
                values[key] = value
        if "status" in table:
            values["status"] = _status_name(table["status"], f"{where}.status")
        if "sense" in table:
            values["sense_code"] = _sense_triple(table["sense"], f"{where}.sense")
        if "host_status" in table:
            names = {status.name.lower().replace("_", "-"): status for status in HostStatus}
            given = table["host_status"]
            if given not in names:
                raise FaultError(
                    f"{where}.host_status: expected one of {', '.join(names)}, got {given!r}"
                )
            values["host_status"] = names[str(given)]
        try:
            return cls(**values)  # type: ignore[arg-type]
        except FaultError as error:
            raise FaultError(f"{where}: {error}") from None


def _status(value: int, line: str) -> Status:
    try:
        return Status(value)
    except ValueError:
        raise FaultError(f"rule {line!r}: status byte {value:#x} is not a SAM status") from None


def _sense(key: int, asc: int, ascq: int, line: str) -> sense.SenseCode | None:
    if key == 0 and asc == 0 and ascq == 0:
        return None
    try:
        return sense.SenseCode(SenseKey(key), asc & 0xFF, ascq & 0xFF)
    except ValueError:
        raise FaultError(f"rule {line!r}: sense key {key:#x} is not a sense key") from None


def _status_name(value: object, where: str) -> Status:
    names = {status.name.lower().replace("_", "-"): status for status in Status}
    if value not in names:
        raise FaultError(f"{where}: expected one of {', '.join(names)}, got {value!r}")
    return names[str(value)]


def _sense_triple(value: object, where: str) -> sense.SenseCode:
    if (
        not isinstance(value, list)
        or len(value) != 3
        or not all(isinstance(part, int) and 0 <= part <= 0xFF for part in value)
    ):
        raise FaultError(f"{where}: expected [sense key, ASC, ASCQ] as three bytes, got {value!r}")
    key, asc, ascq = value
    try:
        return sense.SenseCode(SenseKey(key), asc, ascq)
    except ValueError:
        raise FaultError(f"{where}: {key:#x} is not a sense key") from None


@dataclass(frozen=True)
class FaultRecord:
    """One injected fault, for reports: when, where and what."""

    time: int
    bus: str
    target: int
    lun: int
    opcode: int
    fault: str

    def __str__(self) -> str:
        return (
            f"{self.time / 1e9:.9f} {self.bus} target {self.target} lun {self.lun} "
            f"opcode {self.opcode:#04x}: {self.fault}"
        )


@dataclass
class FaultInjector:
    """scsi_debug's fault injection for the buses it is installed on."""

    scheduler: Scheduler
    every_nth: int = 0
    opts: Opts = NO_OPTS
    medium_error_start: int = MEDIUM_ERROR_START
    medium_error_count: int = MEDIUM_ERROR_COUNT
    delay_ns: int = 0
    random_delay: bool = False
    rules: list[FaultRule] = field(default_factory=list)
    records: list[FaultRecord] = field(default_factory=list)
    commands: int = 0
    _pending: bool = False
    _tsf_count: int = 0

    def __post_init__(self) -> None:
        self.set_opts(self.opts)
        if self.delay_ns < 0:
            raise FaultError(f"delay_ns {self.delay_ns}: expected 0 or more")

    def install(self, bus: SCSIBus) -> None:
        """Make this injector ``bus``'s fault policy."""
        bus.faults = self

    @staticmethod
    def check_opts(opts: int) -> Opts:
        """``opts`` as ``Opts``, refusing unknown bits and bits kextlab cannot honour."""
        unknown = opts & ~sum(Opts)
        if opts < 0 or unknown:
            raise FaultError(f"opts {opts:#x}: unknown bits {unknown:#x}; the highest is 0x10000")
        value = Opts(opts)
        for bit, why in UNSUPPORTED_OPTS.items():
            if value & bit:
                raise FaultError(f"opts bit {int(bit):#x} ({bit.name}) is not offered: {why}")
        return value

    def set_opts(self, opts: int) -> None:
        """Set the ``opts`` mask (see ``check_opts``)."""
        self.opts = self.check_opts(opts)

    def add_rule(self, rule: FaultRule) -> FaultRule:
        self.rules.append(rule)
        return rule

    def remove_rule(self, rule: FaultRule) -> None:
        self.rules.remove(rule)

    # -- the policy --------------------------------------------------------------------------

    def _record(self, bus: SCSIBus, target_id: int, request: SCSIRequest, fault: str) -> None:
        record = FaultRecord(
            self.scheduler.now, bus.name, target_id, request.lun, request.opcode, fault
        )
        self.records.append(record)
        self.scheduler.trace_point(
            f"{bus.name}.fault", f"{target_id}:{request.lun} {request.opcode:#04x} {fault}"
        )

    def _hit(self) -> bool:
        return bool(self.every_nth) and self.commands % abs(self.every_nth) == 0

    def on_command(
        self, bus: SCSIBus, target_id: int, target: SCSITarget, request: SCSIRequest
    ) -> FaultDecision | None:
        self.commands += 1
        if not (self.rules or self.every_nth or self.opts or self.delay_ns):
            return None  # nothing configured: every command passes untouched
        opts = self.opts
        if opts & Opts.NOISE:
            cdb = "" if opts & Opts.NO_CDB_NOISE else f" cdb {request.cdb.hex()}"
            self.scheduler.trace_point(
                f"{bus.name}.command", f"#{self.commands} {target_id}:{request.lun}{cdb}"
            )
        hit = self._hit()
        delay = self._delay()
        if hit and opts & Opts.HOST_BUSY:
            self._record(bus, target_id, request, "every_nth: busy (HOST_BUSY)")
            return FaultDecision(status=Status.BUSY)
        for rule in self.rules:
            if rule.action in (Action.ABORT_FAILS, Action.RESET_FAILS):
                continue
            if rule.matches(bus.name, target_id, request):
                rule.fire()
                decision = self._apply(rule, bus, target_id, target, request)
                decision.extra_delay_ns += delay
                return decision
        if hit:
            self._pending = True
            if self.every_nth < -1:
                self.every_nth = -1
            medium_access = self._medium_access(target, request)
            if opts & Opts.TIMEOUT or (opts & Opts.MAC_TIMEOUT and medium_access):
                self._record(bus, target_id, request, "every_nth: timeout")
                return FaultDecision(drop=True)
        if opts & Opts.RARE_TSF and self.every_nth:
            in_flight, depth = bus.queue_occupancy(target_id)
            if in_flight == depth - 1:
                self._tsf_count += 1
                if self._tsf_count >= abs(self.every_nth):
                    self._tsf_count = 0
                    self._record(bus, target_id, request, "every_nth: task set full (RARE_TSF)")
                    return FaultDecision(status=Status.TASK_SET_FULL)
        response = self._response_faults(bus, target_id, target, request)
        if response is None and delay:
            response = FaultDecision()
        if response is not None:
            response.extra_delay_ns += delay
        return response

    def on_task_management(
        self, bus: SCSIBus, target_id: int, function: str, request: SCSIRequest | None
    ) -> bool:
        if self.opts & Opts.RESET_NOISE:
            self.scheduler.trace_point(f"{bus.name}.task-management", f"{function} {target_id}")
        wanted = TASK_MANAGEMENT[function]
        for rule in self.rules:
            if rule.action is not wanted or not rule.active:
                continue
            if rule.bus is not None and rule.bus != bus.name:
                continue
            if rule.target is not None and rule.target != target_id:
                continue
            if request is not None and rule.lun is not None and rule.lun != request.lun:
                continue
            if rule.opcode is not None and (request is None or rule.opcode != request.opcode):
                continue
            rule.fire()
            subject = request or SCSIRequest(rule.lun or 0, b"\xff")
            self._record(bus, target_id, subject, f"rule: {function} fails")
            return False
        return True

    # -- what the faults do ---------------------------------------------------------------------

    def _delay(self) -> int:
        if not self.delay_ns:
            return 0
        if not self.random_delay:
            return self.delay_ns
        return self.scheduler.rng.stream("scsi-faults").randrange(self.delay_ns + 1)

    @staticmethod
    def _medium_access(target: SCSITarget, request: SCSIRequest) -> bool:
        unit = target.units.get(request.lun)
        info = unit.commands.get(request.opcode) if unit is not None else None
        return info is not None and info.medium_access

    def _apply(
        self,
        rule: FaultRule,
        bus: SCSIBus,
        target_id: int,
        target: SCSITarget,
        request: SCSIRequest,
    ) -> FaultDecision:
        action = rule.action
        self._record(bus, target_id, request, f"rule: {action.value}")
        if action is Action.TIMEOUT:
            return FaultDecision(drop=True)
        if action is Action.BUSY:
            return FaultDecision(status=Status.BUSY)
        if action is Action.TASK_SET_FULL:
            return FaultDecision(status=Status.TASK_SET_FULL)
        if action is Action.DROP_OFF_BUS:
            return FaultDecision(detach=True)
        if action is Action.DELAY:
            return FaultDecision(extra_delay_ns=rule.delay_ns)
        if action is Action.FAIL:
            return FaultDecision(outcome=lambda request: self._fail(target, request, rule))
        if action is Action.MEDIUM_ERROR:
            return FaultDecision(outcome=lambda request: self._medium_error(target, request, rule))
        if action is Action.TRANSPORT_ERROR:
            return FaultDecision(
                outcome=lambda request: _fail_with(target, request, TRANSPORT_PROBLEM)
            )
        if action is Action.RECOVERED_ERROR:
            return FaultDecision(after=lambda request: _recovered(target, request))
        return FaultDecision(outcome=lambda request: _short_transfer(target, request))

    def _response_faults(
        self, bus: SCSIBus, target_id: int, target: SCSITarget, request: SCSIRequest
    ) -> FaultDecision | None:
        """What reaches the response: MEDIUM_ERR's range, and a pending hit."""
        if not (self._pending or self.opts & Opts.MEDIUM_ERR):
            return None
        opcode = request.opcode
        span = transfer_of(request.cdb)
        if span is None:
            return None
        if self.opts & Opts.MEDIUM_ERR and opcode in READS:
            start, count = self.medium_error_start, self.medium_error_count
            lba, blocks = span
            if lba <= start + count - 1 and lba + blocks > start:
                bad = max(lba, start)
                self._record(bus, target_id, request, f"MEDIUM_ERR at LBA {bad}")
                return FaultDecision(
                    outcome=lambda request: _fail_with(
                        target, request, sense.READ_ERROR, information=bad
                    )
                )
        if not self._pending or (opcode not in READS and opcode not in WRITES):
            return None
        opts = self.opts
        if opts & Opts.TRANSPORT_ERR:
            self._pending = False
            self._record(bus, target_id, request, "pending hit: transport error")
            return FaultDecision(
                outcome=lambda request: _fail_with(target, request, TRANSPORT_PROBLEM)
            )
        if opts & Opts.RECOVERED_ERR:
            self._pending = False
            self._record(bus, target_id, request, "pending hit: recovered error")
            return FaultDecision(after=lambda request: _recovered(target, request))
        if opts & Opts.SHORT_TRANSFER and opcode in READS and span[1] > 1:
            self._pending = False
            self._record(bus, target_id, request, "pending hit: short transfer")
            return FaultDecision(outcome=lambda request: _short_transfer(target, request))
        return None

    def _fail(self, target: SCSITarget, request: SCSIRequest, rule: FaultRule) -> None:
        request.host_status = rule.host_status
        request.status = rule.status
        request.transferred = 0
        if rule.status is Status.CHECK_CONDITION and rule.sense_code is not None:
            _fail_with(target, request, rule.sense_code)

    def _medium_error(self, target: SCSITarget, request: SCSIRequest, rule: FaultRule) -> None:
        span = transfer_of(request.cdb)
        assert span is not None  # the rule matched a transfer
        code = sense.WRITE_ERROR if request.opcode in WRITES else sense.READ_ERROR
        _fail_with(target, request, code, information=max(span[0], rule.lba))


def _fail_with(
    target: SCSITarget, request: SCSIRequest, code: sense.SenseCode, information: int | None = None
) -> None:
    """CHECK CONDITION with ``code`` in the unit's sense format, no data moved."""
    unit = target.units.get(request.lun)
    request.transferred = 0
    request.check_condition(
        code,
        descriptor=unit.descriptor_sense if unit is not None else False,
        information=information,
    )


def _recovered(target: SCSITarget, request: SCSIRequest) -> None:
    """A command that succeeded reports RECOVERED ERROR; its data stays moved."""
    if request.ok:
        transferred = request.transferred
        _fail_with(target, request, sense.RECOVERED_ERROR)
        request.transferred = transferred


def _short_transfer(target: SCSITarget, request: SCSIRequest) -> None:
    """Run the command for half its blocks (scsi_debug's ``num /= 2``)."""
    span = transfer_of(request.cdb)
    assert span is not None  # only transfers get here
    shortened = replace(request, cdb=with_block_count(request.cdb, span[1] // 2), on_complete=None)
    target.execute(shortened)
    request.status = shortened.status
    request.sense = shortened.sense
    request.host_status = shortened.host_status
    request.transferred = shortened.transferred
