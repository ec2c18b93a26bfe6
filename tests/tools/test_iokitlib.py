"""iokitlib: the IOKitLib calls Apple's tools use, over a live kernel's registry."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kextlab.firmware.openfirmware import OpenFirmware
from kextlab.kernel.kernel import Kernel
from kextlab.machine.machine import Machine
from kextlab.userland import iokitlib as io


@pytest.fixture
def port() -> Iterator[io.mach_port_t]:
    with Machine.from_name("default") as machine:
        kernel = Kernel(machine, OpenFirmware(machine).power_on())
        kernel.start()
        yield io.IOMainPort(kernel.registry)


def test_iterators_walk_children_and_reset(port: io.mach_port_t) -> None:
    root = io.IORegistryGetRootEntry(port)
    status, iterator = io.IORegistryEntryGetChildIterator(root, io.kIOServicePlane)
    assert status == io.KERN_SUCCESS
    assert iterator is not None
    first = io.IOIteratorNext(iterator)
    assert first is not None
    assert io.IOIteratorNext(iterator) is None
    io.IOIteratorReset(iterator)
    assert io.IOIteratorNext(iterator) == first
    assert io.IOObjectRelease(iterator) == io.KERN_SUCCESS


def test_names_and_planes_of_the_platform_device(port: io.mach_port_t) -> None:
    # As in xnu, a plane's paths start at the root's child: "IOService:/" is the
    # platform device itself.
    device = io.IORegistryEntryFromPath(port, "IOService:/")
    assert device is not None
    assert io.IORegistryEntryGetName(device) == (io.KERN_SUCCESS, "KextLab1,1")
    assert io.IORegistryEntryGetNameInPlane(device, io.kIODeviceTreePlane) == (
        io.KERN_SUCCESS,
        "device-tree",
    )
    assert io.IORegistryEntryInPlane(device, io.kIOServicePlane)
    assert io.IORegistryEntryInPlane(device, io.kIODeviceTreePlane)
    assert not io.IORegistryEntryInPlane(device, "IONoSuchPlane")
    card = io.IORegistryEntryFromPath(port, "IODeviceTree:testcard0")
    assert card is not None
    assert not io.IORegistryEntryInPlane(card, io.kIOServicePlane)
