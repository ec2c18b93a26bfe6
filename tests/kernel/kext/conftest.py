"""Helpers of the kext tests: bundles built on the fly under ``tmp_path``.

``make_kext(parent, name, ...)`` writes ``<parent>/<name>.kext`` with an Info.plist
(a minimal valid one, merged with ``info``; a key set to ``None`` is left out) and,
when asked, an executable module or package.  Kext modules a test imports are
removed from ``sys.modules`` afterwards by the ``imported`` fixture.
"""

from __future__ import annotations

import plistlib
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Protocol

import pytest

from kextlab.kernel.kext.builtin import builtin_libraries
from kextlab.kernel.kext.dependencies import LibraryKext
from kextlab.kernel.kext.module import MODULE_PREFIX


def make_kext(
    parent: Path,
    name: str,
    info: Mapping[str, object] | None = None,
    *,
    module: str | None = None,
    package: Mapping[str, str] | None = None,
    flat: bool = False,
) -> Path:
    """Write ``<parent>/<name>.kext`` and return its path.

    ``module`` is the source of ``<CFBundleExecutable>.py``; ``package`` maps file
    names (``__init__.py``, ``util.py``) to sources of a package executable.  Either
    sets ``CFBundleExecutable`` to ``name`` unless ``info`` names it.
    """
    bundle = parent / f"{name}.kext"
    root = bundle if flat else bundle / "Contents"
    root.mkdir(parents=True)
    plist: dict[str, object] = {
        "CFBundleIdentifier": f"com.example.{name}",
        "CFBundleVersion": "1.0.0",
        "CFBundlePackageType": "KEXT",
    }
    if module is not None or package is not None:
        plist["CFBundleExecutable"] = name
        plist["OSBundleLibraries"] = {"com.apple.kpi.iokit": "8.0"}
    for key, value in (info or {}).items():
        if value is None:
            plist.pop(key, None)
        else:
            plist[key] = value
    with (root / "Info.plist").open("wb") as file:
        plistlib.dump(plist, file, sort_keys=False)
    executable = plist.get("CFBundleExecutable")
    code = root if flat else root / "MacOS"
    if module is not None:
        code.mkdir(exist_ok=True)
        (code / f"{executable}.py").write_text(module)
    if package is not None:
        directory = code / str(executable)
        directory.mkdir(parents=True)
        for file_name, source in package.items():
            (directory / file_name).write_text(source)
    return bundle


class MakeKext(Protocol):
    def __call__(
        self,
        name: str,
        info: Mapping[str, object] | None = None,
        *,
        module: str | None = None,
        package: Mapping[str, str] | None = None,
        flat: bool = False,
    ) -> Path: ...


@pytest.fixture
def kext(tmp_path: Path) -> MakeKext:
    """``make_kext`` writing under ``tmp_path``."""

    def build(
        name: str,
        info: Mapping[str, object] | None = None,
        *,
        module: str | None = None,
        package: Mapping[str, str] | None = None,
        flat: bool = False,
    ) -> Path:
        return make_kext(tmp_path, name, info, module=module, package=package, flat=flat)

    return build


@pytest.fixture
def imported() -> Iterator[None]:
    """Remove every kext module the test left in ``sys.modules``."""
    yield
    for name in [name for name in sys.modules if name.startswith(MODULE_PREFIX)]:
        del sys.modules[name]


@pytest.fixture
def real_plists(shared_data: Path) -> Path:
    """``shared/data/plists``: real kext Info.plists (skips when absent)."""
    return shared_data / "plists"


def system_libraries() -> list[LibraryKext]:
    """The kernel's own library kexts plus the families a booted kextlab kernel has."""
    from kextlab.families.pci.kext import IOPCIFAMILY

    return [*builtin_libraries(), IOPCIFAMILY.library()]
