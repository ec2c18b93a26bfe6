"""Registries rebuilt from an ``ioreg`` dump (``registry.snapshot``)."""

from __future__ import annotations

import pytest

from kextlab.kernel.libkern.collections import OSArray, OSDictionary, OSSet
from kextlab.kernel.libkern.convert import PrintedObject, PrintedValue, UserSet, to_user
from kextlab.kernel.libkern.values import OSData, OSNumber, OSString, kOSBooleanTrue
from kextlab.kernel.registry.registry import kIODeviceTreePlane, kIOServicePlane
from kextlab.kernel.registry.snapshot import (
    IORegistrySnapshotEntry,
    ServiceState,
    SnapshotNode,
    build_snapshot,
    from_dump_value,
)

HID_SYSTEM = 0x1_0000_0300


def dump() -> SnapshotNode:
    """Root -> MacBookPro12,1 -> {two HID event drivers, each above IOHIDSystem}."""

    def hid_system(retain: int, idle: int) -> SnapshotNode:
        return SnapshotNode(
            "IOHIDSystem",
            None,
            "IOHIDSystem",
            HID_SYSTEM,
            retain,
            ServiceState(registered=True, matched=True, active=True, busy=0),
            [("HIDIdleTime", idle)],
        )

    drivers = [
        SnapshotNode(
            "IOHIDEventDriver",
            location,
            "IOHIDEventDriver",
            0x1_0000_0200 + index,
            12,
            ServiceState(registered=True, matched=True, active=True, busy=0),
            [("index", index)],
            [hid_system(30 + index, 1000 + index)],
        )
        for index, location in enumerate(("1", "2"))
    ]
    machine = SnapshotNode(
        "MacBookPro12,1",
        None,
        "IOPlatformExpertDevice",
        0x1_0000_0110,
        42,
        ServiceState(
            registered=True, matched=False, active=False, busy=3, busy_time=109_535_000_000
        ),
        [
            ("model", b"MacBookPro12,1\0"),
            ("IOBusyInterest", "IOCommand is not serializable"),
            ("negative", -100),
            ("big", 1 << 63),
            ("yes", True),
            ("table", {"inner": [1, "two", b"3"]}),
            ("set", UserSet(["a", "b"])),
            ("serial", PrintedValue("<C0**********VN>")),
            ("unprintable", "\ufffd"),
        ],
        drivers,
        line=7,
    )
    return SnapshotNode(
        "Root",
        None,
        "IORegistryEntry",
        0x1_0000_0100,
        31,
        None,
        [("IOKitBuildVersion", "Darwin Kernel Version 15.6.0")],
        [machine],
    )


def test_entries_report_what_the_dump_recorded() -> None:
    registry = build_snapshot(dump())
    plane = registry.plane(kIOServicePlane)
    root = registry.getRoot()
    assert isinstance(root, IORegistrySnapshotEntry)
    assert (root.getName(), root.getRegistryEntryID(), root.getRetainCount()) == (
        "Root",
        0x1_0000_0100,
        31,
    )
    assert root.service_state is None
    (machine,) = root.getChildren(plane)
    assert isinstance(machine, IORegistrySnapshotEntry)
    assert machine.getClassName() == "IOPlatformExpertDevice"
    assert machine.getName(plane) == "MacBookPro12,1"
    assert machine.getRegistryEntryID() == 0x1_0000_0110
    assert machine.getRetainCount() == 42
    assert machine.service_state == ServiceState(
        registered=True, matched=False, active=False, busy=3, busy_time=109_535_000_000
    )
    assert machine.has_properties
    assert machine.class_chain() == ["IOPlatformExpertDevice", "IOService", "IORegistryEntry"]
    assert root.class_chain() == ["IORegistryEntry"]
    drivers = machine.getChildren(plane)
    assert [driver.getLocation(plane) for driver in drivers] == ["1", "2"]
    assert machine.getLocation(plane) is None
    assert registry.fromPath("IOService:/IOHIDEventDriver@2/IOHIDSystem") is not None


