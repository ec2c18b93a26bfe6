"""Driver matching: passive matching, probing, and starting one winner per category.

Mirrors ``IOService::matchInternal``, ``matchPassive``, ``probeCandidates`` and
``startCandidate`` (xnu ``IOService.cpp`` l.3847-5130, l.7642-8040); the rules are
``shared/spec/iokit-matching.md`` §1.2-§1.9, and each has a test.

Design
------
A nub's candidates arrive as one ``OSOrderedSet`` ordered by score, highest first,
ties in insertion order (``IOServiceOrdering``): the catalogue's personalities for
the nub's class and every superclass, most-derived class first, interleaved with
the *publish* notifiers by their priority.  Three passes follow, exactly as xnu
runs them:

1. **Passive match.**  Each candidate is taken from the front.  A notifier is
   invoked.  A personality whose ``IOMatchCategory`` (default
   ``IODefaultMatchCategory``) is already taken by a live client is skipped without
   being looked at.  Otherwise a shallow copy of it is matched:
   ``matchInternal`` checks the generic keys in a fixed order and counts the keys it
   consumed; only if keys remain does the family's ``matchPropertyTable`` run,
   and whatever score it leaves is written back into the copy.  ``IOParentMatch``
   and a dict ``IOLocationMatch`` are matched against ancestors.  Survivors go into
   ``familyMatches``, ordered by that score.
2. **Probe.**  Each survivor's ``IOClass`` is allocated and ``init``-ed with the
   copy, which *becomes* its property table; it gets its category, is attached to
   the nub, probed (it may change the score, return another object, or decline),
   and always detached again.  Those still standing go into a start list per
   category, ordered by the final score, which is written as a 32-bit
   ``IOProbeScore``.
3. **Start.**  Per category, candidates are taken highest first until one
   ``start``s; a failed start detaches it and the next is tried.  The rest are
   released unstarted: losers never appear in the registry.

Open question: xnu visits categories in ``OSDictionary`` order, which is
unspecified; kextlab visits them in the order they were first seen, so runs are
reproducible.

Threading rules: runs on a config thread (or the registering thread for a
synchronous ``registerService``); ``start_candidate`` may block waiting for
resources.
"""

from __future__ import annotations

from typing import Final

from kextlab.kernel.libkern.collections import OSCollection, OSDictionary, OSOrderedSet
from kextlab.kernel.libkern.object import OSObject
from kextlab.kernel.libkern.values import OSNumber, OSString
from kextlab.kernel.service import debug
from kextlab.kernel.service.notification import IOServiceNotifier
from kextlab.kernel.service.service import (
    IOService,
    ScoreRef,
    kIOServiceStartState,
)

# -- matchPassive options (IOServicePrivate.h) ----------------------------------------------------
kIOServiceChangesOK: Final = 0x0000_0001
kIOServiceClassDone: Final = 0x0000_0002
kIOServiceInternalDone: Final = 0x0000_0004

kIODefaultProbeScore: Final = 0
kIODefaultMatchCategory: Final = "IODefaultMatchCategory"

#: Keys xnu compares with plain ``isEqualTo`` at the end of ``matchInternal``.
_BSD_KEYS: Final = ("BSD Name", "BSD Major", "BSD Minor", "BSD Unit")


def _signed32(value: int) -> int:
    value &= 0xFFFF_FFFF
    return value - (1 << 32) if value & 0x8000_0000 else value


def service_object_order(entry: OSObject | None, key: str = "IOProbeScore") -> int:
    """``IOServiceObjectOrder``: a dict's ``IOProbeScore`` (as SInt32), a notifier's
    priority, a service's own ``IOProbeScore``; 0 otherwise."""
    if isinstance(entry, OSDictionary):
        number = entry.getObject(key)
    elif isinstance(entry, IOServiceNotifier):
        return entry.priority
    elif isinstance(entry, IOService):
        number = entry.getProperty(key)
    else:
        return kIODefaultProbeScore
    if isinstance(number, OSNumber):
        return _signed32(number.unsigned32BitValue())
    return kIODefaultProbeScore


