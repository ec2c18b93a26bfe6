"""The kernel's loaded kexts: loading, unloading, and what ``kextstat`` reads.

Mirrors the loaded-kext side of xnu's ``OSKext`` (``OSKext::load``,
``OSKext::removeKext``/``unload``, ``OSKextCopyLoadedKextInfo``; ``libkern/c++/
OSKext.cpp``).  One ``KextManager`` per kernel.

Loading ``bundle`` (``load``):

1. resolve its ``OSBundleLibraries`` against the index (the kernel's own KPIs, the
   built-in families, the kexts already loaded, and any other bundles the caller
   offers, which load first if needed);
2. for each kext to load, dependencies first: import its executable in isolation,
   register the OSObject classes it defines under its identifier, check that each
   of its own personalities names a class it can allocate, and give it a load tag;
3. add the personalities of every kext loaded to the catalogue, which starts
   matching (unless ``start_matching`` is false: ``kextutil -n``-style loads).

A load that fails anywhere leaves nothing behind: classes unregistered, modules
removed from ``sys.modules``, tags returned, personalities never added, and the
error says exactly which kext and why.

Unloading (``unload``, ``kextunload``'s ``KextManagerUnloadKextWithIdentifier``):
terminate the kext's driver instances and remove its personalities
(``IOCatalogue::terminateDriversForModule``), then refuse with Apple's messages if
other loaded kexts link against it ("outstanding references") or its classes still
have instances ("classes have instances"), else unregister its classes and drop
its module.

Threading rules: called from the entered host or a kernel thread; terminating
instances runs the machine until their termination is done.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from kextlab.kernel.kext.bundle import KextBundle
from kextlab.kernel.kext.dependencies import KextIndex, KextInfo, resolve_dependencies
from kextlab.kernel.kext.errors import KextLoadError, KextUnloadError
from kextlab.kernel.kext.module import KextModule, import_kext, register_kext_classes
from kextlab.kernel.kext.personalities import copy_personalities
from kextlab.kernel.libkern.convert import from_python

if TYPE_CHECKING:
    from kextlab.kernel.libkern.collections import OSDictionary
    from kextlab.kernel.service.globals import ServiceGlobals

# libkern_kext_err(code) = sys_libkern (0x37 << 26) | sub_libkern_kext (2 << 14) | code
kOSReturnSuccess: Final = 0
kOSKextReturnNotFound: Final = 0xDC00_8006
kOSKextReturnBadData: Final = 0xDC00_8007
kOSKextReturnDependencies: Final = 0xDC00_800E
kOSKextReturnLinkError: Final = 0xDC00_8016
kOSKextReturnInUse: Final = 0xDC00_8018

#: Where loaded code "lives": kextlab has no kernel address space, so each loaded
#: kext is given a distinct, page-aligned range in kextstat's Address column.
_LOAD_BASE: Final = 0xFFFF_FF7F_8000_0000
_PAGE: Final = 0x1000


@dataclass
class LoadedKext:
    """One row of ``kextstat``: a kext the kernel has loaded (or carries built in)."""

    tag: int
    info: KextInfo
    links: list[LoadedKext]
    module: KextModule | None = None
    classes: list[str] = field(default_factory=list)
    address: int = 0
    size: int = 0
    builtin: bool = False

    @property
    def bundle_id(self) -> str:
        return self.info.bundle_id

    @property
    def version(self) -> str:
        """The version as its Info.plist spells it (``19.0.0``, not ``19.0``)."""
        version = self.info.version
        return version.text or str(version)


class KextManager:
    """The loaded kexts of one kernel (xnu's ``sLoadedKexts``)."""

    def __init__(self, globals_: ServiceGlobals, libraries: Sequence[KextInfo]) -> None:
        self.globals = globals_
        self.index = KextIndex()
        self._loaded: list[LoadedKext] = []
        self._next_tag = 1
        self._next_address = _LOAD_BASE
        for library in libraries:
            self.index.mark_loaded(library)
            self._loaded.append(LoadedKext(self._take_tag(), library, [], builtin=True))

    def _take_tag(self) -> int:
        tag = self._next_tag
        self._next_tag += 1
        return tag

    # -- looking up ------------------------------------------------------------------------------

    def loaded(self) -> list[LoadedKext]:
        """Every loaded kext, by load tag."""
        return list(self._loaded)

    def find(self, bundle_id: str) -> LoadedKext | None:
        for kext in self._loaded:
            if kext.bundle_id == bundle_id:
                return kext
        return None

    def dependents(self, kext: LoadedKext) -> list[LoadedKext]:
        """Loaded kexts that link against ``kext``."""
        return [other for other in self._loaded if kext in other.links]

    def references(self, kext: LoadedKext) -> int:
        """kextstat's Refs: how many loaded kexts link against it."""
        return len(self.dependents(kext))

    # -- loading -----------------------------------------------------------------------------------

    def load(
        self,
        bundle: KextBundle,
        *,
        candidates: Sequence[KextBundle] = (),
        start_matching: bool = True,
    ) -> list[LoadedKext]:
        """Load ``bundle`` and whatever it needs of ``candidates``; the kexts loaded."""
        for candidate in (*candidates, bundle):
            self.index.add(candidate)
        resolution = resolve_dependencies(bundle, self.index)
        done: list[LoadedKext] = []
        personalities: list[OSDictionary] = []
        try:
            for info in resolution.to_load:
                assert isinstance(info, KextBundle)
                loaded = self._load_one(info, resolution.link_dependencies[info.bundle_id])
                done.append(loaded)
                personalities += copy_personalities(info)
        except BaseException:
            for loaded in reversed(done):
                self._forget(loaded)
            for table in personalities:
                table.release()
            raise
        self.globals.catalogue.addDrivers(personalities, doNubMatching=start_matching)
        for table in personalities:
            table.release()
        return done

    def _load_one(self, bundle: KextBundle, links: Sequence[KextInfo]) -> LoadedKext:
        if self.index.loaded(bundle.bundle_id) is not None:
            raise KextLoadError(bundle.bundle_id, "a kext with this identifier is already loaded")
        module = import_kext(bundle) if bundle.declares_executable else None
        classes: list[str] = []
        try:
            if module is not None:
                classes = register_kext_classes(
                    self.globals.classes, bundle.bundle_id, module.classes
                )
            self._check_classes(bundle)
        except BaseException:
            self.globals.classes.unregister_kext(bundle.bundle_id)
            if module is not None:
                module.unload()
            raise
        size = _PAGE * max(1, len(classes))
        loaded = LoadedKext(
            self._take_tag(),
            bundle,
            [kext for kext in self._loaded if kext.info in links],
            module,
            classes,
            self._next_address if module is not None else 0,
            size if module is not None else 0,
        )
        if module is not None:
            self._next_address += size
        self._loaded.append(loaded)
        self.index.mark_loaded(bundle)
        return loaded

    def _check_classes(self, bundle: KextBundle) -> None:
        """Each personality the kext publishes for itself must name a class the kernel
        can allocate (its own, a library's, the kernel's): an unknown ``IOClass`` is a
        bad kext, refused at load rather than left to fail at every match."""
        for name, personality in bundle.personalities.items():
            owner = personality.get("CFBundleIdentifier", bundle.bundle_id)
            if owner != bundle.bundle_id:
                continue  # published for another kext's classes (IOPersonalityPublisher)
            class_name = personality.get("IOClass")
            if isinstance(class_name, str) and class_name not in self.globals.classes:
                raise KextLoadError(
                    bundle.bundle_id,
                    f"{bundle.info_plist}: IOKitPersonalities.{name}.IOClass: no class "
                    f"{class_name} is defined by the kext, its libraries or the kernel",
                )

    def _forget(self, loaded: LoadedKext) -> None:
        """Undo ``_load_one`` (no instance can exist yet: no personality was added)."""
        self.globals.classes.unregister_kext(loaded.bundle_id)
        if loaded.module is not None:
            loaded.module.unload()
        self._loaded.remove(loaded)
        self.index.mark_unloaded(loaded.bundle_id)

    # -- unloading ---------------------------------------------------------------------------------

    def unload(self, bundle_id: str, *, terminate: bool = True) -> None:
        """``OSKext::removeKextWithIdentifier``: terminate its drivers and remove its
        personalities, then unload unless it is linked against or has instances."""
        loaded = self.find(bundle_id)
        if loaded is None:
            raise KextUnloadError(bundle_id, f"Can't remove kext {bundle_id} - not found.")
        if loaded.builtin:
            raise KextUnloadError(
                bundle_id, f"Can't unload kext {bundle_id}; it is built into the kernel."
            )
        if terminate:
            self.globals.catalogue.terminateDriversForModule(bundle_id, unload=False)
        dependents = self.dependents(loaded)
        if dependents:
            raise KextUnloadError(
                bundle_id,
                f"Can't unload kext {bundle_id}; outstanding references {2 + len(dependents)} "
                "(linkage or tracking object).",
            )
        busy = [
            f"    {name} {meta.getInstanceCount()}"
            for name in loaded.classes
            if (meta := self.globals.classes.getMetaClassWithName(name)) is not None
            and meta.getInstanceCount()
        ]
        if busy:
            raise KextUnloadError(
                bundle_id,
                "\n".join([f"Can't unload kext {bundle_id}; classes have instances:", *busy]),
            )
        self.globals.classes.unregister_kext(bundle_id)
        if loaded.module is not None:
            loaded.module.unload()
        self._loaded.remove(loaded)
        self.index.mark_unloaded(bundle_id)
        self.index.remove(loaded.info)

    def unload_classes(self, class_names: Sequence[str]) -> None:
        """``kextunload -c CLASS``: terminate the instances of these classes and remove
        the personalities that name them (the kexts stay loaded)."""
        catalogue = self.globals.catalogue
        for class_name in class_names:
            matching = _matching({"IOClass": class_name})
            try:
                catalogue.terminateDrivers(matching)
                catalogue.removeDrivers(matching, doNubMatching=False)
            finally:
                matching.release()


def _matching(entries: dict[str, str]) -> OSDictionary:
    from kextlab.kernel.libkern.collections import OSDictionary

    table = from_python(entries)
    assert isinstance(table, OSDictionary)
    return table
