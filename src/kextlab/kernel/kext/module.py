"""A kext's executable: importing it in isolation, finding and registering its classes.

Plays the part of the kernel linker and ``OSMetaClass`` registration for a kext
(xnu ``OSKext::load`` -> ``loadExecutable`` -> the kext's ``OSRuntimeInitializeCPP``,
which constructs its meta-classes; ``OSKext.cpp``, ``OSMetaClass.cpp``).  A kext's
"executable" is Python: ``Contents/MacOS/<CFBundleExecutable>.py`` or a package
``Contents/MacOS/<CFBundleExecutable>/__init__.py``.

Design
------
*Isolation.*  Each import gets a private module name of its own,
``_kextlab_kext_<identifier>`` (``.`` and other non-identifier characters become
``_``; ``_2``, ``_3``... is appended while the name is taken), given to
``importlib.util.spec_from_file_location``.  Nothing is added to ``sys.path``, so
two kexts may both have a module ``driver`` (or a package with ``driver/util.py``)
and neither sees the other's; importing the same kext into two machines gives two
separate modules (no state shared between machines).  A package kext's submodules
import relative to it (``from . import util``, ``from .util import X``), and land in
``sys.modules`` under the private name.  A single-file kext has no siblings: split a
kext into several files by making it a package.

*Failure.*  Any exception while the code runs (including ``SyntaxError`` and
``ImportError`` of a missing helper) becomes one ``KextLoadError`` naming the bundle,
the file, the exception, and where it happened (the traceback's last frame); every
module the import added is removed again.

*Classes.*  The kext's classes are the ``OSObject`` subclasses whose ``__module__``
is the kext's module or one of its submodules, in definition order: the top module
first, then its submodules in the order their import finished (importlib moves a
module to the end of ``sys.modules`` when it has run), classes in the order their
module defines them; then each class is moved after its bases from the same kext
(a package's ``__init__`` may define a subclass of a submodule's class).

*Registration* (``register_kext_classes``) is all or nothing, like the kernel's
``OSMetaClass::postModLoad``: a class whose name another kext (or the kernel)
already registered refuses the whole kext, naming the class and its owner, and
leaves nothing of the kext registered.

*Unloading* (``KextModule.unload``) removes the kext's modules from ``sys.modules``;
unregistering its classes is ``ClassRegistry.unregister_kext`` (refused while
instances live, as xnu refuses to unload a kext whose classes have instances).

Threading rules: imports run the kext's module-level code on the calling thread;
call from the loader (kernel code inside the machine's scheduler, so that objects
the module makes at import time are counted).
"""

from __future__ import annotations

import importlib.util
import re
import sys
import traceback
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Final

from kextlab.kernel.kext.bundle import KextBundle
from kextlab.kernel.kext.errors import KextLoadError
from kextlab.kernel.libkern.object import ClassRegistry, ClassRegistryError, OSObject

#: The prefix of every kext module's private name.
MODULE_PREFIX: Final = "_kextlab_kext_"


@dataclass(frozen=True, eq=False)
class KextModule:
    """A kext's imported executable."""

    bundle_id: str
    #: The private name in ``sys.modules``.
    name: str
    module: ModuleType
    #: The file imported: the ``.py`` module or the package's ``__init__.py``.
    file: Path
    #: The OSObject subclasses the kext defines, in definition order.
    classes: tuple[type[OSObject], ...]

    def modules(self) -> list[str]:
        """The names in ``sys.modules`` that belong to this kext."""
        return _owned_modules(self.name)

    def unload(self) -> None:
        """Remove the kext's modules from ``sys.modules`` (classes stay registered
        until ``ClassRegistry.unregister_kext``)."""
        for name in self.modules():
            del sys.modules[name]

    def __repr__(self) -> str:
        return f"<KextModule {self.bundle_id} as {self.name}>"


def private_module_name(bundle_id: str) -> str:
    """A module name for ``bundle_id`` that no module in ``sys.modules`` has yet."""
    base = MODULE_PREFIX + re.sub(r"\W", "_", bundle_id, flags=re.ASCII)
    name = base
    suffix = 2
    while name in sys.modules or _owned_modules(name):
        name = f"{base}_{suffix}"
        suffix += 1
    return name


