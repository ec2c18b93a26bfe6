"""IOSCSIArchitectureModelFamily: SCSI tasks, the protocol interface, targets and
logical units, and the peripheral drivers above them (built-in library kext
``com.apple.iokit.IOSCSIArchitectureModelFamily``).

One concept per module:

    definitions           Apple's SAM constants, sense, INQUIRY and REPORT LUNS helpers
    task                  SCSITask
    protocol_interface    IOSCSIProtocolInterface (ExecuteCommand, protocol features)
    protocol_services     IOSCSIProtocolServices (the task queue, autosense, completion)
    target_device         IOSCSITargetDevice (presence, INQUIRY, the LUN scan)
    peripheral_nub        IOSCSIPeripheralDeviceNub, IOSCSILogicalUnitNub
    user_client           SCSITaskUserClientIniter, SCSITaskUserClient (pass-through
                          for units no in-kernel driver takes)

    The peripheral drivers:

    peripheral_definitions  constants of Apple's peripheral driver headers
    command_sets          SCSIPrimary/Block/MultimediaCommands: CDBs by the standards
    command_builders      the drivers' builder methods (TEST_UNIT_READY, READ_10 ...)
    outcomes              a completed task's sense, words and IOReturn
    primary_commands      IOSCSIPrimaryCommandsDevice (tasks, SendCommand, bring-up)
    media_polling         MediumPoller: the once-a-second poll for removable media
    block_commands        IOSCSIBlockCommandsDevice, IOSCSIPeripheralDeviceType00
    write_cache           a disk's write cache (the caching mode page)
    block_storage_services  IOBlockStorageServices (the disk's storage nub)
    services_requests     client data and retries of the storage nubs
    multimedia_commands   IOSCSIMultimediaCommandsDevice, IOSCSIPeripheralDeviceType05
    multimedia_features   a drive's feature profiles and mechanical capabilities
    compact_disc_services IOCompactDiscServices (the CD drive's storage nub)
    kext                  the family as a library kext

The SCSI Parallel family (``kextlab.families.scsi.parallel``) is a kext of its own.
"""
