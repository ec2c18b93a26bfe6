"""SCSITaskUserClient and its initer, driven from user space through SCSITaskLib and
python-scsi, on a software transport (``KextLabTestSCSITransport``: an
``IOSCSIProtocolServices`` that runs each task on an emulated disk and completes it
20 µs later from its own work loop, as an HBA would).  The whole stack (HBA, target
scan, logical-unit nubs) has its own tests in ``tests/userland/test_storage_stack.py``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pyscsi.pyscsi.scsi import SCSI

from kextlab.families.scsi.definitions import (
    kIOPropertySCSIPeripheralDeviceType,
    kSCSIDataTransfer_FromTargetToInitiator,
    kSCSIServiceResponse_TASK_COMPLETE,
    kSCSITaskStatus_GOOD,
)
from kextlab.families.scsi.protocol_services import IOSCSIProtocolServices
from kextlab.families.scsi.task import SCSITask
from kextlab.families.scsi.user_client import (
    SCSITaskData,
    SCSITaskUserClient,
    SCSITaskUserClientIniter,
    kIOPropertySCSITaskDeviceCategory,
    kIOPropertySCSITaskUserClientDevice,
    kSCSITaskLibConnection,
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
    kIOReturnNoDevice,
    kIOReturnNoResources,
    kIOReturnNotPermitted,
    kIOReturnSuccess,
    kIOReturnUnsupported,
)
from kextlab.kernel.kernel import Kernel
from kextlab.kernel.libkern.collections import OSDictionary
from kextlab.kernel.libkern.convert import from_python
from kextlab.kernel.memory.kernel_memory import kernel_memory
from kextlab.kernel.memory.options import PAGE_SIZE
from kextlab.kernel.memory.refs import UInt32Ref
from kextlab.kernel.service.service import IOService
from kextlab.kernel.workloop.timer_event_source import IOTimerEventSource
from kextlab.kernel.workloop.work_loop import IOWorkLoop
from kextlab.machine.scsi import SCSITarget
from kextlab.machine.scsi.constants import Status
from kextlab.machine.scsi.disk import DiskUnit
from kextlab.machine.scsi.request import DataBuffer, Direction, SCSIRequest
from kextlab.testing.pyscsi_backend import TaskError, UserClientDevice
from kextlab.userland import iokitlib as io
from kextlab.userland.scsi_task_lib import SCSITaskDeviceInterface
from kextlab.userland.user_task import UserTask

TEST_KEXT = "com.kextlab.test.SCSITaskUserClient"
BLOCK = 512
BLOCKS = 2048


class _DescriptorBuffer(DataBuffer):
    """The task's data buffer as the target sees it: views of the physical runs of
    its (prepared) memory descriptor, the way an HBA's DMA reaches them."""

    def __init__(self, request: SCSITask) -> None:
        memory = IOSCSIProtocolServices.GetDataBuffer(request)
        self.memory = memory
        self.length = IOSCSIProtocolServices.GetRequestedDataTransferCount(request)

    def views(self, offset: int, length: int) -> list[memoryview] | None:
        if self.memory is None or offset < 0 or offset + length > self.length:
            return None
        state = kernel_memory()
        return [
            state.view(address, size) for address, size in self.memory.physical_runs(offset, length)
        ]


