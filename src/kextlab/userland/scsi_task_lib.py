"""SCSITaskLib for Python: SCSI pass-through from a user program.

A rendering of the user-space half of Apple's SCSI task user client, the
``SCSITaskLib`` plug-in (``UserClientLib/SCSITaskDeviceClass.cpp``,
``SCSITaskClass.cpp``, ``SCSITaskLib.h`` of IOSCSIArchitectureModelFamily), on
``IOServiceOpen`` / ``IOConnectCallMethod``; the kernel half is
``kextlab.families.scsi.user_client``.  Apple's plug-in is a COM interface
(``(*device)->ObtainExclusiveAccess(device)``); here the interfaces are objects with
Apple's method names, and out-parameters come back as tuples::

    device = SCSITaskDeviceInterface.open(service, task)   # a SCSITaskUserClientDevice
    scsi_task = device.CreateSCSITask()
    scsi_task.SetCommandDescriptorBlock(bytes([0x12, 0, 0, 0, 96, 0]))   # INQUIRY
    scsi_task.SetScatterGatherEntries([(buffer.address, 96)], 96,
                                      kSCSIDataTransfer_FromTargetToInitiator)
    result, sense, status, count = scsi_task.ExecuteTaskSync()
    scsi_task.Release(); device.close()

Exclusive access, as Apple's plug-in has it: a generic device (``SCSITaskDeviceCategory``
``SCSITaskUserClientDevice``: a tape, anything without an in-kernel driver) is the
program's alone once ``open`` succeeds, because the user client holds the logical
unit open; an authoring device (``SCSITaskAuthoringDevice``, whose in-kernel driver
stays) must be taken with ``ObtainExclusiveAccess`` first.  Tasks are created only
with exclusive access.

Each task keeps its results and sense buffers in one page of the program's memory
(``SetBuffers``); the data moves through the program's own buffers, named by
``SetScatterGatherEntries`` as ``(address, length)`` ranges of its memory
(``UserTask.vm_allocate``).  Only synchronous execution exists (see the kernel
module).

Threading rules: a user program's (host code inside ``with task:`` or a user thread).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from kextlab.families.scsi.definitions import (
    kSCSICDBSize_6Byte,
    kSCSICDBSize_10Byte,
    kSCSICDBSize_12Byte,
    kSCSICDBSize_16Byte,
    kSCSIDataTransfer_NoDataTransfer,
    kSCSIServiceResponse_TASK_COMPLETE,
    kSCSITask_SIMPLE,
    kSCSITaskState_ENDED,
    kSCSITaskState_NEW_TASK,
    kSCSITaskStatus_CHECK_CONDITION,
    kSCSITaskStatus_No_Status,
    kSenseDefaultSize,
)
from kextlab.families.scsi.user_client import (
    SCSITaskData,
    SCSITaskResults,
    kIOPropertySCSITaskAuthoringDevice,
    kIOPropertySCSITaskDeviceCategory,
    kSCSITaskLibConnection,
    kSCSITaskUserClientAbortTask,
    kSCSITaskUserClientCreateTask,
    kSCSITaskUserClientExecuteTask,
    kSCSITaskUserClientIsExclusiveAccessAvailable,
    kSCSITaskUserClientObtainExclusiveAccess,
    kSCSITaskUserClientReleaseExclusiveAccess,
    kSCSITaskUserClientReleaseTask,
    kSCSITaskUserClientSetBuffers,
)
from kextlab.kernel.ioreturn import (
    kIOReturnBadArgument,
    kIOReturnExclusiveAccess,
    kIOReturnNotOpen,
    kIOReturnSuccess,
)
from kextlab.kernel.memory.options import PAGE_SIZE
from kextlab.userland.iokitlib import (
    IOConnectCallMethod,
    IOConnectCallScalarMethod,
    IORegistryEntryCreateCFProperty,
    IOServiceClose,
    IOServiceOpen,
    io_connect_t,
    io_service_t,
    mach_task_self,
)
from kextlab.userland.user_task import UserBuffer, UserTask

#: ``kSCSITaskNULLReference``: a task the kernel has not made.
kSCSITaskNULLReference: Final = -1
#: Where a task's sense buffer sits in its page (the results are at 0).
_SENSE_OFFSET: Final = 64
_CDB_SIZES: Final = (
    kSCSICDBSize_6Byte,
    kSCSICDBSize_10Byte,
    kSCSICDBSize_12Byte,
    kSCSICDBSize_16Byte,
)
_DEFAULT_TIMEOUT_MS: Final = 0


class SCSITaskDeviceInterface:
    """``SCSITaskDeviceInterface``: one program's connection to a logical unit."""

    def __init__(self, service: io_service_t, connection: io_connect_t, task: UserTask) -> None:
        self.service = service
        self.task = task
        self._connection: io_connect_t | None = connection
        category = IORegistryEntryCreateCFProperty(service, kIOPropertySCSITaskDeviceCategory)
        #: Apple's ``fIsServicesLayerInterface``: exclusivity goes through the kernel.
        self.services_layer = category == kIOPropertySCSITaskAuthoringDevice
        self._exclusive = not self.services_layer
        self._tasks: list[SCSITaskInterface] = []

    @classmethod
    def open(
        cls, service: io_service_t, task: UserTask | None = None
    ) -> tuple[int, SCSITaskDeviceInterface | None]:
        """Open the device (the plug-in's ``Start``): ``(IOReturn, interface)``."""
        owner = task if task is not None else mach_task_self()
        result, connection = IOServiceOpen(service, owner, kSCSITaskLibConnection)
        if result != kIOReturnSuccess or connection is None:
            return result, None
        return kIOReturnSuccess, cls(service, connection, owner)

    def __repr__(self) -> str:
        state = "open" if self._connection is not None else "closed"
        return f"<SCSITaskDeviceInterface {state}, exclusive={self._exclusive}>"

    @property
    def connection(self) -> io_connect_t:
        if self._connection is None:
            raise ValueError("the SCSITaskDeviceInterface is closed")
        return self._connection

    def IsExclusiveAccessAvailable(self) -> bool:
        if self._connection is None:
            return False
        if not self.services_layer:
            return True
        result, _ = IOConnectCallScalarMethod(
            self._connection, kSCSITaskUserClientIsExclusiveAccessAvailable
        )
        return result == kIOReturnSuccess

    def ObtainExclusiveAccess(self) -> int:
        if self._connection is None:
            return kIOReturnNotOpen
        if not self.services_layer:
            return kIOReturnSuccess
        result, _ = IOConnectCallScalarMethod(
            self._connection, kSCSITaskUserClientObtainExclusiveAccess
        )
        if result == kIOReturnSuccess:
            self._exclusive = True
        return result

    def ReleaseExclusiveAccess(self) -> int:
        if not self._exclusive or self._connection is None:
            return kIOReturnExclusiveAccess
        if not self.services_layer:
            return kIOReturnSuccess
        self._exclusive = False
        result, _ = IOConnectCallScalarMethod(
            self._connection, kSCSITaskUserClientReleaseExclusiveAccess
        )
        return result

    def CreateSCSITask(self) -> SCSITaskInterface | None:
        """A new task (None without exclusive access or when the kernel has no slot)."""
        if not self._exclusive or self._connection is None:
            return None
        scsi_task = SCSITaskInterface(self)
        if scsi_task.init_status != kIOReturnSuccess:
            scsi_task.Release()
            return None
        self._tasks.append(scsi_task)
        return scsi_task

    def task_released(self, scsi_task: SCSITaskInterface) -> None:
        if scsi_task in self._tasks:
            self._tasks.remove(scsi_task)

    def close(self) -> int:
        """Release the tasks and close the connection (the plug-in's ``Stop``)."""
        for scsi_task in list(self._tasks):
            scsi_task.Release()
        connection, self._connection = self._connection, None
        if connection is None:
            return kIOReturnNotOpen
        return IOServiceClose(connection)


