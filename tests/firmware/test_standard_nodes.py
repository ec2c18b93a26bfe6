"""The standard nodes of our tree (spec §2.4): root, cpus, memory, chosen, options, aliases.

``/options`` is also compared with the real ``/options`` of ``oftree.nw``: every
variable whose default is Apple's must read exactly like the B&W G3's.
"""

from __future__ import annotations

import pytest

from kextlab.firmware.openfirmware import FIRMWARE_VERSION
from kextlab.firmware.variables import CONFIG_VARIABLES
from kextlab.machine.description import INTERRUPT_CONTROLLER_BASE

from .support import BW_G3_LIKE


@pytest.fixture
def default_tree(booted):
    return booted[1].device_tree


# -- root ------------------------------------------------------------------------------------


def test_root_is_named_device_tree_with_bootrom_type(default_tree):
    """The root node is ``device-tree`` of device_type bootrom, as on Apple machines."""
    root = default_tree.root
    assert root.name == "device-tree"
    assert root.get_string("name") == "device-tree"
    assert root.get_string("device_type") == "bootrom"
    assert root.get_string("model") == "KextLab1,1"
    assert root.get_strings("compatible") == ["KextLab1,1", "kextlab"]


def test_root_uses_two_cells_when_ram_lies_above_4_gib(default_tree):
    """The default machine has RAM and a prefetchable window above 4 GiB: 2 cells."""
    assert default_tree.root.get_int("#address-cells") == 2
    assert default_tree.root.get_int("#size-cells") == 2


def test_root_uses_one_cell_when_everything_lies_below_4_gib(boot):
    """A machine entirely below 4 GiB gets 1-cell addresses and sizes, like a G3."""
    _, _, tree = boot(BW_G3_LIKE)
    assert tree.root.get_int("#address-cells") == 1
    assert tree.root.get_int("#size-cells") == 1


def test_prefetchable_window_above_4_gib_alone_forces_two_cells(boot):
    """RAM below 4 GiB but a prefetchable window above it still needs 2 cells."""
    _, _, tree = boot(
        """
[memory]
size = "512M"
[pci]
prefetchable_window = { base = 0x1000000000, size = "1G" }
"""
    )
    assert tree.root.get_int("#address-cells") == 2


# -- cpus and memory --------------------------------------------------------------------------


def test_cpus_node_holds_one_cpu_at_unit_0(default_tree):
    """/cpus has #address-cells 1, #size-cells 0 and a cpu@0 with reg 0."""
    cpus = default_tree.find("/cpus")
    assert cpus.get_int("#address-cells") == 1
    assert cpus.get_int("#size-cells") == 0
    [cpu] = cpus.children
    assert cpu.node_name == "cpu@0"
    assert cpu.get_string("device_type") == "cpu"
    assert cpu.get_int("reg") == 0


def test_powerpc_machine_names_its_cpu_like_apple(boot):
    """A ppc machine's CPU node is PowerPC,G4@0 (as on a G4's /cpus)."""
    _, _, tree = boot(BW_G3_LIKE)
    [cpu] = tree.find("/cpus").children
    assert cpu.node_name == "PowerPC,G4@0"


def test_memory_node_lists_every_ram_range_in_two_cells(booted):
    """Default machine: /memory@0,0 reg = 2 GiB at 0 and 1 GiB at 4 GiB; available the same."""
    machine, firmware = booted
    memory = firmware.device_tree.find("/memory")
    assert memory.node_name == "memory@0,0"
    assert memory.get_string("device_type") == "memory"
    expected = [0, 0, 0, 0x80000000, 1, 0, 0, 0x40000000]
    assert memory.get_cells("reg") == expected
    assert memory.get_cells("available") == expected
    assert [(ram.base, ram.size) for ram in machine.description.ram] == [
        (0, 0x80000000),
        (0x1_0000_0000, 0x40000000),
    ]


def test_memory_node_on_one_cell_machine(boot):
    """Below 4 GiB: /memory@0 with one (address, size) pair of one cell each."""
    _, _, tree = boot(BW_G3_LIKE)
    memory = tree.find("/memory")
    assert memory.node_name == "memory@0"
    assert memory.get_cells("reg") == [0, 0x20000000]
    assert memory.get_cells("available") == [0, 0x20000000]


# -- interrupt controller and chosen -----------------------------------------------------------


def test_interrupt_controller_node_describes_a_two_cell_controller(default_tree):
    """The controller: boolean interrupt-controller, 2 interrupt cells, 0 address cells."""
    controller = default_tree.find("/interrupt-controller")
    assert controller.node_name == f"interrupt-controller@0,{INTERRUPT_CONTROLLER_BASE:x}"
    assert controller.get_property("interrupt-controller") == b""
    assert controller.get_int("#interrupt-cells") == 2
    assert controller.get_int("#address-cells") == 0
    assert controller.get_cells("reg")[:2] == [0, INTERRUPT_CONTROLLER_BASE]


