"""The kext exception tree: each error is a KextError and the built-in a caller expects."""

from __future__ import annotations

import pytest

from kextlab.errors import KextlabError
from kextlab.kernel.kext.errors import (
    KextBundleError,
    KextDependencyError,
    KextError,
    KextLoadError,
    KextUnloadError,
    KextVersionError,
)


@pytest.mark.parametrize(
    ("error", "builtin"),
    [
        (KextBundleError("/k/A.kext/Contents/Info.plist", "CFBundleVersion", "bad"), ValueError),
        (KextVersionError("1.0x", "bad"), ValueError),
        (KextDependencyError("com.a", "com.b", "missing"), LookupError),
        (KextLoadError("com.a", "import failed"), RuntimeError),
        (KextUnloadError("com.a", "instances alive"), RuntimeError),
    ],
)
def test_every_kext_error_is_a_kextlab_error_and_a_builtin(
    error: KextError, builtin: type[Exception]
) -> None:
    """Callers may catch KextError, KextlabError or the natural built-in."""
    assert isinstance(error, KextError)
    assert isinstance(error, KextlabError)
    assert isinstance(error, builtin)


def test_messages_name_the_file_key_and_subject() -> None:
    """Each message starts with where the fault is."""
    assert str(KextBundleError("/k/Info.plist", "CFBundleVersion", "bad value")) == (
        "/k/Info.plist: CFBundleVersion: bad value"
    )
    assert str(KextBundleError("/k/Info.plist", None, "unreadable")) == "/k/Info.plist: unreadable"
    assert str(KextVersionError("1.0x", "why")) == "'1.0x' is not a kext version: why"
    assert str(KextDependencyError("com.a", "com.b", "library com.b not found")) == (
        "com.a: library com.b not found"
    )
    assert str(KextLoadError("com.a", "boom")) == "com.a: boom"
    assert str(KextUnloadError("com.a", "busy")) == "com.a: busy"
