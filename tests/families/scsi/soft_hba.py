"""A software SCSI HBA for the family's tests, shaped like Apple's AppleSCSIHBAEmulator.

``SoftHBA`` is an ``IOSCSIParallelInterfaceController`` whose targets are
``kextlab.machine.scsi`` targets executed in-process: ``ProcessParallelTask`` maps
the command's memory through its ``IODMACommand`` (prepared over the task's range,
segments from ``gen64IOVMSegments``, the device reading and writing physical memory
through those addresses), runs the CDB on the target model, arms the task's timeout
and answers ``Request_In_Process``.  Completion is always deferred: after a latency
an event raises the HBA's software interrupt (an ``IOInterruptEventSource`` without
a provider, made by ``CreateDeviceInterrupt``), and ``HandleInterruptRequest`` on
the work loop completes the done tasks with their sense.

A test describes the bus with ``HBAConfig`` on the provider nub (``SoftHBANub``) and
starts the HBA the way a kext would be: a personality in the catalogue matches the
published nub.  ``HBAConfig`` also injects the misbehaviours the family must
survive: synchronous refusals, TASK SET FULL, commands that never complete, sense
withheld (the family then runs REQUEST SENSE itself).

Every subclass hook the family calls appends its name to ``HBAConfig.calls``, so
the lifecycle order can be checked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kextlab.families.scsi import definitions as scsi
from kextlab.families.scsi.parallel.controller import IOSCSIParallelInterfaceController
from kextlab.families.scsi.parallel.parallel_task import SCSIParallelTask
from kextlab.families.scsi.peripheral_nub import IOSCSILogicalUnitNub
from kextlab.families.scsi.target_device import IOSCSITargetDevice
from kextlab.families.scsi.task import SCSITask
from kextlab.kernel.ioreturn import kIOReturnSuccess
from kextlab.kernel.kernel import Kernel
from kextlab.kernel.libkern.collections import OSDictionary
from kextlab.kernel.libkern.convert import from_python
from kextlab.kernel.libkern.object import OSDynamicCast
from kextlab.kernel.libkern.values import OSNumber
from kextlab.kernel.memory.dma_command import IODMACommand, Segment64
from kextlab.kernel.memory.refs import UInt32Ref, UInt64Ref
from kextlab.kernel.registry.registry import kIOServicePlane
from kextlab.kernel.service.service import IOService
from kextlab.kernel.workloop import IOInterruptEventSource
from kextlab.machine.scsi.constants import Status
from kextlab.machine.scsi.request import DataBuffer, Direction, HostStatus, SCSIRequest
from kextlab.machine.scsi.target import SCSITarget
from kextlab.sim.scheduler import current_scheduler
from kextlab.sim.time import MICROSECOND

SOFT_HBA_KEXT = "com.kextlab.test.SoftHBA"


@dataclass
class HBAConfig:
    """The bus a ``SoftHBA`` drives and how it behaves."""

    targets: dict[int, SCSITarget] = field(default_factory=dict)
    initiator: int = 7
    highest_id: int = 7
    highest_lun: int = 7
    task_count: int = 4
    task_data_size: int = 64
    device_data_size: int = 16
    manages_devices: bool = False
    performs_autosense: bool = True
    latency_ns: int = 50 * MICROSECOND
    #: Opcodes ProcessParallelTask refuses synchronously (answers a delivery failure).
    refuse_opcodes: set[int] = field(default_factory=set)
    #: Opcode -> how many times to end it with TASK SET FULL before running it.
    task_set_full: dict[int, int] = field(default_factory=dict)
    #: Opcodes the HBA takes but never completes (the timeout must).
    hang_opcodes: set[int] = field(default_factory=set)
    #: Overrides the task's own timeout in SetTimeoutForTask (0: the task's).
    timeout_override_ms: int = 0
    #: Extra keys ReportHBAConstraints adds after super's.
    constraints: dict[str, int] = field(default_factory=dict)
    #: A false ``InitializeTargetForID`` for these IDs.
    refuse_target_ids: set[int] = field(default_factory=set)
    #: Response of LogicalUnitResetRequest: FUNCTION_COMPLETE, or Request_In_Process
    #: followed by CompleteLogicalUnitReset(reset_response) after the latency.
    reset_in_process: bool = False
    reset_response: int = scsi.kSCSIServiceResponse_FUNCTION_COMPLETE
    calls: list[str] = field(default_factory=list)
    commands: list[tuple[int, int, bytes]] = field(default_factory=list)


class SoftHBANub(IOService):
    """The provider a ``SoftHBA`` matches (stands for its PCI nub)."""

    def __init__(self, config: HBAConfig | None = None) -> None:
        super().__init__()
        self.config = config if config is not None else HBAConfig()


class PhysicalBuffer(DataBuffer):
    """The command's memory as the HBA's DMA engine sees it: segments of RAM."""

    def __init__(self, memory: Any, segments: list[tuple[int, int]]) -> None:
        self.memory = memory
        self.segments = segments
        self.length = sum(length for _, length in segments)

    def views(self, offset: int, length: int) -> list[memoryview] | None:
        if offset < 0 or offset + length > self.length:
            return None
        views: list[memoryview] = []
        position = 0
        for address, size in self.segments:
            start = max(offset, position)
            end = min(offset + length, position + size)
            if start < end:
                view = self.memory.view(address + start - position, end - start)
                if view is None:
                    return None
                views.append(view)
            position += size
        return views


class SoftHBA(IOSCSIParallelInterfaceController):
    """A virtual HBA over in-process SCSI target models."""

    def __init__(self) -> None:
        super().__init__()
        self.config = HBAConfig()
        self.done: list[tuple[SCSIParallelTask, SCSIRequest | None]] = []
        self.hung: list[SCSIParallelTask] = []
        self.segment_batch = [Segment64() for _ in range(16)]
        #: Work to do on the work loop at the next interrupt (tests' hook).
        self.interrupt_work: list[Callable[[], object]] = []

    def _call(self, name: str) -> None:
        self.config.calls.append(name)

    # -- lifecycle hooks -------------------------------------------------------------------

    def start(self, provider: IOService) -> bool:
        nub = OSDynamicCast(SoftHBANub, provider)
        if nub is not None:
            self.config = nub.config
        return super().start(provider)

    def InitializeController(self) -> bool:
        self._call("InitializeController")
        return True

    def TerminateController(self) -> None:
        self._call("TerminateController")

    def StartController(self) -> bool:
        self._call("StartController")
        return True

    def StopController(self) -> None:
        self._call("StopController")
        for task in self.hung:
            self.CompleteParallelTask(
                task,
                scsi.kSCSITaskStatus_DeliveryFailure,
                scsi.kSCSIServiceResponse_SERVICE_DELIVERY_OR_TARGET_FAILURE,
            )
        self.hung.clear()
        self._finish_done()

    def registerService(self, options: int = 0) -> None:
        self._call("registerService")
        super().registerService(options)

    # -- reports -----------------------------------------------------------------------------

    def ReportInitiatorIdentifier(self) -> int:
        self._call("ReportInitiatorIdentifier")
        return self.config.initiator

    def ReportHighestSupportedDeviceID(self) -> int:
        self._call("ReportHighestSupportedDeviceID")
        return self.config.highest_id

    def ReportMaximumTaskCount(self) -> int:
        self._call("ReportMaximumTaskCount")
        return self.config.task_count

    def ReportHBASpecificTaskDataSize(self) -> int:
        self._call("ReportHBASpecificTaskDataSize")
        return self.config.task_data_size

    def ReportHBASpecificDeviceDataSize(self) -> int:
        return self.config.device_data_size

    def ReportHBAHighestLogicalUnitNumber(self) -> int:
        return self.config.highest_lun

    def ReportHBAConstraints(self, constraints: OSDictionary) -> None:
        self._call("ReportHBAConstraints")
        super().ReportHBAConstraints(constraints)
        for key, value in self.config.constraints.items():
            number = OSNumber(value, 64)
            constraints.setObject(key, number)
            number.release()

    def InitializeDMASpecification(self, command: IODMACommand) -> bool:
        if "InitializeDMASpecification" not in self.config.calls:
            self._call("InitializeDMASpecification")
        return command.initWithSpecification(
            IODMACommand.OutputHost64, 64, 1 << 20, IODMACommand.kMapped, 1 << 20, 1
        )

    def DoesHBASupportSCSIParallelFeature(self, theFeature: int) -> bool:
        return False

    def DoesHBAPerformDeviceManagement(self) -> bool:
        self._call("DoesHBAPerformDeviceManagement")
        return self.config.manages_devices

    def DoesHBAPerformAutoSense(self) -> bool:
        return self.config.performs_autosense

    def InitializeTargetForID(self, targetID: int) -> bool:
        self._call(f"InitializeTargetForID({targetID})")
        return targetID not in self.config.refuse_target_ids

    # -- the interrupt --------------------------------------------------------------------------

    def CreateDeviceInterrupt(
        self, action: Any, filter: Any, provider: IOService
    ) -> IOInterruptEventSource | None:
        """A software interrupt: no provider, raised by ``interruptOccurred``."""
        self._call("CreateDeviceInterrupt")
        return IOInterruptEventSource.interruptEventSource(self, action, None)

    def _raise_interrupt(self) -> None:
        source = self.fDispatchEvent
        if source is not None and source.getWorkLoop() is not None:
            source.interruptOccurred(None, None, 0)

    def HandleInterruptRequest(self) -> None:
        work, self.interrupt_work = self.interrupt_work, []
        for item in work:
            item()
        self._finish_done()

    def interrupt_soon(self, work: Callable[[], object]) -> None:
        """Run ``work`` in ``HandleInterruptRequest`` (the work loop thread, gate held)."""
        self.interrupt_work.append(work)
        scheduler = current_scheduler()
        assert scheduler is not None
        scheduler.after(self.config.latency_ns, self._raise_interrupt, "SoftHBA interrupt")

    # -- commands ------------------------------------------------------------------------------

    def ProcessParallelTask(self, parallelRequest: SCSIParallelTask) -> int:
        target_id = self.GetTargetIdentifier(parallelRequest)
        size = self.GetCommandDescriptorBlockSize(parallelRequest)
        cdb = self.GetCommandDescriptorBlock(parallelRequest)[:size]
        lun = self.GetLogicalUnitNumber(parallelRequest)
        self.config.commands.append((target_id, lun, cdb))
        opcode = cdb[0]
        if opcode in self.config.refuse_opcodes:
            return scsi.kSCSIServiceResponse_SERVICE_DELIVERY_OR_TARGET_FAILURE
        self.SetTimeoutForTask(parallelRequest, self.config.timeout_override_ms)
        if opcode in self.config.hang_opcodes:
            self.hung.append(parallelRequest)
            return scsi.kSCSIServiceResponse_Request_In_Process
        if self.config.task_set_full.get(opcode, 0) > 0:
            self.config.task_set_full[opcode] -= 1
            self._defer(parallelRequest, _status_only(lun, cdb, Status.TASK_SET_FULL))
            return scsi.kSCSIServiceResponse_Request_In_Process
        target = self.config.targets.get(target_id)
        if target is None:
            self._defer(parallelRequest, None)
            return scsi.kSCSIServiceResponse_Request_In_Process
        direction = self.GetDataTransferDirection(parallelRequest)
        buffer = None
        request_direction = Direction.NONE
        if direction != scsi.kSCSIDataTransfer_NoDataTransfer:
            buffer = self._map(parallelRequest)
            request_direction = (
                Direction.IN
                if direction == scsi.kSCSIDataTransfer_FromTargetToInitiator
                else Direction.OUT
            )
        request = SCSIRequest(lun, cdb, request_direction, buffer)
        target.execute(request)
        self._defer(parallelRequest, request)
        return scsi.kSCSIServiceResponse_Request_In_Process

    def _map(self, task: SCSIParallelTask) -> PhysicalBuffer:
        """Prepare the task's DMA range and read its bus addresses."""
        dma = self.GetDMACommand(task)
        offset = self.GetDataBufferOffset(task)
        length = self.GetRequestedDataTransferCount(task)
        assert dma.prepare(offset, length) == kIOReturnSuccess
        segments: list[tuple[int, int]] = []
        position = UInt64Ref(0)
        while position.value < length:
            count = UInt32Ref(len(self.segment_batch))
            assert dma.gen64IOVMSegments(position, self.segment_batch, count) == kIOReturnSuccess
            segments.extend(
                (segment.fIOVMAddr, segment.fLength)
                for segment in self.segment_batch[: count.value]
            )
        scheduler = current_scheduler()
        assert scheduler is not None
        kernel = scheduler.extensions["kernel"]
        return PhysicalBuffer(kernel.machine.memory, segments)

    def _defer(self, task: SCSIParallelTask, request: SCSIRequest | None) -> None:
        self.done.append((task, request))
        scheduler = current_scheduler()
        assert scheduler is not None
        scheduler.after(self.config.latency_ns, self._raise_interrupt, "SoftHBA interrupt")

    def _finish_done(self) -> None:
        done, self.done = self.done, []
        for task, request in done:
            self._complete(task, request)

    def _complete(self, task: SCSIParallelTask, request: SCSIRequest | None) -> None:
        if self.GetDataTransferDirection(task) != scsi.kSCSIDataTransfer_NoDataTransfer:
            self.GetDMACommand(task).complete()
        if request is None or request.host_status is HostStatus.NO_TARGET:
            self.CompleteParallelTask(
                task,
                scsi.kSCSITaskStatus_DeviceNotPresent,
                scsi.kSCSIServiceResponse_SERVICE_DELIVERY_OR_TARGET_FAILURE,
            )
            return
        self.SetRealizedDataTransferCount(task, request.transferred)
        if request.status is Status.CHECK_CONDITION and self.config.performs_autosense:
            self.SetAutoSenseData(task, request.sense)
        self.CompleteParallelTask(
            task, int(request.status), scsi.kSCSIServiceResponse_TASK_COMPLETE
        )

    def HandleTimeout(self, parallelRequest: SCSIParallelTask) -> None:
        self._call("HandleTimeout")
        if parallelRequest in self.hung:
            self.hung.remove(parallelRequest)
        super().HandleTimeout(parallelRequest)

    # -- task management -----------------------------------------------------------------------

    def AbortTaskRequest(self, theT: int, theL: int, theQ: int) -> int:
        return scsi.kSCSIServiceResponse_FUNCTION_REJECTED

    def AbortTaskSetRequest(self, theT: int, theL: int) -> int:
        return scsi.kSCSIServiceResponse_FUNCTION_COMPLETE

    def ClearACARequest(self, theT: int, theL: int) -> int:
        return scsi.kSCSIServiceResponse_FUNCTION_COMPLETE

    def ClearTaskSetRequest(self, theT: int, theL: int) -> int:
        return scsi.kSCSIServiceResponse_FUNCTION_COMPLETE

    def LogicalUnitResetRequest(self, theT: int, theL: int) -> int:
        self._call(f"LogicalUnitResetRequest({theT},{theL})")
        if not self.config.reset_in_process:
            return scsi.kSCSIServiceResponse_FUNCTION_COMPLETE
        response = self.config.reset_response
        self.interrupt_soon(lambda: self.CompleteLogicalUnitReset(theT, theL, response))
        return scsi.kSCSIServiceResponse_Request_In_Process

    def TargetResetRequest(self, theT: int) -> int:
        return scsi.kSCSIServiceResponse_FUNCTION_COMPLETE

    # -- what tests call ----------------------------------------------------------------------

    def create_target(self, target_id: int) -> bool:
        """``CreateTargetForID`` as a device-managing HBA calls it (hot-plug)."""
        return self.CreateTargetForID(target_id)

    def destroy_target(self, target_id: int) -> None:
        self.DestroyTargetForID(target_id)