def test_chosen_interrupt_controller_is_the_controller_phandle(default_tree):
    """/chosen interrupt-controller holds the phandle of the interrupt-controller node."""
    phandle = default_tree.find("/chosen").get_int("interrupt-controller")
    assert phandle is not None
    node = default_tree.by_phandle(phandle)
    assert node is default_tree.find("/interrupt-controller")
    assert node.has_property("interrupt-controller")


def test_chosen_bootargs_and_options_boot_args_carry_the_boot_args(boot):
    """[boot] args reach /chosen bootargs and the current value of boot-args."""
    _, _, tree = boot('[memory]\nsize = "256M"\n[boot]\nargs = "-v debug=0x14e"\n')
    assert tree.find("/chosen").get_string("bootargs") == "-v debug=0x14e"
    assert tree.find("/options").get_string("boot-args") == "-v debug=0x14e"


# -- options ---------------------------------------------------------------------------------


def test_options_has_every_variable_in_apple_order(default_tree):
    """/options: name, then one property per configuration variable, in gOFVariables order."""
    names = list(default_tree.find("/options").properties)
    assert names == ["name", *(variable.name for variable in CONFIG_VARIABLES)]


def test_options_carry_apple_defaults(default_tree):
    """boot-command mac-boot, a 100x40 screen, load-base 0x800000, Apple's boot-device."""
    options = default_tree.find("/options")
    assert options.get_string("boot-command") == "mac-boot"
    assert options.get_string("screen-#columns") == "100"
    assert options.get_string("screen-#rows") == "40"
    assert options.get_string("load-base") == "0x800000"
    assert options.get_property("boot-device") == b"hd:,\\\\:tbxi\0"
    assert options.get_string("auto-boot?") == "true"


def test_data_variables_are_empty_properties(default_tree):
    """aapl,pci, security-password and boot-image are present with no value."""
    options = default_tree.find("/options")
    for name in ("aapl,pci", "security-password", "boot-image"):
        assert options.get_property(name) == b"", name


def test_options_match_the_real_b_and_w_g3_options(default_tree, real_nw):
    """Every variable with an Apple default has the exact bytes of oftree.nw's /options."""
    ours = default_tree.find("/options")
    real = real_nw.find("/options")
    compared = 0
    for variable in CONFIG_VARIABLES:
        if not variable.apple_default:
            continue
        assert ours.get_property(variable.name) == real.get_property(variable.name), variable.name
        compared += 1
    assert compared >= 38


# -- aliases, openprom, packages ----------------------------------------------------------------


def test_aliases_name_the_host_bridge_and_every_pci_device(booted):
    """/aliases has pci and one alias per named PCI device, each resolving to its node."""
    machine, firmware = booted
    tree = firmware.device_tree
    aliases = tree.aliases()
    assert set(aliases) == {"pci", "bridge0", "testcard0", "testcard1", "hba0"}
    assert tree.find("pci") is tree.find(aliases["pci"])
    assert tree.find("pci").name == "pci"
    for name in ("bridge0", "testcard0", "testcard1", "hba0"):
        node = firmware.node_for(machine.pci_function(name))
        assert tree.find(name) is node
        assert aliases[name] == node.path


def test_alias_followed_by_more_path_resolves(booted):
    """``bridge0/pci1234,1`` goes through the alias, then down to the card behind it."""
    machine, firmware = booted
    tree = firmware.device_tree
    assert tree.find("bridge0/pci1234,1") is firmware.node_for(machine.pci_function("testcard0"))
    assert tree.find("testcard0").path == "/pci@0,f2000000/pci-bridge@d/pci1234,1@1"


def test_openprom_names_the_firmware(default_tree):
    """/openprom is a BootROM whose model is the firmware version string."""
    openprom = default_tree.find("/openprom")
    assert openprom.get_string("device_type") == "BootROM"
    assert openprom.get_string("model") == FIRMWARE_VERSION


def test_standard_top_level_nodes_are_present(default_tree):
    """cpus, memory, chosen, options, aliases, openprom and packages hang off the root."""
    names = {child.name for child in default_tree.root.children}
    assert {"cpus", "memory", "chosen", "options", "aliases", "openprom", "packages"} <= names


def test_every_node_has_a_distinct_phandle(default_tree):
    """Phandles are non-zero and unique across the built tree."""
    phandles = [node.phandle for node in default_tree.nodes()]
    assert all(phandles)
    assert len(set(phandles)) == len(phandles)
