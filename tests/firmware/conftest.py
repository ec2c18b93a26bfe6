"""Fixtures of the firmware tests: machines booted from TOML, and the real MOL trees."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kextlab.firmware.devicetree import DeviceTree
from kextlab.firmware.moltree import read_mol_tree_file
from kextlab.firmware.openfirmware import OpenFirmware
from kextlab.machine.description import parse_machine_description
from kextlab.machine.machine import Machine

Booted = tuple[Machine, OpenFirmware, DeviceTree]


@pytest.fixture
def boot() -> Iterator[Callable[[str], Booted]]:
    """Build a machine from TOML text and power it on; closes every machine it made."""
    machines: list[Machine] = []

    def build(text: str) -> Booted:
        machine = Machine(parse_machine_description(text, "test.toml", "test"))
        machines.append(machine)
        firmware = OpenFirmware(machine)
        return machine, firmware, firmware.power_on()

    yield build
    for machine in machines:
        machine.close()


@pytest.fixture
def oftrees(shared_data: Path) -> Path:
    """``shared/data/oftrees`` (skips when the real data is absent)."""
    return shared_data / "oftrees"


@pytest.fixture
def real_nw(oftrees: Path) -> DeviceTree:
    """The Blue & White G3 tree (``oftree.nw``) as our reader makes it."""
    return read_mol_tree_file(oftrees / "oftree.nw")
