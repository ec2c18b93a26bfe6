"""The message unit at work: the lists, the commands in flight, the responses.

Design
------
Once the handshake has ended, the firmware's side of the message unit is a loop
over two rings in host memory (``rings.py``); ``MessageUnit`` is that loop for one
handshake's worth of lists.  The firmware (``firmware.py``) creates one at HS_S_END
and stops it at any reset; a stopped unit ignores the completions of the commands it
started, so a target finishing after a reset writes nothing the host could mistake
for an answer, as firmware that rebooted has forgotten its commands.

* **Inbound.**  On the firmware's service event, the unit takes inbound entries up
  to ``inb_write_pointer`` while it has a free command slot (``max_io_support``).
  Entries beyond that stay in the list, ``inb_read_pointer`` not moving past them:
  that is how the chip pushes back, and the host's list-full check
  (``mvumi_check_ib_list_9143``) sees it.  After taking entries the unit DMA-writes
  the number of free inbound entries to ib_shadow (the "inbound available count"
  the 9580 driver reads; harmless on the 9143, whose driver only writes it).  A
  write pointer more than a list's depth ahead is an overrun: the entries are
  dropped and clic_in_err raised.
* **Commands.**  Each entry is read by DMA and checked (``frames.py``).  SCSI
  commands become a ``SCSIRequest`` for the ``SCSIBus`` whose data buffer is the SG
  list, resolved by bus-master DMA only when the target moves the data.  The
  firmware's own commands are answered here: ``F4 00`` returns the event log
  (``events.py``), ``E1 01 0B`` is the shutdown flush.
* **Outbound.**  A finished command's response goes to the entry after
  ``outb_copy_pointer``, then the pointer moves, the 9143 DMA-writes the slot to
  ob_shadow, and clic_irq is set.  If the host has not yet taken every entry, the
  response waits, in order, until ``outb_read_pointer`` moves.  A command's slot is
  free once its response is in host memory (or lost to a DMA fault).

Hot path: every command passes through ``_accept``, ``_scsi_command``,
``_command_done`` and ``_post``, so they read registers from ``RegisterFile.values``,
test flags as plain integers, build the request straight from the frame's fields
and write the response with one ``pack_into``; every check the firmware makes is
still made, in the same order, with the same reports.

Threading rules: none of its own; it runs in the firmware's service event, in bus
completion events and in register hooks, and never blocks.
"""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Protocol

from kextlab.machine.devices.mvumi import registers as mv
from kextlab.machine.devices.mvumi.events import event_request
from kextlab.machine.devices.mvumi.frames import (
    InboundFrame,
    Rejection,
    ScatterGatherBuffer,
    check_frame,
    pack_response,
    parse_sg_list,
)
from kextlab.machine.devices.mvumi.rings import InboundList, OutboundList, PointerFormat
from kextlab.machine.scsi import sense
from kextlab.machine.scsi.constants import SenseKey, Status
from kextlab.machine.scsi.request import Direction, HostStatus, SCSIRequest

if TYPE_CHECKING:
    from kextlab.machine.devices.mvumi.events import EventLog
    from kextlab.machine.devices.mvumi.handshake import (
        FirmwareCapabilities,
        ListConfiguration,
    )
    from kextlab.machine.registers import RegisterFile
    from kextlab.machine.scsi.bus import SCSIBus
    from kextlab.sim.trace import TraceRecorder

#: How the firmware reports failures below the SCSI layer (see ``registers``).
DATA_PHASE_ERROR = sense.SenseCode(SenseKey.ABORTED_COMMAND, 0x4B, 0x00, "data phase error")
COMMAND_ABORTED = sense.SenseCode(SenseKey.ABORTED_COMMAND, 0x00, 0x00, "command aborted")
HOST_STATUS_SENSE = {
    HostStatus.NO_TARGET: sense.LUN_NOT_SUPPORTED,
    HostStatus.TRANSPORT_ERROR: DATA_PHASE_ERROR,
    HostStatus.ABORTED: COMMAND_ABORTED,
    HostStatus.RESET: sense.SCSI_BUS_RESET,
}
_SHADOW = struct.Struct("<I")
_SHADOW_SIZE = _SHADOW.size
_CHECK_CONDITION = int(Status.CHECK_CONDITION)
_GOOD = int(Status.GOOD)
_FRAME_SIZE = mv.MSG_FRAME.size
_RESPONSE_LENGTH = mv.RESPONSE_LENGTH
_SGL_SIZE = mv.SGL_ENTRY.size
_DATA_IN = int(mv.CommandFlag.CMD_FLAG_DATA_IN)
_DATA_OUT = int(mv.CommandFlag.CMD_FLAG_DATA_OUT)
#: Enum members read on every command, as module constants (reading a member through
#: its class is a Python-level lookup).
_HOST_OK = HostStatus.OK
_DIRECTION_IN = Direction.IN
_DIRECTION_OUT = Direction.OUT
_DIRECTION_NONE = Direction.NONE