def import_kext(bundle: KextBundle) -> KextModule:
    """Import ``bundle``'s executable in isolation and find its classes."""
    if bundle.executable is None:
        raise KextLoadError(bundle.bundle_id, "is codeless: it has no executable to import")
    package = bundle.executable.is_dir()
    file = bundle.executable / "__init__.py" if package else bundle.executable
    name = private_module_name(bundle.bundle_id)
    spec = importlib.util.spec_from_file_location(
        name,
        file,
        submodule_search_locations=[str(bundle.executable)] if package else None,
    )
    if spec is None or spec.loader is None:
        raise KextLoadError(bundle.bundle_id, f"{file}: cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException as error:
        for owned in _owned_modules(name):
            del sys.modules[owned]
        if not isinstance(error, Exception):
            raise
        raise KextLoadError(
            bundle.bundle_id, f"{file}: import failed: {_describe_failure(error)}"
        ) from error
    return KextModule(bundle.bundle_id, name, module, file, tuple(find_kext_classes(name)))


def find_kext_classes(name: str) -> list[type[OSObject]]:
    """The OSObject subclasses module ``name`` and its submodules define (see the
    module docstring for the order)."""
    found: list[type[OSObject]] = []
    for module_name in _owned_modules(name):
        module = sys.modules[module_name]
        for value in list(vars(module).values()):
            if (
                isinstance(value, type)
                and issubclass(value, OSObject)
                and value.__module__ == module_name
                and value not in found
            ):
                found.append(value)
    return _bases_first(found)


def register_kext_classes(
    classes_registry: ClassRegistry, bundle_id: str, classes: Sequence[type[OSObject]]
) -> list[str]:
    """Register ``classes`` as ``bundle_id``'s, all or none; returns their names.

    Raises ``KextLoadError`` naming the class and its owner if a name is taken (or
    twice in ``classes``), or if ``bundle_id`` already has classes registered;
    nothing of ``bundle_id`` is registered afterwards.
    """
    owned = [meta.getClassName() for meta in classes_registry.classes() if meta.kext == bundle_id]
    if owned:
        raise KextLoadError(
            bundle_id, f"already has classes registered ({', '.join(owned)}); unload it first"
        )
    ordered = _bases_first(classes)
    names: dict[str, type[OSObject]] = {}
    for cls in ordered:
        name = cls.className()
        if name in names:
            raise KextLoadError(
                bundle_id,
                f"defines class {name} twice ({_qualified(names[name])} and {_qualified(cls)})",
            )
        names[name] = cls
        existing = classes_registry.getMetaClassWithName(name)
        if existing is not None and existing.cls is not cls:
            raise KextLoadError(
                bundle_id,
                f"class {name} ({_qualified(cls)}) is already defined by {existing.getKmodName()}",
            )
    try:
        for cls in ordered:
            classes_registry.register(cls, kext=bundle_id)
    except ClassRegistryError as error:
        classes_registry.unregister_kext(bundle_id)
        raise KextLoadError(bundle_id, f"class registration failed: {error}") from error
    return list(names)


def _owned_modules(name: str) -> list[str]:
    """``name`` and its submodules in ``sys.modules``, in ``sys.modules`` order."""
    prefix = name + "."
    return [module for module in list(sys.modules) if module == name or module.startswith(prefix)]


def _bases_first(classes: Iterable[type[OSObject]]) -> list[type[OSObject]]:
    """``classes`` in their order, except that each follows its bases among them."""
    members = list(dict.fromkeys(classes))
    wanted = set(members)
    ordered: list[type[OSObject]] = []
    placed: set[type[OSObject]] = set()

    def place(cls: type[OSObject]) -> None:
        if cls in placed:
            return
        placed.add(cls)
        for base in cls.__mro__[1:]:
            if base in wanted and issubclass(base, OSObject):
                place(base)
        ordered.append(cls)

    for cls in members:
        place(cls)
    return ordered


def _qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _describe_failure(error: Exception) -> str:
    """``Type: message (at file:line in function: source)`` for the innermost frame."""
    text = f"{type(error).__name__}: {error}"
    if isinstance(error, SyntaxError) and error.filename:
        return f"{text} (at {error.filename}:{error.lineno})"
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return text
    last = frames[-1]
    where = f"{last.filename}:{last.lineno} in {last.name}"
    if last.line:
        where += f": {last.line.strip()}"
    return f"{text} (at {where})"
