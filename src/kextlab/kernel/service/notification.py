"""Notifications, waiting for services, and looking services up.

Mirrors ``IOService::addMatchingNotification``, ``copyNotifiers``,
``invokeNotifiers``, ``waitForService``, ``waitForMatchingService``,
``getMatchingServices``, ``copyMatchingService``, the matching-dictionary builders
(``serviceMatching``, ``nameMatching``, ``resourceMatching``...), and
``registerInterest`` (xnu ``IOService.cpp`` l.6200-6700; spec §3.2-§3.3).

Rules kept:

* Notifiers of one type sit in an ordered set by priority, highest first; equal
  priorities keep the order they were added in.
* Notifiers test a service with ``matchPassive(matching, 0)``: with no
  ``ClassDone``, so ``IOProviderClass`` is checked, subclasses included.
* A new notifier is delivered at once to the services already in the state it
  is about (registered for publish, matched for matched, and the *first*
  variants); terminated and will-terminate have no existing set.  xnu takes the
  existing services from an ``OSSet``, in no defined order; kextlab delivers them
  in service-plane order, which is one of the orders a Mac could use.
* Inactive services get only terminated and will-terminate notifications.
* ``waitForMatchingService`` and ``waitForService`` wait for *matched* (the
  service's own matching pass is over), not merely registered.  Timeouts are in
  virtual time.

Threading rules: handlers run on the thread that changed the service's state (a
config thread, the terminate thread, or the caller of ``terminate``); waiting
blocks the calling kernel thread (or runs the machine, from the host).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Final

from kextlab.kernel.ioreturn import kIOReturnSuccess
from kextlab.kernel.libkern.collections import OSDictionary, OSOrderedSet
from kextlab.kernel.libkern.object import OSObject
from kextlab.kernel.libkern.values import OSNumber, OSString
from kextlab.kernel.registry.registry import kIOServicePlane
from kextlab.kernel.service.globals import current_globals
from kextlab.kernel.service.service import (
    IOService,
    kIOServiceFirstMatchState,
    kIOServiceFirstPublishState,
    kIOServiceMatchedState,
    kIOServiceRegisteredState,
)
from kextlab.sim.sync import WaitQueue

if TYPE_CHECKING:
    from kextlab.kernel.service.globals import ServiceGlobals

gIOPublishNotification: Final = "IOServicePublish"
gIOFirstPublishNotification: Final = "IOServiceFirstPublish"
gIOMatchedNotification: Final = "IOServiceMatched"
gIOFirstMatchNotification: Final = "IOServiceFirstMatch"
gIOTerminatedNotification: Final = "IOServiceTerminate"
gIOWillTerminateNotification: Final = "IOServiceWillTerminate"

NOTIFICATION_TYPES: Final = (
    gIOPublishNotification,
    gIOFirstPublishNotification,
    gIOMatchedNotification,
    gIOFirstMatchNotification,
    gIOTerminatedNotification,
    gIOWillTerminateNotification,
)

#: The state a service must already be in to be told at once of a new notifier.
_EXISTING_STATE: Final = {
    gIOPublishNotification: kIOServiceRegisteredState,
    gIOFirstPublishNotification: kIOServiceFirstPublishState,
    gIOMatchedNotification: kIOServiceMatchedState,
    gIOFirstMatchNotification: kIOServiceFirstMatchState,
}

#: Apple's ``IOServiceMatchingNotificationHandler``:
#: (target, refCon, newService, notifier) -> bool.
MatchingHandler = Callable[[object, object, IOService, "IONotifier"], object]


class IONotifier(OSObject):
    """A notification request; ``remove`` cancels it."""

    def __init__(self) -> None:
        super().__init__()
        self.enabled = True
        self.removed = False

    def remove(self) -> None:
        """Cancel the notification and drop the caller's reference."""
        if not self.removed:
            self.removed = True
            self.enabled = False
            self._unlink()
            self.release()

    def disable(self) -> bool:
        was, self.enabled = self.enabled, False
        return was

    def enable(self, was: bool) -> None:
        self.enabled = was and not self.removed

    def _unlink(self) -> None:
        """Take the notifier out of whatever table holds it."""

    def deliver_message(self, type: int, provider: IOService, argument: object) -> int:
        return kIOReturnSuccess


