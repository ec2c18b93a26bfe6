"""The I/O Registry: the root, planes, entry IDs, links, names, properties, diagnostics.

References are xnu's ``IORegistryEntry.cpp``: ``initialize`` (the root is named
``Root``, its ID is the first after ``kIORegistryIDReserved``, 0x100000100, and it
carries ``IORegistryPlanes``), ``makePlane``, ``attachToParent``/``detachFromParent``
(a link holds a reference on each side), ``isChild``/``isParent``, ``detachAll``,
``getName``/``getLocation`` (plane name, else the name for all planes, else the
class name) and ``init(dictionary)``.
"""

from __future__ import annotations

import pytest

from kextlab.kernel.libkern.collections import OSDictionary
from kextlab.kernel.libkern.convert import to_user
from kextlab.kernel.libkern.object import ClassRegistry
from kextlab.kernel.libkern.values import OSData, OSNumber, OSString
from kextlab.kernel.registry import (
    IORegistry,
    IORegistryEntry,
    IORegistryPlane,
    kIODeviceTreePlane,
    kIOPowerPlane,
    kIOServicePlane,
)


class IOWidget(IORegistryEntry):
    pass


@pytest.fixture
def registry(kernel_context: ClassRegistry) -> IORegistry:
    return IORegistry(kernel_context, "kextlab Kernel Version test")


def entries(registry: IORegistry, count: int) -> list[IORegistryEntry]:
    del registry  # entries join a registry when first attached
    return [IORegistryEntry() for _ in range(count)]


# -- the root and the planes --------------------------------------------------------------------


def test_the_root_is_named_root_and_has_the_first_id(registry: IORegistry) -> None:
    root = registry.getRoot()
    assert root.getName() == "Root"
    assert root.getRegistryEntryID() == 0x1_0000_0100
    assert root.getClassName() == "IORegistryEntry"
    assert to_user(root.getProperty("IOKitBuildVersion")) == "kextlab Kernel Version test"
    assert root.getPath(registry.plane(kIOServicePlane)) is None  # not below any top


def test_the_root_lists_the_planes(registry: IORegistry) -> None:
    planes = registry.getRoot().getProperty("IORegistryPlanes")
    assert to_user(planes) == {
        kIOServicePlane: kIOServicePlane,
        kIOPowerPlane: kIOPowerPlane,
        kIODeviceTreePlane: kIODeviceTreePlane,
    }
    made = registry.makePlane("IOUSB")
    assert registry.makePlane("IOUSB") is made
    assert isinstance(made, IORegistryPlane)
    assert (made.pathNameKey, made.pathLocationKey) == ("IOUSBName", "IOUSBLocation")
    listed = to_user(registry.getRoot().getPropertyTable())
    assert isinstance(listed, dict)
    assert list(listed["IORegistryPlanes"]) == [
        kIOServicePlane,
        kIOPowerPlane,
        kIODeviceTreePlane,
        "IOUSB",
    ]
    assert registry.getPlane("IOFireWire") is None
    assert [plane.name for plane in registry.planes()][-1] == "IOUSB"
    with pytest.raises(KeyError, match="no registry plane 'IOFireWire'; the planes are IOService"):
        registry.plane("IOFireWire")


def test_entries_get_increasing_ids_when_first_attached(registry: IORegistry) -> None:
    service = registry.plane(kIOServicePlane)
    tree = registry.plane(kIODeviceTreePlane)
    a, b, c = entries(registry, 3)
    assert a.getRegistryEntryID() == 0
    assert a.registry is None
    c.attachToParent(registry.getRoot(), service)
    a.attachToParent(c, service)
    b.attachToParent(c, tree)
    a.attachToParent(registry.getRoot(), tree)  # a second plane keeps the ID
    assert [c.getRegistryEntryID(), a.getRegistryEntryID(), b.getRegistryEntryID()] == [
        0x1_0000_0101,
        0x1_0000_0102,
        0x1_0000_0103,
    ]
    assert a.registry is registry


def test_an_entry_cannot_attach_below_an_entry_outside_the_registry(registry: IORegistry) -> None:
    orphan, child = entries(registry, 2)
    with pytest.raises(ValueError, match="is not in a registry"):
        child.attachToParent(orphan, registry.plane(kIOServicePlane))


# -- links -------------------------------------------------------------------------------------


