"""What xnu keeps in ``IOService.cpp``'s globals, kept per kernel instead.

xnu's service layer leans on globals: the catalogue (``gIOCatalogue``), the
notification tables (``gNotifications``), the config-thread job queue (``gJobs``),
the terminate lists (``gIOTerminatePhase2List``, ``gIOStopList``,
``gIOFinalizeList``), ``gIOResources``, ``gIOKitDebug``.  kextlab runs several
machines in one process (ARCHITECTURE.md §2), so they live in one ``ServiceGlobals``
per kernel, registered in its scheduler's ``extensions`` under ``"iokit"``; code
running on that machine finds it with ``current_globals()``.

A ``ServiceGlobals`` needs a scheduler, a class registry and a registry, not a whole
machine: ``kextlab kextmatch`` runs the same matching engine over a real Mac's dump
with no hardware at all.

Threading rules: used from the machine's threads, events and the entered host.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from kextlab.errors import InternalError
from kextlab.sim.scheduler import Scheduler, current_scheduler
from kextlab.sim.sync import WaitQueue

if TYPE_CHECKING:
    from kextlab.kernel.libkern.object import ClassRegistry, OSObject
    from kextlab.kernel.platform.expert import IOResources
    from kextlab.kernel.registry.registry import IORegistry
    from kextlab.machine.machine import Machine

#: The kernel architectures a kernel can be built for (``x86`` is what kextlab's
#: machine descriptions call an Intel 64-bit-capable kernel).
ARCHITECTURES: Final = ("ppc", "i386", "x86", "x86_64", "arm64")

#: The name the service layer registers under in ``Scheduler.extensions``.
SERVICE_EXTENSION = "iokit"


class ServiceGlobals:
    """The service layer's shared state in one kernel."""

    def __init__(
        self,
        scheduler: Scheduler,
        classes: ClassRegistry,
        registry: IORegistry,
        *,
        arch: str,
        log: Callable[[str], None],
    ) -> None:
        from kextlab.kernel.catalogue import IOCatalogue
        from kextlab.kernel.service.notification import NotificationCenter
        from kextlab.kernel.service.registration import ConfigQueue
        from kextlab.kernel.service.termination import TerminationWork

        if arch not in ARCHITECTURES:
            raise ValueError(
                f"unknown kernel architecture {arch!r}; expected one of {', '.join(ARCHITECTURES)}"
            )
        self.scheduler = scheduler
        self.classes = classes
        self.registry = registry
        #: The kernel's architecture ("ppc", "i386", "x86", "x86_64", "arm64"):
        #: families whose behaviour differs by build read it (IOPCIFamily's bonus).
        self.arch = arch
        #: ``gIOKitDebug``: the ``kIOLog*`` bits of ``IOKitDebug``.
        self.debug_flags = 0
        self._log = log
        self.resources: IOResources | None = None
        #: The hardware, for families that reach it (the host bridge driver, device
        #: memory maps); None in a kernel without a machine (``kextmatch``).
        self.machine: Machine | None = None
        self.catalogue = IOCatalogue(self)
        self.notifications = NotificationCenter(self)
        self.config = ConfigQueue(self)
        self.termination = TerminationWork(self)
        #: Broadcast whenever a busy count returns to zero (``waitQuiet`` rechecks).
        self.quiet = WaitQueue(scheduler, "IOService quiet")
        #: Allocates the class a personality's ``IOClass`` names.  ``kextmatch``
        #: replaces it to stand in for drivers whose code is not loaded.
        self.allocate: Callable[[str], OSObject | None] = classes.allocClassWithName
        scheduler.extensions[SERVICE_EXTENSION] = self

    def log(self, message: str) -> None:
        """A line in the kernel log (xnu's ``LOG``/``IOLog``)."""
        self._log(message.rstrip("\n"))


def current_globals() -> ServiceGlobals:
    """The service layer of the kernel the calling code runs in."""
    scheduler = current_scheduler()
    globals_ = scheduler.extensions.get(SERVICE_EXTENSION) if scheduler is not None else None
    if not isinstance(globals_, ServiceGlobals):
        raise InternalError("I/O Kit service code called outside a running kernel")
    return globals_
