"""Devices the firmware knows by ID: names and types it gives them without FCode.

Open Firmware builds ``name``, ``compatible``, ``model`` and ``device_type`` from
FCode in the card's ROM; for on-board chips without FCode, real firmware carries a
table (OpenBIOS ``drivers/pci_database.c`` is the public example).  The values here
are copied from real Apple device trees, so that our nodes for the same chips read
exactly like theirs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class KnownDevice:
    name: str
    compatible: tuple[str, ...]
    model: str | None = None
    device_type: str | None = None
    source: str = ""


KNOWN_DEVICES: Final[dict[tuple[int, int], KnownDevice]] = {
    (0x1011, 0x0026): KnownDevice(
        name="pci-bridge",
        compatible=("DEC,21154", "pci-bridge"),
        model="DEC,21154",
        device_type="pci",
        source="shared/data/oftrees/oftree.nw, /pci/pci-bridge (Power Mac G3 B&W, OF 3.1.1)",
    ),
}


def known_device(vendor_id: int, device_id: int) -> KnownDevice | None:
    return KNOWN_DEVICES.get((vendor_id, device_id))