class KextLabTestSCSITransport(IOSCSIProtocolServices):
    """A software SCSI transport in front of an emulated target."""

    def __init__(self) -> None:
        super().__init__()
        self.target: SCSITarget | None = None
        self.loop: IOWorkLoop | None = None
        self.timer: IOTimerEventSource | None = None
        self.finished: list[tuple[SCSITask, SCSIRequest]] = []
        self.commands = 0

    def getWorkLoop(self) -> IOWorkLoop | None:
        return self.loop

    def start(self, provider: IOService) -> bool:
        self.loop = IOWorkLoop.workLoop()
        assert self.loop is not None
        self.timer = IOTimerEventSource.timerEventSource(self, KextLabTestSCSITransport.fire)
        assert self.timer is not None
        self.loop.addEventSource(self.timer)
        return super().start(provider)

    def stop(self, provider: IOService) -> None:
        super().stop(provider)
        self._teardown()

    def free(self) -> None:
        self._teardown()
        super().free()

    def _teardown(self) -> None:
        if self.timer is not None and self.loop is not None:
            self.loop.removeEventSource(self.timer)
            self.timer.release()
            self.timer = None
        if self.loop is not None:
            self.loop.release()
            self.loop = None

    def IsProtocolServiceSupported(self, feature: int, serviceValue: object = None) -> bool:
        return False

    def HandleProtocolServiceFeature(self, feature: int, serviceValue: object = None) -> bool:
        return False

    def SendSCSICommand(
        self, request: SCSITask, serviceResponse: UInt32Ref, taskStatus: UInt32Ref
    ) -> bool:
        assert self.target is not None
        assert self.timer is not None
        self.commands += 1
        direction = IOSCSIProtocolServices.GetDataTransferDirection(request)
        buffer = None
        kind = Direction.NONE
        if direction:
            buffer = _DescriptorBuffer(request)
            kind = (
                Direction.IN
                if direction == kSCSIDataTransfer_FromTargetToInitiator
                else Direction.OUT
            )
        cdb = IOSCSIProtocolServices.GetCommandDescriptorBlock(request)
        size = IOSCSIProtocolServices.GetCommandDescriptorBlockSize(request)
        scsi = SCSIRequest(request.GetLogicalUnitNumber(), cdb[:size], kind, buffer)
        self.target.execute(scsi)
        self.finished.append((request, scsi))
        if not self.timer.is_armed():
            self.timer.setTimeoutUS(20)
        return True

    def AbortSCSICommand(self, request: SCSITask) -> int:
        return kIOReturnUnsupported

    @staticmethod
    def fire(owner: Any, sender: Any) -> None:
        """The transport's 'interrupt': complete what the target finished (work loop)."""
        assert isinstance(owner, KextLabTestSCSITransport)
        finished, owner.finished = owner.finished, []
        for task, scsi in finished:
            IOSCSIProtocolServices.SetRealizedDataTransferCount(task, scsi.transferred)
            if scsi.status is Status.CHECK_CONDITION and scsi.sense:
                task.SetAutoSenseData(scsi.sense)
            owner.CommandCompleted(task, kSCSIServiceResponse_TASK_COMPLETE, int(scsi.status))


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[DiskUnit]:
    unit = DiskUnit.open("disk0", tmp_path / "disk.img", size=BLOCKS * BLOCK)
    yield unit
    unit.close()


def add_transport(kernel: Kernel, disk: DiskUnit, device_type: int = 0x01) -> io.io_service_t:
    """A started transport under IOResources that names SCSITaskUserClient (as the
    initer leaves a nub), as a user-space handle."""
    kernel.classes.register(SCSITaskUserClient, kext=TEST_KEXT)
    kernel.classes.register(KextLabTestSCSITransport, kext=TEST_KEXT)
    transport = KextLabTestSCSITransport()
    transport.init()
    transport.target = SCSITarget("target0", {0: disk})
    transport.setProperty(kIOPropertySCSIPeripheralDeviceType, device_type, 8)
    transport.setProperty("IOUserClientClass", "SCSITaskUserClient")
    transport.setProperty(kIOPropertySCSITaskDeviceCategory, kIOPropertySCSITaskUserClientDevice)
    assert transport.attach(kernel.resources)
    assert transport.start(kernel.resources)
    transport.release()
    port = io.IOMainPort(kernel.registry, kernel)
    handle = io.IOServiceGetMatchingService(port, {"IOProviderClass": "KextLabTestSCSITransport"})
    assert handle is not None
    return handle


def instances(kernel: Kernel, name: str) -> int:
    meta = kernel.classes.getMetaClassWithName(name)
    return meta.getInstanceCount() if meta is not None else 0


