"""The command path: submission, interrupts, completion, timeouts, internal commands.

Mirrors Linux ``mvumi_queue_command``/``mvumi_send_command`` (submission),
``mvumi_isr_handler``/``mvumi_clear_intr``/``mvumi_handle_clob``/
``mvumi_complete_cmd`` (completion), ``mvumi_timed_out`` (timeouts) and
``mvumi_issue_blocked_cmd`` (the driver's own commands), as the part of
``MarvellUMI`` that the seed maps onto ``ProcessParallelTask``,
``FilterInterruptRequest``/``HandleInterruptRequest``, ``CompleteParallelTask`` and
``HandleTimeout`` (IOSCSIParallelFamily ``IOSCSIParallelInterfaceController.h``).
``MarvellUMI`` (``driver.py``) owns one ``CommandPath`` from the end of the first
handshake on and hands it those calls; the command path reads tasks through the
controller's accessors (``GetCommandDescriptorBlock(task)`` ...), as the seed's
table says a driver must.

Design
------
*Submission* (``ProcessParallelTask``, on the client's thread or in a completion)
is taken into the gate, so that submissions, completions and timeouts are
serialised.  A task gets a tag; its frame is written straight into the next inbound
entry, its SG list by ``gen64IOVMSegments`` with the chip's own segment function
(``frames.OutputMarvellSGL``); ``inb_write_pointer`` is rung once per batch and the
timeout armed.  A task that finds no tag or no inbound room waits on ``waiting``
(Linux's ``waiting_req_list``) and goes out, in order, when a completion frees one:
the family always gets ``Request_In_Process`` for a task the driver accepts.  A
task the chip cannot express at all (no DMA mapping) is refused at once with
``SERVICE_DELIVERY_OR_TARGET_FAILURE``, which the family turns into its completion.
The HBA data of each task (``TASK_DATA``) says which tag it holds and where it is.

*Completion*: the filter (primary interrupt context) reads ``main_int_cause``,
answers False when nothing of ours is pending (the INTx line is shared) and otherwise
acknowledges the causes (write-1-to-clear) and defers to ``HandleInterruptRequest``
(work loop, gate held): doorbells become requests to the management thread, new
outbound entries are taken and completed by tag after checking the echoed
``request_id``, with sense and realized count set before ``CompleteParallelTask``.
The protocol has no residual: GOOD means everything moved; a CHECK CONDITION
moved nothing unless its sense key says the command completed (NO SENSE,
RECOVERED ERROR).  LUN 0 "not supported" (05/25/00) is the firmware's way of
saying that no device answered at that ID: it becomes ``DeviceNotPresent``, the
family's word for it, and a rescan.

*Timeouts*: mvumi has no abort.  A command that timed out is given up on the host
and its task completed with ``TaskTimeoutOccurred``; its tag stays out of use
(``LOST``) until the firmware answers late (the answer is dropped) or is reset,
because the firmware still holds that command.  Two timeouts in a row, half the
tags lost, or a chip that reads all ones ask the management thread for a reset.

*Internal commands* (INQUIRY, ``F4 00``, ``E1 01 0B``) share the tags and lists with
the family's tasks; the thread that sends one sleeps in the gate
(``commandSleep``) until its answer, and takes the answers itself every
``INTERNAL_POLL_NS`` as well: a driver's own scan or flush must not hang on one lost
interrupt.  The power-safe stop waits the same way until the firmware holds nothing
(``drain``).

Threading rules: ``filter_interrupt`` in primary interrupt context (register reads
and W1C writes only); ``process`` and ``run_internal`` from kernel threads (they
take the gate; ``run_internal`` blocks); everything else with the gate held.
"""

from __future__ import annotations

import contextlib
import struct
from collections import deque
from typing import TYPE_CHECKING, Any, Final

