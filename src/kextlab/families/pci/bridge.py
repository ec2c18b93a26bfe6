"""IOPCIBridge and IOPCI2PCIBridge: publishing PCI nubs and matching them.

Mirrors IOPCIFamily's ``IOPCIBridge.cpp``:

* A bridge driver's ``start`` publishes one ``IOPCIDevice`` per PCI node below its
  provider in the device tree (``publishNubs``).  As on a device-tree Mac, the
  nub *replaces* the device-tree entry (``nub->init(from, gIODTPlane)``): the same
  object is the node in ``IODeviceTree`` and the nub in ``IOService``, with the
  node's properties.  The bridge gives it its location, ``"%X"`` or ``"%X,%X"``
  (device, function; upper-case hex, function left out when 0), the ``IOName`` and
  ``pcidebug`` IOPCIConfigurator writes (spec §1.6), its device memory (the
  firmware's ``assigned-addresses``), its interrupt properties
  (``IODTMapInterrupts``: ``IOInterruptControllers``, ``IOInterruptSpecifiers``,
  through the bus nodes' ``interrupt-map``), and a shadow of its configuration
  registers 0x00, 0x08 and 0x2C for matching; then attaches and registers it.
* ``matchNubWithPropertyTable`` is register matching (``pciMatchNub``, spec §2.2:
  ``kextlab.families.pci.match_keys``), with the +1000 vendor/device bonus only on
  kernels whose IOPCIFamily has it (arm64), then the Thunderbolt rule for
  tunnelled nubs.  ``compareNubName`` is ``IODTCompareNubName``
  (``kextlab.families.pci.names``).
* ``IOPCI2PCIBridge`` drives a PCI-to-PCI bridge nub; its ``probe`` lowers the
  score by 100, which is why every running bridge on a Mac shows
  ``IOProbeScore = -100``.

Configuration cycles go up the bridges to the host bridge driver, which makes them
on the machine's host bridge (each costs virtual time).

Threading rules: ``start`` runs on a config thread; configuration accessors on any
kernel thread or the entered host.
"""

from __future__ import annotations

from typing import Final

from kextlab.families.pci.device import IOPCIDevice
from kextlab.families.pci.match_keys import (
    PCIConfigRegisters,
    pci_match_nub,
    vendor_device_bonus_for_arch,
)
from kextlab.families.pci.names import compare_nub_name, pci_location, pci_nub_name
from kextlab.kernel.libkern.collections import OSDictionary
from kextlab.kernel.libkern.values import OSBoolean, OSData, OSString
from kextlab.kernel.memory.device_memory import IODeviceMemory
from kextlab.kernel.platform.interrupt_map import IODTMapInterrupts
from kextlab.kernel.registry.entry import IORegistryEntry
from kextlab.kernel.registry.registry import kIODeviceTreePlane
from kextlab.kernel.service.service import IOService, ScoreRef

#: The personality keys ``pciMatchNub`` reads.
PCI_MATCH_KEYS: Final = (
    "IOPCIMatch",
    "IOPCIPrimaryMatch",
    "IOPCISecondaryMatch",
    "IOPCIClassMatch",
)

_PHYS_SPACE_IO = 1


