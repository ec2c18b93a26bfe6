"""Booting whole machines end to end: firmware, device tree, traces."""

from __future__ import annotations

import io

from kextlab.firmware.openfirmware import OpenFirmware
from kextlab.machine.machine import Machine
from kextlab.sim.trace import TraceRecorder


def boot_trace(seed: int) -> str:
    stream = io.StringIO()
    with Machine.from_name("default", seed=seed, trace=TraceRecorder(stream)) as machine:
        OpenFirmware(machine).power_on()
        machine.run()
    return stream.getvalue()


def test_the_default_machine_boots_to_a_tree_with_a_device_behind_a_bridge() -> None:
    """The default machine's tree has a PCI-to-PCI bridge with a test card behind it."""
    with Machine.from_name("default") as machine:
        tree = OpenFirmware(machine).power_on()
        bridge = tree.find("bridge0")
        assert bridge is not None
        assert bridge.get_string("device_type") == "pci"
        assert [child.node_name for child in bridge.children] == ["pci1234,1@1"]
        assert tree.find("testcard0") is bridge.children[0]
        assert machine.guest_errors.count() == 0
        assert machine.scheduler.live_threads() == []


def test_a_boot_trace_is_reproducible_from_the_seed() -> None:
    """Booting twice with one seed writes the same trace; the seed is in it."""
    first = boot_trace(7)
    assert first == boot_trace(7)
    assert "machine.power-on default seed 7" in first
    assert "pci.config write 00:0d.0 0x19 size 1 value 0x1" in first
    assert first != boot_trace(8)
