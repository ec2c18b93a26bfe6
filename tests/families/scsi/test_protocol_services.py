"""IOSCSIProtocolServices: the task queue, refusal and resend, immediate answers,
autosense through REQUEST SENSE, device removal, and user-client exclusivity."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from kextlab.families.scsi import definitions as scsi
from kextlab.families.scsi.definitions import SCSI_Sense_Data, sense_key_and_codes
from kextlab.families.scsi.protocol_services import IOSCSIProtocolServices
from kextlab.families.scsi.task import SCSITask
from kextlab.kernel.ioreturn import (
    kIOReturnBadArgument,
    kIOReturnExclusiveAccess,
    kIOReturnSuccess,
)
from kextlab.kernel.kernel import Kernel
from kextlab.kernel.memory.refs import UInt32Ref
from kextlab.kernel.service.service import IOService
from kextlab.kernel.workloop import IOTimerEventSource, IOWorkLoop


class LoopProvider(IOService):
    """A provider with its own work loop, as an HBA would be."""

    def __init__(self) -> None:
        super().__init__()
        loop = IOWorkLoop.workLoop()
        assert loop is not None
        self.loop = loop

    def getWorkLoop(self) -> IOWorkLoop | None:
        return self.loop

    def free(self) -> None:
        self.loop.release()
        super().free()


class FakeTransport(IOSCSIProtocolServices):
    """A transport that takes ``room`` commands at a time and finishes them 1 ms
    later on its work loop, with GOOD status, or with what ``answers`` says for a CDB
    opcode: (response, status, sense or None, finish at once)."""

    def __init__(self, room: int = 1, *, always_sense: bool = True) -> None:
        super().__init__()
        self.room = room
        self.always_sense = always_sense
        self.in_flight: list[SCSITask] = []
        self.sent: list[bytes] = []
        self.answers: dict[int, tuple[int, int, bytes | None, bool]] = {}
        self.timer: IOTimerEventSource | None = None

    def start(self, provider: IOService) -> bool:
        if not super().start(provider):
            return False
        timer = IOTimerEventSource.timerEventSource(self, FakeTransport.finish)
        assert timer is not None
        loop = self.getWorkLoop()
        assert loop is not None
        loop.addEventSource(timer)
        self.timer = timer
        return True

    def stop(self, provider: IOService) -> None:
        if self.timer is not None:
            loop = self.timer.getWorkLoop()
            if loop is not None:
                loop.removeEventSource(self.timer)
            self.timer.release()
            self.timer = None
        super().stop(provider)

    def IsProtocolServiceSupported(self, feature: int, serviceValue: object = None) -> bool:
        if feature == scsi.kSCSIProtocolFeature_ProtocolAlwaysReportsAutosenseData:
            return self.always_sense
        return False

    def HandleProtocolServiceFeature(self, feature: int, serviceValue: object = None) -> bool:
        return False

    def SendSCSICommand(
        self, request: SCSITask, serviceResponse: UInt32Ref, taskStatus: UInt32Ref
    ) -> bool:
        cdb = self.GetCommandDescriptorBlock(request)[: self.GetCommandDescriptorBlockSize(request)]
        answer = self.answers.get(cdb[0])
        if answer is not None and answer[3]:
            self.sent.append(cdb)
            serviceResponse.value, taskStatus.value = answer[0], answer[1]
            return True
        if len(self.in_flight) >= self.room:
            return False
        self.sent.append(cdb)
        self.in_flight.append(request)
        assert self.timer is not None
        self.timer.setTimeoutMS(1)
        return True

    def AbortSCSICommand(self, request: SCSITask) -> int:
        return scsi.kSCSIServiceResponse_FUNCTION_REJECTED

    def finish(self, sender: IOTimerEventSource) -> None:
        """On the work loop, gate held: complete everything in flight."""
        done, self.in_flight = self.in_flight, []
        for request in done:
            opcode = self.GetCommandDescriptorBlock(request)[0]
            if opcode == scsi.kSCSICmd_REQUEST_SENSE:
                buffer = self.GetDataBuffer(request)
                assert buffer is not None
                sense = bytes(SCSI_Sense_Data(scsi.kSENSE_KEY_NOT_READY, 0x3A, 0))
                buffer.writeBytes(0, sense, len(sense))
                self.SetRealizedDataTransferCount(request, len(sense))
                self.CommandCompleted(
                    request, scsi.kSCSIServiceResponse_TASK_COMPLETE, scsi.kSCSITaskStatus_GOOD
                )
                continue
            response, status, sense_data, _ = self.answers.get(
                opcode,
                (scsi.kSCSIServiceResponse_TASK_COMPLETE, scsi.kSCSITaskStatus_GOOD, None, False),
            )
            if sense_data is not None:
                request.SetAutoSenseData(sense_data)
            self.CommandCompleted(request, response, status)


@pytest.fixture
def stack(kernel: Kernel) -> Iterator[tuple[LoopProvider, FakeTransport]]:
    """A started fake transport on a provider with a work loop; torn down after."""
    provider = LoopProvider()
    provider.init()
    assert provider.attach(kernel.platform_device)
    transport = FakeTransport()
    transport.init()
    assert transport.attach(provider)
    assert transport.start(provider)
    yield provider, transport
    transport.stop(provider)
    transport.detach(provider)
    transport.release()
    provider.detach(kernel.platform_device)
    provider.release()


def run(kernel: Kernel, work: Any) -> Any:
    thread = kernel.scheduler.spawn(work, name="client")
    assert thread.join()
    return thread.result


def make_task(opcode: int, completed: list[SCSITask]) -> SCSITask:
    task = SCSITask.create()
    task.SetCommandDescriptorBlock(opcode, 0, 0, 0, 0, 0)
    task.SetTaskCompletionCallback(completed.append)
    return task


def test_tasks_the_transport_refuses_wait_and_go_in_order(
    kernel: Kernel, stack: tuple[LoopProvider, FakeTransport]
) -> None:
    """With room for one command, three tasks are sent one after another as each
    completes, in the order they were executed, and all end GOOD."""
    _, transport = stack
    completed: list[SCSITask] = []
    tasks = [make_task(opcode, completed) for opcode in (0x00, 0x12, 0x25)]

    def client() -> None:
        for task in tasks:
            transport.ExecuteCommand(task)
        assert transport.queued_task_count() == 2

    run(kernel, client)
    kernel.scheduler.run()
    assert completed == tasks
    assert transport.sent == [bytes((op, 0, 0, 0, 0, 0)) for op in (0x00, 0x12, 0x25)]
    for task in tasks:
        assert task.GetServiceResponse() == scsi.kSCSIServiceResponse_TASK_COMPLETE
        assert task.GetTaskStatus() == scsi.kSCSITaskStatus_GOOD
        assert task.GetTaskState() == scsi.kSCSITaskState_ENDED
        task.release()
    assert transport.getRetainCount() == 2  # ours and the provider's attachment


def test_an_immediate_answer_completes_the_task_at_once(
    kernel: Kernel, stack: tuple[LoopProvider, FakeTransport]
) -> None:
    """A transport that accepts a task and answers at once (not Request_In_Process)
    completes it there: its response and status, its callback, the retain given back."""
    _, transport = stack
    transport.answers[0x00] = (
        scsi.kSCSIServiceResponse_SERVICE_DELIVERY_OR_TARGET_FAILURE,
        scsi.kSCSITaskStatus_DeliveryFailure,
        None,
        True,
    )
    completed: list[SCSITask] = []
    task = make_task(0x00, completed)
    run(kernel, lambda: transport.ExecuteCommand(task))
    assert completed == [task]
    assert task.GetTaskState() == scsi.kSCSITaskState_ENDED
    assert task.GetServiceResponse() == (
        scsi.kSCSIServiceResponse_SERVICE_DELIVERY_OR_TARGET_FAILURE
    )
    assert task.GetTaskStatus() == scsi.kSCSITaskStatus_DeliveryFailure
    assert transport.getRetainCount() == 2  # ours and the provider's attachment
    task.release()


def test_check_condition_without_sense_runs_request_sense_first(
    kernel: Kernel, stack: tuple[LoopProvider, FakeTransport]
) -> None:
    """A CHECK CONDITION that came without sense, on a transport that does not always
    report it, makes the family send the task's REQUEST SENSE before completing it."""
    _, transport = stack
    transport.fRequiresAutosenseDescriptor = True
    transport.answers[0x00] = (
        scsi.kSCSIServiceResponse_TASK_COMPLETE,
        scsi.kSCSITaskStatus_CHECK_CONDITION,
        None,
        False,
    )
    completed: list[SCSITask] = []
    task = make_task(0x00, completed)
    task.SetAutosenseCommand(scsi.kSCSICmd_REQUEST_SENSE, 0, 0, 0, 18, 0)
    run(kernel, lambda: transport.ExecuteCommand(task))
    kernel.scheduler.run()
    assert completed == [task]
    assert transport.sent == [bytes(6), bytes((0x03, 0, 0, 0, 18, 0))]
    assert task.GetTaskStatus() == scsi.kSCSITaskStatus_CHECK_CONDITION
    assert sense_key_and_codes(task.GetAutoSenseData()) == (scsi.kSENSE_KEY_NOT_READY, 0x3A, 0)
    task.release()