def test_properties_come_back_as_the_dump_printed_them() -> None:
    registry = build_snapshot(dump())
    machine = registry.getRoot().getChildEntry(registry.plane(kIOServicePlane))
    assert machine is not None
    table = machine.getPropertyTable()
    negative = table.getObject("negative")
    assert isinstance(negative, OSNumber)
    assert (negative.numberOfBits(), negative.unsigned64BitValue()) == (64, (1 << 64) - 100)
    assert isinstance(table.getObject("model"), OSData)
    assert table.getObject("yes") is kOSBooleanTrue
    assert isinstance(table.getObject("set"), OSSet)
    assert isinstance(table.getObject("serial"), PrintedObject)
    inner = table.getObject("table")
    assert isinstance(inner, OSDictionary)
    assert isinstance(inner.getObject("inner"), OSArray)
    assert to_user(table) == {
        "model": b"MacBookPro12,1\0",
        "IOBusyInterest": "IOCommand is not serializable",
        "negative": -100,
        "big": -(1 << 63),
        "yes": True,
        "table": {"inner": [1, "two", b"3"]},
        "set": ["a", "b"],
        "serial": "<C0**********VN>",
        "unprintable": "\ufffd",
    }
    read = to_user(table)
    assert isinstance(read, dict)
    assert type(read["set"]) is UserSet
    assert type(read["serial"]) is PrintedValue
    root_properties = to_user(registry.getRoot().getPropertyTable())
    assert root_properties == {"IOKitBuildVersion": "Darwin Kernel Version 15.6.0"}


def test_an_id_printed_twice_is_one_entry_with_both_parents() -> None:
    """It keeps what its first printing recorded."""
    registry = build_snapshot(dump())
    plane = registry.plane(kIOServicePlane)
    machine = registry.getRoot().getChildEntry(plane)
    assert machine is not None
    first, second = machine.getChildren(plane)
    (system,) = first.getChildren(plane)
    assert second.getChildren(plane) == [system]
    assert system.getParents(plane) == [first, second]
    assert system.getRegistryEntryID() == HID_SYSTEM
    assert system.getRetainCount() == 30
    assert to_user(system.getPropertyTable()) == {"HIDIdleTime": 1000}
    assert first.isChild(system, plane)
    assert second.isChild(system, plane)


def test_a_snapshot_can_be_of_another_plane() -> None:
    registry = build_snapshot(dump(), kIODeviceTreePlane)
    tree = registry.plane(kIODeviceTreePlane)
    machine = registry.getRoot().getChildEntry(tree)
    assert machine is not None
    assert machine.getName(tree) == "MacBookPro12,1"
    assert registry.getPlane(kIOServicePlane) is None  # a dump holds the plane it printed
    # a registry rebuilt from a dump has only the properties the dump recorded
    assert not registry.getRoot().propertyExists("IORegistryPlanes")


def test_a_string_key_without_properties_is_an_entry_without_a_table() -> None:
    node = SnapshotNode("Root", None, "IORegistryEntry", 0x1_0000_0100, 1, None, None, [])
    node.children.append(SnapshotNode("child", "0", "IOService", 0x1_0000_0101, 2))
    registry = build_snapshot(node)
    child = registry.getRoot().getChildEntry(registry.plane(kIOServicePlane))
    assert isinstance(child, IORegistrySnapshotEntry)
    assert not child.has_properties
    assert child.getPropertyTable().getCount() == 0
    assert [found.name for found in node.walk()] == ["Root", "child"]


def test_dump_values_map_to_os_objects() -> None:
    assert isinstance(from_dump_value("x"), OSString)
    number = from_dump_value(-1)
    assert isinstance(number, OSNumber)
    assert number.unsigned64BitValue() == (1 << 64) - 1
    with pytest.raises(TypeError, match=r"no OS object for dump value 1\.5"):
        from_dump_value(1.5)
