"""IOSCSIParallelInterfaceController's lifecycle (spec §1.1): the order of the
subclass calls, the pool, the published properties, and teardown."""

from __future__ import annotations

from kextlab.families.scsi import definitions as scsi
from kextlab.families.scsi.parallel.characteristics import (
    kIOMinimumHBADataAlignmentMaskKey,
    kIOPropertyControllerCharacteristicsKey,
    kIOPropertySCSIInitiatorManagesTargets,
)
from kextlab.families.scsi.parallel.interface_device import IOSCSIParallelInterfaceDevice
from kextlab.families.scsi.parallel.parallel_task import SCSIParallelTask
from kextlab.kernel.kernel import Kernel
from kextlab.kernel.libkern.convert import to_user
from kextlab.kernel.service.service import kIOServiceSynchronous
from kextlab.machine.scsi.target import SCSITarget
from kextlab.testing.umibench import RamDisk

from .soft_hba import HBAConfig, publish_hba, services_of


def disk_target(name: str = "disk", blocks: int = 2048) -> SCSITarget:
    return SCSITarget(name, {0: RamDisk(name, blocks)})


def test_start_calls_the_subclass_in_apples_order(kernel: Kernel) -> None:
    """InitializeController comes first, then the reports, the constraints and DMA
    specification, StartController, device management, the targets and registration."""
    config = HBAConfig(highest_id=1, initiator=7)
    publish_hba(kernel, config)
    order = [call for call in config.calls if not call.startswith("InitializeTargetForID")]
    assert order == [
        "CreateDeviceInterrupt",
        "InitializeController",
        "ReportInitiatorIdentifier",
        "ReportHighestSupportedDeviceID",
        "ReportMaximumTaskCount",
        "ReportHBASpecificTaskDataSize",
        "ReportHBAConstraints",
        "InitializeDMASpecification",
        "StartController",
        "DoesHBAPerformDeviceManagement",
        "registerService",
    ]
    assert config.calls.index("InitializeTargetForID(0)") > config.calls.index(
        "DoesHBAPerformDeviceManagement"
    )


def test_the_pool_holds_report_maximum_task_count_tasks(kernel: Kernel) -> None:
    """AllocateSCSIParallelTasks makes ReportMaximumTaskCount tasks, each with its HBA
    data and DMA specification, and publishes IOCommandPoolSize."""
    hba = publish_hba(kernel, HBAConfig(task_count=5, highest_id=0, task_data_size=48))
    assert to_user(hba.getProperty(scsi.kIOCommandPoolSizeKey)) == 5
    taken = [hba.GetSCSIParallelTask(False) for _ in range(6)]
    assert taken[5] is None
    tasks = [task for task in taken if task is not None]
    assert len(tasks) == 5
    for task in tasks:
        assert isinstance(task, SCSIParallelTask)
        data = hba.GetHBADataPointer(task)
        assert data is not None
        assert len(data) == 48
        assert not data.readonly
        assert hba.GetDMACommand(task) is task
        assert task.getNumAddressBits() == 64
        descriptor = hba.GetHBADataDescriptor(task)
        assert descriptor is not None
        assert descriptor.getPhysicalAddress() < 1 << 32  # within the default mask
    for task in tasks:
        hba.FreeSCSIParallelTask(task)


def test_constraints_and_identities_become_controller_properties(kernel: Kernel) -> None:
    """ReportHBAConstraints keys are copied onto the controller (Apple's defaults plus
    the HBA's), with the initiator ID and 'Manages Targets'."""
    hba = publish_hba(
        kernel,
        HBAConfig(
            highest_id=0,
            initiator=7,
            constraints={
                scsi.kIOMaximumSegmentCountReadKey: 128,
                scsi.kIOMaximumSegmentByteCountWriteKey: 65536,
                scsi.kIOMaximumSegmentAddressableBitCountKey: 64,
            },
        ),
    )
    assert to_user(hba.getProperty(scsi.kIOMaximumSegmentCountReadKey)) == 128
    assert to_user(hba.getProperty(scsi.kIOMaximumSegmentByteCountWriteKey)) == 65536
    assert to_user(hba.getProperty(scsi.kIOMaximumSegmentAddressableBitCountKey)) == 64
    assert to_user(hba.getProperty(scsi.kIOMinimumSegmentAlignmentByteCountKey)) == 4
    assert hba.getProperty(kIOMinimumHBADataAlignmentMaskKey) is None  # used, not copied
    assert to_user(hba.getProperty(scsi.kIOPropertySCSIInitiatorIdentifierKey)) == 7
    assert to_user(hba.getProperty(kIOPropertySCSIInitiatorManagesTargets)) is False
    protocol = to_user(hba.getProperty(scsi.kIOPropertyProtocolCharacteristicsKey))
    assert protocol["Physical Interconnect"] == "SCSI Parallel Interface"
    assert protocol["Physical Interconnect Location"] == "Internal/External"
    assert protocol["SCSI Domain Identifier"] == hba.GetSCSIDomainIdentifier()


