"""The Digital Semiconductor 21154 PCI-to-PCI bridge.

The bridge of the Power Macintosh G3 (Blue & White): ``pci-bridge@d`` in
``shared/data/oftrees/oftree.nw``, whose properties give its identity: vendor 0x1011,
device 0x0026, revision 2, class 0x060400, medium DEVSEL timing, fast back-to-back
capable.  It has no BARs, no expansion ROM and no interrupt pin.  Everything else is
the transparent bridge of ``kextlab.machine.pci.bridge``; the chip is only its identity,
as QEMU's chip variants are.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kextlab.machine.pci import registers as r
from kextlab.machine.pci.bridge import PCIBridge


class DEC21154(PCIBridge):
    """Digital Semiconductor 21154 PCI-to-PCI bridge (the Blue & White G3's)."""

    model = "dec21154"
    summary = "Digital 21154 PCI-to-PCI bridge (1011:0026), as in the Power Mac G3 B&W"

    VENDOR_ID = 0x1011
    DEVICE_ID = 0x0026
    REVISION_ID = 0x02

    def __init__(self, name: str, parameters: Mapping[str, Any]) -> None:
        super().__init__(name, parameters)
        self.set_identity(
            vendor_id=self.VENDOR_ID,
            device_id=self.DEVICE_ID,
            class_code=r.CLASS_BRIDGE_PCI << 8,
            revision_id=self.REVISION_ID,
        )
        self.set_status_capabilities(devsel=r.DEVSEL_MEDIUM, fast_back_to_back=True)
        self.config.set_bits(r.SEC_STATUS, 2, r.DEVSEL_MEDIUM << r.STATUS_DEVSEL_SHIFT)