def past_unit_attention(scsi: SCSI, device: UserClientDevice) -> None:
    """The disk reports POWER ON OCCURRED once; python-scsi sees it as CHECK CONDITION."""
    with pytest.raises(device.CheckCondition) as caught:
        scsi.testunitready()
    assert (caught.value.data["sense_key"], caught.value.asc, caught.value.ascq) == (6, 0x29, 1)


def test_pyscsi_inquires_reads_capacity_and_moves_data_through_the_user_client(
    kernel: Kernel, disk: DiskUnit
) -> None:
    """python-scsi through SCSITaskUserClient: CHECK CONDITION with its sense, INQUIRY,
    READ CAPACITY(16), WRITE(16) and READ(16) with the data DMA'd into task memory."""
    service = add_transport(kernel, disk)
    with UserTask(kernel, "pyscsi") as task:
        device = UserClientDevice(service, task)
        scsi = SCSI(device, blocksize=BLOCK)
        past_unit_attention(scsi, device)
        inquiry = scsi.inquiry().result
        assert inquiry["t10_vendor_identification"].decode().strip() == "KEXTLAB"
        capacity = scsi.readcapacity16().result
        assert capacity["returned_lba"] == BLOCKS - 1
        assert capacity["block_length"] == BLOCK
        payload = bytes((index * 13 + 5) & 0xFF for index in range(8 * BLOCK))
        scsi.write16(100, 8, payload)
        assert scsi.read16(100, 8).datain == payload
        on_disk = bytearray(8 * BLOCK)
        disk.image.read(100, 8, [memoryview(on_disk)])
        assert on_disk == payload
        assert device.last_result == (
            kSCSIServiceResponse_TASK_COMPLETE,
            kSCSITaskStatus_GOOD,
            8 * BLOCK,
        )
        device.close()
    kernel.machine.run()
    assert instances(kernel, "SCSITaskUserClient") == 0


def test_a_read_past_the_end_is_a_check_condition_with_sense(
    kernel: Kernel, disk: DiskUnit
) -> None:
    """LOGICAL BLOCK ADDRESS OUT OF RANGE comes back as python-scsi's CheckCondition."""
    service = add_transport(kernel, disk)
    with UserTask(kernel, "pyscsi") as task:
        device = UserClientDevice(service, task)
        scsi = SCSI(device, blocksize=BLOCK)
        past_unit_attention(scsi, device)
        with pytest.raises(device.CheckCondition) as caught:
            scsi.read16(BLOCKS, 1)
        assert (caught.value.data["sense_key"], caught.value.asc) == (5, 0x21)
        device.close()


def test_the_open_is_exclusive_until_the_first_program_closes(
    kernel: Kernel, disk: DiskUnit
) -> None:
    """A generic nub has one owner: a second program's open fails (the user client
    cannot open its provider); after the first closes, the second gets it."""
    service = add_transport(kernel, disk)
    with UserTask(kernel, "first") as first, UserTask(kernel, "second") as second:
        result, device = SCSITaskDeviceInterface.open(service, first)
        assert result == kIOReturnSuccess
        assert device is not None
        assert SCSITaskDeviceInterface.open(service, second) == (kIOReturnUnsupported, None)
        device.close()
        kernel.machine.run()
        result, other = SCSITaskDeviceInterface.open(service, second)
        assert result == kIOReturnSuccess
        assert other is not None
        other.close()


def test_exclusive_access_goes_through_the_protocol_interface(
    kernel: Kernel, disk: DiskUnit
) -> None:
    """Obtain takes the interface's exclusivity; a second obtain is refused while it is
    held; release gives it back and a second release is not permitted."""
    service = add_transport(kernel, disk)
    with UserTask(kernel, "exclusive") as task:
        _, connection = io.IOServiceOpen(service, task, kSCSITaskLibConnection)
        assert connection is not None

        def call(selector: int) -> int:
            return io.IOConnectCallScalarMethod(connection, selector)[0]

        assert call(kSCSITaskUserClientIsExclusiveAccessAvailable) == kIOReturnSuccess
        assert call(kSCSITaskUserClientObtainExclusiveAccess) == kIOReturnSuccess
        assert call(kSCSITaskUserClientIsExclusiveAccessAvailable) == kIOReturnExclusiveAccess
        assert call(kSCSITaskUserClientObtainExclusiveAccess) == kIOReturnExclusiveAccess
        assert call(kSCSITaskUserClientReleaseExclusiveAccess) == kIOReturnSuccess
        assert call(kSCSITaskUserClientReleaseExclusiveAccess) == kIOReturnNotPermitted
        io.IOServiceClose(connection)