def _status_only(lun: int, cdb: bytes, status: Status) -> SCSIRequest:
    request = SCSIRequest(lun, cdb)
    request.status = status
    return request


# -- bringing a SoftHBA up in a booted kernel ---------------------------------------------------


def register_soft_hba(kernel: Kernel) -> None:
    """Register the HBA's class as a loaded kext would, and its personality."""
    kernel.classes.register(SoftHBA, kext=SOFT_HBA_KEXT)
    personality = from_python(
        {
            "IOClass": "SoftHBA",
            "IOProviderClass": "SoftHBANub",
            "CFBundleIdentifier": SOFT_HBA_KEXT,
        }
    )
    assert isinstance(personality, OSDictionary)
    kernel.services.catalogue.addDrivers([personality], doNubMatching=False)
    personality.release()


def publish_hba(kernel: Kernel, config: HBAConfig) -> SoftHBA:
    """Publish a nub for ``config``, let matching start the HBA and scan; the HBA."""
    if kernel.classes.getMetaClassWithName("SoftHBA") is None:
        register_soft_hba(kernel)
    nub = SoftHBANub(config)
    nub.init()
    assert nub.attach(kernel.platform_device)
    nub.registerService()
    nub.release()
    kernel.scheduler.run()
    hba = OSDynamicCast(SoftHBA, nub.getClient())
    assert hba is not None, "SoftHBA did not start"
    return hba


