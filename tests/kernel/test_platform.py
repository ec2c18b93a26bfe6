"""The kernel's start: the IODeviceTree plane and the top of the service plane.

After the firmware of the default machine ran, ``Kernel(machine, tree).start()``
mirrors the firmware's device tree node for node into the IODeviceTree plane (xnu's
``IODeviceTreeAlloc`` and ``MakeReferenceTable``) and builds Root ->
IOPlatformExpertDevice -> {KextLabPlatformExpert, IOResources} in the service plane.
"""

from __future__ import annotations

from collections.abc import Callable

from kextlab.firmware.devicetree import DeviceTree, DeviceTreeNode
from kextlab.kernel.kernel import Kernel
from kextlab.kernel.libkern.convert import to_user
from kextlab.kernel.libkern.object import ClassRegistry, OSObject
from kextlab.kernel.libkern.values import OSData, OSSymbol
from kextlab.kernel.platform import (
    IODTPlatformExpert,
    IOPlatformDevice,
    IOPlatformExpertDevice,
    IOResources,
    KextLabPlatformExpert,
    build_device_tree_plane,
    device_tree_location,
)
from kextlab.kernel.registry import IORegistry, IORegistryEntry
from kextlab.kernel.registry.registry import kIODeviceTreePlane, kIOServicePlane
from kextlab.kernel.service import (
    IOService,
    kIOServiceInactiveState,
    kIOServiceMatchedState,
    kIOServiceRegisteredState,
)


def expected_location(node: DeviceTreeNode) -> str | None:
    """The first ``reg`` cell in upper-case hex (the default machine has no unit strings)."""
    reg = node.properties.get("reg")
    return f"{int.from_bytes(reg[:4], 'big'):X}" if reg else None


# -- the device-tree plane ------------------------------------------------------------------------


def test_the_device_tree_plane_mirrors_the_firmware_tree_node_for_node(kernel: Kernel) -> None:
    plane = kernel.registry.plane(kIODeviceTreePlane)
    tree = kernel.device_tree
    compared = 0

    def compare(node: DeviceTreeNode, entry: IORegistryEntry) -> None:
        nonlocal compared
        compared += 1
        assert entry.getName(plane) == node.name
        assert entry.getLocation(plane) == expected_location(node)
        table = entry.getPropertyTable()
        assert table.keys() == [*node.properties, "AAPL,phandle"]
        for name, value in node.properties.items():
            data = table.getObject(name)
            assert isinstance(data, OSData), name
            assert data.getBytesNoCopy() == value, f"{node.path} {name}"
        phandle = table.getObject("AAPL,phandle")
        assert isinstance(phandle, OSData)
        assert phandle.getBytesNoCopy() == node.phandle.to_bytes(4, "big")
        assert kernel.device_tree_entries[node.path] is entry
        children = entry.getChildren(plane)
        assert len(children) == len(node.children), node.path
        for child_node, child in zip(node.children, children, strict=True):
            assert child.getParents(plane) == [entry]
            compare(child_node, child)

    top = kernel.registry.getRoot().getChildren(plane)
    assert top == [kernel.platform_device]
    compare(tree.root, kernel.platform_device)
    assert compared == len(list(tree.nodes())) == len(kernel.device_tree_entries)


def test_device_tree_nodes_are_unregistered_services_and_the_root_is_the_machine(
    kernel: Kernel,
) -> None:
    """The platform expert publishes a registered IOPlatformDevice for each device node
    under the root (not for aliases, cpus, memory...); deeper nodes stay plain,
    unregistered IOServices until a bus driver publishes them."""
    nubs = 0
    for path, entry in kernel.device_tree_entries.items():
        if path == "/":
            assert type(entry) is IOPlatformExpertDevice
        elif path.count("/") == 1 and entry.getName() not in IODTPlatformExpert.NOT_DEVICES:
            assert type(entry) is IOPlatformDevice
            assert entry.getState() == kIOServiceRegisteredState | kIOServiceMatchedState | 0x18
            nubs += 1
        else:
            assert type(entry) is IOService
            assert entry.getState() == 0
    assert nubs == 2  # the interrupt controller and the PCI host bridge


def test_the_root_keeps_its_name_in_the_device_tree_and_is_the_model_elsewhere(
    kernel: Kernel,
) -> None:
    """IODeviceTreeAlloc: setName(getName(), gIODTPlane), then setName(compatible[0])."""
    device = kernel.platform_device
    assert device.getName(kernel.registry.plane(kIODeviceTreePlane)) == "device-tree"
    assert device.getName(kernel.registry.plane(kIOServicePlane)) == "KextLab1,1"
    assert device.getName() == "KextLab1,1"


