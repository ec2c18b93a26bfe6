"""Finding bundles in folders and in entry points, explicitly and injectably."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

from kextlab.kernel.kext.discovery import (
    ENTRY_POINT_GROUP,
    DirectorySource,
    EntryPointSource,
    KextSource,
    bundles_in,
    discover,
    entry_point_kexts,
)
from kextlab.kernel.kext.errors import KextBundleError, KextLoadError
from tests.kernel.kext.conftest import make_kext


@dataclass
class FakeEntryPoint:
    """An entry point whose ``load`` returns ``target`` (or raises it)."""

    name: str
    target: object
    value: str = "package.module:kexts"

    def load(self) -> object:
        if isinstance(self.target, Exception):
            raise self.target
        return self.target


class FakeEntryPoints:
    """``importlib.metadata.entry_points`` for one group, counting calls."""

    def __init__(self, points: list[FakeEntryPoint]) -> None:
        self.points = points
        self.groups: list[str] = []

    def __call__(self, *, group: str) -> Iterable[FakeEntryPoint]:
        self.groups.append(group)
        return list(self.points)


def with_plugin(parent: Path, name: str, plugin: str) -> Path:
    path = make_kext(parent, name)
    (path / "Contents" / "PlugIns").mkdir()
    make_kext(path / "Contents" / "PlugIns", plugin)
    return path


def identifiers(bundles: Iterable[object]) -> list[str]:
    return [getattr(bundle, "bundle_id") for bundle in bundles]  # noqa: B009


def test_a_kext_path_gives_the_bundle_then_its_plugins(tmp_path: Path) -> None:
    """A .kext is one kext, followed by its plug-ins."""
    path = with_plugin(tmp_path, "Parent", "Child")
    assert identifiers(bundles_in(path)) == ["com.example.Parent", "com.example.Child"]


def test_a_folder_gives_its_kexts_in_name_order_each_followed_by_its_plugins(
    tmp_path: Path,
) -> None:
    """Sorted by name (code points), plug-ins after their parent, other entries ignored."""
    make_kext(tmp_path, "beta")
    with_plugin(tmp_path, "Alpha", "AlphaPlugin")
    make_kext(tmp_path, "Gamma")
    (tmp_path / "notes.txt").write_text("")
    (tmp_path / "file.kext").write_text("a file, not a bundle")
    (tmp_path / "Folder").mkdir()
    assert identifiers(bundles_in(tmp_path)) == [
        "com.example.Alpha",
        "com.example.AlphaPlugin",
        "com.example.Gamma",
        "com.example.beta",
    ]


def test_variables_reach_every_bundle_read(tmp_path: Path) -> None:
    """Xcode build settings passed to discovery are used for each bundle."""
    make_kext(tmp_path, "A", {"CFBundleVersion": "$(CURRENT_PROJECT_VERSION)"})
    (bundle,) = bundles_in(tmp_path, variables={"CURRENT_PROJECT_VERSION": "3.1"})
    assert str(bundle.version) == "3.1"


def test_a_path_that_is_neither_kext_nor_folder_is_an_error(tmp_path: Path) -> None:
    """Nothing is skipped silently."""
    with pytest.raises(KextBundleError, match=r"expected a \.kext bundle or a folder"):
        bundles_in(tmp_path / "absent")


def test_a_bad_bundle_in_a_folder_is_an_error(tmp_path: Path) -> None:
    """One broken kext fails the scan, naming its file."""
    make_kext(tmp_path, "Good")
    make_kext(tmp_path, "Bad", {"CFBundleIdentifier": None})
    with pytest.raises(
        KextBundleError, match=r"Bad\.kext/Contents/Info\.plist: CFBundleIdentifier"
    ):
        bundles_in(tmp_path)


def test_entry_points_are_read_in_name_order_and_each_bundle_once(tmp_path: Path) -> None:
    """Each provider returns a path or paths; the same bundle twice is listed once."""
    first = make_kext(tmp_path, "First")
    second = with_plugin(tmp_path, "Second", "SecondPlugin")
    points = FakeEntryPoints(
        [
            FakeEntryPoint("zeta", lambda: [str(second), first]),
            FakeEntryPoint("alpha", lambda: first),
        ]
    )
    found = entry_point_kexts(entry_points=points)
    assert identifiers(found) == [
        "com.example.First",
        "com.example.Second",
        "com.example.SecondPlugin",
    ]
    assert points.groups == [ENTRY_POINT_GROUP]


def test_a_folder_from_an_entry_point_is_scanned(tmp_path: Path) -> None:
    """A provider may return the folder holding its kexts."""
    make_kext(tmp_path, "One")
    make_kext(tmp_path, "Two")
    points = FakeEntryPoints([FakeEntryPoint("pkg", lambda: tmp_path)])
    assert identifiers(entry_point_kexts("my.group", points)) == [
        "com.example.One",
        "com.example.Two",
    ]
    assert points.groups == ["my.group"]


@pytest.mark.parametrize(
    ("target", "error", "message"),
    [
        (ImportError("no module named pkg"), KextLoadError, "cannot be loaded: ImportError"),
        ("not callable", KextLoadError, "which is not callable"),
        (lambda: 1 / 0, KextLoadError, "failed: ZeroDivisionError"),
        (lambda: 42, KextBundleError, "returned 42; expected a bundle path"),
        (lambda: [Path("/x.kext"), 7], KextBundleError, "returned 7; expected bundle paths"),
    ],
)
def test_a_broken_entry_point_is_an_error_naming_it(
    target: object, error: type[Exception], message: str
) -> None:
    """Load, call and return-value failures each name the entry point."""
    points = FakeEntryPoints([FakeEntryPoint("broken", target)])
    with pytest.raises(error, match=message) as caught:
        entry_point_kexts(entry_points=points)
    assert "entry point 'broken' (package.module:kexts) of group 'kextlab.kexts'" in str(
        caught.value
    )


def test_sources_are_read_only_when_asked(tmp_path: Path) -> None:
    """Building a source scans nothing; bundles() and discover() do."""
    make_kext(tmp_path, "Local")
    points = FakeEntryPoints([FakeEntryPoint("pkg", lambda: tmp_path / "Local.kext")])
    sources: list[KextSource] = [
        DirectorySource(tmp_path),
        EntryPointSource(entry_points=points),
    ]
    assert points.groups == []
    assert sources[0].description == str(tmp_path)
    assert sources[1].description == "entry points 'kextlab.kexts'"
    assert identifiers(discover(sources)) == ["com.example.Local", "com.example.Local"]
    assert points.groups == [ENTRY_POINT_GROUP]


def test_the_default_entry_points_are_importlibs() -> None:
    """Without injection, importlib.metadata is asked, for the group given."""
    assert EntryPointSource().entry_points is importlib.metadata.entry_points
    assert entry_point_kexts("kextlab.tests.no-such-group") == []
