"""Fixtures of the kernel tests: a bare kernel context for libkern, and booted kernels.

``kernel_context`` gives libkern what a running kernel gives it: a ``ClassRegistry``
registered with a scheduler, and the calling code entered into that scheduler, so
that objects made in the test are counted (``ioclasscount``) and symbols are unique.
It needs no machine and costs nothing.

``kernel`` is the default machine after its firmware ran and its kernel started, as
``kextlab boot`` leaves it (``userland.cli.booted``), without the command line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import pytest

from kextlab.firmware.openfirmware import OpenFirmware
from kextlab.kernel.kernel import Kernel
from kextlab.kernel.libkern.object import KERNEL_EXTENSION, ClassRegistry
from kextlab.machine.machine import Machine
from kextlab.sim.scheduler import Scheduler


@contextmanager
def entered_kernel() -> Iterator[ClassRegistry]:
    """A fresh class registry, current for the calling code while the block runs."""
    scheduler = Scheduler()
    classes = ClassRegistry()
    scheduler.extensions[KERNEL_EXTENSION] = classes
    with scheduler.entered():
        yield classes


@pytest.fixture
def kernel_context() -> Iterator[ClassRegistry]:
    """The test body runs as code of a kernel whose classes are returned."""
    with entered_kernel() as classes:
        yield classes


@pytest.fixture
def make_kernel() -> Iterator[Callable[[], Kernel]]:
    """Boot default machines with started kernels; closes every machine it made."""
    machines: list[Machine] = []

    def build() -> Kernel:
        machine = Machine.from_name("default")
        machines.append(machine)
        tree = OpenFirmware(machine).power_on()
        machine.run()
        kernel = Kernel(machine, tree)
        kernel.start()
        machine.run()
        return kernel

    yield build
    for machine in machines:
        machine.close()


@pytest.fixture
def kernel(make_kernel: Callable[[], Kernel]) -> Kernel:
    """The default machine with its kernel started."""
    return make_kernel()


def inside(kernel: Kernel) -> AbstractContextManager[Kernel]:
    """Run the block as the kernel's code (its objects are counted there)."""
    return kernel.entered()
