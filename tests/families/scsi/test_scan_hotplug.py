"""Targets an HBA manages itself (``DoesHBAPerformDeviceManagement`` true): created
and destroyed while I/O runs elsewhere, created from the work loop, destroyed with
commands queued and in flight."""

from __future__ import annotations

from kextlab.families.scsi import definitions as scsi
from kextlab.families.scsi.parallel.characteristics import kIOPropertySCSIInitiatorManagesTargets
from kextlab.families.scsi.parallel.interface_device import IOSCSIParallelInterfaceDevice
from kextlab.families.scsi.target_device import IOSCSITargetDevice
from kextlab.families.scsi.task import SCSITask
from kextlab.kernel.clock import IOSleep
from kextlab.kernel.kernel import Kernel
from kextlab.kernel.libkern.collections import OSDictionary
from kextlab.kernel.libkern.convert import from_python, to_user
from kextlab.machine.scsi.target import SCSITarget
from kextlab.sim.time import MILLISECOND
from kextlab.testing.umibench import RamDisk

from .soft_hba import HBAConfig, logical_units, on_thread, publish_hba, services_of

TUR = 0x00


def tur_task() -> SCSITask:
    task = SCSITask.create()
    task.SetCommandDescriptorBlock(TUR, 0, 0, 0, 0, 0)
    task.SetTimeoutDuration(10_000)
    return task


def managed_bus(**config: object) -> HBAConfig:
    targets = {
        0: SCSITarget("zero", {0: RamDisk("zero", 64)}),
        1: SCSITarget("one", {0: RamDisk("one", 64)}),
    }
    return HBAConfig(highest_id=3, manages_devices=True, targets=targets, **config)  # type: ignore[arg-type]


def test_a_managing_hba_starts_without_targets(kernel: Kernel) -> None:
    """No target is created by the family; 'Manages Targets' is true; the HBA's own
    CreateTargetForID scans the new target."""
    config = managed_bus()
    hba = publish_hba(kernel, config)
    assert to_user(hba.getProperty(kIOPropertySCSIInitiatorManagesTargets)) is True
    assert services_of(kernel, IOSCSIParallelInterfaceDevice) == []
    assert config.commands == []
    assert on_thread(kernel, lambda: hba.CreateTargetForID(0))
    kernel.scheduler.run()  # let the new nubs' matching finish
    assert sorted(logical_units(kernel)) == [(0, 0)]
    assert not on_thread(kernel, lambda: hba.CreateTargetForID(0))  # already there


def test_targets_come_and_go_while_io_runs_elsewhere(kernel: Kernel) -> None:
    """A client keeps issuing commands to target 0 while target 1 is created and
    destroyed: every command succeeds, and target 1's nubs appear and leave."""
    config = managed_bus(latency_ns=200_000)
    hba = publish_hba(kernel, config)
    on_thread(kernel, lambda: hba.CreateTargetForID(0))
    nub = logical_units(kernel)[(0, 0)]
    responses: list[int] = []
    seen: list[list[tuple[int, int]]] = []

    def io() -> None:
        for _ in range(40):
            task = tur_task()
            responses.append(nub.SendTask(task))
            task.release()

    def plug() -> None:
        IOSleep(1)
        assert hba.CreateTargetForID(1)
        seen.append(sorted(logical_units(kernel)))
        IOSleep(1)
        hba.DestroyTargetForID(1)

    threads = [kernel.scheduler.spawn(io, name="io"), kernel.scheduler.spawn(plug, name="plug")]
    for thread in threads:
        assert thread.join()
    kernel.scheduler.run()
    assert responses == [scsi.kSCSIServiceResponse_TASK_COMPLETE] * 40
    assert seen == [[(0, 0), (1, 0)]]
    assert sorted(logical_units(kernel)) == [(0, 0)]
    remaining = [
        d.GetTargetIdentifier() for d in services_of(kernel, IOSCSIParallelInterfaceDevice)
    ]
    assert remaining == [0]
    assert hba.GetTargetForID(1) is None


def test_a_target_created_on_the_work_loop_is_scanned_on_its_own_thread(kernel: Kernel) -> None:
    """CreateTargetForID from HandleInterruptRequest (the work loop's thread, which
    the scan's commands need) scans on a kernel thread of its own."""
    config = managed_bus()
    hba = publish_hba(kernel, config)
    hba.interrupt_soon(lambda: hba.CreateTargetForID(1))
    kernel.scheduler.run()
    assert sorted(logical_units(kernel)) == [(1, 0)]
    assert len(services_of(kernel, IOSCSITargetDevice)) == 1


def test_a_destroyed_target_fails_its_commands_without_hanging(kernel: Kernel) -> None:
    """Destroying a target with one command at the HBA, one waiting for a parallel task
    and one queued: all three complete, as delivery failures with DeviceNotPresent."""
    config = managed_bus(task_count=1, latency_ns=5 * MILLISECOND)
    hba = publish_hba(kernel, config)
    on_thread(kernel, lambda: hba.CreateTargetForID(0))
    kernel.scheduler.run()  # let the new nubs' matching finish before unplugging
    nub = logical_units(kernel)[(0, 0)]
    tasks = [tur_task() for _ in range(3)]
    done: list[SCSITask] = []
    for task in tasks:
        task.SetTaskCompletionCallback(done.append)
    threads = [
        kernel.scheduler.spawn(lambda task=task: nub.ExecuteCommand(task), name=f"client {n}")
        for n, task in enumerate(tasks)
    ]
    kernel.scheduler.run(kernel.scheduler.now + MILLISECOND)
    assert done == []
    on_thread(kernel, lambda: hba.DestroyTargetForID(0))
    for thread in threads:
        assert thread.join()
    kernel.scheduler.run()
    assert sorted(done, key=tasks.index) == tasks
    for task in tasks:
        assert task.GetServiceResponse() == (
            scsi.kSCSIServiceResponse_SERVICE_DELIVERY_OR_TARGET_FAILURE
        )
        assert task.GetTaskStatus() == scsi.kSCSITaskStatus_DeviceNotPresent
        task.release()
    assert services_of(kernel, IOSCSIParallelInterfaceDevice) == []
    assert logical_units(kernel) == {}


def test_a_target_created_with_a_sas_address_is_named_by_it(kernel: Kernel) -> None:
    """CreateTargetForID(id, properties): the SAS address goes into the nub's
    Protocol Characteristics (also as its port identifier) and names the nub; the
    HBA's per-target data is there to use."""
    config = managed_bus()
    hba = publish_hba(kernel, config)
    address = bytes.fromhex("5000c50012345678")
    properties = from_python({scsi.kIOPropertySASAddressKey: address})
    assert isinstance(properties, OSDictionary)
    assert on_thread(kernel, lambda: hba.CreateTargetForID(1, properties))
    properties.release()
    kernel.scheduler.run()
    device = hba.GetTargetForID(1)
    assert device is not None
    assert device.getName() == "SAS Target 5000C50012345678"
    protocol = to_user(device.getProperty(scsi.kIOPropertyProtocolCharacteristicsKey))
    assert protocol["SAS Address"] == address
    assert protocol["SCSI Port Identifier"] == address
    assert protocol["SCSI Target Identifier"] == 1
    assert not hba.SetTargetProperty(1, scsi.kIOPropertySASAddressKey, b"short")
    data = hba.GetHBATargetDataPointer(1)
    assert data is not None
    assert len(data) == hba.GetHBATargetDataSize(1) == config.device_data_size
