"""IOPCIDevice: the nub of one PCI function.

Mirrors IOPCIFamily's ``IOPCIDevice.cpp`` and ``IOKit/pci/IOPCIDevice.h``: what a
PCI driver calls on its provider.

* **Matching**: ``matchPropertyTable`` hands the personality to the bridge above
  (``IOPCIBridge::matchNubWithPropertyTable``: register matching on the saved
  configuration, spec §2); ``compareName`` to the bridge's ``compareNubName``
  (``name``, ``compatible``, ``device_type``, ``model``, with ``*`` wildcards,
  spec §1.6); ``matchLocation`` answers for itself, so an ``IOLocationMatch``
  dict is tested against the nearest PCI device.
* **Configuration space** through the bridge: ``configRead8/16/32``,
  ``configWrite8/16/32``, the ``extendedConfig...`` forms (offsets up to 4 KiB),
  ``setMemoryEnable``/``setIOEnable``/``setBusMasterEnable`` (each returns the
  previous setting, as Apple's do).
* **Device memory**: the ranges the firmware assigned, one per BAR, in the order
  of ``assigned-addresses``; ``getDeviceMemoryWithRegister`` finds a BAR by its
  configuration offset; ``mapDeviceMemoryWithIndex`` maps one
  (``IOMemoryMap`` with ``ioRead32``/``ioWrite32`` ...).  Apple's
  ``ioRead32(offset, map)`` family is here too, defaulting to BAR 0's map.

``saved_config`` is the shadow of the registers 0x00, 0x08 and 0x2C taken when the
bridge published the nub (IOPCIFamily's ``savedConfig``); matching reads it, never
the live registers.

Threading rules: configuration and register accesses are CPU accesses (virtual
time, preemption points); call them from kernel threads or the entered host.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kextlab.families.pci.match_keys import PCIConfigRegisters
from kextlab.kernel.libkern.collections import OSDictionary
from kextlab.kernel.libkern.object import OSDynamicCast
from kextlab.kernel.memory.device_memory import IODeviceMemory, IOMemoryMap
from kextlab.kernel.platform.names import name_matching_property
from kextlab.kernel.service.service import IOService, ScoreRef

if TYPE_CHECKING:
    from kextlab.families.pci.bridge import IOPCIBridge

kIOPCIConfigCommand = 0x04
kIOPCICommandIOSpace = 0x0001
kIOPCICommandMemorySpace = 0x0002
kIOPCICommandBusMaster = 0x0004


class IOPCIDevice(IOService):
    """A PCI function, as its driver sees it."""

    def __init__(self) -> None:
        super().__init__()
        self.bridge: IOPCIBridge | None = None
        self.bus_number = 0
        self.device_number = 0
        self.function_number = 0
        self.saved_config = PCIConfigRegisters(0, 0, 0)
        self._memory: list[IODeviceMemory] = []
        self._maps: dict[int, IOMemoryMap] = {}

    # -- identity ---------------------------------------------------------------------------------

    def getBusNumber(self) -> int:
        return self.bus_number

    def getDeviceNumber(self) -> int:
        return self.device_number

    def getFunctionNumber(self) -> int:
        return self.function_number

    # -- matching ---------------------------------------------------------------------------------

    def provider_bridge(self) -> IOPCIBridge | None:
        """The bridge above in the service plane (``OSDynamicCast(IOPCIBridge,
        copyParentEntry(gIOServicePlane))``): the one that matches this nub."""
        from kextlab.families.pci.bridge import IOPCIBridge

        return OSDynamicCast(IOPCIBridge, self.getProvider())

    def matchPropertyTable(self, table: OSDictionary, score: ScoreRef) -> bool:
        bridge = self.provider_bridge()
        return bridge is not None and bridge.matchNubWithPropertyTable(self, table, score)

    def compareName(self, name: str) -> str | None:
        bridge = self.provider_bridge()
        if bridge is None:
            return super().compareName(name)
        return bridge.compareNubName(self, name)

    def matchLocation(self, client: IOService) -> IOService | None:
        return self

    def property_for_name_matching(self, key: str) -> bytes | str | None:
        """A property as ``IODTCompareNubName`` reads it: data bytes or a string."""
        return name_matching_property(self, key)

    # -- configuration space ----------------------------------------------------------------------

    def _bridge(self) -> IOPCIBridge:
        if self.bridge is None:
            raise ValueError(f"{self!r} has no bridge to reach its configuration space")
        return self.bridge

    def configRead32(self, offset: int) -> int:
        return self._bridge().configRead(self, offset & 0xFC, 4)

    def configRead16(self, offset: int) -> int:
        return self._bridge().configRead(self, offset & 0xFE, 2)

    def configRead8(self, offset: int) -> int:
        return self._bridge().configRead(self, offset & 0xFF, 1)

    def configWrite32(self, offset: int, data: int) -> None:
        self._bridge().configWrite(self, offset & 0xFC, 4, data)

    def configWrite16(self, offset: int, data: int) -> None:
        self._bridge().configWrite(self, offset & 0xFE, 2, data)

    def configWrite8(self, offset: int, data: int) -> None:
        self._bridge().configWrite(self, offset & 0xFF, 1, data)

    def extendedConfigRead32(self, offset: int) -> int:
        return self._bridge().configRead(self, offset & 0xFFC, 4)

    def extendedConfigRead16(self, offset: int) -> int:
        return self._bridge().configRead(self, offset & 0xFFE, 2)

    def extendedConfigRead8(self, offset: int) -> int:
        return self._bridge().configRead(self, offset & 0xFFF, 1)

    def extendedConfigWrite32(self, offset: int, data: int) -> None:
        self._bridge().configWrite(self, offset & 0xFFC, 4, data)

    def extendedConfigWrite16(self, offset: int, data: int) -> None:
        self._bridge().configWrite(self, offset & 0xFFE, 2, data)

    def extendedConfigWrite8(self, offset: int, data: int) -> None:
        self._bridge().configWrite(self, offset & 0xFFF, 1, data)

    def _set_command_bits(self, bits: int, enable: bool) -> bool:
        command = self.configRead16(kIOPCIConfigCommand)
        was = bool(command & bits)
        updated = command | bits if enable else command & ~bits
        if updated != command:
            self.configWrite16(kIOPCIConfigCommand, updated)
        return was

    def setMemoryEnable(self, enable: bool) -> bool:
        return self._set_command_bits(kIOPCICommandMemorySpace, enable)

    def setIOEnable(self, enable: bool, exclusive: bool = False) -> bool:
        return self._set_command_bits(kIOPCICommandIOSpace, enable)

    def setBusMasterEnable(self, enable: bool) -> bool:
        return self._set_command_bits(kIOPCICommandBusMaster, enable)

    # -- device memory ----------------------------------------------------------------------------

    def set_device_memory(self, ranges: list[IODeviceMemory]) -> None:
        """The bridge gives the nub its ranges when it publishes it."""
        for memory in self._memory:
            memory.release()
        self._memory = list(ranges)

    def getDeviceMemoryCount(self) -> int:
        return len(self._memory)

    def getDeviceMemoryWithIndex(self, index: int) -> IODeviceMemory | None:
        return self._memory[index] if 0 <= index < len(self._memory) else None

    def getDeviceMemoryWithRegister(self, reg: int) -> IODeviceMemory | None:
        for memory in self._memory:
            if memory.register == reg:
                return memory
        return None

    def mapDeviceMemoryWithIndex(self, index: int, options: int = 0) -> IOMemoryMap | None:
        """A new mapping of range ``index`` (the caller releases it), or None."""
        memory = self.getDeviceMemoryWithIndex(index)
        return memory.map(options) if memory is not None else None

    def mapDeviceMemoryWithRegister(self, reg: int, options: int = 0) -> IOMemoryMap | None:
        memory = self.getDeviceMemoryWithRegister(reg)
        return memory.map(options) if memory is not None else None

    def ioMap(self) -> IOMemoryMap | None:
        """BAR 0's map, kept by the nub for ``ioRead32(offset)`` without a map."""
        mapped = self._maps.get(0)
        if mapped is None:
            mapped = self.mapDeviceMemoryWithIndex(0)
            if mapped is None:
                return None
            self._maps[0] = mapped
        return mapped

    def _map_for(self, map: IOMemoryMap | None) -> IOMemoryMap:
        chosen = map if map is not None else self.ioMap()
        if chosen is None:
            raise ValueError(f"{self!r} has no device memory to access")
        return chosen

    def ioRead32(self, offset: int, map: IOMemoryMap | None = None) -> int:
        return self._map_for(map).ioRead32(offset)

    def ioRead16(self, offset: int, map: IOMemoryMap | None = None) -> int:
        return self._map_for(map).ioRead16(offset)

    def ioRead8(self, offset: int, map: IOMemoryMap | None = None) -> int:
        return self._map_for(map).ioRead8(offset)

    def ioWrite32(self, offset: int, value: int, map: IOMemoryMap | None = None) -> None:
        self._map_for(map).ioWrite32(offset, value)

    def ioWrite16(self, offset: int, value: int, map: IOMemoryMap | None = None) -> None:
        self._map_for(map).ioWrite16(offset, value)

    def ioWrite8(self, offset: int, value: int, map: IOMemoryMap | None = None) -> None:
        self._map_for(map).ioWrite8(offset, value)

    def free(self) -> None:
        for mapped in self._maps.values():
            mapped.release()
        self._maps.clear()
        self.set_device_memory([])
        super().free()
