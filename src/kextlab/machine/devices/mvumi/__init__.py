"""The Marvell UMI RAID controllers (88SE9143, 88SE9580), the HBA of kextlab's SCSI stack.

Modules, one concept each::

    registers   the datasheet: offsets, bits, handshake pages, frame formats
    device      the PCI functions (MarvellUMI9143, MarvellUMI9580) and their registers
    firmware    the firmware: states, doorbells, resets, handshake glue, hot-plug, events
    handshake   the handshake steps and pages, firmware side
    message_unit  the running data path: lists, commands in flight, responses
    rings       the inbound and outbound lists and their toggle pointers
    frames      inbound frames and SG lists, the DataBuffer over them, response frames
    events      the firmware's event log and the event command's reply

The hardware model follows the Linux ``mvumi`` driver (``shared/spec/scsi.md`` §2).
"""

from kextlab.machine.devices.mvumi.device import MarvellUMI, MarvellUMI9143, MarvellUMI9580

__all__ = ["MarvellUMI", "MarvellUMI9143", "MarvellUMI9580"]
