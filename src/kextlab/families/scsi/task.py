"""SCSITask: one SCSI command and everything about its execution.

Mirrors ``SCSITask`` (IOSCSIArchitectureModelFamily ``SCSITaskDefinition.h`` and
``SCSITask.cpp``; the logical-unit bytes and the task owner of the modern family).  A
task is made once by its owner (a peripheral driver, a user client, the target
scanner), *reused* for command after command (``ResetForNewTask``), and carries:

* what the *application layer* sets: the CDB (6, 10, 12 or 16 bytes, given as ints
  as Apple's overloads take them), the logical unit, the task attribute and tag, the
  data direction, buffer, offset and requested count, the timeout in milliseconds,
  the completion callback, the application-layer reference;
* what the *protocol layer* sets: the state, the service response, the status, the
  realized byte count, the autosense data, the protocol-layer reference, the
  execution mode (the command itself, or the REQUEST SENSE the protocol layer sends
  on its behalf).

Autosense.  The task owns a sense buffer of ``kSenseDefaultSize`` bytes, as Apple's
does.  A protocol layer that receives sense with the command's completion stores it
with ``SetAutoSenseData``; ``GetAutoSenseData`` returns it (None while there is
none).  A protocol layer that does not always report sense
(``kSCSIProtocolFeature_ProtocolAlwaysReportsAutosenseData`` false) makes sure the
task has a *descriptor* for its sense buffer (``EnsureAutosenseDescriptorExists``, an
``IOBufferMemoryDescriptor`` made once per task and released in ``free``) so that it
can run the REQUEST SENSE given by ``SetAutosenseCommand`` into it; when that
succeeds, ``SetAutosenseIsValid(True)`` copies the sense from the descriptor.
(Apple aliases one buffer; kextlab's sense buffer is a Python ``bytearray`` and its
descriptor lives in the machine's memory, so the copy stands in for the alias.)

Within the SCSI family, the code that builds, sends and completes a task on the I/O
path (the command sets, the protocol services, the parallel task) reads and writes
these fields directly, each place commented: a task goes through some forty accessor
calls per command otherwise.  Drivers, HBAs and user clients use the accessors.

Threading rules: a task belongs to whoever holds it (its owner between commands,
the protocol layer while it is active); nothing here blocks or takes locks.  The
completion callback is called by the protocol layer in whatever context the task
completes (for the parallel family: the controller's work loop with its gate
closed), so it must not block.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from kextlab.families.scsi.definitions import (
    kSCSICDBSize_6Byte,
    kSCSICDBSize_10Byte,
    kSCSICDBSize_12Byte,
    kSCSICDBSize_16Byte,
    kSCSICDBSize_Maximum,
    kSCSIDataTransfer_FromTargetToInitiator,
    kSCSIServiceResponse_SERVICE_DELIVERY_OR_TARGET_FAILURE,
    kSCSITask_SIMPLE,
    kSCSITaskMode_CommandExecution,
    kSCSITaskState_ENDED,
    kSCSITaskState_NEW_TASK,
    kSCSITaskStatus_GOOD,
    kSCSIUntaggedTaskIdentifier,
    kSenseDefaultSize,
)
from kextlab.kernel.memory.buffer import IOBufferMemoryDescriptor
from kextlab.kernel.memory.options import kIODirectionIn
from kextlab.kernel.workloop.command import IOCommand

if TYPE_CHECKING:
    from kextlab.kernel.libkern.object import OSObject
    from kextlab.kernel.memory.descriptor import IOMemoryDescriptor

#: Apple's ``SCSITaskCompletion``: called with the completed task.
SCSITaskCompletion = Callable[["SCSITask"], None]

_CDB_SIZES = (kSCSICDBSize_6Byte, kSCSICDBSize_10Byte, kSCSICDBSize_12Byte, kSCSICDBSize_16Byte)
_ZERO_CDB = bytes(kSCSICDBSize_Maximum)
_LUN_BYTES = 8
#: The states of a task that is not active (new, or ended): it may be reset.
_IDLE_STATES = (kSCSITaskState_NEW_TASK, kSCSITaskState_ENDED)


class SCSITask(IOCommand):
    """One SCSI command, reusable (``SCSITask : IOCommand``)."""

    __slots__ = (
        "_autosense_cdb",
        "_autosense_cdb_size",
        "_autosense_descriptor",
        "_autosense_realized",
        "_autosense_requested",
        "_autosense_valid",
        "_cdb",
        "_cdb_size",
        "_completion",
        "_data_buffer",
        "_data_offset",
        "_direction",
        "_execution_mode",
        "_logical_unit",
        "_logical_unit_bytes",
        "_owner",
        "_realized",
        "_references",
        "_requested",
        "_sense",
        "_service_response",
        "_tag",
        "_task_attribute",
        "_task_state",
        "_task_status",
        "_timeout",
    )

    def __init__(self) -> None:
        super().__init__()
        self._owner: OSObject | None = None
        # The CDBs are immutable 16-byte blocks, replaced whole: resetting one is a
        # store, and ``GetCommandDescriptorBlock`` hands it out without a copy.
        self._cdb = _ZERO_CDB
        self._autosense_cdb = _ZERO_CDB
        self._sense = bytearray(kSenseDefaultSize)
        self._autosense_descriptor: IOBufferMemoryDescriptor | None = None
        self._task_state = kSCSITaskState_NEW_TASK
        # protocol, application, target and path layer references, in that order
        self._references: list[object] = [None, None, None, None]
        self._execution_mode = kSCSITaskMode_CommandExecution
        self._logical_unit_bytes: bytes | None = None
        self._data_buffer: IOMemoryDescriptor | None = None
        self._completion: SCSITaskCompletion | None = None
        self.ResetForNewTask()

    @classmethod
    def create(cls, owner: OSObject | None = None) -> SCSITask:
        """A new task, owned by ``owner`` if given (kextlab's shorthand for
        ``OSTypeAlloc(SCSITask)``, ``init``, ``SetTaskOwner``)."""
        task = cls()
        task.init()
        if owner is not None:
            task.SetTaskOwner(owner)
        return task

    def init(self) -> bool:
        self._task_state = kSCSITaskState_NEW_TASK
        return self.ResetForNewTask()

    def free(self) -> None:
        if self._owner is not None:
            self._owner.release()
            self._owner = None
        if self._autosense_descriptor is not None:
            self._autosense_descriptor.release()
            self._autosense_descriptor = None
        self._data_buffer = None
        self._completion = None
        self._references = [None, None, None, None]
        super().free()

    def __repr__(self) -> str:
        size = self._cdb_size
        return (
            f"<SCSITask {self._cdb[:size].hex(' ') or '-'} lun {self._logical_unit} "
            f"state {self._task_state} response {self._service_response} "
            f"status {self._task_status:#04x}>"
        )

    # -- owner and reuse ---------------------------------------------------------------------

    def SetTaskOwner(self, taskOwner: OSObject | None) -> bool:
        if taskOwner is None:
            return False
        taskOwner.retain()
        if self._owner is not None:
            self._owner.release()
        self._owner = taskOwner
        return True

    def GetTaskOwner(self) -> OSObject | None:
        return self._owner

    def ResetForNewTask(self) -> bool:
        """Clear the task for its next command; False (and nothing changed) while the
        task is active."""
        if self._task_state not in _IDLE_STATES:  # ``IsTaskActive``, inline: every command
            return False
        self._task_attribute = kSCSITask_SIMPLE
        self._tag = kSCSIUntaggedTaskIdentifier
        self._task_state = kSCSITaskState_NEW_TASK
        self._task_status = kSCSITaskStatus_GOOD
        self._logical_unit = 0
        self._logical_unit_bytes = None
        self._cdb = _ZERO_CDB
        self._cdb_size = 0
        self._direction = 0
        self._data_buffer = None
        self._data_offset = 0
        self._requested = 0
        self._realized = 0
        self._timeout = 0
        self._completion = None
        self._service_response = kSCSIServiceResponse_SERVICE_DELIVERY_OR_TARGET_FAILURE
        references = self._references
        references[0] = references[1] = None
        self._autosense_requested = False
        self._autosense_cdb = _ZERO_CDB
        self._autosense_cdb_size = 0
        self._autosense_valid = False
        self._autosense_realized = 0
        return True

    def IsTaskActive(self) -> bool:
        """True unless the task is new or ended."""
        return self._task_state not in _IDLE_STATES

    # -- addressing and attributes -----------------------------------------------------------

    def SetLogicalUnitNumber(self, newLUN: int) -> bool:
        self._logical_unit = newLUN
        self._logical_unit_bytes = None
        return True

    def GetLogicalUnitNumber(self) -> int:
        return self._logical_unit

    def SetLogicalUnitBytes(self, logicalUnitBytes: bytes) -> bool:
        """Set the full 8-byte SAM LUN (hierarchical addressing); the LUN number
        follows for peripheral and flat addressing."""
        if len(logicalUnitBytes) != _LUN_BYTES:
            return False
        self._logical_unit_bytes = bytes(logicalUnitBytes)
        method = logicalUnitBytes[0] >> 6
        if method == 0:  # peripheral device addressing
            self._logical_unit = logicalUnitBytes[1]
        elif method == 1:  # flat space addressing
            self._logical_unit = ((logicalUnitBytes[0] & 0x3F) << 8) | logicalUnitBytes[1]
        return True

    def GetLogicalUnitBytes(self) -> bytes:
        """The 8-byte SAM LUN: as set, or encoded from the LUN number (peripheral
        addressing below 256, flat space addressing below 16384)."""
        if self._logical_unit_bytes is not None:
            return self._logical_unit_bytes
        lun = self._logical_unit
        if lun < 0x100:
            return bytes((0, lun, 0, 0, 0, 0, 0, 0))
        return bytes((0x40 | ((lun >> 8) & 0x3F), lun & 0xFF, 0, 0, 0, 0, 0, 0))

    def SetTaskAttribute(self, newAttributeValue: int) -> bool:
        self._task_attribute = newAttributeValue
        return True

    def GetTaskAttribute(self) -> int:
        return self._task_attribute

    def SetTaggedTaskIdentifier(self, newTag: int) -> bool:
        self._tag = newTag
        return True

    def GetTaggedTaskIdentifier(self) -> int:
        return self._tag

    def SetTaskState(self, newTaskState: int) -> bool:
        self._task_state = newTaskState
        return True

    def GetTaskState(self) -> int:
        return self._task_state

    def SetTaskStatus(self, newTaskStatus: int) -> bool:
        self._task_status = newTaskStatus
        return True

    def GetTaskStatus(self) -> int:
        return self._task_status

    # -- the command descriptor block --------------------------------------------------------

    def SetCommandDescriptorBlock(self, *cdbBytes: int) -> bool:
        """Apple's four overloads in one: 6, 10, 12 or 16 bytes, each an int."""
        size = len(cdbBytes)
        if size not in _CDB_SIZES:
            raise TypeError(f"SetCommandDescriptorBlock takes 6, 10, 12 or 16 bytes, not {size}")
        self._cdb = bytes(cdbBytes).ljust(kSCSICDBSize_Maximum, b"\0")
        self._cdb_size = size
        return True

    def GetCommandDescriptorBlockSize(self) -> int:
        return self._cdb_size

    def GetCommandDescriptorBlock(self) -> bytes:
        """The CDB as Apple's ``SCSICommandDescriptorBlock``: always 16 bytes, the
        unused ones zero (``GetCommandDescriptorBlockSize`` says how many count)."""
        return self._cdb

    def command_bytes(self) -> bytes:
        """The CDB's own bytes (``GetCommandDescriptorBlockSize`` of them)."""
        return self._cdb[: self._cdb_size]

    # -- data --------------------------------------------------------------------------------

    def SetDataTransferDirection(self, newDataTransferDirection: int) -> bool:
        self._direction = newDataTransferDirection
        return True

    def GetDataTransferDirection(self) -> int:
        return self._direction

    def SetRequestedDataTransferCount(self, requestedTransferCountInBytes: int) -> bool:
        self._requested = requestedTransferCountInBytes
        return True

    def GetRequestedDataTransferCount(self) -> int:
        return self._requested

    def SetRealizedDataTransferCount(self, realizedTransferCountInBytes: int) -> bool:
        self._realized = realizedTransferCountInBytes
        return True

    def GetRealizedDataTransferCount(self) -> int:
        return self._realized

    def SetDataBuffer(self, newDataBuffer: IOMemoryDescriptor | None) -> bool:
        self._data_buffer = newDataBuffer
        return True

    def GetDataBuffer(self) -> IOMemoryDescriptor | None:
        return self._data_buffer

    def SetDataBufferOffset(self, newDataBufferOffset: int) -> bool:
        self._data_offset = newDataBufferOffset
        return True

    def GetDataBufferOffset(self) -> int:
        return self._data_offset

    def SetTimeoutDuration(self, timeoutValue: int) -> bool:
        """The task's timeout in milliseconds (0: the longest the protocol allows)."""
        self._timeout = timeoutValue
        return True

    def GetTimeoutDuration(self) -> int:
        return self._timeout

    # -- completion --------------------------------------------------------------------------

    def SetTaskCompletionCallback(self, newCallback: SCSITaskCompletion | None) -> bool:
        self._completion = newCallback
        return True

    def TaskCompletedNotification(self) -> None:
        """Call the completion callback (the protocol layer does, once per command)."""
        callback = self._completion
        if callback is not None:
            callback(self)

    def SetServiceResponse(self, serviceResponse: int) -> bool:
        self._service_response = serviceResponse
        return True

    def GetServiceResponse(self) -> int:
        return self._service_response

    # -- autosense ---------------------------------------------------------------------------

    def SetAutoSenseData(
        self, senseData: bytes | bytearray | memoryview, senseDataSize: int | None = None
    ) -> bool:
        """Store the sense that came with the completion (at most the buffer's
        ``kSenseDefaultSize`` bytes, as Apple copies ``min`` of both sizes)."""
        size = len(senseData) if senseDataSize is None else min(senseDataSize, len(senseData))
        size = min(size, len(self._sense))
        if size == 0:
            return True
        self._sense[:size] = bytes(senseData[:size])
        self._sense[size:] = bytes(len(self._sense) - size)
        self._autosense_valid = True
        self._autosense_realized = size
        return True

    def GetAutoSenseData(self) -> bytes | None:
        """The sense data (as many bytes as were received), or None if there is none."""
        if not self._autosense_valid:
            return None
        return bytes(self._sense[: self._autosense_realized or len(self._sense)])

    def GetAutoSenseDataSize(self) -> int:
        """The size of the task's sense buffer (Apple's meaning: not the count received)."""
        return len(self._sense)

    def SetAutosenseCommand(self, *cdbBytes: int) -> bool:
        """The 6-byte REQUEST SENSE the protocol layer should send if the command ends
        in CHECK CONDITION without sense; asks for autosense."""
        if len(cdbBytes) != kSCSICDBSize_6Byte:
            raise TypeError(f"SetAutosenseCommand takes 6 bytes, not {len(cdbBytes)}")
        self._autosense_cdb = bytes(cdbBytes).ljust(kSCSICDBSize_Maximum, b"\0")
        self._autosense_cdb_size = kSCSICDBSize_6Byte
        self._autosense_requested = True
        return True

    def IsAutosenseRequested(self) -> bool:
        return self._autosense_requested

    def SetAutosenseIsValid(self, newAutosenseState: bool) -> bool:
        """Protocol layer: the REQUEST SENSE it sent succeeded (or the sense is void).
        Marking it valid takes the sense from the autosense descriptor."""
        if newAutosenseState:
            descriptor = self._autosense_descriptor
            if descriptor is not None:
                count = min(self._autosense_realized or len(self._sense), len(self._sense))
                descriptor.readBytes(0, self._sense, count)
                self._autosense_realized = count
        self._autosense_valid = newAutosenseState
        return True

    def GetAutosenseCommandDescriptorBlockSize(self) -> int:
        return self._autosense_cdb_size

    def GetAutosenseCommandDescriptorBlock(self) -> bytes:
        return self._autosense_cdb

    def GetAutosenseDataTransferDirection(self) -> int:
        return kSCSIDataTransfer_FromTargetToInitiator

    def GetAutosenseRequestedDataTransferCount(self) -> int:
        return self.GetAutoSenseDataSize()

    def SetAutosenseRealizedDataCount(self, realizedTransferCountInBytes: int) -> bool:
        self._autosense_realized = realizedTransferCountInBytes
        return True

    def GetAutosenseRealizedDataCount(self) -> int:
        return self._autosense_realized

    def EnsureAutosenseDescriptorExists(self) -> None:
        """Make the sense buffer's descriptor if there is none yet (once per task)."""
        if self._autosense_descriptor is None:
            self._autosense_descriptor = IOBufferMemoryDescriptor.withCapacity(
                len(self._sense), kIODirectionIn
            )

    def GetAutosenseDataBuffer(self) -> IOMemoryDescriptor | None:
        self.EnsureAutosenseDescriptorExists()
        return self._autosense_descriptor

    def SetTaskExecutionMode(self, newTaskMode: int) -> bool:
        self._execution_mode = newTaskMode
        return True

    def GetTaskExecutionMode(self) -> int:
        return self._execution_mode

    # -- layer references --------------------------------------------------------------------

    def SetProtocolLayerReference(self, newReferenceValue: object) -> bool:
        self._references[0] = newReferenceValue
        return True

    def GetProtocolLayerReference(self) -> object:
        return self._references[0]

    def SetApplicationLayerReference(self, newReferenceValue: object) -> bool:
        self._references[1] = newReferenceValue
        return True

    def GetApplicationLayerReference(self) -> object:
        return self._references[1]

    def SetTargetLayerReference(self, newReferenceValue: object) -> bool:
        self._references[2] = newReferenceValue
        return True

    def GetTargetLayerReference(self) -> object:
        return self._references[2]

    def SetPathLayerReference(self, newReferenceValue: object) -> bool:
        self._references[3] = newReferenceValue
        return True

    def GetPathLayerReference(self) -> object:
        return self._references[3]


__all__ = ["SCSITask", "SCSITaskCompletion"]
