"""Resolving OSBundleLibraries: the index, the load order and every failure."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import pytest

from kextlab.kernel.kext.bundle import KextBundle
from kextlab.kernel.kext.dependencies import (
    KextIndex,
    KextInfo,
    LibraryKext,
    resolve_dependencies,
)
from kextlab.kernel.kext.errors import KextDependencyError
from kextlab.kernel.kext.version import KextVersion, parse_version
from tests.kernel.kext.conftest import MakeKext, system_libraries

KPI = {"com.apple.kpi.iokit": "8.0"}


@dataclass(eq=False)
class Fake:
    """A kext as the resolver sees it."""

    bundle_id: str
    version: KextVersion
    compatible_version: KextVersion | None = None
    libraries: Mapping[str, KextVersion] = field(default_factory=dict)
    declares_executable: bool = True
    is_kernel_component: bool = False
    required: str | None = None
    personalities: Mapping[str, Mapping[str, object]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    source: str = "<fake>"


def fake(
    bundle_id: str,
    version: str = "1.0",
    compatible: str | None = "1.0",
    libraries: Mapping[str, str] | None = None,
    *,
    code: bool = True,
    required: str | None = None,
) -> Fake:
    """A kext; by default executable, compatible back to 1.0, linked against the I/O Kit KPI."""
    return Fake(
        bundle_id,
        parse_version(version),
        parse_version(compatible) if compatible else None,
        {
            name: parse_version(text)
            for name, text in (KPI if libraries is None else libraries).items()
        },
        declares_executable=code,
        required=required,
    )


def kpi() -> LibraryKext:
    return LibraryKext("com.apple.kpi.iokit", parse_version("19.0.0"), parse_version("7.0"))


def ids(kexts: tuple[KextInfo, ...]) -> list[str]:
    return [kext.bundle_id for kext in kexts]


def test_the_load_order_puts_dependencies_first_in_library_order() -> None:
    """Post-order over OSBundleLibraries in file order, each kext once, the requester last."""
    shared = fake("com.x.shared")
    left = fake("com.x.left", libraries={"com.x.shared": "1.0", **KPI})
    right = fake("com.x.right", libraries={"com.x.shared": "1.0"})
    top = fake("com.x.top", libraries={"com.x.right": "1.0", "com.x.left": "1.0"})
    index = KextIndex([kpi(), shared, left, right])
    resolution = resolve_dependencies(top, index)
    assert ids(resolution.order) == [
        "com.apple.kpi.iokit",
        "com.x.shared",
        "com.x.right",
        "com.x.left",
        "com.x.top",
    ]
    assert ids(resolution.dependencies["com.x.left"]) == ["com.x.shared", "com.apple.kpi.iokit"]
    assert resolution.kext is top
    assert resolution.to_load == resolution.order


def test_loaded_kexts_are_in_the_order_but_not_to_load() -> None:
    """to_load leaves out what the index says is loaded."""
    library = fake("com.x.lib")
    driver = fake("com.x.driver", libraries={"com.x.lib": "1.0", **KPI})
    index = KextIndex([library])
    index.mark_loaded(kpi())
    index.mark_loaded(library)
    resolution = resolve_dependencies(driver, index)
    assert ids(resolution.order) == ["com.apple.kpi.iokit", "com.x.lib", "com.x.driver"]
    assert ids(resolution.to_load) == ["com.x.driver"]


def test_the_highest_compatible_version_is_chosen() -> None:
    """Among several versions, the newest whose range covers the request wins."""
    old = fake("com.x.lib", "1.5", "1.0")
    new = fake("com.x.lib", "3.0", "2.0")
    newest_incompatible = fake("com.x.lib", "4.0", "4.0")
    index = KextIndex([old, newest_incompatible, new, kpi()])
    assert index.versions("com.x.lib") == [newest_incompatible, new, old]
    for requested, chosen in (("1.2", old), ("2.5", new), ("4.0", newest_incompatible)):
        driver = fake("com.x.driver", libraries={"com.x.lib": requested, **KPI})
        assert resolve_dependencies(driver, index).dependencies["com.x.driver"][0] is chosen


def test_equal_versions_prefer_the_first_added() -> None:
    """Ties keep the order the kexts were made known in."""
    first, second = fake("com.x.lib"), fake("com.x.lib")
    index = KextIndex([first, second, kpi()])
    driver = fake("com.x.driver", libraries={"com.x.lib": "1.0"})
    assert resolve_dependencies(driver, index).dependencies["com.x.driver"] == (first,)


def test_a_loaded_library_is_used_even_when_a_newer_one_is_known() -> None:
    """A loaded library cannot be swapped for another version."""
    loaded, newer = fake("com.x.lib", "1.0"), fake("com.x.lib", "2.0", "1.0")
    index = KextIndex([newer, kpi()])
    index.mark_loaded(loaded)
    driver = fake("com.x.driver", libraries={"com.x.lib": "1.0"})
    assert resolve_dependencies(driver, index).dependencies["com.x.driver"] == (loaded,)


def test_an_incompatible_loaded_library_is_an_error() -> None:
    """Even if a compatible version is known, the loaded one decides."""
    index = KextIndex([fake("com.x.lib", "2.0", "1.0")])
    index.mark_loaded(fake("com.x.lib", "1.0"))
    driver = fake("com.x.driver", libraries={"com.x.lib": "2.0"})
    with pytest.raises(KextDependencyError, match=r"the loaded com\.x\.lib version 1\.0") as caught:
        resolve_dependencies(driver, index)
    assert "requested version 2.0" in str(caught.value)


def test_a_missing_library_names_the_requester_and_the_library() -> None:
    """Nobody knows the library."""
    driver = fake("com.x.driver", libraries={"com.x.absent": "1.0"})
    with pytest.raises(KextDependencyError, match=r"library com\.x\.absent not found") as caught:
        resolve_dependencies(driver, KextIndex())
    assert (caught.value.requester, caught.value.library) == ("com.x.driver", "com.x.absent")
    assert str(caught.value).startswith("com.x.driver: ")
    assert isinstance(caught.value, LookupError)


def test_a_missing_indirect_library_names_its_own_requester() -> None:
    """The error is about the kext whose library is missing, not the top."""
    middle = fake("com.x.middle", libraries={"com.x.absent": "1.0"})
    top = fake("com.x.top", libraries={"com.x.middle": "1.0"})
    with pytest.raises(KextDependencyError) as caught:
        resolve_dependencies(top, KextIndex([middle]))
    assert caught.value.requester == "com.x.middle"


def test_an_incompatible_library_names_the_request_and_the_known_ranges() -> None:
    """Requested version and each known version with its compatible version."""
    index = KextIndex([fake("com.x.lib", "2.9", "1.0.0b1"), fake("com.x.lib", "1.0", "1.0")])
    driver = fake("com.x.driver", libraries={"com.x.lib": "3.0"})
    with pytest.raises(KextDependencyError) as caught:
        resolve_dependencies(driver, index)
    assert str(caught.value) == (
        "com.x.driver: library com.x.lib is not compatible with requested version 3.0 "
        "(known: version 2.9, compatible back to 1.0.0b1; version 1.0, compatible back to 1.0)"
    )


def test_a_request_older_than_the_compatible_version_is_incompatible() -> None:
    """User space's lower bound: compatible_version <= requested."""
    index = KextIndex([fake("com.x.lib", "3.0", "2.0")])
    driver = fake("com.x.driver", libraries={"com.x.lib": "1.0"})
    with pytest.raises(KextDependencyError, match=r"not compatible with requested version 1\.0"):
        resolve_dependencies(driver, index)


