"""A disk's write cache: the WCE bit of the caching mode page, read and changed.

Mirrors ``IOSCSIBlockCommandsDevice::GetWriteCacheState`` and ``SetWriteCacheState``
(IOSCSIArchitectureModelFamily ``IOSCSIBlockCommandsDevice.cpp``), which the driver's
methods of those names call.  Reading is Apple's two MODE SENSE(6)s of the caching
page's current values (0x08): the 4-byte header first, for the length and the block
descriptors, then the page itself; WCE is bit 2 of the page's byte 2.  Changing it
reads the whole parameter list (header, block descriptor, page), clears the PS bit
and the reserved MODE DATA LENGTH, sets or clears WCE and sends it back with MODE
SELECT(6), page format.  As Apple's, removable media are not asked (such devices
seldom have a cache, and some mishandle MODE SENSE of pages they lack):
``kIOReturnUnsupported``.

Threading rules: kernel threads only; each call sends synchronous commands.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kextlab.families.scsi.peripheral_definitions import (
    CACHING_PAGE_MINIMUM_SIZE,
    CACHING_PAGE_SIZE,
    kModePageControlCurrentValues,
    kModePageFormat_PAGE_CODE_Mask,
    kModeSense6ParameterHeaderSize,
    kSBCModePageCaching_WCE_Mask,
    kSBCModePageCachingCode,
    kTenSecondTimeoutInMS,
)
from kextlab.kernel.ioreturn import (
    kIOReturnError,
    kIOReturnNoResources,
    kIOReturnSuccess,
    kIOReturnUnsupported,
)
from kextlab.kernel.memory.buffer import IOBufferMemoryDescriptor
from kextlab.kernel.memory.options import kIODirectionInOut

if TYPE_CHECKING:
    from kextlab.families.scsi.block_commands import IOSCSIBlockCommandsDevice
    from kextlab.kernel.memory.descriptor import IOMemoryDescriptor
    from kextlab.kernel.memory.refs import BoolRef


def caching_page(device: IOSCSIBlockCommandsDevice, buffer: IOMemoryDescriptor) -> int:
    """MODE SENSE(6) of the caching page's current values into ``buffer``."""
    request = device.GetSCSITask()
    try:
        if not device.MODE_SENSE_6(
            request,
            buffer,
            0x00,
            kModePageControlCurrentValues,
            kSBCModePageCachingCode,
            buffer.getLength(),
            0x00,
        ):
            return kIOReturnError
        if (
            device.command_succeeds(request, kTenSecondTimeoutInMS)
            and request.GetRequestedDataTransferCount() == request.GetRealizedDataTransferCount()
        ):
            return kIOReturnSuccess
        return kIOReturnError
    finally:
        device.ReleaseSCSITask(request)


def read_caching_page(
    device: IOSCSIBlockCommandsDevice, *, full: bool
) -> tuple[int, IOBufferMemoryDescriptor | None, int]:
    """(status, the mode parameter list holding the caching page, the page's offset
    in it); ``full`` asks for the header, block descriptors and whole page (what
    MODE SELECT must send back), otherwise just enough to read the flags."""
    if device.fMediaIsRemovable:  # removable devices seldom have a cache; Apple asks none
        return (kIOReturnUnsupported, None, 0)
    header = device.data_buffer(kModeSense6ParameterHeaderSize)
    status = caching_page(device, header)
    data = bytes(header.getBytesNoCopy())
    header.release()
    if status != kIOReturnSuccess:
        return (status, None, 0)
    size = data[0] + 1
    descriptors = data[3] if data[3] % 8 == 0 else 0
    offset = kModeSense6ParameterHeaderSize + descriptors
    if size < offset + CACHING_PAGE_MINIMUM_SIZE:
        return (kIOReturnError, None, 0)
    if not full:
        size = min(size, offset + CACHING_PAGE_SIZE)
    buffer = IOBufferMemoryDescriptor.withCapacity(size, kIODirectionInOut)
    if buffer is None:
        return (kIOReturnNoResources, None, 0)
    status = caching_page(device, buffer)
    page = buffer.getBytesNoCopy()
    if status == kIOReturnSuccess and (
        page[offset] & kModePageFormat_PAGE_CODE_Mask != kSBCModePageCachingCode
    ):
        status = kIOReturnError
    if status != kIOReturnSuccess:
        buffer.release()
        return (status, None, 0)
    return (kIOReturnSuccess, buffer, offset)


def get_write_cache_state(device: IOSCSIBlockCommandsDevice, enabled: BoolRef) -> int:
    status, buffer, offset = read_caching_page(device, full=False)
    if buffer is None:
        return status
    enabled.value = bool(buffer.getBytesNoCopy()[offset + 2] & kSBCModePageCaching_WCE_Mask)
    buffer.release()
    return kIOReturnSuccess


def set_write_cache_state(device: IOSCSIBlockCommandsDevice, enabled: bool) -> int:
    status, buffer, offset = read_caching_page(device, full=True)
    if buffer is None:
        return status
    data = buffer.getBytesNoCopy()
    data[0] = 0  # MODE DATA LENGTH is reserved in MODE SELECT
    data[offset] = kSBCModePageCachingCode  # without the PS bit
    if enabled:
        data[offset + 2] |= kSBCModePageCaching_WCE_Mask
    else:
        data[offset + 2] &= ~kSBCModePageCaching_WCE_Mask & 0xFF
    request = device.GetSCSITask()
    try:
        if not device.MODE_SELECT_6(request, buffer, 1, 0, buffer.getLength(), 0):
            return kIOReturnError
        if device.command_succeeds(request, kTenSecondTimeoutInMS):
            device.fWriteCacheEnabled = enabled
            return kIOReturnSuccess
        return kIOReturnError
    finally:
        device.ReleaseSCSITask(request)
        buffer.release()


__all__ = ["caching_page", "get_write_cache_state", "read_caching_page", "set_write_cache_state"]
