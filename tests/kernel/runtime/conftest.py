"""A machine without hardware for the driver-runtime tests: a scheduler, entered.

The runtime (locks, time, threads, IOLog) finds its machine through
``current_scheduler()``; these tests need nothing more, so they run on a bare
``Scheduler`` entered for the test body (kernel threads it spawns are its own).
``Device`` is a stand-in for an interrupting device: a level-sensitive source
wired straight to the CPU's interrupt input.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from kextlab.sim.scheduler import Scheduler


@pytest.fixture
def scheduler() -> Iterator[Scheduler]:
    """A fresh machine core, current for the test body."""
    machine = Scheduler()
    with machine.entered():
        yield machine


class Device:
    """Raises the CPU's interrupt line; ``handler`` runs in interrupt context and
    acknowledges it after calling ``on_interrupt``."""

    def __init__(self, scheduler: Scheduler, on_interrupt: Callable[[], object]) -> None:
        self.scheduler = scheduler
        self.on_interrupt = on_interrupt
        self.handled: list[int] = []
        scheduler.interrupts.connect(self.handler)

    def interrupt_at(self, time: int) -> None:
        self.scheduler.at(time, lambda: self.scheduler.interrupts.set_asserted(True), "device")

    def handler(self) -> None:
        self.handled.append(self.scheduler.now)
        try:
            self.on_interrupt()
        finally:
            self.scheduler.interrupts.set_asserted(False)