def test_only_connection_type_12_is_accepted(kernel: Kernel, disk: DiskUnit) -> None:
    """SCSITaskUserClient::initWithTask refuses any type but kSCSITaskLibConnection."""
    service = add_transport(kernel, disk)
    with UserTask(kernel, "wrongtype") as task:
        assert io.IOServiceOpen(service, task, 0) == (kIOReturnBadArgument, None)


class RawTask:
    """A kernel task slot with its results and sense buffers, driven by selector."""

    def __init__(self, connection: io.io_connect_t, task: UserTask) -> None:
        self.connection = connection
        result, (self.reference,) = io.IOConnectCallScalarMethod(
            connection, kSCSITaskUserClientCreateTask, (), 1
        )
        assert result == kIOReturnSuccess
        self.page = task.vm_allocate(PAGE_SIZE)

    def set_buffers(self) -> int:
        return io.IOConnectCallScalarMethod(
            self.connection,
            kSCSITaskUserClientSetBuffers,
            (self.reference, self.page.address, self.page.address + 64, 18),
        )[0]

    def execute(self, data: SCSITaskData | bytes) -> int:
        packed = data.pack() if isinstance(data, SCSITaskData) else data
        return io.IOConnectCallStructMethod(
            self.connection, kSCSITaskUserClientExecuteTask, packed
        )[0]

    def data(self, **changes: Any) -> SCSITaskData:
        fields: dict[str, Any] = {
            "taskReference": self.reference,
            "isSync": True,
            "taskAttribute": 0,
            "cdbData": bytes(6),  # TEST UNIT READY
            "cdbSize": 6,
            "requestedTransferCount": 0,
            "transferDirection": 0,
            "timeoutDuration": 10_000,
            "scatterGatherEntries": 0,
            "scatterGatherList": (),
        }
        fields.update(changes)
        return SCSITaskData(**fields)


@pytest.fixture
def raw(kernel: Kernel, disk: DiskUnit) -> Iterator[tuple[RawTask, UserTask]]:
    service = add_transport(kernel, disk)
    with UserTask(kernel, "raw") as task:
        _, connection = io.IOServiceOpen(service, task, kSCSITaskLibConnection)
        assert connection is not None
        yield RawTask(connection, task), task
        io.IOServiceClose(connection)


def test_executetask_checks_its_structure(raw: tuple[RawTask, UserTask]) -> None:
    """Bad CDB sizes, attributes, directions, scatter/gather counts, slots and a task
    without buffers are bad arguments; an asynchronous task is unsupported."""
    scsi_task, _ = raw
    assert scsi_task.execute(scsi_task.data()) == kIOReturnBadArgument  # no SetBuffers yet
    assert scsi_task.set_buffers() == kIOReturnSuccess
    assert scsi_task.execute(scsi_task.data()) == kIOReturnSuccess
    assert scsi_task.execute(scsi_task.data(cdbSize=7)) == kIOReturnBadArgument
    assert scsi_task.execute(scsi_task.data(taskAttribute=4)) == kIOReturnBadArgument
    assert scsi_task.execute(scsi_task.data(transferDirection=3)) == kIOReturnBadArgument
    assert scsi_task.execute(scsi_task.data(taskReference=9)) == kIOReturnBadArgument
    assert scsi_task.execute(scsi_task.data(taskReference=16)) == kIOReturnBadArgument
    assert scsi_task.execute(scsi_task.data(isSync=False)) == kIOReturnUnsupported
    two_ranges = scsi_task.data(
        scatterGatherEntries=2, scatterGatherList=((scsi_task.page.address, 8),)
    )
    assert scsi_task.execute(two_ranges) == kIOReturnBadArgument
    assert scsi_task.execute(b"\0" * 20) == kIOReturnBadArgument


