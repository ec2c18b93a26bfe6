"""IOSCSIParallelFamily: the HBA driver contract (built-in library kext
``com.apple.iokit.IOSCSIParallelFamily``), spec ``scsi.md`` §1.

    characteristics     SCSIParallelFeature and the controller's property keys
    parallel_task       SCSIParallelTask (the pooled per-command HBA object)
    task_pool           the pool of parallel tasks
    timer               SCSIParallelTimer (the controller's timeout list)
    task_accessors      the controller's SCSIParallelTaskIdentifier accessors
    controller          IOSCSIParallelInterfaceController (lifecycle, pool, targets)
    interface_device    IOSCSIParallelInterfaceDevice (one per target)
    kext                the family as a library kext
"""
