"""IOSCSIParallelInterfaceController: the superclass of every SCSI HBA driver.

Mirrors ``IOSCSIParallelInterfaceController`` (IOSCSIParallelFamily-352
``IOSCSIParallelInterfaceController.h``/``.cpp``); the contract is spec ``scsi.md``
§1.1-§1.7.

Design
------
The family owns the *lifecycle* and everything between the HBA and the clients; the
subclass owns the *hardware*.  ``start`` (spec §1.1) opens the provider, makes the
controller's work loop with a timer (``SCSIParallelTimer``), the device interrupt
(``CreateDeviceInterrupt``: a filter source on interrupt 0 by default, None for a
virtual HBA) and a command gate, then calls the subclass in a fixed order:
``InitializeController`` (once), ``ReportInitiatorIdentifier``,
``ReportHighestSupportedDeviceID``, ``ReportMaximumTaskCount``, then
``ReportHBASpecificTaskDataSize``, ``ReportHBAConstraints`` and
``InitializeDMASpecification`` for each pre-allocated ``SCSIParallelTask``, then
``StartController``; only then are client requests accepted and the interrupts
enabled.  A controller that does not manage its devices gets a target nub
(``IOSCSIParallelInterfaceDevice``) for every ID up to the highest but its own,
each of which scans itself (``IOSCSITargetDevice``); the controller is registered
last.  ``stop`` undoes it: ``StopController``, then ``TerminateController`` (once,
and only if ``InitializeController`` succeeded), then the pool and the work loop.

A command flows: client ``SCSITask`` -> target nub (``SendSCSICommand``: a parallel
task from the pool, bound to the client's task) -> ``ExecuteParallelTask`` ->
subclass ``ProcessParallelTask``, which must answer ``Request_In_Process`` and finish
later with ``CompleteParallelTask`` in the gate (any other answer fails the command
with a delivery failure, spec §1.6).  ``CompleteParallelTask`` takes the task off
the timeout list and gives it back to its nub, which handles TASK SET FULL resends,
copies the realized count and completes the client's task.

Interrupts: ``FilterInterruptRequest`` runs in primary interrupt context (no gate,
no blocking); returning True schedules ``HandleInterruptRequest`` on the work loop
with the gate closed.  Timeouts: the HBA arms them (``SetTimeoutForTask``); expiry
calls ``HandleTimeout`` for each expired task, in the gate.

Task management (ABORT TASK ... TARGET RESET): the nub calls the subclass's
``*Request``; an HBA that answers ``Request_In_Process`` finishes later with the
matching ``Complete*``.  Apple's ``Complete*`` are empty and nobody learns the
outcome; kextlab's record it and wake the requester, which waits for it when it is
a kernel thread other than the work loop's (``perform_task_management``).

Departures from Apple, each noted where it is made: the per-machine domain counter
(Apple's is a class static); a plain ``IOWorkLoop`` (Apple's subclass only names
its lock group); ``willTerminate`` destroys targets up to and *including* the
highest ID (Apple's loop stops one short); a parallel task returned to the pool
still prepared is completed (and logged) rather than leaked.

Threading rules: ``start``/``stop`` on the config and terminate threads; client
entry points from any kernel thread and from completions; ``CompleteParallelTask``
and ``Complete*`` from any thread (they enter the gate if the caller has not);
``Filter*`` in interrupt context; the rest of the subclass hooks in the gate.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kextlab.families.scsi.definitions import (
    kIOCommandPoolSizeKey,
    kIOMaximumSegmentAddressableBitCountKey,
    kIOMinimumSegmentAlignmentByteCountKey,
    kIOPropertyFibreChannelAddressIdentifierKey,
    kIOPropertyFibreChannelALPAKey,
    kIOPropertyFibreChannelCableDescriptionKey,
    kIOPropertyFibreChannelNodeWorldWideNameKey,
    kIOPropertyFibreChannelPortWorldWideNameKey,
    kIOPropertyInternalExternalKey,
    kIOPropertyPhysicalInterconnectLocationKey,
    kIOPropertyPhysicalInterconnectTypeKey,
    kIOPropertyPhysicalInterconnectTypeSCSIParallel,
    kIOPropertyPhysicalInterconnectTypeSerialAttachedSCSI,
    kIOPropertyPortDescriptionKey,
    kIOPropertyPortSpeedKey,
    kIOPropertyPortStatusKey,
    kIOPropertyPortTopologyKey,
    kIOPropertyProductNameKey,
    kIOPropertyProductRevisionLevelKey,
    kIOPropertyProtocolCharacteristicsKey,
    kIOPropertyReadTimeOutDurationKey,
    kIOPropertySASAddressKey,
    kIOPropertySCSIDomainIdentifierKey,
    kIOPropertySCSIInitiatorIdentifierKey,
    kIOPropertySCSIParallelSignalingTypeKey,
    kIOPropertySCSIPortIdentifierKey,
    kIOPropertyVendorNameKey,
    kIOPropertyWriteTimeOutDurationKey,
    kSCSIDataTransfer_NoDataTransfer,
    kSCSIPort_NotificationStatusChange,
    kSCSIPort_StatusFailure,
    kSCSIPort_StatusOffline,
    kSCSIPort_StatusOnline,
    kSCSIServiceResponse_Request_In_Process,
    kSCSIServiceResponse_SERVICE_DELIVERY_OR_TARGET_FAILURE,
    kSCSITaskStatus_TaskTimeoutOccurred,
)
from kextlab.families.scsi.parallel.characteristics import (
    COPIED_CONSTRAINT_KEYS,
    kIOHierarchicalLogicalUnitSupportKey,
    kIOMinimumHBADataAlignmentMaskKey,
    kIOPropertyControllerCharacteristicsKey,
    kIOPropertyDeviceTreeEntryKey,
    kIOPropertyPortStatusLinkEstablishedKey,
    kIOPropertyPortStatusLinkFailedKey,
    kIOPropertyPortStatusNoLinkEstablishedKey,
    kIOPropertySCSIInitiatorManagesTargets,
    kSCSIControllerNotificationBusReset,
)
from kextlab.families.scsi.parallel.interface_device import IOSCSIParallelInterfaceDevice
from kextlab.families.scsi.parallel.parallel_task import SCSIParallelTask
from kextlab.families.scsi.parallel.task_accessors import ParallelTaskAccessors
from kextlab.families.scsi.parallel.task_pool import SCSIParallelTaskPool
from kextlab.families.scsi.parallel.timer import SCSIParallelTimer
from kextlab.kernel.ioreturn import kIOReturnSuccess
from kextlab.kernel.libkern.collections import OSDictionary
from kextlab.kernel.libkern.convert import from_python
from kextlab.kernel.libkern.object import OSDynamicCast, OSObject
from kextlab.kernel.libkern.values import OSData, OSNumber, OSString
from kextlab.kernel.locks import THREAD_UNINT
from kextlab.kernel.log import IOLog
from kextlab.kernel.memory.dma_command import IODMACommand
from kextlab.kernel.registry.entry import IORegistryEntry
from kextlab.kernel.service.service import IOService, kIOMessageServicePropertyChange
from kextlab.kernel.workloop import (
    IOCommandGate,
    IOFilterInterruptEventSource,
    IOInterruptEventSource,
    IOTimerEventSource,
    IOWorkLoop,
)
from kextlab.sim.context import Context
from kextlab.sim.scheduler import current_scheduler

if TYPE_CHECKING:
    from collections.abc import Callable

#: ``scheduler.extensions`` key of the machine's SCSI domain counter.
DOMAIN_COUNTER_EXTENSION = "scsi.parallel.domains"

_WORLD_WIDE_NAME_SIZE = 8
_ADDRESS_IDENTIFIER_SIZE = 3
_ALPA_SIZE = 1
_SAS_ADDRESS_SIZE = 8

#: ``SetHBAProperty``'s keys, with the OSData size a key's value must have (None: any).
_HBA_PROPERTY_SIZES: dict[str, int | None] = {
    kIOPropertyVendorNameKey: None,
    kIOPropertyProductNameKey: None,
    kIOPropertyProductRevisionLevelKey: None,
    kIOPropertyPortDescriptionKey: None,
    kIOPropertyPortSpeedKey: None,
    kIOPropertyPortTopologyKey: None,
    kIOPropertySCSIParallelSignalingTypeKey: None,
    kIOPropertyFibreChannelCableDescriptionKey: None,
    kIOPropertyFibreChannelPortWorldWideNameKey: _WORLD_WIDE_NAME_SIZE,
    kIOPropertyFibreChannelNodeWorldWideNameKey: _WORLD_WIDE_NAME_SIZE,
    kIOPropertyFibreChannelAddressIdentifierKey: _ADDRESS_IDENTIFIER_SIZE,
    kIOPropertyFibreChannelALPAKey: _ALPA_SIZE,
    kIOPropertySASAddressKey: _SAS_ADDRESS_SIZE,
}
#: Keys whose value also names the port (``kIOPropertySCSIPortIdentifierKey``).
_PORT_IDENTIFIER_KEYS = (kIOPropertyFibreChannelPortWorldWideNameKey, kIOPropertySASAddressKey)

_PORT_STATUS_NAMES = {
    kSCSIPort_StatusOnline: kIOPropertyPortStatusLinkEstablishedKey,
    kSCSIPort_StatusOffline: kIOPropertyPortStatusNoLinkEstablishedKey,
    kSCSIPort_StatusFailure: kIOPropertyPortStatusLinkFailedKey,
}


def _next_domain_identifier() -> int:
    """The machine's next SCSI domain number, from 0 (``OSIncrementAtomic`` of a
    class static in Apple's family; per machine here)."""
    scheduler = current_scheduler()
    if scheduler is None:
        return 0
    counter = scheduler.extensions.setdefault(DOMAIN_COUNTER_EXTENSION, [0])
    assert isinstance(counter, list)
    value = int(counter[0])
    counter[0] = value + 1
    return value