def test_sixteen_tasks_at_most(raw: tuple[RawTask, UserTask]) -> None:
    """The kernel keeps 16 task slots; a 17th CreateTask is out of resources, a freed
    slot is reused, and an unknown slot cannot be released."""
    scsi_task, _ = raw
    connection = scsi_task.connection
    references = [scsi_task.reference]
    for _ in range(15):
        result, (reference,) = io.IOConnectCallScalarMethod(
            connection, kSCSITaskUserClientCreateTask, (), 1
        )
        assert result == kIOReturnSuccess
        references.append(reference)
    assert sorted(references) == list(range(16))
    result, _ = io.IOConnectCallScalarMethod(connection, kSCSITaskUserClientCreateTask, (), 1)
    assert result == kIOReturnNoResources
    assert io.IOConnectCallScalarMethod(connection, kSCSITaskUserClientReleaseTask, (5,))[0] == (
        kIOReturnSuccess
    )
    assert io.IOConnectCallScalarMethod(connection, kSCSITaskUserClientReleaseTask, (5,))[0] == (
        kIOReturnBadArgument
    )
    result, (reference,) = io.IOConnectCallScalarMethod(
        connection, kSCSITaskUserClientCreateTask, (), 1
    )
    assert (result, reference) == (kIOReturnSuccess, 5)


