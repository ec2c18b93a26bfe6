"""Commands through the parallel family (spec §1.6): data by DMA, refusals, TASK SET
FULL resends, timeouts, the task pool running dry, task management, bus resets and
the protocol features a peripheral driver asks about."""

from __future__ import annotations

from typing import Any

from kextlab.families.scsi import definitions as scsi
from kextlab.families.scsi.parallel.characteristics import kMaxTaskRetryCount
from kextlab.families.scsi.peripheral_nub import IOSCSILogicalUnitNub
from kextlab.families.scsi.task import SCSITask
from kextlab.kernel.kernel import Kernel
from kextlab.kernel.memory.buffer import IOBufferMemoryDescriptor
from kextlab.kernel.memory.options import kIODirectionIn, kIODirectionOut
from kextlab.kernel.memory.refs import UInt32Ref, UInt64Ref
from kextlab.kernel.service.service import IOService
from kextlab.machine.scsi.target import SCSITarget
from kextlab.sim.time import MILLISECOND, SECOND
from kextlab.testing.umibench import RamDisk

from .soft_hba import HBAConfig, SoftHBA, logical_units, on_thread, publish_hba

READ_10, WRITE_10, TUR = 0x28, 0x2A, 0x00
BLOCK = 512


def disk_bus(**config: Any) -> tuple[HBAConfig, RamDisk]:
    disk = RamDisk("disk", 256)
    return HBAConfig(highest_id=0, targets={0: SCSITarget("t", {0: disk})}, **config), disk


def rw_task(opcode: int, lba: int, blocks: int, buffer: IOBufferMemoryDescriptor) -> SCSITask:
    task = SCSITask.create()
    task.SetCommandDescriptorBlock(
        opcode, 0, *lba.to_bytes(4, "big"), 0, *blocks.to_bytes(2, "big"), 0
    )
    task.SetDataTransferDirection(
        scsi.kSCSIDataTransfer_FromTargetToInitiator
        if opcode == READ_10
        else scsi.kSCSIDataTransfer_FromInitiatorToTarget
    )
    task.SetDataBuffer(buffer)
    task.SetRequestedDataTransferCount(blocks * BLOCK)
    task.SetTimeoutDuration(30_000)
    return task


def tur_task(timeout_ms: int = 10_000) -> SCSITask:
    task = SCSITask.create()
    task.SetCommandDescriptorBlock(TUR, 0, 0, 0, 0, 0)
    task.SetTimeoutDuration(timeout_ms)
    return task


def lun0(kernel: Kernel) -> IOSCSILogicalUnitNub:
    return logical_units(kernel)[(0, 0)]


def test_data_moves_both_ways_by_dma(kernel: Kernel) -> None:
    """WRITE(10) then READ(10) through the LUN nub: the bytes land on the disk model and
    come back, the realized counts are the transfer lengths, no DMA stays prepared."""
    config, disk = disk_bus()
    publish_hba(kernel, config)
    nub = lun0(kernel)
    out = IOBufferMemoryDescriptor.withCapacity(4 * BLOCK, kIODirectionOut)
    into = IOBufferMemoryDescriptor.withCapacity(4 * BLOCK, kIODirectionIn)
    assert out is not None
    assert into is not None
    payload = bytes((index * 7) & 0xFF for index in range(4 * BLOCK))
    out.getBytesNoCopy()[:] = payload
    write, read = rw_task(WRITE_10, 10, 4, out), rw_task(READ_10, 10, 4, into)

    def client() -> tuple[int, int]:
        return nub.SendTask(write), nub.SendTask(read)

    assert on_thread(kernel, client) == (scsi.kSCSIServiceResponse_TASK_COMPLETE,) * 2
    assert disk.data[10 * BLOCK : 14 * BLOCK] == payload
    assert bytes(into.getBytesNoCopy()) == payload
    assert read.GetRealizedDataTransferCount() == 4 * BLOCK
    assert write.GetTaskStatus() == scsi.kSCSITaskStatus_GOOD
    for item in (write, read, out, into):
        item.release()