class SCSITaskInterface:
    """``SCSITaskInterface``: one reusable SCSI task of a device interface."""

    def __init__(self, device: SCSITaskDeviceInterface) -> None:
        self.device = device
        self.taskReference = kSCSITaskNULLReference
        self._page: UserBuffer | None = None
        self._attribute = kSCSITask_SIMPLE
        self._cdb = b""
        self._ranges: tuple[tuple[int, int], ...] = ()
        self._transfer_count = 0
        self._direction = kSCSIDataTransfer_NoDataTransfer
        self._timeout = _DEFAULT_TIMEOUT_MS
        self._state = kSCSITaskState_NEW_TASK
        self._service_response = 0
        self._status = kSCSITaskStatus_No_Status
        self._realized = 0
        self._sense: bytes | None = None
        connection = device.connection
        result, output = IOConnectCallScalarMethod(connection, kSCSITaskUserClientCreateTask, (), 1)
        self.init_status = result
        if result != kIOReturnSuccess:
            return
        reference = output[0] & 0xFFFF_FFFF
        self.taskReference = reference - (1 << 32) if reference >> 31 else reference
        self._page = device.task.vm_allocate(PAGE_SIZE)
        self.init_status, _ = IOConnectCallScalarMethod(
            connection,
            kSCSITaskUserClientSetBuffers,
            (
                self.taskReference,
                self._page.address,
                self._page.address + _SENSE_OFFSET,
                kSenseDefaultSize,
            ),
        )

    def __repr__(self) -> str:
        return f"<SCSITaskInterface {self._cdb.hex(' ') or '-'} slot {self.taskReference}>"

    # -- the command ------------------------------------------------------------------------------

    def SetTaskAttribute(self, inAttributeValue: int) -> int:
        self._attribute = inAttributeValue
        return kIOReturnSuccess

    def GetTaskAttribute(self) -> int:
        return self._attribute

    def SetCommandDescriptorBlock(self, inCDB: bytes | bytearray | Sequence[int]) -> int:
        """The CDB: 6, 10, 12 or 16 bytes (``kIOReturnBadArgument`` otherwise)."""
        cdb = bytes(inCDB)
        if len(cdb) not in _CDB_SIZES:
            return kIOReturnBadArgument
        self._cdb = cdb
        return kIOReturnSuccess

    def GetCommandDescriptorBlockSize(self) -> int:
        return len(self._cdb)

    def GetCommandDescriptorBlock(self) -> bytes:
        return self._cdb

    def SetScatterGatherEntries(
        self,
        inScatterGatherList: Sequence[tuple[int, int]],
        inTransferCount: int,
        inTransferDirection: int,
    ) -> int:
        """The data buffers (``(address, length)`` ranges of the program's memory),
        how many bytes to move and which way (``kSCSIDataTransfer_*``)."""
        self._ranges = tuple((int(address), int(length)) for address, length in inScatterGatherList)
        self._transfer_count = inTransferCount
        self._direction = inTransferDirection
        return kIOReturnSuccess

    def SetTimeoutDuration(self, timeoutDurationMS: int) -> int:
        self._timeout = timeoutDurationMS
        return kIOReturnSuccess

    def GetTimeoutDuration(self) -> int:
        return self._timeout

    # -- running it -------------------------------------------------------------------------------

    def ExecuteTaskSync(self) -> tuple[int, bytes | None, int, int]:
        """Run the task and wait: ``(IOReturn, sense data (with CHECK CONDITION, else
        None), task status, realized transfer count)``."""
        page = self._page
        if page is None or self.taskReference == kSCSITaskNULLReference:
            return kIOReturnNotOpen, None, kSCSITaskStatus_No_Status, 0
        data = SCSITaskData(
            self.taskReference,
            True,
            self._attribute,
            self._cdb,
            len(self._cdb),
            self._transfer_count,
            self._direction,
            self._timeout,
            len(self._ranges),
            self._ranges,
        ).pack()
        result, _, _ = IOConnectCallMethod(
            self.device.connection, kSCSITaskUserClientExecuteTask, (), data
        )
        self._state = kSCSITaskState_ENDED
        self._sense = None
        if result != kIOReturnSuccess:
            self._status, self._realized = kSCSITaskStatus_No_Status, 0
            return result, None, self._status, 0
        self._service_response, self._status, self._realized = SCSITaskResults.unpack(
            page.read(0, SCSITaskResults.size)
        )
        if (
            self._service_response == kSCSIServiceResponse_TASK_COMPLETE
            and self._status == kSCSITaskStatus_CHECK_CONDITION
        ):
            self._sense = page.read(_SENSE_OFFSET, kSenseDefaultSize)
        return kIOReturnSuccess, self._sense, self._status, self._realized

    def AbortTask(self) -> int:
        result, _ = IOConnectCallScalarMethod(
            self.device.connection, kSCSITaskUserClientAbortTask, (self.taskReference,)
        )
        return result

    # -- results ----------------------------------------------------------------------------------

    def GetTaskState(self) -> int:
        return self._state

    def GetSCSIServiceResponse(self) -> int:
        return self._service_response

    def GetTaskStatus(self) -> int:
        return self._status

    def GetRealizedDataTransferCount(self) -> int:
        return self._realized

    def GetAutoSenseData(self) -> tuple[int, bytes | None]:
        """``(IOReturn, sense)``: the sense of the last CHECK CONDITION."""
        return (kIOReturnSuccess if self._sense is not None else kIOReturnBadArgument), self._sense

    def Release(self) -> None:
        """Delete the task in the kernel and free its buffers."""
        connection = self.device._connection
        if self.taskReference != kSCSITaskNULLReference and connection is not None:
            IOConnectCallScalarMethod(
                connection, kSCSITaskUserClientReleaseTask, (self.taskReference,)
            )
        self.taskReference = kSCSITaskNULLReference
        if self._page is not None:
            self._page.deallocate()
            self._page = None
        self.device.task_released(self)


__all__ = [
    "SCSITaskDeviceInterface",
    "SCSITaskInterface",
    "kSCSITaskNULLReference",
]
