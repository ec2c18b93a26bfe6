"""SCSITaskUserClient and its initer: SCSI pass-through from user space.

Mirrors ``UserClient/SCSITaskUserClientIniter.{h,cpp}``, ``UserClient/SCSITaskUserClient.{h,cpp}``
and the private ABI of ``UserClientLib/SCSITaskLibPriv.h`` (IOSCSIArchitectureModelFamily);
the user-space half (Apple's ``SCSITaskLib`` plug-in) is ``kextlab.userland.scsi_task_lib``.

The initer
----------
``SCSITaskUserClientIniter`` is Apple's ``GenericIniter`` personality: an ``IOService``
matching ``IOSCSIPeripheralDeviceNub`` in a match category of its own
(``IOMatchCategory = SCSITaskUserClientIniter``), so it comes to every logical-unit
nub beside whatever peripheral driver the nub has.  Its ``start`` merges the
personality's ``IOProviderMergeProperties`` (``IOUserClientClass =
SCSITaskUserClient``, ``SCSITaskDeviceCategory = SCSITaskUserClientDevice``,
``IOCFPlugInTypes``) into the nub, with a ``SCSITaskUserClient GUID``, and stays, only
when the nub has no in-kernel driver: its ``IOMatchCategory`` is the initer's (which
the nub sets), and its ``Peripheral Device Type`` is none of 0x00 (disk), 0x05
(CD/DVD), 0x07 (optical) and 0x0E (RBC), which the family drives.  A tape (0x01), a
write-once device (0x04), a processor, anything else becomes a
``SCSITaskUserClientDevice``; otherwise ``start`` returns false and the initer goes
away.  (Apple's initer starts on the family's ``IOCompactDiscServices`` and
``IODVDServices`` too, as ``SCSITaskAuthoringDevice``; those personalities belong with
the CD services.)

The user client
---------------
``SCSITaskUserClient`` (connection type ``kSCSITaskLibConnection`` = 12) opens its
provider with ``kIOSCSITaskUserClientAccessMask`` in ``start``.  A generic nub has
I/O Kit's single-owner open, so that open *is* the exclusive access to the device:
a second connection fails to start (``IOServiceOpen`` returns
``kIOReturnUnsupported``) until the first closes.  The explicit exclusivity methods
(``Is``/``Obtain``/``ReleaseExclusiveAccess``) go to the protocol interface's
exclusivity state, which is how authoring devices are taken from their in-kernel
driver.

A task from user space lives in a slot of a 16-entry array (``CreateTask`` returns
the slot, ``ReleaseTask`` frees it).  ``SetBuffers(slot, results, sense, senseSize)``
names two buffers in the task's memory: a ``SCSITaskResults`` (service response,
task status, realized count: ``<IIQ``, 16 bytes) and the sense buffer.
``ExecuteTask`` takes a ``SCSITaskData`` structure (56 bytes, then a 16-byte
``IOVirtualRange`` per scatter/gather entry, laid out as a 64-bit Mac compiles
``SCSITaskLibPriv.h``): it validates it under the command gate, describes the
scatter/gather list as an ``IOMemoryDescriptor`` over the *task's* memory (the HBA
DMAs straight into the program's buffer), asks for autosense, sends the task with
``ExecuteCommand`` and sleeps on the command gate until the completion callback has
written the results and the sense into the program's buffers.

Departures from Apple's 2004 code, each for a reason:

* ``SCSITask`` here has no user-memory sense buffer (``SetAutoSenseDataBuffer``): the
  completion copies ``GetAutoSenseData()`` into the program's sense buffer, which is
  what Apple's aliasing achieves.
* Asynchronous execution (``isSync`` false, with ``SetAsyncCallback``) needs Mach
  notification ports, which kextlab's user space does not have: it is refused with
  ``kIOReturnUnsupported``.  The MMC convenience methods (selectors 8-21, for
  authoring devices) are absent; ``ExecuteTask`` can send every one of their CDBs.
* A synchronous ``ExecuteTask`` counts its command as outstanding until the waiting
  thread has woken, not until the completion callback: Apple's callback can tear the
  client down (a terminated nub, the last command) while the waiter still reads the
  task.
* ``AbortTask`` uses the SAM task-management function ``AbortTask(lun, tag)`` of the
  protocol interface, not the obsolete ``AbortCommand``.

Threading rules: the external methods run on the kernel thread of the calling user
thread and may block (``ExecuteTask`` sleeps on the command gate); the completion
callback runs in the HBA's work loop with the gate held and never blocks.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from kextlab.families.scsi.definitions import (
    kIOPropertySCSIPeripheralDeviceType,
    kSCSICDBSize_6Byte,
    kSCSICDBSize_10Byte,
    kSCSICDBSize_12Byte,
    kSCSICDBSize_16Byte,
    kSCSICmd_REQUEST_SENSE,
    kSCSIDataTransfer_FromTargetToInitiator,
    kSCSITask_ACA,
    kSCSITask_SIMPLE,
    kSCSITaskState_ENDED,
    kSenseDefaultSize,
)
from kextlab.families.scsi.protocol_interface import IOSCSIProtocolInterface
from kextlab.families.scsi.task import SCSITask
from kextlab.kernel.ioreturn import (
    kIOReturnBadArgument,
    kIOReturnError,
    kIOReturnExclusiveAccess,
    kIOReturnNoDevice,
    kIOReturnNoResources,
    kIOReturnNotPermitted,
    kIOReturnSuccess,
    kIOReturnUnsupported,
)
from kextlab.kernel.libkern.collections import OSDictionary
from kextlab.kernel.libkern.object import OSObject
from kextlab.kernel.libkern.values import OSNumber, OSString
from kextlab.kernel.locks import THREAD_UNINT
from kextlab.kernel.memory.descriptor import IOMemoryDescriptor
from kextlab.kernel.memory.options import kIODirectionIn, kIODirectionOut
from kextlab.kernel.memory.task import Task
from kextlab.kernel.registry.registry import kIOServicePlane
from kextlab.kernel.service.service import IOService
from kextlab.kernel.service.user_client import (
    IOExternalMethodArguments,
    IOExternalMethodDispatch,
    IOUserClient,
    kIOUCVariableStructureSize,
    kIOUserClientClassKey,
)
from kextlab.kernel.workloop.command_gate import IOCommandGate
from kextlab.sim.scheduler import current_scheduler

if TYPE_CHECKING:
    from kextlab.kernel.workloop.work_loop import IOWorkLoop

# -- SCSITaskLib.h / SCSITaskLibPriv.h ------------------------------------------------------------
kSCSITaskUserClientIniterKey: Final = "SCSITaskUserClientIniter"
kIOPropertySCSITaskDeviceCategory: Final = "SCSITaskDeviceCategory"
kIOPropertySCSITaskUserClientDevice: Final = "SCSITaskUserClientDevice"
kIOPropertySCSITaskAuthoringDevice: Final = "SCSITaskAuthoringDevice"
kIOPropertySCSITaskUserClientInstanceGUID: Final = "SCSITaskUserClient GUID"
kIOCFPlugInTypesKey: Final = "IOCFPlugInTypes"
kIOProviderMergePropertiesKey: Final = "IOProviderMergeProperties"
kIOMatchCategoryKey: Final = "IOMatchCategory"

kIOSCSITaskUserClientAccessBit: Final = 16
kIOSCSITaskUserClientAccessMask: Final = 1 << kIOSCSITaskUserClientAccessBit
kSCSITaskLibConnection: Final = 12

kSCSITaskUserClientIsExclusiveAccessAvailable: Final = 0
kSCSITaskUserClientObtainExclusiveAccess: Final = 1
kSCSITaskUserClientReleaseExclusiveAccess: Final = 2
kSCSITaskUserClientCreateTask: Final = 3
kSCSITaskUserClientReleaseTask: Final = 4
kSCSITaskUserClientAbortTask: Final = 5
kSCSITaskUserClientExecuteTask: Final = 6
kSCSITaskUserClientSetBuffers: Final = 7

#: SCSITaskUserClient.h
kMaxSCSITaskArraySize: Final = 16
kCommandTypeExecuteSync: Final = 0
kCommandTypeExecuteAsync: Final = 1
kCommandTypeNonExclusive: Final = 2

#: The peripheral device types the family has in-kernel drivers for.
IN_KERNEL_DEVICE_TYPES: Final = frozenset({0x00, 0x05, 0x07, 0x0E})

#: ``SCSITaskData`` without its list: taskReference (UInt32), isSync (bool),
#: taskAttribute (enum), cdbData[16], cdbSize (UInt8), requestedTransferCount
#: (UInt64), transferDirection (UInt8), timeoutDuration (UInt32),
#: scatterGatherEntries (UInt32), padded to the 8-byte alignment of the list.
SCSITaskDataHeader: Final = struct.Struct("<I?3xI16sB3xQB3xII4x")
#: ``IOVirtualRange``: address and length, 64 bits each.
IOVirtualRange: Final = struct.Struct("<QQ")
#: ``SCSITaskResults``: serviceResponse, taskStatus, realizedTransferCount.
SCSITaskResults: Final = struct.Struct("<IIQ")

_CDB_SIZES: Final = (
    kSCSICDBSize_6Byte,
    kSCSICDBSize_10Byte,
    kSCSICDBSize_12Byte,
    kSCSICDBSize_16Byte,
)


@dataclass(frozen=True)
class SCSITaskData:
    """A decoded ``SCSITaskData`` (what ``ExecuteTask`` receives)."""

    taskReference: int
    isSync: bool
    taskAttribute: int
    cdbData: bytes
    cdbSize: int
    requestedTransferCount: int
    transferDirection: int
    timeoutDuration: int
    scatterGatherEntries: int
    scatterGatherList: tuple[tuple[int, int], ...]

    def pack(self) -> bytes:
        """The structure as user space hands it to ``ExecuteTask``."""
        header = SCSITaskDataHeader.pack(
            self.taskReference,
            self.isSync,
            self.taskAttribute,
            self.cdbData.ljust(16, b"\0")[:16],
            self.cdbSize,
            self.requestedTransferCount,
            self.transferDirection,
            self.timeoutDuration,
            self.scatterGatherEntries,
        )
        ranges = b"".join(IOVirtualRange.pack(*entry) for entry in self.scatterGatherList)
        return header + (ranges or bytes(IOVirtualRange.size))

    @classmethod
    def unpack(cls, data: bytes) -> SCSITaskData | None:
        """Decode the header and as many whole ranges as follow it; None if too short."""
        if len(data) < SCSITaskDataHeader.size:
            return None
        (reference, sync, attribute, cdb, cdb_size, requested, direction, timeout, entries) = (
            SCSITaskDataHeader.unpack_from(data)
        )
        count = min((len(data) - SCSITaskDataHeader.size) // IOVirtualRange.size, entries)
        header = SCSITaskDataHeader.size
        ranges = tuple(
            (address, length)
            for address, length in (
                IOVirtualRange.unpack_from(data, header + index * IOVirtualRange.size)
                for index in range(count)
            )
        )
        return cls(
            reference,
            sync,
            attribute,
            cdb,
            cdb_size,
            requested,
            direction,
            timeout,
            entries,
            ranges,
        )


# -- the initer -----------------------------------------------------------------------------------


class SCSITaskUserClientIniter(IOService):
    """Publishes ``SCSITaskUserClient`` on a logical unit no in-kernel driver takes."""

    def start(self, provider: IOService) -> bool:
        if not super().start(provider):
            return False
        category = provider.getProperty(kIOMatchCategoryKey)
        merge = isinstance(category, OSString) and str(category) == kSCSITaskUserClientIniterKey
        if provider.metaCast("IOSCSIPeripheralDeviceNub") is not None:
            device_type = provider.getProperty(kIOPropertySCSIPeripheralDeviceType)
            if isinstance(device_type, OSNumber) and (
                device_type.unsigned32BitValue() in IN_KERNEL_DEVICE_TYPES
            ):
                merge = False
        if not merge:
            return False
        properties = self.getProperty(kIOProviderMergePropertiesKey)
        if not isinstance(properties, OSDictionary):
            return False
        # Apple's GUID: the provider's address and the time (IOGetTime) as three longs.
        scheduler = current_scheduler()
        now = scheduler.now if scheduler is not None else 0
        guid = struct.pack("<IQ", provider.getRegistryEntryID() & 0xFFFF_FFFF, now)
        provider.setProperty(kIOPropertySCSITaskUserClientInstanceGUID, guid)
        for key in (kIOUserClientClassKey, kIOCFPlugInTypesKey, kIOPropertySCSITaskDeviceCategory):
            value = properties.getObject(key)
            if value is not None:
                provider.setProperty(key, value)
        return True


# -- the user client ------------------------------------------------------------------------------


class _TaskRefCon:
    """``SCSITaskRefCon``: what a user task's ``SCSITask`` carries as its
    application-layer reference."""

    __slots__ = ("commandType", "self", "senseBuffer", "taskResultsBuffer")

    def __init__(self, client: SCSITaskUserClient) -> None:
        self.self: SCSITaskUserClient | None = client
        self.taskResultsBuffer: IOMemoryDescriptor | None = None
        self.senseBuffer: IOMemoryDescriptor | None = None
        self.commandType = kCommandTypeExecuteSync

    def release_buffers(self) -> None:
        for buffer in (self.taskResultsBuffer, self.senseBuffer):
            if buffer is not None:
                buffer.release()
        self.taskResultsBuffer = self.senseBuffer = None


class SCSITaskUserClient(IOUserClient):
    """A user program's SCSI tasks on one logical unit."""

    def __init__(self) -> None:
        super().__init__()
        self.fTask: Task | None = None
        self.fProvider: IOService | None = None
        self.fProtocolInterface: IOSCSIProtocolInterface | None = None
        self.fArray: list[SCSITask | None] = [None] * kMaxSCSITaskArraySize
        self.fCommandGate: IOCommandGate | None = None
        self.fWorkLoop: IOWorkLoop | None = None
        self.fOutstandingCommands = 0

    # -- lifecycle --------------------------------------------------------------------------------

    def initWithTask(
        self,
        owningTask: Task,
        securityToken: object,
        type: int,
        properties: OSDictionary | None = None,
    ) -> bool:
        if not super().initWithTask(owningTask, securityToken, type, properties):
            return False
        if type != kSCSITaskLibConnection:
            return False
        self.fTask = owningTask
        return True

    def start(self, provider: IOService) -> bool:
        if self.fProvider is not None or not super().start(provider):
            return False
        interface = _protocol_interface(provider)
        if interface is None:
            return False
        loop = self.getWorkLoop()
        gate = IOCommandGate.commandGate(self)
        if loop is None or gate is None:
            if gate is not None:
                gate.release()
            return False
        loop.addEventSource(gate)
        if not provider.open(self, kIOSCSITaskUserClientAccessMask, None):
            loop.removeEventSource(gate)
            gate.release()
            return False
        loop.retain()  # the gate lives on it until the client lets go of the nub
        self.fProvider = provider
        self.fProtocolInterface = interface
        self.fCommandGate = gate
        self.fWorkLoop = loop
        return True

    def clientClose(self) -> int:
        if self.fProvider is not None:
            self.HandleTerminate(self.fProvider)
        return super().clientClose()

    def didTerminate(self, provider: IOService, options: int, defer: list[bool]) -> bool:
        """The nub is going: let go of it now unless commands are still out (the last
        completion does it then)."""
        if self.fOutstandingCommands == 0 and self.fProvider is not None:
            self.HandleTerminate(provider)
        return True

    def HandleTerminate(self, provider: IOService) -> int:
        """Close and leave the provider, give up exclusive access, release the tasks
        user space left behind."""
        if provider.isOpen(self):
            provider.close(self, kIOSCSITaskUserClientAccessMask)
        self.detach(provider)
        self.fProvider = None
        self.ReleaseExclusiveAccess()
        for index, task in enumerate(self.fArray):
            if task is not None:
                self.ReleaseTask(index)
        self._remove_command_gate()  # the nub's work loop may go with it
        return kIOReturnSuccess

    def _remove_command_gate(self) -> None:
        gate, loop = self.fCommandGate, self.fWorkLoop
        self.fCommandGate = self.fWorkLoop = None
        if gate is not None:
            if loop is not None:
                loop.removeEventSource(gate)
            gate.release()
        if loop is not None:
            loop.release()

    def free(self) -> None:
        for index, task in enumerate(self.fArray):  # tasks still active at the end
            if task is not None:
                self.fArray[index] = None
                _release_task(task)
        self._remove_command_gate()
        self.fProtocolInterface = None
        self.fTask = None
        super().free()

    # -- dispatch ---------------------------------------------------------------------------------

    def externalMethod(
        self,
        selector: int,
        arguments: IOExternalMethodArguments,
        dispatch: IOExternalMethodDispatch | None = None,
        target: OSObject | None = None,
        reference: object = None,
    ) -> int:
        entry = _DISPATCH.get(selector)
        if entry is not None:
            dispatch, target = entry, self
        return super().externalMethod(selector, arguments, dispatch, target, reference)

    # -- exclusive access -------------------------------------------------------------------------

    def IsExclusiveAccessAvailable(self) -> int:
        interface = self.fProtocolInterface
        if self.isInactive() or interface is None:
            return kIOReturnNoDevice
        if interface.GetUserClientExclusivityState():
            return kIOReturnExclusiveAccess
        return kIOReturnSuccess

    def ObtainExclusiveAccess(self) -> int:
        interface = self.fProtocolInterface
        if self.isInactive() or interface is None:
            return kIOReturnNoDevice
        if interface.GetUserClientExclusivityState():
            return kIOReturnExclusiveAccess
        return interface.SetUserClientExclusivityState(self, True)

    def ReleaseExclusiveAccess(self) -> int:
        interface = self.fProtocolInterface
        if interface is None:
            return kIOReturnNoDevice
        if not interface.GetUserClientExclusivityState():
            return kIOReturnNotPermitted
        return interface.SetUserClientExclusivityState(self, False)

    # -- tasks ------------------------------------------------------------------------------------

    def CreateTask(self) -> tuple[int, int]:
        """A new task in a free slot: ``(IOReturn, slot)`` (-1 when none is free)."""
        gate = self.fCommandGate
        if self.isInactive() or gate is None:
            return kIOReturnNoDevice, -1
        task = SCSITask.create(self)
        task.SetApplicationLayerReference(_TaskRefCon(self))
        slot: list[int] = []
        status = gate.runActionBlock(lambda: self.GatedCreateTask(task, slot))
        if status != kIOReturnSuccess:
            _release_task(task)
            return int(status), -1
        return kIOReturnSuccess, slot[0]

    def ReleaseTask(self, taskReference: int) -> int:
        gate = self.fCommandGate
        if not 0 <= taskReference < kMaxSCSITaskArraySize or gate is None:
            return kIOReturnBadArgument
        found: list[SCSITask] = []
        status = gate.runActionBlock(lambda: self.GatedReleaseTask(taskReference, found))
        if status == kIOReturnSuccess:
            _release_task(found[0])
        return int(status)

    def GatedCreateTask(self, task: SCSITask, taskReference: list[int]) -> int:
        for index, slot in enumerate(self.fArray):
            if slot is None:
                self.fArray[index] = task
                taskReference.append(index)
                return kIOReturnSuccess
        return kIOReturnNoResources

    def GatedReleaseTask(self, taskReference: int, task: list[SCSITask]) -> int:
        victim = self.fArray[taskReference]
        if victim is None:
            return kIOReturnBadArgument
        if victim.IsTaskActive():
            return kIOReturnNotPermitted
        self.fArray[taskReference] = None
        task.append(victim)
        return kIOReturnSuccess

    def AbortTask(self, taskReference: int) -> int:
        """Ask the protocol layer to abort an active task (always succeeds, as Apple's)."""
        interface = self.fProtocolInterface
        if self.isInactive() or interface is None:
            return kIOReturnNoDevice
        if not 0 <= taskReference < kMaxSCSITaskArraySize:
            return kIOReturnBadArgument
        task = self.fArray[taskReference]
        if task is None:
            return kIOReturnBadArgument
        if not task.IsTaskActive():
            return kIOReturnNotPermitted
        interface.AbortTask(task.GetLogicalUnitNumber(), task.GetTaggedTaskIdentifier())
        return kIOReturnSuccess

    def SetBuffers(
        self, taskReference: int, results: int, senseData: int, senseBufferSize: int
    ) -> int:
        """Name the task's results and sense buffers in the program's memory."""
        if self.isInactive():
            return kIOReturnNoDevice
        if not 0 <= taskReference < kMaxSCSITaskArraySize:
            return kIOReturnBadArgument
        task = self.fArray[taskReference]
        if task is None:
            return kIOReturnBadArgument
        if task.IsTaskActive():
            return kIOReturnNotPermitted
        refCon = task.GetApplicationLayerReference()
        if not isinstance(refCon, _TaskRefCon) or self.fTask is None:
            return kIOReturnError
        if senseBufferSize <= 0:
            return kIOReturnBadArgument
        buffer = IOMemoryDescriptor.withAddressRange(
            results, SCSITaskResults.size, kIODirectionIn, self.fTask
        )
        sense = IOMemoryDescriptor.withAddressRange(
            senseData, senseBufferSize, kIODirectionIn, self.fTask
        )
        if buffer is None or sense is None:
            for made in (buffer, sense):
                if made is not None:
                    made.release()
            return kIOReturnNoResources
        refCon.release_buffers()
        refCon.taskResultsBuffer = buffer
        refCon.senseBuffer = sense
        return kIOReturnSuccess

    def ExecuteTask(self, data: bytes) -> int:
        """Run the ``SCSITaskData`` in ``data`` (synchronously: see the module)."""
        self.fOutstandingCommands += 1
        try:
            status, woken = self._execute(data)
        finally:
            self.fOutstandingCommands -= 1
        provider = self.fProvider
        if woken and provider is not None and self.isInactive() and not self.fOutstandingCommands:
            self.HandleTerminate(provider)
        return status

    def _execute(self, data: bytes) -> tuple[int, bool]:
        gate, interface, task_space = self.fCommandGate, self.fProtocolInterface, self.fTask
        if self.isInactive() or gate is None or interface is None or task_space is None:
            return kIOReturnNoDevice, False
        args = SCSITaskData.unpack(data)
        if args is None or not 0 <= args.taskReference < kMaxSCSITaskArraySize:
            return kIOReturnBadArgument, False
        request = self.fArray[args.taskReference]
        if request is None:
            return kIOReturnBadArgument, False
        if request.IsTaskActive():
            return kIOReturnNotPermitted, False
        if not args.isSync:
            return kIOReturnUnsupported, False  # no notification ports (see the module)
        refCon = request.GetApplicationLayerReference()
        assert isinstance(refCon, _TaskRefCon)
        results, sense = refCon.taskResultsBuffer, refCon.senseBuffer
        if results is None or sense is None:
            return kIOReturnBadArgument, False  # SetBuffers first
        refCon.commandType = kCommandTypeExecuteSync
        request.ResetForNewTask()
        request.SetApplicationLayerReference(refCon)
        status = gate.runActionBlock(lambda: self.GatedValidateTask(request, args, len(data)))
        if status != kIOReturnSuccess:
            return int(status), False
        request.SetTimeoutDuration(args.timeoutDuration)
        buffer = None
        if args.scatterGatherEntries > 0 and args.requestedTransferCount > 0:
            direction = (
                kIODirectionIn
                if args.transferDirection == kSCSIDataTransfer_FromTargetToInitiator
                else kIODirectionOut
            )
            buffer = IOMemoryDescriptor.withAddressRanges(
                args.scatterGatherList, args.scatterGatherEntries, direction, task_space
            )
            if buffer is None:
                return kIOReturnNoResources, False
            status = buffer.prepare()
            if status != kIOReturnSuccess:
                buffer.release()
                return int(status), False
            request.SetDataBuffer(buffer)
            request.SetRequestedDataTransferCount(args.requestedTransferCount)
        prepared: list[IOMemoryDescriptor] = []
        for user_buffer in (results, sense):
            status = user_buffer.prepare()
            if status != kIOReturnSuccess:
                for done in prepared:
                    done.complete()
                if buffer is not None:
                    _complete_buffer(buffer)
                request.SetDataBuffer(None)
                return int(status), False
            prepared.append(user_buffer)
        request.retain()  # released by the completion
        request.SetTaskCompletionCallback(SCSITaskUserClient.sTaskCallback)
        request.SetAutosenseCommand(kSCSICmd_REQUEST_SENSE, 0, 0, 0, kSenseDefaultSize, 0)
        interface.ExecuteCommand(request)
        self.retain()
        try:
            gate.runActionBlock(lambda: self.GatedWaitForTask(request))
        finally:
            if buffer is not None:
                _complete_buffer(buffer)
            self.release()
        return kIOReturnSuccess, True

    def GatedValidateTask(self, request: SCSITask, args: SCSITaskData, argSize: int) -> int:
        if not kSCSITask_SIMPLE <= args.taskAttribute <= kSCSITask_ACA:
            return kIOReturnBadArgument
        request.SetTaskAttribute(args.taskAttribute)
        if args.cdbSize not in _CDB_SIZES:
            return kIOReturnBadArgument
        request.SetCommandDescriptorBlock(*args.cdbData[: args.cdbSize])
        if args.transferDirection > kSCSIDataTransfer_FromTargetToInitiator:
            return kIOReturnBadArgument
        request.SetDataTransferDirection(args.transferDirection)
        if args.scatterGatherEntries > 0:
            list_size = argSize - SCSITaskDataHeader.size
            if list_size // IOVirtualRange.size != args.scatterGatherEntries or list_size < 0:
                return kIOReturnBadArgument
        return kIOReturnSuccess

    def GatedWaitForTask(self, request: SCSITask) -> int:
        gate = self.fCommandGate
        assert gate is not None
        refCon = request.GetApplicationLayerReference()
        while request.GetTaskState() != kSCSITaskState_ENDED:
            gate.commandSleep(refCon, THREAD_UNINT)
        return kIOReturnSuccess

    # -- completion (work loop, gate held) --------------------------------------------------------

    @staticmethod
    def sTaskCallback(completedTask: SCSITask) -> None:
        refCon = completedTask.GetApplicationLayerReference()
        if isinstance(refCon, _TaskRefCon) and refCon.self is not None:
            refCon.self.TaskCallback(completedTask, refCon)

    def TaskCallback(self, task: SCSITask, refCon: _TaskRefCon) -> None:
        """Write the results and the sense into the program's buffers, wake the waiter."""
        results = refCon.taskResultsBuffer
        if results is not None:
            packed = SCSITaskResults.pack(
                task.GetServiceResponse(),
                task.GetTaskStatus(),
                task.GetRealizedDataTransferCount(),
            )
            results.writeBytes(0, packed, SCSITaskResults.size)
            results.complete()
        sense = refCon.senseBuffer
        if sense is not None:
            data = task.GetAutoSenseData()
            if data is not None:
                sense.writeBytes(0, data, min(len(data), sense.getLength()))
            sense.complete()
        task.release()  # retained by ExecuteTask
        gate = self.fCommandGate
        if gate is not None:
            gate.commandWakeup(refCon)


