"""IOPCIFamily on a booted machine: nubs, bridges, configuration space, device memory.

The default machine boots with the built-in families (``userland.system``): the
host bridge driver publishes an IOPCIDevice per PCI node, the DEC 21154 gets
IOPCI2PCIBridge, which publishes the card behind it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kextlab.families.pci.bridge import IOPCI2PCIBridge, KextLabPCIHostBridge
from kextlab.families.pci.device import IOPCIDevice
from kextlab.kernel.kernel import Kernel
from kextlab.kernel.libkern.collections import OSDictionary
from kextlab.kernel.libkern.convert import from_python
from kextlab.kernel.libkern.values import OSNumber, OSString
from kextlab.kernel.registry.registry import kIODeviceTreePlane, kIOServicePlane
from kextlab.kernel.service.service import ScoreRef
from kextlab.testing.kernel import booted_kernel, default_machine_variant
from kextlab.userland import iokitlib as io
from kextlab.userland.tools.ioreg import IORegOptions, ioreg


def boot(spec: str = "default") -> Iterator[Kernel]:
    with booted_kernel(spec) as kernel:
        yield kernel


@pytest.fixture
def kernel() -> Iterator[Kernel]:
    yield from boot()


def pci_nubs(kernel: Kernel) -> dict[str, IOPCIDevice]:
    plane = kernel.registry.plane(kIOServicePlane)
    return {
        entry.path_component(plane): entry
        for entry in kernel.registry.getRoot().iterate(plane, recursive=True)
        if isinstance(entry, IOPCIDevice)
    }


def test_a_nub_is_published_for_every_pci_function_with_pci_locations(kernel: Kernel) -> None:
    """Location "%X[,%X]": device in upper-case hex (the bridge in slot 13 is "D")."""
    nubs = pci_nubs(kernel)
    assert sorted(nubs) == ["pci-bridge@D", "pci1234,1@1", "pci1234,2@2", "pci1b4b,9143@4"]
    card = nubs["pci1234,1@1"]
    assert (card.getBusNumber(), card.getDeviceNumber(), card.getFunctionNumber()) == (1, 1, 0)
    assert str(card.getProperty("pcidebug")) == "1:1:0"
    # IOPCIConfigurator's name: no generic name for class ff0000, so pci<vid>,<did>
    assert str(card.getProperty("IOName")) == "pci1234,4b4c"
    hba = nubs["pci1b4b,9143@4"]  # the Marvell 88SE9143 in root slot 4, class 010400 (RAID)
    assert (hba.getBusNumber(), hba.getDeviceNumber(), hba.getFunctionNumber()) == (0, 4, 0)
    assert str(hba.getProperty("pcidebug")) == "0:4:0"
    assert str(hba.getProperty("IOName")) == "pci1b4b,9143"


def test_the_nub_is_the_device_tree_entry_in_both_planes(kernel: Kernel) -> None:
    registry = kernel.registry
    card = registry.fromPath("IODeviceTree:testcard0")
    assert isinstance(card, IOPCIDevice)
    assert card is pci_nubs(kernel)["pci1234,1@1"]
    assert card.getParentEntry(registry.plane(kIODeviceTreePlane)).getName() == "pci-bridge"
    assert isinstance(card.getProvider(), IOPCI2PCIBridge)


def test_bridges_get_their_drivers_and_iopci2pcibridge_scores_minus_100(kernel: Kernel) -> None:
    """IOPCI2PCIBridge::probe lowers the score by 100: ioreg prints it as a 32-bit
    number sign-extended, 18446744073709551516, as on every Mac."""
    bridge = pci_nubs(kernel)["pci-bridge@D"]
    (driver,) = bridge.getClients()
    assert isinstance(driver, IOPCI2PCIBridge)
    score = driver.getProperty("IOProbeScore")
    assert isinstance(score, OSNumber)
    assert score.unsigned32BitValue() == 0xFFFF_FF9C
    output = ioreg(io.IOMainPort(kernel.registry), IORegOptions(list=True, width=0))
    assert any('"IOProbeScore" = 18446744073709551516' in line for line in output.stdout)
    host = kernel.registry.fromPath("IOService:/KextLabPlatformExpert/pci@0")
    assert host is not None
    assert isinstance(
        host.getChildEntry(kernel.registry.plane(kIOServicePlane)), KextLabPCIHostBridge
    )


def test_the_name_match_personality_wins_the_tie_among_bridge_personalities(kernel: Kernel) -> None:
    """The DEC 21154 matches all three IOPCIFamily personalities at score 0; the first
    in the plist (IONameMatch pci-bridge) wins and leaves its IONameMatched."""
    (driver,) = pci_nubs(kernel)["pci-bridge@D"].getClients()
    assert str(driver.getProperty("IONameMatched")) == "pci-bridge"


def test_configuration_space_reads_and_writes_reach_the_device(kernel: Kernel) -> None:
    card = pci_nubs(kernel)["pci1234,2@2"]
    with kernel.entered():
        assert card.configRead32(0x00) == 0x4B4C_1234
        assert card.configRead16(0x02) == 0x4B4C
        assert card.configRead8(0x0B) == 0xFF  # class code base
        assert card.extendedConfigRead32(0x2C) == 0x0002_1234  # subsystem 2
        assert card.setBusMasterEnable(True) is False
        assert card.configRead16(0x04) & 0x4
        assert card.setBusMasterEnable(False) is True
        assert not card.configRead16(0x04) & 0x4
        assert card.setMemoryEnable(True) is True  # the firmware enabled decoding


# ``card.ioRead32(offset)`` makes the nub keep a map of BAR 0 for as long as it lives:
# owned by a live nub, not leaked, but beyond what the kernel held at boot.
@pytest.mark.allow_leaks
def test_device_memory_comes_from_assigned_addresses_and_maps(kernel: Kernel) -> None:
    card = pci_nubs(kernel)["pci1234,2@2"]
    with kernel.entered():
        assert card.getDeviceMemoryCount() == 4  # BAR0, BAR1 (I/O), BAR2 (64-bit), ROM
        registers = card.getDeviceMemoryWithRegister(0x10)
        assert registers is not None
        assert registers.getLength() == 4096
        sram = card.getDeviceMemoryWithRegister(0x18)
        assert sram is not None
        assert sram.getPhysicalAddress() == 0x10_0010_0000
        mapped = card.mapDeviceMemoryWithIndex(0)
        assert mapped is not None
        assert mapped.ioRead32(0x00) == 0x4B4C_5443  # "KLTC"
        mapped.ioWrite32(0x40, 0xCAFE_F00D)
        assert mapped.ioRead32(0x40) == 0xCAFE_F00D
        assert card.ioRead32(0x40) == 0xCAFE_F00D  # Apple's form, BAR 0 by default
        io_space = card.getDeviceMemoryWithRegister(0x14)
        assert io_space is not None
        assert io_space.io
        mapped_io = io_space.map()
        assert mapped_io is not None
        assert mapped_io.ioRead32(0x00) == 0x4B4C_5443
        with pytest.raises(IndexError, match="outside the map"):
            mapped.ioRead32(4096)
        mapped.release()
        mapped_io.release()


def match_score(kernel: Kernel, nub: IOPCIDevice, **keys: object) -> int | None:
    """The score register matching leaves for a personality, or None."""
    with kernel.entered():
        table = from_python({"IOProviderClass": "IOPCIDevice", "IOClass": "X", **keys})
        assert isinstance(table, OSDictionary)
        score = ScoreRef(0)
        bridge = nub.bridge
        assert bridge is not None
        matched = bridge.matchNubWithPropertyTable(nub, table, score)
        table.release()
        return score.value if matched else None


def test_no_vendor_device_bonus_on_an_x86_kernel(kernel: Kernel) -> None:
    card = pci_nubs(kernel)["pci1234,2@2"]
    assert match_score(kernel, card, IOPCIMatch="0x4b4c1234") == 0
    assert match_score(kernel, card, IOPCIMatch="0x00021234") == 0  # subsystem register
    assert match_score(kernel, card, IOPCIMatch="0x12345678") is None


def test_an_arm64_kernel_adds_1000_for_a_vendor_device_hit(tmp_path: Path) -> None:
    """Only where IOPCIFamily is built without ACPI_SUPPORT (spec §2.2 rule 3), and only
    for IOPCIMatch on register 0x00."""
    arm = default_machine_variant(tmp_path, "arm", {'arch = "x86"': 'arch = "arm64"'})
    for kernel in boot(str(arm)):
        card = pci_nubs(kernel)["pci1234,2@2"]
        assert match_score(kernel, card, IOPCIMatch="0x4b4c1234") == 1000
        assert match_score(kernel, card, IOPCIMatch="0x00021234") == 0
        assert match_score(kernel, card, IOPCIPrimaryMatch="0x4b4c1234") == 0


def test_name_matching_on_a_pci_nub_uses_the_device_tree_rule(kernel: Kernel) -> None:
    """compareName goes to the bridge: name, compatible, device_type, model, with '*'."""
    card = pci_nubs(kernel)["pci1234,2@2"]
    with kernel.entered():
        assert card.compareName("pci1234,2") == "pci1234,2"
        assert card.compareName("pci1234,4b4c*") == "pci1234,4b4c.1234.2.1"
        assert card.compareName("pciclass,ff0000") == "pciclass,ff0000"
        assert card.compareName("pci-bridge") is None
        matched = card.compareNames(OSString("pci1234,4b4c"))
        assert matched == "pci1234,4b4c"
