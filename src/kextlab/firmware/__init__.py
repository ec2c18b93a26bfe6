"""Open Firmware: PCI probing and resource assignment, and the device tree.

Public surface::

    OpenFirmware           power-on: probe PCI, build the device tree
    DeviceTree, DeviceTreeNode     the tree, its properties and paths
    read_mol_tree          Mac-on-Linux text device trees (real PowerMac trees)
    list_tree, format_properties   the ``ls`` and ``.properties`` renderings

Later parts of the firmware (NVRAM, the Forth console, boot devices, expansion-ROM
drivers) join this package.
"""

from kextlab.firmware.devicetree import DeviceTree, DeviceTreeNode
from kextlab.firmware.openfirmware import FIRMWARE_VERSION, OpenFirmware

__all__ = ["FIRMWARE_VERSION", "DeviceTree", "DeviceTreeNode", "OpenFirmware"]