def service_ordering(first: OSObject, second: OSObject | None, context: object) -> int:
    """``IOServiceOrdering``: ``order(first) - order(second)``."""
    key = context if isinstance(context, str) else "IOProbeScore"
    return service_object_order(first, key) - service_object_order(second, key)


def ordered_by_score() -> OSOrderedSet:
    """An empty set kept highest score first, ties in insertion order
    (``IOServiceOrdering`` on ``IOProbeScore``, by rank)."""
    return OSOrderedSet(service_ordering, "IOProbeScore", rank=service_object_order)


def match_category(table: OSDictionary) -> str:
    category = table.getObject("IOMatchCategory")
    return str(category) if isinstance(category, OSString) else kIODefaultMatchCategory


# -- passive matching ----------------------------------------------------------------------------


def _members(value: OSObject) -> list[OSObject]:
    """A value that may be one item or a collection of them, as a list."""
    if isinstance(value, OSCollection) and not isinstance(value, OSDictionary):
        return list(value.members())
    return [value]


def _properties_for_matching(service: IOService) -> OSDictionary:
    """``_copyPropertiesForMatching``: the properties plus ``IOUserServiceProperties``."""
    properties = service.dictionaryWithProperties()
    user = service.getProperty("IOUserServiceProperties")
    if isinstance(user, OSDictionary):
        properties.merge(user)
    return properties


def match_internal(service: IOService, table: OSDictionary, options: int) -> tuple[bool, int]:
    """The generic keys, in xnu's order; returns (match, number of keys consumed)."""
    count = table.getCount()
    done = 0
    changes_ok = bool(options & kIOServiceChangesOK)
    match_props: OSDictionary | None = None
    try:
        provider_class = table.getObject("IOProviderClass")
        if isinstance(provider_class, OSString):
            done += 1
            match = bool(options & kIOServiceClassDone) or (
                service.metaCast(str(provider_class)) is not None
            )
            if not match or done == count:
                return match, done
        names = table.getObject("IONameMatch")
        if names is not None:
            done += 1
            matched = service.compareNames(names)
            if matched is None:
                return False, done
            if changes_ok:
                table.setObject("IONameMatched", OSString(matched))
            if done == count:
                return True, done
        location = table.getObject("IOLocationMatch")
        if isinstance(location, OSString):
            done += 1
            match = service.getLocation() == str(location)
            if not match or done == count:
                return match, done
        property_match = table.getObject("IOPropertyMatch")
        if property_match is not None:
            done += 1
            match_props = _properties_for_matching(service)
            match = any(
                match_props.isEqualTo(wanted, wanted)
                for wanted in _members(property_match)
                if isinstance(wanted, OSDictionary)
            )
            if not match or done == count:
                return match, done
        exists_match = table.getObject("IOPropertyExistsMatch")
        if exists_match is not None:
            done += 1
            if match_props is None:
                match_props = _properties_for_matching(service)
            match = any(
                str(key) in match_props
                for key in _members(exists_match)
                if isinstance(key, OSString)
            )
            if not match or done == count:
                return match, done
        path = table.getObject("IOPathMatch")
        if isinstance(path, OSString):
            done += 1
            registry = service.registry
            entry = registry.fromPath(str(path)) if registry is not None else None
            match = entry is service
            if not match and match_props is not None:
                own_path = match_props.getObject("IOPath")
                match = own_path is not None and path.isEqualTo(own_path)
            if not match or done == count:
                return match, done
        entry_id = table.getObject("IORegistryEntryID")
        if isinstance(entry_id, OSNumber):
            done += 1
            match = service.getRegistryEntryID() == entry_id.unsigned64BitValue()
            if not match or done == count:
                return match, done
        service_count = table.getObject("IOMatchedServiceCountMatch")
        if isinstance(service_count, OSNumber):
            done += 1
            live = sum(
                1
                for client in service.getClients()
                if not client.isInactive() and client.getProperty("IOMatchCategory") is not None
            )
            match = live == service_count.unsigned32BitValue()
            if not match or done == count:
                return match, done
        for key in _BSD_KEYS:
            wanted = table.getObject(key)
            if wanted is not None:
                done += 1
                match = wanted.isEqualTo(service.getProperty(key))
                if not match or done == count:
                    return match, done
        return True, done
    finally:
        if match_props is not None:
            match_props.release()


