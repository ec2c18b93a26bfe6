"""MarvellUMI.kext: the driver of the Marvell UMI RAID controllers (88SE9143, 88SE9580).

An ``IOSCSIParallelInterfaceController`` subclass matched by ``IOPCIMatch`` on the
two chips (``Info.plist``), boot-capable (``OSBundleRequired = Local-Root``, as seed
000 asks of a driver one may boot from).  One module per concept:

=========================  ===============================================================
``registers``              the chips: offsets, bits, handshake constants, frame layouts
``handshake``              waking the firmware and the four-page handshake
``lists``                  the communication lists in host memory, pointers, tags
``frames``                 command frames, SG entries (an IODMACommand segment
                           function), responses, the event list
``command_path``           submission, interrupts, completion, timeouts, the
                           driver's own commands
``device_management``      the driver's thread: scans, events, resets
``driver``                 ``MarvellUMI``: the I/O Kit class, its lifecycle and what
                           it reports to the family
=========================  ===============================================================

Threading rules: see each module.
"""

from __future__ import annotations

from .driver import MarvellUMI

__all__ = ["MarvellUMI"]
