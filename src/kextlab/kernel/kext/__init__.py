"""Kexts: bundles, versions, personalities, dependencies, executables, discovery.

Everything about kext bundles that does not need the matching engine (ARCHITECTURE.md
§5).  One module per concept:

=====================  ===============================================================
``version``            ``OSKextParseVersionString``, comparison, the compatibility rule
``xcode``              ``$(VAR)`` build-setting references in source plists
``bundle``             a ``.kext`` directory read and validated
``personalities``      ``OSKext::copyPersonalitiesArray``: what the catalogue receives
``dependencies``       the index of known kexts, OSBundleLibraries resolution
``builtin``            the library kexts the kernel provides itself (KPIs, families)
``module``             importing a kext's Python executable in isolation; its classes
``discovery``          bundles in folders and in ``kextlab.kexts`` entry points
``errors``             the exception tree
=====================  ===============================================================

Public surface::

    parse_version(text) -> KextVersion                       raises KextVersionError
    KextVersion(major, minor=0, revision=0, stage=RELEASE, stage_level=0)
        .value, .text, str(), ordering; KextVersion.from_value(int)
    KextVersionStage                                         DEVELOPMENT ... RELEASE
    is_compatible(version, compatible_version, requested) -> bool

    KextBundle.read(path, *, variables=None) -> KextBundle   raises KextBundleError
        .path .info_plist .info .bundle_id .version .compatible_version
        .executable_name .executable .libraries .required .personalities
        .is_kernel_component .plugins .warnings .flat .container_id
        .source .declares_executable .executable_is_package
        .is_compatible_with(version) .with_plugins()

    copy_personalities(kext) -> list[OSDictionary]
    unique_personality_properties(personality, add_kernel_identifier=True)

    KextInfo                                                 protocol: bundle or library
    LibraryKext(bundle_id, version, compatible_version, personalities={}, required="Root")
    KextIndex(kexts=()): add, add_all, remove, mark_loaded, mark_unloaded, loaded,
        is_loaded, versions, get, compatible
    resolve_dependencies(kext | bundle_id, index, *, allow_kernel_libraries=True)
        -> Resolution(kext, order, to_load, dependencies, link_dependencies, warnings)
                                                             raises KextDependencyError
    builtin_libraries() -> list[LibraryKext]                 KERNEL_VERSION = "19.0.0"

    import_kext(bundle) -> KextModule(bundle_id, name, module, file, classes)
        .modules() .unload()                                 raises KextLoadError
    find_kext_classes(module_name) -> list[type[OSObject]]
    register_kext_classes(classes_registry, bundle_id, classes) -> list[str]

    bundles_in(path, *, variables=None) -> list[KextBundle]
    entry_point_kexts(group="kextlab.kexts", entry_points=importlib.metadata.entry_points)
    KextSource (protocol), DirectorySource(path), EntryPointSource(group, entry_points)
    discover(sources) -> list[KextBundle]

    KextError > KextBundleError, KextVersionError, KextDependencyError,
                KextLoadError, KextUnloadError
"""

from kextlab.kernel.kext.builtin import KERNEL_VERSION, builtin_libraries
from kextlab.kernel.kext.bundle import KextBundle
from kextlab.kernel.kext.dependencies import (
    KextIndex,
    KextInfo,
    LibraryKext,
    Resolution,
    resolve_dependencies,
)
from kextlab.kernel.kext.discovery import (
    DirectorySource,
    EntryPointSource,
    KextSource,
    bundles_in,
    discover,
    entry_point_kexts,
)
from kextlab.kernel.kext.errors import (
    KextBundleError,
    KextDependencyError,
    KextError,
    KextLoadError,
    KextUnloadError,
    KextVersionError,
)
from kextlab.kernel.kext.module import (
    KextModule,
    find_kext_classes,
    import_kext,
    register_kext_classes,
)
from kextlab.kernel.kext.personalities import copy_personalities, unique_personality_properties
from kextlab.kernel.kext.version import KextVersion, KextVersionStage, is_compatible, parse_version

__all__ = [
    "KERNEL_VERSION",
    "DirectorySource",
    "EntryPointSource",
    "KextBundle",
    "KextBundleError",
    "KextDependencyError",
    "KextError",
    "KextIndex",
    "KextInfo",
    "KextLoadError",
    "KextModule",
    "KextSource",
    "KextUnloadError",
    "KextVersion",
    "KextVersionError",
    "KextVersionStage",
    "LibraryKext",
    "Resolution",
    "builtin_libraries",
    "bundles_in",
    "copy_personalities",
    "discover",
    "entry_point_kexts",
    "find_kext_classes",
    "import_kext",
    "is_compatible",
    "parse_version",
    "register_kext_classes",
    "resolve_dependencies",
    "unique_personality_properties",
]
