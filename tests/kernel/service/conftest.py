"""A kernel without hardware for the service layer's tests.

``iokit`` is what ``Kernel.start`` builds minus the machine: a scheduler, a class
registry, an I/O Registry and the service layer (catalogue, notifications, config
threads, terminate thread), with a registered root service (``Board``, attached
under the registry root like an ``IOPlatformExpertDevice``) and ``IOResources``
under it.  Tests add personalities with ``add(...)`` (Python dicts become libkern
dictionaries) and publish nubs with ``publish(...)``; ``run()`` lets the config
threads work until the machine is quiet.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from kextlab.kernel.libkern.collections import OSDictionary
from kextlab.kernel.libkern.convert import from_python
from kextlab.kernel.libkern.object import KERNEL_EXTENSION, ClassRegistry, OSObject
from kextlab.kernel.platform.expert import IOPlatformExpertDevice, IOResources
from kextlab.kernel.registry.registry import IORegistry, kIOServicePlane
from kextlab.kernel.service.globals import ServiceGlobals
from kextlab.kernel.service.service import IOService
from kextlab.sim.scheduler import Scheduler

#: What the test drivers did, in order (cleared around every test).
JOURNAL: list[str] = []


@pytest.fixture(autouse=True)
def clean_journal() -> Iterator[None]:
    JOURNAL.clear()
    yield
    JOURNAL.clear()


class Board(IOPlatformExpertDevice):
    """The root of the test service plane."""


class Nub(IOService):
    """A nub drivers match against in these tests."""


class SubNub(Nub):
    """A subclass of ``Nub``: its personalities come first."""


@dataclass
class IOKit:
    scheduler: Scheduler
    classes: ClassRegistry
    registry: IORegistry
    globals: ServiceGlobals
    board: Board
    resources: IOResources
    log: list[str] = field(default_factory=list)

    def add(self, *personalities: dict[str, object], match: bool = True) -> None:
        """Add personalities to the catalogue (``IOCatalogue::addDrivers``)."""
        tables = []
        for personality in personalities:
            table = from_python(personality)
            assert isinstance(table, OSDictionary)
            tables.append(table)
        self.globals.catalogue.addDrivers(tables, doNubMatching=match)
        for table in tables:
            table.release()

    def register(self, *classes: type[OSObject], kext: str = "com.example.test") -> None:
        for cls in classes:
            self.classes.register(cls, kext=kext)

    def publish(
        self, nub: IOService, provider: IOService | None = None, *, run: bool = True
    ) -> IOService:
        """Attach ``nub`` (under the board by default), register it, run to quiet."""
        assert nub.attach(provider or self.board)
        nub.registerService()
        nub.release()  # the plane holds it
        if run:
            self.run()
        return nub

    def run(self) -> None:
        self.scheduler.run()

    def counts(self) -> dict[str, int]:
        return self.classes.instance_counts()


@pytest.fixture
def iokit() -> Iterator[IOKit]:
    scheduler = Scheduler()
    classes = ClassRegistry()
    scheduler.extensions[KERNEL_EXTENSION] = classes
    log: list[str] = []
    with scheduler.entered():
        registry = IORegistry(classes, "test kernel")
        globals_ = ServiceGlobals(scheduler, classes, registry, arch="x86", log=log.append)
        board = Board()
        board.attachToParent(registry.getRoot(), registry.plane(kIOServicePlane))
        resources = IOResources()
        globals_.resources = resources
        resources.attach(board)
        board.registerService()
        resources.registerService()
        scheduler.run()
        yield IOKit(scheduler, classes, registry, globals_, board, resources, log)
        scheduler.shutdown()