def test_sense_from_the_hba_reaches_the_client(kernel: Kernel) -> None:
    """A READ past the end is CHECK CONDITION with the sense the HBA set before
    completing (ILLEGAL REQUEST, LBA out of range)."""
    config, _ = disk_bus()
    publish_hba(kernel, config)
    into = IOBufferMemoryDescriptor.withCapacity(BLOCK, kIODirectionIn)
    assert into is not None
    task = rw_task(READ_10, 10_000, 1, into)
    on_thread(kernel, lambda: lun0(kernel).SendTask(task))
    assert task.GetTaskStatus() == scsi.kSCSITaskStatus_CHECK_CONDITION
    assert scsi.sense_key_and_codes(task.GetAutoSenseData()) == (
        scsi.kSENSE_KEY_ILLEGAL_REQUEST,
        0x21,
        0x00,
    )
    task.release()
    into.release()


def test_a_synchronous_refusal_becomes_a_delivery_failure(kernel: Kernel) -> None:
    """ProcessParallelTask answering anything but Request_In_Process fails the task
    with SERVICE_DELIVERY_OR_TARGET_FAILURE, and its parallel task goes back."""
    config, _ = disk_bus(task_count=1)
    hba = publish_hba(kernel, config)
    config.refuse_opcodes.add(TUR)
    task = tur_task()
    response = on_thread(kernel, lambda: lun0(kernel).SendTask(task))
    assert response == scsi.kSCSIServiceResponse_SERVICE_DELIVERY_OR_TARGET_FAILURE
    assert task.GetTaskStatus() == scsi.kSCSITaskStatus_No_Status
    spare = hba.GetSCSIParallelTask(False)
    assert spare is not None  # the only parallel task is free again
    hba.FreeSCSIParallelTask(spare)
    task.release()


def test_task_set_full_is_resent_until_the_hba_takes_it(kernel: Kernel) -> None:
    """TASK SET FULL twice: the nub resends (after its resend delay when nothing else
    completes) and the client sees only the final GOOD."""
    config, _ = disk_bus()
    publish_hba(kernel, config)
    config.task_set_full[TUR] = 2
    config.commands.clear()
    task = tur_task()
    started = kernel.scheduler.now
    on_thread(kernel, lambda: lun0(kernel).SendTask(task))
    assert task.GetServiceResponse() == scsi.kSCSIServiceResponse_TASK_COMPLETE
    assert task.GetTaskStatus() == scsi.kSCSITaskStatus_GOOD
    assert [cdb[0] for _, _, cdb in config.commands] == [TUR, TUR, TUR]
    assert kernel.scheduler.now - started >= 20 * SECOND
    task.release()


def test_a_resend_goes_out_when_another_task_completes(kernel: Kernel) -> None:
    """A task parked after TASK SET FULL is resent as soon as another task of the
    target completes, long before the resend delay."""
    config, _ = disk_bus()
    publish_hba(kernel, config)
    config.task_set_full[TUR] = 1
    first, second = tur_task(), SCSITask.create()
    second.SetCommandDescriptorBlock(0x12, 0, 0, 0, 0, 0)  # INQUIRY of 0 bytes: no data
    done: list[SCSITask] = []
    finished: list[int] = []

    def completed(task: SCSITask) -> None:
        done.append(task)
        finished.append(kernel.scheduler.now)

    for task in (first, second):
        task.SetTaskCompletionCallback(completed)
    started = kernel.scheduler.now

    def client() -> None:
        lun0(kernel).ExecuteCommand(first)
        lun0(kernel).ExecuteCommand(second)

    on_thread(kernel, client)
    kernel.scheduler.run()
    assert done == [second, first]
    assert first.GetTaskStatus() == scsi.kSCSITaskStatus_GOOD
    assert finished[-1] - started < SECOND
    first.release()
    second.release()


def test_task_set_full_too_often_ends_busy(kernel: Kernel) -> None:
    """After kMaxTaskRetryCount resends a task that is still TASK SET FULL completes
    with TASK_COMPLETE and BUSY."""
    config, _ = disk_bus()
    publish_hba(kernel, config)
    config.task_set_full[TUR] = kMaxTaskRetryCount + 5
    task = tur_task()
    on_thread(kernel, lambda: lun0(kernel).SendTask(task))
    assert task.GetServiceResponse() == scsi.kSCSIServiceResponse_TASK_COMPLETE
    assert task.GetTaskStatus() == scsi.kSCSITaskStatus_BUSY
    task.release()


