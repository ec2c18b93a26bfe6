"""IOSCSIPrimaryCommandsDevice: what every SCSI peripheral driver has in common.

Mirrors ``IOSCSIPrimaryCommandsDevice`` (IOSCSIArchitectureModelFamily
``IOSCSIPrimaryCommandsDevice.h``/``.cpp`` and ``IOSCSIPrimaryCommandsBuilder.cpp``).
The superclass of the disk, CD and other peripheral drivers; it is itself an
``IOSCSIProtocolInterface`` (a driver above it could send tasks through it) and
drives one below it, its provider: the logical unit's nub.

Lifecycle (``start``), as Apple's: make the ``"Device Characteristics"`` dictionary
from the nub's INQUIRY strings, create the command-set object
(``CreateCommandSetObjects``), open the nub, ``InitializeDeviceSupport`` (the
subclass talks to the device: a false answer fails ``start``), read the timeouts and
transfer limits the protocol publishes, then ``StartDeviceSupport`` (the subclass
publishes its storage nub).  ``stop`` (and ``message(kIOMessageServiceIsRequestingClose)``,
which a terminating nub sends first) calls ``StopDeviceSupport`` and
``TerminateDeviceSupport`` once each and closes the nub.  ``stop`` then waits until no
thread is waiting in a synchronous ``SendCommand`` before the command gate goes (the
gate is released by ``IOSCSIProtocolInterface.stop``; Apple keeps it until ``free``).

Tasks.  ``GetSCSITask`` hands out a ``SCSITask`` owned by this driver and
``ReleaseSCSITask`` takes it back.  Apple allocates a task each time; kextlab keeps a
small pool of released tasks (at most ``TASK_POOL_SIZE``) so that the read/write path
allocates nothing.  As in Apple's, each outstanding task holds a retain on the
driver.  Since a task also retains its owner, the pool is emptied in ``stop``; a task
given back after that is released, not pooled.

Sending.  ``SendCommand(task, timeoutMs)`` is synchronous: it blocks the calling
kernel thread in the command gate (``commandSleep`` on the task) until the task's
completion wakes it, and answers the service response.  ``SendCommand(task,
timeoutMs, completion)`` is asynchronous: ``completion(task)`` runs when the task is
done, in the transport's completion context (the HBA's work loop, gate closed: it
must not block).  Both ask the protocol layer for autosense (REQUEST SENSE for
``kSenseDefaultSize`` bytes).  With protocol access disabled (the driver is being
torn down) both fail the task at once with ``SERVICE_DELIVERY_OR_TARGET_FAILURE``
and ``kSCSITaskStatus_No_Status``.

Builders.  ``TEST_UNIT_READY``, ``INQUIRY``, ``REQUEST_SENSE``, ``MODE_SENSE_6``,
``MODE_SENSE_10``, ``MODE_SELECT_6``, ``MODE_SELECT_10`` and
``PREVENT_ALLOW_MEDIUM_REMOVAL`` (``command_builders``) reset the task and have the
command-set object (``command_sets``) fill it in; they answer False for fields out
of range.  ``GetModeSense`` is Apple's MODE SENSE with fallbacks (10-byte then
6-byte, block descriptors disabled then enabled).

``device_name`` names the device in messages (class, target, LUN, vendor, product),
so that an error in the kernel log says which disk it came from; reading a completed
task (its sense, its outcome in words and as an IOReturn) is ``outcomes``'.

Departures: no power management (kextlab has no power plane yet: Apple's
``setAggressiveness``, ``CheckPowerState``, the power state machine and the
suspend/resume notifications of later families, with ``Suspend``/``ResumeDeviceSupport``,
are absent, not stubbed) and no server keyswitch notifier (no ``AppleKeyswitch``
service exists).

Threading rules: ``start``/``stop`` run on the config and terminate threads and
block (they send commands).  The synchronous ``SendCommand`` and everything built on
it block: kernel threads only, never a completion or the work loop.  The
asynchronous ``SendCommand``, ``GetSCSITask``/``ReleaseSCSITask`` and the builders
never block and may be called from completions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from kextlab.families.scsi.command_builders import IOSCSIPrimaryCommandsBuilder
from kextlab.families.scsi.command_sets import SCSIPrimaryCommands
from kextlab.families.scsi.definitions import (
    SCSI_Sense_Data,
    kINQUIRY_ANSI_VERSION_NoClaimedConformance,
    kIOMaximumByteCountReadKey,
    kIOMaximumByteCountWriteKey,
    kIOPropertyProductNameKey,
    kIOPropertyProductRevisionLevelKey,
    kIOPropertyProtocolCharacteristicsKey,
    kIOPropertyReadTimeOutDurationKey,
    kIOPropertySCSIDeviceCharacteristicsKey,
    kIOPropertySCSIInquiryLengthKey,
    kIOPropertySCSILogicalUnitNumberKey,
    kIOPropertySCSIProductIdentification,
    kIOPropertySCSIProductRevisionLevel,
    kIOPropertySCSITargetIdentifierKey,
    kIOPropertySCSIVendorIdentification,
    kIOPropertyVendorNameKey,
    kIOPropertyWriteTimeOutDurationKey,
    kSCSICDBSize_6Byte,
    kSCSICDBSize_Maximum,
    kSCSICmd_REQUEST_SENSE,
    kSCSIProtocolFeature_MaximumReadBlockTransferCount,
    kSCSIProtocolFeature_MaximumReadTransferByteCount,
    kSCSIProtocolFeature_MaximumWriteBlockTransferCount,
    kSCSIProtocolFeature_MaximumWriteTransferByteCount,
    kSCSIProtocolNotification_VerifyDeviceState,
    kSCSIServiceResponse_SERVICE_DELIVERY_OR_TARGET_FAILURE,
    kSCSIServiceResponse_TASK_COMPLETE,
    kSCSITaskState_ENDED,
    kSCSITaskStatus_GOOD,
    kSCSITaskStatus_No_Status,
    kSenseDefaultSize,
)
from kextlab.families.scsi.outcomes import sense_of
from kextlab.families.scsi.peripheral_definitions import (
    kDefaultMaxBlocksPerIO,
    kThirtySecondTimeoutInMS,
)
from kextlab.families.scsi.protocol_interface import IOSCSIProtocolInterface
from kextlab.families.scsi.task import SCSITask, SCSITaskCompletion
from kextlab.kernel.ioreturn import (
    kIOReturnIOError,
    kIOReturnNoResources,
    kIOReturnSuccess,
    kIOReturnUnderrun,
)
from kextlab.kernel.libkern.collections import OSDictionary
from kextlab.kernel.libkern.object import OSDynamicCast
from kextlab.kernel.libkern.values import OSNumber, OSString
from kextlab.kernel.locks import THREAD_UNINT
from kextlab.kernel.memory.buffer import IOBufferMemoryDescriptor
from kextlab.kernel.memory.options import kIODirectionIn
from kextlab.kernel.memory.refs import BoolRef, UInt32Ref, UInt64Ref
from kextlab.kernel.service.service import IOService, kIOMessageServiceIsRequestingClose

if TYPE_CHECKING:
    from kextlab.kernel.memory.descriptor import IOMemoryDescriptor
    from kextlab.kernel.workloop.command_gate import IOCommandGate

#: Released tasks kept for reuse (ours; Apple allocates one per command).
TASK_POOL_SIZE: Final = 64
#: The REQUEST SENSE every command carries for autosense, as the task's 16-byte
#: autosense block (``SetAutosenseCommand(kSCSICmd_REQUEST_SENSE, 0, 0, 0,
#: kSenseDefaultSize, 0)``: 6 bytes, the rest zero).
_REQUEST_SENSE_BLOCK: Final = bytes(
    (kSCSICmd_REQUEST_SENSE, 0, 0, 0, kSenseDefaultSize, 0)
) + bytes(kSCSICDBSize_Maximum - kSCSICDBSize_6Byte)


def _string_property(service: IOService | None, key: str) -> OSString | None:
    if service is None:
        return None
    return OSDynamicCast(OSString, service.getProperty(key))


class IOSCSIPrimaryCommandsDevice(IOSCSIProtocolInterface, IOSCSIPrimaryCommandsBuilder):
    """The SPC layer of a peripheral driver (abstract: a device type subclasses it)."""

    def __init__(self) -> None:
        super().__init__()
        self.fSCSIPrimaryCommandObject: SCSIPrimaryCommands | None = None
        self.fProtocolDriver: IOSCSIProtocolInterface | None = None
        self.fProtocolAccessEnabled = False
        self.fDeviceAccessEnabled = False
        self.fDefaultInquiryCount = 0
        self.fDeviceCharacteristicsDictionary: OSDictionary | None = None
        self.fNumCommandsOutstanding = 0
        self.fANSIVersion = kINQUIRY_ANSI_VERSION_NoClaimedConformance
        self.fCMDQUE = False
        self.fTaskID = 0
        self.fReadTimeoutDuration = 0
        self.fWriteTimeoutDuration = 0
        self._task_pool: list[SCSITask] = []
        self._task_pool_open = False
        self._device_support_terminated = False
        #: Threads waiting in a synchronous SendCommand, and the event ``stop`` waits
        #: on for them to leave.
        self._synchronous_waiters = 0
        self._stopping = False

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, provider: IOService) -> bool:
        if not super().start(provider):
            return False
        protocol = OSDynamicCast(IOSCSIProtocolInterface, provider)
        if protocol is None:
            return False
        self.fProtocolDriver = protocol
        characteristics = OSDictionary()
        for source, key in (
            (kIOPropertySCSIVendorIdentification, kIOPropertyVendorNameKey),
            (kIOPropertySCSIProductIdentification, kIOPropertyProductNameKey),
            (kIOPropertySCSIProductRevisionLevel, kIOPropertyProductRevisionLevelKey),
            (kIOPropertyReadTimeOutDurationKey, kIOPropertyReadTimeOutDurationKey),
            (kIOPropertyWriteTimeOutDurationKey, kIOPropertyWriteTimeOutDurationKey),
        ):
            value = protocol.getProperty(source)
            if value is not None:
                characteristics.setObject(key, value)
        self.fDeviceCharacteristicsDictionary = characteristics
        if not self.CreateCommandSetObjects():
            return False
        if not protocol.open(self):
            return False
        scsi_characteristics = OSDynamicCast(
            OSDictionary, protocol.getProperty(kIOPropertySCSIDeviceCharacteristicsKey)
        )
        self.fDefaultInquiryCount = 0
        if scsi_characteristics is not None:
            self.setProperty(kIOPropertySCSIDeviceCharacteristicsKey, scsi_characteristics)
            length = OSDynamicCast(
                OSNumber, scsi_characteristics.getObject(kIOPropertySCSIInquiryLengthKey)
            )
            if length is not None:
                self.fDefaultInquiryCount = length.unsigned32BitValue()
        self.fProtocolAccessEnabled = True
        self._task_pool_open = True
        if not self.InitializeDeviceSupport():
            self.fProtocolAccessEnabled = False
            self._drain_task_pool()
            protocol.close(self)
            return False
        self._read_timeouts()
        maximum = UInt64Ref()
        if protocol.IsProtocolServiceSupported(
            kSCSIProtocolFeature_MaximumReadTransferByteCount, maximum
        ):
            self.setProperty(kIOMaximumByteCountReadKey, maximum.value, 64)
        maximum = UInt64Ref()
        if protocol.IsProtocolServiceSupported(
            kSCSIProtocolFeature_MaximumWriteTransferByteCount, maximum
        ):
            self.setProperty(kIOMaximumByteCountWriteKey, maximum.value, 64)
        self.fDeviceAccessEnabled = True
        self.StartDeviceSupport()
        return True

    def _read_timeouts(self) -> None:
        """The READ/WRITE timeouts: the protocol's characteristics, overridden by the
        device's.  Where neither gives one, kextlab uses 30 s (Apple leaves 0, which
        the SCSITask header calls "the longest the protocol allows"; a timeout of
        some length guarantees that a command a device drops still ends)."""
        read = write = kThirtySecondTimeoutInMS
        for dictionary in (
            self.GetProtocolCharacteristicsDictionary(),
            self.GetDeviceCharacteristicsDictionary(),
        ):
            if dictionary is None:
                continue
            value = OSDynamicCast(OSNumber, dictionary.getObject(kIOPropertyReadTimeOutDurationKey))
            if value is not None and value.unsigned32BitValue():
                read = value.unsigned32BitValue()
            value = OSDynamicCast(
                OSNumber, dictionary.getObject(kIOPropertyWriteTimeOutDurationKey)
            )
            if value is not None and value.unsigned32BitValue():
                write = value.unsigned32BitValue()
        self.fReadTimeoutDuration = read
        self.fWriteTimeoutDuration = write

    def stop(self, provider: IOService) -> None:
        self.fProtocolAccessEnabled = False
        if self.fDeviceAccessEnabled:
            self.fDeviceAccessEnabled = False
            self.StopDeviceSupport()
        self._terminate_device_support()
        self._wait_for_synchronous_commands()
        self._drain_task_pool()
        if self.fProtocolDriver is not None and self.fProtocolDriver is provider:
            if provider.isOpen(self):
                provider.close(self)
            self.fProtocolDriver = None
        super().stop(provider)

    def free(self) -> None:
        self.FreeCommandSetObjects()
        self._drain_task_pool()
        if self.fDeviceCharacteristicsDictionary is not None:
            self.fDeviceCharacteristicsDictionary.release()
            self.fDeviceCharacteristicsDictionary = None
        super().free()

    def message(self, type: int, provider: IOService, argument: object = None) -> int:
        if type == kIOMessageServiceIsRequestingClose:
            # The nub is going away: stop using the device and let go of it.
            self.fProtocolAccessEnabled = False
            if self.fDeviceAccessEnabled:
                self.fDeviceAccessEnabled = False
                self.StopDeviceSupport()
            self._terminate_device_support()
            if self.fProtocolDriver is not None and self.fProtocolDriver.isOpen(self):
                self.fProtocolDriver.close(self)
            return kIOReturnSuccess
        if type == kSCSIProtocolNotification_VerifyDeviceState:
            return self.VerifyDeviceState()
        return super().message(type, provider, argument)

    def _terminate_device_support(self) -> None:
        if not self._device_support_terminated:
            self._device_support_terminated = True
            self.TerminateDeviceSupport()

    def _wait_for_synchronous_commands(self) -> None:
        """Let every thread waiting in a synchronous ``SendCommand`` come out before
        the command gate goes (their tasks complete or fail: the transport ends every
        command it accepted)."""
        self._stopping = True
        gate = self.fCommandGate
        if gate is None or not self._synchronous_waiters:
            return

        def wait(owner: Any, *_: Any) -> None:
            while self._synchronous_waiters:
                gate.commandSleep(self._drained_event, THREAD_UNINT)

        gate.runAction(wait)

    @property
    def _drained_event(self) -> tuple[str, int]:
        return ("IOSCSIPrimaryCommandsDevice synchronous commands", id(self))

    # -- what a device type implements -------------------------------------------------------

    def InitializeDeviceSupport(self) -> bool:
        raise NotImplementedError(f"{self.getClassName()} must implement InitializeDeviceSupport")

    def StartDeviceSupport(self) -> None:
        raise NotImplementedError(f"{self.getClassName()} must implement StartDeviceSupport")

    def StopDeviceSupport(self) -> None:
        raise NotImplementedError(f"{self.getClassName()} must implement StopDeviceSupport")

    def TerminateDeviceSupport(self) -> None:
        raise NotImplementedError(f"{self.getClassName()} must implement TerminateDeviceSupport")

    def ClearNotReadyStatus(self) -> bool:
        raise NotImplementedError(f"{self.getClassName()} must implement ClearNotReadyStatus")

    def VerifyDeviceState(self) -> int:
        return kIOReturnSuccess

    # -- state -------------------------------------------------------------------------------

    def IsProtocolAccessEnabled(self) -> bool:
        return self.fProtocolAccessEnabled

    def IsDeviceAccessEnabled(self) -> bool:
        return self.fDeviceAccessEnabled

    def GetANSIVersion(self) -> int:
        return self.fANSIVersion

    def SetANSIVersion(self, newVersion: int) -> None:
        self.fANSIVersion = newVersion

    def GetCMDQUE(self) -> bool:
        return self.fCMDQUE

    def SetCMDQUE(self, value: bool) -> None:
        self.fCMDQUE = value

    # -- the command-set object --------------------------------------------------------------

    def CreateCommandSetObjects(self) -> bool:
        self.fSCSIPrimaryCommandObject = SCSIPrimaryCommands.CreateSCSIPrimaryCommandObject()
        return True

    def FreeCommandSetObjects(self) -> None:
        if self.fSCSIPrimaryCommandObject is not None:
            self.fSCSIPrimaryCommandObject.release()
            self.fSCSIPrimaryCommandObject = None

    def GetSCSIPrimaryCommandObject(self) -> SCSIPrimaryCommands:
        command_set = self.fSCSIPrimaryCommandObject
        assert command_set is not None, "no command-set object (start has not run)"
        return command_set

    # -- tasks -------------------------------------------------------------------------------

    def GetSCSITask(self) -> SCSITask:
        """A task owned by this driver (from the pool when one is free)."""
        pool = self._task_pool
        task = pool.pop() if pool else SCSITask.create(self)
        self.fNumCommandsOutstanding += 1
        self.retain()  # the driver stays while a task of its is out
        return task

    def ReleaseSCSITask(self, request: SCSITask | None) -> None:
        if request is None:
            return
        self.fNumCommandsOutstanding -= 1
        if self._task_pool_open and len(self._task_pool) < TASK_POOL_SIZE:
            self._task_pool.append(request)
        else:
            request.release()
        self.release()

    def _drain_task_pool(self) -> None:
        self._task_pool_open = False
        pool, self._task_pool = self._task_pool, []
        for task in pool:
            task.release()

    def GetUniqueTagID(self) -> int:
        self.fTaskID = (self.fTaskID + 1) & 0xFFFF_FFFF_FFFF_FFFF or 1
        return self.fTaskID

    def GetProtocolDriver(self) -> IOSCSIProtocolInterface:
        driver = self.fProtocolDriver
        assert driver is not None, f"{self.getClassName()} has no protocol driver"
        return driver

    # -- sending -----------------------------------------------------------------------------

    def SendCommand(
        self,
        request: SCSITask,
        timeoutDuration: int,
        taskCompletion: SCSITaskCompletion | None = None,
    ) -> int | None:
        """Send ``request`` with a timeout in milliseconds.  Without ``taskCompletion``
        wait for it and answer its service response (kernel threads only); with one,
        return at once: ``taskCompletion(request)`` runs when it is done."""
        if taskCompletion is not None:
            # Asynchronous (every READ and WRITE): the task's completion, timeout and
            # autosense command written directly (one family; its setters' effect).
            request._completion = taskCompletion
            protocol = self.fProtocolDriver
            if not self.fProtocolAccessEnabled or protocol is None:
                request._service_response = kSCSIServiceResponse_SERVICE_DELIVERY_OR_TARGET_FAILURE
                request._task_status = kSCSITaskStatus_No_Status
                taskCompletion(request)  # its ``TaskCompletedNotification``
                return None
            request._timeout = timeoutDuration
            request._autosense_cdb = _REQUEST_SENSE_BLOCK  # ``SetAutosenseCommand``
            request._autosense_cdb_size = kSCSICDBSize_6Byte
            request._autosense_requested = True
            protocol.ExecuteCommand(request)
            return None
        gate = self.fCommandGate
        protocol = self.fProtocolDriver
        if not self.fProtocolAccessEnabled or gate is None or protocol is None:
            request.SetServiceResponse(kSCSIServiceResponse_SERVICE_DELIVERY_OR_TARGET_FAILURE)
            request.SetTaskStatus(kSCSITaskStatus_No_Status)
            return kSCSIServiceResponse_SERVICE_DELIVERY_OR_TARGET_FAILURE
        request.SetTimeoutDuration(timeoutDuration)
        request.SetTaskCompletionCallback(IOSCSIPrimaryCommandsDevice.TaskCallback)
        request.SetAutosenseCommand(kSCSICmd_REQUEST_SENSE, 0, 0, 0, kSenseDefaultSize, 0)
        self._synchronous_waiters += 1
        try:
            protocol.ExecuteCommand(request)
            gate.runAction(IOSCSIPrimaryCommandsDevice._gated_wait_for_task, request)
        finally:
            self._synchronous_waiters -= 1
            if self._stopping and not self._synchronous_waiters:
                gate.commandWakeup(self._drained_event)
        return request.GetServiceResponse()

    def command_succeeds(self, request: SCSITask, timeoutDuration: int) -> bool:
        """Send ``request`` and wait for it (``SendCommand``, kernel threads only);
        whether it completed with GOOD status."""
        return (
            self.SendCommand(request, timeoutDuration) == kSCSIServiceResponse_TASK_COMPLETE
            and request.GetTaskStatus() == kSCSITaskStatus_GOOD
        )

    @staticmethod
    def TaskCallback(completedTask: SCSITask) -> None:
        """The completion of a synchronous command: wake its sender."""
        owner = OSDynamicCast(IOSCSIPrimaryCommandsDevice, completedTask.GetTaskOwner())
        if owner is not None:
            owner.TaskCompletion(completedTask)

    def TaskCompletion(self, completedTask: SCSITask) -> None:
        gate = self.fCommandGate
        if gate is not None:
            gate.commandWakeup(completedTask, True)

    @staticmethod
    def _gated_wait_for_task(
        owner: IOSCSIPrimaryCommandsDevice, request: SCSITask, *_: object
    ) -> int:
        gate: IOCommandGate | None = owner.fCommandGate
        assert gate is not None
        while request.GetTaskState() != kSCSITaskState_ENDED:
            gate.commandSleep(request, THREAD_UNINT)
        return kIOReturnSuccess

    # -- information -------------------------------------------------------------------------

    def GetVendorString(self) -> str:
        value = _string_property(self.fProtocolDriver, kIOPropertySCSIVendorIdentification)
        return value.getCStringNoCopy() if value is not None else "NULL STRING"

    def GetProductString(self) -> str:
        value = _string_property(self.fProtocolDriver, kIOPropertySCSIProductIdentification)
        return value.getCStringNoCopy() if value is not None else "NULL STRING"

    def GetRevisionString(self) -> str:
        value = _string_property(self.fProtocolDriver, kIOPropertySCSIProductRevisionLevel)
        return value.getCStringNoCopy() if value is not None else "NULL STRING"

    def GetProtocolCharacteristicsDictionary(self) -> OSDictionary | None:
        driver = self.fProtocolDriver
        if driver is None:
            return None
        return OSDynamicCast(
            OSDictionary, driver.getProperty(kIOPropertyProtocolCharacteristicsKey)
        )

    def GetDeviceCharacteristicsDictionary(self) -> OSDictionary | None:
        return self.fDeviceCharacteristicsDictionary

    def device_name(self) -> str:
        """Who this driver is, for the kernel log: ``"IOSCSIPeripheralDeviceType00
        (target 1, LUN 0: KEXTLAB KEXTLAB DISK)"``.  The target and LUN come from the
        protocol characteristics (``"SCSI Target Identifier"``, ``"SCSI Logical Unit
        Number"``), else from the nubs below that publish them."""
        found: dict[str, int] = {}
        keys = (kIOPropertySCSITargetIdentifierKey, kIOPropertySCSILogicalUnitNumberKey)
        sources: list[OSDictionary | IOService] = []
        protocol = self.GetProtocolCharacteristicsDictionary()
        if protocol is not None:
            sources.append(protocol)
        service: IOService | None = self.fProtocolDriver or self.getProvider()
        while service is not None:
            sources.append(service)
            service = service.getProvider()
        for source in sources:
            for key in keys:
                if key not in found:
                    value = OSDynamicCast(
                        OSNumber,
                        source.getObject(key)
                        if isinstance(source, OSDictionary)
                        else source.getProperty(key),
                    )
                    if value is not None:
                        found[key] = value.unsigned64BitValue()
        place = ", ".join(
            f"{label} {found[key]}"
            for label, key in zip(("target", "LUN"), keys, strict=True)
            if key in found
        )
        identity = f"{self.GetVendorString()} {self.GetProductString()}"
        if place:
            return f"{self.getClassName()} ({place}: {identity})"
        return f"{self.getClassName()} ({identity})"

    # -- mode sense with fallbacks ------------------------------------------------------------

    def GetModeSense(
        self,
        dataBuffer: IOMemoryDescriptor,
        PAGE_CODE: int,
        ALLOCATION_LENGTH: int,
        use10ByteModeSense: BoolRef,
    ) -> int:
        """MODE SENSE of ``PAGE_CODE`` into ``dataBuffer``: the 10-byte command if
        ``use10ByteModeSense.value`` (a ``BoolRef`` for Apple's ``bool *``), falling back
        to the 6-byte one (and saying so in ``use10ByteModeSense.value``); block
        descriptors disabled first, then allowed.  ``kIOReturnSuccess`` when all
        ``ALLOCATION_LENGTH`` bytes came, ``kIOReturnUnderrun`` when fewer did."""
        request = self.GetSCSITask()
        status = kIOReturnNoResources
        try:
            while True:
                for DBD in (1, 0):
                    if use10ByteModeSense.value:
                        built = self.MODE_SENSE_10(
                            request, dataBuffer, 0, DBD, 0, PAGE_CODE, ALLOCATION_LENGTH, 0
                        )
                    else:
                        built = self.MODE_SENSE_6(
                            request, dataBuffer, DBD, 0, PAGE_CODE, ALLOCATION_LENGTH & 0xFF, 0
                        )
                    response = (
                        self.SendCommand(request, kThirtySecondTimeoutInMS)
                        if built
                        else kSCSIServiceResponse_SERVICE_DELIVERY_OR_TARGET_FAILURE
                    )
                    if (
                        response == kSCSIServiceResponse_TASK_COMPLETE
                        and request.GetTaskStatus() == kSCSITaskStatus_GOOD
                    ):
                        realized = request.GetRealizedDataTransferCount()
                        requested = request.GetRequestedDataTransferCount()
                        if realized == requested:
                            status = kIOReturnSuccess
                        elif realized < requested:
                            status = kIOReturnUnderrun
                        else:
                            status = kIOReturnIOError
                        break
                if status == kIOReturnSuccess or not use10ByteModeSense.value:
                    return status
                use10ByteModeSense.value = False
        finally:
            self.ReleaseSCSITask(request)

    # -- helpers for the device types (ours) -------------------------------------------------

    def maximum_transfer_blocks(self, *, write: bool, block_size: int) -> int:
        """The most blocks one READ (or WRITE) may carry: the transport's block limit
        (``kSCSIProtocolFeature_Maximum*BlockTransferCount``, else 65,535 as Apple's
        ``kDefaultMaxBlocksPerIO``), within its byte limit
        (``..._Maximum*TransferByteCount``) at ``block_size``.  The byte limit is
        published too (``IOMaximumByteCountRead``/``Write``), as Apple's drivers do."""
        if write:
            block_feature = kSCSIProtocolFeature_MaximumWriteBlockTransferCount
            byte_feature = kSCSIProtocolFeature_MaximumWriteTransferByteCount
            byte_key = kIOMaximumByteCountWriteKey
        else:
            block_feature = kSCSIProtocolFeature_MaximumReadBlockTransferCount
            byte_feature = kSCSIProtocolFeature_MaximumReadTransferByteCount
            byte_key = kIOMaximumByteCountReadKey
        protocol = self.GetProtocolDriver()
        blocks = UInt32Ref(kDefaultMaxBlocksPerIO)
        if not protocol.IsProtocolServiceSupported(block_feature, blocks):
            blocks.value = kDefaultMaxBlocksPerIO
        maximum = min(blocks.value or kDefaultMaxBlocksPerIO, kDefaultMaxBlocksPerIO)
        byte_count = UInt64Ref()
        if protocol.IsProtocolServiceSupported(byte_feature, byte_count) and byte_count.value:
            self.setProperty(byte_key, byte_count.value, 64)
            if block_size:
                maximum = min(maximum, byte_count.value // block_size)
        return maximum

    def data_buffer(self, length: int) -> IOBufferMemoryDescriptor:
        """A zeroed buffer for a command's data in (Apple uses stack buffers with
        ``IOMemoryDescriptor::withAddress``; kextlab's data must live in the
        machine's memory so the HBA can reach it)."""
        buffer = IOBufferMemoryDescriptor.withCapacity(length, kIODirectionIn)
        assert buffer is not None, "IOBufferMemoryDescriptor.withCapacity failed"
        buffer.getBytesNoCopy()[:] = bytes(length)
        return buffer

    def request_sense_into(self, request: SCSITask, timeoutDuration: int) -> SCSI_Sense_Data | None:
        """The sense of a CHECK CONDITION: the autosense data, else a REQUEST SENSE
        (what Apple's ClearNotReadyStatus and polling do); None if neither gives any.
        ``request`` is reused for the REQUEST SENSE."""
        sense = sense_of(request)
        if sense is not None:
            return sense
        buffer = self.data_buffer(kSenseDefaultSize)
        try:
            if not self.REQUEST_SENSE(request, buffer, kSenseDefaultSize, 0):
                return None
            if self.SendCommand(request, timeoutDuration) != kSCSIServiceResponse_TASK_COMPLETE:
                return None
            if request.GetTaskStatus() != kSCSITaskStatus_GOOD:
                return None
            return SCSI_Sense_Data.from_bytes(bytes(buffer.getBytesNoCopy()))
        finally:
            buffer.release()


__all__ = ["TASK_POOL_SIZE", "IOSCSIPrimaryCommandsDevice"]
