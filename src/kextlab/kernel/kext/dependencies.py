"""Resolving a kext's OSBundleLibraries: the index of known kexts and the load order.

Mirrors user space's ``__OSKextResolveDependencies`` and ``OSKextResolveDependencies``
(IOKitUser ``kext.subproj/OSKext.c``: what ``kextd``/``kextutil`` run before asking
the kernel to load) and the kernel's ``OSKext::resolveDependencies`` (xnu
``libkern/c++/OSKext.cpp``), whose stricter rules are kept where they differ.

Design
------
``KextIndex`` holds every kext that can satisfy a dependency: bundles read from disk
and the kernel's built-in library kexts (``LibraryKext``: no directory, just an
identifier, versions and optionally personalities; see ``builtin.py``).  Several
versions of one identifier may be known, as in user space; the index also remembers
which one is *loaded* (the loader says so with ``mark_loaded``).

``resolve_dependencies(kext, index)`` walks OSBundleLibraries depth first, in file
order, and for each library picks, as ``OSKextGetCompatibleKextWithIdentifier``
does:

* the *loaded* kext with that identifier if there is one, which must then be
  compatible (a loaded library cannot be swapped for another version);
* else the highest known version that is compatible with the requested version:
  ``compatible_version <= requested <= version`` (``version.is_compatible``).

It returns a ``Resolution``: ``order`` lists every kext needed, each once,
dependencies before their dependents (post-order; ties in OSBundleLibraries order,
which plistlib keeps), ending with the kext itself; ``to_load`` leaves out those
already loaded.  ``link_dependencies`` are what the kernel records per kext (and
``kextstat`` shows as "Linked Against"): a library that declares an executable or
is a kernel component is kept; a codeless library is replaced by its own
dependencies (``OSKext::resolveDependencies``).

Errors (``KextDependencyError``, naming the requester and the library):

* a library nobody knows ("no dependency found");
* a library known only in incompatible versions, naming the requested version and
  every known version with its compatible range; a library that declares no
  ``OSBundleCompatibleVersion`` can satisfy nothing and is reported as such;
* a loaded library that is not compatible;
* a dependency cycle, naming it (``A -> B -> A``);
* two versions of one identifier in one load order (``MultipleVersionsDetected``);
* a kext that declares an executable but no libraries (the kernel's rule: it fails
  with "OSBundleLibraries missing/invalid type"; user space only warns);
* a dependency on ``com.apple.kernel`` itself (refused by both);
* a dependency on ``com.apple.kpi.private`` from a kext whose identifier does not
  start with ``com.apple.`` (user space also requires an Apple copyright string,
  which kextlab does not check).

Kernel components and KPIs
--------------------------
``com.apple.kpi.*`` and ``com.apple.kernel.*`` are ordinary identifiers to the
resolver: they are matched by version like any library (there is no version
exception for them).  They are *kernel components* (``OSKernelResource``): they
have no dependencies of their own and count as interfaces, so they always appear in
``link_dependencies``.  The identifier prefixes matter only for these checks, as in
xnu: ``com.apple.kernel`` alone is refused; a 64-bit kernel also refuses
``com.apple.kernel.*`` ("Only com.apple.kpi.* dependencies are supported for 64-bit
kexts") — kextlab accepts them by default, as 32-bit kernels did, so that old plists
load (``allow_kernel_libraries=False`` applies the 64-bit rule); an executable kext
with no ``com.apple.kpi.*`` library, or with both styles, gets a warning.  A kext
required at boot (``OSBundleRequired`` Root, Console, Local-Root, Network-Root)
whose dependencies are not gets a warning too, as from user space.  Warnings go to
``Resolution.warnings`` and the ``kextlab.kernel.kext`` logger.

Threading rules: pure bookkeeping; the loader serialises calls (it holds the kext
lock, ``sKextLock`` in xnu).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final, Protocol

from kextlab.kernel.kext.errors import KextDependencyError
from kextlab.kernel.kext.version import KextVersion, is_compatible

logger = logging.getLogger("kextlab.kernel.kext")

#: A dependency on exactly this identifier is never allowed (``KERNEL_LIB``).
KERNEL_LIBRARY: Final = "com.apple.kernel"
#: The old-style kernel libraries (``KERNEL_LIB_PREFIX``).
KERNEL_LIBRARY_PREFIX: Final = "com.apple.kernel."
#: The KPI libraries (``KPI_LIB_PREFIX``).
KPI_PREFIX: Final = "com.apple.kpi."
#: Apple's private KPI (``PRIVATE_KPI``), for Apple's kexts only.
PRIVATE_KPI: Final = "com.apple.kpi.private"
APPLE_PREFIX: Final = "com.apple."

#: OSBundleRequired values a boot-time kext's dependencies must carry, per its own.
_BOOT_REQUIREMENTS: Final[Mapping[str, tuple[str, ...]]] = {
    "Root": ("Root", "Local-Root", "Network-Root", "Console", "DriverKit"),
    "Console": ("Root", "Local-Root", "Network-Root", "Console", "DriverKit"),
    "Local-Root": ("Root", "Local-Root", "Console"),
    "Network-Root": ("Root", "Network-Root", "Console"),
}


class KextInfo(Protocol):
    """What the resolver needs to know of a kext (a ``KextBundle`` or a ``LibraryKext``)."""

    @property
    def bundle_id(self) -> str: ...

    @property
    def version(self) -> KextVersion: ...

    @property
    def compatible_version(self) -> KextVersion | None: ...

    @property
    def libraries(self) -> Mapping[str, KextVersion]: ...

    @property
    def declares_executable(self) -> bool: ...

    @property
    def is_kernel_component(self) -> bool: ...

    @property
    def required(self) -> str | None: ...

    @property
    def personalities(self) -> Mapping[str, Mapping[str, object]]: ...

    @property
    def source(self) -> str: ...


@dataclass(frozen=True, eq=False)
class LibraryKext:
    """A library kext the kernel provides itself: no directory, no executable to import.

    Like xnu's pseudo-extensions (``System.kext/PlugIns/*.kext``, ``OSKernelResource``
    true), it is a kernel component: already there, with no dependencies.
    """

    bundle_id: str
    version: KextVersion
    compatible_version: KextVersion | None
    #: Personalities it publishes (name to dictionary), as an Info.plist would.
    personalities: Mapping[str, Mapping[str, object]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    required: str | None = "Root"
    #: Where its description comes from, for messages.
    origin: str = "kextlab built-in"

    @property
    def libraries(self) -> Mapping[str, KextVersion]:
        return MappingProxyType({})

    @property
    def declares_executable(self) -> bool:
        return False

    @property
    def is_kernel_component(self) -> bool:
        return True

    @property
    def source(self) -> str:
        return f"<{self.origin} {self.bundle_id}>"

    def is_compatible_with(self, requested: KextVersion) -> bool:
        return is_compatible(self.version, self.compatible_version, requested)

    def __repr__(self) -> str:
        return f"<LibraryKext {self.bundle_id} {self.version}>"


class KextIndex:
    """Every kext known to the kernel, by identifier (user space's
    ``__sOSKextsByIdentifier``), with the loaded one of each identifier."""

    def __init__(self, kexts: Iterable[KextInfo] = ()) -> None:
        self._by_id: dict[str, list[KextInfo]] = {}
        self._loaded: dict[str, KextInfo] = {}
        for kext in kexts:
            self.add(kext)

    def add(self, kext: KextInfo) -> None:
        """Know ``kext``.  Versions of one identifier are kept highest first; equal
        versions in the order they were added (the first is preferred)."""
        known = self._by_id.setdefault(kext.bundle_id, [])
        if any(existing is kext for existing in known):
            return
        position = next(
            (index for index, existing in enumerate(known) if existing.version < kext.version),
            len(known),
        )
        known.insert(position, kext)

    def add_all(self, kexts: Iterable[KextInfo]) -> None:
        for kext in kexts:
            self.add(kext)

    def remove(self, kext: KextInfo) -> None:
        """Forget ``kext`` (and that it is loaded, if it is)."""
        known = self._by_id.get(kext.bundle_id, [])
        remaining = [existing for existing in known if existing is not kext]
        if len(remaining) == len(known):
            raise KeyError(f"{kext.bundle_id} {kext.version} is not in the index")
        if remaining:
            self._by_id[kext.bundle_id] = remaining
        else:
            del self._by_id[kext.bundle_id]
        if self._loaded.get(kext.bundle_id) is kext:
            del self._loaded[kext.bundle_id]

    def mark_loaded(self, kext: KextInfo) -> None:
        """Record that ``kext`` (added first if unknown) is the loaded one of its identifier."""
        current = self._loaded.get(kext.bundle_id)
        if current is not None and current is not kext:
            raise ValueError(
                f"{kext.bundle_id}: version {current.version} is already loaded; "
                f"cannot mark {kext.version} loaded too"
            )
        self.add(kext)
        self._loaded[kext.bundle_id] = kext

    def mark_unloaded(self, bundle_id: str) -> None:
        self._loaded.pop(bundle_id, None)

    def loaded(self, bundle_id: str) -> KextInfo | None:
        """The loaded kext with this identifier, if any."""
        return self._loaded.get(bundle_id)

    def is_loaded(self, kext: KextInfo) -> bool:
        return self._loaded.get(kext.bundle_id) is kext

    def versions(self, bundle_id: str) -> list[KextInfo]:
        """The known kexts with this identifier, highest version first."""
        return list(self._by_id.get(bundle_id, []))

    def get(self, bundle_id: str) -> KextInfo | None:
        """The loaded kext with this identifier, else the highest known version."""
        loaded = self._loaded.get(bundle_id)
        if loaded is not None:
            return loaded
        known = self._by_id.get(bundle_id)
        return known[0] if known else None

    def compatible(self, bundle_id: str, requested: KextVersion) -> KextInfo | None:
        """The highest known version compatible with ``requested``, if any
        (``OSKextGetCompatibleKextWithIdentifier``)."""
        for kext in self._by_id.get(bundle_id, []):
            if is_compatible(kext.version, kext.compatible_version, requested):
                return kext
        return None

    def __contains__(self, bundle_id: object) -> bool:
        return bundle_id in self._by_id

    def __iter__(self) -> Iterator[KextInfo]:
        """Every known kext, by identifier, highest version first."""
        for bundle_id in sorted(self._by_id):
            yield from self._by_id[bundle_id]

    def __len__(self) -> int:
        return sum(len(known) for known in self._by_id.values())


@dataclass(frozen=True)
class Resolution:
    """The outcome of ``resolve_dependencies``."""

    #: The kext resolved.
    kext: KextInfo
    #: Every kext needed, dependencies first, ``kext`` last.
    order: tuple[KextInfo, ...]
    #: Those of ``order`` not loaded yet, in the same order.
    to_load: tuple[KextInfo, ...]
    #: Per identifier in ``order``: the kexts its OSBundleLibraries resolved to.
    dependencies: Mapping[str, tuple[KextInfo, ...]]
    #: Per identifier in ``order``: what it links against (codeless libraries
    #: replaced by their dependencies, ``OSKext::resolveDependencies``).
    link_dependencies: Mapping[str, tuple[KextInfo, ...]]
    warnings: tuple[str, ...] = ()


def resolve_dependencies(
    kext: KextInfo | str,
    index: KextIndex,
    *,
    allow_kernel_libraries: bool = True,
) -> Resolution:
    """Resolve ``kext``'s libraries, transitively, against ``index``.

    ``kext`` may be an identifier (the loaded or highest known version is taken).
    Raises ``KextDependencyError``; see the module docstring for the rules.
    """
    if isinstance(kext, str):
        found = index.get(kext)
        if found is None:
            raise KextDependencyError(kext, kext, "no kext with this identifier is known")
        kext = found
    walk = _Walk(index, allow_kernel_libraries)
    walk.visit(kext)
    _check_single_versions(walk.order, walk.dependencies)
    _check_boot_requirements(kext, walk.order, walk.warnings)
    for warning in walk.warnings:
        logger.warning("%s", warning)
    return Resolution(
        kext=kext,
        order=tuple(walk.order),
        to_load=tuple(entry for entry in walk.order if not index.is_loaded(entry)),
        dependencies=MappingProxyType(
            {entry.bundle_id: walk.dependencies[id(entry)] for entry in walk.order}
        ),
        link_dependencies=MappingProxyType(
            {entry.bundle_id: walk.links[id(entry)] for entry in walk.order}
        ),
        warnings=tuple(walk.warnings),
    )


class _Walk:
    """One depth-first resolution (user space's ``resolvedSet`` and ``loopStack``)."""

    def __init__(self, index: KextIndex, allow_kernel_libraries: bool) -> None:
        self.index = index
        self.allow_kernel_libraries = allow_kernel_libraries
        self.order: list[KextInfo] = []
        self.stack: list[KextInfo] = []
        self.dependencies: dict[int, tuple[KextInfo, ...]] = {}
        self.links: dict[int, tuple[KextInfo, ...]] = {}
        self.warnings: list[str] = []

    def visit(self, kext: KextInfo) -> None:
        if id(kext) in self.dependencies:
            return
        if any(entry is kext for entry in self.stack):
            start = next(i for i, entry in enumerate(self.stack) if entry is kext)
            cycle = [entry.bundle_id for entry in self.stack[start:]] + [kext.bundle_id]
            raise KextDependencyError(
                self.stack[0].bundle_id, None, f"dependency cycle: {' -> '.join(cycle)}"
            )
        self.stack.append(kext)
        direct: list[KextInfo] = []
        if not kext.is_kernel_component:
            self._check_declared(kext)
            for library_id, requested in kext.libraries.items():
                library = self._choose(kext, library_id, requested)
                self.visit(library)
                if not any(entry is library for entry in direct):
                    direct.append(library)
            self._check_styles(kext)
        self.stack.pop()
        self.dependencies[id(kext)] = tuple(direct)
        self.links[id(kext)] = self._links(direct)
        self.order.append(kext)

    def _check_declared(self, kext: KextInfo) -> None:
        if kext.declares_executable and not kext.libraries:
            raise KextDependencyError(
                kext.bundle_id,
                None,
                f"declares an executable but no OSBundleLibraries ({kext.source}); "
                "expected at least one library, e.g. com.apple.kpi.iokit",
            )
        for library_id in kext.libraries:
            if library_id == KERNEL_LIBRARY:
                raise KextDependencyError(
                    kext.bundle_id,
                    library_id,
                    f"declares a dependency on {KERNEL_LIBRARY}, which is not permitted; "
                    f"depend on {KPI_PREFIX}* libraries",
                )
            if library_id.startswith(KERNEL_LIBRARY_PREFIX) and not self.allow_kernel_libraries:
                raise KextDependencyError(
                    kext.bundle_id,
                    library_id,
                    f"declares {library_id}; only {KPI_PREFIX}* dependencies are supported "
                    "for 64-bit kexts",
                )
            if library_id == PRIVATE_KPI and not kext.bundle_id.startswith(APPLE_PREFIX):
                raise KextDependencyError(
                    kext.bundle_id,
                    library_id,
                    f"only Apple's kexts ({APPLE_PREFIX}*) may depend on {PRIVATE_KPI}",
                )

    def _check_styles(self, kext: KextInfo) -> None:
        if not kext.declares_executable:
            return
        kpi = any(library.startswith(KPI_PREFIX) for library in kext.libraries)
        kernel = any(library.startswith(KERNEL_LIBRARY_PREFIX) for library in kext.libraries)
        if not kpi and not kernel:
            self.warnings.append(
                f"{kext.bundle_id} declares no {KPI_PREFIX}* dependencies; "
                "if it uses any KPIs, the link may fail"
            )
        elif kpi and kernel:
            self.warnings.append(
                f"{kext.bundle_id} has immediate dependencies on both "
                f"{KERNEL_LIBRARY_PREFIX}* and {KPI_PREFIX}* components; use only one style"
            )

    def _choose(self, requester: KextInfo, library_id: str, requested: KextVersion) -> KextInfo:
        loaded = self.index.loaded(library_id)
        if loaded is not None:
            if is_compatible(loaded.version, loaded.compatible_version, requested):
                return loaded
            raise KextDependencyError(
                requester.bundle_id,
                library_id,
                f"the loaded {library_id} {_describe(loaded)} is not compatible with "
                f"requested version {requested.text}",
            )
        found = self.index.compatible(library_id, requested)
        if found is not None:
            return found
        known = self.index.versions(library_id)
        if not known:
            raise KextDependencyError(
                requester.bundle_id, library_id, f"library {library_id} not found"
            )
        if all(candidate.compatible_version is None for candidate in known):
            raise KextDependencyError(
                requester.bundle_id,
                library_id,
                f"library {library_id} {_describe(known[0])} declares no "
                "OSBundleCompatibleVersion, so it cannot be depended on",
            )
        versions = "; ".join(_describe(candidate) for candidate in known)
        raise KextDependencyError(
            requester.bundle_id,
            library_id,
            f"library {library_id} is not compatible with requested version "
            f"{requested.text} (known: {versions})",
        )

    def _links(self, direct: list[KextInfo]) -> tuple[KextInfo, ...]:
        links: list[KextInfo] = []
        for library in direct:
            if library.declares_executable or library.is_kernel_component:
                candidates: tuple[KextInfo, ...] = (library,)
            else:
                candidates = self.links[id(library)]
            for candidate in candidates:
                if not any(entry is candidate for entry in links):
                    links.append(candidate)
        return tuple(links)


def _describe(kext: KextInfo) -> str:
    if kext.compatible_version is None:
        return f"version {kext.version.text} (no OSBundleCompatibleVersion)"
    return f"version {kext.version.text}, compatible back to {kext.compatible_version.text}"


def _check_single_versions(
    order: list[KextInfo], dependencies: Mapping[int, tuple[KextInfo, ...]]
) -> None:
    seen: dict[str, KextInfo] = {}
    for kext in order:
        other = seen.get(kext.bundle_id)
        if other is None:
            seen[kext.bundle_id] = kext
            continue
        requesters = sorted(
            entry.bundle_id
            for entry in order
            if any(dependency in (kext, other) for dependency in dependencies[id(entry)])
        )
        raise KextDependencyError(
            order[-1].bundle_id,
            kext.bundle_id,
            f"needs two versions of {kext.bundle_id} ({other.version.text} and "
            f"{kext.version.text}, for {', '.join(requesters)}); only one can be loaded",
        )


def _check_boot_requirements(kext: KextInfo, order: list[KextInfo], warnings: list[str]) -> None:
    required = kext.required
    if required is None or required not in _BOOT_REQUIREMENTS:
        return
    acceptable = _BOOT_REQUIREMENTS[required]
    for dependency in order[:-1]:
        if dependency.required not in acceptable:
            have = dependency.required or "OSBundleRequired not set"
            warnings.append(
                f"{kext.bundle_id} is OSBundleRequired {required!r} but its dependency "
                f"{dependency.bundle_id} is not available that early ({have})"
            )
