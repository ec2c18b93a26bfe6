"""Kext bundles on disk: reading and validating a ``.kext`` directory.

Mirrors what makes a bundle a kext in Apple's sources: the kernel's
``OSKext::setInfoDictionaryAndPath`` (xnu ``libkern/c++/OSKext.cpp``), user space's
``OSKextCreate`` and ``__OSKextProcessInfoDictionary`` (IOKitUser
``kext.subproj/OSKext.c``, the checks ``kextd``/``kextutil`` run before a load), and
CFBundle's layout rules (``_CFBundleGetBundleVersionForURL``).  Keys are those of
``libkern/libkern/OSKextLib.h``.

Layout
------
::

    Example.kext/Contents/Info.plist
    Example.kext/Contents/MacOS/<CFBundleExecutable>.py     or a package directory
    Example.kext/Contents/MacOS/<CFBundleExecutable>/__init__.py
    Example.kext/Contents/PlugIns/*.kext
    Example.kext/Contents/Resources/

The directory name must end in ``.kext`` (``OSKextCreate`` refuses other URLs).  A
bundle without a ``Contents`` directory is read as a *flat* bundle, the way CFBundle
reads one (its "version 3" layout, which iOS kexts use): ``Info.plist``, the
executable and ``PlugIns/`` sit at the bundle's root.  ``Contents/`` wins when both
exist, as in CFBundle.

Rules (each failure is one ``KextBundleError`` naming the file, the key and what was
expected)
-------------------------------------------------------------------------------------
* ``Info.plist`` is a property list (XML or binary) whose root is a dictionary.
* ``CFBundleIdentifier``: a non-empty string shorter than 64 characters
  (``KMOD_MAX_NAME``).
* ``CFBundleVersion``: a string that is a valid kext version (``version.py``).
* ``CFBundlePackageType``: ``"KEXT"`` when present.  (User space requires the key;
  the kernel never reads it; kextlab accepts plists without it.)
* ``OSBundleCompatibleVersion``: when present, a valid version no later than
  ``CFBundleVersion``.
* ``CFBundleExecutable``: when present, a non-empty file name; the executable must
  exist, as ``<name>.py`` or a package ``<name>/__init__.py`` (not both).  Absent
  means a codeless kext (personalities only, like many of Apple's).
* ``OSBundleLibraries``: a dictionary of bundle identifier to version string, each a
  valid version.  (The kernel checks these only when it resolves dependencies;
  kextlab checks them when it reads the bundle, so the error names the file.)
* ``OSBundleRequired``: one of ``Root``, ``Local-Root``, ``Network-Root``,
  ``Safe Boot``, ``Console``, ``DriverKit``.
* ``OSKernelResource``: a boolean (true only for the kernel's own components).
* ``IOKitPersonalities``: a dictionary of personality name to dictionary, kept in
  file order (plistlib preserves it); an ``IOKitDebug`` in a personality must be a
  number (the one personality check user space always makes).  The kernel silently
  skips a personality that is not a dictionary; kextlab refuses it.

Xcode build-setting references are expanded first (``xcode.py``); those left
unexpanded are listed in ``KextBundle.warnings``.

Plug-ins (``Contents/PlugIns/*.kext``, in name order) are read as bundles of their
own and listed in ``plugins``.  Like ``OSKextCopyPlugins``, only one level is read:
a plug-in's own ``PlugIns`` are ignored (and noted in its warnings).

Not mirrored: architecture-suffixed keys (``OSBundleLibraries_x86_64``),
``OSBundleIsInterface`` and the ``Resources``/``Support Files`` layouts of NeXT-era
bundles.

Threading rules: reads files; call it outside the machine's scheduler (from the
loader's caller) or accept the blocking host I/O.
"""

from __future__ import annotations

import os
import plistlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Final
from xml.parsers.expat import ExpatError

from kextlab.kernel.kext import xcode
from kextlab.kernel.kext.errors import KextBundleError, KextVersionError
from kextlab.kernel.kext.version import KextVersion, is_compatible, parse_version