def _protocol_interface(provider: IOService) -> IOSCSIProtocolInterface | None:
    """The provider if it is a protocol interface, else its nearest parent that is."""
    if isinstance(provider, IOSCSIProtocolInterface):
        return provider
    registry = provider.registry
    if registry is None:
        return None
    for parent in provider.getParents(registry.plane(kIOServicePlane)):
        if isinstance(parent, IOSCSIProtocolInterface):
            return parent
    return None


def _complete_buffer(buffer: IOMemoryDescriptor) -> None:
    """``CompleteBuffers``: unwire the program's data buffer and let it go."""
    buffer.complete()
    buffer.release()


def _release_task(task: SCSITask) -> None:
    refCon = task.GetApplicationLayerReference()
    if isinstance(refCon, _TaskRefCon):
        refCon.release_buffers()
        refCon.self = None
    task.SetApplicationLayerReference(None)
    task.release()


# -- the method table -----------------------------------------------------------------------------


def _sIsExclusiveAccessAvailable(
    target: OSObject | None, reference: object, arguments: IOExternalMethodArguments
) -> int:
    assert isinstance(target, SCSITaskUserClient)
    return target.IsExclusiveAccessAvailable()


def _sObtainExclusiveAccess(
    target: OSObject | None, reference: object, arguments: IOExternalMethodArguments
) -> int:
    assert isinstance(target, SCSITaskUserClient)
    return target.ObtainExclusiveAccess()