def test_a_command_that_never_completes_times_out(kernel: Kernel) -> None:
    """The HBA arms the timeout with SetTimeoutForTask; at expiry the default
    HandleTimeout completes the DMA and fails the task with TaskTimeoutOccurred."""
    config, _ = disk_bus()
    hba = publish_hba(kernel, config)
    config.hang_opcodes.add(READ_10)
    into = IOBufferMemoryDescriptor.withCapacity(BLOCK, kIODirectionIn)
    assert into is not None
    task = rw_task(READ_10, 0, 1, into)
    task.SetTimeoutDuration(2_000)
    started = kernel.scheduler.now
    on_thread(kernel, lambda: lun0(kernel).SendTask(task))
    elapsed = kernel.scheduler.now - started
    assert 2_000 * MILLISECOND <= elapsed < 2_100 * MILLISECOND
    assert task.GetServiceResponse() == (
        scsi.kSCSIServiceResponse_SERVICE_DELIVERY_OR_TARGET_FAILURE
    )
    assert task.GetTaskStatus() == scsi.kSCSITaskStatus_TaskTimeoutOccurred
    assert "HandleTimeout" in config.calls
    timer = hba.GetTimer()
    assert timer is not None
    assert timer.pending_task_count() == 0
    task.release()
    into.release()


def test_completed_tasks_leave_the_timeout_list(kernel: Kernel) -> None:
    """A task that completes in time is taken off the list; nothing times out."""
    config, _ = disk_bus()
    hba = publish_hba(kernel, config)
    task = tur_task(timeout_ms=1_000)
    on_thread(kernel, lambda: lun0(kernel).SendTask(task))
    kernel.scheduler.run()
    timer = hba.GetTimer()
    assert timer is not None
    assert timer.pending_task_count() == 0
    assert "HandleTimeout" not in config.calls
    task.release()


def test_clients_wait_for_a_parallel_task_when_the_pool_is_empty(kernel: Kernel) -> None:
    """Six clients on a pool of two: the ones that find it empty wait, and every
    command completes GOOD."""
    config, _ = disk_bus(task_count=2)
    publish_hba(kernel, config)
    results: list[int] = []

    def client() -> None:
        task = tur_task()
        results.append(lun0(kernel).SendTask(task))
        task.release()

    threads = [kernel.scheduler.spawn(client, name=f"client {n}") for n in range(6)]
    for thread in threads:
        assert thread.join()
    assert results == [scsi.kSCSIServiceResponse_TASK_COMPLETE] * 6


def test_a_reset_the_hba_finishes_later_is_waited_for(kernel: Kernel) -> None:
    """LogicalUnitReset answered Request_In_Process: the requester waits for the HBA's
    CompleteLogicalUnitReset and gets its response."""
    config, _ = disk_bus(reset_in_process=True)
    publish_hba(kernel, config)
    response = on_thread(kernel, lambda: lun0(kernel).LogicalUnitReset(0))
    assert response == scsi.kSCSIServiceResponse_FUNCTION_COMPLETE
    assert "LogicalUnitResetRequest(0,0)" in config.calls
    config.reset_response = scsi.kSCSIServiceResponse_FUNCTION_REJECTED
    assert on_thread(kernel, lambda: lun0(kernel).LogicalUnitReset(0)) == (
        scsi.kSCSIServiceResponse_FUNCTION_REJECTED
    )


class Listener(IOService):
    """A stand-in peripheral driver that records its provider's messages."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[int] = []

    def message(self, type: int, provider: IOService, argument: object = None) -> int:
        self.messages.append(type)
        return 0


def test_a_bus_reset_reaches_the_logical_units_clients(kernel: Kernel) -> None:
    """NotifyClientsOfBusReset: the target nub tells its clients to verify the device
    state, down to the logical unit's driver."""
    config, _ = disk_bus()
    hba = publish_hba(kernel, config)
    listener = Listener()
    nub = lun0(kernel)
    assert listener.attach(nub)
    hba.NotifyClientsOfBusReset()
    assert listener.messages == [scsi.kSCSIProtocolNotification_VerifyDeviceState]
    listener.detach(nub)
    listener.release()


