"""IOCatalogue: the kernel's driver personalities, indexed by provider class.

Mirrors xnu's ``IOCatalogue.cpp`` (spec §1.1):

* personalities live in arrays keyed by their ``IOProviderClass``; one whose
  ``IOProviderClass`` is not a string is never stored, and one exactly equal to a
  personality already in its array is skipped (supersets are kept);
* ``findDrivers(service)`` gathers the candidates of a nub: the arrays of its own
  class, then of each superclass up to and including ``IOService``, into one set
  ordered by ``IOProbeScore`` (highest first, ties in that order);
* adding personalities bumps the generation count and, unless told not to, starts
  matching again on every registered service one of them passively matches
  (``IOService::catalogNewDrivers``), so a kext loaded late finds its devices;
* ``terminateDriversForModule`` terminates every instance whose property table
  names the kext as ``CFBundleIdentifier`` and removes the kext's personalities,
  which is how ``kextunload`` takes a driver down before its code goes.

Indexing by provider class is what keeps matching cheap with thousands of
personalities (ARCHITECTURE.md §8).

Threading rules: called from kernel threads and the entered host; re-matching
runs asynchronously on config threads.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from kextlab.kernel.ioreturn import kIOReturnSuccess
from kextlab.kernel.kext.personalities import unique_personality_properties
from kextlab.kernel.libkern.collections import OSDictionary, OSOrderedSet
from kextlab.kernel.libkern.values import OSString
from kextlab.kernel.registry.registry import kIOServicePlane
from kextlab.kernel.service import debug
from kextlab.kernel.service.matching import ordered_by_score
from kextlab.kernel.service.registration import start_matching
from kextlab.kernel.service.service import (
    IOService,
    kIOServiceAsynchronous,
    kIOServiceRegisteredState,
    kIOServiceRequired,
    kIOServiceSynchronous,
)

if TYPE_CHECKING:
    from kextlab.kernel.service.globals import ServiceGlobals


class IOCatalogue:
    """The personalities of one kernel (``gIOCatalogue``)."""

    def __init__(self, globals_: ServiceGlobals) -> None:
        self.globals = globals_
        self._personalities: dict[str, list[OSDictionary]] = {}
        #: The same personalities by a cheap signature, so that the exact-duplicate
        #: check of ``addDrivers`` compares only personalities that could be equal.
        self._similar: dict[tuple[object, ...], list[OSDictionary]] = {}
        self._generation = 1

    def getGenerationCount(self) -> int:
        return self._generation

    def personalities(self) -> list[OSDictionary]:
        """Every personality, by provider class in the order classes first appeared."""
        return [table for tables in self._personalities.values() for table in tables]

    def count(self) -> int:
        return sum(len(tables) for tables in self._personalities.values())

    # -- adding and removing ----------------------------------------------------------------------

    def addDrivers(self, drivers: Iterable[OSDictionary], doNubMatching: bool = True) -> bool:
        """Add personalities (in order); re-match the services they passively match."""
        added = []
        for table in drivers:
            provider_class = table.getObject("IOProviderClass")
            if not isinstance(provider_class, OSString):
                continue
            unique_personality_properties(table)
            tables = self._personalities.setdefault(str(provider_class), [])
            similar = self._similar.setdefault(_signature(table), [])
            if any(existing.isEqualTo(table) for existing in similar):
                continue
            table.retain()
            tables.append(table)
            similar.append(table)
            added.append(table)
            if debug.enabled(debug.kIOLogCatalogue):
                debug.log(f"IOCatalogue: adding personality for {table.getObject('IOClass')}")
        self._generation += 1
        if doNubMatching and added:
            self.catalogNewDrivers(added)
        return True

    def removeDrivers(self, matching: OSDictionary, doNubMatching: bool = True) -> bool:
        """Remove every personality that has all of ``matching``'s keys and values."""
        removed = self._remove(matching)
        self._generation += 1
        if doNubMatching and removed:
            self.catalogNewDrivers(removed)
        for table in removed:
            table.release()
        return True

    def _remove(self, matching: OSDictionary) -> list[OSDictionary]:
        removed = []
        for provider_class, tables in list(self._personalities.items()):
            kept = []
            for table in tables:
                if table.isEqualTo(matching, matching):
                    removed.append(table)
                else:
                    kept.append(table)
            self._personalities[provider_class] = kept
        if removed:
            self._similar.clear()
            for table in self.personalities():
                self._similar.setdefault(_signature(table), []).append(table)
        return removed

    def catalogNewDrivers(self, tables: list[OSDictionary]) -> None:
        """``IOService::catalogNewDrivers``: re-match every registered service one of
        ``tables`` passively matches.

        As xnu's ``copyExistingServices`` does with ``applyToInstancesOfClassName``,
        only instances of a personality's provider class are tested: the registered
        services are indexed once by every class they are an instance of."""
        by_class: dict[str, list[IOService]] = {}
        for service in self.globals.notifications.existing_services(
            None, kIOServiceRegisteredState
        ):
            for name in type(service).inheritance():
                by_class.setdefault(name, []).append(service)
        chosen: dict[int, IOService] = {}
        for table in tables:
            provider_class = table.getObject("IOProviderClass")
            for service in by_class.get(str(provider_class), ()):
                if id(service) not in chosen and service.matchPassive(table, 0):
                    chosen[id(service)] = service
        ordered = sorted(chosen.values(), key=lambda service: service.getRegistryEntryID())
        for service in ordered:
            if debug.enabled(debug.kIOLogMatch):
                debug.log(f"{service.getName()}: catalogNewDrivers")
            start_matching(service, kIOServiceAsynchronous)

    # -- lookup -----------------------------------------------------------------------------------

    def findDrivers(self, service: IOService) -> tuple[OSOrderedSet, int]:
        """The candidates of ``service`` (a new set) and the generation they are from."""
        candidates = ordered_by_score()
        current: type[IOService] | None = type(service)
        while current is not None:
            for table in self._personalities.get(current.className(), ()):
                candidates.setObject(table)
            if current is IOService:
                break
            parent = current.superclass()
            current = parent if parent is not None and issubclass(parent, IOService) else None
        return candidates, self._generation

    def findDriversMatching(self, matching: OSDictionary) -> list[OSDictionary]:
        """Personalities that have all of ``matching``'s keys and values."""
        return [table for table in self.personalities() if table.isEqualTo(matching, matching)]

    # -- terminating a module's drivers -----------------------------------------------------------

    def terminateDrivers(self, matching: OSDictionary) -> int:
        """Terminate, synchronously, every service whose properties match."""
        registry = self.globals.registry
        plane = registry.plane(kIOServicePlane)
        victims = [
            entry
            for entry in registry.getRoot().iterate(plane, recursive=True)
            if isinstance(entry, IOService)
            and not entry.isInactive()
            and entry.getPropertyTable().isEqualTo(matching, matching)
        ]
        for victim in victims:
            if not victim.isInactive():
                victim.terminate(kIOServiceRequired | kIOServiceSynchronous)
        return kIOReturnSuccess

    def terminateDriversForModule(self, moduleName: str, unload: bool = False) -> int:
        """Terminate a kext's instances and remove its personalities."""
        matching = OSDictionary()
        name = OSString(moduleName)
        matching.setObject("CFBundleIdentifier", name)
        name.release()
        try:
            result = self.terminateDrivers(matching)
            if result == kIOReturnSuccess:
                for table in self._remove(matching):
                    table.release()
                self._generation += 1
            return result
        finally:
            matching.release()

    def free_all(self) -> None:
        for tables in self._personalities.values():
            for table in tables:
                table.release()
        self._personalities.clear()
        self._similar.clear()


def _signature(table: OSDictionary) -> tuple[object, ...]:
    """What two equal personalities must share: provider class, class and key set."""
    return (
        str(table.getObject("IOProviderClass")),
        str(table.getObject("IOClass")),
        tuple(sorted(table.keys())),
    )
