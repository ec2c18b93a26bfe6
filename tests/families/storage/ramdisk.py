"""A RAM disk for the storage family's tests: an ``IOBlockStorageDevice`` over a
bytearray, published on the platform device of a booted machine with no SCSI at all.

``KextLabTestRAMDisk`` moves data with ``readBytes``/``writeBytes`` on the buffer it
is given (so what it sees is what a DMA engine would), completes each transfer
``latency_ns`` later in event context (as an interrupt would), and keeps a journal of
the transfers it was asked for, so tests can check how the driver cut a request.
Knobs: block size and count, removable/ejectable/write-protected, media present,
transfer limits (published as properties, where ``IOBlockStorageDriver`` looks),
failing blocks (``kIOReturnIOError``), short transfers, holding requests until the
test releases them, polling.  When it is terminated it first fails what it holds
with ``kIOReturnNotAttached``, as a transport must.

``StorageClient`` is a client service that opens media; ``Buffers`` wrap
``IOBufferMemoryDescriptor``.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kextlab.families.storage.block_storage_device import (
    IOBlockStorageDevice,
    kIOMediaStateOffline,
    kIOMediaStateOnline,
    kIOMessageMediaStateHasChanged,
    kIOPropertyDeviceCharacteristicsKey,
    kIOPropertyPhysicalInterconnectLocationKey,
    kIOPropertyPhysicalInterconnectTypeKey,
    kIOPropertyProductNameKey,
    kIOPropertyProductRevisionLevelKey,
    kIOPropertyProtocolCharacteristicsKey,
    kIOPropertyVendorNameKey,
)
from kextlab.families.storage.cd.block_storage_device import IOCDBlockStorageDevice
from kextlab.families.storage.cd.types import CDConvertLBAToMSF, kCDMediaTypeROM, kCDTOCFormatTOC
from kextlab.families.storage.media import IOMedia
from kextlab.families.storage.storage import IOStorage, IOStorageAttributes, IOStorageCompletion
from kextlab.kernel.ioreturn import (
    kIOReturnIOError,
    kIOReturnNoMedia,
    kIOReturnNotAttached,
    kIOReturnSuccess,
    kIOReturnUnsupported,
)
from kextlab.kernel.kernel import Kernel
from kextlab.kernel.memory.buffer import IOBufferMemoryDescriptor
from kextlab.kernel.memory.descriptor import IOMemoryDescriptor
from kextlab.kernel.memory.options import kIODirectionIn, kIODirectionOut
from kextlab.kernel.memory.refs import BoolRef, UInt32Ref, UInt64Ref
from kextlab.kernel.registry.registry import kIOServicePlane
from kextlab.kernel.service.service import IOService, kIOServiceSynchronous
from kextlab.sim.time import MICROSECOND
from kextlab.testing.kernel import booted_kernel

#: The kext the test classes are registered under (so the leak check stops them).
TEST_KEXT = "com.kextlab.test.storage"

MACHINE = """\
[memory]
size = "1G"
below_4g = "512M"
"""


@dataclass
class Transfer:
    """One ``doAsyncReadWrite`` the device was asked for."""

    write: bool
    block: int
    nblks: int
    segments: int
    adjusted_offset: int


if TYPE_CHECKING:
    _Device = IOBlockStorageDevice
else:
    _Device = object


class RAMDevice(_Device):
    """The RAM disk's device calls, for a block or a CD device class (a mixin)."""

    def __init__(self) -> None:
        super().__init__()
        self.block_size = 512
        self.data = bytearray()
        self.removable = False
        self.ejectable = False
        self.write_protected = False
        self.media_present = True
        self.latency_ns = 100 * MICROSECOND
        self.fail_blocks: set[int] = set()
        self.short_by = 0
        self.hold = False
        self.held: list[tuple[IOMemoryDescriptor, int, int, IOStorageCompletion]] = []
        self.poll_required = False
        self.polls = 0
        self.transfers: list[Transfer] = []
        self.ejects = 0
        self.flushes = 0
        self.in_flight = 0

    def configure(self, blocks: int, block_size: int = 512, image: bytes = b"") -> None:
        self.block_size = block_size
        self.data = bytearray(blocks * block_size)
        self.data[: len(image)] = image[: len(self.data)]
        self.setProperty(
            kIOPropertyDeviceCharacteristicsKey,
            {
                kIOPropertyVendorNameKey: "KextLab",
                kIOPropertyProductNameKey: "RAM  Disk ",
                kIOPropertyProductRevisionLevelKey: "1.0",
            },
        )
        self.setProperty(
            kIOPropertyProtocolCharacteristicsKey,
            {
                kIOPropertyPhysicalInterconnectTypeKey: "Virtual Interface",
                kIOPropertyPhysicalInterconnectLocationKey: "Internal",
            },
        )

    # -- transfers -------------------------------------------------------------------------------

    def doAsyncReadWrite(
        self,
        buffer: IOMemoryDescriptor,
        block: int,
        nblks: int,
        attributes: IOStorageAttributes | None,
        completion: IOStorageCompletion,
    ) -> int:
        if not self.media_present:
            return kIOReturnNoMedia
        write = buffer.getDirection() == kIODirectionOut
        segments = len(buffer.physical_runs(0, buffer.getLength()))
        adjusted = attributes.adjustedOffset if attributes is not None else -1
        self.transfers.append(Transfer(write, block, nblks, segments, adjusted))
        assert buffer.getLength() == nblks * self.block_size
        if self.hold:
            buffer.retain()
            self.held.append((buffer, block, nblks, completion))
            return kIOReturnSuccess
        scheduler = self.globals.scheduler
        buffer.retain()
        self.in_flight += 1
        scheduler.after(
            self.latency_ns,
            lambda: self._finish(buffer, block, nblks, completion),
            "RAM disk transfer",
        )
        return kIOReturnSuccess

    def _finish(
        self, buffer: IOMemoryDescriptor, block: int, nblks: int, completion: IOStorageCompletion
    ) -> None:
        self.in_flight -= 1
        try:
            failing = [b for b in range(block, block + nblks) if b in self.fail_blocks]
            good = (failing[0] - block if failing else nblks) * self.block_size
            good = max(good - self.short_by, 0)
            start = block * self.block_size
            if buffer.getDirection() == kIODirectionOut:
                self.data[start : start + good] = bytes(self._read(buffer, good))
            else:
                buffer.writeBytes(0, bytes(self.data[start : start + good]), good)
            status = kIOReturnIOError if failing else kIOReturnSuccess
            IOStorage.complete(completion, status, good)
        finally:
            buffer.release()

    @staticmethod
    def _read(buffer: IOMemoryDescriptor, length: int) -> bytearray:
        out = bytearray(length)
        if length:
            buffer.readBytes(0, out, length)
        return out

    def release_held(self, status: int | None = None) -> None:
        """Finish the held transfers: normally, or all with ``status``."""
        held, self.held = self.held, []
        for buffer, block, nblks, completion in held:
            if status is None:
                self.in_flight += 1
                self._finish(buffer, block, nblks, completion)
            else:
                IOStorage.complete(completion, status, 0)
                buffer.release()

    def terminate(self, options: int = 0) -> bool:
        """The device is going away: what it holds fails, as a transport's must."""
        self.release_held(kIOReturnNotAttached)
        return super().terminate(options)

    # -- the device calls ------------------------------------------------------------------------

    def doEjectMedia(self) -> int:
        self.ejects += 1
        self.media_present = False
        return kIOReturnSuccess

    def doFormatMedia(self, byteCapacity: int) -> int:
        return kIOReturnUnsupported

    def doGetFormatCapacities(self, capacities: list[int] | None, capacitiesMaxCount: int) -> int:
        if capacities is not None and capacitiesMaxCount:
            capacities[:1] = [len(self.data)]
        return 1

    def doSynchronize(self, block: int, nblks: int, options: int = 0) -> int:
        self.flushes += 1
        return kIOReturnSuccess

    def getVendorString(self) -> str | None:
        return "KextLab"

    def getProductString(self) -> str | None:
        return "RAM  Disk "

    def getRevisionString(self) -> str | None:
        return "1.0"

    def getAdditionalDeviceInfoString(self) -> str | None:
        return None

    def reportBlockSize(self, blockSize: UInt64Ref) -> int:
        blockSize.value = self.block_size
        return kIOReturnSuccess

    def reportEjectability(self, isEjectable: BoolRef) -> int:
        isEjectable.value = self.ejectable
        return kIOReturnSuccess

    def reportMaxValidBlock(self, maxBlock: UInt64Ref) -> int:
        maxBlock.value = len(self.data) // self.block_size - 1
        return kIOReturnSuccess

    def reportMediaState(self, mediaPresent: BoolRef, changedState: BoolRef | None = None) -> int:
        self.polls += 1
        mediaPresent.value = self.media_present
        return kIOReturnSuccess

    def reportRemovability(self, isRemovable: BoolRef) -> int:
        isRemovable.value = self.removable
        return kIOReturnSuccess

    def reportWriteProtection(self, isWriteProtected: BoolRef) -> int:
        isWriteProtected.value = self.write_protected
        return kIOReturnSuccess

    def reportPollRequirements(self, pollRequired: BoolRef, pollIsExpensive: BoolRef) -> int:
        pollRequired.value = self.poll_required
        pollIsExpensive.value = False
        return kIOReturnSuccess

    # -- the medium, from the test ----------------------------------------------------------------

    def insert(self, image: bytes = b"") -> int:
        """A medium arrives: tell the driver."""
        self.media_present = True
        if image:
            self.data[: len(image)] = image
        return self.messageClients(kIOMessageMediaStateHasChanged, kIOMediaStateOnline)

    def remove(self) -> int:
        """The medium is pulled out: tell the driver."""
        self.media_present = False
        return self.messageClients(kIOMessageMediaStateHasChanged, kIOMediaStateOffline)