def test_links_are_per_plane_ordered_and_hold_references(registry: IORegistry) -> None:
    service = registry.plane(kIOServicePlane)
    tree = registry.plane(kIODeviceTreePlane)
    root = registry.getRoot()
    parent, first, second = entries(registry, 3)
    parent.attachToParent(root, service)
    assert second.attachToParent(parent, service)
    assert first.attachToParent(parent, service)
    assert parent.getChildren(service) == [second, first]
    assert parent.getChildEntry(service) is second
    assert first.getParentEntry(service) is parent
    assert parent.getChildren(tree) == []
    assert first.getParentEntry(tree) is None
    assert (parent.getRetainCount(), first.getRetainCount()) == (4, 2)
    assert first.attachToParent(parent, service)  # already linked: nothing changes
    assert (parent.getRetainCount(), first.getRetainCount()) == (4, 2)
    first.detachFromParent(parent, service)
    assert (parent.getRetainCount(), first.getRetainCount()) == (3, 1)
    assert parent.getChildren(service) == [second]
    first.detachFromParent(parent, service)  # not linked: nothing happens
    assert first.getRetainCount() == 1


def test_is_child_and_is_parent_read_as_in_xnu(registry: IORegistry) -> None:
    """``parent->isChild(child, plane)`` and ``child->isParent(parent, plane)``."""
    service = registry.plane(kIOServicePlane)
    parent, child = entries(registry, 2)
    parent.attachToParent(registry.getRoot(), service)
    child.attachToParent(parent, service)
    assert parent.isChild(child, service)
    assert child.isParent(parent, service)
    assert not child.isChild(parent, service)
    assert not parent.isParent(child, service)
    assert not parent.isChild(child, registry.plane(kIODeviceTreePlane))


def test_an_entry_cannot_be_its_own_parent(registry: IORegistry) -> None:
    service = registry.plane(kIOServicePlane)
    (entry,) = entries(registry, 1)
    entry.attachToParent(registry.getRoot(), service)
    assert not entry.attachToParent(entry, service)
    assert entry.getChildren(service) == []


def test_an_entry_may_have_several_parents(registry: IORegistry) -> None:
    service = registry.plane(kIOServicePlane)
    left, right, shared = entries(registry, 3)
    for side in (left, right):
        side.attachToParent(registry.getRoot(), service)
        shared.attachToParent(side, service)
    assert shared.getParents(service) == [left, right]
    assert shared.getParentEntry(service) is left
    assert shared.getDepth(service) == 2


def test_iteration_is_depth_first_in_attach_order(registry: IORegistry) -> None:
    service = registry.plane(kIOServicePlane)
    root = registry.getRoot()
    a, a1, a2, b, a1x = entries(registry, 5)
    for child, parent in ((a, root), (b, root), (a1, a), (a2, a), (a1x, a1)):
        child.attachToParent(parent, service)
    assert list(root.iterate(service)) == [a, b]
    assert list(root.iterate(service, recursive=True)) == [a, a1, a1x, a2, b]
    assert a1x.getDepth(service) == 3
    assert root.inPlane(service)
    assert a1x.inPlane(service)
    assert not a1x.inPlane(registry.plane(kIOPowerPlane))
    assert a1.planes() == [kIOServicePlane]


def test_detach_all_takes_the_whole_subtree_apart(registry: IORegistry) -> None:
    """IORegistryEntry::detachAll: the entry and every entry below it are detached
    from all their parents in the plane."""
    service = registry.plane(kIOServicePlane)
    root = registry.getRoot()
    top, child, grandchild, elsewhere = entries(registry, 4)
    top.attachToParent(root, service)
    elsewhere.attachToParent(root, service)
    child.attachToParent(top, service)
    grandchild.attachToParent(child, service)
    grandchild.attachToParent(elsewhere, service)
    top.detachAll(service)
    assert top.getParents(service) == []
    assert top.getChildren(service) == []
    assert child.getParents(service) == []
    assert child.getChildren(service) == []
    assert grandchild.getParents(service) == []
    assert elsewhere.getChildren(service) == []
    assert root.getChildren(service) == [elsewhere]
    assert [entry.getRetainCount() for entry in (top, child, grandchild)] == [1, 1, 1]


# -- names and locations --------------------------------------------------------------------------


def test_a_name_for_a_plane_beats_the_name_for_all_planes_which_beats_the_class(
    registry: IORegistry,
) -> None:
    service = registry.plane(kIOServicePlane)
    tree = registry.plane(kIODeviceTreePlane)
    widget = IOWidget()
    assert widget.getName() == widget.getName(tree) == "IOWidget"
    widget.setName("widget")
    widget.setName("widget-in-tree", tree)
    assert (widget.getName(), widget.getName(service), widget.getName(tree)) == (
        "widget",
        "widget",
        "widget-in-tree",
    )
    assert widget.compareName("widget")
    assert not widget.compareName("IOWidget")


