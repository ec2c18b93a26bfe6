"""The sample driver kext, KextLabTestCard.kext, through its whole life.

Load (classes registered, personality added, matching starts the driver on both
test cards), terminate, unload, reload: and after each unload no instance of the
kext's class is left (``ioclasscount`` back to zero).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kextlab.families.pci.device import IOPCIDevice
from kextlab.kernel.kernel import Kernel
from kextlab.kernel.libkern.values import OSNumber
from kextlab.kernel.registry.registry import kIOServicePlane
from kextlab.kernel.service.service import IOService, kIOServiceSynchronous
from kextlab.kexts import shipped
from kextlab.testing.kernel import booted_kernel
from kextlab.userland import iokitlib as io
from kextlab.userland.tools.ioclasscount import ioclasscount

BUNDLE_ID = "com.kextlab.driver.KextLabTestCard"
CLASS = "KextLabTestCardDriver"


@pytest.fixture
def port() -> Iterator[io.mach_port_t]:
    with booted_kernel() as kernel:
        yield io.IOMainPort(kernel.registry, kernel)


def drivers(kernel: Kernel) -> list[IOService]:
    plane = kernel.registry.plane(kIOServicePlane)
    return [
        entry
        for entry in kernel.registry.getRoot().iterate(plane, recursive=True)
        if isinstance(entry, IOService) and entry.getClassName() == CLASS
    ]


def count(port: io.mach_port_t) -> str:
    output = ioclasscount(port, [CLASS])
    return "\n".join(output.stdout)


def test_loading_matches_the_driver_on_both_cards(port: io.mach_port_t) -> None:
    kernel = port.kernel
    assert kernel is not None
    result = io.KextManagerLoadKextWithURL(port, str(shipped("KextLabTestCard")))
    assert result.ok, result.messages
    started = drivers(kernel)
    assert len(started) == 2
    for driver in started:
        device = driver.getProvider()
        assert isinstance(device, IOPCIDevice)
        assert str(driver.getProperty("Card Version")) == "1.0"
        sram = driver.getProperty("SRAM Size")
        assert isinstance(sram, OSNumber)
        assert sram.unsigned32BitValue() == 64 << 10
        assert driver.getState() & 0x6 == 0x6  # it registered itself
        with kernel.entered():
            assert device.configRead16(0x04) & 0x6 == 0x6  # memory decoding and bus master
    assert count(port) == f"{CLASS} = 2"


def test_load_match_terminate_unload_reload_leaves_no_instances(port: io.mach_port_t) -> None:
    kernel = port.kernel
    assert kernel is not None
    path = str(shipped("KextLabTestCard"))
    assert io.KextManagerLoadKextWithURL(port, path).ok
    (first, second) = drivers(kernel)
    with kernel.entered():
        first.terminate(kIOServiceSynchronous)
    kernel.machine.run()
    assert drivers(kernel) == [second]
    with kernel.entered():
        card = second.getProvider()
        assert isinstance(card, IOPCIDevice)
    unloaded = io.KextManagerUnloadKextWithIdentifier(port, BUNDLE_ID)
    assert unloaded.ok, unloaded.messages
    assert drivers(kernel) == []
    assert BUNDLE_ID not in io.KextManagerCopyLoadedKextInfo(port)
    assert CLASS not in kernel.classes  # the class went with its kext
    with kernel.entered():
        assert card.configRead16(0x04) & 0x4 == 0  # stop turned bus mastering off
    assert io.KextManagerLoadKextWithURL(port, path).ok
    assert len(drivers(kernel)) == 2
    assert io.KextManagerUnloadKextWithIdentifier(port, BUNDLE_ID).ok
    assert kernel.classes.getMetaClassWithName("IOService") is not None
    assert drivers(kernel) == []


def test_the_kext_links_against_iopcifamily_and_the_kpis(port: io.mach_port_t) -> None:
    family = "com.apple.iokit.IOPCIFamily"
    # the boot's kexts may hold the family already (MarvellUMI.kext for the HBA)
    held = io.KextManagerCopyLoadedKextInfo(port)[family]["OSBundleRetainCount"]
    assert isinstance(held, int)
    assert io.KextManagerLoadKextWithURL(port, str(shipped("KextLabTestCard"))).ok
    info = io.KextManagerCopyLoadedKextInfo(port)
    tags = {bundle_id: entry["OSBundleLoadTag"] for bundle_id, entry in info.items()}
    linked = info[BUNDLE_ID]["OSBundleDependencies"]
    assert isinstance(linked, list)
    assert sorted(linked) == sorted(
        tags[name] for name in (family, "com.apple.kpi.iokit", "com.apple.kpi.libkern")
    )
    assert info[family]["OSBundleRetainCount"] == held + 1