class KextLabTestRAMDisk(RAMDevice, IOBlockStorageDevice):
    """A block storage device backed by host memory."""


def full_toc(blocks: int) -> bytes:
    """The full TOC (READ TOC format 2) of a one-session disc with one data track of
    ``blocks`` 2048-byte blocks: points A0, A1, A2 (the lead-out) and track 1."""

    def descriptor(point: int, p: tuple[int, int, int], control: int = 4) -> bytes:
        return bytes((1, (1 << 4) | control, 0, point, 0, 0, 0, 0, *p))

    lead_out = CDConvertLBAToMSF(blocks)
    descriptors = (
        descriptor(0xA0, (1, 0, 0))
        + descriptor(0xA1, (1, 0, 0))
        + descriptor(0xA2, (lead_out.minute, lead_out.second, lead_out.frame))
        + descriptor(1, (0, 2, 0))
    )
    return struct.pack(">HBB", 2 + len(descriptors), 1, 1) + descriptors


class KextLabTestRAMCD(RAMDevice, IOCDBlockStorageDevice):
    """A CD drive with a pressed data disc in it, backed by host memory."""

    def configure(self, blocks: int, block_size: int = 2048, image: bytes = b"") -> None:
        super().configure(blocks, block_size, image)
        self.removable = self.ejectable = True
        self.write_protected = True
        self.toc = full_toc(blocks)

    def getMediaType(self) -> int:
        return kCDMediaTypeROM

    def readTOC(
        self,
        buffer: IOMemoryDescriptor,
        format: int = kCDTOCFormatTOC,
        msf: int = 1,
        trackSessionNumber: int = 0,
        actualByteCount: UInt32Ref | None = None,
    ) -> int:
        count = min(len(self.toc), buffer.getLength())
        buffer.writeBytes(0, self.toc, count)
        if actualByteCount is not None:
            actualByteCount.value = count
        return kIOReturnSuccess


