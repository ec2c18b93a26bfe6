"""IOSCSIParallelInterfaceDevice: the protocol-services nub of one target ID.

Mirrors ``IOSCSIParallelInterfaceDevice`` (IOSCSIParallelFamily-352
``IOSCSIParallelInterfaceDevice.h``/``.cpp``), spec ``scsi.md`` §1.6-§1.7.  The
controller makes one per target ID (``CreateTargetForID``); it is the
``IOSCSIProtocolServices`` the target's ``IOSCSITargetDevice`` and logical units sit
on, and turns their ``SCSITask`` s into the controller's ``SCSIParallelTask`` s.

Design
------
``start`` opens the controller, lets the HBA prepare the target
(``InitializeTargetForID``: False and the target is not made), publishes the target
ID (``Protocol Characteristics``, ``IOUnit``, the location) and creates the target
device, which scans the target.  The nub registers itself only when the target
device hands it the standard INQUIRY data
(``kSCSIProtocolFeature_SubmitDefaultInquiryData``), so an empty ID leaves an
unregistered nub and no target device, as on a Mac.  The scan issues commands and
waits for them, so it cannot run on the controller's work loop thread (the
completions come from there): called there (an HBA creating a target from its
interrupt or timer action), the nub starts the scan on a kernel thread of its own.

``SendSCSICommand`` takes a parallel task from the controller's pool (waiting for one
unless it runs on the work loop thread, where it declines and the protocol layer
resends later), binds it to the client's task, lends it the task's buffer (not
prepared), and calls ``ExecuteParallelTask``.  Anything but ``Request_In_Process``
fails the task with a delivery failure (``DeviceNotPresent`` if the nub is going).

``CompleteSCSITask`` (from ``CompleteParallelTask``, in the gate) handles TASK SET
FULL: the task goes on the resend list and is sent again when another task of the
target completes, or after ``kResendDelayMS`` if none does; after
``kMaxTaskRetryCount`` resends it fails with BUSY.  (Apple starts a kernel thread
that sleeps 10 s; kextlab uses a timer on the work loop, which is serialised with
the completions that share the list.)  Otherwise it copies the realized count to the
client's task, returns the parallel task to the pool and completes the client.

A nub that goes away (``DestroyTarget``, or termination of the controller) refuses
new tasks, fails its queued ones and those waiting for a resend with
``DeviceNotPresent``; tasks the HBA holds complete through it as the HBA finishes
or times them out.

Threading rules: ``SendSCSICommand`` runs on the client's thread (it may block for a
parallel task) or on the work loop; ``CompleteSCSITask`` and the resend timer run
in the gate; the task-management handlers may block (they wait for the HBA's
``Complete*`` on kernel threads).
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from kextlab.families.scsi.definitions import (
    kINQUIRY_ANSI_VERSION_Mask,
    kINQUIRY_ANSI_VERSION_SCSI_2_Compliant,
    kINQUIRY_ANSI_VERSION_SCSI_SPC_Compliant,
    kINQUIRY_Byte7_Offset,
    kINQUIRY_Byte7_SYNC_Mask,
    kINQUIRY_Byte7_WBUS16_Mask,
    kINQUIRY_Byte56_CLOCKING_Mask,
    kINQUIRY_Byte56_CLOCKING_ONLY_DT,
    kINQUIRY_Byte56_CLOCKING_ST_AND_DT,
    kINQUIRY_Byte56_IUS_Mask,
    kINQUIRY_Byte56_Offset,
    kINQUIRY_Byte56_QAS_Mask,
    kINQUIRY_StandardDataHeaderSize,
    kIODeviceLocationKey,
    kIOMaximumBlockCountReadKey,
    kIOMaximumBlockCountWriteKey,
    kIOMaximumByteCountReadKey,
    kIOMaximumByteCountWriteKey,
    kIOPropertyFibreChannelAddressIdentifierKey,
    kIOPropertyFibreChannelALPAKey,
    kIOPropertyFibreChannelNodeWorldWideNameKey,
    kIOPropertyFibreChannelPortWorldWideNameKey,
    kIOPropertyIOUnitKey,
    kIOPropertyProtocolCharacteristicsKey,
    kIOPropertyRetryCountKey,
    kIOPropertySASAddressKey,
    kIOPropertySCSIPortIdentifierKey,
    kIOPropertySCSITargetIdentifierKey,
    kSCSIPort_NotificationStatusChange,
    kSCSIProtocolFeature_GetMaximumLogicalUnitNumber,
    kSCSIProtocolFeature_HierarchicalLogicalUnits,
    kSCSIProtocolFeature_MaximumReadBlockTransferCount,
    kSCSIProtocolFeature_MaximumReadTransferByteCount,
    kSCSIProtocolFeature_MaximumWriteBlockTransferCount,
    kSCSIProtocolFeature_MaximumWriteTransferByteCount,
    kSCSIProtocolFeature_MultiPathing,
    kSCSIProtocolFeature_ProtocolAlwaysReportsAutosenseData,
    kSCSIProtocolFeature_SubmitDefaultInquiryData,
    kSCSIServiceResponse_FUNCTION_REJECTED,
    kSCSIServiceResponse_Request_In_Process,
    kSCSIServiceResponse_SERVICE_DELIVERY_OR_TARGET_FAILURE,
    kSCSIServiceResponse_TASK_COMPLETE,
    kSCSITaskMode_Autosense,
    kSCSITaskMode_CommandExecution,
    kSCSITaskStatus_BUSY,
    kSCSITaskStatus_DeviceNotPresent,
    kSCSITaskStatus_No_Status,
    kSCSITaskStatus_TASK_SET_FULL,
)
from kextlab.families.scsi.parallel.characteristics import (
    kIOHierarchicalLogicalUnitSupportKey,
    kIOPropertySCSI_I_T_NexusFeaturesKey,
    kIOPropertySCSIDeviceFeaturesKey,
    kMaxTaskRetryCount,
    kResendDelayMS,
    kSCSIControllerNotificationBusReset,
    kSCSIParallelFeature_AttemptNegotiation,
    kSCSIParallelFeature_DoubleTransitionDataTransfers,
    kSCSIParallelFeature_InformationUnitTransfers,
    kSCSIParallelFeature_NegotitiationSuccess,
    kSCSIParallelFeature_QuickArbitrationAndSelection,
    kSCSIParallelFeature_SynchronousDataTransfer,
    kSCSIParallelFeature_TotalFeatureCount,
    kSCSIParallelFeature_WideDataTransfer,
    kSCSIParallelTaskControllerIDQueueHead,
)
from kextlab.families.scsi.protocol_services import IOSCSIProtocolServices
from kextlab.kernel.ioreturn import kIOReturnNotPermitted, kIOReturnSuccess
from kextlab.kernel.libkern.collections import OSDictionary
from kextlab.kernel.libkern.convert import from_python
from kextlab.kernel.libkern.object import OSDynamicCast
from kextlab.kernel.libkern.values import OSBoolean, OSData, OSNumber
from kextlab.kernel.log import IOLog
from kextlab.kernel.registry.registry import kIODeviceTreePlane
from kextlab.kernel.service.service import IOService, kIOMessageServiceIsRequestingClose
from kextlab.kernel.threads import IOCreateThread
from kextlab.kernel.workloop.timer_event_source import IOTimerEventSource
from kextlab.sim.context import Context
from kextlab.sim.scheduler import current_scheduler

if TYPE_CHECKING:
    from kextlab.families.scsi.parallel.controller import IOSCSIParallelInterfaceController
    from kextlab.families.scsi.parallel.parallel_task import SCSIParallelTask
    from kextlab.families.scsi.task import SCSITask
    from kextlab.kernel.memory.refs import UInt32Ref
    from kextlab.kernel.registry.entry import IORegistryEntry

#: ``SetTargetProperty``'s keys, with the OSData size a key's value must have (None: any).
_TARGET_PROPERTY_SIZES: dict[str, int | None] = {
    kIOPropertyFibreChannelNodeWorldWideNameKey: 8,
    kIOPropertyFibreChannelPortWorldWideNameKey: 8,
    kIOPropertyFibreChannelAddressIdentifierKey: 3,
    kIOPropertyFibreChannelALPAKey: 1,
    kIOPropertySASAddressKey: 8,
    kIOPropertyRetryCountKey: None,
}
#: The controller properties answering the transfer-size features.
_TRANSFER_LIMIT_KEYS = {
    kSCSIProtocolFeature_MaximumReadBlockTransferCount: kIOMaximumBlockCountReadKey,
    kSCSIProtocolFeature_MaximumWriteBlockTransferCount: kIOMaximumBlockCountWriteKey,
    kSCSIProtocolFeature_MaximumReadTransferByteCount: kIOMaximumByteCountReadKey,
    kSCSIProtocolFeature_MaximumWriteTransferByteCount: kIOMaximumByteCountWriteKey,
}


class IOSCSIParallelInterfaceDevice(IOSCSIProtocolServices):
    """The SCSI protocol services of one target ID on a parallel controller."""

    def __init__(self) -> None:
        super().__init__()
        self.fController: IOSCSIParallelInterfaceController | None = None
        self.fTargetIdentifier = 0
        self.fHBAData: memoryview | None = None
        self.fHBADataSize = 0
        self.fOutstandingTasks: dict[SCSIParallelTask, None] = {}
        self.fResendTaskList: deque[SCSIParallelTask] = deque()
        self.fResendTimer: IOTimerEventSource | None = None
        self.fResendScheduled = False
        self.fAllowResends = False
        self.fMultiPathSupport = True
        self.fITNexusSupportsFeature = [False] * kSCSIParallelFeature_TotalFeatureCount
        self.fFeatureIsNegotiated = [False] * kSCSIParallelFeature_TotalFeatureCount
        self._negotiating = False
        self._scan_thread_running = False

    # -- Creation and destruction (called by the controller) -----------------------------------

    @classmethod
    def CreateTarget(
        cls, targetID: int, sizeOfHBAData: int, entry: IORegistryEntry | None
    ) -> IOSCSIParallelInterfaceDevice | None:
        device = cls()
        if not device.InitTarget(targetID, sizeOfHBAData, entry):
            device.release()
            return None
        return device

    def InitTarget(self, targetID: int, sizeOfHBAData: int, entry: IORegistryEntry | None) -> bool:
        if not self.init():
            return False
        if entry is not None:
            registry = entry.registry
            if registry is None or not self.attachToParent(
                entry, registry.plane(kIODeviceTreePlane)
            ):
                return False
            location = entry.getProperty(kIODeviceLocationKey)
            if location is not None:
                self.setProperty(kIODeviceLocationKey, location)
        self.fTargetIdentifier = targetID
        self.fHBADataSize = sizeOfHBAData
        self.fHBAData = memoryview(bytearray(sizeOfHBAData)) if sizeOfHBAData else None
        self.fAllowResends = True
        self.fMultiPathSupport = True
        return True

    def SetInitialTargetProperties(self, properties: OSDictionary) -> bool:
        """An empty ``Protocol Characteristics``, then the identity keys the HBA gave
        ``CreateTargetForID`` (SAS address, FC names, retry count)."""
        empty = OSDictionary()
        self.setProperty(kIOPropertyProtocolCharacteristicsKey, empty)
        empty.release()
        for key in _TARGET_PROPERTY_SIZES:
            value = properties.getObject(key)
            if value is not None:
                self.SetTargetProperty(key, value)
        return True

    def DestroyTarget(self) -> None:
        """The target is gone: fail what waits, refuse the rest, leave the device tree."""
        self.SendNotification_DeviceRemoved()
        self.removeProperty(kIODeviceLocationKey)
        self.fAllowResends = False
        self._flush_resend_list()
        registry = self.registry
        if registry is not None:
            plane = registry.plane(kIODeviceTreePlane)
            parent = self.getParentEntry(plane)
            if parent is not None:
                self.detachFromParent(parent, plane)

    # -- Lifecycle -----------------------------------------------------------------------------

    def start(self, provider: IOService) -> bool:
        from kextlab.families.scsi.parallel.controller import IOSCSIParallelInterfaceController

        controller = OSDynamicCast(IOSCSIParallelInterfaceController, provider)
        if controller is None:
            return False
        controller.retain()
        self.fController = controller
        if not super().start(provider):
            return False
        if not controller.open(self):
            return False
        if not controller.InitializeTargetForID(self.fTargetIdentifier):
            controller.close(self)
            return False
        self.fMultiPathSupport = controller.DoesHBASupportMultiPathing()
        self._publish_target_identifier()
        self.setLocation(f"{self.fTargetIdentifier:x}")
        if not self._make_resend_timer():
            controller.close(self)
            return False
        self._create_target_device()
        return True

    def _publish_target_identifier(self) -> None:
        current = OSDynamicCast(
            OSDictionary, self.getProperty(kIOPropertyProtocolCharacteristicsKey)
        )
        if current is None:
            return
        protocol = OSDictionary.withDictionary(current)
        target = OSNumber(self.fTargetIdentifier, 64)
        protocol.setObject(kIOPropertySCSITargetIdentifierKey, target)
        self.setProperty(kIOPropertyIOUnitKey, target)
        target.release()
        self.setProperty(kIOPropertyProtocolCharacteristicsKey, protocol)
        protocol.release()

    def _make_resend_timer(self) -> bool:
        loop = self.getWorkLoop()
        timer = IOTimerEventSource.timerEventSource(
            self, IOSCSIParallelInterfaceDevice._resend_timer_fired
        )
        if loop is None or timer is None:
            return False
        if loop.addEventSource(timer) != kIOReturnSuccess:
            timer.release()
            return False
        self.fResendTimer = timer
        return True

    def _release_resend_timer(self) -> None:
        timer = self.fResendTimer
        if timer is None:
            return
        self.fResendTimer = None
        loop = timer.getWorkLoop()
        if loop is not None:
            loop.removeEventSource(timer)
        timer.release()

    def _create_target_device(self) -> None:
        """Scan the target now, or on a thread of its own where this thread could not
        wait for the scan's commands (the work loop's, an event, an interrupt)."""
        scheduler = current_scheduler()
        loop = self.getWorkLoop()
        on_loop = loop is not None and loop.onThread()
        if scheduler is not None and (
            on_loop or scheduler.context not in (Context.THREAD, Context.HOST)
        ):
            self.retain()
            self._scan_thread_running = True
            IOCreateThread(IOSCSIParallelInterfaceDevice._scan_thread, self)
            return
        self.CreateSCSITargetDevice()

    @staticmethod
    def _scan_thread(device: IOSCSIParallelInterfaceDevice) -> None:
        try:
            if not device.isInactive():
                device.CreateSCSITargetDevice()
        finally:
            device._scan_thread_running = False
            device.release()

    def stop(self, provider: IOService) -> None:
        self._release_resend_timer()
        super().stop(provider)

    def requestTerminate(self, provider: IOService, options: int) -> bool:
        """The controller is being terminated: stop taking tasks before going."""
        result = super().requestTerminate(provider, options)
        if result:
            self.SendNotification_DeviceRemoved()
            self.fAllowResends = False
            self._flush_resend_list()
        return result

    def finalize(self, options: int) -> bool:
        controller = self.fController
        if controller is not None and controller.isOpen(self):
            controller.close(self)
        return super().finalize(options)

    def free(self) -> None:
        self._release_resend_timer()
        self.fHBAData = None
        controller = self.fController
        if controller is not None:
            self.fController = None
            controller.release()
        super().free()

    def message(self, type: int, provider: IOService, argument: object = None) -> int:
        if type == kSCSIControllerNotificationBusReset:
            for index in range(kSCSIParallelFeature_TotalFeatureCount):
                self.fFeatureIsNegotiated[index] = False
            self._negotiating = any(self.fITNexusSupportsFeature)
            self.SendNotification_VerifyDeviceState()
            return kIOReturnSuccess
        if type == kSCSIPort_NotificationStatusChange:
            self.messageClients(kSCSIPort_NotificationStatusChange, argument)
            return kIOReturnSuccess
        if type == kIOMessageServiceIsRequestingClose:
            if provider.isOpen(self):
                provider.close(self)
            return kIOReturnSuccess
        return super().message(type, provider, argument)

    def requestProbe(self, options: int = 0) -> int:
        """Scan the target again, if nothing holds the nub open (no target device)."""
        if self.isOpen():
            return kIOReturnNotPermitted
        self.CreateSCSITargetDevice()
        return kIOReturnSuccess

    # -- Accessors -----------------------------------------------------------------------------

    def GetTargetIdentifier(self) -> int:
        return self.fTargetIdentifier

    def GetController(self) -> IOSCSIParallelInterfaceController | None:
        return self.fController

    def GetHBADataPointer(self) -> memoryview | None:
        return self.fHBAData

    def GetHBADataSize(self) -> int:
        return self.fHBADataSize

    def IsFeatureNegotiationNecessary(self, feature: int) -> bool:
        if not 0 <= feature < kSCSIParallelFeature_TotalFeatureCount:
            return False
        return self.fITNexusSupportsFeature[feature] and not self.fFeatureIsNegotiated[feature]

    def outstanding_task_count(self) -> int:
        """Commands the HBA holds or that wait for a resend (ours: tests, diagnostics)."""
        return len(self.fOutstandingTasks)

    def resend_task_count(self) -> int:
        return len(self.fResendTaskList)

    def GetNextOutstandingTask(self) -> SCSIParallelTask | None:
        return next(iter(self.fOutstandingTasks), None)

    def FindTaskForAddress(self, theL: int, theQ: int) -> SCSIParallelTask | None:
        for task in self.fOutstandingTasks:
            if task.GetLogicalUnitNumber() == theL and task.GetTaggedTaskIdentifier() == theQ:
                return task
        return None

    def FindTaskForControllerIdentifier(self, theIdentifier: int) -> SCSIParallelTask | None:
        for task in self.fOutstandingTasks:
            if theIdentifier == kSCSIParallelTaskControllerIDQueueHead:
                return task
            if task.fControllerTaskIdentifier == theIdentifier:
                return task
        return None

    # -- target properties ---------------------------------------------------------------------

    def SetTargetProperty(self, key: str, value: object) -> bool:
        """Set an identity key in ``Protocol Characteristics``; a SAS address or FC
        node name also names the nub ("SAS Target 5000C500...")."""
        if key not in _TARGET_PROPERTY_SIZES or value is None:
            return False
        current = OSDynamicCast(
            OSDictionary, self.getProperty(kIOPropertyProtocolCharacteristicsKey)
        )
        if current is None:
            return False
        converted = from_python(value)
        try:
            size = _TARGET_PROPERTY_SIZES[key]
            data = OSDynamicCast(OSData, converted)
            if size is not None and (data is None or data.getLength() != size):
                return False
            protocol = OSDictionary.withDictionary(current)
            protocol.setObject(key, converted)
            if key in (kIOPropertyFibreChannelPortWorldWideNameKey, kIOPropertySASAddressKey):
                protocol.setObject(kIOPropertySCSIPortIdentifierKey, converted)
            if data is not None and key == kIOPropertySASAddressKey:
                self.setName(f"SAS Target {data.getBytesNoCopy().hex().upper()}")
            if data is not None and key == kIOPropertyFibreChannelNodeWorldWideNameKey:
                self.setName(f"FC Target {data.getBytesNoCopy().hex().upper()}")
            self.setProperty(kIOPropertyProtocolCharacteristicsKey, protocol)
            protocol.release()
            return True
        finally:
            converted.release()

    def RemoveTargetProperty(self, key: str) -> None:
        current = OSDynamicCast(
            OSDictionary, self.getProperty(kIOPropertyProtocolCharacteristicsKey)
        )
        if current is None:
            return
        protocol = OSDictionary.withDictionary(current)
        protocol.removeObject(key)
        self.setProperty(kIOPropertyProtocolCharacteristicsKey, protocol)
        protocol.release()

    # -- SCSI protocol services ----------------------------------------------------------------

    def SendSCSICommand(
        self, request: SCSITask, serviceResponse: UInt32Ref, taskStatus: UInt32Ref
    ) -> bool:
        taskStatus.value = kSCSITaskStatus_No_Status
        serviceResponse.value = kSCSIServiceResponse_SERVICE_DELIVERY_OR_TARGET_FAILURE
        controller = self.fController
        if controller is None or self.isInactive():
            return False
        # A free parallel task if there is one; whether this caller may wait for one
        # matters only when there is none.
        parallel = controller.GetSCSIParallelTask(False)
        if parallel is None:
            if not self._may_block():
                return False
            parallel = controller.GetSCSIParallelTask(True)
            if parallel is None:
                return False
        parallel.fTargetID = self.fTargetIdentifier
        parallel.fDevice = self
        # The binding (``parallel.SetSCSITaskIdentifier``) and the task's protocol-layer
        # reference, written directly (one family; every command comes here).
        parallel.fSCSITask = request
        autosense = request._execution_mode == kSCSITaskMode_Autosense
        parallel._autosense = autosense
        request._references[0] = parallel
        if self._negotiating:
            for feature in range(kSCSIParallelFeature_TotalFeatureCount):
                if self.IsFeatureNegotiationNecessary(feature):
                    parallel.SetSCSIParallelFeatureNegotiation(
                        feature, kSCSIParallelFeature_AttemptNegotiation
                    )
        self.fOutstandingTasks[parallel] = None
        serviceResponse.value = kSCSIServiceResponse_Request_In_Process
        # ``parallel.GetDataBuffer()``, ``parallel.SetBuffer(buffer)`` and
        # ``controller.ExecuteParallelTask(parallel)``, inline (each only forwards).
        buffer = request.GetAutosenseDataBuffer() if autosense else request._data_buffer
        if buffer is not None and parallel.setMemoryDescriptor(buffer, False) != kIOReturnSuccess:
            self._fail_before_sending(parallel, request, kSCSITaskStatus_No_Status)
            return True
        if not controller.fHBACanAcceptClientRequests or (
            controller.ProcessParallelTask(parallel) != kSCSIServiceResponse_Request_In_Process
        ):
            status = (
                kSCSITaskStatus_DeviceNotPresent if self.isInactive() else kSCSITaskStatus_No_Status
            )
            self._fail_before_sending(parallel, request, status)
        return True

    def _may_block(self) -> bool:
        """Whether this caller may wait for a parallel task: a kernel thread (or the
        host) other than the work loop's."""
        scheduler = current_scheduler()
        if scheduler is None or scheduler.context not in (Context.THREAD, Context.HOST):
            return False
        controller = self.fController
        loop = controller.fWorkLoop if controller is not None else None  # our getWorkLoop()
        return not (loop is not None and loop.onThread())

    def _fail_before_sending(
        self, parallel: SCSIParallelTask, request: SCSITask, status: int
    ) -> None:
        """The HBA did not take ``parallel``: give it back, fail the client's task."""
        self.fOutstandingTasks.pop(parallel, None)
        assert self.fController is not None
        self.fController.FreeSCSIParallelTask(parallel)
        self._command_completed(
            request, kSCSIServiceResponse_SERVICE_DELIVERY_OR_TARGET_FAILURE, status
        )

    def _command_completed(self, request: SCSITask, response: int, status: int) -> None:
        """``CommandCompleted`` in the gate, where completions run."""
        controller = self.fController
        gate = controller.GetCommandGate() if controller is not None else None
        loop = gate.getWorkLoop() if gate is not None else None
        if gate is None or loop is None or loop.inGate():
            self.CommandCompleted(request, response, status)
            return
        gate.runAction(lambda *_: self.CommandCompleted(request, response, status))

    def CompleteSCSITask(
        self, completedTask: SCSIParallelTask, serviceResponse: int, completionStatus: int
    ) -> None:
        """The HBA finished ``completedTask`` (gate held): resend on TASK SET FULL,
        else complete the client's task and send one waiting resend."""
        client = completedTask.fSCSITask
        if client is None:
            IOLog("IOSCSIParallelInterfaceDevice::CompleteSCSITask: no client task\n")
            return
        retries = completedTask.fTaskRetryCount
        task_set_full = (
            serviceResponse == kSCSIServiceResponse_TASK_COMPLETE
            and completionStatus == kSCSITaskStatus_TASK_SET_FULL
        )
        if task_set_full and self.fAllowResends and retries < kMaxTaskRetryCount:
            self.AddToResendTaskList(completedTask)
            return
        self.fOutstandingTasks.pop(completedTask, None)
        # ``IOSCSIProtocolServices.SetRealizedDataTransferCount``, inline (one family,
        # every command): the count of the command or of its REQUEST SENSE.
        if client._execution_mode == kSCSITaskMode_CommandExecution:
            client._realized = completedTask.fRealizedTransferCount
        else:
            client._autosense_realized = completedTask.fRealizedTransferCount
        if self._negotiating:
            self._record_negotiation(completedTask)
        controller = self.fController
        assert controller is not None
        controller.FreeSCSIParallelTask(completedTask)
        if self.fResendTaskList or self.fResendScheduled:
            self._resend_one()
        if task_set_full and retries >= kMaxTaskRetryCount:
            self.CommandCompleted(client, kSCSIServiceResponse_TASK_COMPLETE, kSCSITaskStatus_BUSY)
        else:
            self.CommandCompleted(client, serviceResponse, completionStatus)

    def _record_negotiation(self, task: SCSIParallelTask) -> None:
        for feature in range(kSCSIParallelFeature_TotalFeatureCount):
            if self.IsFeatureNegotiationNecessary(feature) and (
                task.GetSCSIParallelFeatureNegotiationResult(feature)
                == kSCSIParallelFeature_NegotitiationSuccess
            ):
                self.fFeatureIsNegotiated[feature] = True
        self._negotiating = any(
            self.IsFeatureNegotiationNecessary(feature)
            for feature in range(kSCSIParallelFeature_TotalFeatureCount)
        )

    # -- TASK SET FULL -------------------------------------------------------------------------

    def AddToResendTaskList(self, parallelTask: SCSIParallelTask) -> bool:
        parallelTask.fTaskRetryCount += 1
        self.fResendTaskList.append(parallelTask)
        if not self.fResendScheduled and self.fResendTimer is not None:
            self.fResendScheduled = True
            self.fResendTimer.setTimeoutMS(kResendDelayMS)
        return True

    def _resend_one(self) -> None:
        """Another task completed: send waiting resends until the HBA takes one."""
        controller = self.fController
        assert controller is not None
        while self.fResendTaskList:
            parallel = self.fResendTaskList.popleft()
            if controller.ExecuteParallelTask(parallel) == kSCSIServiceResponse_Request_In_Process:
                break
            self._give_up(
                parallel,
                kSCSIServiceResponse_SERVICE_DELIVERY_OR_TARGET_FAILURE,
                kSCSITaskStatus_No_Status,
            )
        if not self.fResendTaskList and self.fResendScheduled and self.fResendTimer is not None:
            self.fResendScheduled = False
            self.fResendTimer.cancelTimeout()

    def _give_up(self, parallel: SCSIParallelTask, response: int, status: int) -> None:
        self.fOutstandingTasks.pop(parallel, None)
        client = parallel.fSCSITask
        assert self.fController is not None
        assert client is not None
        self.fController.FreeSCSIParallelTask(parallel)
        self.CommandCompleted(client, response, status)

    def _resend_timer_fired(self, sender: IOTimerEventSource) -> None:
        """Nothing completed for a while: resend by ourselves (Apple's resend thread)."""
        self.fResendScheduled = False
        self.SendFromResendTaskList()

    def SendFromResendTaskList(self) -> None:
        controller = self.fController
        assert controller is not None
        while self.fResendTaskList:
            parallel = self.fResendTaskList.popleft()
            if self.fAllowResends and (
                controller.ExecuteParallelTask(parallel) == kSCSIServiceResponse_Request_In_Process
            ):
                break
            self._give_up(parallel, kSCSIServiceResponse_TASK_COMPLETE, kSCSITaskStatus_BUSY)

    def _flush_resend_list(self) -> None:
        """Fail every task waiting for a resend (the target is gone), in the gate."""
        if not self.fResendTaskList:
            return
        controller = self.fController
        gate = controller.GetCommandGate() if controller is not None else None
        loop = gate.getWorkLoop() if gate is not None else None
        if gate is not None and loop is not None and not loop.inGate():
            gate.runAction(lambda *_: self.SendFromResendTaskList())
        else:
            self.SendFromResendTaskList()

    # -- Protocol features ---------------------------------------------------------------------

    def IsProtocolServiceSupported(self, feature: int, serviceValue: object = None) -> bool:
        controller = self.fController
        if controller is None or self.isInactive():
            return False
        if feature == kSCSIProtocolFeature_GetMaximumLogicalUnitNumber:
            _store(serviceValue, controller.ReportHBAHighestLogicalUnitNumber())
            return True
        if feature == kSCSIProtocolFeature_SubmitDefaultInquiryData:
            return True
        if feature == kSCSIProtocolFeature_ProtocolAlwaysReportsAutosenseData:
            return bool(controller.DoesHBAPerformAutoSense())
        if feature == kSCSIProtocolFeature_HierarchicalLogicalUnits:
            value = OSDynamicCast(
                OSBoolean, controller.getProperty(kIOHierarchicalLogicalUnitSupportKey)
            )
            return value is not None and value.isTrue()
        if feature == kSCSIProtocolFeature_MultiPathing:
            return self.fMultiPathSupport
        key = _TRANSFER_LIMIT_KEYS.get(feature)
        if key is not None:
            number = OSDynamicCast(OSNumber, controller.getProperty(key))
            if number is None:
                return False
            _store(serviceValue, number.unsigned64BitValue())
            return True
        return False

    def HandleProtocolServiceFeature(self, feature: int, serviceValue: object = None) -> bool:
        if feature == kSCSIProtocolFeature_SubmitDefaultInquiryData and isinstance(
            serviceValue, (bytes, bytearray, memoryview)
        ):
            self.DetermineParallelFeatures(bytes(serviceValue))
            self.registerService()
            return True
        return False

    def DetermineParallelFeatures(self, inqData: bytes) -> None:
        """Which SPI features the device claims (INQUIRY bytes 7 and 56) and which of
        them the HBA supports too; published in ``Protocol Characteristics``."""
        controller = self.fController
        assert controller is not None
        version = inqData[2] & kINQUIRY_ANSI_VERSION_Mask if len(inqData) > 2 else 0
        length = inqData[4] + kINQUIRY_StandardDataHeaderSize if len(inqData) > 4 else 0
        length = min(length, len(inqData))
        claimed: list[int] = []
        if version >= kINQUIRY_ANSI_VERSION_SCSI_2_Compliant and length > kINQUIRY_Byte7_Offset:
            flags = inqData[kINQUIRY_Byte7_Offset]
            if flags & kINQUIRY_Byte7_SYNC_Mask:
                claimed.append(kSCSIParallelFeature_SynchronousDataTransfer)
            if flags & kINQUIRY_Byte7_WBUS16_Mask:
                claimed.append(kSCSIParallelFeature_WideDataTransfer)
        if version >= kINQUIRY_ANSI_VERSION_SCSI_SPC_Compliant and length > kINQUIRY_Byte56_Offset:
            flags = inqData[kINQUIRY_Byte56_Offset]
            if flags & kINQUIRY_Byte56_IUS_Mask:
                claimed.append(kSCSIParallelFeature_InformationUnitTransfers)
            if flags & kINQUIRY_Byte56_QAS_Mask:
                claimed.append(kSCSIParallelFeature_QuickArbitrationAndSelection)
            if flags & kINQUIRY_Byte56_CLOCKING_Mask in (
                kINQUIRY_Byte56_CLOCKING_ONLY_DT,
                kINQUIRY_Byte56_CLOCKING_ST_AND_DT,
            ):
                claimed.append(kSCSIParallelFeature_DoubleTransitionDataTransfers)
        device_features = nexus_features = 0
        for feature in claimed:
            device_features |= 1 << feature
            if controller.DoesHBASupportSCSIParallelFeature(feature):
                self.fITNexusSupportsFeature[feature] = True
                nexus_features |= 1 << feature
        self._negotiating = any(
            self.IsFeatureNegotiationNecessary(feature)
            for feature in range(kSCSIParallelFeature_TotalFeatureCount)
        )
        current = OSDynamicCast(
            OSDictionary, self.getProperty(kIOPropertyProtocolCharacteristicsKey)
        )
        if current is None:
            return
        protocol = OSDictionary.withDictionary(current)
        for key, value in (
            (kIOPropertySCSIDeviceFeaturesKey, device_features),
            (kIOPropertySCSI_I_T_NexusFeaturesKey, nexus_features),
        ):
            number = OSNumber(value, 64)
            protocol.setObject(key, number)
            number.release()
        self.setProperty(kIOPropertyProtocolCharacteristicsKey, protocol)
        protocol.release()

    # -- Task management: the HBA's requests ---------------------------------------------------

    def AbortSCSICommand(self, request: SCSITask) -> int:
        return kSCSIServiceResponse_FUNCTION_REJECTED

    def _management(self, key: tuple[object, ...], request: object) -> int:
        controller = self.fController
        if controller is None:
            return kSCSIServiceResponse_FUNCTION_REJECTED
        assert callable(request)
        return controller.perform_task_management(key, request)

    def HandleAbortTask(self, theLogicalUnit: int, theTag: int) -> int:
        target = self.fTargetIdentifier
        return self._management(
            ("AbortTask", target, theLogicalUnit, theTag),
            lambda: self._controller().AbortTaskRequest(target, theLogicalUnit, theTag),
        )

    def HandleAbortTaskSet(self, theLogicalUnit: int) -> int:
        target = self.fTargetIdentifier
        return self._management(
            ("AbortTaskSet", target, theLogicalUnit),
            lambda: self._controller().AbortTaskSetRequest(target, theLogicalUnit),
        )

    def HandleClearACA(self, theLogicalUnit: int) -> int:
        target = self.fTargetIdentifier
        return self._management(
            ("ClearACA", target, theLogicalUnit),
            lambda: self._controller().ClearACARequest(target, theLogicalUnit),
        )

    def HandleClearTaskSet(self, theLogicalUnit: int) -> int:
        target = self.fTargetIdentifier
        return self._management(
            ("ClearTaskSet", target, theLogicalUnit),
            lambda: self._controller().ClearTaskSetRequest(target, theLogicalUnit),
        )

    def HandleLogicalUnitReset(self, theLogicalUnit: int) -> int:
        target = self.fTargetIdentifier
        return self._management(
            ("LogicalUnitReset", target, theLogicalUnit),
            lambda: self._controller().LogicalUnitResetRequest(target, theLogicalUnit),
        )

    def HandleTargetReset(self) -> int:
        target = self.fTargetIdentifier
        return self._management(
            ("TargetReset", target), lambda: self._controller().TargetResetRequest(target)
        )

    def _controller(self) -> IOSCSIParallelInterfaceController:
        controller = self.fController
        assert controller is not None
        return controller


def _store(serviceValue: object, value: int) -> None:
    """Answer through an out-parameter box (``UInt32Ref``/``UInt64Ref``) if given."""
    if serviceValue is not None and hasattr(serviceValue, "value"):
        serviceValue.value = value


__all__ = ["IOSCSIParallelInterfaceDevice"]
