"""A leak check for every test that boots a machine.

``kernel_leak_check`` is a pytest fixture (kextlab's own suite uses it autouse;
a kext author adds ``from kextlab.testing.leaks import kernel_leak_check`` to a
``conftest.py`` and lists it in ``usefixtures`` or makes it autouse there).  While
it is active, every machine closed during the test is checked first, if its kernel
finished booting and the machine did not panic:

1. the drivers that kexts loaded after boot defined are terminated, as at shutdown,
   and the machine runs (boundedly, in virtual time) until that is done;
2. then the kernel must hold nothing beyond its state at the end of boot
   (``Kernel.resources_since_boot``): no live kernel thread, no pending event, no
   instance of a driver-runtime class or of a class a kext loaded, no ``IOMalloc``
   memory, no prepared DMA command.

So every test that loads a driver also proves that the driver's ``stop`` and
``free`` give everything back.  Whatever is left fails the test at teardown with
one line per resource.  A test that leaks on purpose says so with
``@pytest.mark.allow_leaks``.

Threading rules: host context (pytest's thread).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

import pytest

from kextlab.kernel.kernel import Kernel
from kextlab.kernel.registry.registry import kIOServicePlane
from kextlab.kernel.service.service import IOService
from kextlab.machine.machine import Machine
from kextlab.sim.time import SECOND

#: How long the machine may run, in virtual time, to finish terminating drivers.
SHUTDOWN_BUDGET_NS: Final = 10 * SECOND
#: The marker a test uses to leak on purpose.
ALLOW_LEAKS_MARKER: Final = "allow_leaks"


def terminate_loaded_drivers(kernel: Kernel) -> int:
    """Terminate every service whose class a kext loaded after boot defined; run
    until done.  Returns how many were asked to terminate."""
    baseline = kernel.boot_state
    if baseline is None:
        return 0
    plane = kernel.registry.plane(kIOServicePlane)
    asked = 0
    with kernel.entered():
        services = [
            entry
            for entry in kernel.registry.getRoot().iterate(plane, recursive=True)
            if isinstance(entry, IOService)
            and entry.getMetaClass().getKmodName() not in baseline.kexts
        ]
        for service in services:
            if not service.isInactive() and service.terminate():
                asked += 1
    # Let what was finishing finish (terminations, threads ending after a free).
    kernel.scheduler.run(kernel.scheduler.now + SHUTDOWN_BUDGET_NS)
    return asked


def check_machine(machine: Machine) -> list[str]:
    """What ``machine``'s kernel leaked since boot (after shutting its test drivers
    down); empty if it has no booted kernel or it panicked."""
    scheduler = machine.scheduler
    kernel = scheduler.extensions.get("kernel")
    if not isinstance(kernel, Kernel) or kernel.boot_state is None or scheduler.panicked:
        return []
    terminate_loaded_drivers(kernel)
    return [] if machine_panicked(machine) else kernel.resources_since_boot()


def machine_panicked(machine: Machine) -> bool:
    """Whether ``machine`` stopped with a kernel panic (nothing to check then)."""
    return machine.scheduler.panicked


@pytest.fixture
def kernel_leak_check(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail the test if a machine it closed leaked kernel resources (see the module)."""
    leaks: list[str] = []
    original_close = Machine.close

    def checked_close(machine: Machine) -> None:
        try:
            problems = check_machine(machine)
        finally:
            original_close(machine)
        leaks.extend(f"machine {machine.name!r}: {problem}" for problem in problems)

    setattr(Machine, "close", checked_close)  # noqa: B010 - patched for this test only
    try:
        yield
    finally:
        setattr(Machine, "close", original_close)  # noqa: B010
    if leaks and request.node.get_closest_marker(ALLOW_LEAKS_MARKER) is None:
        pytest.fail(
            "the test left kernel resources behind:\n  " + "\n  ".join(leaks), pytrace=False
        )
