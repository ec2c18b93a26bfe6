"""Booted machines for tests: the default machine (or any description) with its
firmware run and its kernel started with the built-in families, quiet.

For kextlab's own tests and for kext authors::

    with booted_kernel() as kernel:
        port = io.IOMainPort(kernel.registry, kernel)
        io.KextManagerLoadKextWithURL(port, "MyDriver.kext")
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

from kextlab.firmware.openfirmware import OpenFirmware
from kextlab.kernel.kernel import Kernel
from kextlab.machine.description import load_machine_description
from kextlab.machine.machine import Machine
from kextlab.sim.preemption import PreemptionPolicy
from kextlab.userland.system import start_kernel


@contextmanager
def booted_kernel(
    machine: str = "default",
    *,
    seed: int = 0,
    preemption: PreemptionPolicy | Literal["off", "seeded"] | None = None,
) -> Iterator[Kernel]:
    """The kernel of ``machine`` (an embedded name or a TOML file), booted and quiet;
    the machine is closed when the block ends.  ``preemption`` overrides the
    machine's ``[scheduler]`` table (``"seeded"`` to hunt races by ``seed``)."""
    description = load_machine_description(machine)
    with Machine(description, seed=seed, preemption=preemption) as running:
        tree = OpenFirmware(running).power_on()
        running.run()
        yield start_kernel(running, tree)