class IOSCSIParallelInterfaceController(ParallelTaskAccessors, IOService):
    """A SCSI host bus adapter (``OSDeclareAbstractStructors``): subclass it."""

    def __init__(self) -> None:
        super().__init__()
        self.fProvider: IOService | None = None
        self.fClients: list[IOService] = []
        self.fSCSIDomainIdentifier = 0
        self.fInitiatorIdentifier = 0
        self.fHighestSupportedDeviceID = 0
        self.fSupportedTaskCount = 0
        self.fHBAHasBeenInitialized = False
        self.fHBACanAcceptClientRequests = False
        self.fParallelTaskPool: SCSIParallelTaskPool | None = None
        self.fWorkLoop: IOWorkLoop | None = None
        self.fTimerEvent: SCSIParallelTimer | None = None
        self.fDispatchEvent: IOInterruptEventSource | None = None
        self.fControllerGate: IOCommandGate | None = None
        self.fTargets: dict[int, IOSCSIParallelInterfaceDevice] = {}
        self._controller_started = False
        self._management: dict[tuple[object, ...], int] = {}

    # -- The lifecycle (spec §1.1) -------------------------------------------------------------

    def start(self, provider: IOService) -> bool:
        self.fSCSIDomainIdentifier = _next_domain_identifier()
        if not super().start(provider):
            return False
        if not provider.open(self):
            return False
        self.fProvider = provider
        self.fHBAHasBeenInitialized = False
        self.fHBACanAcceptClientRequests = False
        if not self.CreateWorkLoop(provider):
            provider.close(self)
            return False
        self._publish_characteristics()
        if not self.InitializeController():
            self._undo_start(provider)
            return False
        self.fInitiatorIdentifier = self.ReportInitiatorIdentifier()
        self.setProperty(kIOPropertySCSIInitiatorIdentifierKey, self.fInitiatorIdentifier, 64)
        self.fHighestSupportedDeviceID = self.ReportHighestSupportedDeviceID()
        self.fSupportedTaskCount = self.ReportMaximumTaskCount()
        if not self.AllocateSCSIParallelTasks():
            self.TerminateController()
            self._undo_start(provider)
            return False
        self.fHBAHasBeenInitialized = True
        if not self.StartController():
            self.DeallocateSCSIParallelTasks()
            self.fHBAHasBeenInitialized = False
            self.TerminateController()
            self._undo_start(provider)
            return False
        self._controller_started = True
        self.fHBACanAcceptClientRequests = True
        assert self.fWorkLoop is not None
        self.fWorkLoop.enableAllInterrupts()
        manages = self.DoesHBAPerformDeviceManagement()
        self.setProperty(kIOPropertySCSIInitiatorManagesTargets, bool(manages))
        if not manages:
            for targetID in range(self.fHighestSupportedDeviceID + 1):
                self.CreateTargetForID(targetID)
        self.registerService()
        return True

    def _undo_start(self, provider: IOService) -> None:
        self.ReleaseWorkLoop()
        if provider.isOpen(self):
            provider.close(self)

    def _publish_characteristics(self) -> None:
        """``Controller Characteristics`` (empty until ``SetHBAProperty``) and the
        ``Protocol Characteristics`` with the interconnect and the domain."""
        empty = OSDictionary()
        self.setProperty(kIOPropertyControllerCharacteristicsKey, empty)
        empty.release()
        existing = OSDynamicCast(
            OSDictionary, self.getProperty(kIOPropertyProtocolCharacteristicsKey)
        )
        protocol = OSDictionary.withDictionary(existing) if existing is not None else OSDictionary()
        _copy_protocol_characteristics(protocol, self)
        domain = OSNumber(self.fSCSIDomainIdentifier, 32)
        protocol.setObject(kIOPropertySCSIDomainIdentifierKey, domain)
        domain.release()
        self.setProperty(kIOPropertyProtocolCharacteristicsKey, protocol)
        protocol.release()

    def stop(self, provider: IOService) -> None:
        if self._controller_started:
            self._controller_started = False
            self.fHBACanAcceptClientRequests = False
            self.StopController()
        if self.fHBAHasBeenInitialized:
            self.fHBAHasBeenInitialized = False
            self.TerminateController()
        self.DeallocateSCSIParallelTasks()
        self.ReleaseWorkLoop()
        if provider.isOpen(self):
            provider.close(self)
        super().stop(provider)

    def willTerminate(self, provider: IOService, options: int) -> bool:
        """The provider is going: refuse requests and remove every target (Apple's
        loop stops one short of the highest ID; this one does not)."""
        self.fHBACanAcceptClientRequests = False
        result = super().willTerminate(provider, options)
        for targetID in sorted(self.fTargets):
            self.DestroyTargetForID(targetID)
        return result

    def didTerminate(self, provider: IOService, options: int, defer: list[bool]) -> bool:
        if self.fProvider is not None and self.fProvider.isOpen(self):
            self.fProvider.close(self)
        return super().didTerminate(provider, options, defer)

    # -- clients open the controller (each target nub does) ------------------------------------

    def handleOpen(self, forClient: IOService, options: int, arg: object) -> bool:
        if forClient not in self.fClients:
            self.fClients.append(forClient)
        return True

    def handleClose(self, forClient: IOService, options: int) -> None:
        if forClient in self.fClients:
            self.fClients.remove(forClient)

    def handleIsOpen(self, forClient: IOService | None) -> bool:
        if forClient is None:
            return bool(self.fClients)
        return forClient in self.fClients

    # -- the work loop -------------------------------------------------------------------------

    def getWorkLoop(self) -> IOWorkLoop | None:
        return self.fWorkLoop

    def GetWorkLoop(self) -> IOWorkLoop | None:
        return self.fWorkLoop

    def GetCommandGate(self) -> IOCommandGate | None:
        return self.fControllerGate

    def GetProvider(self) -> IOService | None:
        return self.fProvider

    def GetSCSIDomainIdentifier(self) -> int:
        return self.fSCSIDomainIdentifier

    def GetTimer(self) -> SCSIParallelTimer | None:
        """The controller's timeout list (ours: Apple keeps it private)."""
        return self.fTimerEvent

    def CreateWorkLoop(self, provider: IOService) -> bool:
        loop = IOWorkLoop.workLoop()
        if loop is None:
            return False
        self.fWorkLoop = loop
        timer = SCSIParallelTimer.CreateTimerEventSource(
            self, IOSCSIParallelInterfaceController.TimeoutOccurred
        )
        if timer is None or loop.addEventSource(timer) != kIOReturnSuccess:
            if timer is not None:
                timer.release()
            self.ReleaseWorkLoop()
            return False
        self.fTimerEvent = timer
        dispatch = self.CreateDeviceInterrupt(
            IOSCSIParallelInterfaceController.ServiceInterrupt,
            IOSCSIParallelInterfaceController.FilterInterrupt,
            provider,
        )
        if dispatch is not None:
            if loop.addEventSource(dispatch) != kIOReturnSuccess:
                dispatch.release()
                self.ReleaseWorkLoop()
                return False
            self.fDispatchEvent = dispatch
        gate = IOCommandGate.commandGate(self)
        if gate is None or loop.addEventSource(gate) != kIOReturnSuccess:
            if gate is not None:
                gate.release()
            self.ReleaseWorkLoop()
            return False
        self.fControllerGate = gate
        return True

    def ReleaseWorkLoop(self) -> None:
        loop = self.fWorkLoop
        if loop is None:
            return
        for name in ("fControllerGate", "fTimerEvent", "fDispatchEvent"):
            source = getattr(self, name)
            if source is not None:
                loop.removeEventSource(source)
                source.release()
                setattr(self, name, None)
        self.fWorkLoop = None
        loop.release()

    def _in_gate(self) -> bool:
        loop = self.fWorkLoop
        return loop is not None and loop.inGate()

    # -- The parallel task pool ----------------------------------------------------------------

    def AllocateSCSIParallelTasks(self) -> bool:
        """Ask the HBA for its constraints, publish them, and fill the pool with
        ``ReportMaximumTaskCount`` tasks; the first must take the DMA specification."""
        if self.fSupportedTaskCount <= 0 or self.fWorkLoop is None:
            return False
        size = self.ReportHBASpecificTaskDataSize()
        constraints = OSDictionary()
        try:
            self.ReportHBAConstraints(constraints)
            for key in COPIED_CONSTRAINT_KEYS:
                value = OSDynamicCast(OSNumber, constraints.getObject(key))
                if value is not None:
                    self.setProperty(key, value)
            mask_value = OSDynamicCast(
                OSNumber, constraints.getObject(kIOMinimumHBADataAlignmentMaskKey)
            )
            if mask_value is None:
                # Apple dereferences the missing number and panics (spec §1.4).
                raise LookupError(
                    f"{self.getClassName()}.ReportHBAConstraints gave no "
                    f"{kIOMinimumHBADataAlignmentMaskKey!r} (call super first)"
                )
            mask = mask_value.unsigned64BitValue()
            hierarchical = constraints.getObject(kIOHierarchicalLogicalUnitSupportKey)
            if hierarchical is not None:
                self.setProperty(kIOHierarchicalLogicalUnitSupportKey, hierarchical)
        finally:
            constraints.release()
        first = SCSIParallelTask.Create(size, mask)
        if first is None or not self.InitializeDMASpecification(first):
            if first is not None:
                first.release()
            return False
        pool = SCSIParallelTaskPool(self.fWorkLoop)
        self.fParallelTaskPool = pool
        pool.give(first)
        count = 1
        while count < self.fSupportedTaskCount:
            task = SCSIParallelTask.Create(size, mask)
            if task is None:
                break
            if not self.InitializeDMASpecification(task):
                task.release()
                break
            pool.give(task)
            count += 1
        if self.getProperty(kIOCommandPoolSizeKey) is None:
            self.setProperty(kIOCommandPoolSizeKey, count, 32)
        return True

    def DeallocateSCSIParallelTasks(self) -> None:
        pool = self.fParallelTaskPool
        if pool is None:
            return
        self.fParallelTaskPool = None
        for task in pool.close():
            task.release()

    def GetSCSIParallelTask(self, blockForCommand: bool) -> SCSIParallelTask | None:
        """A parallel task from the pool (waiting for one if ``blockForCommand``)."""
        pool = self.fParallelTaskPool
        if pool is None:
            return None
        task = pool.take(blockForCommand)
        if task is None:
            return None
        task.ResetForNewTask()
        return task

    def FreeSCSIParallelTask(self, returnTask: SCSIParallelTask) -> None:
        """Give a finished parallel task back to the pool."""
        if returnTask.clearMemoryDescriptor(False) != kIOReturnSuccess:
            IOLog(
                "%s: task returned with its DMA still prepared: "
                "IODMACommand::complete() may not have been called\n",
                self.getName(),
            )
            returnTask.clearMemoryDescriptor(True)
        # ``returnTask.SetSCSITaskIdentifier(None)``, inline (one package, every command)
        returnTask.fSCSITask = None
        returnTask._autosense = False
        pool = self.fParallelTaskPool
        if pool is not None:
            pool.give(returnTask)
        else:
            returnTask.release()  # the controller is stopping: nobody will need it

    # -- Executing and completing --------------------------------------------------------------

    def ExecuteParallelTask(self, parallelRequest: SCSIParallelTask) -> int:
        """The client's path to the HBA: ``ProcessParallelTask`` while requests are
        accepted, a delivery failure otherwise."""
        if self.fHBACanAcceptClientRequests:
            return int(self.ProcessParallelTask(parallelRequest))
        return kSCSIServiceResponse_SERVICE_DELIVERY_OR_TARGET_FAILURE

    def CompleteParallelTask(
        self, parallelRequest: SCSIParallelTask, completionStatus: int, serviceResponse: int
    ) -> None:
        """The HBA finished ``parallelRequest`` (sense and realized count already
        set).  Enters the gate if the caller has not."""
        loop = self.fWorkLoop
        if loop is None or not loop.inGate():  # ``_in_gate``, inline
            gate = self.fControllerGate
            if gate is None:
                return
            gate.runAction(
                lambda owner, task, status, response, _: owner.CompleteParallelTask(
                    task, status, response
                ),
                parallelRequest,
                completionStatus,
                serviceResponse,
            )
            return
        timer = self.fTimerEvent
        if timer is not None:
            timer.RemoveTask(parallelRequest)
        target = parallelRequest.fDevice
        if target is not None:
            target.CompleteSCSITask(parallelRequest, serviceResponse, completionStatus)

    def FindTaskForAddress(self, theT: int, theL: int, theQ: int) -> SCSIParallelTask | None:
        """The outstanding task of I_T_L_Q nexus (``theQ`` 0 for untagged)."""
        target = self.GetTargetForID(theT)
        return target.FindTaskForAddress(theL, theQ) if target is not None else None

    def FindTaskForControllerIdentifier(
        self, theTarget: int, theIdentifier: int
    ) -> SCSIParallelTask | None:
        target = self.GetTargetForID(theTarget)
        return target.FindTaskForControllerIdentifier(theIdentifier) if target is not None else None

    # -- task management -----------------------------------------------------------------------

    def perform_task_management(self, key: tuple[object, ...], request: Callable[[], int]) -> int:
        """Run a task-management ``request`` of the HBA; if it answers
        ``Request_In_Process`` and the caller may sleep, wait for the matching
        ``Complete*`` and return its response (ours; Apple's completions are empty)."""
        self._management[key] = kSCSIServiceResponse_Request_In_Process
        response = int(request())
        if response != kSCSIServiceResponse_Request_In_Process or not self._may_wait():
            self._management.pop(key, None)
            return response
        gate = self.fControllerGate
        assert gate is not None

        def wait(*_: object) -> int:
            while self._management.get(key) == kSCSIServiceResponse_Request_In_Process:
                gate.commandSleep(("task management", key), THREAD_UNINT)
            return self._management.pop(key, kSCSIServiceResponse_Request_In_Process)

        return int(gate.runAction(wait))

    def _may_wait(self) -> bool:
        scheduler = current_scheduler()
        loop = self.fWorkLoop
        if scheduler is None or loop is None or self.fControllerGate is None:
            return False
        return scheduler.context is Context.THREAD and not loop.onThread()

    def _complete_management(self, key: tuple[object, ...], response: int) -> None:
        """Record a task-management outcome and wake its requester (a wakeup needs
        no gate, so the HBA may call from its action, thread or timer)."""
        if key not in self._management:
            return
        self._management[key] = response
        gate = self.fControllerGate
        if gate is not None:
            gate.commandWakeup(("task management", key), False)

    def CompleteAbortTask(self, theT: int, theL: int, theQ: int, serviceResponse: int) -> None:
        self._complete_management(("AbortTask", theT, theL, theQ), serviceResponse)

    def CompleteAbortTaskSet(self, theT: int, theL: int, serviceResponse: int) -> None:
        self._complete_management(("AbortTaskSet", theT, theL), serviceResponse)

    def CompleteClearACA(self, theT: int, theL: int, serviceResponse: int) -> None:
        self._complete_management(("ClearACA", theT, theL), serviceResponse)

    def CompleteClearTaskSet(self, theT: int, theL: int, serviceResponse: int) -> None:
        self._complete_management(("ClearTaskSet", theT, theL), serviceResponse)

    def CompleteLogicalUnitReset(self, theT: int, theL: int, serviceResponse: int) -> None:
        self._complete_management(("LogicalUnitReset", theT, theL), serviceResponse)

    def CompleteTargetReset(self, theT: int, serviceResponse: int) -> None:
        self._complete_management(("TargetReset", theT), serviceResponse)

    # -- interrupts ----------------------------------------------------------------------------

    @staticmethod
    def ServiceInterrupt(theObject: Any, theSource: IOInterruptEventSource, count: int) -> None:
        theObject.HandleInterruptRequest()

    @staticmethod
    def FilterInterrupt(theObject: Any, theSource: IOFilterInterruptEventSource) -> bool:
        return bool(theObject.FilterInterruptRequest())

    def EnableInterrupt(self) -> None:
        if self.fDispatchEvent is not None:
            self.fDispatchEvent.enable()

    def DisableInterrupt(self) -> None:
        if self.fDispatchEvent is not None:
            self.fDispatchEvent.disable()

    def SignalInterrupt(self) -> None:
        """From ``FilterInterruptRequest``: run ``HandleInterruptRequest`` on the work
        loop although the filter answers False (the chip masked itself)."""
        dispatch = self.fDispatchEvent
        if isinstance(dispatch, IOFilterInterruptEventSource):
            dispatch.signalInterrupt()

    # -- timeouts ------------------------------------------------------------------------------

    def SetTimeoutForTask(self, parallelTask: SCSIParallelTask, timeoutOverride: int = 0) -> None:
        """Arm ``parallelTask``'s timeout: ``timeoutOverride`` ms, else the task's own.
        (Apple closes the gate around the list; here changing it is atomic on the
        virtual CPU, so an HBA thread may call this without a gate round trip.)"""
        timer = self.fTimerEvent
        if timer is not None:
            timer.SetTimeout(parallelTask, timeoutOverride)

    @staticmethod
    def TimeoutOccurred(theObject: Any, theSender: IOTimerEventSource) -> None:
        timer = OSDynamicCast(SCSIParallelTimer, theSender)
        if timer is None:
            return
        timer.BeginTimeoutContext()
        while (expired := timer.GetExpiredTask()) is not None:
            theObject.HandleTimeout(expired)
        timer.EndTimeoutContext()
        timer.Rearm()

    # -- Targets -------------------------------------------------------------------------------

    def CreateTargetForID(self, targetID: int, properties: OSDictionary | None = None) -> bool:
        """Make, attach and start the nub of ``targetID`` (which then scans it)."""
        if not self.fHBACanAcceptClientRequests:
            self.fHBACanAcceptClientRequests = True
        if targetID == self.fInitiatorIdentifier or self.GetTargetForID(targetID) is not None:
            return False
        if not 0 <= targetID <= self.fHighestSupportedDeviceID:
            return False
        table = properties if properties is not None else OSDictionary()
        try:
            entry = OSDynamicCast(IORegistryEntry, table.getObject(kIOPropertyDeviceTreeEntryKey))
            device = IOSCSIParallelInterfaceDevice.CreateTarget(
                targetID, self.ReportHBASpecificDeviceDataSize(), entry
            )
            if device is None:
                return False
            self.fTargets[targetID] = device
            started = False
            if device.attach(self):
                if device.SetInitialTargetProperties(table) and device.start(self):
                    started = True
                else:
                    device.detach(self)
            if not started:
                self.fTargets.pop(targetID, None)
                device.DestroyTarget()
            device.release()
            return started
        finally:
            if properties is None:
                table.release()

    def DestroyTargetForID(self, targetID: int) -> None:
        """Take the nub of ``targetID`` away: its queued commands fail, then it is
        terminated with everything above it."""
        device = self.GetTargetForID(targetID)
        if device is None:
            return
        self.fTargets.pop(targetID, None)
        device.DestroyTarget()
        device.terminate()

    def GetTargetForID(self, targetID: int) -> IOSCSIParallelInterfaceDevice | None:
        if not 0 <= targetID <= self.fHighestSupportedDeviceID:
            return None
        if targetID == self.fInitiatorIdentifier:
            return None
        return self.fTargets.get(targetID)

    def SetTargetProperty(self, targetID: int, key: str, value: object) -> bool:
        device = self.GetTargetForID(targetID)
        return device.SetTargetProperty(key, value) if device is not None else False

    def RemoveTargetProperty(self, targetID: int, key: str) -> None:
        device = self.GetTargetForID(targetID)
        if device is not None:
            device.RemoveTargetProperty(key)

    def GetHBATargetDataSize(self, targetID: int) -> int:
        device = self.GetTargetForID(targetID)
        return device.GetHBADataSize() if device is not None else 0

    def GetHBATargetDataPointer(self, targetID: int) -> memoryview | None:
        device = self.GetTargetForID(targetID)
        return device.GetHBADataPointer() if device is not None else None

    # -- HBA properties and notifications ------------------------------------------------------

    def SetHBAProperty(self, key: str, value: object) -> bool:
        """Set one of the HBA keys in ``Controller Characteristics`` (vendor, product,
        port ...); OSData keys must have their exact size.  False for other keys."""
        if key not in _HBA_PROPERTY_SIZES or value is None:
            return False
        if not self._in_gate() and self.fControllerGate is not None:
            return bool(
                self.fControllerGate.runAction(lambda *_: self._set_hba_property(key, value))
            )
        return self._set_hba_property(key, value)

    def _set_hba_property(self, key: str, value: object) -> bool:
        converted = from_python(value)
        try:
            size = _HBA_PROPERTY_SIZES[key]
            if size is not None:
                data = OSDynamicCast(OSData, converted)
                if data is None or data.getLength() != size:
                    return False
            characteristics = self._controller_characteristics()
            characteristics.setObject(key, converted)
            if key in _PORT_IDENTIFIER_KEYS:
                characteristics.setObject(kIOPropertySCSIPortIdentifierKey, converted)
            self.setProperty(kIOPropertyControllerCharacteristicsKey, characteristics)
            characteristics.release()
        finally:
            converted.release()
        self.messageClients(kIOMessageServicePropertyChange)
        return True

    def RemoveHBAProperty(self, key: str) -> None:
        if not self._in_gate() and self.fControllerGate is not None:

            def remove(*_: object) -> int:
                self.RemoveHBAProperty(key)
                return kIOReturnSuccess

            self.fControllerGate.runAction(remove)
            return
        characteristics = self._controller_characteristics()
        characteristics.removeObject(key)
        self.setProperty(kIOPropertyControllerCharacteristicsKey, characteristics)
        characteristics.release()
        self.messageClients(kIOMessageServicePropertyChange)

    def _controller_characteristics(self) -> OSDictionary:
        """A copy of ``Controller Characteristics`` to change and set back (retained)."""
        current = OSDynamicCast(
            OSDictionary, self.getProperty(kIOPropertyControllerCharacteristicsKey)
        )
        return OSDictionary.withDictionary(current) if current is not None else OSDictionary()

    def NotifyClientsOfBusReset(self) -> None:
        """The bus was reset: every target nub forgets its negotiations and tells its
        clients to verify the device state."""
        self.messageClients(kSCSIControllerNotificationBusReset)

    def NotifyClientsOfPortStatusChange(self, newStatus: int) -> None:
        name = _PORT_STATUS_NAMES.get(newStatus)
        if name is not None:
            characteristics = self._controller_characteristics()
            status = OSString(name)
            characteristics.setObject(kIOPropertyPortStatusKey, status)
            status.release()
            self.setProperty(kIOPropertyControllerCharacteristicsKey, characteristics)
            characteristics.release()
        self.messageClients(kSCSIPort_NotificationStatusChange, newStatus)

    def SuspendServices(self) -> None:
        self.fHBACanAcceptClientRequests = False

    def ResumeServices(self) -> None:
        self.fHBACanAcceptClientRequests = True

    # -- What a subclass implements (pure virtual: it must) or may override (defaults) ---------

    def _pure(self, name: str) -> NotImplementedError:
        return NotImplementedError(
            f"{self.getClassName()} must implement IOSCSIParallelInterfaceController::{name}"
        )

    def ReportInitiatorIdentifier(self) -> int:
        raise self._pure("ReportInitiatorIdentifier")

    def ReportHighestSupportedDeviceID(self) -> int:
        raise self._pure("ReportHighestSupportedDeviceID")

    def ReportMaximumTaskCount(self) -> int:
        raise self._pure("ReportMaximumTaskCount")

    def ReportHBASpecificTaskDataSize(self) -> int:
        raise self._pure("ReportHBASpecificTaskDataSize")

    def ReportHBASpecificDeviceDataSize(self) -> int:
        raise self._pure("ReportHBASpecificDeviceDataSize")

    def ReportHBAHighestLogicalUnitNumber(self) -> int:
        raise self._pure("ReportHBAHighestLogicalUnitNumber")

    def DoesHBASupportSCSIParallelFeature(self, theFeature: int) -> bool:
        raise self._pure("DoesHBASupportSCSIParallelFeature")

    def DoesHBAPerformDeviceManagement(self) -> bool:
        raise self._pure("DoesHBAPerformDeviceManagement")

    def InitializeTargetForID(self, targetID: int) -> bool:
        raise self._pure("InitializeTargetForID")

    def InitializeController(self) -> bool:
        raise self._pure("InitializeController")

    def TerminateController(self) -> None:
        raise self._pure("TerminateController")

    def StartController(self) -> bool:
        raise self._pure("StartController")

    def StopController(self) -> None:
        raise self._pure("StopController")

    def HandleInterruptRequest(self) -> None:
        raise self._pure("HandleInterruptRequest")

    def ProcessParallelTask(self, parallelRequest: SCSIParallelTask) -> int:
        raise self._pure("ProcessParallelTask")

    def AbortTaskRequest(self, theT: int, theL: int, theQ: int) -> int:
        raise self._pure("AbortTaskRequest")

    def AbortTaskSetRequest(self, theT: int, theL: int) -> int:
        raise self._pure("AbortTaskSetRequest")

    def ClearACARequest(self, theT: int, theL: int) -> int:
        raise self._pure("ClearACARequest")

    def ClearTaskSetRequest(self, theT: int, theL: int) -> int:
        raise self._pure("ClearTaskSetRequest")

    def LogicalUnitResetRequest(self, theT: int, theL: int) -> int:
        raise self._pure("LogicalUnitResetRequest")

    def TargetResetRequest(self, theT: int) -> int:
        raise self._pure("TargetResetRequest")

    def DoesHBAPerformAutoSense(self) -> bool:
        """True if sense always comes with a CHECK CONDITION (default False)."""
        return False

    def DoesHBASupportMultiPathing(self) -> bool:
        """Apple's default: yes, unless the interconnect is SPI or SAS."""
        protocol = OSDynamicCast(
            OSDictionary, self.getProperty(kIOPropertyProtocolCharacteristicsKey)
        )
        if protocol is not None:
            interconnect = OSDynamicCast(
                OSString, protocol.getObject(kIOPropertyPhysicalInterconnectTypeKey)
            )
            if interconnect is not None and interconnect.getCStringNoCopy() in (
                kIOPropertyPhysicalInterconnectTypeSCSIParallel,
                kIOPropertyPhysicalInterconnectTypeSerialAttachedSCSI,
            ):
                return False
        return True

    def ReportHBAConstraints(self, constraints: OSDictionary) -> None:
        """Apple's defaults: HBA data below 4 GiB, 16-byte aligned; 32 address bits;
        4-byte segment alignment.  Overrides call super first, then set their own."""
        for key, value in (
            (kIOMinimumHBADataAlignmentMaskKey, 0x0000_0000_FFFF_FFF0),
            (kIOMaximumSegmentAddressableBitCountKey, 32),
            (kIOMinimumSegmentAlignmentByteCountKey, 4),
        ):
            number = OSNumber(value, 64)
            constraints.setObject(key, number)
            number.release()

    def InitializeDMASpecification(self, command: IODMACommand) -> bool:
        """Apple's default: 32-bit host-order segments of up to a page, 1 MiB
        transfers, 4-byte aligned."""
        return command.initWithSpecification(
            IODMACommand.OutputHost32, 32, 4096, IODMACommand.kMapped, 1 << 20, 4
        )

    def CreateDeviceInterrupt(
        self, action: Any, filter: Any, provider: IOService
    ) -> IOInterruptEventSource | None:
        """A filter interrupt source on the provider's interrupt 0; None (a virtual
        HBA) is allowed."""
        return IOFilterInterruptEventSource.filterInterruptEventSource(
            self, action, filter, provider, 0
        )

    def FilterInterruptRequest(self) -> bool:
        """Primary interrupt context, no gate: is it ours?  Default: yes."""
        return True

    def HandleTimeout(self, parallelRequest: SCSIParallelTask) -> None:
        """A task's timeout expired (gate held).  Default: complete its DMA and fail
        it with ``TaskTimeoutOccurred``."""
        if self.GetDataTransferDirection(parallelRequest) != kSCSIDataTransfer_NoDataTransfer:
            self.GetDMACommand(parallelRequest).complete()
        self.CompleteParallelTask(
            parallelRequest,
            kSCSITaskStatus_TaskTimeoutOccurred,
            kSCSIServiceResponse_SERVICE_DELIVERY_OR_TARGET_FAILURE,
        )


def _copy_protocol_characteristics(protocol: OSDictionary, service: IOService) -> None:
    """Fill the interconnect, its location and the timeouts from the service's own
    properties, with Apple's defaults ("SCSI Parallel Interface", "Internal/External")."""
    defaults: dict[str, str | None] = {
        kIOPropertyPhysicalInterconnectTypeKey: kIOPropertyPhysicalInterconnectTypeSCSIParallel,
        kIOPropertyPhysicalInterconnectLocationKey: kIOPropertyInternalExternalKey,
        kIOPropertyReadTimeOutDurationKey: None,
        kIOPropertyWriteTimeOutDurationKey: None,
    }
    for key, default in defaults.items():
        if protocol.getObject(key) is not None:
            continue
        value: OSObject | None = service.getProperty(key)
        if value is not None:
            protocol.setObject(key, value)
        elif default is not None:
            string = OSString(default)
            protocol.setObject(key, string)
            string.release()


__all__ = ["DOMAIN_COUNTER_EXTENSION", "IOSCSIParallelInterfaceController"]
