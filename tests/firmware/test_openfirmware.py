"""Power-on as a whole: determinism, idempotence and the boot log."""

from __future__ import annotations

from kextlab.firmware.display import list_tree

from .support import DEFAULT_MACHINE, NESTED_BRIDGES


def snapshot(tree) -> list[tuple[str, int, dict[str, bytes]]]:
    return [(node.path, node.phandle, dict(node.properties)) for node in tree.nodes()]


def test_two_power_ons_produce_identical_trees(boot):
    """Two machines from one description get the same paths, phandles and property bytes."""
    _, _, first = boot(NESTED_BRIDGES)
    _, _, second = boot(NESTED_BRIDGES)
    assert first is not second
    assert snapshot(first) == snapshot(second)
    assert list_tree(first.root) == list_tree(second.root)


def test_two_power_ons_take_the_same_virtual_time_and_log_the_same(boot):
    """Probing costs the same virtual time and prints the same boot log both times."""
    first_machine, _, _ = boot(DEFAULT_MACHINE)
    second_machine, _, _ = boot(DEFAULT_MACHINE)
    assert first_machine.scheduler.now > 0
    assert first_machine.scheduler.now == second_machine.scheduler.now
    assert first_machine.console.lines() == second_machine.console.lines()


def test_power_on_builds_the_tree_once(booted):
    """A second power_on returns the same tree without probing again."""
    machine, firmware = booted
    tree = firmware.device_tree
    cycles = machine.pci.config_cycles
    assert firmware.power_on() is tree
    assert machine.pci.config_cycles == cycles


def test_boot_log_reports_the_tree_size(booted):
    """The last firmware line counts the nodes and properties of the tree it built."""
    machine, firmware = booted
    nodes = list(firmware.device_tree.nodes())
    properties = sum(len(node.properties) for node in nodes)
    expected = f"device tree: {len(nodes)} nodes, {properties} properties"
    assert any(line.endswith(expected) for line in machine.console.lines())


def test_node_for_maps_every_pci_function_to_its_node(booted):
    """node_for gives each machine function the node whose reg names its location."""
    machine, firmware = booted
    for function in machine.pci_functions():
        node = firmware.node_for(function)
        assert node is not None, function.name
        phys_hi = node.get_cells("reg")[0]
        location = (phys_hi >> 16 & 0xFF, phys_hi >> 11 & 0x1F, phys_hi >> 8 & 7)
        assert location == (
            function.bus.number,
            function.device_number,
            function.function_number,
        )