def test_protocol_features_answer_from_the_controller(kernel: Kernel) -> None:
    """The highest LUN comes from ReportHBAHighestLogicalUnitNumber, transfer limits
    from the controller's properties (absent: unsupported), autosense from the HBA."""
    config, _ = disk_bus(highest_lun=31)
    hba: SoftHBA = publish_hba(kernel, config)
    nub = lun0(kernel)
    luns = UInt32Ref()
    assert nub.IsProtocolServiceSupported(
        scsi.kSCSIProtocolFeature_GetMaximumLogicalUnitNumber, luns
    )
    assert luns.value == 31
    limit = UInt64Ref()
    assert not nub.IsProtocolServiceSupported(
        scsi.kSCSIProtocolFeature_MaximumReadBlockTransferCount, limit
    )
    hba.setProperty(scsi.kIOMaximumBlockCountReadKey, 2048, 64)
    hba.setProperty(scsi.kIOMaximumByteCountWriteKey, 1 << 20, 64)
    assert nub.IsProtocolServiceSupported(
        scsi.kSCSIProtocolFeature_MaximumReadBlockTransferCount, limit
    )
    assert limit.value == 2048
    assert nub.IsProtocolServiceSupported(
        scsi.kSCSIProtocolFeature_MaximumWriteTransferByteCount, limit
    )
    assert limit.value == 1 << 20
    assert nub.IsProtocolServiceSupported(
        scsi.kSCSIProtocolFeature_ProtocolAlwaysReportsAutosenseData
    )
    assert not nub.IsProtocolServiceSupported(scsi.kSCSIProtocolFeature_HierarchicalLogicalUnits)


def test_outstanding_tasks_are_found_by_address_and_controller_identifier(kernel: Kernel) -> None:
    """FindTaskForAddress (T, L, Q) and FindTaskForControllerIdentifier find a task the
    HBA holds (identifier 0: the oldest); none once it has completed."""
    config, _ = disk_bus()
    hba = publish_hba(kernel, config)
    config.hang_opcodes.add(TUR)
    task = tur_task(timeout_ms=500)
    task.SetTaggedTaskIdentifier(9)
    on_thread(kernel, lambda: lun0(kernel).ExecuteCommand(task))
    held = hba.FindTaskForAddress(0, 0, 9)
    assert held is not None
    assert hba.GetSCSITaskIdentifier(held) is task
    assert hba.GetTaggedTaskIdentifier(held) == 9
    hba.SetControllerTaskIdentifier(held, 0x1234)
    assert hba.FindTaskForControllerIdentifier(0, 0x1234) is held
    assert hba.FindTaskForControllerIdentifier(0, 0) is held
    assert hba.FindTaskForAddress(0, 0, 8) is None
    assert hba.FindTaskForAddress(5, 0, 9) is None
    kernel.scheduler.run()  # the timeout ends it
    assert hba.FindTaskForAddress(0, 0, 9) is None
    assert task.GetTaskStatus() == scsi.kSCSITaskStatus_TaskTimeoutOccurred
    task.release()


def test_the_default_dma_specification_is_apples(kernel: Kernel) -> None:
    """IOSCSIParallelInterfaceController's InitializeDMASpecification: 32 address bits,
    page-sized segments, 1 MiB transfers, 4-byte alignment."""
    from kextlab.families.scsi.parallel.controller import IOSCSIParallelInterfaceController
    from kextlab.kernel.memory.dma_command import IODMACommand

    config, _ = disk_bus()
    hba = publish_hba(kernel, config)
    command = IODMACommand()
    assert IOSCSIParallelInterfaceController.InitializeDMASpecification(hba, command)
    assert command.getNumAddressBits() == 32
    assert command.fMaxSegmentSize == 4096
    assert command.fMaxTransferSize == 1 << 20
    assert command.getAlignment() == 4
    command.release()


def test_suspended_services_refuse_commands_until_resumed(kernel: Kernel) -> None:
    """SuspendServices stops ExecuteParallelTask from reaching the HBA (a delivery
    failure); ResumeServices lets commands through again."""
    config, _ = disk_bus()
    hba = publish_hba(kernel, config)
    hba.SuspendServices()
    task = tur_task()
    assert on_thread(kernel, lambda: lun0(kernel).SendTask(task)) == (
        scsi.kSCSIServiceResponse_SERVICE_DELIVERY_OR_TARGET_FAILURE
    )
    hba.ResumeServices()
    task.ResetForNewTask()
    task.SetCommandDescriptorBlock(TUR, 0, 0, 0, 0, 0)
    assert on_thread(kernel, lambda: lun0(kernel).SendTask(task)) == (
        scsi.kSCSIServiceResponse_TASK_COMPLETE
    )
    task.release()
