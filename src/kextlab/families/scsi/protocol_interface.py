"""IOSCSIProtocolInterface: the API every SCSI transport offers the layers above it.

Mirrors ``IOSCSIProtocolInterface`` (IOSCSIArchitectureModelFamily
``IOSCSIProtocolInterface.h``/``.cpp``).  A peripheral driver (SCSI *application
layer*) talks to whatever it sits on through this class only:

* ``ExecuteCommand(task)`` sends a ``SCSITask``; it returns at once and the task's
  completion callback runs when the command is done (normally later, from the HBA's
  work loop; a command the transport refuses or that is rejected outright may be
  completed before ``ExecuteCommand`` returns);
* the SAM task-management functions (``AbortTask``, ``AbortTaskSet``, ``ClearACA``,
  ``ClearTaskSet``, ``LogicalUnitReset``, ``TargetReset``) return a service response;
* ``IsProtocolServiceSupported(feature, serviceValue)`` asks about a protocol feature
  and answers through ``serviceValue`` (a ``UInt32Ref``/``UInt64Ref`` where Apple
  passes a pointer, the INQUIRY bytes for ``kSCSIProtocolFeature_SubmitDefaultInquiryData``);
  ``HandleProtocolServiceFeature`` acts on one;
* user-client exclusivity (``Get``/``SetUserClientExclusivityState``), which
  ``SCSITaskUserClient`` uses to take a device for itself.

Both the transport (``IOSCSIProtocolServices`` and its subclasses, such as the
parallel family's per-target nub) and the logical-unit nubs that forward to it are
protocol interfaces.

Power management is not modelled (kextlab has no power plane yet): Apple's power
methods are absent rather than stubbed.

Threading rules: ``ExecuteCommand`` and the feature queries may be called from any
kernel thread and from completion callbacks (work-loop context, gate held); they do
not block there.  The exclusivity calls run through the interface's command gate
(kernel threads only).
"""

from __future__ import annotations

from kextlab.errors import LockError
from kextlab.families.scsi.definitions import (
    kSCSIServiceResponse_FUNCTION_REJECTED,
    kSCSIServicesNotification_ExclusivityChanged,
    kSCSITaskState_ENDED,
)
from kextlab.families.scsi.task import SCSITask
from kextlab.kernel.ioreturn import (
    kIOReturnBadArgument,
    kIOReturnExclusiveAccess,
    kIOReturnSuccess,
)
from kextlab.kernel.locks import THREAD_UNINT
from kextlab.kernel.service.service import IOService
from kextlab.kernel.workloop.command_gate import IOCommandGate


