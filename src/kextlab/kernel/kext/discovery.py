"""Finding kext bundles: in folders, and in Python packages' entry points.

Plays the part of ``kextd``'s scan of the extensions folders
(``OSKextCreateKextsFromURL``, IOKitUser ``kext.subproj/OSKext.c``: a ``.kext`` URL
is one kext with its plug-ins, any other folder is scanned for ``*.kext``), and of
the entry-point group ``kextlab.kexts`` through which third-party Python packages
ship kexts (ARCHITECTURE.md §5).

Design
------
Discovery is explicit and injectable: nothing is scanned unless a caller asks, and
the caller says where.  A ``KextSource`` is anything with a ``description`` and a
``bundles()`` method; ``DirectorySource`` and ``EntryPointSource`` are the two kinds
kextlab has, and a test can pass any object of that shape (python-can's and pyusb's
injectable back ends are the model).

* ``bundles_in(path)``: a ``.kext`` directory gives that bundle; any other directory
  gives the ``.kext`` bundles directly inside it, in name order (plain code-point
  order, the same on every host).  Each bundle is followed by its plug-ins
  (``Contents/PlugIns``, name order), which are also in its ``plugins``.
* ``entry_point_kexts(group, entry_points)``: every entry point of ``group``, in
  (name, value) order, is loaded; what it loads must be callable, and calling it
  returns a path (``str`` or ``os.PathLike``) or an iterable of paths, each read with
  ``bundles_in``.  A bundle reached twice (same resolved path) is listed once.
  ``entry_points`` defaults to ``importlib.metadata.entry_points`` and is called as
  ``entry_points(group=group)``; tests pass a fake.

Errors: a bad bundle raises ``KextBundleError`` (nothing is skipped silently); an
entry point that cannot be loaded or called raises ``KextLoadError``, and one that
returns something else than paths ``KextBundleError``, each naming the entry point.

Threading rules: reads the file system and imports entry points; call it before
the machine runs or from its caller, never from driver code.
"""

from __future__ import annotations

import importlib.metadata
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Protocol

from kextlab.kernel.kext.bundle import BUNDLE_EXTENSION, KextBundle
from kextlab.kernel.kext.errors import KextBundleError, KextLoadError

#: The entry-point group third-party packages list their kexts in.
ENTRY_POINT_GROUP: Final = "kextlab.kexts"


class EntryPointLike(Protocol):
    """The part of ``importlib.metadata.EntryPoint`` discovery uses."""

    @property
    def name(self) -> str: ...

    @property
    def value(self) -> str: ...

    def load(self) -> object: ...


#: How entry points are listed: called as ``entry_points(group=...)``.
EntryPoints = Callable[..., Iterable[EntryPointLike]]


class KextSource(Protocol):
    """Somewhere kexts come from."""

    @property
    def description(self) -> str: ...

    def bundles(self) -> list[KextBundle]: ...


@dataclass(frozen=True)
class DirectorySource:
    """The bundles at ``path``: one ``.kext``, or a folder of them (``bundles_in``)."""

    path: Path
    variables: dict[str, str] = field(default_factory=dict)

    @property
    def description(self) -> str:
        return str(self.path)

    def bundles(self) -> list[KextBundle]:
        return bundles_in(self.path, variables=self.variables or None)


@dataclass(frozen=True)
class EntryPointSource:
    """The bundles Python packages list under an entry-point group."""

    group: str = ENTRY_POINT_GROUP
    entry_points: EntryPoints = importlib.metadata.entry_points

    @property
    def description(self) -> str:
        return f"entry points {self.group!r}"

    def bundles(self) -> list[KextBundle]:
        return entry_point_kexts(self.group, self.entry_points)


def bundles_in(
    path: str | os.PathLike[str], *, variables: dict[str, str] | None = None
) -> list[KextBundle]:
    """The bundles at ``path``, each followed by its plug-ins (see the module docstring)."""
    location = Path(path)
    if location.suffix == BUNDLE_EXTENSION:
        return list(KextBundle.read(location, variables=variables).with_plugins())
    if not location.is_dir():
        raise KextBundleError(location, None, "expected a .kext bundle or a folder of them")
    found: list[KextBundle] = []
    kexts = sorted(
        (entry for entry in location.iterdir() if entry.suffix == BUNDLE_EXTENSION),
        key=lambda entry: entry.name,
    )
    for kext in kexts:
        if kext.is_dir():
            found.extend(KextBundle.read(kext, variables=variables).with_plugins())
    return found


def discover(sources: Iterable[KextSource]) -> list[KextBundle]:
    """The bundles of every source, in the order given."""
    return [bundle for source in sources for bundle in source.bundles()]


def entry_point_kexts(
    group: str = ENTRY_POINT_GROUP,
    entry_points: EntryPoints = importlib.metadata.entry_points,
) -> list[KextBundle]:
    """The bundles every entry point of ``group`` names (see the module docstring)."""
    found: list[KextBundle] = []
    seen: set[Path] = set()
    listed = sorted(entry_points(group=group), key=lambda point: (point.name, point.value))
    for point in listed:
        label = f"entry point {point.name!r} ({point.value}) of group {group!r}"
        for path in _paths_of(point, label):
            for bundle in bundles_in(path):
                resolved = bundle.path.resolve()
                if resolved not in seen:
                    seen.add(resolved)
                    found.append(bundle)
    return found


def _paths_of(point: EntryPointLike, label: str) -> list[Path]:
    try:
        provider = point.load()
    except Exception as error:
        raise KextLoadError(label, f"cannot be loaded: {type(error).__name__}: {error}") from error
    if not callable(provider):
        raise KextLoadError(label, f"loads {provider!r}, which is not callable")
    try:
        provided = provider()
    except Exception as error:
        raise KextLoadError(label, f"failed: {type(error).__name__}: {error}") from error
    if isinstance(provided, str | os.PathLike):
        return [Path(provided)]
    if isinstance(provided, Iterable) and not isinstance(provided, bytes):
        paths: list[Path] = []
        for item in provided:
            if not isinstance(item, str | os.PathLike):
                raise KextBundleError(
                    label, None, f"returned {item!r}; expected bundle paths (str or os.PathLike)"
                )
            paths.append(Path(item))
        return paths
    raise KextBundleError(
        label, None, f"returned {provided!r}; expected a bundle path or an iterable of them"
    )
