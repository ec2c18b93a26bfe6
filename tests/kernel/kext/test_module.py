"""Importing a kext's Python executable in isolation, finding and registering its classes."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from kextlab.kernel.kext.bundle import KextBundle
from kextlab.kernel.kext.errors import KextLoadError
from kextlab.kernel.kext.module import (
    MODULE_PREFIX,
    find_kext_classes,
    import_kext,
    private_module_name,
    register_kext_classes,
)
from kextlab.kernel.libkern.object import ClassRegistry, ClassRegistryError, OSObject
from tests.kernel.kext.conftest import MakeKext, make_kext

pytestmark = pytest.mark.usefixtures("imported")

DRIVER = """\
from kextlab.kernel.libkern.object import OSObject
from kextlab.kernel.libkern.values import OSString


class Helper:
    pass


class Zeta(OSObject):
    pass


class Alpha(Zeta):
    pass


class Renamed(OSObject):
    class_name = "com_example_Renamed"


VALUE = "{value}"
"""


def test_a_module_kext_imports_under_a_private_name_with_its_classes_in_order(
    kext: MakeKext,
) -> None:
    """Only the OSObject subclasses the kext defines, in definition order."""
    bundle = KextBundle.read(kext("Driver", module=DRIVER.format(value="one")))
    loaded = import_kext(bundle)
    assert loaded.name == MODULE_PREFIX + "com_example_Driver"
    assert sys.modules[loaded.name] is loaded.module
    assert loaded.file == bundle.executable
    assert [cls.__name__ for cls in loaded.classes] == ["Zeta", "Alpha", "Renamed"]
    assert loaded.module.VALUE == "one"
    assert loaded.modules() == [loaded.name]
    assert loaded.bundle_id == "com.example.Driver"


def test_two_kexts_with_same_named_modules_do_not_see_each_other(tmp_path: Path) -> None:
    """Both call their executable Driver.py; each gets its own module and classes."""
    root = tmp_path
    (root / "a").mkdir()
    (root / "b").mkdir()
    first = KextBundle.read(
        make_kext(
            root / "a",
            "Driver",
            {"CFBundleIdentifier": "com.a.driver"},
            module=DRIVER.format(value="a"),
        )
    )
    second = KextBundle.read(
        make_kext(
            root / "b",
            "Driver",
            {"CFBundleIdentifier": "com.b.driver"},
            module=DRIVER.format(value="b"),
        )
    )
    one, two = import_kext(first), import_kext(second)
    assert one.module is not two.module
    assert (one.module.VALUE, two.module.VALUE) == ("a", "b")
    assert one.classes[0] is not two.classes[0]
    one.unload()
    assert two.module.VALUE == "b"
    assert two.name in sys.modules


def test_package_kexts_import_their_submodules_relatively(kext: MakeKext) -> None:
    """Two packages with a util submodule each; relative imports find their own."""
    common = {
        "__init__.py": "from .drivers import Driver\nfrom . import util\n",
        "drivers.py": (
            "from .base import Base\nfrom .util import NAME\n\n\nclass Driver(Base):\n"
            "    name = NAME\n"
        ),
        "base.py": (
            "from kextlab.kernel.libkern.object import OSObject\n\n\nclass Base(OSObject):\n"
            "    pass\n"
        ),
    }
    first = import_kext(
        KextBundle.read(kext("First", package={**common, "util.py": "NAME = 'first'\n"}))
    )
    second = import_kext(
        KextBundle.read(kext("Second", package={**common, "util.py": "NAME = 'second'\n"}))
    )
    assert first.module.Driver.name == "first"
    assert second.module.Driver.name == "second"
    assert first.module.util is not second.module.util
    assert [cls.__name__ for cls in first.classes] == ["Base", "Driver"]
    assert first.modules() == [
        first.name,
        f"{first.name}.base",
        f"{first.name}.util",
        f"{first.name}.drivers",
    ]
    first.unload()
    assert not [name for name in sys.modules if name.startswith(first.name)]
    assert second.modules()


def test_importing_one_kext_twice_gives_two_separate_modules(kext: MakeKext) -> None:
    """Two machines loading the same kext share no module state."""
    bundle = KextBundle.read(kext("Driver", module="STATE = []\n"))
    one, two = import_kext(bundle), import_kext(bundle)
    assert two.name == f"{one.name}_2"
    one.module.STATE.append(1)
    assert two.module.STATE == []
    one.unload()
    assert private_module_name(bundle.bundle_id) == one.name


def test_an_exception_while_importing_becomes_a_load_error_naming_bundle_file_and_line(
    kext: MakeKext,
) -> None:
    """The error names the bundle, the file, the exception and the innermost frame."""
    bundle = KextBundle.read(
        kext(
            "Broken",
            package={
                "__init__.py": "from . import helper\n",
                "helper.py": "def fail():\n    raise RuntimeError('no device')\n\n\nfail()\n",
            },
        )
    )
    with pytest.raises(KextLoadError) as caught:
        import_kext(bundle)
    message = str(caught.value)
    assert message.startswith(f"com.example.Broken: {bundle.executable}/__init__.py: import failed")
    assert "RuntimeError: no device" in message
    assert "helper.py:2 in fail: raise RuntimeError('no device')" in message
    assert isinstance(caught.value.__cause__, RuntimeError)
    assert not [name for name in sys.modules if name.startswith(MODULE_PREFIX)]


def test_a_missing_import_inside_a_kext_is_a_load_error(kext: MakeKext) -> None:
    """A kext cannot import a sibling it does not have: isolation holds."""
    bundle = KextBundle.read(kext("Lonely", module="import Lonely_helper\n"))
    with pytest.raises(KextLoadError, match="ModuleNotFoundError: No module named 'Lonely_helper'"):
        import_kext(bundle)


def test_a_syntax_error_names_the_file_and_line(kext: MakeKext) -> None:
    """SyntaxError has no frame in the kext; its own file and line are given."""
    bundle = KextBundle.read(kext("Typo", module="x = 1\ndef (:\n"))
    with pytest.raises(KextLoadError, match=r"SyntaxError: .* \(at .*Typo\.py:2\)"):
        import_kext(bundle)


def test_a_codeless_kext_has_nothing_to_import(kext: MakeKext) -> None:
    """Personalities only."""
    with pytest.raises(KextLoadError, match="codeless"):
        import_kext(KextBundle.read(kext("Codeless")))


def test_find_kext_classes_of_an_unknown_module_is_empty() -> None:
    """Nothing imported under that name, no classes."""
    assert find_kext_classes(MODULE_PREFIX + "nothing") == []


def test_registering_a_kexts_classes_records_it_as_their_owner(kext: MakeKext) -> None:
    """Every class under its I/O Kit name, owned by the kext."""
    loaded = import_kext(KextBundle.read(kext("Driver", module=DRIVER.format(value=""))))
    registry = ClassRegistry()
    names = register_kext_classes(registry, "com.example.Driver", loaded.classes)
    assert names == ["Zeta", "Alpha", "com_example_Renamed"]
    for name in names:
        meta = registry.getMetaClassWithName(name)
        assert meta is not None
        assert meta.getKmodName() == "com.example.Driver"
    alpha = registry.getMetaClassWithName("Alpha")
    assert alpha is not None
    assert alpha.getSuperClass() is registry.getMetaClassWithName("Zeta")


def test_subclasses_are_registered_after_their_bases_whatever_the_order_given() -> None:
    """A base from the same kext is never registered as a kernel class by accident."""

    class Base(OSObject):
        pass

    class Derived(Base):
        pass

    registry = ClassRegistry()
    register_kext_classes(registry, "com.x", [Derived, Base])
    base = registry.getMetaClassWithName("Base")
    assert base is not None
    assert base.getKmodName() == "com.x"


def test_a_class_clash_registers_nothing_and_names_the_class_and_its_owner() -> None:
    """All or none: the kext's other classes are not left behind."""

    class First(OSObject):
        pass

    class Taken(OSObject):
        pass

    class Other(OSObject):
        class_name = "Taken"

    registry = ClassRegistry()
    registry.register(Other, kext="com.other")
    with pytest.raises(KextLoadError, match=r"class Taken .* is already defined by com\.other"):
        register_kext_classes(registry, "com.x", [First, Taken])
    assert not [meta for meta in registry.classes() if meta.kext == "com.x"]
    assert "First" not in registry


