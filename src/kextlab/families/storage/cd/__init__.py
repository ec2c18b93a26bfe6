"""IOCDStorageFamily: CD block storage and media (``com.apple.iokit.IOCDStorageFamily``).

types.py                  IOCDTypes.h: media types, TOC formats, CDTOC, MSF/LBA
block_storage_device.py   IOCDBlockStorageDevice: the nub a CD transport implements
block_storage_driver.py   IOCDBlockStorageDriver: the TOC, 2048-byte data blocks
media.py                  IOCDMedia (``TOC``, ``Type``)
media_bsd_client.py       IOCDMediaBSDClient
kext.py                   the family as a built-in library kext
"""
