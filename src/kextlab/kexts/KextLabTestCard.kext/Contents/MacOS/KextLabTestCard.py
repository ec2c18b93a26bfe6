"""KextLabTestCardDriver: a minimal PCI driver for the kextlab test card.

In the style of Apple's generic PCI samples (AppleSamplePCI): matched by
``IOPCIMatch`` on the card's vendor and device IDs, it maps BAR 0, checks the
card's identification register, enables memory decoding and bus mastering, and
publishes what it found as properties.  ``stop`` undoes ``start`` in reverse
order and tolerates a ``start`` that failed half way.

The driver runtime (work loops, interrupts, DMA) makes this a complete driver in
the runtime issue; this is the part matching, lifecycle and kext loading need.
"""

from __future__ import annotations

from kextlab.families.pci.device import IOPCIDevice
from kextlab.kernel.libkern.object import OSDynamicCast
from kextlab.kernel.memory.device_memory import IOMemoryMap
from kextlab.kernel.service.service import IOService

#: The test card's datasheet (``kextlab.machine.devices.testcard_registers``):
#: the registers a driver needs, spelled out here as a driver author would.
IDENTIFICATION = 0x00
VERSION = 0x04
CONTROL = 0x08
CONTROL_SOFT_RESET = 0x1
EXPECTED_IDENTIFICATION = 0x4B4C5443  # "KLTC"
SRAM_BAR = 0x18


class KextLabTestCardDriver(IOService):
    """The test card's driver."""

    def __init__(self) -> None:
        super().__init__()
        self.device: IOPCIDevice | None = None
        self.registers: IOMemoryMap | None = None

    def start(self, provider: IOService) -> bool:
        if not super().start(provider):
            return False
        device = OSDynamicCast(IOPCIDevice, provider)
        if device is None:
            return False
        self.device = device
        registers = device.mapDeviceMemoryWithIndex(0)
        if registers is None:
            self.stop(provider)
            return False
        self.registers = registers
        identification = registers.ioRead32(IDENTIFICATION)
        if identification != EXPECTED_IDENTIFICATION:
            self.setProperty("KextLabTestCardError", f"bad identification {identification:#x}")
            self.stop(provider)
            return False
        device.setMemoryEnable(True)
        device.setBusMasterEnable(True)
        registers.ioWrite32(CONTROL, CONTROL_SOFT_RESET)
        version = registers.ioRead32(VERSION)
        self.setProperty("Card Version", f"{version >> 16}.{version & 0xFFFF}")
        self.setProperty("Registers", registers.getPhysicalAddress(), 64)
        sram = device.getDeviceMemoryWithRegister(SRAM_BAR)
        self.setProperty("SRAM Size", sram.getLength() if sram is not None else 0, 32)
        self.registerService()
        return True

    def stop(self, provider: IOService) -> None:
        if self.device is not None:
            self.device.setBusMasterEnable(False)
        if self.registers is not None:
            self.registers.release()
            self.registers = None
        self.device = None
        super().stop(provider)