class IOSCSIProtocolInterface(IOService):
    """The abstract SCSI protocol layer API (``OSDeclareAbstractStructors``)."""

    def __init__(self) -> None:
        super().__init__()
        self.fCommandGate: IOCommandGate | None = None
        self.fUserClientExclusiveControlled = False
        self.fUserClient: IOService | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, provider: IOService) -> bool:
        """Make the command gate on the work loop this interface runs on (the HBA's)."""
        if not super().start(provider):
            return False
        loop = self.getWorkLoop()
        if loop is None:
            return False
        gate = IOCommandGate.commandGate(self)
        if gate is None:
            return False
        if loop.addEventSource(gate) != kIOReturnSuccess:
            gate.release()
            return False
        self.fCommandGate = gate
        self.fUserClientExclusiveControlled = False
        return True

    def stop(self, provider: IOService) -> None:
        self._release_command_gate()
        super().stop(provider)

    def free(self) -> None:
        self._release_command_gate()
        super().free()

    def _release_command_gate(self) -> None:
        gate = self.fCommandGate
        if gate is None:
            return
        self.fCommandGate = None
        loop = gate.getWorkLoop()
        if loop is not None:
            loop.removeEventSource(gate)
        gate.release()

    def GetCommandGate(self) -> IOCommandGate | None:
        return self.fCommandGate

    # -- the application layer's API (subclasses implement) ----------------------------------

    def ExecuteCommand(self, request: SCSITask) -> None:
        """Send ``request`` across the wire; its completion callback runs later."""
        raise NotImplementedError(f"{self.getClassName()} does not implement ExecuteCommand")

    def AbortCommand(self, request: SCSITask) -> int:
        """Obsolete in Apple's family (replaced by ``AbortTask``); kept as the
        transport's answer to a request to abort one task."""
        raise NotImplementedError(f"{self.getClassName()} does not implement AbortCommand")

    def IsProtocolServiceSupported(self, feature: int, serviceValue: object = None) -> bool:
        """Whether the protocol supports ``feature``; values come back through
        ``serviceValue``."""
        raise NotImplementedError(
            f"{self.getClassName()} does not implement IsProtocolServiceSupported"
        )

    def HandleProtocolServiceFeature(self, feature: int, serviceValue: object = None) -> bool:
        """Have the protocol act on ``feature``; True if it did."""
        raise NotImplementedError(
            f"{self.getClassName()} does not implement HandleProtocolServiceFeature"
        )

    # -- waiting for a task (kernel threads) -------------------------------------------------

    def SendTask(self, request: SCSITask) -> int:
        """Execute ``request`` and wait for it; its service response.

        Apple's ``IOSCSIPeripheralDeviceNub::SendTask``, here for every interface (the
        target scanner and the logical-unit nubs use it): the caller sleeps in the
        gate of the work loop this interface runs on until the task's completion
        callback wakes it.  The wait holds the work loop itself, not this object's
        command gate, so an interface stopped meanwhile (its target unplugged) still
        wakes its waiter.  Kernel threads only, never the work loop's own (it would
        wait for itself)."""
        gate = self.fCommandGate
        loop = gate.getWorkLoop() if gate is not None else None
        if loop is None:
            raise LockError(f"{self.getClassName()}.SendTask before start (no work loop)")
        if loop.onThread():
            raise LockError(
                f"{self.getClassName()}.SendTask on its work loop's thread would wait for itself"
            )
        loop.retain()
        try:
            request.SetTaskCompletionCallback(lambda task: loop.wakeupGate(task, True))
            self.ExecuteCommand(request)
            loop.closeGate()
            try:
                while request.GetTaskState() != kSCSITaskState_ENDED:
                    loop.sleepGate(request, THREAD_UNINT)
            finally:
                loop.openGate()
        finally:
            loop.release()
        return request.GetServiceResponse()

    # -- SAM task management functions -------------------------------------------------------

    def AbortTask(self, theLogicalUnit: int, theTag: int) -> int:
        return kSCSIServiceResponse_FUNCTION_REJECTED

    def AbortTaskSet(self, theLogicalUnit: int) -> int:
        return kSCSIServiceResponse_FUNCTION_REJECTED

    def ClearACA(self, theLogicalUnit: int) -> int:
        return kSCSIServiceResponse_FUNCTION_REJECTED

    def ClearTaskSet(self, theLogicalUnit: int) -> int:
        return kSCSIServiceResponse_FUNCTION_REJECTED

    def LogicalUnitReset(self, theLogicalUnit: int) -> int:
        return kSCSIServiceResponse_FUNCTION_REJECTED

    def TargetReset(self) -> int:
        return kSCSIServiceResponse_FUNCTION_REJECTED

    # -- user-client exclusivity -------------------------------------------------------------

    def GetUserClientExclusivityState(self) -> bool:
        """Whether a user client holds the device exclusively (a preflight check)."""
        gate = self.fCommandGate
        if gate is None:
            return self.HandleGetUserClientExclusivityState()
        return bool(gate.runAction(lambda owner, *_: owner.HandleGetUserClientExclusivityState()))

    def SetUserClientExclusivityState(self, userClient: IOService, state: bool) -> int:
        """Take (``state`` True) or give back exclusive access for ``userClient``;
        clients are told ``kSCSIServicesNotification_ExclusivityChanged``."""
        gate = self.fCommandGate
        if gate is None:
            status = self.HandleSetUserClientExclusivityState(userClient, state)
        else:
            status = gate.runAction(
                lambda owner, client, wanted, *_: owner.HandleSetUserClientExclusivityState(
                    client, wanted
                ),
                userClient,
                state,
            )
        if status == kIOReturnSuccess:
            self.messageClients(kSCSIServicesNotification_ExclusivityChanged)
        return int(status)

    def HandleGetUserClientExclusivityState(self) -> bool:
        return self.fUserClientExclusiveControlled

    def HandleSetUserClientExclusivityState(self, userClient: IOService, state: bool) -> int:
        """Apple's rules: only a free device can be taken (a release of a free one is
        a bad argument); only its holder can give it back."""
        if self.fUserClient is None:
            if not state:
                return kIOReturnBadArgument
            self.fUserClient = userClient
            self.fUserClientExclusiveControlled = True
            return kIOReturnSuccess
        if self.fUserClient is userClient:
            if not state:
                self.fUserClient = None
                self.fUserClientExclusiveControlled = False
            return kIOReturnSuccess
        return kIOReturnExclusiveAccess


__all__ = ["IOSCSIProtocolInterface"]


class ProviderForwarding:
    """The protocol interface of a layer that passes everything on to its provider (the
    target device to its parallel device, a LUN nub to its target device): mixed in
    before ``IOSCSIProtocolInterface``, with the provider in ``fProvider``.  A layer
    that adds to a call (the target stamps its reference on each task) overrides it."""

    fProvider: IOSCSIProtocolInterface | None

    def _protocol(self) -> IOSCSIProtocolInterface:
        provider = self.fProvider
        assert provider is not None, f"{type(self).__name__} used before start"
        return provider

    def GetProtocolDriver(self) -> IOSCSIProtocolInterface | None:
        return self.fProvider

    def ExecuteCommand(self, request: SCSITask) -> None:
        self._protocol().ExecuteCommand(request)

    def AbortCommand(self, request: SCSITask) -> int:
        return self._protocol().AbortCommand(request)

    def IsProtocolServiceSupported(self, feature: int, serviceValue: object = None) -> bool:
        return self._protocol().IsProtocolServiceSupported(feature, serviceValue)

    def HandleProtocolServiceFeature(self, feature: int, serviceValue: object = None) -> bool:
        return self._protocol().HandleProtocolServiceFeature(feature, serviceValue)

    def AbortTask(self, theLogicalUnit: int, theTag: int) -> int:
        return self._protocol().AbortTask(theLogicalUnit, theTag)

    def AbortTaskSet(self, theLogicalUnit: int) -> int:
        return self._protocol().AbortTaskSet(theLogicalUnit)

    def ClearACA(self, theLogicalUnit: int) -> int:
        return self._protocol().ClearACA(theLogicalUnit)

    def ClearTaskSet(self, theLogicalUnit: int) -> int:
        return self._protocol().ClearTaskSet(theLogicalUnit)

    def LogicalUnitReset(self, theLogicalUnit: int) -> int:
        return self._protocol().LogicalUnitReset(theLogicalUnit)

    def TargetReset(self) -> int:
        return self._protocol().TargetReset()
