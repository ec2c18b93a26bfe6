"""IOService: the registry entry that takes part in the service plane.

Mirrors the state-keeping parts of xnu's ``IOService.cpp``: the state bits ``ioreg``
prints (registered, matched, inactive), the busy count with its accumulated busy
time (``IOServiceGetBusyStateAndTime``), and provider/client links in the
``IOService`` plane (``attach``/``detach``, ``getProvider``/``getClient``).

Registration, matching, notifications and termination are the next layer
(``kextlab.kernel.service`` grows them with the catalogue); this module is the
ground they stand on, and the platform uses it to build the top of the service
plane.  An IOService is not serializable as a property value: one stored in a
property shows as ``"<Class> is not serializable"``, as on a Mac.

Threading rules: call on the machine's threads or events; nothing here blocks.
"""

from __future__ import annotations

from typing import Final

from kextlab.kernel.registry.entry import IORegistryEntry
from kextlab.kernel.registry.plane import IORegistryPlane
from kextlab.kernel.registry.registry import kIOServicePlane
from kextlab.sim.scheduler import current_scheduler

kIOServiceInactiveState: Final = 0x0000_0001
kIOServiceRegisteredState: Final = 0x0000_0002
kIOServiceMatchedState: Final = 0x0000_0004
kIOServiceFirstPublishState: Final = 0x0000_0008
kIOServiceFirstMatchState: Final = 0x0000_0010


class IOService(IORegistryEntry):
    """A service: an entry of the service plane with state and a busy count."""

    def __init__(self) -> None:
        super().__init__()
        self._state = 0
        self._busy = 0
        self._busy_since: int | None = None
        self._busy_time = 0

    # -- state -----------------------------------------------------------------------------

    def getState(self) -> int:
        return self._state

    def set_state_bits(self, bits: int, *, clear: int = 0) -> None:
        """Set (and clear) state bits; the registration and termination layers call this."""
        self._state = (self._state | bits) & ~clear

    def isInactive(self) -> bool:
        return bool(self._state & kIOServiceInactiveState)

    # -- busy ------------------------------------------------------------------------------

    def getBusyState(self) -> int:
        return self._busy

    def adjustBusy(self, delta: int) -> None:
        """Change the busy count; time spent busy accumulates in virtual nanoseconds."""
        if self._busy + delta < 0:
            raise ValueError(f"{self!r}: busy count would go negative")
        now = _now()
        if self._busy == 0 and delta > 0:
            self._busy_since = now
        self._busy += delta
        if self._busy == 0 and self._busy_since is not None:
            self._busy_time += now - self._busy_since
            self._busy_since = None

    def busy_time(self) -> int:
        """Accumulated busy time in nanoseconds, including a busy period still open."""
        open_period = _now() - self._busy_since if self._busy_since is not None else 0
        return self._busy_time + open_period

    # -- providers and clients ---------------------------------------------------------------

    def _service_plane(self, other: IORegistryEntry) -> IORegistryPlane:
        registry = other.registry or self.registry
        if registry is None:
            raise ValueError(f"{other!r} is not in a registry")
        return registry.plane(kIOServicePlane)

    def attach(self, provider: IOService) -> bool:
        """Become a client of ``provider`` in the service plane."""
        return self.attachToParent(provider, self._service_plane(provider))

    def detach(self, provider: IOService) -> None:
        self.detachFromParent(provider, self._service_plane(provider))

    def getProvider(self) -> IOService | None:
        if self.registry is None:
            return None
        parent = self.getParentEntry(self.registry.plane(kIOServicePlane))
        return parent if isinstance(parent, IOService) else None

    def getClient(self) -> IOService | None:
        if self.registry is None:
            return None
        child = self.getChildEntry(self.registry.plane(kIOServicePlane))
        return child if isinstance(child, IOService) else None

    def getClients(self) -> list[IOService]:
        if self.registry is None:
            return []
        return [
            child
            for child in self.getChildren(self.registry.plane(kIOServicePlane))
            if isinstance(child, IOService)
        ]


def _now() -> int:
    scheduler = current_scheduler()
    return scheduler.now if scheduler is not None else 0