def test_the_initiator_id_gets_no_target(kernel: Kernel) -> None:
    """CreateTargetForID skips the HBA's own ID: every other ID gets a nub."""
    config = HBAConfig(highest_id=3, initiator=2)
    hba = publish_hba(kernel, config)
    ids = sorted(
        device.GetTargetIdentifier()
        for device in services_of(kernel, IOSCSIParallelInterfaceDevice)
    )
    assert ids == [0, 1, 3]
    assert "InitializeTargetForID(2)" not in config.calls
    assert hba.GetTargetForID(2) is None
    assert not hba.CreateTargetForID(2)


def test_a_target_the_hba_refuses_is_not_made(kernel: Kernel) -> None:
    """InitializeTargetForID false aborts the creation of that target's nub."""
    hba = publish_hba(kernel, HBAConfig(highest_id=2, refuse_target_ids={1}))
    assert hba.GetTargetForID(1) is None
    assert hba.GetTargetForID(0) is not None
    ids = sorted(
        d.GetTargetIdentifier() for d in services_of(kernel, IOSCSIParallelInterfaceDevice)
    )
    assert ids == [0, 2]


def test_teardown_stops_then_terminates_the_controller_once(kernel: Kernel) -> None:
    """Terminating the HBA runs StopController, then TerminateController once, after
    its targets are gone; nothing of the family is left."""
    config = HBAConfig(highest_id=1, targets={0: disk_target()})
    hba = publish_hba(kernel, config)
    nub = hba.getProvider()
    assert nub is not None
    assert hba.terminate(kIOServiceSynchronous)
    kernel.scheduler.run()
    tail = config.calls[config.calls.index("registerService") + 1 :]
    assert tail == ["StopController", "TerminateController"]
    assert services_of(kernel, IOSCSIParallelInterfaceDevice) == []
    nub.detach(kernel.platform_device)


def test_hba_properties_go_into_controller_characteristics(kernel: Kernel) -> None:
    """SetHBAProperty takes Apple's keys (OSData keys at their exact size) into
    Controller Characteristics; other keys are refused; RemoveHBAProperty removes."""
    hba = publish_hba(kernel, HBAConfig(highest_id=0))
    assert hba.SetHBAProperty(scsi.kIOPropertyVendorNameKey, "KEXTLAB")
    assert hba.SetHBAProperty(scsi.kIOPropertySASAddressKey, b"\x50\x00\xc5\x00\x12\x34\x56\x78")
    assert not hba.SetHBAProperty(scsi.kIOPropertySASAddressKey, b"\x01\x02")
    assert not hba.SetHBAProperty("Colour", "blue")
    characteristics = to_user(hba.getProperty(kIOPropertyControllerCharacteristicsKey))
    assert characteristics["Vendor Name"] == "KEXTLAB"
    assert characteristics["SCSI Port Identifier"] == b"\x50\x00\xc5\x00\x12\x34\x56\x78"
    hba.RemoveHBAProperty(scsi.kIOPropertyVendorNameKey)
    characteristics = to_user(hba.getProperty(kIOPropertyControllerCharacteristicsKey))
    assert "Vendor Name" not in characteristics
    hba.NotifyClientsOfPortStatusChange(scsi.kSCSIPort_StatusOffline)
    characteristics = to_user(hba.getProperty(kIOPropertyControllerCharacteristicsKey))
    assert characteristics["Port Status"] == "No Link Established"


def test_a_waiter_for_a_parallel_task_gets_the_next_one_back_or_none_at_close(
    kernel: Kernel,
) -> None:
    """A blocking GetSCSIParallelTask waits for a task to come back; when the pool is
    deallocated instead, the waiter gets None and nothing is lost."""
    hba = publish_hba(kernel, HBAConfig(highest_id=0, task_count=2))
    held = [hba.GetSCSIParallelTask(False), hba.GetSCSIParallelTask(False)]
    assert None not in held
    got: list[object] = []
    waiter = kernel.scheduler.spawn(lambda: got.append(hba.GetSCSIParallelTask(True)), name="w")
    kernel.scheduler.run()
    assert got == []
    first = held.pop()
    assert first is not None
    hba.FreeSCSIParallelTask(first)
    assert waiter.join()
    assert got == [first]
    second = kernel.scheduler.spawn(lambda: got.append(hba.GetSCSIParallelTask(True)), name="w2")
    kernel.scheduler.run()
    hba.DeallocateSCSIParallelTasks()
    assert second.join()
    assert got[-1] is None
    for task in (first, held[0]):
        assert isinstance(task, SCSIParallelTask)
        hba.FreeSCSIParallelTask(task)  # no pool any more: released