class StorageClient(IOService):
    """A client that opens media (a file system, a user client ...)."""


@dataclass
class Bench:
    """A booted kernel with the test classes registered."""

    kernel: Kernel

    def publish(
        self,
        blocks: int = 8192,
        block_size: int = 512,
        image: bytes = b"",
        cls: type[RAMDevice] = KextLabTestRAMDisk,
        setup: Callable[[Any], None] | None = None,
        properties: dict[str, Any] | None = None,
        provider: IOService | None = None,
    ) -> Any:
        """Publish a RAM disk on the platform device and let matching finish."""
        kernel = self.kernel
        with kernel.entered():
            disk = cls()
            disk.init()
            disk.configure(blocks, block_size, image)
            for key, value in (properties or {}).items():
                disk.setProperty(key, value, 64 if isinstance(value, int) else None)
            if setup is not None:
                setup(disk)
            assert disk.attach(provider or kernel.platform_device)
            disk.registerService()
            disk.release()
        kernel.wait_quiet()
        return disk

    def client(self) -> StorageClient:
        with self.kernel.entered():
            client = StorageClient()
            client.init()
        return client

    def media(self, disk: IOService | None = None) -> list[IOMedia]:
        """Every active media object (below ``disk`` if given), in registry order."""
        plane = self.kernel.registry.plane(kIOServicePlane)
        root = disk if disk is not None else self.kernel.registry.getRoot()
        return [
            entry
            for entry in root.iterate(plane, recursive=True)
            if isinstance(entry, IOMedia) and not entry.isInactive()
        ]

    def whole(self, disk: IOService) -> IOMedia:
        (whole,) = [media for media in self.media(disk) if media.isWhole()]
        return whole

    def terminate(self, service: IOService, *, wait: bool = True) -> None:
        """Terminate ``service``; with ``wait``, until the service plane is quiet (a
        client that holds a terminated media open keeps it from getting there)."""
        with self.kernel.entered():
            service.terminate(kIOServiceSynchronous if wait else 0)
        if wait:
            self.kernel.wait_quiet()
        else:
            self.run(1_000_000)

    def run(self, nanoseconds: int) -> None:
        scheduler = self.kernel.scheduler
        scheduler.run(scheduler.now + nanoseconds)