def test_device_tree_paths_and_aliases_resolve(kernel: Kernel) -> None:
    registry = kernel.registry
    plane = registry.plane(kIODeviceTreePlane)
    entries = kernel.device_tree_entries
    card = entries["/pci@0,f2000000/pci-bridge@d/pci1234,1@1"]
    assert registry.fromPath("IODeviceTree:testcard0") is card
    assert registry.fromPath("IODeviceTree:/pci@0,f2000000/pci-bridge@d/pci1234,1@1") is card
    assert registry.fromPath("IODeviceTree:/pci/pci-bridge/pci1234,1") is card
    assert registry.fromPath("IODeviceTree:bridge0/pci1234,1@1") is card
    assert card.getPath(plane) == "IODeviceTree:testcard0"
    assert entries["/pci@0,f2000000"].getPath(plane) == "IODeviceTree:pci"
    assert entries["/cpus/cpu@0"].getPath(plane) == "IODeviceTree:/cpus/cpu@0"
    assert entries["/"].getPath(plane) == "IODeviceTree:/"
    for path, entry in entries.items():
        registry_path = entry.getPath(plane)
        assert registry_path is not None, path
        assert registry.fromPath(registry_path) is entry, registry_path


def test_device_tree_locations() -> None:
    node = DeviceTreeNode("pci-bridge", "d")
    assert device_tree_location(node) is None
    node.set_property("reg", b"\x00\x00\x68")
    assert device_tree_location(node) is None
    node.set_cells("reg", [0x6800, 0, 0, 0, 0])
    assert device_tree_location(node) == "6800"
    node.set_property("AAPL,unit-string", b"D")  # BootX writes it without a NUL
    assert device_tree_location(node) == "D"
    node.set_property("AAPL,unit-string", b"1,2\0")
    assert device_tree_location(node) == "1,2"
    node.set_property("AAPL,unit-string", b"f" * 40)
    assert device_tree_location(node) == "f" * 31


def test_a_unit_string_becomes_the_location_for_every_plane(
    kernel_context: ClassRegistry,
) -> None:
    """MakeReferenceTable sets the location for all planes and drops the property."""
    tree = DeviceTree()
    tree.root.set_strings("compatible", ["Model1,1"])
    node = tree.root.add_child("uni-n", "f8000000")
    node.set_property("AAPL,unit-string", b"F8000000")
    node.set_cells("reg", [0xF800_0000, 0x1000])
    tree.assign_phandles()
    registry = IORegistry(kernel_context)
    device = IOPlatformExpertDevice()
    entries = build_device_tree_plane(registry, tree, device)
    entry = entries["/uni-n@f8000000"]
    assert entry.getLocation() == "F8000000"
    assert entry.getLocation(registry.plane(kIOServicePlane)) == "F8000000"
    assert not entry.propertyExists("AAPL,unit-string")
    assert entry.propertyExists("reg")
    assert registry.fromPath("IODeviceTree:/uni-n@f8000000") is entry


# -- the service plane ---------------------------------------------------------------------------


def test_the_service_plane_starts_with_the_machine_its_expert_and_resources(
    kernel: Kernel,
) -> None:
    plane = kernel.registry.plane(kIOServicePlane)
    root = kernel.registry.getRoot()
    (device,) = root.getChildren(plane)
    assert device is kernel.platform_device
    assert type(device) is IOPlatformExpertDevice
    expert, resources = device.getChildren(plane)
    assert type(expert) is KextLabPlatformExpert
    assert type(resources) is IOResources
    assert [entry.getName(plane) for entry in (device, expert, resources)] == [
        "KextLab1,1",
        "KextLabPlatformExpert",
        "IOResources",
    ]
    assert expert.getProvider() is device
    assert device.getClients() == [expert, resources]
    assert device.getProvider() is None  # the registry root is no IOService
    assert [entry.getPath(plane) for entry in (device, expert, resources)] == [
        "IOService:/",
        "IOService:/KextLabPlatformExpert",
        "IOService:/IOResources",
    ]
    assert expert.getClassName() == "KextLabPlatformExpert"
    assert expert.metaCast("IODTPlatformExpert") is expert
    assert expert.metaCast("IOPlatformExpert") is expert


def test_the_three_are_registered_and_matched_and_active(kernel: Kernel) -> None:
    for service in (kernel.platform_device, kernel.platform_expert, kernel.resources):
        state = service.getState()
        assert state & kIOServiceRegisteredState
        assert state & kIOServiceMatchedState
        assert not state & kIOServiceInactiveState
        assert service.getBusyState() == 0


def test_io_resources_publishes_iokit_as_the_iservice_symbol(kernel: Kernel) -> None:
    published = kernel.resources.getProperty("IOKit")
    assert isinstance(published, OSSymbol)
    assert to_user(published) == "IOService"
    with kernel.entered():
        symbol = OSSymbol.withCString("IOService")
    assert symbol is published