from kextlab.families.scsi.definitions import (
    kSCSIDataTransfer_FromTargetToInitiator,
    kSCSIDataTransfer_NoDataTransfer,
    kSCSIServiceResponse_Request_In_Process,
    kSCSIServiceResponse_SERVICE_DELIVERY_OR_TARGET_FAILURE,
    kSCSIServiceResponse_TASK_COMPLETE,
    kSCSITaskStatus_CHECK_CONDITION,
    kSCSITaskStatus_DeliveryFailure,
    kSCSITaskStatus_DeviceNotPresent,
    kSCSITaskStatus_GOOD,
    kSCSITaskStatus_TaskTimeoutOccurred,
    kSENSE_KEY_ILLEGAL_REQUEST,
    kSENSE_KEY_NO_SENSE,
    kSENSE_KEY_RECOVERED_ERROR,
)
from kextlab.kernel.clock import mach_absolute_time
from kextlab.kernel.ioreturn import kIOReturnSuccess
from kextlab.kernel.locks import THREAD_UNINT
from kextlab.kernel.log import IOLog
from kextlab.kernel.memory.dma_command import IODMACommand
from kextlab.kernel.memory.refs import UInt32Ref, UInt64Ref

from . import registers as mv
from .frames import mark_end_of_table, response_sense, sg_area, write_frame
from .lists import TagPool, physical_address

if TYPE_CHECKING:
    from kextlab.families.scsi.parallel.parallel_task import SCSIParallelTask
    from kextlab.kernel.memory.buffer import IOBufferMemoryDescriptor
    from kextlab.kernel.memory.device_memory import IOMemoryMap

    from .driver import MarvellUMI
    from .handshake import FirmwareCapabilities
    from .lists import CommunicationLists

#: The HBA's private data per task (``ReportHBASpecificTaskDataSize``): the tag the
#: task holds, the request_id of its frame, and where it is (``IDLE``...).
TASK_DATA: Final = struct.Struct("<HHI")
NO_TAG: Final = 0xFFFF
IDLE: Final = 0
QUEUED: Final = 1  # on ``waiting``
ISSUED: Final = 2  # in the inbound list or the firmware

#: How the submission of one command went.
_SENT: Final = 0
_NO_ROOM: Final = 1
_DMA_FAILED: Final = 2

#: Escalation: timeouts in a row, with no completion between them, before a reset.
TIMEOUTS_BEFORE_RESET: Final = 2
#: How often a thread waiting for an internal command polls for its answer.
INTERNAL_POLL_NS: Final = 10_000_000
_MILLISECOND_NS: Final = 1_000_000


class InternalCommand:
    """A command the driver sends for itself (Linux's internal ``mvumi_cmd``):
    INQUIRY for the scan, ``F4 00`` for the events, ``E1 01 0B`` for the flush.
    Data, if any, comes in through the driver's internal buffer."""

    __slots__ = ("cdb", "data_length", "done", "status", "tag", "target")

    def __init__(self, target: int, cdb: bytes, data_length: int = 0) -> None:
        self.target = target
        self.cdb = cdb
        self.data_length = data_length
        self.done = False
        self.status: int | None = None  # None: no answer (timed out, reset, stopped)
        self.tag = NO_TAG

    def finish(self, status: int | None) -> None:
        self.status = status
        self.done = True