#: The file name extension of a kext bundle (``kOSKextBundleExtension``).
BUNDLE_EXTENSION: Final = ".kext"
#: Identifiers must be shorter than this (``KMOD_MAX_NAME``, ``osfmk/mach/kmod.h``).
KMOD_MAX_NAME: Final = 64
#: The legal values of ``OSBundleRequired`` (``kOSBundleRequiredRoot``...).
OS_BUNDLE_REQUIRED_VALUES: Final = (
    "Root",
    "Local-Root",
    "Network-Root",
    "Safe Boot",
    "Console",
    "DriverKit",
)
PACKAGE_TYPE: Final = "KEXT"


@dataclass(frozen=True, eq=False)
class KextBundle:
    """One kext bundle read from disk.  Build it with ``KextBundle.read``."""

    #: The ``.kext`` directory.
    path: Path
    #: Its ``Info.plist``.
    info_plist: Path
    #: The whole Info.plist, references expanded.
    info: Mapping[str, object]
    bundle_id: str
    version: KextVersion
    compatible_version: KextVersion | None
    #: ``CFBundleExecutable`` (None for a codeless kext).
    executable_name: str | None
    #: The executable: a ``.py`` file or a package directory (None when codeless).
    executable: Path | None
    #: ``OSBundleLibraries``: library identifier to requested version, in file order.
    libraries: Mapping[str, KextVersion]
    #: ``OSBundleRequired``.
    required: str | None
    #: ``IOKitPersonalities``: name to personality, in file order.
    personalities: Mapping[str, Mapping[str, object]]
    #: ``OSKernelResource``: a component of the kernel itself.
    is_kernel_component: bool = False
    plugins: tuple[KextBundle, ...] = ()
    #: What was tolerated: unexpanded Xcode references, guesses, ignored plug-ins.
    warnings: tuple[str, ...] = ()
    #: True for a flat bundle (no ``Contents`` directory).
    flat: bool = False
    #: The bundle this one is a plug-in of, by identifier.
    container_id: str | None = field(default=None)

    @classmethod
    def read(
        cls, path: str | os.PathLike[str], *, variables: Mapping[str, str] | None = None
    ) -> KextBundle:
        """Read and validate the bundle at ``path`` and its plug-ins.

        ``variables`` are Xcode build settings to use for ``$(NAME)`` references
        (they win over settings derived from the bundle; plug-ins get them too).
        """
        return _read(Path(path), variables, container=None)

    @property
    def source(self) -> str:
        """Where this kext comes from, for messages: its Info.plist."""
        return str(self.info_plist)

    @property
    def declares_executable(self) -> bool:
        """Whether ``CFBundleExecutable`` is set (``OSKext::declaresExecutable``)."""
        return self.executable_name is not None

    @property
    def executable_is_package(self) -> bool:
        return self.executable is not None and self.executable.is_dir()

    def is_compatible_with(self, requested: KextVersion) -> bool:
        """Whether this kext satisfies a dependency on ``requested`` (``is_compatible``)."""
        return is_compatible(self.version, self.compatible_version, requested)

    def with_plugins(self) -> Iterator[KextBundle]:
        """This bundle, then its plug-ins in name order."""
        yield self
        yield from self.plugins

    def __repr__(self) -> str:
        return f"<KextBundle {self.bundle_id} {self.version} at {self.path}>"


def _key_path(key: str, *parts: str | int) -> str:
    return key + "".join(f"[{part!r}]" for part in parts)