#: A response waiting for room in the outbound list.
_Response = tuple[int, int, int, int, bytes]  # device_id, tag, status, request_id, sense


class FirmwarePort(Protocol):
    """What the firmware sees of its chip: registers, DMA, interrupts, log channels."""

    name: str
    registers: RegisterFile

    @property
    def chip(self) -> mv.Chip: ...

    def dma_view(self, address: int, length: int, *, writing: bool) -> memoryview | None: ...

    def guest_error(self, message: str) -> None: ...

    def unimplemented(self, message: str) -> None: ...

    def trace(self, category: str, message: str) -> None: ...

    def update_interrupt(self) -> None: ...


@dataclass
class Counters:
    """Totals over every message unit of one firmware."""

    commands_accepted: int = 0
    responses_posted: int = 0


class MessageUnit:
    """The lists of one handshake, and the commands taken from them."""

    def __init__(
        self,
        port: FirmwarePort,
        bus: SCSIBus,
        capabilities: FirmwareCapabilities,
        lists: ListConfiguration,
        *,
        events: EventLog,
        counters: Counters,
        trace: TraceRecorder,
        kick: Callable[[], None],
        ring: Callable[[int], None],
    ) -> None:
        self._port = port
        self._registers = port.registers
        self._bits = bits = port.chip.bits
        self._writes_ob_shadow = port.chip.writes_ob_shadow
        self.bus = bus
        self.capabilities = capabilities
        self.events = events
        self.counters = counters
        self._trace = trace
        self._kick = kick
        self._ring = ring
        pointer_format = PointerFormat(bits.cl_pointer_toggle, bits.cl_slot_num_mask)
        self.inbound = InboundList(
            pointer_format, lists.inbound_base, lists.inbound_entry_size, lists.inbound_depth
        )
        self.outbound = OutboundList(
            pointer_format, lists.outbound_base, lists.outbound_entry_size, lists.outbound_depth
        )
        self.max_sg = mv.max_sg_entries(lists.inbound_entry_size)
        self.in_flight = 0
        self.active = True
        self._backlog: deque[_Response] = deque()
        self._values = port.registers.values
        self._max_io = capabilities.max_io
        self._max_devices = capabilities.max_devices
        self._max_transfer = capabilities.max_transfer
        self._clic_irq = bits.clic_irq
        self._slot_mask = bits.cl_slot_num_mask
        registers = self._registers
        registers["inb_write_pointer"] = registers["inb_read_pointer"] = self.inbound.start
        registers["outb_copy_pointer"] = registers["outb_read_pointer"] = self.outbound.start

    def __repr__(self) -> str:
        return f"<MessageUnit {self.inbound!r}, {self.outbound!r}, {self.in_flight} in flight>"

    def stop(self) -> None:
        """Forget every command: completions still to come are dropped."""
        self.active = False
        self._backlog.clear()
        self.in_flight = 0

    # -- the host's pointer writes (register hooks) ------------------------------------------

    def accept_write_pointer(self, pointer: int) -> bool:
        """Whether ``pointer`` can be an inb_write_pointer; reported if not."""
        inbound = self.inbound
        mask = inbound.slot_mask
        if not pointer & ~(inbound.toggle | mask) and (pointer & mask) < inbound.depth:
            return True  # inbound.well_formed(pointer), inlined: every command rings
        self._port.guest_error(
            f"inb_write_pointer {pointer:#x} is not a slot of the {inbound.depth}-entry "
            f"inbound list with its toggle bit; ignored"
        )
        return False

    def host_took(self, pointer: int) -> bool:
        """The host moved outb_read_pointer; False (reported) if it cannot have."""
        outbound = self.outbound
        mask = outbound.slot_mask
        if (
            not pointer & ~(outbound.toggle | mask)
            and (pointer & mask) < outbound.depth  # outbound.well_formed(pointer), inlined
            and outbound.host_took(pointer)
        ):
            if self._backlog:
                self._kick()
            return True
        self._port.guest_error(
            f"outb_read_pointer {pointer:#x} is not between the last one "
            f"({outbound.read_pointer:#x}) and outb_copy_pointer "
            f"({outbound.copy_pointer:#x}); ignored"
        )
        return False

    # -- the firmware's service ----------------------------------------------------------------

    def serve(self) -> None:
        """Post waiting responses the outbound list has room for, then take inbound
        entries and report the inbound credit."""
        backlog = self._backlog
        if backlog:
            outbound = self.outbound
            while backlog and not outbound.full:
                self._post(backlog.popleft())
        inbound = self.inbound
        write_pointer = self._values["inb_write_pointer"]
        pending = inbound.pending(write_pointer)
        if not pending:
            return
        if pending > inbound.depth:
            self._list_error(
                self._bits.clic_in_err,
                f"inbound list overrun: inb_write_pointer {write_pointer:#x} is {pending} "
                f"entries past inb_read_pointer {inbound.read_pointer:#x} in a "
                f"{inbound.depth}-entry list; those entries are dropped",
            )
            inbound.read_pointer = write_pointer
            self._registers["inb_read_pointer"] = write_pointer
            return
        max_io = self._max_io
        counters = self.counters
        taken = 0
        while pending and self.in_flight < max_io:
            address = inbound.take()
            pending -= 1
            taken += 1
            self.in_flight += 1
            counters.commands_accepted += 1
            self._accept(address)
        values = self._values
        values["inb_read_pointer"] = inbound.read_pointer
        if not taken:
            return
        # DMA-write the free inbound entries to ib_shadow (inb_aval_count_base).
        address = values["inb_aval_count_baseh"] << 32 | values["inb_aval_count_basel"]
        view = self._port.dma_view(address, _SHADOW_SIZE, writing=True)
        if view is None:
            self._list_error(self._bits.clic_in_err, f"ib_shadow at {address:#x} cannot be written")
            return
        _SHADOW.pack_into(view, 0, inbound.depth - pending)

    # -- commands --------------------------------------------------------------------------------

    def _accept(self, address: int) -> None:
        """Read the inbound entry at ``address`` and start its command."""
        port = self._port
        view = port.dma_view(address, _FRAME_SIZE, writing=False)
        if view is None:
            self.in_flight -= 1
            self._list_error(
                self._bits.clic_in_err,
                f"inbound entry at {address:#x} cannot be read; the command is lost",
            )
            return
        frame = InboundFrame.unpack(view)
        rejection = check_frame(frame, max_sg=self.max_sg, max_transfer=self._max_transfer)
        if rejection is not None:
            self._reject(frame, address, rejection)
            return
        segments: list[tuple[int, int]] = []
        sg_counts = frame.sg_counts
        if sg_counts:
            sg_view = port.dma_view(address + _FRAME_SIZE, sg_counts * _SGL_SIZE, writing=False)
            if sg_view is None:
                self._respond_sense(frame, DATA_PHASE_ERROR)
                return
            parsed = parse_sg_list(sg_view, sg_counts, frame.data_transfer_length)
            if isinstance(parsed, Rejection):
                self._reject(frame, address, parsed)
                return
            segments = parsed
        opcode = frame.cdb_field[0]
        if opcode == mv.APICDB0_EVENT:
            self._event_command(frame, segments)
        elif opcode == mv.SCSI_CMD_MARVELL_SPECIFIC:
            self._marvell_command(frame)
        else:
            self._scsi_command(frame, segments)

    def _reject(self, frame: InboundFrame, address: int, rejection: Rejection) -> None:
        self._port.guest_error(
            f"inbound frame at {address:#x} (tag {frame.tag}): {rejection.reason}; "
            f"answered {rejection.code}"
        )
        self._respond_sense(frame, rejection.code)

    def _buffer(
        self, frame: InboundFrame, segments: list[tuple[int, int]]
    ) -> ScatterGatherBuffer | None:
        if not frame.data_transfer_length:
            return None
        return ScatterGatherBuffer(
            self._port.dma_view,
            segments,
            frame.data_transfer_length,
            writing=frame.direction is Direction.IN,
        )

    def _scsi_command(self, frame: InboundFrame, segments: list[tuple[int, int]]) -> None:
        device_id = frame.device_id
        target = device_id & 0xFF
        if target >= self._max_devices:
            self._port.guest_error(
                f"command for target {target}, beyond max_devices_support "
                f"{self.capabilities.max_devices}"
            )
            self._respond_sense(frame, sense.LUN_NOT_SUPPORTED)
            return
        flag = frame.cmd_flag
        direction = (
            _DIRECTION_IN
            if flag & _DATA_IN
            else (_DIRECTION_OUT if flag & _DATA_OUT else _DIRECTION_NONE)
        )
        length = frame.data_transfer_length
        request = SCSIRequest(
            device_id >> 8,
            frame.cdb_field[: frame.cdb_length],
            direction,
            ScatterGatherBuffer(
                self._port.dma_view, segments, length, writing=direction is _DIRECTION_IN
            )
            if length
            else None,
            frame.tag,
            on_complete=partial(self._command_done, frame),
        )
        self.bus.submit(target, request)

    def _command_done(self, frame: InboundFrame, request: SCSIRequest) -> None:
        if not self.active:
            self._port.trace("discard", f"tag {frame.tag}: the firmware was reset meanwhile")
            return
        if request.host_status is _HOST_OK:
            status = int(request.status)
            self._respond(frame, status, request.sense if status == _CHECK_CONDITION else b"")
        else:
            self._respond_sense(frame, HOST_STATUS_SENSE[request.host_status])
        self._port.update_interrupt()
        # Entries waiting for a free command slot?  (inbound.pending() != 0: two
        # well-formed pointers are the same entry exactly when they are equal.)
        if self._values["inb_write_pointer"] != self.inbound.read_pointer:
            self._kick()

    def _event_command(self, frame: InboundFrame, segments: list[tuple[int, int]]) -> None:
        """F4 00: the oldest events, which leave the log once they reached the host."""
        cdb = frame.cdb
        function = cdb[1] if len(cdb) > 1 else -1
        if function == mv.APICDB1_HOST_GETEVENT:
            self._port.unimplemented("APICDB1_HOST_GETEVENT (hot-plug bitmaps)")
            self._respond_sense(frame, sense.INVALID_FIELD)
            return
        if function != mv.APICDB1_EVENT_GETEVENT or frame.direction is not Direction.IN:
            self._port.guest_error(
                f"event command {cdb.hex()} with cmd_flag {frame.cmd_flag:#x}: expected "
                f"F4 00 with DATA_IN"
            )
            self._respond_sense(frame, sense.INVALID_FIELD)
            return
        events = self.events.peek()
        buffer = self._buffer(frame, segments)
        if buffer is not None:
            data = event_request(events)[: buffer.length]
            if not buffer.write(0, data):
                self._respond_sense(frame, DATA_PHASE_ERROR)
                return
        self.events.drop(len(events))
        self._respond(frame, _GOOD, b"")
        if len(self.events):
            self._ring(mv.Doorbell.DRBL_EVENT_NOTIFY)

    def _marvell_command(self, frame: InboundFrame) -> None:
        """E1 01 0B, the shutdown flush; the firmware keeps no write cache to flush."""
        cdb = frame.cdb
        if cdb[1:3] != bytes([mv.CDB_CORE_MODULE, mv.CDB_CORE_SHUTDOWN]):
            self._port.unimplemented(f"Marvell-specific command {cdb.hex()}")
            self._respond_sense(frame, sense.INVALID_FIELD)
        elif self.bus.target(frame.target) is None:
            self._respond_sense(frame, sense.LUN_NOT_SUPPORTED)
        else:
            self._respond(frame, _GOOD, b"")

    # -- responses -------------------------------------------------------------------------------

    def _respond_sense(self, frame: InboundFrame, code: sense.SenseCode) -> None:
        self._respond(frame, _CHECK_CONDITION, code.build())

    def _respond(self, frame: InboundFrame, status: int, sense_data: bytes) -> None:
        response = (frame.device_id, frame.tag, status, frame.request_id, sense_data)
        if self._backlog or self.outbound.full:
            self._backlog.append(response)
            return
        self._post(response)

    def _post(self, response: _Response) -> None:
        """Write ``response`` to the next outbound entry and tell the host."""
        outbound = self.outbound
        port = self._port
        values = self._values
        self.in_flight -= 1
        pointer, address = outbound.next_entry()
        view = port.dma_view(address, _RESPONSE_LENGTH, writing=True)
        device_id, tag, status, request_id, sense_data = response
        if view is None:
            self._list_error(
                self._bits.clic_out_err,
                f"outbound entry at {address:#x} cannot be written; the response to tag "
                f"{tag} is lost",
            )
            return
        pack_response(
            view,
            device_id=device_id,
            tag=tag,
            status=status,
            request_id=request_id,
            sense=sense_data,
        )
        outbound.copy_pointer = pointer
        values["outb_copy_pointer"] = pointer  # a slot pointer: it fits the register
        if self._writes_ob_shadow:
            shadow = values["outb_copy_baseh"] << 32 | values["outb_copy_basel"]
            shadow_view = port.dma_view(shadow, _SHADOW_SIZE, writing=True)
            if shadow_view is None:
                self._list_error(
                    self._bits.clic_out_err, f"ob_shadow at {shadow:#x} cannot be written"
                )
            else:
                _SHADOW.pack_into(shadow_view, 0, pointer & self._slot_mask)
        values["outb_isr_cause"] |= self._clic_irq
        self.counters.responses_posted += 1
        if self._trace.enabled:
            port.trace("response", f"tag {tag} status {status:#04x} slot {pointer:#x}")

    def _list_error(self, bit: int, message: str) -> None:
        """A communication-list failure: guest error, and clic_in/out_err if the chip has it."""
        self._port.guest_error(message)
        if bit:
            registers = self._registers
            registers["outb_isr_cause"] = registers["outb_isr_cause"] | bit
        self._port.update_interrupt()