def test_publishing_a_resource_with_a_value_keeps_that_value(kernel: Kernel) -> None:
    with kernel.entered():
        value = OSData(b"\x01")
        kernel.resources.publishResource("IOBSD", value)
    assert kernel.resources.getProperty("IOBSD") is value
    assert value.getRetainCount() == 2


def test_the_root_carries_the_kernel_version_planes_and_diagnostics(kernel: Kernel) -> None:
    properties = to_user(kernel.registry.getRoot().getPropertyTable())
    assert isinstance(properties, dict)
    assert properties["IOKitBuildVersion"] == kernel.version
    assert kernel.version.startswith("kextlab Kernel Version ")
    assert "KextLab1,1" in kernel.version
    assert properties["IORegistryPlanes"] == {
        "IOService": "IOService",
        "IOPower": "IOPower",
        "IODeviceTree": "IODeviceTree",
    }
    diagnostics = properties["IOKitDiagnostics"]
    assert isinstance(diagnostics, dict)
    classes = diagnostics["Classes"]
    assert isinstance(classes, dict)
    nodes = len(kernel.device_tree_entries)
    assert classes["IOPlatformExpertDevice"] == 1
    assert classes["KextLabPlatformExpert"] == 1
    assert classes["IODTPlatformExpert"] == 1
    assert classes["IOPlatformExpert"] == 1
    assert classes["IOResources"] == 1
    # the device-tree nodes below the root that stay plain IOServices, plus five direct
    # subclasses in use (the platform device, the platform expert, IOResources, the
    # IOPlatformDevice nubs and the interrupt controller's driver)
    assert classes["IOPlatformDevice"] == 2
    assert classes["IOInterruptController"] == 1
    assert classes["IOService"] == nodes - 1 - 2 + 5
    assert classes["IORegistryEntry"] == 2  # the root, and IOService
    assert classes["IORegistryPlane"] == 3


def test_registry_ids_count_up_from_the_root(kernel: Kernel) -> None:
    registry = kernel.registry
    assert registry.getRoot().getRegistryEntryID() == 0x1_0000_0100
    entries = kernel.device_tree_entries.values()
    mirrored = [
        entry.getRegistryEntryID() for entry in entries if type(entry) is not IOPlatformDevice
    ]
    assert mirrored == sorted(mirrored)  # depth first, in the tree's order
    assert mirrored[0] == 0x1_0000_0101
    # then the platform expert (the platform device's driver), IOResources and the
    # nubs that took over their device-tree entries, in the order they were made
    expert = kernel.platform_expert
    assert expert is not None
    later = [expert.getRegistryEntryID(), kernel.resources.getRegistryEntryID()]
    nubs = [entry.getRegistryEntryID() for entry in entries if type(entry) is IOPlatformDevice]
    assert later + nubs == list(range(max(mirrored) + 1, max(mirrored) + 1 + len(later + nubs)))


def test_start_is_idempotent(kernel: Kernel) -> None:
    registry = kernel.registry
    plane = registry.plane(kIOServicePlane)
    everything: list[OSObject] = [registry.getRoot(), *kernel.device_tree_entries.values()]
    everything += [kernel.platform_expert, kernel.resources]
    before = [entry.getRetainCount() for entry in everything]
    entries = dict(kernel.device_tree_entries)
    console = len(kernel.machine.console.lines())
    kernel.start()
    assert kernel.device_tree_entries == entries
    assert [entry.getRetainCount() for entry in everything] == before
    assert kernel.platform_device.getChildren(plane) == [kernel.platform_expert, kernel.resources]
    assert len(kernel.machine.console.lines()) == console


def test_the_kernel_logs_its_version_and_the_platform(kernel: Kernel) -> None:
    text = "\n".join(kernel.machine.console.lines())
    assert kernel.version in text
    assert (
        f"IOKit: {len(kernel.device_tree_entries)} device-tree entries, platform KextLab1,1" in text
    )


def test_two_machines_have_separate_kernels(make_kernel: Callable[[], Kernel]) -> None:
    first, second = make_kernel(), make_kernel()
    assert first.classes is not second.classes
    with first.entered():
        extra = IOService()
    assert (
        first.classes.instance_counts()["IOService"]
        == second.classes.instance_counts()["IOService"] + 1
    )
    extra.release()
    assert first.classes.instance_counts() == second.classes.instance_counts()
    assert first.registry.getRoot() is not second.registry.getRoot()
    first_symbol = first.resources.getProperty("IOKit")
    assert first_symbol is not second.resources.getProperty("IOKit")
