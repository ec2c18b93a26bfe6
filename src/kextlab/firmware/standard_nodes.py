"""The standard nodes of an Apple-style Open Firmware tree (IEEE 1275 §3.5, Apple NewWorld).

``/`` (named ``device-tree``, as on every Apple machine), ``/cpus``, ``/memory``,
``/chosen``, ``/options``, ``/aliases``, ``/openprom``, ``/packages`` and the
interrupt controller.  Only what this firmware really has is published: no
instance handles in ``/chosen`` until there is a console to open, no support
packages under ``/packages`` until the firmware implements them.

Cell sizes: the root's ``#address-cells``/``#size-cells`` are 1 on a machine whose
RAM and PCI windows all lie below 4 GiB (the 32-bit Power Macs), 2 otherwise (the
Power Mac G5 does the same).  Unit addresses of root-level nodes are their first
``reg`` address in hex, one number per cell, comma-separated (``memory@0,0``,
``pci@0,f2000000`` on a two-cell root).
"""

from __future__ import annotations

from kextlab.firmware.devicetree import DeviceTree, DeviceTreeNode, unit_address
from kextlab.firmware.variables import CONFIG_VARIABLES
from kextlab.machine.description import (
    INTERRUPT_CONTROLLER_BASE,
    INTERRUPT_CONTROLLER_SIZE,
    MachineDescription,
)
from kextlab.machine.memory import FOUR_GIB

CPU_NODE_NAMES = {"ppc": "PowerPC,G4", "x86": "cpu", "arm64": "cpu"}
CPU_COMPATIBLE = {"ppc": "PowerPC,G4", "x86": "x86_64", "arm64": "arm64"}


def root_cells(description: MachineDescription) -> int:
    """1 when everything lies below 4 GiB, else 2."""
    ends = [ram.end for ram in description.ram]
    window = description.host_bridge.prefetchable_window
    if window is not None:
        ends.append(window.end)
    return 1 if max(ends) <= FOUR_GIB else 2


def encode_number(value: int, cells: int) -> list[int]:
    """``value`` as ``cells`` 32-bit cells, most significant first."""
    return [value >> (32 * index) & 0xFFFF_FFFF for index in reversed(range(cells))]


def build_root(description: MachineDescription, cells: int) -> DeviceTree:
    tree = DeviceTree()
    root = tree.root
    root.set_string("device_type", "bootrom")
    root.set_string("model", description.model)
    root.set_strings("compatible", [description.model, "kextlab"])
    root.set_int("#address-cells", cells)
    root.set_int("#size-cells", cells)
    return tree


def add_cpus(root: DeviceTreeNode, description: MachineDescription) -> DeviceTreeNode:
    cpus = root.add_child("cpus")
    cpus.set_int("#address-cells", 1)
    cpus.set_int("#size-cells", 0)
    cpu = cpus.add_child(CPU_NODE_NAMES[description.arch], "0")
    cpu.set_string("device_type", "cpu")
    cpu.set_string("compatible", CPU_COMPATIBLE[description.arch])
    cpu.set_int("reg", 0)
    if description.arch != "ppc":
        cpu.set_boolean("64-bit")
    return cpus


def add_memory(root: DeviceTreeNode, description: MachineDescription, cells: int) -> DeviceTreeNode:
    first = description.ram[0].base
    memory = root.add_child("memory", unit_address(encode_number(first, cells)))
    memory.set_string("device_type", "memory")
    reg: list[int] = []
    for ram in description.ram:
        reg += encode_number(ram.base, cells) + encode_number(ram.size, cells)
    memory.set_cells("reg", reg)
    memory.set_cells("available", reg)
    return memory


def add_interrupt_controller(root: DeviceTreeNode, inputs: int, cells: int) -> DeviceTreeNode:
    address = encode_number(INTERRUPT_CONTROLLER_BASE, cells)
    node = root.add_child("interrupt-controller", unit_address(address))
    node.set_string("device_type", "interrupt-controller")
    node.set_string("compatible", "kextlab,pic")
    node.set_boolean("interrupt-controller")
    node.set_int("#interrupt-cells", 2)  # input number, sense (1 = level)
    node.set_int("#address-cells", 0)
    node.set_int("inputs", inputs)
    node.set_cells("reg", address + encode_number(INTERRUPT_CONTROLLER_SIZE, cells))
    return node


def add_chosen(root: DeviceTreeNode, description: MachineDescription) -> DeviceTreeNode:
    chosen = root.add_child("chosen")
    chosen.set_string("bootargs", description.boot_args)
    return chosen


def add_options(root: DeviceTreeNode, description: MachineDescription) -> DeviceTreeNode:
    """``/options``: one property per configuration variable, its value as text."""
    options = root.add_child("options")
    current = {"boot-args": description.boot_args}
    for variable in CONFIG_VARIABLES:
        if variable.kind == "data":
            options.set_boolean(variable.name)
        else:
            options.set_string(variable.name, current.get(variable.name, variable.default))
    return options


def add_aliases(root: DeviceTreeNode, aliases: dict[str, str]) -> DeviceTreeNode:
    node = root.add_child("aliases")
    for name, path in aliases.items():
        node.set_string(name, path)
    return node


def add_openprom(root: DeviceTreeNode, version: str) -> DeviceTreeNode:
    openprom = root.add_child("openprom")
    openprom.set_string("device_type", "BootROM")
    openprom.set_string("model", version)
    return openprom


def add_packages(root: DeviceTreeNode) -> DeviceTreeNode:
    return root.add_child("packages")