def test_a_location_for_a_plane_beats_the_location_for_all_planes(registry: IORegistry) -> None:
    service = registry.plane(kIOServicePlane)
    tree = registry.plane(kIODeviceTreePlane)
    widget = IOWidget()
    assert widget.getLocation() is None
    assert widget.path_component(service) == "IOWidget"
    widget.setLocation("1F")
    widget.setLocation("d", tree)
    assert (widget.getLocation(), widget.getLocation(service), widget.getLocation(tree)) == (
        "1F",
        "1F",
        "d",
    )
    assert widget.path_component(tree) == "IOWidget@d"


# -- properties ----------------------------------------------------------------------------------


def test_properties_take_python_values_and_bit_sizes() -> None:
    entry = IORegistryEntry()
    entry.setProperty("name", b"widget\0")
    entry.setProperty("IOProbeScore", -100, 32)
    entry.setProperty("flags", {"on": True})
    assert to_user(entry.getPropertyTable()) == {
        "name": b"widget\0",
        "IOProbeScore": -100,
        "flags": {"on": True},
    }
    score = entry.getProperty("IOProbeScore")
    assert isinstance(score, OSNumber)
    assert score.numberOfBits() == 32
    with pytest.raises(TypeError, match="a bit size needs an integer value"):
        entry.setProperty("bad", "text", 8)
    with pytest.raises(TypeError, match="a bit size needs an integer value"):
        entry.setProperty("bad", True, 8)


def test_copy_property_adds_a_reference_and_remove_property_drops_one() -> None:
    entry = IORegistryEntry()
    value = OSString("v")
    entry.setProperty(OSString("key"), value)
    value.release()
    copied = entry.copyProperty("key")
    assert copied is value
    assert value.getRetainCount() == 2
    assert entry.copyProperty("absent") is None
    assert entry.propertyExists("key")
    entry.removeProperty("key")
    assert not entry.propertyExists("key")
    assert value.getRetainCount() == 1


def test_dictionary_with_properties_is_a_copy() -> None:
    entry = IORegistryEntry()
    entry.setProperty("a", 1)
    copy = entry.dictionaryWithProperties()
    copy.setObject("b", OSNumber(2))
    assert not entry.propertyExists("b")
    assert copy.getObject("a") is entry.getProperty("a")


def test_init_takes_the_dictionary_as_the_property_table_and_its_io_name() -> None:
    """IORegistryEntry::init(dictionary): the table is the dictionary itself (what
    probeCandidates relies on) and an IOName string names the entry."""
    table = OSDictionary([("IOName", OSString("display")), ("IOProbeScore", OSNumber(1))])
    entry = IOWidget()
    assert entry.init(table)
    assert entry.getPropertyTable() is table
    assert table.getRetainCount() == 2
    assert entry.getName() == "display"
    plain = IOWidget()
    assert plain.init()
    assert plain.getName() == "IOWidget"
    entry.release()
    assert table.getRetainCount() == 1


def test_freeing_an_entry_releases_its_properties() -> None:
    entry = IORegistryEntry()
    value = OSData(b"x")
    entry.setProperty("x", value)
    value.release()
    entry.release()
    assert value.freed


# -- IOKitDiagnostics ------------------------------------------------------------------------------


def test_diagnostics_report_live_instance_counts_each_time_they_are_read(
    registry: IORegistry, kernel_context: ClassRegistry
) -> None:
    root = registry.getRoot()
    diagnostics = root.getProperty("IOKitDiagnostics")
    assert diagnostics is not None

    def classes() -> dict[str, object]:
        read = to_user(diagnostics)
        assert isinstance(read, dict)
        counted = read["Classes"]
        assert isinstance(counted, dict)
        return dict(counted)

    before = classes()
    assert before["IORegistryEntry"] == 1  # the root
    assert "IOWidget" not in before
    widgets = [IOWidget(), IOWidget()]
    during = classes()
    assert during["IOWidget"] == 2
    assert during["IORegistryEntry"] == 2  # the root, and IOWidget which has instances
    for widget in widgets:
        widget.release()
    after = classes()
    assert after["IOWidget"] == 0
    assert after["IORegistryEntry"] == 1
    live = kernel_context.instance_counts()
    # (the OS containers also count the dictionaries made for this very reading)
    assert {name: after[name] for name in ("IOWidget", "IORegistryEntry", "IORegistryPlane")} == {
        name: live[name] for name in ("IOWidget", "IORegistryEntry", "IORegistryPlane")
    }
