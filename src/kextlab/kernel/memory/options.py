"""Directions and option bits of memory descriptors, buffers and mappings.

Apple's values, from ``IOMemoryDescriptor.h`` (directions, ``kIOMemory*`` options),
``IOBufferMemoryDescriptor.h`` (the buffer options), ``IOMapTypes.h`` (``kIOMap*``
mapping options and cache modes) and ``IOTypes.h`` (the page size).  Where the
LP64 and 32-bit kernels differ (``kIOMemoryTypeVirtual64``), the LP64 value is
used: a kextlab kernel's word size changes where memory goes, not the API.

Threading rules: constants only.
"""

from __future__ import annotations

from typing import Final

#: The page size of every kextlab kernel (``PAGE_SIZE``, ``page_size``).
PAGE_SIZE: Final = 4096
PAGE_SHIFT: Final = 12
PAGE_MASK: Final = PAGE_SIZE - 1

# -- IODirection (IOMemoryDescriptor.h) ---------------------------------------------------------

kIODirectionNone: Final = 0x0
kIODirectionIn: Final = 0x1  # device -> memory ("read" from user land's point of view)
kIODirectionOut: Final = 0x2  # memory -> device
kIODirectionOutIn: Final = kIODirectionOut | kIODirectionIn
kIODirectionInOut: Final = kIODirectionIn | kIODirectionOut
kIODirectionPrepareToPhys32: Final = 0x0000_0004
kIODirectionPrepareNoFault: Final = 0x0000_0008
kIODirectionPrepareNonCoherent: Final = 0x0000_0020
kIODirectionCompleteWithError: Final = 0x0000_0040
kIODirectionCompleteWithDataValid: Final = 0x0000_0080

# -- IOMemoryDescriptor options (IOMemoryDescriptor.h) ------------------------------------------

kIOMemoryDirectionMask: Final = 0x0000_0007
kIOMemoryAutoPrepare: Final = 0x0000_0008
kIOMemoryTypeVirtual: Final = 0x0000_0010
kIOMemoryTypePhysical: Final = 0x0000_0020
kIOMemoryTypeUPL: Final = 0x0000_0030
kIOMemoryTypePersistentMD: Final = 0x0000_0040
kIOMemoryTypeUIO: Final = 0x0000_0050
kIOMemoryTypeVirtual64: Final = kIOMemoryTypeVirtual
kIOMemoryTypePhysical64: Final = kIOMemoryTypePhysical
kIOMemoryTypeMask: Final = 0x0000_00F0
kIOMemoryAsReference: Final = 0x0000_0100
kIOMemoryBufferPageable: Final = 0x0000_0400
kIOMemoryMapperNone: Final = 0x0000_0800
kIOMemoryHostOnly: Final = 0x0000_1000
kIOMemoryPersistent: Final = 0x0001_0000
kIOMemoryMapCopyOnWrite: Final = 0x0002_0000
kIOMemoryRemote: Final = 0x0004_0000
kIOMemoryThreadSafe: Final = 0x0010_0000
kIOMemoryClearEncrypt: Final = 0x0020_0000
kIOMemoryUseReserve: Final = 0x0080_0000

# -- IOBufferMemoryDescriptor options (IOBufferMemoryDescriptor.h) ------------------------------

kIOMemoryPhysicallyContiguous: Final = 0x0000_0010
kIOMemoryPageable: Final = 0x0000_0020
kIOMemoryPurgeable: Final = 0x0000_0040
kIOMemoryHostPhysicallyContiguous: Final = 0x0000_0080
kIOMemorySharingTypeMask: Final = 0x000F_0000
kIOMemoryUnshared: Final = 0x0000_0000
kIOMemoryKernelUserShared: Final = 0x0001_0000
kIOBufferDescriptorMemoryFlags: Final = (
    kIOMemoryDirectionMask
    | kIOMemoryThreadSafe
    | kIOMemoryClearEncrypt
    | kIOMemoryMapperNone
    | kIOMemoryUseReserve
)

# -- cache modes and mapping options (IOMapTypes.h) ---------------------------------------------

kIODefaultCache: Final = 0
kIOInhibitCache: Final = 1
kIOWriteThruCache: Final = 2
kIOCopybackCache: Final = 3
kIOWriteCombineCache: Final = 4
kIOCopybackInnerCache: Final = 5
kIOPostedWrite: Final = 6

kIOMapAnywhere: Final = 0x0000_0001
kIOMapCacheMask: Final = 0x0000_0F00
kIOMapCacheShift: Final = 8
kIOMapDefaultCache: Final = kIODefaultCache << kIOMapCacheShift
kIOMapInhibitCache: Final = kIOInhibitCache << kIOMapCacheShift
kIOMapWriteThruCache: Final = kIOWriteThruCache << kIOMapCacheShift
kIOMapCopybackCache: Final = kIOCopybackCache << kIOMapCacheShift
kIOMapWriteCombineCache: Final = kIOWriteCombineCache << kIOMapCacheShift
kIOMapCopybackInnerCache: Final = kIOCopybackInnerCache << kIOMapCacheShift
kIOMapPostedWrite: Final = kIOPostedWrite << kIOMapCacheShift
kIOMapUserOptionsMask: Final = 0x0000_0FFF
kIOMapReadOnly: Final = 0x0000_1000
kIOMapStatic: Final = 0x0100_0000
kIOMapReference: Final = 0x0200_0000
kIOMapUnique: Final = 0x0400_0000
kIOMapPrefault: Final = 0x1000_0000
kIOMapOverwrite: Final = 0x2000_0000