def test_a_library_without_a_compatible_version_cannot_be_depended_on() -> None:
    """No OSBundleCompatibleVersion: reported as such."""
    index = KextIndex([fake("com.x.lib", "1.0", None)])
    driver = fake("com.x.driver", libraries={"com.x.lib": "1.0"})
    with pytest.raises(KextDependencyError, match="declares no OSBundleCompatibleVersion"):
        resolve_dependencies(driver, index)


def test_a_dependency_cycle_is_named() -> None:
    """A -> B -> C -> A, from the kext being resolved."""
    a = fake("com.x.a", libraries={"com.x.b": "1.0"})
    b = fake("com.x.b", libraries={"com.x.c": "1.0"})
    c = fake("com.x.c", libraries={"com.x.a": "1.0"})
    with pytest.raises(
        KextDependencyError,
        match=r"dependency cycle: com\.x\.a -> com\.x\.b -> com\.x\.c -> com\.x\.a",
    ) as caught:
        resolve_dependencies(a, KextIndex([a, b, c]))
    assert caught.value.library is None


def test_a_kext_depending_on_itself_is_a_cycle() -> None:
    """The shortest cycle."""
    a = fake("com.x.a", libraries={"com.x.a": "1.0"})
    with pytest.raises(KextDependencyError, match=r"com\.x\.a -> com\.x\.a"):
        resolve_dependencies(a, KextIndex([a]))