class IOPCIBridge(IOService):
    """A bridge driver: publishes the PCI nubs behind it and matches them."""

    # -- configuration cycles ---------------------------------------------------------------------

    def config_read(self, bus: int, device: int, function: int, offset: int, size: int) -> int:
        """A configuration read on the bus behind this bridge (subclasses make it)."""
        provider = self.getProvider()
        if isinstance(provider, IOPCIDevice) and provider.bridge is not None:
            return provider.bridge.config_read(bus, device, function, offset, size)
        return (1 << (size * 8)) - 1  # no host behind: a master abort reads all ones

    def config_write(
        self, bus: int, device: int, function: int, offset: int, size: int, value: int
    ) -> None:
        provider = self.getProvider()
        if isinstance(provider, IOPCIDevice) and provider.bridge is not None:
            provider.bridge.config_write(bus, device, function, offset, size, value)

    def configRead(self, nub: IOPCIDevice, offset: int, size: int) -> int:
        return self.config_read(
            nub.bus_number, nub.device_number, nub.function_number, offset, size
        )

    def configWrite(self, nub: IOPCIDevice, offset: int, size: int, value: int) -> None:
        self.config_write(
            nub.bus_number, nub.device_number, nub.function_number, offset, size, value
        )

    # -- matching ---------------------------------------------------------------------------------

    def matchNubWithPropertyTable(
        self, nub: IOPCIDevice, table: OSDictionary, score: ScoreRef
    ) -> bool:
        """Register matching, then the Thunderbolt rule (IOPCIBridge.cpp l.4586)."""
        keys: dict[str, object] = {}
        for key in PCI_MATCH_KEYS:
            value = table.getObject(key)
            if value is not None:
                keys[key] = value.getCStringNoCopy() if isinstance(value, OSString) else value
        result = pci_match_nub(
            keys,
            nub.saved_config,
            vendor_device_bonus=vendor_device_bonus_for_arch(self.globals.arch),
        )
        if result is None:
            return False
        score.value += result.score_delta
        return self._tunnel_compatible(nub, table)

    def _tunnel_compatible(self, nub: IOPCIDevice, table: OSDictionary) -> bool:
        if nub.getProperty("IOPCITunnelled") is None:
            return True
        driver = table.getObject("IOClass")
        if not isinstance(driver, OSString) or str(driver) == "IOPCI2PCIBridge":
            return True
        compatible = table.getObject("IOPCITunnelCompatible")
        if compatible is None:
            self.globals.log(f'Driver "{driver}" needs "IOPCITunnelCompatible" key in plist')
        return not (isinstance(compatible, OSBoolean) and compatible.isFalse())

    def compareNubName(self, nub: IOPCIDevice, name: str) -> str | None:
        return compare_nub_name(nub.property_for_name_matching, name)

    # -- publishing nubs --------------------------------------------------------------------------

    def start(self, provider: IOService) -> bool:
        if not super().start(provider):
            return False
        self.publishNubs(provider)
        self.registerService()
        return True

    def publishNubs(self, provider: IOService) -> None:
        """A nub for every PCI node below ``provider`` in the device tree."""
        registry = self.registry
        if registry is None:
            return
        plane = registry.plane(kIODeviceTreePlane)
        for node in provider.getChildren(plane):
            reg = node.getProperty("reg")
            if not isinstance(reg, OSData) or reg.getLength() < 4:
                continue
            nub = self.createNub(node)
            try:
                self.publishNub(nub)
            finally:
                nub.release()

    def createNub(self, node: IORegistryEntry) -> IOPCIDevice:
        """An ``IOPCIDevice`` that takes over device-tree entry ``node``."""
        assert self.registry is not None
        nub = IOPCIDevice()
        nub.init(node, self.registry.plane(kIODeviceTreePlane))
        reg = node.getProperty("reg")
        assert isinstance(reg, OSData)
        phys_hi = int.from_bytes(reg.getBytesNoCopy(0, 4), "big")
        nub.bus_number = (phys_hi >> 16) & 0xFF
        nub.device_number = (phys_hi >> 11) & 0x1F
        nub.function_number = (phys_hi >> 8) & 0x7
        nub.bridge = self
        return nub

    def publishNub(self, nub: IOPCIDevice) -> bool:
        """Give ``nub`` its location, properties and ranges; attach and register it."""
        nub.saved_config = PCIConfigRegisters(
            self.configRead(nub, 0x00, 4),
            self.configRead(nub, 0x2C, 4),
            self.configRead(nub, 0x08, 4),
        )
        nub.setLocation(pci_location(nub.device_number, nub.function_number))
        registers = nub.saved_config
        nub.setProperty(
            "IOName", pci_nub_name(registers.vendor, registers.device, registers.class_code)
        )
        nub.setProperty("pcidebug", f"{nub.bus_number}:{nub.device_number}:{nub.function_number}")
        nub.set_device_memory(assigned_ranges(nub))
        IODTMapInterrupts(nub)
        if not nub.attach(self):
            return False
        nub.registerService()
        return True


def assigned_ranges(nub: IORegistryEntry) -> list[IODeviceMemory]:
    """The ranges of ``assigned-addresses`` (five cells each: phys.hi, phys.mid,
    phys.lo, size.hi, size.lo), in property order (``getDTNubAddressing``)."""
    assigned = nub.getProperty("assigned-addresses")
    if not isinstance(assigned, OSData):
        return []
    data = assigned.getBytesNoCopy()
    ranges = []
    for start in range(0, len(data) - 19, 20):
        cells = [int.from_bytes(data[start + 4 * i : start + 4 * i + 4], "big") for i in range(5)]
        phys_hi, phys_mid, phys_lo, size_hi, size_lo = cells
        space = (phys_hi >> 24) & 0x3
        ranges.append(
            IODeviceMemory(
                (phys_mid << 32) | phys_lo,
                (size_hi << 32) | size_lo,
                io=space == _PHYS_SPACE_IO,
                register=phys_hi & 0xFF,
            )
        )
    return ranges


class IOPCI2PCIBridge(IOPCIBridge):
    """The driver of a PCI-to-PCI bridge nub."""

    def probe(self, provider: IOService, score: ScoreRef) -> IOService | None:
        score.value -= 100
        return super().probe(provider, score)


class KextLabPCIHostBridge(IOPCIBridge):
    """The host bridge driver of kextlab's machines (Apple's ``AppleMacRiscPCI``
    and ``AppleACPIPCI`` play this part on Macs): configuration cycles go to the
    machine's host bridge."""

    def config_read(self, bus: int, device: int, function: int, offset: int, size: int) -> int:
        machine = self.globals.machine
        if machine is None:
            return (1 << (size * 8)) - 1
        return machine.config_read(bus, device, function, offset, size)

    def config_write(
        self, bus: int, device: int, function: int, offset: int, size: int, value: int
    ) -> None:
        machine = self.globals.machine
        if machine is not None:
            machine.config_write(bus, device, function, offset, size, value)
