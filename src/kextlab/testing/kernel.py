"""Booted machines for tests: the default machine (or any description) with its
firmware run and its kernel started with the built-in families, quiet.

For kextlab's own tests and for kext authors::

    with booted_kernel() as kernel:
        port = io.IOMainPort(kernel.registry, kernel)
        io.KextManagerLoadKextWithURL(port, "MyDriver.kext")
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Literal

from kextlab.firmware.openfirmware import OpenFirmware
from kextlab.kernel.kernel import Kernel
from kextlab.machine.description import load_machine_description
from kextlab.machine.machine import Machine
from kextlab.machine.machines import SAMPLE_CD
from kextlab.sim.preemption import PreemptionPolicy
from kextlab.userland.system import DEFAULT_EXTENSIONS, start_kernel


@contextmanager
def booted_kernel(
    machine: str = "default",
    *,
    seed: int = 0,
    preemption: PreemptionPolicy | Literal["off", "seeded"] | None = None,
    extensions: Sequence[Path] = DEFAULT_EXTENSIONS,
) -> Iterator[Kernel]:
    """The kernel of ``machine`` (an embedded name or a TOML file), booted and quiet;
    the machine is closed when the block ends.  ``preemption`` overrides the
    machine's ``[scheduler]`` table (``"seeded"`` to hunt races by ``seed``);
    ``extensions`` are the folders whose boot-set kexts load (``()``: none, so the
    machine's HBA stays without a driver and the kernel holds only what the
    families do)."""
    description = load_machine_description(machine)
    with Machine(description, seed=seed, preemption=preemption) as running:
        tree = OpenFirmware(running).power_on()
        running.run()
        yield start_kernel(running, tree, extensions)


def default_machine_variant(directory: Path, name: str, replacements: dict[str, str]) -> Path:
    """A copy of the default machine's file in ``directory``, with each key of
    ``replacements`` replaced by its value (each must occur exactly once), and the
    media it ships with (its CD) named by absolute path, so the copy boots anywhere."""
    text = resources.files("kextlab.machine.machines").joinpath("default.toml").read_text("utf-8")
    replacements = {f'image = "{SAMPLE_CD.name}"': f'image = "{SAMPLE_CD}"', **replacements}
    for old, new in replacements.items():
        if text.count(old) != 1:
            raise ValueError(f"default.toml holds {old!r} {text.count(old)} times, not once")
        text = text.replace(old, new)
    path = directory / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path
