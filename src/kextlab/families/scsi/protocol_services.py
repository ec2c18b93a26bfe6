"""IOSCSIProtocolServices: the transport side of the protocol interface.

Mirrors ``IOSCSIProtocolServices`` (IOSCSIArchitectureModelFamily
``IOSCSIProtocolServices.h``/``.cpp``).  A transport driver (the parallel family's
per-target nub, later others) subclasses it and implements two methods:

* ``SendSCSICommand(request, serviceResponse, taskStatus) -> bool``: put the task on
  the wire.  True means *accepted*: either it is in progress (``serviceResponse``
  left at ``kSCSIServiceResponse_Request_In_Process``) or it finished at once
  (another response, with ``taskStatus``; the task is then completed at once, its
  callback included, where Apple's family only marks it ended).  False means "not
  now" (no resources): the task goes back to the head of the queue and is sent again
  after the next completion.
* ``AbortSCSICommand(request)``.

and calls ``CommandCompleted(request, serviceResponse, taskStatus)`` when a command
it accepted is done.

Design
------
``ExecuteCommand`` enables the task and appends it to a FIFO queue, then *drives
the queue*: it sends tasks until the queue is empty or the transport refuses one.
Only one party drives the queue at a time (Apple's busy bit); a party that finds
it driven just leaves its task queued.  A completion that happens while someone
drives the queue sets the completion bit, and the driver then goes round once more
instead of leaving a refused task stranded with nobody left to send it.  Apple
guards the queue with an ``IOSimpleLock`` and atomic bit operations; in kextlab a
machine has one virtual CPU and a kernel thread only loses it at a preemption point,
and none of the queue's critical sections contains one, so plain operations are
atomic here (the busy and completion bits still matter: ``SendSCSICommand`` can
block, in the parallel family when it waits for a free parallel task).

Autosense.  When a task completes with CHECK CONDITION, asked for autosense
(``SCSITask.SetAutosenseCommand``) and the transport brought no sense with it, the
task is switched to autosense mode and put at the very head of the queue: the
transport then sends the task's REQUEST SENSE (the mode-aware accessors below give
the autosense CDB, direction, count and buffer) and the client's completion runs
only after that.  Transports that always report sense
(``kSCSIProtocolFeature_ProtocolAlwaysReportsAutosenseData``) never need it.

A removed device (``SendNotification_DeviceRemoved``) refuses new tasks and fails
every queued one with ``SERVICE_DELIVERY_OR_TARGET_FAILURE``; its status is
``kSCSITaskStatus_DeviceNotPresent`` (Apple's 2004 family says ``No_Status``; the
status the parallel family uses for a target that is gone is more useful to a
client and is what the HBA contract prescribes for it).

Threading rules: ``ExecuteCommand`` may be called from kernel threads and from
completion callbacks (work-loop thread, gate held); ``CommandCompleted`` is called
by the subclass in its completion context (the HBA's work loop, gate held).  Neither
blocks by itself; ``SendSCSICommand`` may block when called from a kernel thread
that is not the work loop's.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from kextlab.families.scsi.definitions import (
    kIOPropertyProtocolCharacteristicsKey,
    kSCSIProtocolFeature_ProtocolAlwaysReportsAutosenseData,
    kSCSIProtocolNotification_VerifyDeviceState,
    kSCSIServiceResponse_FUNCTION_REJECTED,
    kSCSIServiceResponse_Request_In_Process,
    kSCSIServiceResponse_SERVICE_DELIVERY_OR_TARGET_FAILURE,
    kSCSIServiceResponse_TASK_COMPLETE,
    kSCSITaskMode_Autosense,
    kSCSITaskMode_CommandExecution,
    kSCSITaskState_ENABLED,
    kSCSITaskState_ENDED,
    kSCSITaskStatus_CHECK_CONDITION,
    kSCSITaskStatus_DeviceNotPresent,
    kSCSITaskStatus_GOOD,
    kSCSITaskStatus_No_Status,
)
from kextlab.families.scsi.protocol_interface import IOSCSIProtocolInterface
from kextlab.families.scsi.task import SCSITask
from kextlab.kernel.libkern.collections import OSDictionary
from kextlab.kernel.libkern.object import OSDynamicCast
from kextlab.kernel.memory.refs import UInt32Ref
from kextlab.kernel.service.service import IOService

if TYPE_CHECKING:
    from kextlab.kernel.memory.descriptor import IOMemoryDescriptor

kSCSITaskQueueBusyMask = 0x1
kSCSITaskQueueCompletionMask = 0x2


class IOSCSIProtocolServices(IOSCSIProtocolInterface):
    """A SCSI transport: the task queue, autosense and completion."""

    def __init__(self) -> None:
        super().__init__()
        self.fAllowServiceRequests = False
        self.fRequiresAutosenseDescriptor = True
        self.fSemaphore = 0
        self._queue: deque[SCSITask] = deque()
        self._response = UInt32Ref()
        self._status = UInt32Ref()

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, provider: IOService) -> bool:
        if not super().start(provider):
            return False
        self.fAllowServiceRequests = True
        self._merge_protocol_characteristics(provider)
        self.fRequiresAutosenseDescriptor = not self.IsProtocolServiceSupported(
            kSCSIProtocolFeature_ProtocolAlwaysReportsAutosenseData, None
        )
        return True

    def _merge_protocol_characteristics(self, provider: IOService) -> None:
        """Copy the provider's ``Protocol Characteristics``, merged with ours."""
        theirs = OSDynamicCast(
            OSDictionary, provider.getProperty(kIOPropertyProtocolCharacteristicsKey)
        )
        if theirs is None:
            return
        merged = OSDictionary.withDictionary(theirs)
        ours = OSDynamicCast(OSDictionary, self.getProperty(kIOPropertyProtocolCharacteristicsKey))
        if ours is not None:
            merged.merge(ours)
        self.setProperty(kIOPropertyProtocolCharacteristicsKey, merged)
        merged.release()

    # -- the transport's part (subclasses implement) -----------------------------------------

    def SendSCSICommand(
        self, request: SCSITask, serviceResponse: UInt32Ref, taskStatus: UInt32Ref
    ) -> bool:
        raise NotImplementedError(f"{self.getClassName()} does not implement SendSCSICommand")

    def AbortSCSICommand(self, request: SCSITask) -> int:
        raise NotImplementedError(f"{self.getClassName()} does not implement AbortSCSICommand")

    def AbortCommand(self, request: SCSITask) -> int:
        return self.AbortSCSICommand(request)

    # -- the application layer's entry --------------------------------------------------------

    def ExecuteCommand(self, request: SCSITask) -> None:
        """Queue ``request`` and send what the transport will take."""
        self.retain()  # the protocol driver stays while it has commands
        if not self.fAllowServiceRequests:
            self.RejectTask(request)
            return
        # The task's state and mode written, its autosense request read, directly (one
        # family: see ``task``); the queue appended to in place (``AddSCSITaskToQueue``).
        request._task_state = kSCSITaskState_ENABLED
        request._execution_mode = kSCSITaskMode_CommandExecution
        if self.fRequiresAutosenseDescriptor and request._autosense_requested:
            request.EnsureAutosenseDescriptorExists()
        self._queue.append(request)
        self.SendSCSITasksFromQueue()

    # -- the queue ---------------------------------------------------------------------------

    def AddSCSITaskToQueue(self, request: SCSITask) -> None:
        """Append ``request`` (the queue is strictly first in, first out, as Apple's)."""
        self._queue.append(request)

    def AddSCSITaskToHeadOfQueue(self, request: SCSITask) -> None:
        """Put ``request`` back at the head, behind any autosense requests already
        there (an autosense request itself goes to the very front)."""
        queue = self._queue
        if (
            not queue
            or request.GetTaskExecutionMode() == kSCSITaskMode_Autosense
            or queue[0].GetTaskExecutionMode() != kSCSITaskMode_Autosense
        ):
            queue.appendleft(request)
            return
        position = 0
        while position < len(queue) and queue[position].GetTaskExecutionMode() == (
            kSCSITaskMode_Autosense
        ):
            position += 1
        queue.insert(position, request)

    def RetrieveNextSCSITaskFromQueue(self) -> SCSITask | None:
        return self._queue.popleft() if self._queue else None

    def queued_task_count(self) -> int:
        """How many tasks wait in the queue (ours: for tests and diagnostics)."""
        return len(self._queue)

    def SendSCSITasksFromQueue(self) -> None:
        """Send queued tasks until the queue is empty or the transport refuses one."""
        queue, response, status = self._queue, self._response, self._status
        while queue:
            if self.fSemaphore & kSCSITaskQueueBusyMask:
                return  # someone else drives the queue
            self.fSemaphore |= kSCSITaskQueueBusyMask
            drained = False
            while True:
                self.fSemaphore &= ~kSCSITaskQueueCompletionMask
                if not queue:  # ``RetrieveNextSCSITaskFromQueue``, inline
                    drained = True
                    break
                victim = queue.popleft()
                response.value = kSCSIServiceResponse_Request_In_Process
                status.value = kSCSITaskStatus_No_Status
                if not self.SendSCSICommand(victim, response, status):
                    self.AddSCSITaskToHeadOfQueue(victim)
                    break
                if response.value != kSCSIServiceResponse_Request_In_Process:
                    # Finished at once: complete it like any other (Apple only marks
                    # it ended, leaving its client waiting and the retain held).
                    self.ProcessCompletedTask(victim, response.value, status.value)
            self.fSemaphore &= ~kSCSITaskQueueBusyMask
            if not drained and not self.fSemaphore & kSCSITaskQueueCompletionMask:
                return  # refused, and no completion since: the next one resends

    def RejectSCSITasksCurrentlyQueued(self) -> None:
        while (victim := self.RetrieveNextSCSITaskFromQueue()) is not None:
            self.RejectTask(victim)

    def AbortSCSITaskFromQueue(self, request: SCSITask) -> bool:
        """Take ``request`` out of the queue if it is still there and fail it with a
        delivery failure (it was never sent); False if it was not queued."""
        try:
            self._queue.remove(request)
        except ValueError:
            return False
        self.RejectTask(request)
        return True

    # -- completion --------------------------------------------------------------------------

    def CommandCompleted(self, request: SCSITask, serviceResponse: int, taskStatus: int) -> None:
        """The transport finished ``request``: complete it and send what waits."""
        if not self.fAllowServiceRequests:
            self.RejectTask(request)
            return
        self.fSemaphore |= kSCSITaskQueueCompletionMask
        self.ProcessCompletedTask(request, serviceResponse, taskStatus)
        if self._queue:  # ``SendSCSITasksFromQueue`` has nothing to do otherwise
            self.SendSCSITasksFromQueue()

    def ProcessCompletedTask(
        self, request: SCSITask, serviceResponse: int, taskStatus: int
    ) -> None:
        # The task's mode, response and status, directly (one family: see ``task``).
        if request._execution_mode == kSCSITaskMode_CommandExecution:
            request._service_response = serviceResponse
            request._task_status = taskStatus
            if (
                taskStatus == kSCSITaskStatus_CHECK_CONDITION
                and serviceResponse == kSCSIServiceResponse_TASK_COMPLETE
                and request._autosense_requested
                and request.GetAutoSenseData() is None
                and request.GetAutosenseDataBuffer() is not None
            ):
                request._execution_mode = kSCSITaskMode_Autosense
                self.AddSCSITaskToHeadOfQueue(request)
                return  # the client hears of it after the REQUEST SENSE
        elif (
            serviceResponse == kSCSIServiceResponse_TASK_COMPLETE
            and taskStatus == kSCSITaskStatus_GOOD
        ):
            request.SetAutosenseIsValid(True)
        self._finish(request)

    def RejectTask(self, request: SCSITask) -> None:
        """Fail ``request`` without sending it (or any further)."""
        request.SetServiceResponse(kSCSIServiceResponse_SERVICE_DELIVERY_OR_TARGET_FAILURE)
        request.SetTaskStatus(
            kSCSITaskStatus_No_Status
            if self.fAllowServiceRequests
            else kSCSITaskStatus_DeviceNotPresent
        )
        self._finish(request)

    def _finish(self, request: SCSITask) -> None:
        request._task_state = kSCSITaskState_ENDED  # its ``SetTaskState``, directly
        self.release()  # the retain ExecuteCommand took
        callback = request._completion  # its ``TaskCompletedNotification``, inline
        if callback is not None:
            callback(request)

    # -- device state ------------------------------------------------------------------------

    def SendNotification_DeviceRemoved(self) -> None:
        """The device is gone: refuse new tasks, fail the queued ones."""
        self.fAllowServiceRequests = False
        self.RejectSCSITasksCurrentlyQueued()

    def SendNotification_VerifyDeviceState(self) -> None:
        """Tell the application layer to check the device again (after a bus reset)."""
        self.messageClients(kSCSIProtocolNotification_VerifyDeviceState)

    # -- task management: the transport handles them (default: rejected) ---------------------

    def AbortTask(self, theLogicalUnit: int, theTag: int) -> int:
        return self.HandleAbortTask(theLogicalUnit, theTag)

    def AbortTaskSet(self, theLogicalUnit: int) -> int:
        return self.HandleAbortTaskSet(theLogicalUnit)

    def ClearACA(self, theLogicalUnit: int) -> int:
        return self.HandleClearACA(theLogicalUnit)

    def ClearTaskSet(self, theLogicalUnit: int) -> int:
        return self.HandleClearTaskSet(theLogicalUnit)

    def LogicalUnitReset(self, theLogicalUnit: int) -> int:
        return self.HandleLogicalUnitReset(theLogicalUnit)

    def TargetReset(self) -> int:
        return self.HandleTargetReset()

    def HandleAbortTask(self, theLogicalUnit: int, theTag: int) -> int:
        return kSCSIServiceResponse_FUNCTION_REJECTED

    def HandleAbortTaskSet(self, theLogicalUnit: int) -> int:
        return kSCSIServiceResponse_FUNCTION_REJECTED

    def HandleClearACA(self, theLogicalUnit: int) -> int:
        return kSCSIServiceResponse_FUNCTION_REJECTED

    def HandleClearTaskSet(self, theLogicalUnit: int) -> int:
        return kSCSIServiceResponse_FUNCTION_REJECTED

    def HandleLogicalUnitReset(self, theLogicalUnit: int) -> int:
        return kSCSIServiceResponse_FUNCTION_REJECTED

    def HandleTargetReset(self) -> int:
        return kSCSIServiceResponse_FUNCTION_REJECTED

    # -- the target ----------------------------------------------------------------------------

    def CreateSCSITargetDevice(self) -> bool:
        """Create the object that manages this target's logical units."""
        from kextlab.families.scsi.target_device import IOSCSITargetDevice

        return IOSCSITargetDevice.Create(self)

    # -- mode-aware task accessors (the command, or its REQUEST SENSE) ------------------------

    # These read the task's mode and fields directly (one family: see ``task``).

    @staticmethod
    def GetCommandDescriptorBlockSize(request: SCSITask) -> int:
        if request._execution_mode == kSCSITaskMode_CommandExecution:
            return request._cdb_size
        return request._autosense_cdb_size

    @staticmethod
    def GetCommandDescriptorBlock(request: SCSITask) -> bytes:
        if request._execution_mode == kSCSITaskMode_CommandExecution:
            return request.GetCommandDescriptorBlock()
        return request.GetAutosenseCommandDescriptorBlock()

    @staticmethod
    def GetDataTransferDirection(request: SCSITask) -> int:
        if request._execution_mode == kSCSITaskMode_CommandExecution:
            return request._direction
        return request.GetAutosenseDataTransferDirection()

    @staticmethod
    def GetRequestedDataTransferCount(request: SCSITask) -> int:
        if request._execution_mode == kSCSITaskMode_CommandExecution:
            return request._requested
        return request.GetAutosenseRequestedDataTransferCount()

    @staticmethod
    def SetRealizedDataTransferCount(request: SCSITask, newRealizedDataCount: int) -> bool:
        if request._execution_mode == kSCSITaskMode_CommandExecution:
            request._realized = newRealizedDataCount
        else:
            request._autosense_realized = newRealizedDataCount
        return True

    @staticmethod
    def GetRealizedDataTransferCount(request: SCSITask) -> int:
        if request._execution_mode == kSCSITaskMode_CommandExecution:
            return request._realized
        return request._autosense_realized

    @staticmethod
    def GetDataBuffer(request: SCSITask) -> IOMemoryDescriptor | None:
        if request._execution_mode == kSCSITaskMode_CommandExecution:
            return request._data_buffer
        return request.GetAutosenseDataBuffer()

    @staticmethod
    def GetDataBufferOffset(request: SCSITask) -> int:
        if request._execution_mode == kSCSITaskMode_CommandExecution:
            return request._data_offset
        return 0


__all__ = ["IOSCSIProtocolServices"]
