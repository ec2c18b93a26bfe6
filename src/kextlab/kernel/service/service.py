"""IOService: the registry entry that takes part in the service plane.

Mirrors xnu's ``IOService.cpp`` and ``IOService.h``.  This module owns the object
itself: its state bits (``__state[0]``, what ``ioreg`` prints) and internal bits
(``__state[1]``), the busy count and its propagation to providers (``_adjustBusy``),
provider/client links (``attach``/``detach``), the driver lifecycle a subclass
overrides (``init``/``probe``/``start``/``stop``/``free``, ``matchPropertyTable``,
``requestTerminate``/``willTerminate``/``didTerminate``), ``open``/``close`` with
a single exclusive owner, messages, and the public entry points of the layers
beside it, each of which lives in its own module:

* ``matching``      passive matching, ``probeCandidates``, ``startCandidate``
* ``registration``  ``registerService``, the config threads, ``doServiceMatch``
* ``notification``  notifications, ``waitForService``, ``getMatchingServices``
* ``termination``   the three phases of ``terminate``
* ``interrupts``    ``registerInterrupt`` and the other interrupt methods of a nub
* ``user_client``   ``newUserClient`` and ``IOUserClient``
* ``debug``         ``IOKitDebug`` logging

Out-parameters: where Apple passes ``SInt32 *score`` (``probe``,
``matchPropertyTable``), kextlab passes a ``ScoreRef`` whose ``value`` the callee
may change.

An IOService is not serializable as a property value: one stored in a property
shows as ``"<Class> is not serializable"``, as on a Mac.

Threading rules: the lifecycle methods run on config threads (matching) and the
terminate thread; ``attach``/``detach``/``open``/``close`` may be called from any
kernel thread or the entered host; nothing here blocks except ``waitQuiet``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from kextlab.kernel.ioreturn import kIOReturnSuccess, kIOReturnUnsupported
from kextlab.kernel.registry.entry import IORegistryEntry
from kextlab.kernel.registry.plane import IORegistryPlane
from kextlab.kernel.registry.registry import kIOServicePlane
from kextlab.kernel.service import debug
from kextlab.kernel.service.globals import ServiceGlobals, current_globals
from kextlab.sim.scheduler import current_scheduler

if TYPE_CHECKING:
    from kextlab.kernel.libkern.collections import OSDictionary
    from kextlab.kernel.libkern.object import OSObject
    from kextlab.kernel.memory.task import Task
    from kextlab.kernel.service.interrupts import (
        InterruptTypeRef,
        IOInterruptAction,
        IOInterruptSource,
    )
    from kextlab.kernel.service.notification import IONotifier
    from kextlab.kernel.service.user_client import IOUserClientRef
    from kextlab.kernel.workloop.work_loop import IOWorkLoop

# -- __state[0]: the bits user space sees (IOService.h) -------------------------------------------
kIOServiceInactiveState: Final = 0x0000_0001
kIOServiceRegisteredState: Final = 0x0000_0002
kIOServiceMatchedState: Final = 0x0000_0004
kIOServiceFirstPublishState: Final = 0x0000_0008
kIOServiceFirstMatchState: Final = 0x0000_0010

# -- options (IOService.h) ------------------------------------------------------------------------
kIOServiceExclusive: Final = 0x0000_0001
kIOServiceRequired: Final = 0x0000_0001
kIOServiceSynchronous: Final = 0x0000_0002
kIOServiceTerminate: Final = 0x0000_0004
kIOServiceAsynchronous: Final = 0x0000_0008
kIOServiceTerminateWithRematch: Final = 0x0000_0010
kIOServiceSeize: Final = 0x0000_0001
kIOServiceFamilyOpenOptions: Final = 0xFFFF_0000
kIOServiceFamilyCloseOptions: Final = 0xFFFF_0000

# -- __state[1]: the service's private bookkeeping (IOServicePrivate.h) ---------------------------
kIOServiceBusyStateMask: Final = 0x0000_03FF
kIOServiceNeedConfigState: Final = 0x8000_0000
kIOServiceSynchronousState: Final = 0x4000_0000
kIOServiceModuleStallState: Final = 0x2000_0000
kIOServiceBusyWaiterState: Final = 0x1000_0000
kIOServiceSyncPubState: Final = 0x0800_0000
kIOServiceConfigState: Final = 0x0400_0000
kIOServiceStartState: Final = 0x0200_0000
kIOServiceTermPhase2State: Final = 0x0100_0000
kIOServiceTermPhase3State: Final = 0x0080_0000
kIOServiceTermPhase1State: Final = 0x0040_0000
kIOServiceTerm1WaiterState: Final = 0x0020_0000
kIOServiceRecursing: Final = 0x0010_0000
kIOServiceNeedWillTerminate: Final = 0x0008_0000
kIOServiceWaitDetachState: Final = 0x0004_0000
kIOServiceConfigRunning: Final = 0x0002_0000
kIOServiceFinalized: Final = 0x0001_0000
kIOServiceRematchOnDetach: Final = 0x0000_8000

# -- messages (IOMessage.h: iokit_common_msg(n) = 0xe0000000 | n) ---------------------------------
kIOMessageServiceIsTerminated: Final = 0xE000_0010
kIOMessageServiceIsSuspended: Final = 0xE000_0020
kIOMessageServiceIsResumed: Final = 0xE000_0030
kIOMessageServiceIsRequestingClose: Final = 0xE000_0100
kIOMessageServiceIsAttemptingOpen: Final = 0xE000_0101
kIOMessageServiceWasClosed: Final = 0xE000_0110
kIOMessageServiceBusyStateChange: Final = 0xE000_0120
kIOMessageServicePropertyChange: Final = 0xE000_0130

#: The interest types of ``registerInterest`` (IOKitKeys.h).
gIOGeneralInterest: Final = "IOGeneralInterest"
gIOBusyInterest: Final = "IOBusyInterest"

#: Apple's ``IOServiceInterestHandler``: (target, refCon, messageType, provider,
#: messageArgument) -> IOReturn.
InterestHandler = Callable[[object, object, int, "IOService", object], int]


@dataclass
class ScoreRef:
    """The ``SInt32 *score`` of ``probe`` and ``matchPropertyTable``."""

    value: int


class IOService(IORegistryEntry):
    """A service: an entry of the service plane with state, a busy count and a lifecycle."""

    def __init__(self) -> None:
        super().__init__()
        self._state = 0
        self._state1 = 0
        self._busy = 0
        self._busy_since: int | None = None
        self._busy_time = 0
        self._owner: IOService | None = None
        self._interests: dict[str, list[IONotifier]] = {}

    # -- the lifecycle a driver overrides ---------------------------------------------------------

    def probe(self, provider: IOService, score: ScoreRef) -> IOService | None:
        """Actively confirm the match; may change ``score.value`` or return another
        object; None declines.  Runs attached to ``provider``."""
        return self

    def start(self, provider: IOService) -> bool:
        """Start driving ``provider``; False makes matching try the next candidate."""
        return True

    def stop(self, provider: IOService) -> None:
        """Stop driving ``provider`` (also reached after a failed ``start``)."""

    def matchPropertyTable(self, table: OSDictionary, score: ScoreRef) -> bool:
        """Family-specific passive matching of the keys ``matchInternal`` left over."""
        return True

    def matchLocation(self, client: IOService) -> IOService | None:
        """The service that answers ``IOLocationMatch`` for ``client``: by default
        whichever ancestor claims location."""
        provider = self.getProvider()
        return provider.matchLocation(client) if provider is not None else None

    def requestTerminate(self, provider: IOService, options: int) -> bool:
        """Whether to be terminated with ``provider``: yes if it is the only one."""
        return self.isParent(provider, self._service_plane(provider), onlyParent=True)

    def willTerminate(self, provider: IOService, options: int) -> bool:
        """``provider`` is being terminated (phase 2, before ``didTerminate``)."""
        return True

    def didTerminate(self, provider: IOService, options: int, defer: list[bool]) -> bool:
        """``provider`` is terminated: stop now unless it is still held open."""
        if defer and defer[0]:
            return True
        if not provider.handleIsOpen(self):
            self.scheduleStop(provider)
        else:
            self.message(kIOMessageServiceIsRequestingClose, provider, options)
            if not provider.handleIsOpen(self):
                self.scheduleStop(provider)
        return True

    def finalize(self, options: int) -> bool:
        """Every client is gone: arrange to be stopped by each live provider."""
        from kextlab.kernel.service.termination import finalize_service

        return finalize_service(self, options)

    def message(self, type: int, provider: IOService, argument: object = None) -> int:
        """A message from ``provider`` (or anyone); the default understands none."""
        return kIOReturnUnsupported

    def getWorkLoop(self) -> IOWorkLoop | None:
        """The provider's work loop, as xnu's default does: a driver that makes its own
        overrides this to return it, and its clients then share it."""
        # getProvider, inlined: this runs for every command a SCSI device sends.
        parents = self._parents.get(kIOServicePlane)
        if parents:
            provider = parents[0]
            if isinstance(provider, IOService):
                return provider.getWorkLoop()
        return None

    # -- state ------------------------------------------------------------------------------------

    def getState(self) -> int:
        return self._state

    def set_state_bits(self, bits: int, *, clear: int = 0) -> None:
        """Set (and clear) ``__state[0]`` bits."""
        self._state = (self._state | bits) & ~clear

    def isInactive(self) -> bool:
        return self._state & kIOServiceInactiveState != 0

    def has_internal_state(self, bits: int) -> bool:
        """Whether any of the ``__state[1]`` ``bits`` are set."""
        return bool(self._state1 & bits)

    def set_internal_state(self, bits: int, *, clear: int = 0) -> None:
        self._state1 = (self._state1 | bits) & ~clear

    # -- busy -------------------------------------------------------------------------------------

    def getBusyState(self) -> int:
        return self._busy

    def adjustBusy(self, delta: int) -> None:
        """Change the busy count (``_adjustBusy``).  When it goes from 0 to non-zero
        or back, the provider's count moves by one too, up the plane; time spent
        busy accumulates in virtual nanoseconds (ioreg's ``busy N (T ms)``).

        A change that would take the count below 0 or past its mask is refused
        with xnu's ``bad busy count (count,delta)`` line in the kernel log, and the
        count is left as it was.  It happens on a real Mac too: a nub terminated
        while its match job is still queued loses its busy counts at detach, and
        the job gives its own back afterwards.  xnu then also passes a -1 on to the
        provider; kextlab stops there, so one miscount does not spread."""
        service: IOService | None = self
        while service is not None and delta:
            before = service._busy
            after = before + delta
            if after < 0 or after > kIOServiceBusyStateMask:
                globals_ = _maybe_globals()
                if globals_ is not None:
                    globals_.log(f"{service.getName()}: bad busy count ({before},{delta})")
                return
            now = _now()
            service._busy = after
            if before == 0:
                service._busy_since = now
            elif after == 0:
                if service._busy_since is not None:
                    service._busy_time += now - service._busy_since
                service._busy_since = None
            if (before == 0) != (after == 0):
                service._busy_changed(after)
                delta = 1 if after else -1
                service = service.getProvider()
            else:
                delta = 0

    def _busy_changed(self, busy: int) -> None:
        for notifier in list(self._interests.get(gIOBusyInterest, [])):
            notifier.deliver_message(kIOMessageServiceBusyStateChange, self, busy)
        if busy == 0:
            globals_ = _maybe_globals()
            if globals_ is not None:
                globals_.quiet.wakeup_all()

    def busy_time(self) -> int:
        """Accumulated busy time in nanoseconds, including a busy period still open."""
        open_period = _now() - self._busy_since if self._busy_since is not None else 0
        return self._busy_time + open_period

    def waitQuiet(self, timeout: int | None = None) -> int:
        """Block until the busy count is zero (``kIOReturnTimeout`` after ``timeout``
        virtual nanoseconds; None waits for ever)."""
        from kextlab.kernel.service.registration import wait_quiet

        return wait_quiet(self, timeout)

    # -- providers and clients --------------------------------------------------------------------

    def _service_plane(self, other: IORegistryEntry | None = None) -> IORegistryPlane:
        registry = (other.registry if other is not None else None) or self.registry
        if registry is None:
            raise ValueError(f"{other or self!r} is not in a registry")
        return registry.plane(kIOServicePlane)

    def attach(self, provider: IOService) -> bool:
        """Become a client of ``provider`` (refused when it is inactive)."""
        if debug.enabled(debug.kIOLogAttach):
            debug.log(f"{self.describe()}::attach({provider.describe()})")
        if provider.isInactive():
            return False
        return self.attachToParent(provider, self._service_plane(provider))

    def detach(self, provider: IOService) -> None:
        """Stop being a client of ``provider`` (xnu ``IOService::detach``): carries a
        busy count over, finalizes a terminated provider whose last client this was,
        and re-registers the provider if this service asked to rematch on detach."""
        if debug.enabled(debug.kIOLogAttach):
            debug.log(f"{self.describe()}::detach({provider.describe()})")
        busy = self._busy
        adjust_parent = bool(busy) and provider is self.getProvider()
        plane = self._service_plane(provider)
        self.retain()
        try:
            self.detachFromParent(provider, plane)
            new_provider = self.getProvider() if busy else None
            if busy and self.has_internal_state(kIOServiceTermPhase3State) and new_provider is None:
                self.adjustBusy(-busy)
            if new_provider is not None and adjust_parent:
                new_provider.adjustBusy(1)
            if self.has_internal_state(kIOServiceStartState):
                provider.scheduleTerminatePhase2()
            if adjust_parent:
                provider.adjustBusy(-1)
            if (
                provider.has_internal_state(kIOServiceTermPhase3State)
                and provider.getClient() is None
            ):
                provider.scheduleFinalize()
            if self.has_internal_state(kIOServiceRematchOnDetach):
                provider.registerService()
        finally:
            self.release()

    # getProvider and getClient read the entry's links in the service plane directly
    # (IORegistryEntry's table, keyed by plane name; the registry keeps it current on
    # every attach, detach and replacement), because they run several times per I/O.
    # An entry outside any registry has no links, so it has neither.

    def getProvider(self) -> IOService | None:
        parents = self._parents.get(kIOServicePlane)
        if parents:
            parent = parents[0]
            if isinstance(parent, IOService):
                return parent
        return None

    def getClient(self) -> IOService | None:
        children = self._children.get(kIOServicePlane)
        if children:
            child = children[0]
            if isinstance(child, IOService):
                return child
        return None

    def getClients(self) -> list[IOService]:
        """The clients, in attach order (``getClientIterator``)."""
        if self.registry is None:
            return []
        return [
            child
            for child in self.getChildren(self.registry.plane(kIOServicePlane))
            if isinstance(child, IOService)
        ]

    def getProviders(self) -> list[IOService]:
        """The providers, in attach order (``getProviderIterator``)."""
        if self.registry is None:
            return []
        return [
            parent
            for parent in self.getParents(self.registry.plane(kIOServicePlane))
            if isinstance(parent, IOService)
        ]

    def isParent(
        self, parent: IORegistryEntry, plane: IORegistryPlane, onlyParent: bool = False
    ) -> bool:
        """Whether ``parent`` is a parent (the only one, with ``onlyParent``)."""
        parents = self.getParents(plane)
        if onlyParent:
            return parents == [parent]
        return parent in parents

    def copyClientWithCategory(self, category: str) -> IOService | None:
        """The active client (or one pending rematch) whose ``IOMatchCategory`` is
        ``category``: a taken category."""
        for client in self.getClients():
            if client.isInactive() and not client.has_internal_state(kIOServiceRematchOnDetach):
                continue
            value = client.getProperty("IOMatchCategory")
            if value is not None and str(value) == category:
                return client
        return None

    # -- open and close ---------------------------------------------------------------------------

    def open(self, forClient: IOService, options: int = 0, arg: object = None) -> bool:
        """Open for ``forClient`` (``IOService::open``)."""
        self.messageClients(kIOMessageServiceIsAttemptingOpen, forClient, exclude=forClient)
        if self.isInactive() and not self.has_internal_state(kIOServiceRecursing):
            return False
        return self.handleOpen(forClient, options, arg)

    def close(self, forClient: IOService, options: int = 0) -> None:
        """Close for ``forClient``; closing a terminated provider stops the client."""
        was_open = self.handleIsOpen(forClient)
        if was_open:
            self.handleClose(forClient, options)
        if self.has_internal_state(kIOServiceTermPhase3State):
            forClient.scheduleStop(self)
        elif was_open:
            self.messageClients(kIOMessageServiceWasClosed, forClient, exclude=forClient)

    def isOpen(self, forClient: IOService | None = None) -> bool:
        return self.handleIsOpen(forClient)

    def handleOpen(self, forClient: IOService, options: int, arg: object) -> bool:
        """One exclusive owner; ``kIOServiceSeize`` asks the owner to close first."""
        if self._owner is None:
            self._owner = forClient
            return True
        if self._owner is forClient:
            return True
        if options & kIOServiceSeize:
            owner = self._owner
            self.messageClient(kIOMessageServiceIsRequestingClose, owner, options)
            if not self.handleIsOpen(None):  # the owner closed meanwhile
                self._owner = forClient
                return True
        return False

    def handleClose(self, forClient: IOService, options: int) -> None:
        if self._owner is forClient:
            self._owner = None

    def handleIsOpen(self, forClient: IOService | None) -> bool:
        if forClient is None:
            return self._owner is not None
        return self._owner is forClient

    # -- messages and interest --------------------------------------------------------------------

    def messageClient(self, type: int, client: object, argument: object = None) -> int:
        """Deliver a message to a client service or an interest notifier."""
        from kextlab.kernel.service.notification import IONotifier

        if isinstance(client, IOService):
            return client.message(type, self, argument)
        if isinstance(client, IONotifier):
            return client.deliver_message(type, self, argument)
        return kIOReturnUnsupported

    def messageClients(self, type: int, argument: object = None, *, exclude: object = None) -> int:
        """Message every client, then every ``IOGeneralInterest`` notifier."""
        for client in self.getClients():
            if client is not exclude:
                self.messageClient(type, client, argument)
        for notifier in list(self._interests.get(gIOGeneralInterest, [])):
            if notifier is not exclude:
                self.messageClient(type, notifier, argument)
        return kIOReturnSuccess

    def registerInterest(
        self,
        typeOfInterest: str,
        handler: InterestHandler,
        target: object = None,
        ref: object = None,
    ) -> IONotifier:
        """Be told of this service's messages (``IOGeneralInterest``) or busy changes."""
        from kextlab.kernel.service.notification import IOServiceInterestNotifier

        notifier = IOServiceInterestNotifier(self, typeOfInterest, handler, target, ref)
        self._interests.setdefault(typeOfInterest, []).append(notifier)
        return notifier

    def remove_interest(self, notifier: IONotifier) -> None:
        for notifiers in self._interests.values():
            if notifier in notifiers:
                notifiers.remove(notifier)

    # -- the layers beside this one ---------------------------------------------------------------

    def registerService(self, options: int = 0) -> None:
        """Publish the service for matching (``IOService::registerService``)."""
        from kextlab.kernel.service.registration import register_service

        register_service(self, options)

    def terminate(self, options: int = 0) -> bool:
        """Terminate this service and the clients that depend on it alone."""
        from kextlab.kernel.service.termination import terminate

        return terminate(self, options)

    def scheduleStop(self, provider: IOService) -> None:
        """Queue ``stop(provider)`` for the terminate thread's phase 3."""
        self.globals.termination.schedule_stop(self, provider)

    def scheduleFinalize(self) -> None:
        self.globals.termination.schedule_finalize(self)

    def scheduleTerminatePhase2(self) -> None:
        self.globals.termination.wake()

    def newUserClient(
        self,
        owningTask: Task,
        securityID: object,
        type: int,
        properties: OSDictionary | None,
        handler: IOUserClientRef,
    ) -> int:
        """Make the user client for a connection from ``owningTask`` and store it in
        ``handler.value``; the default instantiates the class named by this
        service's ``IOUserClientClass`` (``kextlab.kernel.service.user_client``)."""
        from kextlab.kernel.service.user_client import new_user_client

        return new_user_client(self, owningTask, securityID, type, properties, handler)

    def passiveMatch(self, table: OSDictionary, changesOK: bool = False) -> bool:
        from kextlab.kernel.service.matching import kIOServiceChangesOK, match_passive

        return match_passive(self, table, kIOServiceChangesOK if changesOK else 0)

    def matchPassive(self, table: OSDictionary, options: int) -> bool:
        from kextlab.kernel.service.matching import match_passive

        return match_passive(self, table, options)

    def compareProperty(self, matching: OSDictionary, key: str) -> bool:
        """True when ``matching`` lacks ``key`` or its value equals this service's."""
        value = matching.getObject(key)
        return value is None or value.isEqualTo(self.getProperty(key))

    def compareProperties(self, matching: OSDictionary | None, keys: list[str] | None) -> bool:
        if matching is None or keys is None:
            return False
        return all(self.compareProperty(matching, key) for key in keys)

    @staticmethod
    def publishResource(key: str, value: OSObject | None = None) -> None:
        """Publish a resource on ``IOResources`` and re-match resource drivers."""
        resources = current_globals().resources
        if resources is None:
            raise ValueError("publishResource: the kernel has no IOResources yet")
        resources.publish_resource(key, value)

    # -- interrupts (kextlab.kernel.service.interrupts) -------------------------------------------

    #: The resolved interrupt sources (xnu's ``_interruptSources``), made on first use.
    _interrupt_sources: list[IOInterruptSource] | None = None

    def registerInterrupt(
        self, source: int, target: object, handler: IOInterruptAction, refCon: object = None
    ) -> int:
        """Have ``handler(target, refCon, self, source)`` called, in interrupt context,
        when interrupt ``source`` fires; it starts disabled (``enableInterrupt``)."""
        from kextlab.kernel.service.interrupts import register_interrupt

        return register_interrupt(self, source, target, handler, refCon)

    def unregisterInterrupt(self, source: int) -> int:
        from kextlab.kernel.service.interrupts import unregister_interrupt

        return unregister_interrupt(self, source)

    def unregisterAllInterrupts(self) -> None:
        from kextlab.kernel.service.interrupts import unregister_all_interrupts

        unregister_all_interrupts(self)

    def getInterruptType(self, source: int, interruptType: InterruptTypeRef) -> int:
        """Store ``kIOInterruptTypeEdge`` or ``kIOInterruptTypeLevel`` in
        ``interruptType.value``."""
        from kextlab.kernel.service.interrupts import get_interrupt_type

        return get_interrupt_type(self, source, interruptType)

    # enableInterrupt and disableInterrupt run for every I/O (an interrupt event
    # source disables its level interrupt in the handler and enables it after the
    # action), so a source already resolved goes straight to its controller; anything
    # else takes lookupInterrupt's way, for its return codes.

    def enableInterrupt(self, source: int) -> int:
        sources = self._interrupt_sources
        if sources is not None and 0 <= source < len(sources):
            controller = sources[source].interruptController
            if controller is not None:
                return controller.enableInterrupt(self, source)
        from kextlab.kernel.service.interrupts import enable_interrupt

        return enable_interrupt(self, source)

    def disableInterrupt(self, source: int) -> int:
        sources = self._interrupt_sources
        if sources is not None and 0 <= source < len(sources):
            controller = sources[source].interruptController
            if controller is not None:
                return controller.disableInterrupt(self, source)
        from kextlab.kernel.service.interrupts import disable_interrupt

        return disable_interrupt(self, source)

    def causeInterrupt(self, source: int) -> int:
        from kextlab.kernel.service.interrupts import cause_interrupt

        return cause_interrupt(self, source)

    # -- helpers ----------------------------------------------------------------------------------

    @property
    def globals(self) -> ServiceGlobals:
        return current_globals()

    def describe(self) -> str:
        """``name[0xid]``, as xnu's logs write a service."""
        return f"{self.getName()}[{self.getRegistryEntryID():#x}]"

    def free(self) -> None:
        self._interests.clear()
        self._owner = None
        super().free()


def _now() -> int:
    scheduler = current_scheduler()
    return scheduler.now if scheduler is not None else 0


def _maybe_globals() -> ServiceGlobals | None:
    from kextlab.kernel.service.globals import SERVICE_EXTENSION

    scheduler = current_scheduler()
    globals_ = scheduler.extensions.get(SERVICE_EXTENSION) if scheduler is not None else None
    return globals_ if isinstance(globals_, ServiceGlobals) else None
