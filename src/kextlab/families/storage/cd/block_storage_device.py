"""IOCDBlockStorageDevice: the nub a CD transport implements.

Mirrors ``IOCDBlockStorageDevice.h``/``.cpp`` of IOCDStorageFamily.  It is an
``IOBlockStorageDevice`` (every call of ``kextlab.families.storage.
block_storage_device`` applies) that publishes ``device-type = "CDROM"``, which
``IOCDBlockStorageDriver``'s personality matches, and adds the CD calls:

* ``getMediaType() -> int``: a ``kCDMediaType*`` of ``kextlab.families.storage.cd.
  types`` (``kCDMediaTypeROM`` for a pressed disc), or ``kCDMediaTypeUnknown``;
* ``readTOC(buffer, format=kCDTOCFormatTOC, msf=1, trackSessionNumber=0,
  actualByteCount=None) -> IOReturn``: READ TOC/PMA/ATIP into ``buffer`` (a
  ``CDTOC`` for the full-TOC format: big-endian length, first and last session,
  then 11-byte descriptors), its length in ``actualByteCount.value``.  The one-
  argument form of C++ (``readTOC(buffer)``) is the same call with the defaults.

The other calls of Apple's class (``doAsyncReadCD`` for raw 2352-byte sectors and
audio, ``readISRC``, ``readMCN``, ``getSpeed``/``setSpeed``, ``readDiscInfo``,
``readTrackInfo``) are pure virtuals there; kextlab's CD stack reads data discs
only, in 2048-byte user-data blocks through ``doAsyncReadWrite``, so here they
answer ``kIOReturnUnsupported`` unless a transport implements them.

Threading rules: as for ``IOBlockStorageDevice``: the calls are made on kernel
threads and may block; completions never block.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from kextlab.families.storage.block_storage_device import IOBlockStorageDevice
from kextlab.families.storage.cd.types import kCDTOCFormatTOC
from kextlab.kernel.ioreturn import kIOReturnUnsupported

if TYPE_CHECKING:
    from kextlab.families.storage.storage import IOStorageCompletion
    from kextlab.kernel.memory.descriptor import IOMemoryDescriptor
    from kextlab.kernel.memory.refs import UInt32Ref

__all__ = [
    "IOCDBlockStorageDevice",
    "kIOBlockStorageDeviceTypeCDROM",
    "kIOCDBlockStorageDeviceClass",
]

kIOCDBlockStorageDeviceClass: Final = "IOCDBlockStorageDevice"
kIOBlockStorageDeviceTypeCDROM: Final = "CDROM"


class IOCDBlockStorageDevice(IOBlockStorageDevice):
    """A CD device nub (abstract: a transport implements the device calls)."""

    device_type = kIOBlockStorageDeviceTypeCDROM

    def getMediaType(self) -> int:
        """The ``kCDMediaType*`` of the disc in the drive."""
        raise self._pure("getMediaType")

    def readTOC(
        self,
        buffer: IOMemoryDescriptor,
        format: int = kCDTOCFormatTOC,
        msf: int = 1,
        trackSessionNumber: int = 0,
        actualByteCount: UInt32Ref | None = None,
    ) -> int:
        """Read the table of contents in ``format`` into ``buffer``."""
        raise self._pure("readTOC")

    # -- optional here (audio, raw sectors, recorder information) ---------------------------------

    def doAsyncReadCD(
        self,
        buffer: IOMemoryDescriptor,
        block: int,
        nblks: int,
        sectorArea: int,
        sectorType: int,
        completion: IOStorageCompletion,
    ) -> int:
        return kIOReturnUnsupported

    def readISRC(self, track: int, isrc: bytearray) -> int:
        return kIOReturnUnsupported

    def readMCN(self, mcn: bytearray) -> int:
        return kIOReturnUnsupported

    def getSpeed(self, kilobytesPerSecond: UInt32Ref) -> int:
        return kIOReturnUnsupported

    def setSpeed(self, kilobytesPerSecond: int) -> int:
        return kIOReturnUnsupported

    def readDiscInfo(self, buffer: IOMemoryDescriptor, actualByteCount: UInt32Ref) -> int:
        return kIOReturnUnsupported

    def readTrackInfo(
        self,
        buffer: IOMemoryDescriptor,
        address: int,
        addressType: int,
        actualByteCount: UInt32Ref,
    ) -> int:
        return kIOReturnUnsupported