def bench(tmp_path: Path, machine: Path | None = None) -> Iterator[Bench]:
    """A bench on ``machine`` (a TOML file), by default one with no devices
    (``MACHINE``)."""
    if machine is None:
        machine = tmp_path / "storage.toml"
        machine.write_text(MACHINE)
    with booted_kernel(str(machine)) as kernel:
        with kernel.entered():
            for cls in (KextLabTestRAMDisk, KextLabTestRAMCD, StorageClient):
                kernel.classes.register(cls, kext=TEST_KEXT)
        yield Bench(kernel)


class Buffers:
    """Buffers for one test, released together."""

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self._held: list[IOBufferMemoryDescriptor] = []

    def make(
        self, length: int, direction: int = kIODirectionIn, fill: bytes = b""
    ) -> IOBufferMemoryDescriptor:
        with self.kernel.entered():
            buffer = IOBufferMemoryDescriptor.withCapacity(length, direction)
        assert buffer is not None
        if fill:
            buffer.getBytesNoCopy()[:length] = (fill * (length // len(fill) + 1))[:length]
        self._held.append(buffer)
        return buffer

    def reading(self, length: int) -> IOBufferMemoryDescriptor:
        return self.make(length, kIODirectionIn)

    def writing(self, data: bytes) -> IOBufferMemoryDescriptor:
        return self.make(len(data), kIODirectionOut, data)

    def release(self) -> None:
        with self.kernel.entered():
            for buffer in self._held:
                buffer.release()
        self._held.clear()


def pattern(length: int, seed: int = 0) -> bytes:
    """Bytes that differ at every offset (within 251), so misplaced data shows."""
    return bytes((seed + index * 7 + index // 251) & 0xFF for index in range(length))
