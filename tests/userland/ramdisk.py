"""A RAM disk as an ``IOBlockStorageDevice``, for user-space tests of device nodes.

``KextLabRAMDisk`` is the smallest honest block storage transport: a bytearray of
blocks, its own work loop, and a timer standing for the device's interrupt, so every
transfer completes ``latency_us`` later from the work loop, as an HBA's would.  Bad
blocks fail with ``kIOReturnIOError``; it counts flushes and the most transfers it
had in flight at once.  IOStorageFamily's ``IOBlockStorageDriver`` drives it, so
the test sees real ``IOMedia`` with a real ``IOMediaBSDClient`` and ``BSD Name``.
"""

from __future__ import annotations

from typing import Any

from kextlab.families.storage.block_storage_device import IOBlockStorageDevice
from kextlab.families.storage.storage import IOStorage, IOStorageAttributes, IOStorageCompletion
from kextlab.kernel.ioreturn import (
    kIOReturnBadArgument,
    kIOReturnIOError,
    kIOReturnSuccess,
    kIOReturnUnsupported,
)
from kextlab.kernel.kernel import Kernel
from kextlab.kernel.memory.descriptor import IOMemoryDescriptor
from kextlab.kernel.memory.options import kIODirectionIn
from kextlab.kernel.memory.refs import BoolRef, UInt64Ref
from kextlab.kernel.service.service import IOService
from kextlab.kernel.workloop.timer_event_source import IOTimerEventSource
from kextlab.kernel.workloop.work_loop import IOWorkLoop

RAMDISK_KEXT = "com.kextlab.test.RAMDisk"


class KextLabRAMDisk(IOBlockStorageDevice):
    """A RAM disk transport."""

    def __init__(self) -> None:
        super().__init__()
        self.block_size = 512
        self.data = bytearray()
        self.bad_blocks: set[int] = set()
        self.write_protected = False
        self.latency_us = 20
        self.loop: IOWorkLoop | None = None
        self.timer: IOTimerEventSource | None = None
        self.pending: list[tuple[IOStorageCompletion, int, int]] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self.flushes = 0
        self.transfers = 0

    def configure(self, blocks: int, block_size: int = 512) -> None:
        self.block_size = block_size
        self.data = bytearray(blocks * block_size)

    @property
    def blocks(self) -> int:
        return len(self.data) // self.block_size

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self, provider: IOService) -> bool:
        if not super().start(provider):
            return False
        self.loop = IOWorkLoop.workLoop()
        self.timer = IOTimerEventSource.timerEventSource(self, KextLabRAMDisk.interrupt)
        assert self.loop is not None
        assert self.timer is not None
        self.loop.addEventSource(self.timer)
        self.registerService()
        return True

    def getWorkLoop(self) -> IOWorkLoop | None:
        return self.loop

    def stop(self, provider: IOService) -> None:
        self._teardown()
        super().stop(provider)

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

    # -- transfers --------------------------------------------------------------------------------

    def doAsyncReadWrite(
        self,
        buffer: IOMemoryDescriptor,
        block: int,
        nblks: int,
        attributes: IOStorageAttributes | None,
        completion: IOStorageCompletion,
    ) -> int:
        if block < 0 or nblks <= 0 or block + nblks > self.blocks or self.timer is None:
            return kIOReturnBadArgument
        self.transfers += 1
        length = nblks * self.block_size
        start = block * self.block_size
        if any(bad in self.bad_blocks for bad in range(block, block + nblks)):
            self._queue(completion, kIOReturnIOError, 0)
            return kIOReturnSuccess
        window = memoryview(self.data)[start : start + length]
        if buffer.getDirection() == kIODirectionIn:
            buffer.writeBytes(0, window, length)
        else:
            buffer.readBytes(0, window, length)
        self._queue(completion, kIOReturnSuccess, length)
        return kIOReturnSuccess

    def _queue(self, completion: IOStorageCompletion, status: int, count: int) -> None:
        assert self.timer is not None
        self.pending.append((completion, status, count))
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        if not self.timer.is_armed():
            self.timer.setTimeoutUS(self.latency_us)

    @staticmethod
    def interrupt(owner: Any, sender: Any) -> None:
        """Complete everything the 'device' finished (work loop, gate held)."""
        assert isinstance(owner, KextLabRAMDisk)
        done, owner.pending = owner.pending, []
        owner.in_flight -= len(done)
        for completion, status, count in done:
            IOStorage.complete(completion, status, count)

    def doSynchronize(self, block: int, nblks: int, options: int = 0) -> int:
        self.flushes += 1
        return kIOReturnSuccess

    # -- what the device is -----------------------------------------------------------------------

    def doEjectMedia(self) -> int:
        return kIOReturnUnsupported

    def doFormatMedia(self, byteCapacity: int) -> int:
        return kIOReturnUnsupported

    def doGetFormatCapacities(self, capacities: list[int] | None, capacitiesMaxCount: int) -> int:
        if capacities is not None and capacitiesMaxCount > 0:
            capacities[:1] = [len(self.data)]
        return 1

    def getVendorString(self) -> str | None:
        return "KEXTLAB"

    def getProductString(self) -> str | None:
        return "RAM DISK"

    def getRevisionString(self) -> str | None:
        return "1.0"

    def getAdditionalDeviceInfoString(self) -> str | None:
        return None

    def reportBlockSize(self, blockSize: UInt64Ref) -> int:
        blockSize.value = self.block_size
        return kIOReturnSuccess

    def reportEjectability(self, isEjectable: BoolRef) -> int:
        isEjectable.value = False
        return kIOReturnSuccess

    def reportMaxValidBlock(self, maxBlock: UInt64Ref) -> int:
        maxBlock.value = self.blocks - 1
        return kIOReturnSuccess

    def reportMediaState(self, mediaPresent: BoolRef, changedState: BoolRef | None = None) -> int:
        mediaPresent.value = True
        if changedState is not None:
            changedState.value = False
        return kIOReturnSuccess

    def reportRemovability(self, isRemovable: BoolRef) -> int:
        isRemovable.value = False
        return kIOReturnSuccess

    def reportWriteProtection(self, isWriteProtected: BoolRef) -> int:
        isWriteProtected.value = self.write_protected
        return kIOReturnSuccess


def add_ramdisk(
    kernel: Kernel, blocks: int = 2048, *, write_protected: bool = False
) -> KextLabRAMDisk:
    """A RAM disk under IOResources, started and matched: its media gets a BSD name."""
    with kernel.entered():
        kernel.classes.register(KextLabRAMDisk, kext=RAMDISK_KEXT)
        disk = KextLabRAMDisk()
        disk.init()
        disk.configure(blocks)
        disk.write_protected = write_protected
        assert disk.attach(kernel.resources)
        assert disk.start(kernel.resources)
        disk.release()
    kernel.machine.run()
    kernel.wait_quiet()
    return disk