class IOServiceNotifier(IONotifier):
    """``_IOServiceNotifier``: a matching notification of one type."""

    def __init__(
        self,
        center: NotificationCenter,
        type: str,
        matching: OSDictionary,
        handler: MatchingHandler,
        target: object,
        ref: object,
        priority: int,
    ) -> None:
        super().__init__()
        self.center = center
        self.type = type
        matching.retain()
        self.matching = matching
        self.handler = handler
        self.target = target
        self.ref = ref
        self.priority = priority

    def invoke(self, service: IOService) -> None:
        if self.enabled:
            self.handler(self.target, self.ref, service, self)

    def _unlink(self) -> None:
        self.center.remove(self)

    def free(self) -> None:
        self.matching.release()
        super().free()


class IOServiceInterestNotifier(IONotifier):
    """``_IOServiceInterestNotifier``: a service's messages, for ``registerInterest``."""

    def __init__(
        self,
        service: IOService,
        type: str,
        handler: Callable[[object, object, int, IOService, object], int],
        target: object,
        ref: object,
    ) -> None:
        super().__init__()
        self.service = service
        self.type = type
        self.handler = handler
        self.target = target
        self.ref = ref

    def deliver_message(self, type: int, provider: IOService, argument: object) -> int:
        if not self.enabled:
            return kIOReturnSuccess
        return self.handler(self.target, self.ref, type, provider, argument)

    def _unlink(self) -> None:
        self.service.remove_interest(self)


class NotificationCenter:
    """The notifier tables of one kernel (xnu's ``gNotifications``)."""

    def __init__(self, globals_: ServiceGlobals) -> None:
        from kextlab.kernel.service.matching import service_ordering

        self.globals = globals_
        self._tables = {
            type: OSOrderedSet(service_ordering, "IOProbeScore") for type in NOTIFICATION_TYPES
        }

    def add(self, notifier: IOServiceNotifier) -> None:
        self._tables[notifier.type].setObject(notifier)

    def remove(self, notifier: IOServiceNotifier) -> None:
        self._tables[notifier.type].removeObject(notifier)

    def enabled(self, type: str) -> list[IOServiceNotifier]:
        return [
            notifier
            for notifier in self._tables[type]
            if isinstance(notifier, IOServiceNotifier) and notifier.enabled
        ]

    def copy_notifiers(
        self, service: IOService, type: str, or_state: int, and_state: int = 0xFFFF_FFFF
    ) -> list[IOServiceNotifier]:
        """``copyNotifiers``: move the service's state, then collect the notifiers
        of ``type`` that match it."""
        service.set_state_bits(or_state)
        service.set_state_bits(0, clear=~and_state & 0xFFFF_FFFF)
        if service.isInactive() and type not in (
            gIOTerminatedNotification,
            gIOWillTerminateNotification,
        ):
            return []
        chosen = [
            notifier
            for notifier in self.enabled(type)
            if service.matchPassive(notifier.matching, 0)
        ]
        for notifier in chosen:
            notifier.retain()
        return chosen

    def invoke(self, service: IOService, notifiers: list[IOServiceNotifier]) -> None:
        """``invokeNotifiers``: call each handler, dropping the references taken."""
        for notifier in notifiers:
            try:
                notifier.invoke(service)
            finally:
                notifier.release()

    def existing_services(self, matching: OSDictionary | None, in_state: int) -> list[IOService]:
        """``copyExistingServices``: services in ``in_state`` that match (all of
        them for None), in service-plane order.  Only instances of the matching
        dictionary's ``IOProviderClass`` are tested, as ``applyToInstancesOfClassName``
        does."""
        registry = self.globals.registry
        plane = registry.plane(kIOServicePlane)
        provider_class = matching.getObject("IOProviderClass") if matching is not None else None
        wanted = str(provider_class) if isinstance(provider_class, OSString) else None
        found = []
        for entry in _unique(registry.getRoot().iterate(plane, recursive=True)):
            if not isinstance(entry, IOService) or (entry.getState() & in_state) != in_state:
                continue
            if wanted is not None and wanted not in type(entry).inheritance():
                continue
            if matching is None or entry.matchPassive(matching, 0):
                found.append(entry)
        return found