def test_data_lands_in_fragmented_task_memory_through_a_long_gather_list(
    kernel: Kernel, disk: DiskUnit
) -> None:
    """A read into 300 separate 512-byte ranges (an out-of-line structure over 4 KiB)
    of fragmented task memory puts every block where it belongs."""
    service = add_transport(kernel, disk)
    blocks = 300
    pattern = bytes((index * 7 + index // BLOCK) & 0xFF for index in range(blocks * BLOCK))
    disk.image.write(0, blocks, [memoryview(pattern)])
    with UserTask(kernel, "gather") as task:
        result, device = SCSITaskDeviceInterface.open(service, task)
        assert result == kIOReturnSuccess
        assert device is not None
        scsi_task = device.CreateSCSITask()
        assert scsi_task is not None
        buffer = task.vm_allocate(2 * blocks * BLOCK, fragmented=True)
        ranges = [(buffer.address + 2 * index * BLOCK, BLOCK) for index in range(blocks)]
        cdb = bytes([0x28, 0, 0, 0, 0, 0, 0, blocks >> 8, blocks & 0xFF, 0])  # READ(10)
        scsi_task.SetCommandDescriptorBlock(cdb)
        scsi_task.SetScatterGatherEntries(
            ranges, blocks * BLOCK, kSCSIDataTransfer_FromTargetToInitiator
        )
        scsi_task.SetTimeoutDuration(10_000)
        assert len(SCSITaskData(0, True, 0, cdb, 10, 0, 2, 0, blocks, tuple(ranges)).pack()) > 4096
        # the POWER ON unit attention first, then the read itself
        result, sense, _, _ = scsi_task.ExecuteTaskSync()
        assert result == kIOReturnSuccess
        assert sense is not None
        result, sense, status, count = scsi_task.ExecuteTaskSync()
        assert (result, sense, status, count) == (
            kIOReturnSuccess,
            None,
            kSCSITaskStatus_GOOD,
            blocks * BLOCK,
        )
        for index in range(blocks):
            assert (
                buffer.read(2 * index * BLOCK, BLOCK)
                == pattern[index * BLOCK : (index + 1) * BLOCK]
            )
        scsi_task.Release()
        device.close()


def test_a_program_that_dies_with_tasks_open_leaves_nothing_behind(
    kernel: Kernel, disk: DiskUnit
) -> None:
    """Ending the task with the connection and tasks open: clientDied releases the
    tasks and the user client; the device can be opened again."""
    service = add_transport(kernel, disk)
    tasks_before = instances(kernel, "SCSITask")
    with UserTask(kernel, "crasher") as task:
        result, device = SCSITaskDeviceInterface.open(service, task)
        assert result == kIOReturnSuccess
        assert device is not None
        for _ in range(3):
            assert device.CreateSCSITask() is not None
        assert instances(kernel, "SCSITask") == tasks_before + 3
    kernel.machine.run()
    assert instances(kernel, "SCSITask") == tasks_before
    assert instances(kernel, "SCSITaskUserClient") == 0
    with UserTask(kernel, "next") as task:
        result, device = SCSITaskDeviceInterface.open(service, task)
        assert result == kIOReturnSuccess
        assert device is not None
        device.close()


def test_a_terminated_nub_turns_methods_into_no_device(kernel: Kernel, disk: DiskUnit) -> None:
    """When the nub goes, the user client lets go of it: its methods answer
    kIOReturnNoDevice and the connection still closes cleanly."""
    service = add_transport(kernel, disk)
    with UserTask(kernel, "survivor") as task:
        _, connection = io.IOServiceOpen(service, task, kSCSITaskLibConnection)
        assert connection is not None
        transport = service._entry
        assert isinstance(transport, IOService)
        transport.terminate()
        kernel.machine.run()
        result, _ = io.IOConnectCallScalarMethod(connection, kSCSITaskUserClientCreateTask, (), 1)
        assert result == kIOReturnNoDevice
        assert io.IOServiceClose(connection) == kIOReturnSuccess
    kernel.machine.run()
    assert instances(kernel, "SCSITaskUserClient") == 0


def test_a_failed_open_raises_task_error(kernel: Kernel, disk: DiskUnit) -> None:
    """UserClientDevice on a taken device raises TaskError naming the IOReturn."""
    service = add_transport(kernel, disk)
    with UserTask(kernel, "one") as first, UserTask(kernel, "two") as second:
        device = UserClientDevice(service, first)
        with pytest.raises(TaskError, match="refused"):
            UserClientDevice(service, second)
        device.close()


def _properties(table: dict[str, object]) -> OSDictionary:
    made = from_python(table)
    assert isinstance(made, OSDictionary)
    return made


@pytest.mark.parametrize(
    ("category", "merged"),
    [("SCSITaskUserClientIniter", True), (None, False), ("IODefaultMatchCategory", False)],
)
def test_the_initer_merges_only_into_a_nub_of_its_own_category(
    kernel: Kernel, category: str | None, merged: bool
) -> None:
    """The initer publishes IOUserClientClass, SCSITaskDeviceCategory and a GUID on its
    provider (and stays) only when the provider's IOMatchCategory is the initer's."""
    kernel.classes.register(SCSITaskUserClientIniter, kext=TEST_KEXT)
    nub = IOService()
    nub.init()
    if category is not None:
        nub.setProperty("IOMatchCategory", category)
    assert nub.attach(kernel.resources)
    initer = SCSITaskUserClientIniter()
    table = _properties(
        {
            "IOMatchCategory": "SCSITaskUserClientIniter",
            "IOProviderMergeProperties": {
                "IOUserClientClass": "SCSITaskUserClient",
                "SCSITaskDeviceCategory": "SCSITaskUserClientDevice",
                "IOCFPlugInTypes": {"7D66678E-08A2-11D5-A1B8-0030657D052A": "SCSITaskLib.plugin"},
            },
        }
    )
    initer.init(table)
    table.release()
    assert initer.attach(nub)
    assert initer.start(nub) is merged
    names = (
        "IOUserClientClass",
        "SCSITaskDeviceCategory",
        "SCSITaskUserClient GUID",
        "IOCFPlugInTypes",
    )
    assert all((nub.getProperty(name) is not None) is merged for name in names)
    initer.detach(nub)
    initer.release()
    nub.detach(kernel.resources)
    nub.release()