def _sReleaseExclusiveAccess(
    target: OSObject | None, reference: object, arguments: IOExternalMethodArguments
) -> int:
    assert isinstance(target, SCSITaskUserClient)
    return target.ReleaseExclusiveAccess()


def _sCreateTask(
    target: OSObject | None, reference: object, arguments: IOExternalMethodArguments
) -> int:
    assert isinstance(target, SCSITaskUserClient)
    status, slot = target.CreateTask()
    arguments.scalarOutput[0] = slot & 0xFFFF_FFFF_FFFF_FFFF
    return status


def _sReleaseTask(
    target: OSObject | None, reference: object, arguments: IOExternalMethodArguments
) -> int:
    assert isinstance(target, SCSITaskUserClient)
    return target.ReleaseTask(_signed32(arguments.scalarInput[0]))


def _sAbortTask(
    target: OSObject | None, reference: object, arguments: IOExternalMethodArguments
) -> int:
    assert isinstance(target, SCSITaskUserClient)
    return target.AbortTask(_signed32(arguments.scalarInput[0]))


def _sExecuteTask(
    target: OSObject | None, reference: object, arguments: IOExternalMethodArguments
) -> int:
    assert isinstance(target, SCSITaskUserClient)
    descriptor = arguments.structureInputDescriptor
    if descriptor is None:
        return target.ExecuteTask(arguments.structureInput)
    data = bytearray(descriptor.getLength())  # out of line: a long scatter/gather list
    status = descriptor.prepare()
    if status != kIOReturnSuccess:
        return status
    descriptor.readBytes(0, data, len(data))
    descriptor.complete()
    return target.ExecuteTask(bytes(data))