def test_a_clash_with_a_kernel_class_names_the_kernel() -> None:
    """Built-in classes are owned by __kernel__."""

    class OSString(OSObject):
        pass

    from kextlab.kernel.libkern.values import OSString as KernelString

    registry = ClassRegistry()
    registry.register(KernelString)
    with pytest.raises(KextLoadError, match="already defined by __kernel__"):
        register_kext_classes(registry, "com.x", [OSString])


def test_a_kext_defining_one_class_name_twice_is_refused() -> None:
    """Two classes, one I/O Kit name."""

    class One(OSObject):
        class_name = "Same"

    class Two(OSObject):
        class_name = "Same"

    with pytest.raises(KextLoadError, match="defines class Same twice"):
        register_kext_classes(ClassRegistry(), "com.x", [One, Two])


def test_registering_a_kext_twice_is_refused() -> None:
    """Unregister (unload) first."""

    class Once(OSObject):
        pass

    registry = ClassRegistry()
    register_kext_classes(registry, "com.x", [Once])
    with pytest.raises(KextLoadError, match=r"already has classes registered \(Once\)"):
        register_kext_classes(registry, "com.x", [Once])
    assert registry.unregister_kext("com.x") == ["Once"]


def test_a_registry_failure_midway_unregisters_what_was_registered() -> None:
    """If the registry refuses a class after others went in, those come out again."""

    class Good(OSObject):
        pass

    class Bad(OSObject):
        pass

    class Refusing(ClassRegistry):
        def register(self, cls: type[OSObject], kext: str | None = None) -> object:  # type: ignore[override]
            if cls is Bad:
                raise ClassRegistryError("refused")
            return super().register(cls, kext)

    registry = Refusing()
    with pytest.raises(KextLoadError, match="class registration failed: refused"):
        register_kext_classes(registry, "com.x", [Good, Bad])
    assert "Good" not in registry
