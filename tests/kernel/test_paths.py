"""Registry paths: ``fromPath``, aliases and ``getPath``, as xnu's IORegistryEntry does them.

The behaviour pinned here is that of ``IORegistryEntry::fromPath`` (called without
an ``opath`` buffer, as ``IORegistryEntryFromPath`` does), ``dealiasPath``,
``getChildFromComponent``, ``matchPathLocation``, ``hasAlias`` and ``getPath``:

* components match a child's name exactly, then optionally ``@location``, compared
  as ``strtouq`` hex numbers separated by ``,`` or ``:``; a number missing on either
  side counts as 0;
* the first component of a path that does not start with ``/`` is an alias, looked
  up among the properties of ``/aliases`` (names shorter than 32 characters);
* nothing may be left over: no trailing ``/`` and no ``:arguments`` (only a caller
  that asks for the residual path gets those);
* ``getPath`` names an entry by the shortest alias of the entry or of its nearest
  aliased ancestor, else by the components from the plane's top entry.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from kextlab.kernel.libkern.object import ClassRegistry
from kextlab.kernel.libkern.values import OSData, OSString
from kextlab.kernel.registry import IORegistry, IORegistryEntry, kIODeviceTreePlane
from kextlab.kernel.registry.registry import kIOServicePlane, match_path_location


@dataclass
class Tree:
    registry: IORegistry
    top: IORegistryEntry
    pci: IORegistryEntry
    pci2: IORegistryEntry
    bridge: IORegistryEntry
    ethernet: IORegistryEntry
    phy: IORegistryEntry
    port: IORegistryEntry
    display10: IORegistryEntry
    display11: IORegistryEntry
    machine: IORegistryEntry
    driver: IORegistryEntry
    nub: IORegistryEntry

    def all(self) -> list[IORegistryEntry]:
        return [
            self.top,
            self.pci,
            self.pci2,
            self.bridge,
            self.ethernet,
            self.phy,
            self.port,
            self.display10,
            self.display11,
        ]


LONG_ALIAS = "a" * 32


@pytest.fixture
def tree(kernel_context: ClassRegistry) -> Tree:
    """A device tree in the style of a Power Mac, and a small service plane."""
    registry = IORegistry(kernel_context)
    plane = registry.plane(kIODeviceTreePlane)

    def node(
        parent: IORegistryEntry,
        name: str,
        location: str | None = None,
        unit: str | None = None,
    ) -> IORegistryEntry:
        entry = IORegistryEntry()
        entry.setName(name)
        if location is not None:
            entry.setLocation(location)
        entry.firmware_unit_address = unit
        entry.attachToParent(parent, plane)
        entry.release()
        return entry

    top = node(registry.getRoot(), "device-tree")
    pci = node(top, "pci", "F2000000", "f2000000")
    pci2 = node(top, "pci", "F3000000")
    bridge = node(pci, "pci-bridge", "D")
    ethernet = node(bridge, "ethernet", "1,2")
    phy = node(ethernet, "phy")
    port = node(phy, "port", "3")
    display10 = node(pci, "display", "10")
    display11 = node(pci, "display", "11,0")
    aliases = node(top, "aliases")
    for key, value in (
        ("name", OSData(b"aliases\0")),
        ("ethernet", OSData(b"/pci@f2000000/pci-bridge@d/ethernet@1,2\0")),
        ("eth", OSData(b"/pci/pci-bridge@D/ethernet@1,2\0garbage")),
        ("eta", OSData(b"/pci/pci-bridge/ethernet\0")),
        ("br", OSString("/pci/pci-bridge@0d")),
        ("gone", OSData(b"/pci/nothing\0")),
        ("chain", OSData(b"eth/phy\0")),
        ("loop", OSData(b"loop\0")),
        (LONG_ALIAS, OSData(b"/pci@f3000000\0")),
    ):
        aliases.getPropertyTable().setObject(key, value)
        value.release()

    service = registry.plane(kIOServicePlane)
    machine = IORegistryEntry()
    machine.setName("Machine")
    machine.attachToParent(registry.getRoot(), service)
    driver = IORegistryEntry()
    driver.setName("Driver")
    driver.setLocation("1")
    driver.attachToParent(machine, service)
    nub = IORegistryEntry()
    nub.setName("Nub")
    nub.attachToParent(driver, service)
    return Tree(
        registry,
        top,
        pci,
        pci2,
        bridge,
        ethernet,
        phy,
        port,
        display10,
        display11,
        machine,
        driver,
        nub,
    )


# -- fromPath ---------------------------------------------------------------------------------


def test_a_slash_names_the_planes_top_entry(tree: Tree) -> None:
    registry = tree.registry
    assert registry.fromPath("IODeviceTree:/") is tree.top
    assert registry.fromPath("/", registry.plane(kIODeviceTreePlane)) is tree.top
    assert registry.fromPath("IOService:/") is tree.machine


@pytest.mark.parametrize(
    "path",
    ["IODeviceTree:", "IOFireWire:/", "/pci", "pci", "IODeviceTree", ""],
)
def test_a_path_needs_a_known_plane_and_a_start(tree: Tree, path: str) -> None:
    assert tree.registry.fromPath(path) is None


@pytest.mark.parametrize(
    ("path", "found"),
    [
        ("/pci", "pci"),  # a bare name takes the first child so named
        ("/pci@f2000000", "pci"),
        ("/pci@F2000000", "pci"),
        ("/pci@0f2000000", "pci"),
        ("/pci@0xf2000000", "pci"),  # strtouq takes a 0x prefix
        ("/pci@f3000000", "pci2"),
        ("/@f3000000", "pci2"),  # a location alone
        ("/pci/pci-bridge@d/ethernet@1,2", "ethernet"),
        ("/pci/pci-bridge@D/ethernet@1,2,0", "ethernet"),  # extra numbers compare with 0
        ("/pci/pci-bridge@d/ethernet@1,2/phy", "phy"),
        ("/pci/display", "display10"),
        ("/pci/display@10", "display10"),
        ("/pci/@10", "display10"),
        ("/pci/display@11", "display11"),  # the location's ",0" compares with a missing 0
        ("/pci/display@11,0", "display11"),
        ("/pci/pci-bridge@d:0", "bridge"),  # ':' separates location numbers too
    ],
)
def test_components_match_names_and_hex_locations(tree: Tree, path: str, found: str) -> None:
    assert tree.registry.fromPath(f"IODeviceTree:{path}") is getattr(tree, found)


@pytest.mark.parametrize(
    "path",
    [
        "/pci/pci-bridge@d/ethernet@1",  # the location's 2 compares with a missing 0
        "/pci/pci-bridge@d/ethernet@1:2",  # separators differ
        "/pci/pci-bridge@d/ethernet@1,3",
        "/pci@f4000000",
        "/pc",
        "/pcix",
        "/pci/nothing",
        "/pci/pci-bridge/",  # a trailing slash is left over
        "/pci/pci-bridge:0",  # arguments are left over without a residual buffer
        "/pci/pci-bridge@d:1",
        "/pci/pci-bridge@",  # matchPathLocation hands back the '@'
        "//pci",
        "/pci@zz",
    ],
)
def test_paths_that_name_nothing_or_leave_text_over(tree: Tree, path: str) -> None:
    assert tree.registry.fromPath(f"IODeviceTree:{path}") is None


def test_the_service_plane_resolves_the_same_way(tree: Tree) -> None:
    assert tree.registry.fromPath("IOService:/Driver@1/Nub") is tree.nub
    assert tree.registry.fromPath("IOService:/Driver/Nub") is tree.nub
    assert tree.registry.fromPath("IOService:/Driver@2/Nub") is None
    assert tree.registry.fromPath("IODeviceTree:/Driver") is None


@pytest.mark.parametrize(
    ("path", "found"),
    [
        ("eth", "ethernet"),  # the alias's value ends at its first NUL
        ("ethernet", "ethernet"),  # firmware unit addresses resolve too
        ("eth/phy", "phy"),
        ("br", "bridge"),  # a string value works as well as data
        ("br/ethernet@1,2", "ethernet"),
        ("chain", "phy"),  # an alias whose path starts with another alias
    ],
)
def test_an_alias_stands_for_its_path(tree: Tree, path: str, found: str) -> None:
    assert tree.registry.fromPath(f"IODeviceTree:{path}") is getattr(tree, found)


@pytest.mark.parametrize(
    "path",
    ["gone", "nothere", "eth:0", "eth/", "eth/nothing", "loop", LONG_ALIAS, "/eth"],
)
def test_aliases_that_name_nothing(tree: Tree, path: str) -> None:
    """Unknown and broken aliases, leftovers after an alias, an alias that names
    itself, and a name too long for dealiasPath to look up."""
    assert tree.registry.fromPath(f"IODeviceTree:{path}") is None


@pytest.mark.parametrize(
    ("path", "location", "rest"),
    [
        ("d/x", "D", 1),
        ("0d", "d", 2),
        ("1,2,0/x", "1,2", 5),
        ("1", "1,0", 1),
        ("1,0", "1", 3),
        ("0x1a", "1A", 4),
        ("", "0", -1),  # nothing to read: the match ends before the '@'
        ("/x", "0", 0),
        (" 5", "5", 2),  # strtouq skips leading space
    ],
)
def test_match_path_location_reports_where_the_rest_begins(
    path: str, location: str, rest: int
) -> None:
    assert match_path_location(path, location) == rest


@pytest.mark.parametrize(
    ("path", "location"),
    [("1", "1,2"), ("1:2", "1,2"), ("2", "1"), ("1,2", "1,3"), ("ffffffffffffffffff", "0")],
)
def test_match_path_location_refuses_different_numbers_or_separators(
    path: str, location: str
) -> None:
    assert match_path_location(path, location) is None


# -- getPath ------------------------------------------------------------------------------------


def test_paths_run_from_the_planes_top_entry(tree: Tree) -> None:
    plane = tree.registry.plane(kIODeviceTreePlane)
    assert tree.top.getPath(plane) == "IODeviceTree:/"
    assert tree.pci.getPath(plane) == "IODeviceTree:/pci@F2000000"
    assert tree.display11.getPath(plane) == "IODeviceTree:/pci@F2000000/display@11,0"
    assert tree.nub.getPath(tree.registry.plane(kIOServicePlane)) == "IOService:/Driver@1/Nub"


def test_an_alias_names_the_entry_the_shortest_first(tree: Tree) -> None:
    """hasAlias picks the shortest alias (the first of equal length)."""
    plane = tree.registry.plane(kIODeviceTreePlane)
    assert tree.ethernet.getPath(plane) == "IODeviceTree:eth"
    assert tree.bridge.getPath(plane) == "IODeviceTree:br"


def test_the_nearest_aliased_ancestor_starts_the_path(tree: Tree) -> None:
    plane = tree.registry.plane(kIODeviceTreePlane)
    assert tree.phy.getPath(plane) == "IODeviceTree:chain"  # an alias of an alias is one
    assert tree.port.getPath(plane) == "IODeviceTree:chain/port@3"


def test_entries_outside_the_planes_tree_have_no_path(tree: Tree) -> None:
    plane = tree.registry.plane(kIODeviceTreePlane)
    assert tree.registry.getRoot().getPath(plane) is None
    assert tree.nub.getPath(plane) is None
    assert IORegistryEntry().getPath(plane) is None
    # a subtree cut from the tree: its entries are not below the top entry
    tree.pci2.retain()
    tree.pci2.detachFromParent(tree.top, plane)
    floating = IORegistryEntry()
    floating.attachToParent(tree.pci2, plane)
    assert floating.getPath(plane) is None
    assert tree.pci2.getPath(plane) is None


def test_an_alias_too_long_to_look_up_still_names_its_entry(tree: Tree) -> None:
    """hasAlias takes every alias; dealiasPath only names shorter than 32 characters."""
    plane = tree.registry.plane(kIODeviceTreePlane)
    assert tree.pci2.getPath(plane) == f"IODeviceTree:{LONG_ALIAS}"
    assert tree.registry.fromPath(f"IODeviceTree:{LONG_ALIAS}") is None


def test_every_path_leads_back_to_its_entry(tree: Tree) -> None:
    plane = tree.registry.plane(kIODeviceTreePlane)
    for entry in tree.all():
        if entry is tree.pci2:
            continue  # see above
        path = entry.getPath(plane)
        assert path is not None
        assert tree.registry.fromPath(path) is entry, path
