"""IOStorageFamily: block storage, media and partitions (``com.apple.iokit.IOStorageFamily``).

One module per concept (mirrors in parentheses, all of IOStorageFamily):

    storage.py                IOStorage, IOStorageAttributes, IOStorageCompletion, the
                              IOStorageAccess/Option/Priority constants (IOStorage.h)
    block_storage_device.py   IOBlockStorageDevice: the nub a transport implements
                              (IOBlockStorageDevice.h), the transfer-limit and
                              characteristics keys, the media messages
    block_storage_driver.py   IOBlockStorageDriver: lifecycle, opens, statistics
    request_pipeline.py       its reads and writes: prepare, deblock, break up, execute
    media_management.py       its media: arrival, departure, eject, format, polling
    deblocker.py              IODeblocker: requests rounded out to blocks
    breaker.py                IOBreaker: requests cut to the device's limits
    media.py                  IOMedia (IOMedia.cpp)
    partition_scheme.py       IOPartitionScheme (IOPartitionScheme.cpp)
    apple_partition_scheme.py IOApplePartitionScheme (APM)
    fdisk_partition_scheme.py IOFDiskPartitionScheme (MBR)
    guid_partition_scheme.py  IOGUIDPartitionScheme (GPT)
    media_bsd_client.py       IOMediaBSDClient: BSD names, units, majors and minors
    kext.py                   the family as a built-in library kext (Info.plist beside it)
    cd/                       IOCDStorageFamily (``com.apple.iokit.IOCDStorageFamily``)

``kextlab.testing.partitions`` builds disk images with APM, MBR and GPT maps.
"""
