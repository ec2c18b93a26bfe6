"""IOCDMedia: the media object of a CD.

Mirrors ``IOCDMedia.h``/``.cpp`` of IOCDStorageFamily.  An ``IOMedia`` made by
``IOCDBlockStorageDriver`` that also publishes the disc's table of contents, ``TOC``
(the ``CDTOC`` bytes), and its ``Type`` (``"CD-ROM"``, ``"CD-R"``, ``"CD-RW"``).
``getTOC`` returns the cached TOC; ``readTOC`` asks the drive again (any format).

Threading rules: as ``IOMedia``; ``readTOC`` blocks (it sends the drive a command).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from kextlab.families.storage.cd.types import kCDTOCFormatTOC
from kextlab.families.storage.media import IOMedia
from kextlab.families.storage.storage import kIOStorageAccessNone
from kextlab.kernel.ioreturn import kIOReturnNoMedia, kIOReturnNotOpen, kIOReturnUnsupported
from kextlab.kernel.libkern.values import OSData

if TYPE_CHECKING:
    from kextlab.kernel.memory.descriptor import IOMemoryDescriptor
    from kextlab.kernel.memory.refs import UInt32Ref
    from kextlab.kernel.service.service import IOService

__all__ = [
    "IOCDMedia",
    "kIOCDMediaClass",
    "kIOCDMediaTOCKey",
    "kIOCDMediaTypeKey",
    "kIOCDMediaTypeR",
    "kIOCDMediaTypeROM",
    "kIOCDMediaTypeRW",
]

kIOCDMediaClass: Final = "IOCDMedia"
kIOCDMediaTOCKey: Final = "TOC"
kIOCDMediaTypeKey: Final = "Type"
kIOCDMediaTypeROM: Final = "CD-ROM"
kIOCDMediaTypeR: Final = "CD-R"
kIOCDMediaTypeRW: Final = "CD-RW"


class IOCDMedia(IOMedia):
    """A CD in a drive."""

    def getTOC(self) -> bytes | None:
        """The disc's TOC as read when it arrived (``CDTOC`` bytes), or None."""
        toc = self.getProperty(kIOCDMediaTOCKey)
        return bytes(toc) if isinstance(toc, OSData) else None

    def readTOC(
        self,
        client: IOService,
        buffer: IOMemoryDescriptor,
        format: int = kCDTOCFormatTOC,
        formatAsTime: int = 1,
        trackOrSessionNumber: int = 0,
        actualByteCount: UInt32Ref | None = None,
    ) -> int:
        """Read the TOC (or PMA, ATIP...) from the drive into ``buffer``."""
        from kextlab.families.storage.cd.block_storage_driver import IOCDBlockStorageDriver

        if self.isInactive():
            return kIOReturnNoMedia
        if self._openLevel == kIOStorageAccessNone:
            return kIOReturnNotOpen
        driver = self.getProvider()
        if not isinstance(driver, IOCDBlockStorageDriver):
            return kIOReturnUnsupported
        return driver.readTOC(buffer, format, formatAsTime, trackOrSessionNumber, actualByteCount)
