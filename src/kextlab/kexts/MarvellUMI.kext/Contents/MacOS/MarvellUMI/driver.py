"""MarvellUMI: the Marvell UMI (88SE9143 / 88SE9580) HBA driver, an
``IOSCSIParallelInterfaceController``.

Seed 000 made real: Linux ``drivers/scsi/mvumi.c`` ported to I/O Kit along the
seed's mapping table (``driver_init``/``driver_probe_one`` -> ``InitializeController``
/ ``StartController``, ``driver_exit``/``driver_detach_one`` -> ``StopController``
/ ``TerminateController``, ``(struct Scsi_Host *)->unique_id`` ->
``ReportInitiatorIdentifier`` ...), against the contract of ``shared/spec/scsi.md``
§1 and the hardware of §2.  The family class it subclasses is
``kextlab.families.scsi.parallel.controller``, Apple's
``IOSCSIParallelInterfaceController.h``/``.cpp`` (IOSCSIParallelFamily).

This module is the driver's lifecycle and what it tells the family; it hands the
command path (``ProcessParallelTask``, the interrupt, ``HandleTimeout``) to its
``CommandPath`` (``command_path.py``) and the scans, events and resets to its
management thread (``device_management.py``).

Design
------
*Bring-up* (``InitializeController``, on the family's start thread): read which
chip it is, map its register BAR (``mapDeviceMemoryWithRegister``), enable memory
decoding and bus mastering, allocate the handshake page and a buffer for the
driver's own commands, and run the handshake (``handshake.py``), which allocates the
lists when page 1 arrives (``lists.py``).  Every ``Report*`` answer comes from page
1: ``max_devices_support`` target IDs (the initiator's own ID is
``max_devices_support``, no target's), ``max_io - 1`` tasks (Linux's
``can_queue``: one tag stays free for the driver's own commands), LUN 0 only,
``sg_tablesize`` segments and ``max_transfer_size`` bytes for
``ReportHBAConstraints``, ``InitializeDMASpecification`` and the
``IOMaximumByteCount``/``BlockCount`` properties.  A failed bring-up releases
what it took (the family calls ``TerminateController`` only after a success).

*Start*: ``StartController`` unmasks the chip's causes and starts the management
thread (``device_management.py``), whose first job is the scan that creates the
targets (``DoesHBAPerformDeviceManagement`` is true: the family creates none).

*Stop* (power-safe): ``willTerminate`` first ends the management thread, so that no
scan creates a target while the family destroys them (a scan in progress finishes
its current target first); ``StopController`` waits until the firmware has answered
every command it holds (writes reach the disks), flushes each present target's
cache (``E1 01 0B``), masks the chip's causes and fails whatever is left;
``TerminateController`` gives back memory, the mapping and bus mastering.

*Per-target data*: none (``ReportHBASpecificDeviceDataSize`` is 0).  Linux keeps a
bitmap of present IDs, which here is ``present``; its per-device "wwid" is not kept
(see ``device_management.py``).

*Power management*: kextlab has no ``PMinit``/``joinPMtree``/``registerPowerDriver``
yet, so there is no ``setPowerState``/``systemWillShutdown``; ``StopController``
is the power-safe path they would share.

*Task management*: mvumi has no abort, device, target or bus reset; every request
is ``FUNCTION_REJECTED`` (a controller reset would reset every target, which is not
what any of them asks).

Threading rules: the lifecycle methods on the family's start/stop threads (they
may block); the ``Report*`` methods wherever the family asks (they only read page
1); the command path and the thread say theirs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from kextlab.families.pci.device import IOPCIDevice
from kextlab.families.scsi.definitions import (
    kIOMaximumBlockCountReadKey,
    kIOMaximumBlockCountWriteKey,
    kIOMaximumByteCountReadKey,
    kIOMaximumByteCountWriteKey,
    kIOMaximumSegmentAddressableBitCountKey,
    kIOMaximumSegmentByteCountReadKey,
    kIOMaximumSegmentByteCountWriteKey,
    kIOMaximumSegmentCountReadKey,
    kIOMaximumSegmentCountWriteKey,
    kIOMinimumSegmentAlignmentByteCountKey,
    kIOPropertyProductNameKey,
    kIOPropertyProductRevisionLevelKey,
    kIOPropertyVendorNameKey,
    kSCSIServiceResponse_FUNCTION_REJECTED,
    kSCSIServiceResponse_SERVICE_DELIVERY_OR_TARGET_FAILURE,
)
from kextlab.families.scsi.parallel.characteristics import kIOMinimumHBADataAlignmentMaskKey
from kextlab.families.scsi.parallel.controller import IOSCSIParallelInterfaceController
from kextlab.kernel.ioreturn import kIOReturnSuccess
from kextlab.kernel.libkern.collections import OSDictionary
from kextlab.kernel.libkern.convert import from_python
from kextlab.kernel.libkern.object import OSDynamicCast, OSSerializer
from kextlab.kernel.libkern.values import OSNumber
from kextlab.kernel.log import IOLog
from kextlab.kernel.memory.dma_command import IODMACommand

from . import registers as mv
from .command_path import TASK_DATA, CommandPath, InternalCommand
from .device_management import DeviceManagement
from .frames import OutputMarvellSGL
from .handshake import FirmwareCapabilities, Handshake, ListLayout
from .lists import CommunicationLists, dma_buffer, physical_address

if TYPE_CHECKING:
    from kextlab.families.scsi.parallel.parallel_task import SCSIParallelTask
    from kextlab.kernel.memory.buffer import IOBufferMemoryDescriptor
    from kextlab.kernel.memory.device_memory import IOMemoryMap
    from kextlab.kernel.service.service import IOService

#: ``IOPCIDevice.h``: the Device ID register.
kIOPCIConfigDeviceID: Final = 0x02

#: The minimum segment alignment (Linux's SCSI default DMA alignment is 4 bytes).
SEGMENT_ALIGNMENT: Final = 4
#: HBA data need no alignment beyond the family's default (the chip never reads
#: them), and may be anywhere in a 64-bit space.
HBA_DATA_ALIGNMENT_MASK: Final = 0xFFFF_FFFF_FFFF_FFF0
#: The buffer of the driver's own commands: INQUIRY and the event list come in here.
INTERNAL_BUFFER_SIZE: Final = 4096
FLUSH_TIMEOUT_MS: Final = 30_000
#: How long the stop waits for the firmware to answer the commands it holds.
DRAIN_TIMEOUT_MS: Final = 30_000
FLUSH_CDB: Final = bytes(
    [mv.SCSI_CMD_MARVELL_SPECIFIC, mv.CDB_CORE_MODULE, mv.CDB_CORE_SHUTDOWN]
) + bytes(13)
#: The properties the statistics and page 1 are published under.
STATISTICS_KEY: Final = "Statistics"
FIRMWARE_KEY: Final = "Marvell UMI Firmware"


class MarvellUMI(IOSCSIParallelInterfaceController):
    """The Marvell UMI HBA."""

    def __init__(self) -> None:
        super().__init__()
        self.pci: IOPCIDevice | None = None
        self.chip: mv.Chip = mv.MV9143
        self.registers: IOMemoryMap | None = None
        self.handshake_page: IOBufferMemoryDescriptor | None = None
        self.internal_buffer: IOBufferMemoryDescriptor | None = None
        self.lists: CommunicationLists | None = None
        self.capabilities: FirmwareCapabilities | None = None
        self.path: CommandPath | None = None
        self.management: DeviceManagement | None = None
        #: Target IDs the scan found and created (Linux's ``target_map``).
        self.present: set[int] = set()
        self.statistics = dict.fromkeys(
            (
                "Commands",
                "Completions",
                "Stale Responses",
                "Timeouts",
                "Resets",
                "Bus Changes",
                "Events",
                "Double Buffered",
                "Interrupts",
                "Interrupts (Not Ours)",
                "List Errors",
                "Cache Flushes",
            ),
            0,
        )

    # -- bring-up ---------------------------------------------------------------------------

    def InitializeController(self) -> bool:
        """Map the registers, run the handshake, allocate lists and tags (once)."""
        if self._initialize():
            return True
        self._release_resources()
        return False

    def _initialize(self) -> bool:
        pci = OSDynamicCast(IOPCIDevice, self.GetProvider())
        if pci is None:
            return False
        self.pci = pci
        device_id = pci.configRead16(kIOPCIConfigDeviceID)
        chip = mv.CHIPS.get(device_id)
        if chip is None:
            IOLog("%s: device %04x is not a Marvell UMI chip\n", self.getName(), device_id)
            return False
        self.chip = chip
        registers = pci.mapDeviceMemoryWithRegister(chip.register_bar)
        if registers is None:
            IOLog("%s: no register BAR at %#x\n", self.getName(), chip.register_bar)
            return False
        self.registers = registers
        pci.setMemoryEnable(True)
        pci.setBusMasterEnable(True)
        self.handshake_page = dma_buffer(mv.HSP_MAX_SIZE)
        self.internal_buffer = dma_buffer(INTERNAL_BUFFER_SIZE)
        if self.handshake_page is None or self.internal_buffer is None:
            return False
        capabilities = self.bring_up()
        if capabilities is None:
            return False
        assert self.lists is not None
        self.capabilities = capabilities
        self.path = CommandPath(
            self,
            registers,
            chip,
            self.lists,
            capabilities,
            self.internal_buffer,
            self.statistics,
        )
        self._publish(capabilities)
        IOLog(
            "%s: Marvell %s, firmware %s: %u devices, %u commands, %u-byte transfers, "
            "%u SG entries\n",
            self.getName(),
            chip.name,
            capabilities.firmware_version,
            capabilities.max_devices_support,
            capabilities.max_io,
            capabilities.max_transfer_size,
            capabilities.sg_tablesize,
        )
        return True

    def bring_up(self) -> FirmwareCapabilities | None:
        """Wait for the firmware and shake hands (the lists are made, or reused after
        a reset, on the way); on success the lists are started and the firmware runs.
        Blocks: a kernel thread without the gate."""
        registers, page, pci = self.registers, self.handshake_page, self.pci
        assert registers is not None
        assert page is not None
        assert pci is not None
        handshake = Handshake(
            registers,
            self.chip,
            page.getBytesNoCopy(),
            physical_address(page),
            slot_number=pci.getDeviceNumber(),
        )
        handshake.prepare()
        capabilities = None
        if handshake.wait_for_firmware():
            capabilities = handshake.run(self._make_lists)
        if capabilities is None:
            IOLog("%s: handshake failed: %s\n", self.getName(), handshake.failure)
            return None
        assert self.lists is not None
        self.lists.start_lists(registers)
        return capabilities

    def _make_lists(self, capabilities: FirmwareCapabilities) -> ListLayout | None:
        """Page 1 is in: the lists for it.  After a reset the firmware must offer what
        it offered first (the family sized its task pool from that): the same lists
        are used again."""
        lists, first = self.lists, self.capabilities
        if lists is not None:
            if first is not None and (
                capabilities.list_num_io,
                capabilities.ib_max_size,
                capabilities.ob_max_size,
                capabilities.max_io,
            ) != (first.list_num_io, first.ib_max_size, first.ob_max_size, first.max_io):
                return None
            return lists.layout
        lists = CommunicationLists.allocate(self.chip, capabilities)
        if lists is None:
            return None
        self.lists = lists
        return lists.layout

    def kick_firmware(self) -> None:
        """Reset the firmware: DRBL_SOFT_RESET to a running 9143 (``mvumi_reset``), the
        reset registers of the 9580 (``mvumi_reset_host_9580``).  Memory decoding and
        bus mastering are switched on again first, as Linux's 9580 path re-enables the
        device."""
        registers, pci, chip = self.registers, self.pci, self.chip
        assert registers is not None
        assert pci is not None
        pci.setMemoryEnable(True)
        pci.setBusMasterEnable(True)
        registers.ioWrite32(chip.enpointa_mask_reg, 0)
        if chip.reset_enable is not None and chip.reset_request is not None:
            registers.ioWrite32(chip.reset_enable, 0)
            registers.ioWrite32(chip.reset_request, 0xF)
            registers.ioWrite32(chip.reset_enable, mv.RESET_9580_BIT)
            registers.ioWrite32(chip.reset_request, mv.RESET_9580_BIT)
        elif registers.ioRead32(chip.arm_to_pciea_msg1) == mv.HANDSHAKE_DONESTATE:
            registers.ioWrite32(chip.pciea_to_arm_drbl_reg, mv.DRBL_SOFT_RESET)

    def _publish(self, capabilities: FirmwareCapabilities) -> None:
        """Page 1, the transfer limits, the HBA's names and the statistics, as
        properties of the controller."""
        details = {
            "Chip": self.chip.name,
            "Firmware Version": capabilities.firmware_version,
            "UMI Version": capabilities.umi_ver,
            "Number Of Ports": capabilities.number_of_ports,
            "Max Devices Support": capabilities.max_devices_support,
            "Max IO Support": capabilities.max_io_support,
            "Max Transfer Size": capabilities.max_transfer_size,
            "List Depth": capabilities.list_num_io,
            "Inbound Entry Size": capabilities.ib_max_size,
            "Outbound Entry Size": capabilities.ob_max_size,
            "SG Table Size": capabilities.sg_tablesize,
            "Capability": capabilities.capability,
        }
        published = from_python(details)
        self.setProperty(FIRMWARE_KEY, published)
        published.release()
        maximum = capabilities.max_transfer_size
        self.setProperty(kIOMaximumByteCountReadKey, maximum, 64)
        self.setProperty(kIOMaximumByteCountWriteKey, maximum, 64)
        self.setProperty(kIOMaximumBlockCountReadKey, maximum // 512, 64)
        self.setProperty(kIOMaximumBlockCountWriteKey, maximum // 512, 64)
        self.SetHBAProperty(kIOPropertyVendorNameKey, "Marvell")
        self.SetHBAProperty(kIOPropertyProductNameKey, self.chip.name)
        self.SetHBAProperty(kIOPropertyProductRevisionLevelKey, capabilities.firmware_version)
        statistics = OSSerializer(lambda: from_python(dict(self.statistics)))
        self.setProperty(STATISTICS_KEY, statistics)
        statistics.release()

    def StartController(self) -> bool:
        """Unmask the chip's causes and start the management thread (initial scan)."""
        path = self.path
        if path is None or path.failed:
            return False
        if self.management is None:
            self.management = DeviceManagement(self, path)
        path.accepting = True
        self.unmask_interrupts()
        self.management.start()
        return True

    def unmask_interrupts(self) -> None:
        """Let the chip's causes through to INTx (after the handshake)."""
        registers, chip = self.registers, self.chip
        assert registers is not None
        enabled = chip.int_comaout | chip.int_comaerr | chip.int_dl_cpu2pciea
        registers.ioWrite32(chip.enpointa_mask_reg, enabled)

    def mask_interrupts(self) -> None:
        if self.registers is not None:
            self.registers.ioWrite32(self.chip.enpointa_mask_reg, 0)

    # -- what the family asks ---------------------------------------------------------------

    def _page1(self) -> FirmwareCapabilities:
        capabilities = self.capabilities
        assert capabilities is not None, "the family asks only after InitializeController"
        return capabilities

    def ReportInitiatorIdentifier(self) -> int:
        """``unique_id``: one past the last target ID, so it is no target's."""
        return self._page1().max_devices_support

    def ReportHighestSupportedDeviceID(self) -> int:
        return self._page1().max_devices_support - 1

    def ReportMaximumTaskCount(self) -> int:
        """Linux's ``can_queue``: one tag stays free for the driver's own commands."""
        return max(1, self._page1().max_io - 1)

    def ReportHBAHighestLogicalUnitNumber(self) -> int:
        """The firmware exposes LUN 0 of each target only."""
        return 0

    def ReportHBASpecificTaskDataSize(self) -> int:
        return TASK_DATA.size

    def ReportHBASpecificDeviceDataSize(self) -> int:
        """The firmware keeps what it needs per device; the driver keeps nothing."""
        return 0

    def DoesHBAPerformDeviceManagement(self) -> bool:
        return True

    def DoesHBASupportSCSIParallelFeature(self, theFeature: int) -> bool:
        """A message-passing RAID controller: no SPI bus to negotiate."""
        return False

    def DoesHBAPerformAutoSense(self) -> bool:
        """A CHECK CONDITION response always carries the 18 bytes of sense."""
        return True

    def InitializeTargetForID(self, targetID: int) -> bool:
        return 0 <= targetID < self._page1().max_devices_support

    def ReportHBAConstraints(self, constraints: OSDictionary) -> None:
        """Segments per command from page 1 (what fits an inbound entry), 64-bit
        addresses, segments as long as a whole transfer."""
        super().ReportHBAConstraints(constraints)
        capabilities = self._page1()
        values = (
            (kIOMaximumSegmentCountReadKey, capabilities.sg_tablesize),
            (kIOMaximumSegmentCountWriteKey, capabilities.sg_tablesize),
            (kIOMaximumSegmentByteCountReadKey, capabilities.max_transfer_size),
            (kIOMaximumSegmentByteCountWriteKey, capabilities.max_transfer_size),
            (kIOMinimumSegmentAlignmentByteCountKey, SEGMENT_ALIGNMENT),
            (kIOMaximumSegmentAddressableBitCountKey, 64),
            (kIOMinimumHBADataAlignmentMaskKey, HBA_DATA_ALIGNMENT_MASK),
        )
        for key, value in values:
            number = OSNumber.withNumber(value, 64)
            constraints.setObject(key, number)
            number.release()

    def InitializeDMASpecification(self, command: IODMACommand) -> bool:
        """64-bit addresses straight into the chip's SG entries (no bouncing on a
        64-bit kernel, nothing to bounce on a 32-bit one)."""
        maximum = self._page1().max_transfer_size
        return command.initWithSpecification(
            OutputMarvellSGL, 64, maximum, IODMACommand.kMapped, maximum, SEGMENT_ALIGNMENT
        )

    # -- the command path -------------------------------------------------------------------

    def ProcessParallelTask(self, parallelRequest: SCSIParallelTask) -> int:
        path = self.path
        if path is None:
            return kSCSIServiceResponse_SERVICE_DELIVERY_OR_TARGET_FAILURE
        return path.process(parallelRequest)

    def FilterInterruptRequest(self) -> bool:
        path = self.path
        return path.filter_interrupt() if path is not None else False

    def HandleInterruptRequest(self) -> None:
        if self.path is not None:
            self.path.handle_interrupt()

    def HandleTimeout(self, parallelRequest: SCSIParallelTask) -> None:
        if self.path is not None:
            self.path.handle_timeout(parallelRequest)
        else:
            super().HandleTimeout(parallelRequest)

    # -- task management: mvumi has no abort or reset path ----------------------------------

    def AbortTaskRequest(self, theT: int, theL: int, theQ: int) -> int:
        return kSCSIServiceResponse_FUNCTION_REJECTED

    def AbortTaskSetRequest(self, theT: int, theL: int) -> int:
        return kSCSIServiceResponse_FUNCTION_REJECTED

    def ClearACARequest(self, theT: int, theL: int) -> int:
        return kSCSIServiceResponse_FUNCTION_REJECTED

    def ClearTaskSetRequest(self, theT: int, theL: int) -> int:
        return kSCSIServiceResponse_FUNCTION_REJECTED

    def LogicalUnitResetRequest(self, theT: int, theL: int) -> int:
        return kSCSIServiceResponse_FUNCTION_REJECTED

    def TargetResetRequest(self, theT: int) -> int:
        return kSCSIServiceResponse_FUNCTION_REJECTED

    # -- stop -------------------------------------------------------------------------------

    def willTerminate(self, provider: IOService, options: int) -> bool:
        """End the management thread before the family destroys the targets, so that
        no scan creates one meanwhile."""
        if self.management is not None:
            self.management.stop()
        return super().willTerminate(provider, options)

    def StopController(self) -> None:
        """Power-safe stop: the management thread ends, the commands the firmware
        holds are answered (so writes reach the disks), each present target flushes
        its cache (``E1 01 0B``, Linux ``mvumi_flush_cache``), the chip's causes are
        masked, and nothing is left in flight."""
        if self.management is not None:
            self.management.stop()
        path = self.path
        if path is None:
            return
        if not path.failed and not path.resetting:
            if not path.drain(DRAIN_TIMEOUT_MS):
                IOLog(
                    "%s: %u commands still in the firmware at stop\n",
                    self.getName(),
                    path.in_firmware(),
                )
            for target in sorted(self.present):
                command = InternalCommand(target, FLUSH_CDB)
                if path.run_internal(command, FLUSH_TIMEOUT_MS):
                    self.statistics["Cache Flushes"] += 1
                else:
                    IOLog("%s: target %u did not flush its cache\n", self.getName(), target)
        gate = self.GetCommandGate()
        if gate is not None:
            gate.runAction(MarvellUMI._gated_stop)
        else:
            self._gated_stop()

    def _gated_stop(self, *_: object) -> int:
        self.mask_interrupts()
        if self.path is not None:
            self.path.accepting = False
            self.path.abandon(including_waiting=True)
        return kIOReturnSuccess

    def TerminateController(self) -> None:
        """Give back everything ``InitializeController`` took."""
        self._release_resources()

    def _release_resources(self) -> None:
        if self.management is not None:
            self.management.stop()
            self.management.free()
            self.management = None
        self.mask_interrupts()
        self.path = None
        if self.lists is not None:
            self.lists.release()
            self.lists = None
        for name in ("handshake_page", "internal_buffer"):
            buffer = getattr(self, name)
            if buffer is not None:
                buffer.release()
                setattr(self, name, None)
        if self.pci is not None:
            self.pci.setBusMasterEnable(False)
        if self.registers is not None:
            self.registers.release()
            self.registers = None
        self.present.clear()
        self.pci = None