def _unique(entries: Iterator[OSObject]) -> Iterator[OSObject]:
    seen: set[int] = set()
    for entry in entries:
        if id(entry) not in seen:
            seen.add(id(entry))
            yield entry


# -- matching dictionaries -----------------------------------------------------------------------


def serviceMatching(className: str, table: OSDictionary | None = None) -> OSDictionary:
    """``{IOProviderClass: className}``."""
    return _with(table, "IOProviderClass", OSString(className))


def nameMatching(name: str, table: OSDictionary | None = None) -> OSDictionary:
    return _with(table, "IONameMatch", OSString(name))


def resourceMatching(name: str, table: OSDictionary | None = None) -> OSDictionary:
    """``{IOProviderClass: IOResources, IOResourceMatch: name}``."""
    table = serviceMatching("IOResources", table)
    value = OSString(name)
    table.setObject("IOResourceMatch", value)
    value.release()
    return table


def propertyMatching(key: str, value: OSObject, table: OSDictionary | None = None) -> OSDictionary:
    wanted = OSDictionary()
    wanted.setObject(key, value)
    return _with(table, "IOPropertyMatch", wanted)


def registryEntryIDMatching(entryID: int, table: OSDictionary | None = None) -> OSDictionary:
    return _with(table, "IORegistryEntryID", OSNumber(entryID, 64))


def _with(table: OSDictionary | None, key: str, value: OSObject) -> OSDictionary:
    result = table if table is not None else OSDictionary()
    result.setObject(key, value)
    value.release()
    return result


# -- notifications and waiting -------------------------------------------------------------------


def addMatchingNotification(
    type: str,
    matching: OSDictionary,
    handler: MatchingHandler,
    target: object = None,
    ref: object = None,
    priority: int = 0,
) -> IONotifier:
    """Install a notifier and deliver it to the services already in its state."""
    if type not in NOTIFICATION_TYPES:
        raise ValueError(f"addMatchingNotification: unknown notification type {type!r}")
    center = current_globals().notifications
    notifier = IOServiceNotifier(center, type, matching, handler, target, ref, priority)
    center.add(notifier)
    in_state = _EXISTING_STATE.get(type)
    if in_state is not None:
        for service in center.existing_services(matching, in_state):
            if not notifier.enabled:
                break
            notifier.invoke(service)
    return notifier


def waitForMatchingService(matching: OSDictionary, timeout: int | None = None) -> IOService | None:
    """A matched service (retained), waiting up to ``timeout`` virtual ns for one
    (None: for ever); None on timeout.  Does not consume ``matching``."""
    globals_ = current_globals()
    center = globals_.notifications
    existing = center.existing_services(matching, kIOServiceMatchedState)
    if existing:
        existing[0].retain()
        return existing[0]
    queue = WaitQueue(globals_.scheduler, "waitForMatchingService")
    found: list[IOService] = []

    def arrived(target: object, ref: object, service: IOService, notifier: IONotifier) -> bool:
        if not found:
            service.retain()
            found.append(service)
            notifier.disable()
            queue.wakeup_all()
        return True

    notifier = IOServiceNotifier(center, gIOMatchedNotification, matching, arrived, None, None, 0)
    center.add(notifier)
    try:
        if not found:
            queue.wait(timeout, operation="waitForMatchingService")
    finally:
        notifier.remove()
    return found[0] if found else None


def waitForService(matching: OSDictionary, timeout: int | None = None) -> IOService | None:
    """``waitForService``: consumes ``matching``; the result is not retained."""
    try:
        service = waitForMatchingService(matching, timeout)
    finally:
        matching.release()
    if service is not None:
        service.release()
    return service


def getMatchingServices(matching: OSDictionary) -> list[IOService]:
    """The matched services that match ``matching`` (``getMatchingServices``)."""
    return current_globals().notifications.existing_services(matching, kIOServiceMatchedState)


def copyMatchingService(matching: OSDictionary) -> IOService | None:
    """The first matched service that matches (retained), or None."""
    found = getMatchingServices(matching)
    if not found:
        return None
    found[0].retain()
    return found[0]