def test_sense_that_came_with_the_completion_is_kept(
    kernel: Kernel, stack: tuple[LoopProvider, FakeTransport]
) -> None:
    """Sense the transport delivered with CHECK CONDITION reaches the client and no
    REQUEST SENSE is sent."""
    _, transport = stack
    sense = bytes(SCSI_Sense_Data(scsi.kSENSE_KEY_MEDIUM_ERROR, 0x11, 0))
    transport.answers[0x28] = (
        scsi.kSCSIServiceResponse_TASK_COMPLETE,
        scsi.kSCSITaskStatus_CHECK_CONDITION,
        sense,
        False,
    )
    completed: list[SCSITask] = []
    task = make_task(0x28, completed)
    task.SetAutosenseCommand(scsi.kSCSICmd_REQUEST_SENSE, 0, 0, 0, 18, 0)
    run(kernel, lambda: transport.ExecuteCommand(task))
    kernel.scheduler.run()
    assert completed == [task]
    assert transport.sent == [bytes((0x28, 0, 0, 0, 0, 0))]
    assert task.GetAutoSenseData() == sense
    task.release()


def test_a_removed_device_fails_queued_and_new_tasks_as_not_present(
    kernel: Kernel, stack: tuple[LoopProvider, FakeTransport]
) -> None:
    """SendNotification_DeviceRemoved completes every queued task, and any new one,
    with a delivery failure and DeviceNotPresent, without sending them."""
    _, transport = stack
    completed: list[SCSITask] = []
    tasks = [make_task(0x00, completed) for _ in range(3)]

    def client() -> None:
        for task in tasks[:2]:
            transport.ExecuteCommand(task)
        transport.SendNotification_DeviceRemoved()
        transport.ExecuteCommand(tasks[2])

    run(kernel, client)
    assert completed == [tasks[1], tasks[2]]
    kernel.scheduler.run()
    assert completed == [tasks[1], tasks[2], tasks[0]]  # in flight: rejected on completion
    for task in tasks:
        assert task.GetServiceResponse() == (
            scsi.kSCSIServiceResponse_SERVICE_DELIVERY_OR_TARGET_FAILURE
        )
        assert task.GetTaskStatus() == scsi.kSCSITaskStatus_DeviceNotPresent
        task.release()
    assert transport.sent == [bytes(6)]