class _Lost:
    """The table entry of a tag whose command timed out: the firmware still holds it."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<lost>"


LOST: Final = _Lost()


class CommandPath:
    """The command path of one controller, between two resets of its lists' cursors."""

    def __init__(
        self,
        driver: MarvellUMI,
        registers: IOMemoryMap,
        chip: mv.Chip,
        lists: CommunicationLists,
        capabilities: FirmwareCapabilities,
        internal_buffer: IOBufferMemoryDescriptor,
        statistics: dict[str, int],
    ) -> None:
        self.driver = driver
        self.registers = registers
        self.chip = chip
        self.lists = lists
        self.capabilities = capabilities
        self.internal_buffer = internal_buffer
        self.internal_buffer_address = physical_address(internal_buffer)
        self.statistics = statistics
        self.tags = TagPool(capabilities.max_io)
        #: By tag: the task or internal command it carries, ``LOST``, or None.
        self.commands: list[Any] = [None] * capabilities.max_io
        self.request_ids = [0] * capabilities.max_io
        self.waiting: deque[Any] = deque()
        self.io_seq = 0
        self.accepting = False
        self.resetting = False
        self.failed = False
        self.pending_causes = 0
        self.pending_doorbells = 0
        self.consecutive_timeouts = 0
        self.lost_tags = 0
        self._offset = UInt64Ref()
        self._count = UInt32Ref()
        self._sg_tablesize = capabilities.sg_tablesize
        self._max_transfer = capabilities.max_transfer_size
        # The family's accessors, looked up once: they run several times per command.
        self._get_cdb = driver.GetCommandDescriptorBlock
        self._get_cdb_size = driver.GetCommandDescriptorBlockSize
        self._get_direction = driver.GetDataTransferDirection
        self._get_requested = driver.GetRequestedDataTransferCount
        self._get_target = driver.GetTargetIdentifier
        self._get_lun = driver.GetLogicalUnitNumber
        self._get_hba_data = driver.GetHBADataPointer
        self._set_realized = driver.SetRealizedDataTransferCount
        self._complete = driver.CompleteParallelTask

    # -- submission -----------------------------------------------------------------------------

    def process(self, task: SCSIParallelTask) -> int:
        """``ProcessParallelTask``: send the task, or queue it until there is room."""
        loop = self.driver.GetWorkLoop()
        if loop is not None and loop.inGate():
            return self._process(task)
        gate = self.driver.GetCommandGate()
        if gate is None:
            return kSCSIServiceResponse_SERVICE_DELIVERY_OR_TARGET_FAILURE
        result = gate.runAction(self._gated_process, task)
        if result != kSCSIServiceResponse_Request_In_Process:
            return kSCSIServiceResponse_SERVICE_DELIVERY_OR_TARGET_FAILURE
        return kSCSIServiceResponse_Request_In_Process

    def _gated_process(self, _owner: object, task: Any, *_: object) -> int:
        return self._process(task)

    def _process(self, task: SCSIParallelTask) -> int:
        if not self.accepting or self.failed:
            return kSCSIServiceResponse_SERVICE_DELIVERY_OR_TARGET_FAILURE
        if (
            self._get_cdb_size(task) > mv.MAX_COMMAND_SIZE
            or self._get_requested(task) > self._max_transfer
            or self._get_lun(task) > 0xFF
        ):
            return kSCSIServiceResponse_SERVICE_DELIVERY_OR_TARGET_FAILURE
        data = self._task_data(task)
        self.statistics["Commands"] += 1
        if not self.waiting and not self.resetting:
            outcome = self._send_task(task, data)
            if outcome == _DMA_FAILED:
                TASK_DATA.pack_into(data, 0, NO_TAG, 0, IDLE)
                return kSCSIServiceResponse_SERVICE_DELIVERY_OR_TARGET_FAILURE
            if outcome == _SENT:
                self.lists.ring(self.registers)
                self.driver.SetTimeoutForTask(task)
                return kSCSIServiceResponse_Request_In_Process
        TASK_DATA.pack_into(data, 0, NO_TAG, 0, QUEUED)
        self.waiting.append(task)
        self.driver.SetTimeoutForTask(task)  # a task may time out while it waits, too
        return kSCSIServiceResponse_Request_In_Process

    def _task_data(self, task: SCSIParallelTask) -> memoryview:
        """The task's HBA data (``TASK_DATA``)."""
        data = self._get_hba_data(task)
        assert data is not None, "ReportHBASpecificTaskDataSize gives every task its data"
        return data

    def _next_request_id(self) -> int:
        self.io_seq = request_id = (self.io_seq + 1) & 0xFFFF
        return request_id

    def _send_task(self, task: SCSIParallelTask, data: memoryview) -> int:
        """Write the task's frame into the next inbound entry (not rung yet)."""
        lists, tags = self.lists, self.tags
        if not len(tags) or lists.inbound_full(self.registers):
            return _NO_ROOM
        entry = lists.free_entry()
        direction = self._get_direction(task)
        length = self._get_requested(task)
        sg_count = 0
        if direction == kSCSIDataTransfer_NoDataTransfer or not length:
            flag = mv.CMD_FLAG_NON_DATA
            length = 0
        else:
            dma = self.driver.GetDMACommand(task)
            if dma.prepare(self.driver.GetDataBufferOffset(task), length) != kIOReturnSuccess:
                return _DMA_FAILED
            sg_count = self._build_sg_list(dma, entry, length)
            if not sg_count:
                dma.complete()
                return _DMA_FAILED
            if direction == kSCSIDataTransfer_FromTargetToInitiator:
                flag = mv.CMD_FLAG_DATA_IN
            else:
                flag = mv.CMD_FLAG_DATA_OUT
        tag = tags.get()
        assert tag is not None
        request_id = self._next_request_id()
        write_frame(
            entry,
            self._get_target(task) | self._get_lun(task) << 8,
            tag,
            flag,
            self._get_cdb(task),
            self._get_cdb_size(task),
            sg_count,
            length,
            request_id,
        )
        lists.post()
        self.commands[tag] = task
        self.request_ids[tag] = request_id
        TASK_DATA.pack_into(data, 0, tag, request_id, ISSUED)
        return _SENT

    def _build_sg_list(self, dma: IODMACommand, entry: memoryview, length: int) -> int:
        """The SG list of a prepared command, written into ``entry`` by the command;
        the number of entries, or 0.  Memory too scattered for one inbound entry is
        double-buffered into one contiguous copy (``kForceDoubleBuffer``)."""
        area = sg_area(entry)
        offset, count = self._offset, self._count
        offset.value = 0
        count.value = self._sg_tablesize
        result = dma.gen64IOVMSegments(offset, area, count)
        if result != kIOReturnSuccess or offset.value < length:
            if dma.synchronize(IODMACommand.kForceDoubleBuffer) != kIOReturnSuccess:
                return 0
            self.statistics["Double Buffered"] += 1
            offset.value = 0
            count.value = self._sg_tablesize
            result = dma.gen64IOVMSegments(offset, area, count)
            if result != kIOReturnSuccess or offset.value < length:
                return 0
        mark_end_of_table(entry, count.value)
        return count.value

    def refire(self) -> None:
        """Send what waits, in order, while there is room (Linux ``mvumi_fire_cmd``)."""
        waiting = self.waiting
        if not waiting or self.resetting:
            return
        sent = False
        while waiting:
            command = waiting[0]
            if type(command) is InternalCommand:
                outcome = self._send_internal(command)
            else:
                outcome = self._send_task(command, self._task_data(command))
            if outcome == _NO_ROOM:
                break
            waiting.popleft()
            if outcome == _SENT:
                sent = True
            elif type(command) is InternalCommand:
                command.finish(None)
            else:
                self._fail_task(command, kSCSITaskStatus_DeliveryFailure)
        if sent:
            self.lists.ring(self.registers)

    # -- interrupts -----------------------------------------------------------------------------

    def filter_interrupt(self) -> bool:
        """``FilterInterruptRequest`` (primary interrupt context): ours?  If so,
        acknowledge the causes (write 1 to clear) and defer to the work loop."""
        registers, chip = self.registers, self.chip
        cause = registers.ioRead32(chip.main_int_cause_reg)
        if cause == mv.DEAD_CHIP or not cause & chip.int_mu:
            # Not ours (the line is shared), or a chip that reads all ones, whose INTx
            # cannot be ours either: the timeout path finds it dead.
            self.statistics["Interrupts (Not Ours)"] += 1
            return False
        if cause & chip.int_comaerr:
            errors = registers.ioRead32(chip.outb_isr_cause) & chip.clic_errors
            if errors:
                registers.ioWrite32(chip.outb_isr_cause, errors)
        if cause & chip.int_comaout:
            status = registers.ioRead32(chip.outb_isr_cause)
            if status & chip.clic_irq:
                registers.ioWrite32(chip.outb_isr_cause, chip.clic_irq)
        if cause & chip.int_dl_cpu2pciea:
            doorbells = registers.ioRead32(chip.arm_to_pciea_drbl_reg)
            if doorbells:
                registers.ioWrite32(chip.arm_to_pciea_drbl_reg, doorbells)
                self.pending_doorbells |= doorbells
        self.pending_causes |= cause
        self.statistics["Interrupts"] += 1
        return True

    def handle_interrupt(self) -> None:
        """``HandleInterruptRequest`` (gate held): doorbells, the outbound list, then
        what waits."""
        causes, self.pending_causes = self.pending_causes, 0
        doorbells, self.pending_doorbells = self.pending_doorbells, 0
        driver = self.driver
        if causes & self.chip.int_comaerr:
            self.statistics["List Errors"] += 1
            IOLog(
                "%s: communication list error; the commands it hit will time out\n",
                driver.getName(),
            )
        management = driver.management
        if doorbells and management is not None:
            if doorbells & mv.DRBL_BUS_CHANGE:
                self.statistics["Bus Changes"] += 1
                management.request_scan(bus_change=True)
            if doorbells & mv.DRBL_EVENT_NOTIFY:
                management.request_events()
        if self.resetting:
            return
        self.take_responses()
        self.refire()

    def take_responses(self) -> None:
        """Every outbound entry the firmware wrote since last time, in Linux's two
        steps: ``mvumi_receive_ob_list_entry`` copies each entry out and gives the
        slots back (``outb_read_pointer``), then ``mvumi_handle_clob`` completes the
        copies by tag.  Giving the slots back first frees the firmware sooner and
        keeps the register write out of the completions, which wake their clients."""
        lists, registers = self.lists, self.registers
        end = lists.outbound_end(registers)
        current = lists.ob_cur_slot
        if current == end:
            return
        outbound, mask = lists.outbound, self.chip.cl_slot_num_mask
        unpack = mv.RSP_FRAME.unpack_from
        responses = []
        while current != end:
            current = lists.advance(current)
            entry = outbound[current & mask]
            _, tag, status, rsp_flag, request_id = unpack(entry)
            sense = response_sense(entry) if rsp_flag == mv.CL_RSP_FLAG_SENSEDATA else b""
            responses.append((tag, request_id, status, sense))
        lists.ob_cur_slot = current
        lists.taken(registers)
        for tag, request_id, status, sense in responses:
            self._response(tag, request_id, status, sense)

    def _response(self, tag: int, request_id: int, status: int, sense: bytes) -> None:
        commands = self.commands
        if tag >= len(commands) or commands[tag] is None or self.request_ids[tag] != request_id:
            self.statistics["Stale Responses"] += 1
            return
        command = commands[tag]
        commands[tag] = None
        self.tags.release(tag)
        if command is LOST:  # a late answer: the firmware gave the tag back
            self.lost_tags -= 1
            self.statistics["Stale Responses"] += 1
            return
        self.consecutive_timeouts = 0
        self.statistics["Completions"] += 1
        if type(command) is InternalCommand:
            command.finish(status)
            gate = self.driver.GetCommandGate()
            if gate is not None:
                gate.commandWakeup(command)
            return
        self._complete_task(command, status, sense)

    # -- completion -----------------------------------------------------------------------------

    def _finish_dma(self, task: SCSIParallelTask) -> None:
        if self._get_direction(task) != kSCSIDataTransfer_NoDataTransfer and self._get_requested(
            task
        ):
            self.driver.GetDMACommand(task).complete()

    def _complete_task(self, task: SCSIParallelTask, status: int, sense: bytes) -> None:
        """Hand a response to the family: sense and realized count first (Linux
        ``mvumi_complete_cmd``; the protocol reports no residual)."""
        self._finish_dma(task)
        TASK_DATA.pack_into(self._task_data(task), 0, NO_TAG, 0, IDLE)
        requested = self._get_requested(task)
        if status == kSCSITaskStatus_GOOD:
            self._set_realized(task, requested)
            self._complete(task, kSCSITaskStatus_GOOD, kSCSIServiceResponse_TASK_COMPLETE)
            return
        realized = 0
        if status == kSCSITaskStatus_CHECK_CONDITION and len(sense) >= 14:
            key, asc, ascq = sense[2] & 0x0F, sense[12], sense[13]
            if (key, asc, ascq) == (kSENSE_KEY_ILLEGAL_REQUEST, 0x25, 0x00) and not self._get_lun(
                task
            ):
                # LUN 0 "not supported": the firmware found no device at this ID.
                self._device_gone(task)
                return
            self.driver.SetAutoSenseData(task, sense, len(sense))
            if key in (kSENSE_KEY_NO_SENSE, kSENSE_KEY_RECOVERED_ERROR):
                realized = requested  # the command completed, with a warning
        self._set_realized(task, realized)
        self._complete(task, status, kSCSIServiceResponse_TASK_COMPLETE)

    def _device_gone(self, task: SCSIParallelTask) -> None:
        self._set_realized(task, 0)
        self._complete(
            task,
            kSCSITaskStatus_DeviceNotPresent,
            kSCSIServiceResponse_SERVICE_DELIVERY_OR_TARGET_FAILURE,
        )
        driver = self.driver
        if driver.management is not None and self._get_target(task) in driver.present:
            driver.management.request_scan()

    def _fail_task(self, task: SCSIParallelTask, status: int) -> None:
        """Complete a task the firmware will never answer."""
        TASK_DATA.pack_into(self._task_data(task), 0, NO_TAG, 0, IDLE)
        self._set_realized(task, 0)
        self._complete(task, status, kSCSIServiceResponse_SERVICE_DELIVERY_OR_TARGET_FAILURE)

    def abandon(self, *, including_waiting: bool) -> None:
        """Everything sent (and, if asked, waiting) is over without an answer: the
        firmware was reset, or the controller stops.  Internal commands wake with no
        status, tasks fail with ``DeliveryFailure``, lost tags come back."""
        gate = self.driver.GetCommandGate()
        commands = self.commands
        abandoned: list[Any] = []
        for tag, command in enumerate(commands):
            if command is not None and command is not LOST:
                abandoned.append(command)
            commands[tag] = None
        if including_waiting:
            abandoned.extend(self.waiting)
            self.waiting.clear()
        self.tags.reset()
        self.lost_tags = 0
        self.consecutive_timeouts = 0
        for command in abandoned:
            if type(command) is InternalCommand:
                command.finish(None)
                if gate is not None:
                    gate.commandWakeup(command)
                continue
            if TASK_DATA.unpack_from(self._task_data(command))[2] == ISSUED:
                self._finish_dma(command)
            self._fail_task(command, kSCSITaskStatus_DeliveryFailure)

    # -- timeouts -------------------------------------------------------------------------------

    def handle_timeout(self, task: SCSIParallelTask) -> None:
        """``HandleTimeout`` (gate held): give the task up on the host (mvumi has no
        abort), complete it, and escalate when timeouts repeat or the chip is gone."""
        data = self._task_data(task)
        tag, _, state = TASK_DATA.unpack_from(data)
        if state == QUEUED:
            with contextlib.suppress(ValueError):
                self.waiting.remove(task)
        elif state == ISSUED:
            if tag < len(self.commands) and self.commands[tag] is task:
                self.commands[tag] = LOST  # the tag stays out until the firmware answers
                self.lost_tags += 1
            self._finish_dma(task)
        TASK_DATA.pack_into(data, 0, NO_TAG, 0, IDLE)
        self.statistics["Timeouts"] += 1
        self.consecutive_timeouts += 1
        driver = self.driver
        IOLog(
            "%s: command %02x to target %u timed out after %u ms\n",
            driver.getName(),
            self._get_cdb(task)[0],
            self._get_target(task),
            driver.GetTimeoutDuration(task),
        )
        self._set_realized(task, 0)
        self._complete(
            task,
            kSCSITaskStatus_TaskTimeoutOccurred,
            kSCSIServiceResponse_SERVICE_DELIVERY_OR_TARGET_FAILURE,
        )
        self.consider_reset()

    def consider_reset(self) -> None:
        """Ask for a reset if timeouts say the firmware is stuck, or the chip is gone."""
        management = self.driver.management
        if self.resetting or self.failed or management is None:
            return
        reason = ""
        if self.registers.ioRead32(self.chip.main_int_cause_reg) == mv.DEAD_CHIP:
            reason = "the chip reads all ones"
        elif self.consecutive_timeouts >= TIMEOUTS_BEFORE_RESET:
            reason = f"{self.consecutive_timeouts} commands timed out in a row"
        elif self.lost_tags * 2 >= self.tags.size:
            reason = f"{self.lost_tags} commands are lost in the firmware"
        if reason:
            management.request_reset(reason)

    # -- the driver's own commands --------------------------------------------------------------

    def _send_internal(self, command: InternalCommand) -> int:
        lists, tags = self.lists, self.tags
        if not len(tags) or lists.inbound_full(self.registers):
            return _NO_ROOM
        entry = lists.free_entry()
        sg_count = 0
        flag = mv.CMD_FLAG_NON_DATA
        if command.data_length:
            flag = mv.CMD_FLAG_DATA_IN
            address = self.internal_buffer_address
            mv.SGL_ENTRY.pack_into(
                entry,
                mv.MSG_FRAME.size,
                address & 0xFFFF_FFFF,
                address >> 32,
                mv.SGD_EOT,
                command.data_length,
            )
            sg_count = 1
        tag = tags.get()
        assert tag is not None
        request_id = self._next_request_id()
        write_frame(
            entry,
            command.target,
            tag,
            flag,
            command.cdb,
            len(command.cdb),
            sg_count,
            command.data_length,
            request_id,
        )
        lists.post()
        command.tag = tag
        self.commands[tag] = command
        self.request_ids[tag] = request_id
        return _SENT

    def in_firmware(self) -> int:
        """Commands sent and not answered (lost ones not counted)."""
        return sum(1 for command in self.commands if command is not None and command is not LOST)

    def drain(self, timeout_ms: int) -> bool:
        """Wait until the firmware has answered every command it holds, taking the
        answers by polling as well (a kernel thread without the gate); True if it
        did within ``timeout_ms``.  For the power-safe stop: writes in flight reach
        the disk before its cache is flushed."""
        gate = self.driver.GetCommandGate()
        if gate is None:
            return False
        return bool(gate.runAction(self._gated_drain, timeout_ms))

    def _gated_drain(self, _owner: object, timeout_ms: Any, *_: object) -> bool:
        assert isinstance(timeout_ms, int)
        gate = self.driver.GetCommandGate()
        assert gate is not None
        deadline = mach_absolute_time() + timeout_ms * _MILLISECOND_NS
        while self.in_firmware() and not self.resetting and not self.failed:
            now = mach_absolute_time()
            if now >= deadline:
                return False
            gate.commandSleep(
                self._drained_event, min(deadline, now + INTERNAL_POLL_NS), THREAD_UNINT
            )
            self.take_responses()
        return not self.in_firmware()

    @property
    def _drained_event(self) -> tuple[str, int]:
        return ("MarvellUMI drained", id(self))

    def run_internal(self, command: InternalCommand, timeout_ms: int) -> bool:
        """Send ``command`` and wait for its answer (a kernel thread without the
        gate); True if it completed GOOD.  Its data is then ``internal_data``."""
        gate = self.driver.GetCommandGate()
        if gate is None:
            return False
        gate.runAction(self._gated_internal, command, timeout_ms)
        return command.status == kSCSITaskStatus_GOOD

    def _gated_internal(self, _owner: object, command: Any, timeout_ms: Any, *_: object) -> int:
        assert isinstance(command, InternalCommand)
        assert isinstance(timeout_ms, int)
        if self.failed:
            command.finish(None)
            return kIOReturnSuccess
        self.waiting.append(command)
        self.refire()
        gate = self.driver.GetCommandGate()
        assert gate is not None
        deadline = mach_absolute_time() + timeout_ms * _MILLISECOND_NS
        while not command.done:
            now = mach_absolute_time()
            if now >= deadline:
                self._give_up_internal(command)
                break
            gate.commandSleep(command, min(deadline, now + INTERNAL_POLL_NS), THREAD_UNINT)
            if not command.done and not self.resetting:
                self.take_responses()
                self.refire()
        return kIOReturnSuccess

    def _give_up_internal(self, command: InternalCommand) -> None:
        if command in self.waiting:
            self.waiting.remove(command)
        elif command.tag != NO_TAG and self.commands[command.tag] is command:
            self.commands[command.tag] = LOST
            self.lost_tags += 1
            self.statistics["Timeouts"] += 1
            self.consecutive_timeouts += 1
        command.finish(None)
        self.consider_reset()

    def internal_data(self, length: int) -> bytes:
        """What the last internal command read (INQUIRY data, the event list)."""
        return bytes(self.internal_buffer.getBytesNoCopy()[:length])