def _sSetBuffers(
    target: OSObject | None, reference: object, arguments: IOExternalMethodArguments
) -> int:
    assert isinstance(target, SCSITaskUserClient)
    reference_, results, sense, size = arguments.scalarInput
    return target.SetBuffers(_signed32(reference_), results, sense, size & 0xFFFF_FFFF)


def _signed32(value: int) -> int:
    value &= 0xFFFF_FFFF
    return value - (1 << 32) if value >> 31 else value


_VARIABLE = kIOUCVariableStructureSize
_DISPATCH: Final = {
    kSCSITaskUserClientIsExclusiveAccessAvailable: IOExternalMethodDispatch(
        _sIsExclusiveAccessAvailable, 0, 0, 0, 0
    ),
    kSCSITaskUserClientObtainExclusiveAccess: IOExternalMethodDispatch(
        _sObtainExclusiveAccess, 0, 0, 0, 0
    ),
    kSCSITaskUserClientReleaseExclusiveAccess: IOExternalMethodDispatch(
        _sReleaseExclusiveAccess, 0, 0, 0, 0
    ),
    kSCSITaskUserClientCreateTask: IOExternalMethodDispatch(_sCreateTask, 0, 0, 1, 0),
    kSCSITaskUserClientReleaseTask: IOExternalMethodDispatch(_sReleaseTask, 1, 0, 0, 0),
    kSCSITaskUserClientAbortTask: IOExternalMethodDispatch(_sAbortTask, 1, 0, 0, 0),
    kSCSITaskUserClientExecuteTask: IOExternalMethodDispatch(_sExecuteTask, 0, _VARIABLE, 0, 0),
    kSCSITaskUserClientSetBuffers: IOExternalMethodDispatch(_sSetBuffers, 4, 0, 0, 0),
}

__all__ = [
    "IN_KERNEL_DEVICE_TYPES",
    "SCSITaskData",
    "SCSITaskUserClient",
    "SCSITaskUserClientIniter",
    "kIOPropertySCSITaskDeviceCategory",
    "kIOPropertySCSITaskUserClientDevice",
    "kIOSCSITaskUserClientAccessMask",
    "kSCSITaskLibConnection",
]