def services_of(kernel: Kernel, cls: type[IOService]) -> list[Any]:
    """Every service of class ``cls`` in the service plane, in registry order."""
    plane = kernel.registry.plane(kIOServicePlane)
    return [
        entry
        for entry in kernel.registry.getRoot().iterate(plane, recursive=True)
        if isinstance(entry, cls)
    ]


def logical_units(kernel: Kernel) -> dict[tuple[int, int], IOSCSILogicalUnitNub]:
    """The logical-unit nubs by (target ID, LUN)."""
    units: dict[tuple[int, int], IOSCSILogicalUnitNub] = {}
    for target in services_of(kernel, IOSCSITargetDevice):
        provider = target.getProvider()
        for nub in target.logical_units():
            units[(provider.GetTargetIdentifier(), nub.GetLogicalUnitNumber())] = nub
    return units


def on_thread(kernel: Kernel, work: Callable[[], Any], name: str = "client") -> Any:
    """Run ``work`` on a new kernel thread until it returns; its result."""
    thread = kernel.scheduler.spawn(work, name=name)
    assert thread.join()
    return thread.result


def scsi_task(
    cdb: tuple[int, ...],
    *,
    buffer: Any = None,
    count: int = 0,
    direction: int = scsi.kSCSIDataTransfer_NoDataTransfer,
    timeout_ms: int = 10_000,
) -> SCSITask:
    task = SCSITask.create()
    task.SetCommandDescriptorBlock(*cdb)
    task.SetTimeoutDuration(timeout_ms)
    task.SetDataTransferDirection(direction)
    if buffer is not None:
        task.SetDataBuffer(buffer)
        task.SetRequestedDataTransferCount(count)
    return task
