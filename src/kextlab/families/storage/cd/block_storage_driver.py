"""IOCDBlockStorageDriver: the block storage driver of CD drives.

Mirrors ``IOCDBlockStorageDriver.h``/``.cpp`` of IOCDStorageFamily.  An
``IOBlockStorageDriver`` matched on ``IOCDBlockStorageDevice`` nubs (``device-type =
"CDROM"``) that, when a disc arrives, also learns its type
(``IOCDBlockStorageDevice.getMediaType``) and caches its table of contents (READ TOC
format 2, read twice as Apple does: the 4-byte header for the length, then the
whole), takes the disc's last block from the lead-out when the TOC says more than
the drive's capacity did, and publishes an ``IOCDMedia`` with ``TOC`` and ``Type``
and the CD icon.  A pressed disc (``kCDMediaTypeROM``) is never writable.

Departure: Apple's CD media are in raw 2352-byte sectors, read through
``doAsyncReadCD`` with a sector area and type, and an ``IOCDPartitionScheme`` splits
them into tracks of 2048-byte user data.  kextlab reads data discs only: its
``IOCDMedia`` has the drive's 2048-byte blocks (READ(10) of user data through
``doAsyncReadWrite``), so a data CD appears as one media of 2048-byte blocks, and
partition schemes (an Apple partition map on a hybrid CD) match it directly.

Threading rules: as ``IOBlockStorageDriver``.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Final

from kextlab.families.storage.block_storage_driver import IOBlockStorageDriver
from kextlab.families.storage.cd.block_storage_device import (
    IOCDBlockStorageDevice,
    kIOBlockStorageDeviceTypeCDROM,
)
from kextlab.families.storage.cd.media import (
    IOCDMedia,
    kIOCDMediaTOCKey,
    kIOCDMediaTypeKey,
    kIOCDMediaTypeR,
    kIOCDMediaTypeROM,
    kIOCDMediaTypeRW,
)
from kextlab.families.storage.cd.types import (
    cd_toc_last_lba,
    kCDMediaTypeR,
    kCDMediaTypeROM,
    kCDMediaTypeRW,
    kCDTOCFormatTOC,
)
from kextlab.families.storage.media import kIOMediaIconKey
from kextlab.kernel.ioreturn import (
    kIOReturnNoMemory,
    kIOReturnNotAttached,
    kIOReturnNotFound,
    kIOReturnSuccess,
)
from kextlab.kernel.memory.buffer import IOBufferMemoryDescriptor
from kextlab.kernel.memory.options import kIODirectionIn

if TYPE_CHECKING:
    from kextlab.families.storage.media import IOMedia
    from kextlab.kernel.memory.descriptor import IOMemoryDescriptor
    from kextlab.kernel.memory.refs import UInt32Ref

__all__ = ["IOCDBlockStorageDriver", "kIOCDBlockStorageDriverClass"]

kIOCDBlockStorageDriverClass: Final = "IOCDBlockStorageDriver"
_CDTOC_HEADER: Final = struct.Struct(">HBB")
_TYPES: Final = {
    kCDMediaTypeROM: (kIOCDMediaTypeROM, "CD.icns"),
    kCDMediaTypeR: (kIOCDMediaTypeR, "CD-R.icns"),
    kCDMediaTypeRW: (kIOCDMediaTypeRW, "CD-RW.icns"),
}


class IOCDBlockStorageDriver(IOBlockStorageDriver):
    """The driver of a CD drive and the disc in it."""

    def __init__(self) -> None:
        super().__init__()
        self._toc: bytes | None = None

    def getProvider(self) -> IOCDBlockStorageDevice | None:
        provider = super().getProvider()
        return provider if isinstance(provider, IOCDBlockStorageDevice) else None

    def getDeviceTypeName(self) -> str:
        return kIOBlockStorageDeviceTypeCDROM

    def getMediaType(self) -> int:
        return self._mediaType

    def getTOC(self) -> bytes | None:
        return self._toc

    def recordMediaParameters(self) -> int:
        result = super().recordMediaParameters()
        if result != kIOReturnSuccess:
            return result
        device = self.getProvider()
        if device is None:
            return kIOReturnNotAttached
        self._mediaType = device.getMediaType()
        if self._mediaType == kCDMediaTypeROM:
            self._writeProtected = True
        return kIOReturnSuccess

    def acceptNewMedia(self) -> int:
        """Cache the TOC (a disc without one is still accepted), then publish."""
        if self.cacheTocInfo() == kIOReturnSuccess and self._toc is not None:
            lead_out = cd_toc_last_lba(self._toc)
            if lead_out:
                self._maxBlockNumber = max(self._maxBlockNumber, lead_out - 1)
        return super().acceptNewMedia()

    def cacheTocInfo(self) -> int:
        """Read the full TOC from the drive into ``getTOC``."""
        self._toc = None
        header = self._read_toc(_CDTOC_HEADER.size)
        if isinstance(header, int):
            return header
        size = _CDTOC_HEADER.unpack_from(header)[0] + 2
        if size <= _CDTOC_HEADER.size:
            return kIOReturnNotFound
        toc = self._read_toc(size)
        if isinstance(toc, int):
            return toc
        self._toc = toc
        return kIOReturnSuccess

    def _read_toc(self, size: int) -> bytes | int:
        device = self.getProvider()
        if device is None:
            return kIOReturnNotAttached
        buffer = IOBufferMemoryDescriptor.withCapacity(size, kIODirectionIn)
        if buffer is None:
            return kIOReturnNoMemory
        try:
            result = device.readTOC(buffer)
            if result != kIOReturnSuccess:
                return result
            return bytes(buffer.getBytesNoCopy()[:size])
        finally:
            buffer.release()

    def readTOC(
        self,
        buffer: IOMemoryDescriptor,
        format: int = kCDTOCFormatTOC,
        formatAsTime: int = 1,
        trackOrSessionNumber: int = 0,
        actualByteCount: UInt32Ref | None = None,
    ) -> int:
        device = self.getProvider()
        if device is None:
            return kIOReturnNotAttached
        return device.readTOC(buffer, format, formatAsTime, trackOrSessionNumber, actualByteCount)

    def decommissionMedia(self, forcible: bool) -> int:
        result = super().decommissionMedia(forcible)
        if result == kIOReturnSuccess:
            self._toc = None
        return result

    def instantiateDesiredMediaObject(self) -> IOMedia:
        return IOCDMedia()

    def instantiateMediaObject(
        self, base: int, byteSize: int, blockSize: int, mediaName: str | None
    ) -> IOMedia | None:
        media = super().instantiateMediaObject(base, byteSize, blockSize, mediaName)
        if media is None:
            return None
        described = _TYPES.get(self._mediaType)
        if described is not None:
            description, picture = described
            media.setProperty(kIOCDMediaTypeKey, description)
            media.setProperty(
                kIOMediaIconKey,
                {
                    "CFBundleIdentifier": "com.apple.iokit.IOCDStorageFamily",
                    "IOBundleResourceFile": picture,
                },
            )
        if self._toc is not None:
            media.setProperty(kIOCDMediaTOCKey, self._toc)
        return media