def _read(path: Path, variables: Mapping[str, str] | None, container: str | None) -> KextBundle:
    if path.suffix != BUNDLE_EXTENSION:
        raise KextBundleError(path, None, f"a kext bundle's name ends in {BUNDLE_EXTENSION!r}")
    if not path.is_dir():
        raise KextBundleError(path, None, "expected a bundle directory")
    contents = path / "Contents"
    flat = not contents.is_dir()
    root = path if flat else contents
    info_plist = root / "Info.plist"
    if not info_plist.is_file():
        if flat:
            raise KextBundleError(
                contents / "Info.plist",
                None,
                "missing (and no Info.plist at the bundle's root, as a flat bundle has)",
            )
        raise KextBundleError(info_plist, None, "missing: a kext bundle needs an Info.plist")
    raw = _load_plist(info_plist)

    warnings: list[str] = []
    settings, notes = xcode.derive_settings(raw, path.stem, variables)
    warnings.extend(f"{info_plist}: {note}" for note in notes)
    info: dict[str, object] = {
        key: xcode.substitute(value, settings, f"{info_plist}: {key}", warnings)
        for key, value in raw.items()
    }

    bundle_id = _identifier(info, info_plist)
    version = _version(info, info_plist, "CFBundleVersion", required=True)
    assert version is not None
    compatible_version = _version(info, info_plist, "OSBundleCompatibleVersion", required=False)
    if compatible_version is not None and compatible_version > version:
        raise KextBundleError(
            info_plist,
            "OSBundleCompatibleVersion",
            f"{compatible_version.text!r} is later than CFBundleVersion {version.text!r} "
            "(expected a version no later than CFBundleVersion)",
        )
    package_type = info.get("CFBundlePackageType")
    if package_type is not None and package_type != PACKAGE_TYPE:
        raise KextBundleError(
            info_plist, "CFBundlePackageType", f"expected {PACKAGE_TYPE!r}, not {package_type!r}"
        )
    executable_name = _executable_name(info, info_plist)
    executable = _executable(root, flat, executable_name, info_plist)
    libraries = _libraries(info, info_plist)
    required = _string(info, info_plist, "OSBundleRequired")
    if required is not None and required not in OS_BUNDLE_REQUIRED_VALUES:
        legal = ", ".join(repr(value) for value in OS_BUNDLE_REQUIRED_VALUES)
        raise KextBundleError(
            info_plist, "OSBundleRequired", f"expected one of {legal}, not {required!r}"
        )
    kernel_component = info.get("OSKernelResource", False)
    if not isinstance(kernel_component, bool):
        raise KextBundleError(
            info_plist, "OSKernelResource", f"expected a boolean, not {kernel_component!r}"
        )
    personalities = _personalities(info, info_plist)

    plugins: tuple[KextBundle, ...] = ()
    plugins_directory = root / "PlugIns"
    nested = _kexts_in(plugins_directory)
    if container is None:
        plugins = tuple(_read(plugin, variables, container=bundle_id) for plugin in nested)
    elif nested:
        warnings.append(
            f"{plugins_directory}: plug-ins of a plug-in are not read "
            f"({', '.join(plugin.name for plugin in nested)})"
        )

    return KextBundle(
        path=path,
        info_plist=info_plist,
        info=MappingProxyType(info),
        bundle_id=bundle_id,
        version=version,
        compatible_version=compatible_version,
        executable_name=executable_name,
        executable=executable,
        libraries=MappingProxyType(libraries),
        required=required,
        personalities=MappingProxyType(personalities),
        is_kernel_component=kernel_component,
        plugins=plugins,
        warnings=tuple(warnings),
        flat=flat,
        container_id=container,
    )


def _kexts_in(directory: Path) -> list[Path]:
    """The ``.kext`` directories directly inside ``directory``, in name order."""
    if not directory.is_dir():
        return []
    return sorted(
        (
            entry
            for entry in directory.iterdir()
            if entry.suffix == BUNDLE_EXTENSION and entry.is_dir()
        ),
        key=lambda entry: entry.name,
    )


def _load_plist(info_plist: Path) -> dict[str, object]:
    try:
        with info_plist.open("rb") as file:
            loaded = plistlib.load(file)
    except (plistlib.InvalidFileException, ExpatError, ValueError, OverflowError) as error:
        raise KextBundleError(info_plist, None, f"not a valid property list ({error})") from error
    if not isinstance(loaded, dict):
        raise KextBundleError(
            info_plist, None, f"expected a dictionary at the root, not {type(loaded).__name__}"
        )
    return loaded


def _string(info: Mapping[str, object], info_plist: Path, key: str) -> str | None:
    value = info.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise KextBundleError(info_plist, key, f"expected a string, not {value!r}")
    return value


def _unexpanded_hint(value: str) -> str:
    names = sorted({match["paren"] or match["brace"] for match in xcode.REFERENCE.finditer(value)})
    if not names:
        return ""
    settings = ", ".join(names)
    return f" (an Xcode build setting this bundle does not define: pass variables= for {settings})"