def match_passive(service: IOService, table: OSDictionary, options: int) -> bool:
    """``IOService::matchPassive``: the generic keys, the family's keys, then
    ``IOParentMatch`` up the ancestors and a dict ``IOLocationMatch``.

    As in xnu, ``match_parent`` survives a failed step: once an ``IOParentMatch``
    table is found, each ancestor in turn is tried until one matches it."""
    where: IOService | None = service
    match = True
    match_parent = False
    while True:
        # the inner step, repeated for IOLocationMatch dicts
        while where is not None:
            count = table.getCount()
            if not options & kIOServiceInternalDone:
                match, done = match_internal(where, table, options)
                if not match or done == count:
                    break
            score = ScoreRef(service_object_order(table))
            match = where.matchPropertyTable(table, score)
            if not match:
                if debug.enabled(debug.kIOLogMatch, table):
                    debug.log(f"{where.getName()}: family specific matching fails")
                break
            if options & kIOServiceChangesOK:
                number = OSNumber(score.value & 0xFFFF_FFFF, 32)
                table.setObject("IOProbeScore", number)
                number.release()
            options = 0  # parent and location tables get neither ChangesOK nor ClassDone
            match_parent = False
            parent_table = table.getObject("IOParentMatch")
            if isinstance(parent_table, OSDictionary):
                match = False
                match_parent = True
                table = parent_table
                break
            location_table = table.getObject("IOLocationMatch")
            if isinstance(location_table, OSDictionary):
                table = location_table
                match = False
                provider = where.getProvider()
                where = provider.matchLocation(provider) if provider is not None else None
                continue
            break
        if match or not match_parent or where is None:
            return match
        where = where.getProvider()
        if where is None:
            return False


# -- probeCandidates -----------------------------------------------------------------------------


def probe_candidates(nub: IOService, matches: OSOrderedSet) -> None:
    """Run the three passes over ``matches`` (consumed: it is left empty)."""
    family_matches = ordered_by_score()
    try:
        while (candidate := matches.getFirstObject()) is not None:
            candidate.retain()
            matches.removeObject(candidate)
            try:
                if isinstance(candidate, IOServiceNotifier):
                    if not nub.isInactive():
                        candidate.invoke(nub)
                elif isinstance(candidate, OSDictionary):
                    _passive_candidate(nub, candidate, family_matches)
            finally:
                candidate.release()
        start_lists = _probe_all(nub, family_matches)
    finally:
        family_matches.release()
    for category, candidates in start_lists.items():
        _start_one(nub, category, candidates)


def _passive_candidate(
    nub: IOService, personality: OSDictionary, family_matches: OSOrderedSet
) -> None:
    category = match_category(personality)
    if nub.copyClientWithCategory(category) is not None:
        if debug.enabled(debug.kIOLogMatch, personality):
            debug.log(f"{nub.getName()}: match category {category} exists")
        return
    props = OSDictionary.withDictionary(personality)
    try:
        if nub.matchPassive(props, kIOServiceChangesOK | kIOServiceClassDone):
            family_matches.setObject(props)
    finally:
        props.release()