def test_an_executable_kext_must_declare_libraries() -> None:
    """The kernel refuses to link a kext with no OSBundleLibraries; a codeless kext needs none."""
    with pytest.raises(
        KextDependencyError, match="declares an executable but no OSBundleLibraries"
    ):
        resolve_dependencies(fake("com.x.driver", libraries={}), KextIndex())
    codeless = fake("com.x.codeless", libraries={}, code=False)
    assert resolve_dependencies(codeless, KextIndex()).order == (codeless,)


def test_two_versions_of_one_library_in_one_load_order_are_refused() -> None:
    """MultipleVersionsDetected: only one kext per identifier can be loaded."""
    one, two = fake("com.x.lib", "1.0", "1.0"), fake("com.x.lib", "2.0", "2.0")
    b = fake("com.x.b", libraries={"com.x.lib": "2.0"})
    a = fake("com.x.a", libraries={"com.x.lib": "1.0", "com.x.b": "1.0"})
    with pytest.raises(KextDependencyError, match=r"needs two versions of com\.x\.lib") as caught:
        resolve_dependencies(a, KextIndex([one, two, b, kpi()]))
    assert "(1.0 and 2.0, for com.x.a, com.x.b)" in str(caught.value)


def test_the_raw_kernel_library_is_never_allowed() -> None:
    """com.apple.kernel itself is refused by xnu and by user space."""
    index = KextIndex(
        [LibraryKext("com.apple.kernel", parse_version("19.0"), parse_version("1.0"))]
    )
    driver = fake("com.x.driver", libraries={"com.apple.kernel": "8.0"})
    with pytest.raises(KextDependencyError, match="not permitted"):
        resolve_dependencies(driver, index)


def test_old_kernel_libraries_resolve_unless_the_64_bit_rule_is_asked_for() -> None:
    """com.apple.kernel.* loads as on 32-bit kernels; the LP64 rule refuses it."""
    index = KextIndex(system_libraries())
    driver = fake("com.x.old", libraries={"com.apple.kernel.iokit": "6.0"})
    assert ids(resolve_dependencies(driver, index).order) == ["com.apple.kernel.iokit", "com.x.old"]
    with pytest.raises(KextDependencyError, match=r"only com\.apple\.kpi\.\* dependencies"):
        resolve_dependencies(driver, index, allow_kernel_libraries=False)


def test_the_private_kpi_is_for_apples_kexts_only() -> None:
    """A kext outside com.apple.* may not link against com.apple.kpi.private."""
    index = KextIndex(system_libraries())
    with pytest.raises(KextDependencyError, match="only Apple's kexts"):
        resolve_dependencies(fake("com.x.d", libraries={"com.apple.kpi.private": "8.0"}), index)
    apple = fake("com.apple.driver.d", libraries={"com.apple.kpi.private": "8.0"})
    assert resolve_dependencies(apple, index).order[-1] is apple