def _identifier(info: Mapping[str, object], info_plist: Path) -> str:
    identifier = _string(info, info_plist, "CFBundleIdentifier")
    if identifier is None:
        raise KextBundleError(
            info_plist, "CFBundleIdentifier", "missing: a kext needs a bundle identifier"
        )
    if not identifier:
        raise KextBundleError(info_plist, "CFBundleIdentifier", "expected a non-empty string")
    if xcode.has_references(identifier):
        raise KextBundleError(
            info_plist,
            "CFBundleIdentifier",
            f"{identifier!r} is not an identifier{_unexpanded_hint(identifier)}",
        )
    if len(identifier) >= KMOD_MAX_NAME:
        raise KextBundleError(
            info_plist,
            "CFBundleIdentifier",
            f"{identifier!r} is {len(identifier)} characters long "
            f"(expected at most {KMOD_MAX_NAME - 1})",
        )
    return identifier


def _version(
    info: Mapping[str, object], info_plist: Path, key: str, *, required: bool
) -> KextVersion | None:
    text = _string(info, info_plist, key)
    if text is None:
        if required:
            raise KextBundleError(info_plist, key, "missing: a kext needs a version")
        return None
    return _parse(text, info_plist, key)


def _parse(text: str, info_plist: Path, key: str) -> KextVersion:
    try:
        return parse_version(text)
    except KextVersionError as error:
        raise KextBundleError(
            info_plist, key, f"{error.reason}: {text!r}{_unexpanded_hint(text)}"
        ) from error


def _executable_name(info: Mapping[str, object], info_plist: Path) -> str | None:
    name = _string(info, info_plist, "CFBundleExecutable")
    if name is None:
        return None
    if not name or name in {".", ".."} or "/" in name or "\0" in name:
        raise KextBundleError(
            info_plist, "CFBundleExecutable", f"expected a file name, not {name!r}"
        )
    return name


def _executable(root: Path, flat: bool, name: str | None, info_plist: Path) -> Path | None:
    if name is None:
        return None
    directory = root if flat else root / "MacOS"
    module = directory / f"{name}.py"
    package = directory / name
    has_module = module.is_file()
    has_package = (package / "__init__.py").is_file()
    if has_module and has_package:
        raise KextBundleError(
            info_plist,
            "CFBundleExecutable",
            f"{name!r} is both {module} and the package {package}; expected one of them",
        )
    if has_module:
        return module
    if has_package:
        return package
    raise KextBundleError(
        info_plist,
        "CFBundleExecutable",
        f"the executable {name!r} is missing: expected {module} or {package / '__init__.py'}",
    )


def _libraries(info: Mapping[str, object], info_plist: Path) -> dict[str, KextVersion]:
    libraries = info.get("OSBundleLibraries")
    if libraries is None:
        return {}
    if not isinstance(libraries, dict):
        raise KextBundleError(
            info_plist,
            "OSBundleLibraries",
            f"expected a dictionary of bundle identifier to version, not {libraries!r}",
        )
    resolved: dict[str, KextVersion] = {}
    for library, requested in libraries.items():
        key = _key_path("OSBundleLibraries", library)
        if not isinstance(requested, str):
            raise KextBundleError(info_plist, key, f"expected a version string, not {requested!r}")
        resolved[library] = _parse(requested, info_plist, key)
    return resolved


def _personalities(info: Mapping[str, object], info_plist: Path) -> dict[str, Mapping[str, object]]:
    personalities = info.get("IOKitPersonalities")
    if personalities is None:
        return {}
    if not isinstance(personalities, dict):
        raise KextBundleError(
            info_plist,
            "IOKitPersonalities",
            f"expected a dictionary of personality name to dictionary, not {personalities!r}",
        )
    result: dict[str, Mapping[str, object]] = {}
    for name, personality in personalities.items():
        if not isinstance(personality, dict):
            raise KextBundleError(
                info_plist,
                _key_path("IOKitPersonalities", name),
                f"expected a personality dictionary, not {personality!r}",
            )
        debug = personality.get("IOKitDebug")
        if debug is not None and (isinstance(debug, bool) or not isinstance(debug, int)):
            raise KextBundleError(
                info_plist,
                _key_path("IOKitPersonalities", name, "IOKitDebug"),
                f"expected a number, not {debug!r}",
            )
        result[name] = personality
    return result