def _probe_all(nub: IOService, family_matches: OSOrderedSet) -> dict[str, OSOrderedSet]:
    """Pass 2: the start list of every category, survivors of ``probe`` only."""
    globals_ = nub.globals
    start_lists: dict[str, OSOrderedSet] = {}
    for props in family_matches:
        assert isinstance(props, OSDictionary)
        class_name = props.getObject("IOClass")
        if not isinstance(class_name, OSString):
            continue  # no IOClass: passes matching, skipped at allocation (spec §1.1)
        instance = globals_.allocate(str(class_name))
        if not isinstance(instance, IOService):
            globals_.log(f'Couldn\'t alloc class "{class_name}"')
            if instance is not None:
                instance.release()
            continue
        try:
            _probe_one(nub, instance, props, family_matches, start_lists)
        finally:
            instance.release()
    return start_lists


def _probe_one(
    nub: IOService,
    instance: IOService,
    props: OSDictionary,
    family_matches: OSOrderedSet,
    start_lists: dict[str, OSOrderedSet],
) -> None:
    if not instance.init(props):
        return
    category = match_category(props)
    instance.setProperty("IOMatchCategory", category)
    if not instance.attach(nub):
        return
    score = ScoreRef(family_matches.orderObject(props))
    if debug.enabled(debug.kIOLogProbe, props):
        debug.log(
            f"{instance.getClassName()}[{instance.getRegistryEntryID():#x}]::probe({nub.getName()})"
        )
    chosen = instance.probe(nub, score)
    instance.detach(nub)
    if chosen is None:
        if debug.enabled(debug.kIOLogProbe, props):
            class_name = props.getObject("IOClass")  # xnu logs the IOClass symbol
            debug.log(f"{class_name}[{instance.getRegistryEntryID():#x}]::probe fails")
        return
    chosen.setProperty("IOProbeScore", score.value & 0xFFFF_FFFF, 32)
    start_list = start_lists.get(category)
    if start_list is None:
        start_list = start_lists[category] = ordered_by_score()
    start_list.setObject(chosen)


def _start_one(nub: IOService, category: str, candidates: OSOrderedSet) -> None:
    """Pass 3: start the best candidate that will start; release them all."""
    started = False
    try:
        while (candidate := candidates.getFirstObject()) is not None:
            candidate.retain()
            candidates.removeObject(candidate)
            try:
                assert isinstance(candidate, IOService)
                if not started:
                    started = start_candidate(nub, candidate)
                    if debug.enabled(debug.kIOLogStart, candidate.getPropertyTable()) and started:
                        debug.log(
                            f"{candidate.describe()}::start({nub.describe()}) "
                            f"<{service_object_order(candidate)}>"
                        )
                elif debug.enabled(debug.kIOLogMatch, candidate.getPropertyTable()):
                    debug.log(f"{nub.getName()}: match category {category} exists, skipping")
            finally:
                candidate.release()
    finally:
        candidates.release()


def start_candidate(nub: IOService, service: IOService) -> bool:
    """``IOService::startCandidate``: attach, wait for resources, ``start``; a
    failed start detaches, so the caller can try the next candidate."""
    globals_ = nub.globals
    if not service.attach(nub):
        return False
    if nub is not globals_.resources:
        check_resources(nub)
        check_resources(service)
    service.set_internal_state(kIOServiceStartState)
    started_at = globals_.scheduler.now
    try:
        ok = service.start(nub)
    finally:
        service.set_internal_state(0, clear=kIOServiceStartState)
    elapsed = globals_.scheduler.now - started_at
    if globals_.debug_flags & debug.kIOLogStart and elapsed > 500_000_000:
        globals_.log(f"{service.describe()}::start took {elapsed // 1_000_000} ms")
    if not ok:
        service.detach(nub)
    return ok


def check_resources(service: IOService) -> bool:
    """Block until every resource in the service's ``IOResourceMatch`` is published."""
    from kextlab.kernel.service.notification import resourceMatching, waitForService

    wanted = service.getProperty("IOResourceMatch")
    if wanted is None:
        return True
    names = [str(item) for item in _members(wanted) if isinstance(item, OSString)]
    resources = service.globals.resources
    for name in names:
        if resources is not None and resources.getProperty(name) is not None:
            continue
        waitForService(resourceMatching(name))
    return True
