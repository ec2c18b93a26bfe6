"""Open Firmware's power-on sequence: probe PCI, build the device tree, report.

``OpenFirmware(machine).power_on()`` is what happens between power-on and the
hand-off to the kernel:

1. announce the machine on the console (model, kernel, memory, seed);
2. probe and configure the PCI hierarchy (``pci_probe``);
3. build the device tree: the root and its standard nodes (``standard_nodes``), the
   interrupt controller, the host bridge and a node per PCI function
   (``pci_binding``), ``/aliases`` for the host bridge and every named device;
4. give every node a phandle, then add the properties that refer to phandles: each
   PCI bus node's ``interrupt-map`` and ``/chosen``'s ``interrupt-controller``.

It runs on the host context of the machine's scheduler: configuration cycles cost
virtual time, so the boot log's timestamps show how long probing took.  Later
issues add NVRAM, the user interface and booting a kernel.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kextlab import __version__
from kextlab.firmware import pci_binding, standard_nodes
from kextlab.firmware.devicetree import DeviceTree, DeviceTreeNode
from kextlab.firmware.pci_probe import PCIProbe, ProbedFunction
from kextlab.machine.pci.function import PCIFunction
from kextlab.machine.sizes import format_size

if TYPE_CHECKING:
    from kextlab.machine.machine import Machine

FIRMWARE_VERSION = f"kextlab Open Firmware {__version__}"


class OpenFirmware:
    """The firmware of one machine."""

    def __init__(self, machine: Machine) -> None:
        self.machine = machine
        self.device_tree: DeviceTree | None = None
        self.pci: list[ProbedFunction] = []
        self.pci_nodes: dict[str, DeviceTreeNode] = {}

    def log(self, message: str) -> None:
        self.machine.log("firmware", message)

    def power_on(self) -> DeviceTree:
        """Probe the hardware and build the device tree (once per machine)."""
        if self.device_tree is not None:
            return self.device_tree
        machine = self.machine
        description = machine.description
        self.log(
            f"{FIRMWARE_VERSION} on {description.model} ({description.name}), seed "
            f"{machine.scheduler.seed}"
        )
        self.log(f"kernel: {description.arch} {description.kernel_bits}-bit")
        for region in machine.memory.ranges:
            self.log(
                f"memory: {format_size(region.size)} RAM at [{region.base:#x}, {region.end:#x})"
            )
        self.pci = PCIProbe(machine, lambda message: machine.log("pci", message)).run()
        tree = self._build_tree()
        self.device_tree = tree
        nodes = list(tree.nodes())
        self.log(
            f"device tree: {len(nodes)} nodes, "
            f"{sum(len(node.properties) for node in nodes)} properties"
        )
        machine.scheduler.trace_point("firmware.ready", f"{len(nodes)} nodes")
        return tree

    def _build_tree(self) -> DeviceTree:
        description = self.machine.description
        cells = standard_nodes.root_cells(description)
        tree = standard_nodes.build_root(description, cells)
        root = tree.root
        standard_nodes.add_cpus(root, description)
        standard_nodes.add_memory(root, description, cells)
        controller = standard_nodes.add_interrupt_controller(
            root, self.machine.interrupt_controller.inputs, cells
        )
        layout = description.host_bridge
        host = pci_binding.add_host_bridge(root, layout, cells, self.pci, self.pci_nodes)
        chosen = standard_nodes.add_chosen(root, description)
        standard_nodes.add_options(root, description)
        standard_nodes.add_aliases(root, self._aliases(host))
        standard_nodes.add_openprom(root, FIRMWARE_VERSION)
        standard_nodes.add_packages(root)

        tree.assign_phandles()
        chosen.set_int("interrupt-controller", controller.phandle)
        _set_interrupt_map(
            host,
            pci_binding.host_interrupt_map(self.pci, layout.interrupt_inputs, controller.phandle),
        )
        for function in self._all_functions():
            if function.is_bridge:
                node = self.pci_nodes[function.location]
                parent = node.parent
                assert parent is not None
                _set_interrupt_map(node, pci_binding.bridge_interrupt_map(function, parent.phandle))
        return tree

    def _all_functions(self) -> list[ProbedFunction]:
        return [function for root in self.pci for function in root.walk()]

    def _aliases(self, host: DeviceTreeNode) -> dict[str, str]:
        aliases = {"pci": host.path}
        for name, device in self.machine.devices.items():
            if isinstance(device, PCIFunction):
                node = self.pci_nodes.get(device.location)
                if node is not None:
                    aliases[name] = node.path
        return aliases

    def node_for(self, function: PCIFunction) -> DeviceTreeNode | None:
        """The device-tree node of a machine's PCI function."""
        return self.pci_nodes.get(function.location)


def _set_interrupt_map(node: DeviceTreeNode, entries: list[int]) -> None:
    """A bus node's interrupt-map and its mask, when any child has an interrupt."""
    if entries:
        node.set_cells("interrupt-map-mask", pci_binding.INTERRUPT_MAP_MASK)
        node.set_cells("interrupt-map", entries)