def test_exclusive_access_goes_to_one_user_client_at_a_time(
    kernel: Kernel, stack: tuple[LoopProvider, FakeTransport]
) -> None:
    """Apple's exclusivity rules: a free device is taken, another client is refused,
    only the holder releases it, releasing a free device is a bad argument."""
    _, transport = stack
    first, second = IOService(), IOService()

    def client() -> list[int]:
        return [
            transport.SetUserClientExclusivityState(first, False),
            transport.SetUserClientExclusivityState(first, True),
            int(transport.GetUserClientExclusivityState()),
            transport.SetUserClientExclusivityState(second, True),
            transport.SetUserClientExclusivityState(second, False),
            transport.SetUserClientExclusivityState(first, False),
            int(transport.GetUserClientExclusivityState()),
        ]

    assert run(kernel, client) == [
        kIOReturnBadArgument,
        kIOReturnSuccess,
        1,
        kIOReturnExclusiveAccess,
        kIOReturnExclusiveAccess,
        kIOReturnSuccess,
        0,
    ]
    first.release()
    second.release()


def test_a_queued_task_can_be_taken_back_before_it_is_sent(
    kernel: Kernel, stack: tuple[LoopProvider, FakeTransport]
) -> None:
    """AbortSCSITaskFromQueue fails a task still waiting in the queue; a task the
    transport already holds is not in the queue and is left alone."""
    _, transport = stack
    completed: list[SCSITask] = []
    first, second = make_task(0x00, completed), make_task(0x12, completed)

    def client() -> tuple[bool, bool]:
        transport.ExecuteCommand(first)
        transport.ExecuteCommand(second)
        return transport.AbortSCSITaskFromQueue(second), transport.AbortSCSITaskFromQueue(first)

    assert run(kernel, client) == (True, False)
    assert completed == [second]
    assert second.GetServiceResponse() == (
        scsi.kSCSIServiceResponse_SERVICE_DELIVERY_OR_TARGET_FAILURE
    )
    kernel.scheduler.run()
    assert completed == [second, first]
    assert transport.sent == [bytes(6)]
    first.release()
    second.release()