def test_questionable_dependencies_give_warnings_and_log_them(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """No KPI at all, both KPI styles, or boot-time kexts depending on later ones."""
    index = KextIndex(system_libraries())
    index.add(fake("com.x.lib", libraries={}, code=False))
    no_kpi = fake("com.x.a", libraries={"com.x.lib": "1.0"})
    both = fake("com.x.b", libraries={"com.apple.kernel.iokit": "6.0", **KPI})
    boot = fake("com.x.c", libraries={"com.x.lib": "1.0", **KPI}, required="Root")
    with caplog.at_level(logging.WARNING, logger="kextlab.kernel.kext"):
        assert (
            "declares no com.apple.kpi.* dependencies"
            in resolve_dependencies(no_kpi, index).warnings[0]
        )
        assert "use only one style" in resolve_dependencies(both, index).warnings[0]
        (warning,) = resolve_dependencies(boot, index).warnings
    assert "its dependency com.x.lib is not available that early" in warning
    assert "OSBundleRequired not set" in warning
    assert len(caplog.records) == 3


def test_codeless_libraries_are_replaced_by_their_dependencies_when_linking() -> None:
    """link_dependencies: a codeless library contributes its own libraries instead of itself."""
    base = fake("com.x.base")
    codeless = fake("com.x.umbrella", libraries={"com.x.base": "1.0", **KPI}, code=False)
    driver = fake("com.x.driver", libraries={"com.x.umbrella": "1.0", **KPI})
    resolution = resolve_dependencies(driver, KextIndex([kpi(), base, codeless]))
    assert ids(resolution.dependencies["com.x.driver"]) == ["com.x.umbrella", "com.apple.kpi.iokit"]
    assert ids(resolution.link_dependencies["com.x.driver"]) == [
        "com.x.base",
        "com.apple.kpi.iokit",
    ]
    assert ids(resolution.order) == [
        "com.apple.kpi.iokit",
        "com.x.base",
        "com.x.umbrella",
        "com.x.driver",
    ]


def test_resolving_by_identifier_takes_the_loaded_or_highest_version() -> None:
    """A string names the kext to resolve; an unknown one is an error."""
    low, high = fake("com.x.d", "1.0"), fake("com.x.d", "2.0")
    index = KextIndex([low, high, kpi()])
    assert resolve_dependencies("com.x.d", index).kext is high
    index.mark_loaded(low)
    assert resolve_dependencies("com.x.d", index).kext is low
    with pytest.raises(KextDependencyError, match="no kext with this identifier"):
        resolve_dependencies("com.x.unknown", index)


def test_the_index_adds_removes_and_tracks_the_loaded_kext() -> None:
    """Membership, iteration by identifier, and the loaded one of each identifier."""
    a1, a2, b = fake("com.x.a", "1.0"), fake("com.x.a", "2.0"), fake("com.x.b")
    index = KextIndex([b, a1, a2, a1])
    assert len(index) == 3
    assert "com.x.a" in index
    assert list(index) == [a2, a1, b]
    assert index.get("com.x.a") is a2
    assert index.get("com.x.none") is None
    index.mark_loaded(a1)
    assert index.loaded("com.x.a") is a1
    assert index.is_loaded(a1)
    assert not index.is_loaded(a2)
    with pytest.raises(ValueError, match="already loaded"):
        index.mark_loaded(a2)
    index.remove(a1)
    assert index.loaded("com.x.a") is None
    assert index.versions("com.x.a") == [a2]
    index.remove(a2)
    assert "com.x.a" not in index
    with pytest.raises(KeyError):
        index.remove(a2)
    index.mark_loaded(b)
    index.mark_unloaded("com.x.b")
    assert index.loaded("com.x.b") is None


def test_bundles_resolve_against_the_builtin_libraries(kext: MakeKext) -> None:
    """Real bundles with plist libraries, resolved against the kernel's own kexts."""
    family = KextBundle.read(
        kext(
            "Family",
            {
                "OSBundleCompatibleVersion": "1.0",
                "OSBundleLibraries": {"com.apple.iokit.IOPCIFamily": "2.0", **KPI},
            },
            module="",
        )
    )
    driver = KextBundle.read(
        kext(
            "Driver",
            {"OSBundleLibraries": {"com.example.Family": "1.0", "com.apple.kpi.libkern": "8.0"}},
            module="",
        )
    )
    index = KextIndex(system_libraries())
    index.add(family)
    resolution = resolve_dependencies(driver, index)
    assert ids(resolution.order) == [
        "com.apple.iokit.IOPCIFamily",
        "com.apple.kpi.iokit",
        "com.example.Family",
        "com.apple.kpi.libkern",
        "com.example.Driver",
    ]
