"""``ioclasscount``: the counts a kernel reports, in the C tool's format and order."""

from __future__ import annotations

from kextlab.firmware.openfirmware import OpenFirmware
from kextlab.kernel.kernel import Kernel
from kextlab.kernel.libkern.object import OSObject
from kextlab.machine.machine import Machine
from kextlab.userland import iokitlib as io
from kextlab.userland.iokitlib import SnapshotNode
from kextlab.userland.tools.ioclasscount import EX_OSERR, ioclasscount


def snapshot_with(diagnostics: object) -> io.mach_port_t:
    root = SnapshotNode(
        "Root", None, "IORegistryEntry", 0x100000100, 1, None, [("IOKitDiagnostics", diagnostics)]
    )
    return io.IOMainPortFromSnapshot(root)


def test_every_class_sorted_without_regard_to_case() -> None:
    port = snapshot_with({"Classes": {"zeta": 1, "Alpha": 2, "beta": 0, "IOService": 40}})
    output = ioclasscount(port)
    assert output.status == 0
    assert output.stdout == ["Alpha = 2", "beta = 0", "IOService = 40", "zeta = 1"]


def test_named_classes_share_one_line_and_unknown_ones_say_so() -> None:
    port = snapshot_with({"Classes": {"IOPCIDevice": 3}})
    output = ioclasscount(port, ["IOPCIDevice", "Nope"])
    assert output.stdout == ["IOPCIDevice = 3, Nope = <no such class>"]


def test_missing_or_malformed_diagnostics_fail_with_the_c_tools_words() -> None:
    cases = {
        None: "Error: Allocation information missing.",
        "text": "Error: Allocation information not a dictionary.",
        (): "Error: Class information missing.",
        ("Classes",): "Error: Class information not a dictionary.",
    }
    for diagnostics, message in cases.items():
        if diagnostics is None:
            port = io.IOMainPortFromSnapshot(
                SnapshotNode("Root", None, "IORegistryEntry", 0x100000100, 1, None, [])
            )
        elif diagnostics == ():
            port = snapshot_with({})
        elif diagnostics == ("Classes",):
            port = snapshot_with({"Classes": [1]})
        else:
            port = snapshot_with(diagnostics)
        output = ioclasscount(port)
        assert (output.status, output.stdout, output.stderr) == (EX_OSERR, [], [message])


class CountedThing(OSObject):
    pass


class SpecialThing(CountedThing):
    pass


def test_live_counts_follow_instances_and_the_subclass_rule() -> None:
    """A class counts its instances plus one per direct subclass with instances, and
    a class appears once code on the machine has made one."""
    with Machine.from_name("default") as machine:
        kernel = Kernel(machine, OpenFirmware(machine).power_on())
        kernel.start()
        port = io.IOMainPort(kernel.registry)
        names = ["CountedThing", "SpecialThing"]
        assert ioclasscount(port, names).stdout == [
            "CountedThing = <no such class>, SpecialThing = <no such class>"
        ]
        with kernel.entered():
            special = SpecialThing()
            plain = CountedThing()
        assert ioclasscount(port, names).stdout == ["CountedThing = 2, SpecialThing = 1"]
        special.release()
        assert ioclasscount(port, names).stdout == ["CountedThing = 1, SpecialThing = 0"]
        plain.release()
        assert ioclasscount(port, names).stdout == ["CountedThing = 0, SpecialThing = 0"]
